"""`read_file`: a data path -> its format -> that format's reader -> the common form.

The format comes from the file's structure (`detect_format`) unless named;
a pickle is read with the restricted unpickler, a CHERMA release is a folder.
"""

import os
import pathlib

from glomo_keras.data import cherma, hkt, mag, mmsa
from glomo_keras.data.common import FORMATS
from glomo_keras.data.errors import DataFormatError
from glomo_keras.data.unpickler import load_pickle
from glomo_keras.errors import MissingFileError

READERS = {"mag": mag, "hkt": hkt, "mmsa": mmsa, "cherma": cherma}
EXPECTED_DATA = "a data file (a MAG, HKT or MMSA pickle) or a CHERMA folder"


def detect_format(obj, source):
    """The format of an unpickled file from its structure: `"mag"`, `"hkt"` or `"mmsa"`.

    Args:
        obj: the unpickled top level.
        source: the file, for error messages.

    Example:

    ```python
    detect_format({"train": [((["a"], v, a), 0.5, "x[0]")], ...}, "f.pkl")  # 'mag'
    ```
    """
    if mmsa.looks_like_single(obj):
        return "mmsa"
    if isinstance(obj, dict):
        for value in obj.values():
            if mmsa.looks_like_split(value):
                return "mmsa"
            if isinstance(value, (list, tuple)) and len(value):
                if mag.looks_like(value[0]):
                    return "mag"
                if hkt.looks_like(value[0]):
                    return "hkt"
    raise DataFormatError(
        "cannot tell the format from the structure; expected "
        f"MAG ({mag.LAYOUT}), HKT ({hkt.LAYOUT}), MMSA ({mmsa.LAYOUT}) or a CHERMA "
        "folder; pass format= to name it and get precise errors",
        source=source,
    )


def require_readable(path):
    """Raises `MissingFileError` (naming it and what was expected) unless `path` is readable.

    Args:
        path: the data file or CHERMA folder.

    Example:

    ```python
    require_readable("datasets/mosi.pkl")
    ```
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder; expected {EXPECTED_DATA}")
    wanted = os.R_OK | os.X_OK if path.is_dir() else os.R_OK
    if not os.access(path, wanted):
        kind = "folder" if path.is_dir() else "file"
        raise MissingFileError(
            f"{path}: the {kind} cannot be read (permission denied); expected {EXPECTED_DATA}"
        )


def read_file(path, data_format="auto"):
    """Reads a data file or CHERMA folder into the common form with its format's reader.

    Args:
        path: the pickle, or the CHERMA folder.
        data_format: `"auto"` (detect), `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.

    Returns:
        `(data_format, splits, checker)`: the format, split -> list of
        `Utterance`, and the `Checker` (dims, non-finite counts, notes).

    Example:

    ```python
    data_format, splits, checker = read_file("mosi.pkl")
    data_format, checker.dims   # 'mag', {"visual": 47, "acoustic": 74}
    ```
    """
    path = pathlib.Path(path)
    require_readable(path)
    if data_format not in ("auto",) + FORMATS:
        raise ValueError(f"format must be 'auto' or one of {FORMATS}, not {data_format!r}")
    if path.is_dir():
        if data_format not in ("auto", "cherma") or not cherma.looks_like(path):
            raise DataFormatError(
                "a folder must be a CHERMA release with train/valid/test.json", source=path
            )
        return ("cherma", *cherma.read(path))
    if data_format == "cherma":
        raise DataFormatError("CHERMA data is a folder, not a file", source=path)
    obj = load_pickle(path)
    if data_format == "auto":
        data_format = detect_format(obj, path)
    return (data_format, *READERS[data_format].read(obj, path))
