"""`load`: a benchmark file in any published layout -> splits ready for the model.

One straight route: the data (a `LoadedDataset` given again, a cache hit,
or `formats.read_file` and `Checker.split_reports` on the file: the common
form and the `GLoMoPreprocessor` of what the file is), fitted to a
`GLoMoConfig` (`fitting.fit_config`, before the column selection), the
column selection, the model check (`GLoMoPreprocessor.check_fits`), then
the encoding of every split (MAG and HKT need the backbone's tokenizer) and
`cache.store`.
"""

import dataclasses

from glomo_keras.data import cache
from glomo_keras.data.common import LoadedDataset, LoadReport, Split
from glomo_keras.data.errors import DataFormatError
from glomo_keras.data.fitting import fit_config, sequence_length_conflict
from glomo_keras.data.formats import READERS, read_file
from glomo_keras.data.preprocessor import FORMAT_LAYOUTS, GLoMoPreprocessor
from glomo_keras.data.tokenizer import as_tokenizer
from glomo_keras.datasets import guess_dataset

# T when neither the caller nor the dataset table gives one.
FALLBACK_MAX_LENGTH = 80


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
    encode=True,
):
    """Loads a benchmark file and prepares every split for the model.

    MAG and HKT files need the backbone's `tokenizer` to become model
    inputs (without one the splits hold only `utterances`); a cache hit
    gives the arrays without the utterances.

    Args:
        path: the pickle, or the CHERMA folder; or a `LoadedDataset`
            prepared before (a study's data loaded once), only fitted to `config`.
        format: `"auto"` (detect), `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.
        tokenizer: the backbone's KerasHub WordPiece tokenizer, a
            `vocab.txt` path or a token list.
        config: a `GLoMoConfig` the data must fit (`fit_config`, then
            `GLoMoPreprocessor.check_fits`); the dataset's `config` is it
            fitted to the file. None for no check.
        max_length: T, asked explicitly (an MMSA file with another L is an
            error); None for `default_max_length`.
        default_max_length: T where the file does not fix it; None for the
            config's, else the dataset's (spec §5).
        acoustic_columns: acoustic columns to keep (None: HKT 0-59, else all).
        visual_columns: visual columns to keep (None: HKT 55-90, else all).
        use_cache: read and write the cache of encoded arrays.
        cache_dir: the cache folder (default: see `glomo_keras.data.cache`).
        encode: False stops before the encoding (`read`).

    Returns:
        `LoadedDataset`: `.train`, `.valid`, `.test` (`Split`s), `.format`,
        `.dims`, `.task`, `.class_names`, `.preprocessor`, `.report`, `.config`.

    Raises:
        MissingFileError: the path does not exist or cannot be read.
        DataFormatError: the file is refused or malformed, or does not fit
            `max_length`, the columns or `config` (the message says which).

    Example:

    ```python
    backbone, tokenizer = load_backbone("bert_base_en_uncased")
    dataset = load("mosi.pkl", tokenizer=tokenizer)
    train = make_dataset(dataset.train, batch_size=240, shuffle=True, seed=5576)
    ```
    """
    tokenizer = None if tokenizer is None else as_tokenizer(tokenizer)
    columns = {"acoustic": acoustic_columns, "visual": visual_columns}
    columns = {m: None if c is None else [int(i) for i in c] for m, c in columns.items()}
    if config is not None and default_max_length is None:
        default_max_length = config.max_sequence_length
    cache_path, prepared = None, path if isinstance(path, LoadedDataset) else None
    if prepared is None and use_cache and encode:
        options = {"format": format, "max_length": max_length,
                   "default_max_length": default_max_length,
                   "acoustic_columns": columns["acoustic"], "visual_columns": columns["visual"]}
        cache_path, prepared = cache.lookup(path, options, tokenizer, cache_dir)
    dataset = prepared or _read(path, format, tokenizer, max_length, default_max_length)
    source, notes = dataset.source, []
    if config is not None:
        # Before the column selection: a file of another dataset is named as such.
        config, notes = fit_config(config, source, dataset.preprocessor)
    if prepared is None:
        _select_and_encode(dataset, columns, tokenizer, encode, cache_path)
    if config is not None:
        dataset.preprocessor.check_fits(config, source)
    return dataclasses.replace(dataset, config=config, config_notes=notes)


