"""The preprocessing settings: everything needed to encode a request as training did.

An exported model keeps these settings as a JSON asset, so that serving
tokenises, aligns, selects columns and pads one request exactly as the
training pipeline did (`glomo_keras.data.encode`).
"""

import dataclasses

from glomo_keras.data.common import CLASSIFICATION, FORMATS, REGRESSION


@dataclasses.dataclass
class PreprocessingSettings:
    """How raw utterances become model inputs.

    Args:
        format: `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.
        max_length: T, the padded number of text tokens (CHERMA: text steps).
        acoustic_length: T_a, the padded number of acoustic frames (= T for
            word-aligned data).
        visual_length: T_v, the same for visual frames.
        stored_dims: the feature dims as stored in the data, before the
            column selection: `{"acoustic": d_a, "visual": d_v, "text": d_t}`
            (`"text"` is None when the text is words or token ids).
        task: `"regression"` or `"classification"`.
        class_names: the class names in label order (classification).
        acoustic_columns: the acoustic columns kept, or None for all.
        visual_columns: the visual columns kept, or None for all.
        vocabulary: the WordPiece vocabulary (MAG, HKT), or None.
        lowercase: the tokenizer lowercases.
        strip_accents: the tokenizer strips accents.
        dataset: the dataset name when known (`"mosi"`, `"mosei"`, ...).

    Example:

    ```python
    settings = dataset.settings
    with open("preprocessing.json", "w") as file:
        json.dump(settings.to_dict(), file)
    settings = PreprocessingSettings.from_dict(json.load(open("preprocessing.json")))
    inputs = encode([utterance], settings, settings.make_tokenizer())
    ```
    """

    format: str
    max_length: int
    acoustic_length: int
    visual_length: int
    stored_dims: dict
    task: str = REGRESSION
    class_names: list = None
    acoustic_columns: list = None
    visual_columns: list = None
    vocabulary: list = None
    lowercase: bool = True
    strip_accents: bool = False
    dataset: str = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        if self.task not in (REGRESSION, CLASSIFICATION):
            raise ValueError(f"task must be regression or classification, not {self.task!r}")
        if self.task == CLASSIFICATION and not self.class_names:
            raise ValueError("a classification task needs class_names")
        if self.max_length < 3:
            raise ValueError(f"max_length must be at least 3, not {self.max_length}")
        for modality in ("acoustic", "visual"):
            columns = getattr(self, f"{modality}_columns")
            if columns is None:
                continue
            columns = [int(column) for column in columns]
            dim = self.stored_dims[modality]
            outside = [column for column in columns if not 0 <= column < dim]
            if outside or not columns:
                raise ValueError(
                    f"{modality}_columns {columns[:3]}... must select columns in 0..{dim - 1} "
                    f"(the data has {dim} {modality} columns); outside: {outside}"
                )
            setattr(self, f"{modality}_columns", columns)

    @property
    def dims(self):
        """The feature dims of the model inputs, after the column selection."""
        dims = {}
        for modality in ("acoustic", "visual"):
            columns = getattr(self, f"{modality}_columns")
            dims[modality] = self.stored_dims[modality] if columns is None else len(columns)
        dims["text"] = self.stored_dims.get("text") if self.format == "cherma" else None
        return dims

    def input_specs(self):
        """The model inputs as `{name: (shape without the batch axis, dtype)}`.

        Example:

        ```python
        inputs = {name: keras.Input(shape, dtype=dtype, name=name)
                  for name, (shape, dtype) in settings.input_specs().items()}
        ```
        """
        dims = self.dims
        specs = {}
        if self.format == "cherma":
            specs["text_features"] = ((self.max_length, dims["text"]), "float32")
            specs["text_mask"] = ((self.max_length,), "int32")
        else:
            for name in ("token_ids", "padding_mask", "segment_ids"):
                specs[name] = ((self.max_length,), "int32")
        specs["acoustic"] = ((self.acoustic_length, dims["acoustic"]), "float32")
        specs["acoustic_mask"] = ((self.acoustic_length,), "int32")
        specs["visual"] = ((self.visual_length, dims["visual"]), "float32")
        specs["visual_mask"] = ((self.visual_length,), "int32")
        return specs

    def check_fits(self, config):
        """Raises ValueError unless these settings make the inputs of `config`'s model.

        The one check that model and data fit, used by training, export,
        presets and serving: the text input (token ids or features), the
        feature dims after the column selection, the task and the number of
        classes.

        Args:
            config: a `GLoMoConfig`.

        Example:

        ```python
        dataset.settings.check_fits(model.config)
        ```
        """
        feature_text = self.format == "cherma"
        if "t" in config.modalities and feature_text != (config.text_encoder == "features"):
            given = "text features" if feature_text else "token ids"
            raise ValueError(
                f"{self.format!r} preprocessing gives {given} but the model's "
                f"text_encoder is {config.text_encoder!r}")
        dims = self.dims
        expected = {}
        if "a" in config.modalities:
            expected["acoustic"] = config.acoustic_input_dim
        if "v" in config.modalities:
            expected["visual"] = config.visual_input_dim
        if feature_text and "t" in config.modalities:
            expected["text"] = config.text_dim
        for modality, width in expected.items():
            if dims[modality] != width:
                raise ValueError(
                    f"the model input {modality!r} has {width} features but the "
                    f"preprocessing settings give {dims[modality]}")
        if config.task != self.task:
            raise ValueError(
                f"the model's task is {config.task!r} but the settings' is {self.task!r}")
        if config.task == "classification" and config.output_dim != len(self.class_names):
            raise ValueError(
                f"the model has {config.output_dim} classes but the settings name "
                f"{len(self.class_names)}: {self.class_names}")

    def make_tokenizer(self):
        """The KerasHub `BertTokenizer` of `vocabulary` (MAG and HKT only)."""
        from glomo_keras.data.tokenizer import make_tokenizer

        if self.vocabulary is None:
            raise ValueError(f"format {self.format!r} settings carry no vocabulary")
        return make_tokenizer(self.vocabulary, self.lowercase, self.strip_accents)

    def to_dict(self):
        """The settings as JSON-ready builtins."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Settings from `to_dict` output (unknown keys are an error)."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown preprocessing settings: {unknown}")
        return cls(**data)
