"""`HiddenStateConcatenation`: joins BERT's last two layers along time."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="glomo_keras")
class HiddenStateConcatenation(keras.layers.Layer):
    """Concatenates two hidden-state sequences along the time axis.

    Paper behaviour (`length_aware=False`): `[last ; previous]` over `2T`
    steps, padding included, with an all-ones mask. With `length_aware=True`
    (spec §8), each sample's `L` real tokens (a prefix) are gathered into one
    contiguous run, `last[:L]` then `previous[:L]`, followed by zeros; the
    mask marks those `2L` steps.

    Args:
        length_aware: bool, whether to gather the real tokens.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: a list `[last, previous]` of [B, T, H] tensors.
        padding_mask: [B, T] int tensor, 1 on real tokens.

    Returns:
        `(sequence [B, 2T, H], mask [B, 2T] int32)`.

    Example:

    ```python
    layer = HiddenStateConcatenation(length_aware=True)
    sequence, mask = layer([last, previous], padding_mask=padding_mask)
    ```
    """

    def __init__(self, length_aware=False, **kwargs):
        super().__init__(**kwargs)
        self.length_aware = length_aware

    def call(self, inputs, padding_mask):
        last, previous = inputs
        joined = ops.concatenate([last, previous], axis=1)
        length = ops.shape(last)[1]
        steps = ops.expand_dims(ops.arange(2 * length, dtype="int32"), 0)
        if not self.length_aware:
            return joined, ops.ones(ops.shape(joined)[:2], dtype="int32")
        real = ops.sum(ops.cast(padding_mask, "int32"), axis=1, keepdims=True)
        source = ops.where(steps < real, steps, steps - real + length)
        source = ops.minimum(source, 2 * length - 1)
        gathered = ops.take_along_axis(joined, ops.expand_dims(source, -1), axis=1)
        mask = ops.cast(steps < 2 * real, "int32")
        return gathered * ops.expand_dims(ops.cast(mask, gathered.dtype), -1), mask

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        last_shape = inputs_shape[0]
        steps = None if last_shape[1] is None else 2 * last_shape[1]
        return (last_shape[0], steps, last_shape[2]), (last_shape[0], steps)

    def get_config(self):
        config = super().get_config()
        config.update({"length_aware": self.length_aware})
        return config