def _read(path, format, tokenizer, max_length, default_max_length):
    """The file read and checked: its utterances, report and `GLoMoPreprocessor` (all columns)."""
    data_format, splits, checker = read_file(path, format)
    reader, source = READERS[data_format], str(path)
    checked = checker.split_reports(splits, reader.TASK, data_format, reader.LABEL_RANGE)
    stored_dims = {m: checker.dims.get(m) for m in ("acoustic", "visual", "text")}
    # MMSA's token ids are padded to the file's L.
    fixed_length = checker.dims["text_length"] if data_format == "mmsa" else None
    if fixed_length is not None and max_length not in (None, fixed_length):
        raise sequence_length_conflict(source, fixed_length, max_length)
    info = guess_dataset(path, data_format, stored_dims)
    class_names = reader.CLASS_NAMES
    if class_names and info and len(info.class_names or ()) == len(class_names):
        class_names = info.class_names  # the dataset table's, where it knows the dataset
    # MMSA's T_a and T_v: its longest acoustic and visual sequences.
    frames = {m: max(len(getattr(u, m)) for s in splits.values() for u in s)
              if data_format == "mmsa" else None for m in ("acoustic", "visual")}
    try:
        preprocessor = GLoMoPreprocessor(
            FORMAT_LAYOUTS[data_format], tokenizer if data_format in ("mag", "hkt") else None,
            fixed_length or max_length or default_max_length or (
                info.max_sequence_length if info else FALLBACK_MAX_LENGTH),
            stored_dims["acoustic"], stored_dims["visual"], frames["acoustic"],
            frames["visual"], stored_dims["text"], task=reader.TASK, class_names=class_names,
            dataset=info.name if info else None)
    except ValueError as error:
        raise DataFormatError(str(error), source=source)
    notes = checker.notes + [f"max length T = {preprocessor.sequence_length}"]
    if preprocessor.dataset is not None:
        notes.insert(-1, f"dataset: {preprocessor.dataset}")
    return LoadedDataset(
        source, preprocessor,
        {name: Split(name, [u.id for u in splits[name]], labels, reader.TASK, splits[name])
         for name, (labels, _) in checked.items()},
        LoadReport(source, data_format, {name: report for name, (_, report) in checked.items()},
                   notes))


def _select_and_encode(dataset, columns, tokenizer, encode, cache_path):
    """A fresh read's column selection, then (`encode`) every split encoded and stored."""
    reader = READERS[dataset.format]
    dataset.preprocessor = dataset.preprocessor.replace(dataset.source, **{
        f"{m}_columns": getattr(reader, f"{m.upper()}_COLUMNS") if c is None else c
        for m, c in columns.items()})
    if not encode:
        return
    if dataset.format in ("mag", "hkt") and tokenizer is None:
        dataset.report.notes.append("not tokenised: pass tokenizer= to make model inputs")
        return
    encoded = dataset.preprocessor.encode_splits(
        {name: split.utterances for name, split in dataset.splits.items()}, dataset.source,
        checked=True)
    for name, split in dataset.splits.items():
        split.arrays, truncated = encoded[name]
        dataset.report.splits[name].truncated = int(truncated.sum())
    dataset.report.cache = "off"
    if cache_path is not None:
        cache.store(cache_path, dataset)
        dataset.report.cache = "written"


def read(path, format="auto", *, tokenizer=None, config=None, max_length=None,
         default_max_length=None, acoustic_columns=None, visual_columns=None):
    """Reads a file into the common form, without tokenising: `load` up to the encoding.

    Args:
        path, format, tokenizer, config, max_length, default_max_length,
            acoustic_columns, visual_columns: as for `load`.

    Example:

    ```python
    dataset = read("mosi.pkl")
    dataset.train.utterances[0].words
    ```
    """
    return load(path, format, tokenizer=tokenizer, config=config, max_length=max_length,
                default_max_length=default_max_length, acoustic_columns=acoustic_columns,
                visual_columns=visual_columns, use_cache=False, encode=False)
