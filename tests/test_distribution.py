"""Distribution: 2 replicas match one device; multi-worker on loopback.

Everything that splits devices runs in a fresh subprocess: logical devices
must be configured before the backend initialises its devices, which the
pytest process has long done. `glomo-keras train --virtual-devices 2` is
run by `test_resume.py::test_finished_run_is_replaced_only_with_overwrite`
(its replacing run trains on 2 replicas).
"""

import json
import os
import signal
import socket
import subprocess
import sys

import keras
import pytest
from training_fixtures import REPOSITORY
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

from glomo_keras.training.distribution import Distribution
from glomo_keras.training.distribution import make_strategy

BACKEND = keras.backend.backend()
TESTS = REPOSITORY / "tests"
SEED = 7


def _environment(**extra):
    # CPU only, also on a GPU machine: the checks are about logical CPUs, and
    # two workers must not both claim one GPU's memory.
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
            "CUDA_VISIBLE_DEVICES": "", **extra}


def _train_command(data, output, *flags):
    return [
        sys.executable, "-m", "glomo_keras", "train", "--dataset", "mosei",
        "--data", str(data), *TINY_FLAGS, "--epochs", "1", "--seeds", str(SEED),
        "--no-export", "--output", str(output), *map(str, flags),
    ]


def _files_under(folder):
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
    )


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="Unknown strategy"):
        make_strategy("parameter_server")


def test_auto_on_one_device_is_the_default_strategy():
    if len(keras.distribution.list_devices()) > 1:
        pytest.skip("several devices here: auto picks the multi-replica strategy")
    distribution = make_strategy("auto")
    assert (distribution.name, distribution.num_replicas) == ("default", 1)
    assert distribution.is_chief and distribution.strategy is None


def test_only_the_chief_writes_into_the_run_directory(tmp_path):
    chief = Distribution("multi_worker", 2, is_chief=True, worker_index=0)
    worker = Distribution("multi_worker", 2, is_chief=False, worker_index=1)
    assert chief.working_directory(tmp_path) == tmp_path
    assert worker.working_directory(tmp_path) == tmp_path / "workers" / "worker_1"


@pytest.mark.slow
def test_two_replicas_match_one_device_on_the_first_step():
    """Mirrored (TensorFlow) or DataParallel (JAX) over 2 logical CPUs.

    Same initial weights, same global batch of 8 (2 replicas × 4), dropout
    off, one plain-SGD step: the loss and the gradients (read from the
    updated weights, w - lr·g) equal those of one device.
    """
    result = subprocess.run(
        [sys.executable, str(TESTS / "distribution_step.py")],
        capture_output=True, text=True, timeout=600, cwd=REPOSITORY,
        env=_environment(KERAS_BACKEND=BACKEND),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = "mirrored" if BACKEND == "tensorflow" else "jax_data_parallel"
    assert report["strategy"] == expected
    assert report["num_replicas"] == 2 and len(report["devices"]) == 2
    # The global batch is split: each replica gets half of it.
    assert report["global_batch"] == 8 and report["replica_rows"] == 4
    assert report["rows_one_device"] in (8, None)
    assert report["device_rows"] in ([4, 4], None)
    assert report["initial_weight_diff"] == 0.0
    assert abs(report["loss_mirrored"] - report["loss_default"]) <= 1e-5
    # The step moved the weights: the comparison is not vacuous.
    assert report["gradient_max_abs"] > 1e-3
    assert report["variables_with_gradient"] > 0.8 * report["variables"]
    assert report["gradients_not_close"] == [], report
    assert report["gradient_max_abs_diff"] <= 1e-4
    assert report["updated_weight_diff"] <= 1e-5


@pytest.mark.slow
def test_multi_worker_trains_an_epoch_on_loopback(tmp_path):
    """Two `glomo-keras train --strategy multi_worker` processes on 127.0.0.1.

    Each has its own --output, as on two machines with their own disks: the
    chief (worker 0) writes the run; worker 1 writes only under
    `workers/worker_1` of its --output.
    """
    if BACKEND != "tensorflow":
        pytest.skip("--strategy multi_worker is MultiWorkerMirroredStrategy from "
                    "TF_CONFIG: TensorFlow only by design")
    data = write_small_sample(tmp_path / "small.pkl", sizes=(16, 8, 8))
    cluster = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes, logs = [], []
    for index in range(2):
        config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        log = open(tmp_path / f"worker_{index}.log", "w")
        logs.append(log)
        processes.append(subprocess.Popen(
            _train_command(data, tmp_path / f"output_{index}", "--strategy", "multi_worker"),
            stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY,
            env=_environment(
                TF_CONFIG=json.dumps(config),
                # Each worker its own data cache: two writers never race.
                GLOMO_KERAS_CACHE=str(tmp_path / f"cache_{index}"),
            ),
        ))
    try:
        codes = [process.wait(timeout=480) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        for log in logs:
            log.close()
    outputs = [(tmp_path / f"worker_{index}.log").read_text() for index in range(2)]
    assert codes == [0, 0], "\n\n".join(output[-3000:] for output in outputs)
    assert "strategy multi_worker: 2 replica(s)" in outputs[0]

    chief = tmp_path / "output_0"
    results = json.loads((chief / "results.json").read_text())
    assert results["num_replicas"] == 2 and results["strategy"] == "multi_worker"
    assert list(results["per_seed"]) == [str(SEED)]
    assert results["per_seed"][str(SEED)]["best_epoch"] == 1
    predictions = (chief / "predictions" / f"test_seed{SEED}.csv").read_text().splitlines()
    assert len(predictions) == 1 + 8
    # The monitor's predictions line up with the labels: its MAE is Keras's
    # L1 validation loss.
    (epoch,) = json.loads((chief / f"seed_{SEED}" / "history.json").read_text())
    assert epoch["val_mae"] == pytest.approx(epoch["val_loss"], rel=1e-5)
    assert not (chief / "workers").exists()

    worker_files = _files_under(tmp_path / "output_1")
    assert worker_files and all(
        name.startswith("workers/worker_1/") for name in worker_files
    ), worker_files
    assert f"workers/worker_1/seed_{SEED}/result.json" in worker_files
    assert "the chief (worker 0) writes results.json" in outputs[1]
