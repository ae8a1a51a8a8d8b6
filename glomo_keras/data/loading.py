"""`load`: a benchmark file in any published layout -> splits ready for the model.

`load` detects the format from the file's structure (`"mag"`, `"hkt"`,
`"mmsa"`, `"cherma"`), reads it with the restricted unpickler, checks every
item, counts non-finite features, and, given the backbone's tokenizer (MMSA
and CHERMA need none), encodes every split into the model's input arrays
with `GLoMoPreprocessor` (the one encoder), mapped over the split with
`tf.data`, with a cache so that the second run skips that work.
"""

import dataclasses
import os
import pathlib

import numpy as np

from glomo_keras.data import cache, cherma, hkt, mag, mmsa
from glomo_keras.data.common import CLASSIFICATION, FORMATS, SPLITS, LoadReport, SplitReport
from glomo_keras.data.errors import DataFormatError
from glomo_keras.data.fitting import fit_config, sequence_length_conflict
from glomo_keras.data.pipeline import sequence_extents
from glomo_keras.data.preprocessor import FORMAT_LAYOUTS, WORD_LAYOUTS, GLoMoPreprocessor
from glomo_keras.data.tokenizer import as_tokenizer
from glomo_keras.data.unpickler import load_pickle
from glomo_keras.datasets import DATASETS, guess_dataset
from glomo_keras.errors import MissingFileError

READERS = {"mag": mag, "hkt": hkt, "mmsa": mmsa, "cherma": cherma}
# T when neither the caller nor the dataset table gives one.
FALLBACK_MAX_LENGTH = 80
# From this many utterances in all splits on, `encode_splits` traces the
# preprocessor: a trace costs about a second, which op by op execution
# (each op dispatched from Python) makes up from about 10,000 utterances.
TRACE_FROM = 10000


@dataclasses.dataclass
class Split:
    """One split: ids, labels, and the utterances and/or the encoded arrays.

    Args:
        name: `"train"`, `"valid"` or `"test"`.
        ids: the segment ids, in order.
        labels: float32 [N] (regression; NaN when unknown) or int32 [N]
            class indices.
        task: `"regression"` or `"classification"`.
        utterances: the common form (None when the arrays came from the cache).
        arrays: the model input dict [N, ...] that `GLoMoPreprocessor`
            gives for the utterances (None until encoded).

    Example:

    ```python
    split = dataset.train
    len(split), split.ids[0], split.inputs["acoustic"].shape   # 600, '...', (600, 80, 74)
    ```
    """

    name: str
    ids: list
    labels: np.ndarray
    task: str
    utterances: list = None
    arrays: dict = None

    def __len__(self):
        return len(self.ids)

    @property
    def inputs(self):
        """The model input dict [N, ...], or None (not encoded)."""
        return self.arrays

    def by_length(self):
        """A copy of the split ordered by utterance length, shortest first.

        Evaluation batches of a sorted split hold similar lengths, so that
        length bucketing cuts most of their padding; order-free metrics
        (all of the MMSA ones) are unchanged. Ties keep the split's order.

        Example:

        ```python
        valid = dataset.valid.by_length()
        make_dataset(valid, 32, bucketing=True)
        ```
        """
        extents = sequence_extents(self.arrays)
        order = np.argsort(sum(extents.values()), kind="stable")
        return dataclasses.replace(
            self,
            ids=[self.ids[index] for index in order],
            labels=np.asarray(self.labels)[order],
            utterances=None if self.utterances is None else [
                self.utterances[index] for index in order],
            arrays={name: array[order] for name, array in self.arrays.items()},
        )


