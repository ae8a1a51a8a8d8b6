"""Parameter counts of a GLoMo model, as the paper's Table 5 reports them."""

import numpy as np


def _count(weights):
    return int(sum(np.prod(weight.shape) for weight in weights))


def parameter_counts(model):
    """Trainable parameters: `total_params`, `backbone_params` and `glomo_params` (no BERT pooler).

    Args:
        model: a built `GLoMo` model.

    Example:

    ```python
    parameter_counts(model)["glomo_params"]  # 927239 for MOSI
    ```
    """
    total = _count(model.trainable_weights)
    backbone = 0
    if any(layer.name == "bert_hidden_states" for layer in model.layers):
        backbone = _count(model.get_layer("bert_hidden_states").trainable_weights)
    return {
        "total_params": total,
        "backbone_params": backbone,
        "glomo_params": total - backbone,
    }


def layer_table(model):
    """Rows `(layer name, layer class, trainable parameters)` of the model.

    Args:
        model: a built Keras model.

    Example:

    ```python
    for name, kind, count in layer_table(model):
        print(name, kind, count)
    ```
    """
    return [
        (layer.name, type(layer).__name__, _count(layer.trainable_weights))
        for layer in model.layers
        if layer.trainable_weights
    ]
