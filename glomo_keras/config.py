"""`GLoMoConfig`: the architecture of one GLoMo model.

How it is trained is `glomo_keras.training.options.TrainingOptions`. The
per-dataset defaults (appendix Table 1, spec §5) are in the dataset table
(`glomo_keras.datasets`); the others come from the authors' released code.
"""

import dataclasses

from glomo_keras.datasets import get_dataset
from glomo_keras.errors import UsageError
from glomo_keras.errors import closest_names

MODALITIES = ("t", "a", "v")
# Fields that take one int for every modality or one per modality (the
# released code's experts_t/a/v and gran_t/a/v; top_k follows num_experts).
PER_MODALITY_FIELDS = ("num_windows", "num_experts", "top_k")

# The fields that make the released code's function differ from the paper's
# description (README "Fidelity"). `compatibility` picks one bundle; a field
# given explicitly overrides its bundle value.
COMPATIBILITY_BUNDLES = {
    "paper": dict(
        encoder_positions="all", moe_combine="sum", moe_load_cdf_mean=0.0,
        length_aware=False,
    ),
    "released": dict(
        encoder_positions="nonzero", moe_combine="log_space",
        moe_load_cdf_mean=0.1, length_aware=False,
    ),
}
BUNDLE_FIELDS = tuple(COMPATIBILITY_BUNDLES["paper"])
# The fields with a fixed set of values (the fusion fields: `check_fusion_settings`).
CHOICES = {
    "local_mixer": ("moe", "mlp"),
    "moe_combine": ("sum", "log_space"),
    "task": ("regression", "classification"),
    "encoder_positions": ("all", "nonzero"),
    "text_encoder": ("bert", "features"),
}


class _FromDataset:
    """The default of the fields the dataset table fixes (see `__post_init__`)."""

    def __repr__(self):
        return "<from the dataset table>"


FROM_DATASET = _FromDataset()
DATASET_FIELDS = tuple(get_dataset("mosi").config_defaults())
# The training fields that configs saved before `TrainingOptions` existed
# hold (`.keras` files, presets, runs); `from_dict` ignores them.
FIRST_FORMAT_TRAINING_FIELDS = (
    "batch_size", "learning_rate", "epochs", "bucketing", "weight_decay",
    "adam_epsilon", "lr_decay_epochs", "lr_decay_factor", "seed",
)


def plain_values(settings):
    """A dataclass's fields as JSON-compatible plain values (tuples as lists).

    Args:
        settings: a dataclass instance (`GLoMoConfig`, `TrainingOptions`).

    Returns:
        A dict of field name to value.

    Example:

    ```python
    plain_values(GLoMoConfig())["modalities"]   # ["t", "a", "v"]
    ```
    """
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(settings).items()
    }


