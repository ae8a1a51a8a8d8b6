"""Reader of the CHERMA feature folder (the LFMIM release).

Layout: `{train,valid,test}.json`, lists of objects with `audio_file`,
`video_file`, `txt_label`, `audio_label`, `visual_label`, `video_label`
(Chinese emotion names); features `text/<split>/<name>.npy` [T_t, 1024],
`audio/<split>/<name>.npy` [T_a, 1024] and `visual/<split>/<name>.mp4.npy`
[T_v, 2048], where `<name>` is `audio_file` without `.wav`. The multimodal
label is `video_label`. Feature files are read with `allow_pickle=False`.
"""

import json
import pathlib

import numpy as np

from glomo_keras.data.checks import Checker, describe, read_items
from glomo_keras.data.common import (
    CHERMA_CLASS_NAMES,
    CHERMA_LABEL_NAMES,
    CLASSIFICATION,
    SPLITS,
    Utterance,
)
from glomo_keras.data.errors import DataFormatError

TASK = CLASSIFICATION
CLASS_NAMES = CHERMA_CLASS_NAMES
LABEL_RANGE = None
ACOUSTIC_COLUMNS = None
VISUAL_COLUMNS = None
# folder, file suffix, modality
FEATURES = (
    ("text", ".npy", "text"),
    ("audio", ".npy", "acoustic"),
    ("visual", ".mp4.npy", "visual"),
)


def looks_like(path):
    """True if `path` is a folder with a `train.json`."""
    path = pathlib.Path(path)
    return path.is_dir() and (path / "train.json").is_file()


def read(path):
    """Reads a CHERMA folder into the common form: `(splits, checker)`.

    Args:
        path: the folder holding the json files and the feature folders.

    Example:

    ```python
    splits, checker = read("CHERMA0723")
    splits["train"][0].label   # a class index into CHERMA_CLASS_NAMES
    ```
    """
    path = pathlib.Path(path)
    checker = Checker(path)

    def read_item(record):
        for field in ("audio_file", "video_label"):
            if field not in record:
                raise checker.error("the field is missing", field)
        name = pathlib.PurePath(checker.text(record["audio_file"], "audio_file")).name
        name = name[: -len(".wav")] if name.endswith(".wav") else name
        features = {modality: _features(path / folder / checker.split / f"{name}{suffix}",
                                        checker, modality)
                    for folder, suffix, modality in FEATURES}
        return Utterance(id=name, label=_label(record["video_label"], checker),
                         text_features=features["text"], acoustic=features["acoustic"],
                         visual=features["visual"])

    table = {}
    for split in SPLITS:
        checker.at(split)
        table[split] = _records(path / f"{split}.json", checker)
    return read_items(checker, table, "an object", lambda record: isinstance(record, dict),
                      read_item), checker


def _records(json_path, checker):
    if not json_path.is_file():
        raise checker.error(f"the split is missing: there is no {json_path.name}")
    try:
        records = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataFormatError(f"cannot read the split list: {error}", source=json_path)
    if not isinstance(records, list):
        raise DataFormatError(f"expected a list of objects, found {describe(records)}",
                              source=json_path)
    return records


def _features(npy_path, checker, modality):
    relative = "/".join(npy_path.parts[-3:])
    if not npy_path.is_file():
        raise checker.error(f"the feature file {relative} does not exist", modality)
    try:
        array = np.load(npy_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise checker.error(f"cannot read the feature file {relative}: {error}", modality)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    return checker.features(array, modality, modality)


def _label(value, checker):
    name = CHERMA_LABEL_NAMES.get(value, value) if isinstance(value, str) else None
    if name not in CLASS_NAMES:
        known = ", ".join(
            f"{chinese} ({english})" for chinese, english in CHERMA_LABEL_NAMES.items()
        )
        raise checker.error(f"unknown emotion {value!r}; expected one of {known}", "video_label")
    return CLASS_NAMES.index(name)