@dataclasses.dataclass
class LoadedDataset:
    """A loaded benchmark file.

    What the data is (format, dataset, T, widths, task, classes) is its
    preprocessor's; the properties below read it from there.

    Args:
        source: the file or folder.
        preprocessor: the `GLoMoPreprocessor` of the data: what it is (T,
            widths, columns, task, class names, dataset, the tokenizer) and
            its encoder.
        splits: dict name -> `Split`.
        report: the `LoadReport`.
        config: the `GLoMoConfig` fitted to the data when it was loaded for
            one (`load(config=...)`, `for_config`), else None.
        config_notes: one-line notes of what the data changed in `config`.

    Example:

    ```python
    dataset = load("mosi.pkl", tokenizer=tokenizer)
    dataset.format, dataset.dims, dataset.task   # 'mag', {...}, 'regression'
    print(dataset.report)
    ```
    """

    source: str
    preprocessor: GLoMoPreprocessor
    splits: dict
    report: LoadReport
    config: object = None
    config_notes: list = dataclasses.field(default_factory=list)

    @property
    def train(self):
        """The `train` split (None for a single unlabelled utterance file)."""
        return self.splits.get("train")

    @property
    def valid(self):
        """The `valid` split (a file's `dev`)."""
        return self.splits.get("valid")

    @property
    def test(self):
        """The `test` split."""
        return self.splits.get("test")

    @property
    def format(self):
        """`"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`."""
        return self.preprocessor.format

    @property
    def dataset(self):
        """The dataset table's name when known from the path or the dims, or None."""
        return self.preprocessor.dataset

    @property
    def dims(self):
        """The feature dims of the model inputs (after the column selection)."""
        return self.preprocessor.input_dims

    @property
    def stored_dims(self):
        """The feature dims as stored in the file."""
        return self.preprocessor.stored_dims

    @property
    def task(self):
        """`"regression"` or `"classification"`."""
        return self.preprocessor.task

    @property
    def class_names(self):
        """The class names in label order, or None for regression."""
        return self.preprocessor.class_names


