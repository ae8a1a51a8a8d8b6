"""A cache of encoded splits as `.npz` files (no pickle inside), written atomically.

The key covers the data's content, the tokenizer's vocabulary and flags,
the loading options (format, T, columns) and the cache layout version; an
unreadable cache file counts as a miss. The folder is `load`'s `cache_dir`,
else `$GLOMO_KERAS_CACHE`, else `~/.cache/glomo_keras/`.
"""

import hashlib
import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from glomo_keras.data.common import LoadedDataset, LoadReport, Split
from glomo_keras.data.preprocessor import WORD_LAYOUTS, GLoMoPreprocessor

ENV_VAR = "GLOMO_KERAS_CACHE"
VERSION = 4


def _source_digest(path):
    """SHA-256 of a file, or of a folder's json files and the size and time of the others."""
    path = pathlib.Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 22), b""):
                digest.update(block)
        return digest.hexdigest()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = item.relative_to(path).as_posix()
        digest.update(relative.encode("utf-8") + b"\0")
        if item.suffix == ".json" and item.parent == path:
            digest.update(item.read_bytes())
        else:
            stat = item.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _tokenizer_fields(tokenizer):
    """What a tokenizer fixes, for the cache key: vocabulary digest, lowercase, strip_accents."""
    if tokenizer is None:
        return {"vocabulary": None, "lowercase": True, "strip_accents": False}
    return {
        "vocabulary": hashlib.sha256(
            "\n".join(tokenizer.get_vocabulary()).encode("utf-8")).hexdigest(),
        "lowercase": bool(getattr(tokenizer, "lowercase", True)),
        "strip_accents": bool(getattr(tokenizer, "strip_accents", False)),
    }


def lookup(source, options, tokenizer=None, directory=None):
    """The cache file of a data file under loading options, and the dataset it holds.

    Args:
        source: the data file or folder.
        options: JSON-ready dict of the loading options (format, T, columns).
        tokenizer: the tokenizer the word layouts are encoded with, or None.
        directory: the cache folder; None for the default (module doc).

    Returns:
        `(path, dataset)`: the cache file (None when the source cannot be
        read: its reader then says why), and the `LoadedDataset` read back
        (`report.cache == "hit"`), or None.

    Example:

    ```python
    path, dataset = lookup("mosi.pkl", {"format": "auto", "max_length": 60}, tokenizer)
    ```
    """
    key = {"version": VERSION, **options, **_tokenizer_fields(tokenizer)}
    try:
        key["source"] = _source_digest(source)
    except OSError:
        return None, None
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
    if directory is None:
        directory = os.environ.get(ENV_VAR) or pathlib.Path.home() / ".cache" / "glomo_keras"
    path = pathlib.Path(directory).expanduser() / f"{pathlib.Path(source).stem}-{digest[:24]}.npz"
    if not path.is_file():
        return path, None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return path, None
    preprocessor = GLoMoPreprocessor.from_config({
        **meta["preprocessor"],
        "tokenizer": tokenizer if meta["preprocessor"]["layout"] in WORD_LAYOUTS else None})
    report = LoadReport.from_dict(meta["report"])
    report.source = str(source)
    report.cache = "hit"
    splits = {}
    for name in meta["splits"]:
        fields = {key.split("/", 1)[1]: array for key, array in arrays.items()
                  if key.startswith(f"{name}/")}
        splits[name] = Split(name, fields.pop("ids").tolist(), fields.pop("labels"),
                             preprocessor.task, None, fields)
    return path, LoadedDataset(str(source), preprocessor, splits, report)


def store(path, dataset):
    """Writes an encoded dataset's arrays and metadata atomically (temporary file, then rename).

    Args:
        path: the cache file from `lookup` (its folder is created).
        dataset: the `LoadedDataset`, every split encoded.

    Example:

    ```python
    store(path, dataset)   # the next `lookup` of the same file and options hits
    ```
    """
    arrays = {}
    for name, split in dataset.splits.items():
        arrays[f"{name}/labels"] = split.labels
        arrays[f"{name}/ids"] = np.asarray(split.ids, dtype=str)
        for key, array in split.arrays.items():
            arrays[f"{name}/{key}"] = array
    preprocessor = dataset.preprocessor.get_config()
    preprocessor.pop("tokenizer", None)  # the caller's tokenizer, part of the cache key
    meta = {
        "source": dataset.source,
        "preprocessor": preprocessor,
        "report": dataset.report.to_dict(),
        "splits": list(dataset.splits),
    }
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, meta=np.asarray(json.dumps(meta, ensure_ascii=False)), **arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
