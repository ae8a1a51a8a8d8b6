"""A configuration and its data must agree: task, text input, feature widths and T.

`train` (and the recipes, studies and tuning through it) loads a file for a
`GLoMoConfig` and refuses data that does not fit it with a one-line
`DataFormatError` naming the file, the field, what the file holds and what
the configuration expects; where a dataset of the table has the file's
layout it is suggested ("this looks like mosei's layout: --dataset mosei"),
and so is the override that trains on the file as it is.

A field of the configuration that still holds the dataset table's value
(not asked for) gives way where the file fixes it: an MMSA file fixes T
(its token ids are padded to its L, 50 in the releases) and MMSA's releases
have their own widths (MOSI: 5 acoustic and 20 visual columns, not the
MAG-BERT file's 74 and 47). A value asked for (one that differs from the
table's) must match the file.

Example:

```python
dataset = load(path, tokenizer=tokenizer, **load_options(config))
dataset.config, dataset.config_notes   # fitted; notes: ["... fixes T ..."]
```
"""

from glomo_keras.data import mmsa
from glomo_keras.data.errors import DataFormatError
from glomo_keras.datasets import DATASETS

# The config field of each modality's stored width.
WIDTH_FIELDS = {"acoustic": "acoustic_dim", "visual": "visual_dim", "text": "text_dim"}


def asked(config, field):
    """Whether `config.<field>` was asked for: it differs from the dataset table's value.

    A config whose dataset is not in the table (own data) asks for every field.

    Example:

    ```python
    asked(GLoMoConfig.for_dataset("mosi"), "max_sequence_length")                        # False
    asked(GLoMoConfig.for_dataset("mosi", max_sequence_length=50), "max_sequence_length")  # True
    ```
    """
    info = DATASETS.get(config.dataset)
    return info is None or getattr(config, field) != info.config_defaults()[field]


def load_options(config):
    """The keywords of `load` for `config`: the config, T and the column selection.

    T is `default_max_length`: a file that fixes T (MMSA) keeps its own, and
    `fit_config` compares it with the configuration's.

    Example:

    ```python
    dataset = load("aligned_50.pkl", **load_options(GLoMoConfig.for_dataset("mosi")))
    dataset.preprocessor.sequence_length   # 50, the file's
    ```
    """
    return dict(
        config=config,
        default_max_length=config.max_sequence_length,
        acoustic_columns=_column_list(config.acoustic_columns),
        visual_columns=_column_list(config.visual_columns),
    )


def _column_list(columns):
    return None if columns is None else list(range(*columns))


def release_dims(name, data_format):
    """The stored widths of the table dataset `name` as released in `data_format`, or None.

    Args:
        name: a dataset of the table, e.g. `"mosi"`.
        data_format: `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.

    Returns:
        `{"acoustic": d_a, "visual": d_v}` (CHERMA: and `"text"`), or None
        when the dataset has no release in that layout.

    Example:

    ```python
    release_dims("mosi", "mag"), release_dims("mosi", "mmsa")
    # {"acoustic": 74, "visual": 47}, {"acoustic": 5, "visual": 20}
    ```
    """
    info = DATASETS[name]
    if data_format == info.layout:
        modalities = ("acoustic", "visual", "text") if data_format == "cherma" else (
            "acoustic", "visual")
        return {modality: info.feature_dims[modality] for modality in modalities}
    if data_format == "mmsa":
        return mmsa.RELEASE_DIMS.get(name)
    return None


def lookalikes(data_format, stored_dims, task):
    """The table's datasets released in `data_format` with these widths and task.

    Example:

    ```python
    lookalikes("mag", {"acoustic": 74, "visual": 35}, "regression")   # ["mosei"]
    ```
    """
    names = []
    for name, info in DATASETS.items():
        dims = release_dims(name, data_format)
        if dims and info.task == task and all(
                stored_dims.get(modality) == width for modality, width in dims.items()):
            names.append(name)
    return names


