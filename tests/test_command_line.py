"""The `glomo-keras` console script as a user runs it: fresh processes, real flags.

Each test starts `python -m glomo_keras` (what the `glomo-keras` entry point
runs) in a subprocess with no `KERAS_BACKEND` set, so the backend comes
from `--backend` alone, as on a fresh shell. Command lines that only need a
fresh process, not one each, share one (console_cases.py).
"""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import h5py
import pytest
from console_cases import console_environment
from console_cases import run_cases
from shared_artifacts import RUN_SEEDS
from shared_artifacts import shared_run
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

from glomo_keras import __version__

# Fresh processes that pick their own backend: run once (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.console

# The JAX and PyTorch runs: one epoch of the tiny model (TensorFlow's is the
# session's shared run, shared_artifacts.shared_run).
TINY = [*TINY_FLAGS, "--epochs", "1"]


def glomo_keras(*args, cwd, timeout=600):
    """Runs the console script in a fresh process without KERAS_BACKEND."""
    return subprocess.run(
        [sys.executable, "-m", "glomo_keras", *map(str, args)], cwd=cwd,
        capture_output=True, text=True, timeout=timeout, env=console_environment(),
    )


@pytest.fixture(scope="module")
def tensorflow_run(tmp_path_factory):
    """The session's `train` run: TensorFlow backend, no `--data` (the dataset table's path)."""
    folder, process = shared_run(tmp_path_factory)
    assert process["returncode"] == 0, process["stderr"][-3000:]
    return folder, process


@pytest.fixture(scope="module")
def exports(tensorflow_run, tmp_path_factory):
    """`export` of a copy of the finished run, `--force`, then `--export-dir`: one fresh process."""
    copy = tmp_path_factory.mktemp("exported_run")
    shutil.copytree(tensorflow_run[0] / "run", copy / "run")
    return copy, run_cases([["export", "--run", "run"], ["export", "--run", "run", "--force"],
                            ["export", "--run", "run", "--export-dir", "models/mosei"]],
                           copy, tmp_path_factory.mktemp("export_cases"))