def detect_format(obj, source):
    """The format of an unpickled file, from its structure.

    Args:
        obj: the unpickled top level.
        source: the file, for error messages.

    Returns:
        `"mag"`, `"hkt"` or `"mmsa"`.

    Raises:
        DataFormatError: the structure matches no known layout.

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


EXPECTED_DATA = "a data file (a MAG, HKT or MMSA pickle) or a CHERMA folder"


def require_readable(path):
    """Raises `MissingFileError` unless `path` is a readable file or folder.

    Args:
        path: the data file or CHERMA folder.

    Raises:
        MissingFileError: the path does not exist or cannot be read; the
            message names it and what was expected there.

    Example:

    ```python
    require_readable("datasets/mosi.pkl")
    # MissingFileError: datasets/mosi.pkl: no such file or folder; expected
    # a data file (a MAG, HKT or MMSA pickle) or a CHERMA folder
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


def _read_raw(path, data_format):
    path = pathlib.Path(path)
    require_readable(path)
    if data_format not in ("auto",) + FORMATS:
        raise ValueError(f"format must be 'auto' or one of {FORMATS}, not {data_format!r}")
    if path.is_dir():
        if data_format not in ("auto", "cherma") or not cherma.looks_like(path):
            raise DataFormatError(
                "a folder must be a CHERMA release with train/valid/test.json", source=path
            )
        return "cherma", cherma.read(path)
    if data_format == "cherma":
        raise DataFormatError("CHERMA data is a folder, not a file", source=path)
    obj = load_pickle(path)
    if data_format == "auto":
        data_format = detect_format(obj, path)
    return data_format, READERS[data_format].read(obj, path)


def _columns(requested, default):
    if requested is None:
        return None if default is None else list(default)
    return [int(column) for column in requested]


def _preprocessor(path, data_format, splits, checker, max_length, default_max_length,
                  columns, tokenizer, config):
    """The data's `GLoMoPreprocessor`, and `config` fitted to the file (`fit_config`)."""
    reader = READERS[data_format]
    stored_dims = {
        "acoustic": checker.dims.get("acoustic"),
        "visual": checker.dims.get("visual"),
        "text": checker.dims.get("text"),
    }
    for modality in ("acoustic", "visual"):
        if not stored_dims[modality]:
            raise DataFormatError(f"no utterance has {modality} features", source=path)
    fixed_length = checker.dims["text_length"] if data_format == "mmsa" else None
    notes = []
    if config is not None:
        # Before the column selection: a file of another dataset is named as such.
        config, notes = fit_config(config, path, data_format, stored_dims, reader.TASK,
                                   fixed_length)
    dataset = guess_dataset(path, data_format, stored_dims)
    if fixed_length is not None:
        if max_length not in (None, fixed_length):
            raise sequence_length_conflict(path, fixed_length, max_length)
        max_length = fixed_length
        frames = {m: max(len(getattr(u, m)) for s in splits.values() for u in s)
                  for m in ("acoustic", "visual")}
    else:
        max_length = max_length or default_max_length or (
            DATASETS[dataset].max_sequence_length if dataset else FALLBACK_MAX_LENGTH)
        frames = {"acoustic": None, "visual": None}
    try:
        preprocessor = GLoMoPreprocessor(
            layout=FORMAT_LAYOUTS[data_format],
            tokenizer=tokenizer if data_format in ("mag", "hkt") else None,
            sequence_length=int(max_length),
            acoustic_dim=stored_dims["acoustic"],
            visual_dim=stored_dims["visual"],
            acoustic_length=frames["acoustic"],
            visual_length=frames["visual"],
            text_dim=stored_dims["text"],
            acoustic_columns=_columns(columns["acoustic"], reader.ACOUSTIC_COLUMNS),
            visual_columns=_columns(columns["visual"], reader.VISUAL_COLUMNS),
            task=reader.TASK,
            class_names=_class_names(reader, dataset),
            dataset=dataset,
        )
    except ValueError as error:
        raise DataFormatError(str(error), source=path)
    if config is not None:
        preprocessor.check_fits(config, path)
    return preprocessor, config, notes


def _class_names(reader, dataset):
    """The dataset table's class names when it knows the dataset, else the reader's."""
    if reader.CLASS_NAMES is None:
        return None
    known = DATASETS.get(dataset)
    if known is not None and known.class_names and len(known.class_names) == len(
            reader.CLASS_NAMES):
        return list(known.class_names)
    return list(reader.CLASS_NAMES)


def _labels(utterances, task):
    """int32 [N] class indices, or float32 [N] values (NaN where unknown)."""
    if task == CLASSIFICATION:
        return np.asarray([u.label for u in utterances], np.int32).reshape(-1)
    return np.asarray(
        [np.nan if u.label is None else u.label for u in utterances], np.float32
    ).reshape(-1)


def _split_report(utterances, labels, nonfinite, data_format, label_range):
    known = labels[~np.isnan(labels)] if labels.dtype.kind == "f" else labels
    modalities = ("text", "acoustic", "visual") if data_format == "cherma" else (
        "acoustic", "visual")
    report = SplitReport(
        size=len(utterances),
        nonfinite_replaced={modality: nonfinite.get(modality, 0) for modality in modalities},
    )
    if len(known):
        report.label_min = float(known.min())
        report.label_max = float(known.max())
        if label_range is not None:
            low, high = label_range
            report.labels_out_of_range = int(np.sum((known < low) | (known > high)))
    return report


def read(path, format="auto", *, tokenizer=None, config=None, max_length=None,
         default_max_length=None, acoustic_columns=None, visual_columns=None):
    """Reads a file into the common form, without tokenising.

    Args:
        path: the pickle, or the CHERMA folder.
        format: `"auto"` (detect), `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.
        tokenizer: the backbone's tokenizer (a KerasHub tokenizer) for the
            preprocessor of MAG and HKT data; None leaves it without one.
        config: a `GLoMoConfig` the file must fit
            (`glomo_keras.data.fitting.fit_config`, checked before the column
            selection; then `GLoMoPreprocessor.check_fits`); the dataset's
            `config` is it fitted to the file. None for no check.
        max_length: T, asked explicitly: a file that fixes T (MMSA's token
            ids, padded to its L) and has another one is an error. None for
            `default_max_length`.
        default_max_length: T where the file does not fix it; None for the
            dataset's value (spec §5: MOSI 60, MOSEI 80, UR-FUNNY 80,
            MUStARD 70, CHERMA 50). MMSA files always take their L.
        acoustic_columns: acoustic columns to keep; None for the format's
            default (HKT: 0-59; others: all).
        visual_columns: visual columns to keep; None for the default (HKT: 55-90).

    Returns:
        `LoadedDataset` whose splits hold `utterances`, and `arrays` None.

    Raises:
        MissingFileError: the path does not exist or cannot be read.
        DataFormatError: the file is refused or malformed, a modality of a
            split is entirely non-finite, `max_length` conflicts with the
            file's T, the columns are outside the file's, or the file does
            not fit `config`.

    Example:

    ```python
    dataset = read("mosi.pkl")
    dataset.train.utterances[0].words
    ```
    """
    data_format, (splits, checker) = _read_raw(path, format)
    checker.refuse_nonfinite_modalities()
    columns = {"acoustic": acoustic_columns, "visual": visual_columns}
    preprocessor, config, config_notes = _preprocessor(
        path, data_format, splits, checker, max_length, default_max_length, columns,
        tokenizer, config)
    reader = READERS[data_format]
    result = {}
    reports = {}
    for name in SPLITS:
        if name not in splits:
            continue
        utterances = splits[name]
        labels = _labels(utterances, reader.TASK)
        result[name] = Split(name, [u.id for u in utterances], labels, reader.TASK, utterances)
        reports[name] = _split_report(
            utterances, labels, checker.nonfinite.get(name, {}), data_format, reader.LABEL_RANGE
        )
    notes = list(checker.notes)
    if preprocessor.dataset is not None:
        notes.append(f"dataset: {preprocessor.dataset}")
    notes.append(f"max length T = {preprocessor.sequence_length}")
    report = LoadReport(str(path), data_format, reports, notes)
    return LoadedDataset(str(path), preprocessor, result, report, config, config_notes)


def load(
    path,
    format="auto",
    *,
    tokenizer=None,
    config=None,
    max_length=None,
    default_max_length=None,
    acoustic_columns=None,
    visual_columns=None,
    use_cache=True,
    cache_dir=None,
):
    """Loads a benchmark file and prepares every split for the model.

    MMSA and CHERMA files are always turned into model inputs; MAG and HKT
    files need the backbone's `tokenizer` for that, and without one the
    splits hold only the common form (`Split.utterances`). With the cache
    on, a second call with the same file and options reads the arrays back
    (the splits' `utterances` are then None).

    Args:
        path: the pickle, or the CHERMA folder.
        format: `"auto"` (detect from the structure), `"mag"`, `"hkt"`,
            `"mmsa"` or `"cherma"`.
        tokenizer: the backbone's KerasHub WordPiece tokenizer, a
            `vocab.txt` path or a token list.
        config: a `GLoMoConfig` the file must fit (see `read`; data from
            the cache, see `for_config`); the dataset's `config` is it
            fitted to the file.
        max_length: T, asked explicitly (a file that fixes another T, MMSA,
            is an error); None for `default_max_length` (see `read`).
        default_max_length: T where the file does not fix it; None for the
            dataset's value.
        acoustic_columns: acoustic columns to keep (None: HKT 0-59, else all).
        visual_columns: visual columns to keep (None: HKT 55-90, else all).
        use_cache: read and write the cache of tokenised arrays.
        cache_dir: the cache folder (default `$GLOMO_KERAS_CACHE` or
            `~/.cache/glomo_keras`).

    Returns:
        `LoadedDataset`: `.train`, `.valid`, `.test` (each a `Split` with
        `ids`, `labels`, `arrays` and `inputs`), `.format`, `.dims`, `.task`,
        `.class_names`, `.preprocessor`, `.report`.

    Raises:
        MissingFileError: the path does not exist or cannot be read.
        DataFormatError: the file is refused or malformed, a modality of a
            split is entirely non-finite, `max_length` conflicts with the
            file's T, the columns are outside the file's, or the file does
            not fit `config`.

    Example:

    ```python
    backbone, tokenizer = load_backbone("bert_base_en_uncased")
    dataset = load("mosi.pkl", tokenizer=tokenizer)
    train = make_dataset(dataset.train, batch_size=240, shuffle=True, seed=5576)
    ```
    """
    if tokenizer is not None:
        tokenizer = as_tokenizer(tokenizer)
    fields = _tokenizer_fields(tokenizer)
    cache_path = None
    if use_cache:
        require_readable(path)
        options = {
            "format": format,
            "max_length": max_length,
            "default_max_length": default_max_length,
            "acoustic_columns": _columns(acoustic_columns, None),
            "visual_columns": _columns(visual_columns, None),
            **fields,
            "vocabulary": cache.vocabulary_digest(fields["vocabulary"]),
        }
        cache_path = cache.cache_file(path, options, cache_dir)
        cached = cache.lookup(cache_path)
        if cached is not None:
            dataset = _from_cache(path, cached, tokenizer)
            return dataset if config is None else for_config(dataset, config)
    dataset = read(
        path, format, tokenizer=tokenizer, config=config, max_length=max_length,
        default_max_length=default_max_length,
        acoustic_columns=acoustic_columns, visual_columns=visual_columns,
    )
    if dataset.format in ("mag", "hkt") and tokenizer is None:
        dataset.report.notes.append("not tokenised: pass tokenizer= to make model inputs")
        return dataset
    encoded = encode_splits(
        dataset.preprocessor,
        {name: split.utterances for name, split in dataset.splits.items()}, path,
        checked=True)
    for name, split in dataset.splits.items():
        split.arrays, truncated = encoded[name]
        dataset.report.splits[name].truncated = int(truncated.sum())
    dataset.report.cache = "off"
    if cache_path is not None:
        _to_cache(cache_path, dataset)
        dataset.report.cache = "written"
    return dataset


def encode_splits(preprocessor, splits, source=None, checked=False):
    """The model inputs of splits: `GLoMoPreprocessor` run over each whole split.

    Each split's utterances become raw inputs (`raw_inputs(..., ragged=True)`:
    the word layouts' flat words and rows, not padded; errors name the
    split and the utterance), and the preprocessor runs once per split. From
    `TRACE_FROM` utterances on, the splits join one `tf.data` pipeline that
    maps the traced preprocessor over them in parallel (one trace, about a
    second); fewer run op by op (no trace). Each split's outputs come back
    as they are, with no copy.

    Args:
        preprocessor: the `GLoMoPreprocessor` of the data.
        splits: dict split name -> `Utterance` objects.
        source: the file they came from, for error messages.
        checked: the utterances come from `read`, which checked them
            (see `GLoMoPreprocessor.raw_inputs`).

    Returns:
        dict split name -> (inputs, truncated): the model input dict of
        numpy arrays [N, ...], and int32 [N], 1 where T (or T_a, T_v) cut
        the utterance.

    Raises:
        DataFormatError: an utterance does not fit the preprocessor.

    Example:

    ```python
    encoded = encode_splits(preprocessor, {"train": dataset.train.utterances})
    inputs, truncated = encoded["train"]
    ```
    """
    import tensorflow as tf

    raw = {name: {key: tf.convert_to_tensor(value) if isinstance(value, np.ndarray) else value
                  for key, value in preprocessor.raw_inputs(
                      utterances, source or "request", name, ragged=True,
                      checked=checked).items()}
           for name, utterances in splits.items()}
    if sum(len(utterances) for utterances in splits.values()) < TRACE_FROM:
        encoded = [preprocessor.call_with_lengths(inputs, traced=False)
                   for inputs in raw.values()]
        encoded = [{key: value.numpy() for key, value in outputs.items()}
                   for outputs in encoded]
    else:
        raw_splits = None
        for inputs in raw.values():
            split = tf.data.Dataset.from_tensors(inputs)
            # Joined, the splits get one (relaxed) shape: one trace of the graph.
            raw_splits = split if raw_splits is None else raw_splits.concatenate(split)
        encoded = list(raw_splits.map(
            preprocessor.call_with_lengths, num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True).as_numpy_iterator())
    result = {}
    for name, outputs in zip(splits, encoded):
        del outputs["text_length"]
        truncated = outputs.pop("truncated")
        result[name] = (outputs, truncated)
    return result


def _tokenizer_fields(tokenizer):
    """What a tokenizer fixes, for the cache key: vocabulary, lowercase, strip_accents."""
    if tokenizer is None:
        return {"vocabulary": None, "lowercase": True, "strip_accents": False}
    return {
        "vocabulary": list(tokenizer.get_vocabulary()),
        "lowercase": bool(getattr(tokenizer, "lowercase", True)),
        "strip_accents": bool(getattr(tokenizer, "strip_accents", False)),
    }


def _to_cache(path, dataset):
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
    cache.store(path, arrays, meta)


def _from_cache(path, cached, tokenizer):
    arrays, meta = cached
    config = meta["preprocessor"]
    if config["layout"] in WORD_LAYOUTS:
        config["tokenizer"] = tokenizer
    preprocessor = GLoMoPreprocessor.from_config(config)
    report = LoadReport.from_dict(meta["report"])
    report.source = str(path)
    report.cache = "hit"
    splits = {}
    for name in meta["splits"]:
        prefix = f"{name}/"
        split_arrays = {
            key[len(prefix):]: array
            for key, array in arrays.items()
            if key.startswith(prefix) and key[len(prefix):] not in ("labels", "ids")
        }
        splits[name] = Split(
            name,
            arrays[f"{name}/ids"].tolist(),
            arrays[f"{name}/labels"],
            preprocessor.task,
            None,
            split_arrays,
        )
    return LoadedDataset(str(path), preprocessor, splits, report)


def for_config(dataset, config):
    """A loaded dataset with `config` fitted to it, or a `DataFormatError`.

    For data prepared before (the cache, a study's data loaded once):
    `fit_config` on what its preprocessor says the file stores, then T and
    `GLoMoPreprocessor.check_fits` on what it was encoded with.

    Args:
        dataset: a `LoadedDataset`.
        config: the `GLoMoConfig`.

    Returns:
        A copy of `dataset` whose `config` is the fitted config and whose
        `config_notes` say what the data changed.

    Raises:
        DataFormatError: the data does not fit; the message names the file,
            the field, what it holds and what was expected.

    Example:

    ```python
    dataset = for_config(load("aligned_50.pkl"), GLoMoConfig.for_dataset("mosi"))
    dataset.config.max_sequence_length   # 50, the file's
    ```
    """
    preprocessor = dataset.preprocessor
    length = preprocessor.sequence_length
    config, notes = fit_config(
        config, dataset.source, preprocessor.format, preprocessor.stored_dims,
        preprocessor.task, length if preprocessor.format == "mmsa" else None)
    if length != config.max_sequence_length:
        raise DataFormatError(
            f"the data was encoded with T = {length} but the configuration's "
            f"max_sequence_length is {config.max_sequence_length}; load it for this "
            "configuration (load_for_config)",
            source=dataset.source, field="max_sequence_length")
    preprocessor.check_fits(config, dataset.source)
    return dataclasses.replace(dataset, config=config, config_notes=notes)
