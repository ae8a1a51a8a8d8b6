"""Every on-disk layout of glomo-keras, and the atomic writes that fill them.

A run folder (`train`):

```
run/
  results.json, results.txt   written last: a finished run
  preprocessing.json          the data's GLoMoPreprocessor (its serialised config;
                              glomo-keras 0.1: its preprocessing settings)
  seed_<S>/                   best.weights.h5, best.json, history.json,
                              model.keras (selected weights), result.json
  predictions/test_seed<S>.csv
  logs/seed_<S>/              TensorBoard
  backup/seed_<S>/            latest.weights.h5, training_metadata.json
                              (removed when the seed finishes)
  preset/                     the selected seed as a preset (below)
  saved_model/<version>/      the selected seed as a SavedModel (below)
```

A preset (`GLoMoSentimentAnalyzer.save_to_preset`), in KerasHub's layout,
so `keras_hub.upload_preset` publishes it as it is:

```
preset/
  config.json                       the GLoMo model (its config, its backbone's)
  model.weights.h5                  its weights (no optimizer state)
  preprocessor.json                 the GLoMoPreprocessor (its tokenizer without vocabulary)
  tokenizer.json                    the tokenizer (KerasHub's file)
  assets/tokenizer/vocabulary.txt   the vocabulary, stored once
  metadata.json                     versions, parameter count, user metadata
```

The preprocessor's config holds what the data is (format, T, widths,
columns, task, class names, dataset); the tokenizer's asset, the vocabulary.
Presets of glomo-keras 0.1.0 have no tokenizer file: their vocabulary is
inlined in `preprocessor.json` and their task and classes are in
`metadata.json`; they still load.

A SavedModel base (TF Serving's layout): `<base>/<version>/` holds
`saved_model.pb`, `variables/`, `assets/glomo_preprocessing.json` and, for
word-level models, the raw-words SavedModel `analyze/`.

Every file is written beside its place and renamed into it, and every
folder (a preset, a SavedModel version) is written as a hidden folder beside
it and renamed into place, so a process killed at any moment leaves the
previous complete file or folder.
"""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

from glomo_keras.errors import MissingFileError
from glomo_keras.errors import OfflineError
from glomo_keras.errors import UsageError

# The run folder.
RESULTS_FILE = "results.json"
RESULTS_TABLE_FILE = "results.txt"
PREPROCESSING_FILE = "preprocessing.json"
SEED_MODEL_FILE = "model.keras"
SEED_RESULT_FILE = "result.json"
LOGS_DIR = "logs"
BACKUP_DIR = "backup"
RUN_PRESET_DIR = "preset"
RUN_EXPORT_DIR = "saved_model"

# The backup of one seed's training state.
BACKUP_WEIGHTS_FILE = "latest.weights.h5"
BACKUP_METADATA_FILE = "training_metadata.json"

# A preset (KerasHub's file names).
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSOR_FILE = "preprocessor.json"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, PREPROCESSOR_FILE, METADATA_FILE)

# A SavedModel version folder.
ASSET_NAME = "glomo_preprocessing.json"
SIGNATURE_NAME = "serving_default"
ANALYZE_SIGNATURE = "analyze"
# The folder of the raw-words SavedModel inside a version folder.
ANALYZE_FOLDER = "analyze"
OUTPUT_NAMES = ("prediction", "global_weights", "local_weights")


def seed_dir(run_dir, seed):
    """The folder of one seed of a run, `<run>/seed_<S>`.

    Example:

    ```python
    seed_dir("runs/mosei", 5576) / SEED_MODEL_FILE   # runs/mosei/seed_5576/model.keras
    ```
    """
    return pathlib.Path(run_dir) / f"seed_{seed}"


def backup_dir(work_dir, seed):
    """The training-state backup of one seed, `<work>/backup/seed_<S>`.

    Args:
        work_dir: the run folder (or a worker's folder inside it).
        seed: the seed.

    Example:

    ```python
    backup_dir("runs/mosei", 5576)   # runs/mosei/backup/seed_5576
    ```
    """
    return pathlib.Path(work_dir) / BACKUP_DIR / f"seed_{seed}"


def remove_backup(work_dir, seed):
    """Removes one seed's backup, and the `backup` folder once it is empty.

    Example:

    ```python
    remove_backup("runs/mosei", 5576)
    ```
    """
    shutil.rmtree(backup_dir(work_dir, seed), ignore_errors=True)
    backups = pathlib.Path(work_dir) / BACKUP_DIR
    if backups.is_dir() and not any(backups.iterdir()):
        backups.rmdir()


def read_run_results(run_dir):
    """A finished run's `results.json`.

    Raises:
        MissingFileError: `run_dir` is not a folder of `train` or its run
            has not finished.

    Example:

    ```python
    read_run_results("runs/mosei")["selected_seed"]
    ```
    """
    run = pathlib.Path(run_dir)
    if not run.is_dir():
        raise MissingFileError(f"run folder {run} does not exist")
    path = run / RESULTS_FILE
    if not path.exists():
        raise MissingFileError(f"{run} holds no {RESULTS_FILE}: not a finished "
                               "glomo-keras train run (train writes it at the end)")
    return json.loads(path.read_text())


