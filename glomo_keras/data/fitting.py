"""A configuration and its data must agree: task, text input, feature widths and T.

Data that does not fit is refused in one line naming the file, the field,
both values, a dataset of the table with the file's layout ("--dataset
mosei") and the override that trains on the file as it is. A config field
still at the table's value gives way where the file fixes it (an MMSA
file's T and release widths); a value asked for must match the file.
"""

from glomo_keras.data import mmsa
from glomo_keras.data.errors import DataFormatError
from glomo_keras.datasets import DATASETS

# The config field of each modality's stored width.
WIDTH_FIELDS = {"acoustic": "acoustic_dim", "visual": "visual_dim", "text": "text_dim"}


def _asked(config, field):
    """Whether `config.<field>` differs from the dataset table's value (own data: always)."""
    info = DATASETS.get(config.dataset)
    return info is None or getattr(config, field) != info.config_defaults()[field]


def load_options(config):
    """The keywords of `load` for `config`: the config, T and the column selection.

    Example:

    ```python
    dataset = load("aligned_50.pkl", **load_options(GLoMoConfig.for_dataset("mosi")))
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


def _release_dims(name, data_format):
    """The stored widths of table dataset `name` as released in `data_format`, or None."""
    info = DATASETS[name]
    if data_format == info.layout:
        modalities = ("acoustic", "visual", "text") if data_format == "cherma" else (
            "acoustic", "visual")
        return {modality: info.feature_dims[modality] for modality in modalities}
    if data_format == "mmsa":
        return mmsa.RELEASE_DIMS.get(name)
    return None


def _lookalikes(data_format, stored_dims, task):
    """The table's datasets released in `data_format` with these widths and task."""
    names = []
    for name, info in DATASETS.items():
        dims = _release_dims(name, data_format)
        if dims and info.task == task and all(
                stored_dims.get(modality) == width for modality, width in dims.items()):
            names.append(name)
    return names


def fit_config(config, source, preprocessor):
    """`config` fitted to the data of a `GLoMoPreprocessor`, or a `DataFormatError`.

    Made before the column selection (so that a file of another dataset is
    named as such): the task, the text input and the stored widths, then T
    (an MMSA file's L, or the T the data was encoded with). The selected
    widths and the classes are `GLoMoPreprocessor.check_fits`'s.

    Args:
        config: the `GLoMoConfig`.
        source: the file or folder, for the message.
        preprocessor: the data's `GLoMoPreprocessor`.

    Returns:
        `(config, notes)`: the fitted config and one-line notes of what
        the file changed.

    Example:

    ```python
    fit_config(GLoMoConfig.for_dataset("mosi"), "aligned_50.pkl", preprocessor)
    # (config with acoustic_dim 5, visual_dim 20, T 50, ["aligned_50.pkl fixes T: ..."])
    ```
    """
    data_format, stored_dims, task = (preprocessor.format, preprocessor.stored_dims,
                                      preprocessor.task)
    fixed_length = preprocessor.sequence_length
    names = [name for name in _lookalikes(data_format, stored_dims, task)
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
    release = _release_dims(config.dataset, data_format) if config.dataset in DATASETS else None
    expected = {}
    for modality in modalities:
        field = WIDTH_FIELDS[modality]
        from_release = release is not None and not _asked(config, field)
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
        if _asked(config, "max_sequence_length"):
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
    ```
    """
    return DataFormatError(
        f"the file's token ids are padded to T = {fixed}, but max_sequence_length = "
        f"{wanted} was asked; leave max_sequence_length unset to train with the file's "
        f"T = {fixed}",
        source=source, field="text_bert",
    )