def fit_config(config, source, preprocessor):
    """`config` fitted to the data of a `GLoMoPreprocessor`, or a `DataFormatError`.

    The check of data against a configuration, made once per load before
    the column selection (so that a file of another dataset is named as
    such): the task, the text input and the stored widths, then T. The
    table's widths and T give way to the ones the file fixes (MMSA), with a
    note for T. What the encoder makes of the data (the selected widths and
    the classes) is `GLoMoPreprocessor.check_fits`'s.

    Args:
        config: the `GLoMoConfig`.
        source: the file or folder, for the message.
        preprocessor: the data's `GLoMoPreprocessor` (its format, stored
            widths, task and T: an MMSA file's L, or the T the data was
            encoded with).

    Returns:
        `(config, notes)`: the fitted config and one-line notes of what
        the file changed (empty when nothing).

    Raises:
        DataFormatError: the file does not fit; the message names the file,
            the field, what it holds and what was expected.

    Example:

    ```python
    fit_config(GLoMoConfig.for_dataset("mosi"), "aligned_50.pkl", preprocessor)
    # (config with acoustic_dim 5, visual_dim 20, T 50,
    #  ["aligned_50.pkl fixes T: its MMSA token ids are padded to 50, ..."])
    ```
    """
    data_format, stored_dims, task = (preprocessor.format, preprocessor.stored_dims,
                                      preprocessor.task)
    fixed_length = preprocessor.sequence_length
    names = [name for name in lookalikes(data_format, stored_dims, task)
             if name != config.dataset]
    suggestion = ""
    if names:
        owners = " or ".join(f"{name}'s" for name in names)
        suggestion = f"; this looks like {owners} layout: --dataset {names[0]}"
    if config.task != task:
        found = ("regression labels (sentiment scores)" if task == "regression"
                 else "classification labels (class indices)")
        raise DataFormatError(
            f"the file holds {found} but the {config.dataset} configuration's task is "
            f"{config.task}{suggestion}",
            source=source, field="label",
        )
    feature_text = data_format == "cherma"
    if "t" in config.modalities and feature_text != (config.text_encoder == "features"):
        found = "text features" if feature_text else "text as words or token ids"
        raise DataFormatError(
            f"the file holds {found} ({data_format} layout) but the {config.dataset} "
            f"configuration's text_encoder is {config.text_encoder!r}{suggestion}",
            source=source, field="text",
        )
    modalities = ("acoustic", "visual", "text") if feature_text else ("acoustic", "visual")
    release = release_dims(config.dataset, data_format) if config.dataset in DATASETS else None
    expected = {}
    for modality in modalities:
        field = WIDTH_FIELDS[modality]
        from_release = release is not None and not asked(config, field)
        expected[modality] = release[modality] if from_release else getattr(config, field)
    wrong = [modality for modality in modalities if stored_dims[modality] != expected[modality]]
    if wrong:
        found = " and ".join(
            f"{stored_dims[m]} {m} columns where the {config.dataset} configuration expects "
            f"{expected[m]} ({WIDTH_FIELDS[m]})" for m in wrong)
        overrides = []
        for m in wrong:
            overrides.append(f"--set {WIDTH_FIELDS[m]}={stored_dims[m]}")
            columns = getattr(config, f"{m}_columns", None)
            if columns is not None and columns[1] > stored_dims[m]:
                overrides.append(f"--set {m}_columns=[0,{stored_dims[m]}]")
        overrides = " ".join(overrides)
        raise DataFormatError(
            f"the file has {found}{suggestion}; to train on it as it is: {overrides}",
            source=source, field=wrong[0],
        )
    changes = {WIDTH_FIELDS[m]: width for m, width in expected.items()
               if width != getattr(config, WIDTH_FIELDS[m])}
    notes = []
    if fixed_length not in (None, config.max_sequence_length):
        if data_format != "mmsa":
            raise DataFormatError(
                f"the data was encoded with T = {fixed_length} but the configuration's "
                f"max_sequence_length is {config.max_sequence_length}; load it for this "
                "configuration (load_for_config)",
                source=source, field="max_sequence_length")
        if asked(config, "max_sequence_length"):
            raise sequence_length_conflict(source, fixed_length, config.max_sequence_length)
        changes["max_sequence_length"] = fixed_length
        notes.append(
            f"{source} fixes T: its MMSA token ids are padded to {fixed_length}, so "
            f"max_sequence_length = {fixed_length} instead of {config.dataset}'s "
            f"{config.max_sequence_length}")
    return config.replace(**changes) if changes else config, notes


def sequence_length_conflict(source, fixed, wanted):
    """The `DataFormatError` of a T asked for that a file fixing its own T cannot take.

    Example:

    ```python
    raise sequence_length_conflict("aligned_50.pkl", 50, 60)
    # aligned_50.pkl: field 'text_bert': the file's token ids are padded to T = 50, ...
    ```
    """
    return DataFormatError(
        f"the file's token ids are padded to T = {fixed}, but max_sequence_length = "
        f"{wanted} was asked; leave max_sequence_length unset to train with the file's "
        f"T = {fixed}",
        source=source, field="text_bert",
    )
