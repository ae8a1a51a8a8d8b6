"""`AdaptiveMaxPooling1D`: PyTorch's `AdaptiveMaxPool1d`, optionally over real lengths."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="glomo_keras")
class AdaptiveMaxPooling1D(keras.layers.Layer):
    """Adaptive max pooling of [B, T, C] sequences to [B, output_size, C].

    Window `i` over a length `N` covers the steps
    `[floor(i * N / n), ceil((i + 1) * N / n))`, as in PyTorch's
    `AdaptiveMaxPool1d`; windows overlap when `N` is not a multiple of `n`
    and repeat steps when `N < n`. Without a mask `N = T` for every sample.
    With a mask, `N` is the sample's own number of real steps (the real steps
    must form a contiguous prefix) and padding is never pooled. A window that
    covers no step (only when a sample has no real step) yields zeros. Each
    window's gradient goes to the first step that holds its maximum, as
    PyTorch's does (not split between tied steps).

    The layer works on a dynamic time axis and with mixed precision, and it
    consumes the mask: its output carries none.

    Args:
        output_size: int, the number of windows `n`.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: a float tensor of shape [B, T, C].
        mask: optional int or bool tensor of shape [B, T], 1 (True) on real
            steps.

    Example:

    ```python
    inputs = keras.Input(shape=(None, 16))
    mask = keras.Input(shape=(None,), dtype="int32")
    outputs = AdaptiveMaxPooling1D(output_size=3)(inputs, mask=mask)
    model = keras.Model([inputs, mask], outputs)  # outputs: [B, 3, 16]
    ```
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(output_size, int) or output_size < 1:
            raise ValueError(
                "`output_size` must be a positive integer. "
                f"Received: output_size={output_size}"
            )
        self.output_size = output_size

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="int32")
        # [B, 1] real lengths, and [B, n] window bounds in integer arithmetic.
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1, keepdims=True)
        windows = ops.arange(self.output_size, dtype="int32")[None, :]
        starts = ops.floor_divide(windows * lengths, self.output_size)
        ends = ops.floor_divide((windows + 1) * lengths + self.output_size - 1, self.output_size)
        # [B, n, T] window membership of every time step.
        steps = ops.arange(ops.shape(inputs)[1], dtype="int32")[None, None, :]
        inside = ops.logical_and(steps >= starts[:, :, None], steps < ends[:, :, None])
        # [B, n, T, C] values, -inf outside the window; the step of each
        # window's maximum, then that step's value: the gradient goes to that
        # one step, as in PyTorch (`ops.max` would compare its recomputed
        # inputs with the maximum, which unoptimised XLA may round apart).
        lowest = ops.convert_to_tensor(float("-inf"), dtype=inputs.dtype)
        windowed = ops.where(inside[..., None], inputs[:, None, :, :], lowest)
        maximum_steps = ops.argmax(windowed, axis=2)
        pooled = ops.take_along_axis(inputs, maximum_steps, axis=1)
        not_empty = ops.any(inside, axis=2)[..., None]
        return ops.where(not_empty, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size})
        return config
