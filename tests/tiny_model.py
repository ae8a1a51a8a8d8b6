"""Tiny GLoMo models and batches for tests (hidden 8, vocabulary 20, T 7).

Example:

```python
config = tiny_config()
model = GLoMo(config, tiny_backbone())
outputs = model(tiny_batch(config))
```
"""

import keras_hub
import numpy as np

from glomo_keras.config import GLoMoConfig

VOCABULARY_SIZE = 20
SEQUENCE_LENGTH = 7


def tiny_config(dataset="mosi", **overrides):
    """A GLoMoConfig of `dataset` shrunk to test size."""
    small = dict(
        hidden_dim=8, num_heads=2, num_layers=1, fusion_intermediate_dim=16,
        max_sequence_length=SEQUENCE_LENGTH, acoustic_dim=5, visual_dim=3,
    )
    if dataset in ("urfunny", "mustard"):
        small.update(acoustic_dim=6, visual_dim=7,
                     acoustic_columns=(0, 4), visual_columns=(2, 7))
    if dataset == "cherma":
        small.update(text_dim=6)
    return GLoMoConfig.for_dataset(dataset, **{**small, **overrides})


def tiny_backbone(hidden_dim=8, num_layers=2):
    """A randomly initialised BertBackbone with a 20-token vocabulary."""
    return keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=num_layers, num_heads=2,
        hidden_dim=hidden_dim, intermediate_dim=2 * hidden_dim,
        max_sequence_length=SEQUENCE_LENGTH,
    )


def tiny_batch(config, batch=4, seed=0):
    """Random model inputs for `config` with varied real lengths."""
    rng = np.random.default_rng(seed)
    steps = config.max_sequence_length
    lengths = rng.integers(3, steps + 1, size=batch)
    mask = (np.arange(steps)[None] < lengths[:, None]).astype("int32")
    inputs = {}
    if "t" in config.modalities and config.text_encoder == "bert":
        inputs["token_ids"] = rng.integers(1, VOCABULARY_SIZE, (batch, steps)).astype("int32") * mask
        inputs["padding_mask"] = mask
        inputs["segment_ids"] = np.zeros((batch, steps), "int32")
    if "t" in config.modalities and config.text_encoder == "features":
        inputs["text_features"] = rng.normal(size=(batch, steps, config.text_dim)).astype("float32")
        inputs["text_mask"] = mask
    if "a" in config.modalities:
        inputs["acoustic"] = rng.normal(size=(batch, steps, config.acoustic_input_dim)).astype("float32")
        inputs["acoustic_mask"] = mask
    if "v" in config.modalities:
        inputs["visual"] = rng.normal(size=(batch, steps, config.visual_input_dim)).astype("float32")
        inputs["visual_mask"] = mask
    return inputs


def tiny_labels(config, inputs):
    """Labels that are a learnable function of the acoustic input."""
    signal = inputs["acoustic"][..., 0].mean(1)
    if config.task == "regression":
        return (3 * np.tanh(2 * signal))[:, None].astype("float32")
    return (signal > np.median(signal)).astype("int32") % config.output_dim