def write_atomically(path, write):
    """Calls `write(partial_path)`, then renames the partial file to `path`.

    The partial file `partial.<name>` lies beside `path`, so the rename is
    atomic; it keeps the suffix Keras' savers require (`.keras`, `.weights.h5`).

    Args:
        path: the file to write.
        write: a function of the partial path that writes the file there.

    Returns:
        `path`, as a `pathlib.Path`.

    Example:

    ```python
    write_atomically(seed_dir(run, seed) / SEED_MODEL_FILE, model.save)
    ```
    """
    path = pathlib.Path(path)
    partial = path.with_name(f"partial.{path.name}")
    try:
        write(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text_atomically(path, text):
    """Writes a UTF-8 text file atomically (`write_atomically`).

    Example:

    ```python
    write_text_atomically(pathlib.Path("runs/mosei") / RESULTS_TABLE_FILE, table)
    ```
    """
    return write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def write_json_atomically(path, value, indent=1):
    """Writes `value` as a JSON file atomically (`write_atomically`).

    Example:

    ```python
    write_json_atomically(seed_dir("runs/mosei", 5576) / SEED_RESULT_FILE, result)
    ```
    """
    return write_text_atomically(path, json.dumps(value, indent=indent))


@contextlib.contextmanager
def directory_written_atomically(target, overwrite=False):
    """Yields a hidden folder beside `target`; on success it becomes `target`.

    An existing `target` (with `overwrite`) is first renamed aside to
    `.<name>-replaced` and deleted only once the new folder is in place, so
    a killed process leaves the old folder complete (at its place or under
    the aside name) or the new one. On an error `target` is untouched.

    Args:
        target: the folder to write.
        overwrite: replace an existing `target`.

    Raises:
        FileExistsError: `target` exists and `overwrite` is False.

    Example:

    ```python
    with directory_written_atomically("presets/mosi", overwrite=True) as staging:
        model.save_weights(staging / WEIGHTS_FILE)
    ```
    """
    target = pathlib.Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        aside = target.with_name(f".{target.name}-replaced")
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(target, aside)
        os.replace(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def local_preset(preset):
    """The local folder of a preset: a folder, or a `kaggle://` / `hf://` handle downloaded.

    A handle is downloaded whole to the cache of `kagglehub` or
    `huggingface_hub`, where `keras_hub.upload_preset` publishes.

    Args:
        preset: a folder, `kaggle://<owner>/<model>/keras/<variation>[/<version>]`
            or `hf://<owner>/<model>`.

    Returns:
        `pathlib.Path` of a folder holding the preset's files.

    Raises:
        MissingFileError: a folder that does not exist.
        UsageError: a handle of another scheme.
        OfflineError: the download failed (no network, or no such handle).

    Example:

    ```python
    local_preset("hf://glomo/mosei")   # ~/.cache/huggingface/hub/models--glomo--mosei/...
    ```
    """
    preset = str(preset)
    if "://" not in preset:
        folder = pathlib.Path(preset)
        if not folder.is_dir():
            raise MissingFileError(f"preset folder {folder} does not exist")
        return folder
    scheme, handle = preset.split("://", 1)
    if scheme not in ("kaggle", "hf"):
        raise UsageError(f"preset {preset!r}: the scheme {scheme!r} is not one of "
                         "kaggle://, hf:// (or give a folder)")
    try:
        if scheme == "kaggle":
            import kagglehub

            return pathlib.Path(kagglehub.model_download(handle))
        import huggingface_hub

        return pathlib.Path(huggingface_hub.snapshot_download(handle))
    except (ConnectionError, OSError) as error:
        raise OfflineError(
            f"preset {preset!r} must be downloaded, and the download failed "
            f"({type(error).__name__}: {error}); give a preset folder instead"
        ) from error


def model_versions(base):
    """The version numbers of a model base folder (TF Serving layout), sorted.

    Only folders named by an integer count (not an export in progress).

    Args:
        base: a folder holding version folders `1/`, `2/`, ...

    Example:

    ```python
    model_versions("saved_models/mosi")   # [1, 2]
    ```
    """
    base = pathlib.Path(base)
    if not base.is_dir():
        return []
    return sorted(
        int(child.name) for child in base.iterdir()
        if child.is_dir() and child.name.isdigit()
    )


def next_version_folder(base):
    """The folder of the next version of a model base: 1 + the largest version (1 when none).

    Example:

    ```python
    next_version_folder("saved_models/mosi")   # saved_models/mosi/3
    ```
    """
    return pathlib.Path(base) / str(1 + max(model_versions(base), default=0))


def resolve_version(path):
    """The version folder and number that `path` designates.

    Args:
        path: a version folder (`saved_models/mosi/2`), or a model base folder
            (`saved_models/mosi`), whose highest version is taken.

    Returns:
        (folder, version): a `pathlib.Path` and an int.

    Raises:
        FileNotFoundError: `path` is neither.

    Example:

    ```python
    folder, version = resolve_version("saved_models/mosi")   # (.../mosi/2, 2)
    ```
    """
    path = pathlib.Path(path)
    if (path / "saved_model.pb").is_file() and path.name.isdigit():
        return path, int(path.name)
    versions = model_versions(path)
    if versions and (path / str(versions[-1]) / "saved_model.pb").is_file():
        return path / str(versions[-1]), versions[-1]
    raise FileNotFoundError(
        f"{path} is neither a SavedModel version folder (e.g. runs/mosi/saved_model/1) "
        "nor a model folder holding integer version folders with a saved_model.pb"
    )
