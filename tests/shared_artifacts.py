"""Test artifacts built once per pytest session and shared by the test files.

Exporting a SavedModel costs tens of seconds and a training run minutes; the
serving tests need the same tiny SavedModel, and the end-to-end,
command-line and TensorBoard tests read the same finished run, so the first
test file that asks builds it and the others (in this process or another pytest-xdist
worker of the session) copy or read it. A file lock
lets one worker build while the other waits. Each caller gets its own copy,
so no test sees another's changes, and the tests stay independent of order.

Example:

```python
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, preprocessor, base = tiny_export(tmp_path_factory, "mosi")
    return model, base / "1"
```
"""

import json
import os
import shutil
import subprocess
import sys

import keras
from console_cases import console_environment
from filelock import FileLock
from test_export import METADATA
from test_export import tiny_preprocessor
from tiny_model import tiny_backbone
from tiny_model import tiny_config
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

from glomo_keras import GLoMo
from glomo_keras.export import export_saved_model


def session_folder(tmp_path_factory):
    """The folder the session's workers share: pytest's base temp (its parent under xdist).

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.

    Example:

    ```python
    cache = session_folder(tmp_path_factory) / "my_artifact"
    ```
    """
    base = tmp_path_factory.getbasetemp()
    # An xdist worker's base temp is `popen-gwN` inside the session's own one.
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    folder.mkdir(exist_ok=True)
    return folder


def built_once(tmp_path_factory, name, build):
    """The folder `name` of the session, filled by `build(folder)` on first use.

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.
        name: the artifact's name (a folder name).
        build: a function that writes the artifact into the folder it is given.

    Returns:
        The finished folder; callers copy what they change.

    Example:

    ```python
    folder = built_once(tmp_path_factory, "data", lambda f: write_small_sample(f / "s.pkl"))
    ```
    """
    root = session_folder(tmp_path_factory)
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            folder.mkdir()
            build(folder)
            (folder / ".complete").touch()
    return folder


def _export_tiny(dataset, folder):
    keras.utils.set_random_seed(11)
    config = tiny_config(dataset)
    model = GLoMo(config, tiny_backbone())
    model.save(folder / "model.keras")
    export_saved_model(model, tiny_preprocessor(config), folder / "saved_model",
                       metadata=METADATA)


def tiny_export(tmp_path_factory, dataset="mosi", name=None, base=None):
    """A tiny GLoMo of `dataset` (random weights) and its SavedModel, exported once.

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.
        dataset: "mosi" (word-level MAG layout) or "mustard" (HKT, classification).
        name: the copy's folder name, which servers take as the model's name
            (default: `dataset`).
        base: where the copy goes (default: a new temporary folder's `name`).

    Returns:
        (model, preprocessor, base): the Keras model loaded from its `.keras`
        file (the same outputs as the exported one), `tiny_preprocessor` of
        its config, and this caller's own copy of the SavedModel base folder,
        which holds version `1` only (exported with `test_export.METADATA`).

    Example:

    ```python
    model, preprocessor, base = tiny_export(tmp_path_factory, "mustard")
    server = make_server(base, port=0)
    ```
    """
    folder = built_once(tmp_path_factory, f"tiny_export_{dataset}",
                        lambda folder: _export_tiny(dataset, folder))
    model = keras.saving.load_model(folder / "model.keras")
    base = base or tmp_path_factory.mktemp("saved_models") / (name or dataset)
    shutil.copytree(folder / "saved_model", base)
    return model, tiny_preprocessor(model.config), base


RUN_SEEDS = (11, 12)


def _train_run(folder):
    work = folder / "work"
    (work / "datasets").mkdir(parents=True)
    write_small_sample(work / "datasets" / "mosei.pkl")
    # Length-aware with bucketing (the default model trains end to end in
    # test_resume); no KERAS_BACKEND: --backend picks it, as for a user.
    result = subprocess.run(
        [sys.executable, "-m", "glomo_keras", "train", "--dataset", "mosei",
         "--backend", "tensorflow", *TINY_FLAGS, "--epochs", "2",
         "--seeds", *map(str, RUN_SEEDS), "--set", "length_aware=true",
         "--set", "bucketing=true", "--output", "run"],
        cwd=work, capture_output=True, text=True, timeout=900,
        env=console_environment(GLOMO_KERAS_CACHE=str(folder / "cache")),
    )
    (folder / "process.json").write_text(json.dumps(
        {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}))


def shared_run(tmp_path_factory):
    """A finished `glomo-keras train` run, trained once per session; read it, copy to change it.

    `glomo-keras train --dataset mosei` without `--data`, in a folder that
    holds only `datasets/mosei.pkl` (the dataset table's path): the first
    32/16/16 utterances of the built-in sample, the tiny flags
    (`training_fixtures.TINY_FLAGS`), 2 epochs, seeds `RUN_SEEDS`,
    length-aware with bucketing, exported to `run/saved_model`. A failed
    run is kept too: the tests assert on its result.

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.

    Returns:
        (folder, process): the folder of `datasets/mosei.pkl` and `run`, and
        the train process's {"returncode", "stdout", "stderr"}.

    Example:

    ```python
    folder, process = shared_run(tmp_path_factory)
    assert process["returncode"] == 0, process["stderr"][-3000:]
    results = json.loads((folder / "run" / "results.json").read_text())
    ```
    """
    folder = built_once(tmp_path_factory, "train_run", _train_run)
    return folder / "work", json.loads((folder / "process.json").read_text())