# Command lines that end quickly, in one fresh process (console_cases.py): the
# quiet summary first, so that TensorFlow's import happens in it.
PRECIOUS = b"precious"
QUICK = {
    "quiet summary": ["summary", "--dataset", "cherma", "--set", "hidden_dim=16", "--set",
                      "num_layers=1", "--set", "fusion_intermediate_dim=32", "--json"],
    "sample refused": ["data", "sample", "--output", "sample.pkl"],
    "sample forced": ["data", "sample", "--output", "sample.pkl", "--force"],
    "mistake": ["summary", "--dataset", "mosie"],
    "mistake with --debug": ["summary", "--dataset", "mosie", "--debug"],
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """{name: result} of QUICK's command lines, in a folder holding a precious sample.pkl."""
    folder = tmp_path_factory.mktemp("quick")
    (folder / "sample.pkl").write_bytes(PRECIOUS)
    results = run_cases(list(QUICK.values()), folder, tmp_path_factory.mktemp("quick_cases"))
    return folder, dict(zip(QUICK, results))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_flag_trains_on_every_backend(backend, tmp_path):
    write_small_sample(tmp_path / "small.pkl", sizes=(16, 8, 8))
    result = glomo_keras("train", "--dataset", "mosei", "--data", "small.pkl",
                         "--backend", backend, *TINY, "--no-export", "--output", "run",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["versions"]["backend"] == backend
    assert f"backend {backend}" in result.stderr
    assert not (tmp_path / "run" / "saved_model").exists()


@pytest.mark.slow
def test_train_without_data_uses_the_dataset_table_path(tensorflow_run):
    folder, result = tensorflow_run
    results = json.loads((folder / "run" / "results.json").read_text())
    assert results["versions"]["backend"] == "tensorflow"
    assert "data datasets/mosei.pkl" in result["stderr"]


@pytest.mark.slow
def test_a_run_keeps_everything_under_its_output(tensorflow_run):
    folder, result = tensorflow_run
    run = folder / "run"
    assert (run / "saved_model" / "1" / "saved_model.pb").exists()
    assert not (folder / "saved_models").exists()
    assert sorted(path.name for path in folder.iterdir()) == ["datasets", "run"]
    assert f"SavedModel: {pathlib.Path('run', 'saved_model', '1')}" in result["stdout"]


@pytest.mark.slow
def test_start_up_is_quiet_and_progress_is_one_line_per_epoch_in_a_pipe(tensorflow_run):
    _, result = tensorflow_run
    # TensorFlow's native start-up lines (oneDNN, CUDA, CPU features) are hidden.
    assert "I0000" not in result["stderr"] and "E0000" not in result["stderr"]
    assert "oneDNN" not in result["stderr"] and "absl" not in result["stderr"]
    # No progress-bar control characters in a pipe, one line per epoch: 2
    # epochs of 4 steps (32 utterances in batches of 8) for each of 2 seeds.
    output = result["stdout"] + result["stderr"]
    assert "\r" not in output and "\x1b[" not in output
    epoch_lines = [line for line in result["stdout"].splitlines() if line.startswith("4/4 - ")]
    assert len(epoch_lines) == 2 * len(RUN_SEEDS), result["stdout"]


@pytest.mark.slow
def test_presets_hold_weights_without_optimizer_state(tensorflow_run):
    folder, _ = tensorflow_run
    with h5py.File(folder / "run" / "preset" / "model.weights.h5") as weights:
        assert "optimizer" not in weights
        assert "layers" in weights


@pytest.mark.slow
def test_export_of_an_exported_run_says_where_unless_forced(exports):
    folder, (again, forced, _) = exports
    assert again["returncode"] == 0, again["stderr"]
    assert "exported already" in again["stdout"] and "saved_model/1" in again["stdout"]
    assert not any(path.startswith(os.path.join("run", "saved_model", "2"))
                   for path in again["files"])
    assert forced["returncode"] == 0, forced["stderr"]
    assert (folder / "run" / "saved_model" / "2" / "saved_model.pb").exists()


@pytest.mark.slow
def test_export_dir_puts_the_version_folder_under_it(exports):
    folder, (*_, elsewhere) = exports
    assert elsewhere["returncode"] == 0, elsewhere["stderr"]
    version = pathlib.Path("models", "mosei", "1")
    assert f"SavedModel: {version}" in elsewhere["stdout"]
    assert (folder / version / "saved_model.pb").exists()
    assert not (folder / "run" / "saved_model" / "3").exists()


def test_version_and_help_import_no_backend(tmp_path):
    version = glomo_keras("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"glomo-keras {__version__}"
    top = glomo_keras("--help", cwd=tmp_path)
    assert top.returncode == 0
    from glomo_keras.cli import COMMANDS

    for command in COMMANDS:
        assert f"  {command} " in top.stdout
    probe = (
        "import sys\n"
        "from glomo_keras.cli import COMMANDS, build_parser\n"
        "for command in COMMANDS:\n"
        "    build_parser(command).format_help()\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "[]"


def test_help_states_the_defaults(tmp_path):
    help_text = " ".join(glomo_keras("train", "--help", cwd=tmp_path).stdout.split())
    for default in ("bert_base_en_uncased", "downloads", "datasets/<dataset>.pkl",
                    "default runs/<dataset>", "<output>/saved_model", "5576"):
        assert default in help_text, default
    for command, output in (("tune", "tuning/<dataset>"),
                            (("study", "ablations"), "studies/<dataset>_ablations")):
        args = command if isinstance(command, tuple) else (command,)
        help_text = " ".join(glomo_keras(*args, "--help", cwd=tmp_path).stdout.split())
        assert f"default {output}" in help_text, (command, help_text)
        assert "--export-dir" not in help_text


def test_verbose_shows_tensorflow_start_up_logs(tmp_path, quick):
    quiet = quick[1]["quiet summary"]
    assert quiet["returncode"] == 0 and quiet["stderr"] == "", quiet["stderr"]
    verbose = glomo_keras(*QUICK["quiet summary"], "--verbose", cwd=tmp_path)
    assert verbose.returncode == 0 and "I0000" in verbose.stderr


def test_data_sample_refuses_to_overwrite_without_force(quick):
    folder, results = quick
    refused = results["sample refused"]
    assert refused["returncode"] == 2 and "--force" in refused["stderr"]
    assert refused["files"]["sample.pkl"] == hashlib.sha256(PRECIOUS).hexdigest()
    forced = results["sample forced"]
    assert forced["returncode"] == 0, forced["stderr"]
    assert (folder / "sample.pkl").stat().st_size > 1000


def test_debug_shows_the_traceback(quick):
    _, results = quick
    assert "Traceback" not in results["mistake"]["stderr"]
    shown = results["mistake with --debug"]
    assert shown["returncode"] != 0 and "Traceback" in shown["stderr"]
    assert "UsageError" in shown["stderr"]
