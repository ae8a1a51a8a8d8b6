"""`TrainingOptions`: how a GLoMo model is trained (not what it computes).

`GLoMoConfig` holds the architecture; `TrainingOptions` the optimiser,
schedule, batches, seed, strategy and precision (batch size, learning rate
and epochs default to the dataset's Table 1 column). `run_settings` routes
one mapping of field names (`--set`, `--config`, a tuning trial) to the two
objects. Nothing here imports Keras.
"""

import dataclasses

from glomo_keras.config import FROM_DATASET
from glomo_keras.config import GLoMoConfig
from glomo_keras.config import _is_number
from glomo_keras.config import _is_positive_int
from glomo_keras.config import plain_values
from glomo_keras.datasets import TRAINING_HYPER_PARAMETERS
from glomo_keras.datasets import get_dataset
from glomo_keras.errors import UsageError
from glomo_keras.errors import closest_names
from glomo_keras.training.devices import PRECISIONS

# The seed of a run (and of the MoE gate noise) when none is given.
DEFAULT_SEED = 5576
STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
# Seconds between two backups of the training state (`train(backup_interval)`, --backup-every).
BACKUP_INTERVAL_S = 300


@dataclasses.dataclass
class TrainingOptions:
    """How to train: optimiser, schedule, batches, seed, strategy, precision.

    `TrainingOptions.for_dataset(name, **overrides)` takes the batch size,
    learning rate and epochs from the dataset's Table 1 column.

    Args:
        batch_size: global batch size (split across replicas).
        learning_rate: AdamW learning rate.
        epochs: training epochs (the released code's count).
        weight_decay: AdamW weight decay (not on biases and LayerNorm).
        adam_epsilon: AdamW epsilon.
        lr_decay_epochs, lr_decay_factor: the step schedule: the learning
            rate is multiplied by the factor from each of these epochs.
        seed: the global random seed (and the MoE gate noise's).
        bucketing: pad each batch to its longest utterance (a multiple of 8)
            instead of T; needs `length_aware=True` (`check_config`).
        strategy: "auto" (mirrored across several GPUs, else default),
            "default", "mirrored" or "multi_worker".
        precision: the dtype policy: "auto" (`devices.choose_precision`),
            "float32", "mixed_bfloat16" or "mixed_float16".

    Example:

    ```python
    options = TrainingOptions.for_dataset("mosei", epochs=3)
    options.batch_size, options.learning_rate  # (64, 1e-05), Table 1
    ```
    """

    batch_size: int = FROM_DATASET
    learning_rate: float = FROM_DATASET
    epochs: int = FROM_DATASET
    weight_decay: float = 1e-4
    adam_epsilon: float = 1e-8
    lr_decay_epochs: tuple = (80, 100)
    lr_decay_factor: float = 0.1
    seed: int = DEFAULT_SEED
    bucketing: bool = False
    strategy: str = "auto"
    precision: str = "auto"

    def __post_init__(self):
        unset = [field.name for field in dataclasses.fields(self)
                 if getattr(self, field.name) is FROM_DATASET]
        if unset:
            raise UsageError(
                f"TrainingOptions: {unset} have no value; build the options with "
                "TrainingOptions.for_dataset(name, ...) for the dataset's Table 1 values")
        if isinstance(self.lr_decay_epochs, list):
            self.lr_decay_epochs = tuple(self.lr_decay_epochs)
        self.validate()

    @classmethod
    def for_dataset(cls, dataset, **overrides):
        """The paper's training options of `dataset` (Table 1), with overrides.

        Args:
            dataset: a name or alias of the dataset table, or any name when
                `batch_size`, `learning_rate` and `epochs` are all given.
            **overrides: any field of `TrainingOptions`.

        Example:

        ```python
        TrainingOptions.for_dataset("mosi").epochs  # 70
        ```
        """
        _refuse_unknown(overrides, TRAINING_FIELDS, "TrainingOptions")
        wanted = [name for name in TRAINING_HYPER_PARAMETERS if name not in overrides]
        defaults = get_dataset(dataset).training_defaults() if wanted else {}
        return cls(**{**{name: defaults[name] for name in wanted}, **overrides})

    @classmethod
    def from_dict(cls, values):
        """Builds options from `to_dict()` output; unknown keys are errors."""
        _refuse_unknown(values, TRAINING_FIELDS, "TrainingOptions")
        return cls(**values)

    def to_dict(self):
        """Returns the options as JSON-compatible plain values."""
        return plain_values(self)

    def replace(self, **changes):
        """Returns a copy with `changes` applied (and validated)."""
        _refuse_unknown(changes, TRAINING_FIELDS, "TrainingOptions")
        return dataclasses.replace(self, **changes)

    def check_config(self, config):
        """Raises `UsageError` when these options cannot train `config` (bucketing: length_aware).

        Args:
            config: the `GLoMoConfig`.

        Example:

        ```python
        TrainingOptions.for_dataset("mosi", bucketing=True).check_config(
            GLoMoConfig.for_dataset("mosi", length_aware=True))
        ```
        """
        if self.bucketing and not config.length_aware:
            _fail("bucketing", self.bucketing,
                  "False unless the GLoMoConfig has length_aware=True (with "
                  "length_aware=False the outputs depend on the padded length T)")

    def validate(self):
        """Raises `UsageError` naming the first impossible setting."""
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not _is_positive_int(value):
                _fail(name, value, "a positive integer")
        for name in ("learning_rate", "adam_epsilon", "weight_decay", "lr_decay_factor"):
            value = getattr(self, name)
            strict = name in ("learning_rate", "adam_epsilon")
            if not (_is_number(value) and (value > 0 if strict else value >= 0)):
                _fail(name, value, "a positive number" if strict else "a number >= 0")
        if not all(_is_number(epoch) and epoch >= 0 for epoch in self.lr_decay_epochs):
            _fail("lr_decay_epochs", self.lr_decay_epochs, "a list of epochs >= 0")
        if not isinstance(self.bucketing, bool):
            _fail("bucketing", self.bucketing, "true or false")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            _fail("seed", self.seed, "an integer")
        for name, allowed in (("strategy", STRATEGIES), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                _fail(name, getattr(self, name), f"one of {list(allowed)}")


TRAINING_FIELDS = tuple(field.name for field in dataclasses.fields(TrainingOptions))
CONFIG_FIELDS = tuple(field.name for field in dataclasses.fields(GLoMoConfig))


def run_settings(dataset, values):
    """`(GLoMoConfig, TrainingOptions)` of one mapping of field names.

    Each name goes to the object that has the field; both start from the
    dataset's Table 1 column.

    Args:
        dataset: a name or alias of the dataset table.
        values: `{field: value}` of either object (`--set`, `--config`).

    Raises:
        UsageError: a name of neither object (with the closest known names),
            or a value either object rejects.

    Example:

    ```python
    config, options = run_settings("mosi", {"hidden_dim": 64, "epochs": 3})
    ```
    """
    architecture, training = _split(values)
    config = GLoMoConfig.for_dataset(dataset, **architecture)
    options = TrainingOptions.for_dataset(config.dataset, **training)
    options.check_config(config)
    return config, options


def replace_settings(config, options, changes):
    """`config` and `options` with `changes` (fields of either) applied.

    Example:

    ```python
    config, options = replace_settings(config, options, {"hidden_dim": 32, "batch_size": 8})
    ```
    """
    architecture, training = _split(changes)
    config, options = config.replace(**architecture), options.replace(**training)
    options.check_config(config)
    return config, options


def _split(values):
    """`values` as (config fields, training fields); any other name is an error."""
    _refuse_unknown(values, CONFIG_FIELDS + TRAINING_FIELDS, "GLoMoConfig or TrainingOptions")
    return ({name: value for name, value in values.items() if name in CONFIG_FIELDS},
            {name: value for name, value in values.items() if name in TRAINING_FIELDS})


def _refuse_unknown(values, fields, owner):
    known = sorted(fields)
    for name in sorted(set(values) - set(known)):
        raise UsageError(f"Unknown field {name!r} ({owner})"
                         f"{closest_names(name, known) or f'; known fields: {known}'}")


def _fail(name, value, expected):
    raise UsageError(f"TrainingOptions.{name}={value!r} is invalid: expected {expected}.")
