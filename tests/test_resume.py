"""Fault tolerance: `kill -9` and the same command resumes; finished runs are kept.

The run trains in a subprocess (`python -m glomo_keras train`), which the
test kills with SIGKILL at two moments: after the first epoch was backed
up, and after the last epoch but before the seed's results. Each rerun of
the very same command continues where the backup stands.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from training_fixtures import REPOSITORY
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

EPOCHS = 3
SEED = 7
REGRESSION_KEYS = {"mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"}


def _command(data, output, *flags):
    return [
        sys.executable, "-m", "glomo_keras", "train", "--dataset", "mosei",
        "--data", str(data), *TINY_FLAGS, "--seeds", str(SEED), "--no-export",
        "--backup-every", "0", "--output", str(output), *map(str, flags),
    ]


def _environment(tmp_path):
    # CPU only (--virtual-devices 2 then splits the CPU, also on a GPU machine).
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
            "CUDA_VISIBLE_DEVICES": "", "GLOMO_KERAS_CACHE": str(tmp_path / "cache")}


def _backed_up_epochs(output):
    """Epochs finished in the backed-up training state, or None."""
    path = output / "backup" / f"seed_{SEED}" / "training_metadata.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return None


def _history_epochs(output):
    path = output / f"seed_{SEED}" / "history.json"
    try:
        return [entry["epoch"] for entry in json.loads(path.read_text())]
    except (OSError, ValueError):
        return []


def _run_until_killed(command, tmp_path, log_name, ready, timeout=400):
    """Starts `command`, SIGKILLs it once `ready()` holds; returns its log."""
    log_path = tmp_path / log_name
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY,
            env=_environment(tmp_path),
        )
        deadline = time.monotonic() + timeout
        try:
            while not ready():
                if process.poll() is not None:
                    pytest.fail(f"the run ended (exit {process.returncode}) before "
                                f"the kill point:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no kill point within {timeout}s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return log_path.read_text()


def _epoch_lines(log):
    return [line for line in log.splitlines() if line.startswith("Epoch ")]


def test_best_weights_are_kept_atomically_and_survive_a_restart(tmp_path):
    import keras
    import numpy as np

    from glomo_keras.training.trainer import BestWeights

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "best.weights.h5"
    best = BestWeights(path)
    best.set_model(model)
    best.on_epoch_end(0, {"val_loss": 0.5})
    kept = model.get_weights()
    model.set_weights([w + 1 for w in kept])
    best.on_epoch_end(1, {"val_loss": 0.7})  # worse: not saved
    best.on_epoch_end(2, {"val_loss": float("nan")})  # not finite: not saved
    assert best.best == {"epoch": 1, "val_loss": 0.5}
    assert list(tmp_path.iterdir()) == []  # kept in memory until flushed
    best.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best.weights.h5"]

    restarted = BestWeights(path)  # a resumed run compares against the file's loss
    restarted.set_model(model)
    assert restarted.best == {"epoch": 1, "val_loss": 0.5}
    restarted.on_epoch_end(3, {"val_loss": 0.6})
    model.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), kept))
    restarted.on_epoch_end(4, {"val_loss": 0.4})
    restarted.on_train_end()
    assert json.loads((tmp_path / "best.json").read_text()) == {"epoch": 5, "val_loss": 0.4}


def test_interval_backup_restores_weights_optimizer_and_epochs(tmp_path):
    import keras
    import numpy as np

    from glomo_keras.training.trainer import IntervalBackup

    def compiled():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    trained = compiled()
    backup = IntervalBackup(tmp_path / "backup", interval=0)
    assert backup.restore(trained) == 0  # no backup yet
    trained.fit(x, y, epochs=2, batch_size=4, callbacks=[backup], verbose=0)
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
        "latest.weights.h5", "training_metadata.json"]

    resumed = compiled()
    assert IntervalBackup(tmp_path / "backup").restore(resumed) == 2
    assert int(resumed.optimizer.iterations) == 4
    for mine, theirs in zip(resumed.weights + resumed.optimizer.variables,
                            trained.weights + trained.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine),
                                      keras.ops.convert_to_numpy(theirs), err_msg=mine.path)
    history = resumed.fit(x, y, epochs=3, initial_epoch=2, batch_size=4, verbose=0,
                          callbacks=[IntervalBackup(tmp_path / "backup", interval=3600)])
    assert history.epoch == [2]
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text()) == {
        "epoch": 3}  # the last epoch is always backed up


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path):
    data = write_small_sample(tmp_path / "small.pkl", sizes=(16, 8, 8))
    output = tmp_path / "run"
    command = _command(data, output, "--epochs", EPOCHS)

    # 1. Killed once the first epoch is backed up.
    first = _run_until_killed(
        command, tmp_path, "first.log",
        lambda: (_backed_up_epochs(output) or 0) >= 1,
    )
    done = _backed_up_epochs(output)  # 1 unless the poll was very late
    assert 1 <= done < EPOCHS
    assert _epoch_lines(first)[0] == f"Epoch 1/{EPOCHS}"
    assert not (output / "results.json").exists()
    assert (output / "backup" / f"seed_{SEED}" / "latest.weights.h5").exists()
    assert set(range(done)) <= set(_history_epochs(output))

    # 2. The same command resumes after the backed-up epoch; killed after the
    #    last epoch, before the seed's result exists.
    second = _run_until_killed(
        command, tmp_path, "second.log",
        lambda: _backed_up_epochs(output) == EPOCHS,
    )
    expected = [f"Epoch {n}/{EPOCHS}" for n in range(done + 1, EPOCHS + 1)]
    assert _epoch_lines(second) == expected, second
    assert not (output / f"seed_{SEED}" / "result.json").exists(), (
        "the seed finished before the kill; the kill point was missed"
    )
    assert not (output / "results.json").exists()

    # 3. The same command again: nothing left to train, it only scores.
    third = subprocess.run(
        command, capture_output=True, text=True, timeout=400, cwd=REPOSITORY,
        env=_environment(tmp_path),
    )
    assert third.returncode == 0, third.stderr[-3000:]
    assert _epoch_lines(third.stdout) == [], third.stdout

    assert _history_epochs(output) == list(range(EPOCHS))
    results = json.loads((output / "results.json").read_text())
    assert list(results["per_seed"]) == [str(SEED)]
    seed_result = results["per_seed"][str(SEED)]
    assert set(seed_result["test"]) == set(seed_result["valid"]) == REGRESSION_KEYS
    assert 1 <= seed_result["best_epoch"] <= EPOCHS
    history = json.loads((output / f"seed_{SEED}" / "history.json").read_text())
    best = min(history, key=lambda entry: entry["val_loss"])
    assert seed_result["best_epoch"] == best["epoch"] + 1
    assert seed_result["best_val_loss"] == pytest.approx(best["val_loss"])
    assert set(results["mean"]["test"]) == set(results["std"]["test"]) == REGRESSION_KEYS
    assert results["num_replicas"] == 1 and results["selected_seed"] == SEED
    assert (output / f"seed_{SEED}" / "model.keras").exists()
    assert (output / "predictions" / f"test_seed{SEED}.csv").exists()
    assert not (output / "backup").exists()


@pytest.mark.slow
def test_finished_run_is_replaced_only_with_overwrite(tmp_path, capsys, monkeypatch):
    """Exit 2 and an untouched folder without --overwrite; a new run with it.

    The replacing run also checks `--virtual-devices 2` (strategy auto) on
    one CPU: it trains on 2 replicas, `MirroredStrategy` over 2 logical CPUs
    on TensorFlow, `keras.distribution.DataParallel` over 2 CPU devices on
    JAX (set before JAX starts).
    """
    # A finished run is a folder with results.json (written last).
    output = tmp_path / "run"
    (output / "seed_1").mkdir(parents=True)
    (output / "results.json").write_text(json.dumps({"old": True}))
    (output / "seed_1" / "result.json").write_text("{}")
    data = write_small_sample(tmp_path / "small.pkl", sizes=(16, 8, 8))
    command = _command(data, output, "--epochs", 1)

    # Refused before any training: the console script's entry point in this process.
    from glomo_keras.cli import main

    monkeypatch.setenv("GLOMO_KERAS_CACHE", str(tmp_path / "cache"))
    capsys.readouterr()
    assert main(command[3:]) == 2
    refused = capsys.readouterr().err
    assert "holds a finished run" in refused, refused[-3000:]
    assert "--overwrite" in refused
    assert json.loads((output / "results.json").read_text()) == {"old": True}
    assert sorted(path.name for path in output.iterdir()) == ["results.json", "seed_1"]

    replaced = subprocess.run(
        [*command, "--overwrite", "--virtual-devices", "2"], capture_output=True,
        text=True, timeout=400, cwd=REPOSITORY, env=_environment(tmp_path),
    )
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    results = json.loads((output / "results.json").read_text())
    assert list(results["per_seed"]) == [str(SEED)]
    assert results["per_seed"][str(SEED)]["best_epoch"] == 1
    assert not (output / "seed_1").exists()
    assert not (output / "backup").exists()

    backend = results["versions"]["backend"]
    expected = "mirrored" if backend == "tensorflow" else "jax_data_parallel"
    assert f"strategy {expected}: 2 replica(s), backend {backend}" in replaced.stderr
    assert results["num_replicas"] == 2 and results["strategy"] == expected