@dataclasses.dataclass
class GLoMoConfig:
    """The architecture of a GLoMo model: what changes its weights or its function.

    Build one with `GLoMoConfig.for_dataset(name, **overrides)` (or
    `GLoMoConfig(dataset=name, ...)`); every field can be overridden. The
    fields of `DATASET_FIELDS` (encoder layers to text encoder below) default to
    the dataset's entry in the dataset table (`glomo_keras.datasets`), the
    compatibility fields to their bundle. Feature dimensions are the
    dimensions stored in the data files; `acoustic_columns`/`visual_columns`
    select a column range `[start, stop)` of them before the model (UR-FUNNY
    and MUStARD).

    Args:
        dataset: the dataset the defaults come from: a name or alias of the
            dataset table (stored as its canonical name), or any name when
            every field of `DATASET_FIELDS` is given (your own data).
        num_layers, max_sequence_length, hidden_dim: `L` transformer layers
            of each sequence encoder, `T` padded tokens, `d` model width.
        text_dim, acoustic_dim, visual_dim: feature dims as stored.
        acoustic_columns, visual_columns: `(start, stop)` column ranges kept,
            or None for all columns.
        num_windows, num_experts, top_k: `n` local representations, `s`
            experts per MoE, `k` experts kept per sample: one int, or one per
            modality (`{"t": 3, "a": 2, "v": 4}` or `(3, 2, 4)`, order t, a,
            v), stored as one int when the modalities agree;
            `per_modality(name)` reads them as a dict.
        moe_loss_weight: `ω`, the weight of the MoE auxiliary loss.
        num_heads: `h`, attention heads of the encoders and fusion layers.
        fusion_layers, fusion_intermediate_dim, fusion_dropout: the post-LN
            transformer layers of the fusion block, their width, dropout.
        embedding_dropout, attention_dropout, relu_dropout, residual_dropout:
            the encoder dropouts; pooling_dropout: the attention pooling's.
        task, class_names: "regression" or "classification", class labels.
        text_encoder: "bert" (a KerasHub BertBackbone) or "features"
            (pre-extracted features through a sequence encoder, CHERMA).
        modalities, local_mixer, representations: the Table 4 ablations: a
            subset of ("t", "a", "v"); "moe" or "mlp"; "both", "global" or
            "local".
        fusion: "global_guided", "sum", "concat", "attention" or "product".
        guidance: how the global-guided fusion mixes the modalities:
            "global_weights" (paper), "local_weights" (ReAt_G),
            "attention" (ATTN_G) or "mlp" (MLP_G).
        noisy_gating: whether MoE gates get noise in training.
        compatibility: "paper" (default) or "released": the bundle of values
            (`COMPATIBILITY_BUNDLES`) of the four fields below when they are
            not given; "released" reproduces the released code's function.
        encoder_positions: where the sequence encoders add positions: "all"
            steps (paper) or "nonzero" projected steps (released code).
        moe_combine: "sum" (paper eq. 6) or "log_space" (released code).
        moe_load_cdf_mean: mean of the normal CDF of the smooth load
            estimate: 0.0 (paper) or 0.1 (released code).
        length_aware: pool and attend over real tokens only (spec §8);
            False in both bundles, as the published figures pool over the
            padding to T. True makes answers independent of padding, so
            training can bucket by length and serving pad a batch only to
            its longest utterance (docs/serving.md).

    Example:

    ```python
    config = GLoMoConfig.for_dataset("mosi", hidden_dim=64)
    config.output_dim  # 1
    GLoMoConfig.from_dict(config.to_dict()) == config  # True
    released = config.replace(compatibility="released")
    released.moe_combine  # "log_space"
    ```
    """

    dataset: str = "mosi"
    num_layers: int = FROM_DATASET
    max_sequence_length: int = FROM_DATASET
    hidden_dim: int = FROM_DATASET
    text_dim: int = FROM_DATASET
    acoustic_dim: int = FROM_DATASET
    visual_dim: int = FROM_DATASET
    acoustic_columns: tuple | None = FROM_DATASET
    visual_columns: tuple | None = FROM_DATASET
    num_windows: int | tuple = 3
    num_experts: int | tuple = 3
    top_k: int | tuple = 2
    moe_loss_weight: float = 1e-2
    num_heads: int = 16
    fusion_layers: int = 2
    fusion_intermediate_dim: int = 2048
    fusion_dropout: float = 0.1
    embedding_dropout: float = 0.2
    attention_dropout: float = 0.5
    relu_dropout: float = 0.3
    residual_dropout: float = 0.3
    pooling_dropout: float = 0.3
    task: str = FROM_DATASET
    class_names: tuple | None = FROM_DATASET
    text_encoder: str = FROM_DATASET
    modalities: tuple = MODALITIES
    local_mixer: str = "moe"
    representations: str = "both"
    fusion: str = "global_guided"
    guidance: str = "global_weights"
    noisy_gating: bool = True
    compatibility: str = "paper"
    encoder_positions: str | None = None
    moe_combine: str | None = None
    moe_load_cdf_mean: float | None = None
    length_aware: bool | None = None

    def __post_init__(self):
        unset = [name for name in DATASET_FIELDS if getattr(self, name) is FROM_DATASET]
        if unset:
            info = get_dataset(self.dataset)
            self.dataset = info.name
            for name in unset:
                setattr(self, name, info.config_defaults()[name])
        for name in ("acoustic_columns", "visual_columns", "class_names", "modalities"):
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, tuple(value))
        for name in PER_MODALITY_FIELDS:
            setattr(self, name, _per_modality_value(name, getattr(self, name)))
        if self.compatibility not in COMPATIBILITY_BUNDLES:
            _fail("compatibility", self.compatibility,
                  f"one of {list(COMPATIBILITY_BUNDLES)}")
        for name, value in COMPATIBILITY_BUNDLES[self.compatibility].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self.validate()

    @classmethod
    def for_dataset(cls, dataset, **overrides):
        """Returns the paper's configuration of `dataset`, with overrides.

        Args:
            dataset: "mosi", "mosei", "urfunny", "mustard" or "cherma" (or
                an alias of the dataset table, e.g. "ur_funny", "CMU-MOSI").
            **overrides: any field of `GLoMoConfig`.
        """
        cls._check_fields(overrides, "override")
        return cls(dataset=dataset, **overrides)

    @classmethod
    def from_dict(cls, values):
        """Builds a config from `to_dict()` output; unknown keys are errors.

        The training fields of configs saved before `TrainingOptions`
        (`FIRST_FORMAT_TRAINING_FIELDS`) are ignored, so old `.keras`
        files, presets and runs load.
        """
        values = {name: value for name, value in values.items()
                  if name not in FIRST_FORMAT_TRAINING_FIELDS}
        cls._check_fields(values, "field")
        return cls(**values)

    def to_dict(self):
        """Returns the config as JSON-compatible plain values."""
        return plain_values(self)

    def replace(self, **changes):
        """Returns a copy with `changes` applied (and validated).

        A new `compatibility` brings its whole bundle and a new `dataset`
        its table entry, except the fields set in the same call.
        """
        self._check_fields(changes, "field")
        if "compatibility" in changes:
            changes = {**{name: None for name in BUNDLE_FIELDS}, **changes}
        if "dataset" in changes:
            changes = {**{name: FROM_DATASET for name in DATASET_FIELDS}, **changes}
        return dataclasses.replace(self, **changes)

    @property
    def compatibility_overrides(self):
        """The bundle fields whose value differs from `compatibility`'s.

        Example:

        ```python
        GLoMoConfig(compatibility="released", moe_combine="sum").compatibility_overrides
        # {"moe_combine": "sum"}
        ```
        """
        bundle = COMPATIBILITY_BUNDLES[self.compatibility]
        return {name: getattr(self, name) for name, value in bundle.items()
                if getattr(self, name) != value}

    def per_modality(self, name):
        """The value of a `PER_MODALITY_FIELDS` field for each modality.

        Args:
            name: "num_windows", "num_experts" or "top_k".

        Returns:
            dict `{"t": int, "a": int, "v": int}`.

        Example:

        ```python
        GLoMoConfig(num_experts={"t": 3, "a": 2, "v": 4}).per_modality("num_experts")
        # {"t": 3, "a": 2, "v": 4}
        GLoMoConfig().per_modality("num_windows")  # {"t": 3, "a": 3, "v": 3}
        ```
        """
        if name not in PER_MODALITY_FIELDS:
            raise UsageError(f"{name!r} is not one of {list(PER_MODALITY_FIELDS)}.")
        value = getattr(self, name)
        values = value if isinstance(value, tuple) else (value,) * len(MODALITIES)
        return dict(zip(MODALITIES, values))

    @property
    def output_dim(self):
        """1 for regression, the number of classes for classification."""
        return 1 if self.task == "regression" else len(self.class_names)

    @property
    def acoustic_input_dim(self):
        """The acoustic width the model sees, after column selection."""
        return _selected_width(self.acoustic_dim, self.acoustic_columns)

    @property
    def visual_input_dim(self):
        """The visual width the model sees, after column selection."""
        return _selected_width(self.visual_dim, self.visual_columns)

    @classmethod
    def _check_fields(cls, values, what):
        known = sorted(field.name for field in dataclasses.fields(cls))
        for name in sorted(set(values) - set(known)):
            if name in FIRST_FORMAT_TRAINING_FIELDS:
                raise UsageError(
                    f"{name!r} is not a GLoMoConfig {what}: it says how to train, a "
                    "field of glomo_keras.training.options.TrainingOptions")
            raise UsageError(
                f"Unknown GLoMoConfig {what} {name!r}"
                f"{closest_names(name, known) or f'; known fields: {known}'}"
            )

    def validate(self):
        """Raises `UsageError` naming the first impossible setting."""
        fields = dataclasses.fields(self)
        checks = (
            # The `int` fields are sizes; the per-modality ones are checked below.
            ([f.name for f in fields if f.type is int], _is_positive_int, "a positive integer"),
            ([f.name for f in fields if f.name.endswith("_dropout")],
             lambda value: _is_number(value) and 0.0 <= value < 1.0, "a rate in [0, 1)"),
            (("moe_loss_weight", "moe_load_cdf_mean"),
             lambda value: _is_number(value) and value >= 0, "a number >= 0"),
            (("noisy_gating", "length_aware"),
             lambda value: isinstance(value, bool), "true or false"),
        )
        for names, is_valid, expected in checks:
            for name in names:
                if not is_valid(getattr(self, name)):
                    _fail(name, getattr(self, name), expected)
        for name in PER_MODALITY_FIELDS:
            value = getattr(self, name)
            if not all(map(_is_positive_int, self.per_modality(name).values())):
                _fail(name, value, "a positive integer, or one per modality "
                      "({'t': 3, 'a': 2, 'v': 4} or (t, a, v))")
        if self.hidden_dim % self.num_heads:
            _fail("hidden_dim", self.hidden_dim,
                  f"a multiple of num_heads={self.num_heads}")
        experts = self.per_modality("num_experts")
        for modality, top_k in self.per_modality("top_k").items():
            if top_k > experts[modality]:
                where = "" if isinstance(self.num_experts, int) else f" of {modality!r}"
                _fail("top_k", self.top_k,
                      f"at most num_experts={experts[modality]}{where}")
        if self.max_sequence_length < 3:
            _fail("max_sequence_length", self.max_sequence_length,
                  "at least 3 ([CLS], one token, [SEP])")
        from glomo_keras.layers.global_guided_fusion import check_fusion_settings

        try:
            check_fusion_settings(self.representations, self.fusion, self.guidance)
        except ValueError as error:
            raise UsageError(f"GLoMoConfig: {error}") from None
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                _fail(name, getattr(self, name), f"one of {list(allowed)}")
        if (not self.modalities or len(set(self.modalities)) != len(self.modalities)
                or not set(self.modalities) <= set(MODALITIES)):
            _fail("modalities", self.modalities,
                  f"a non-empty subset of {list(MODALITIES)} without repeats")
        self.modalities = tuple(m for m in MODALITIES if m in self.modalities)
        if self.task == "classification" and (
            not self.class_names or len(self.class_names) < 2
        ):
            _fail("class_names", self.class_names,
                  "at least two class names for classification")
        for name, width in (("acoustic_columns", self.acoustic_dim),
                            ("visual_columns", self.visual_dim)):
            columns = getattr(self, name)
            if columns is not None and not (
                len(columns) == 2 and 0 <= columns[0] < columns[1] <= width
            ):
                _fail(name, columns, f"(start, stop) with 0 <= start < stop <= {width}")


def _per_modality_value(name, value):
    """One int, a `{"t", "a", "v"}` dict or a (t, a, v) sequence → int (when they agree) or tuple."""
    if isinstance(value, dict):
        if set(value) != set(MODALITIES):
            _fail(name, value, f"one value for each of {list(MODALITIES)}, "
                  "e.g. {'t': 3, 'a': 2, 'v': 4}")
        value = tuple(value[modality] for modality in MODALITIES)
    if isinstance(value, (list, tuple)):
        if len(value) != len(MODALITIES):
            _fail(name, value, f"{len(MODALITIES)} values in the order {list(MODALITIES)}")
        value = tuple(value)
        if len(set(value)) == 1 and _is_positive_int(value[0]):
            return value[0]
    return value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _selected_width(width, columns):
    return width if columns is None else columns[1] - columns[0]


def _fail(name, value, expected):
    raise UsageError(f"GLoMoConfig.{name}={value!r} is invalid: expected {expected}.")
