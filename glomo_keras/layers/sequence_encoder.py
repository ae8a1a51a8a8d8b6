"""`SequenceEncoder`: the audio/video (and CHERMA text) branch of GLoMo."""

import math

import keras
from keras import ops

from glomo_keras.layers.adaptive_max_pooling import AdaptiveMaxPooling1D
from glomo_keras.layers.initializers import arguments_config
from glomo_keras.layers.initializers import built
from glomo_keras.layers.transformer_layer import TransformerLayer

POSITIONS = ("all", "nonzero")


def sinusoidal_positions(length, dim, dtype="float32"):
    """Sinusoidal position table in the tensor2tensor layout.

    The first half of the channels is `sin`, the second half `cos`, with
    frequency step `log(10000) / (dim/2 - 1)`; positions count from 1. An odd
    `dim` gets a zero last channel.

    Args:
        length: int or scalar tensor, the number of positions.
        dim: int, the number of channels.
        dtype: the output dtype.

    Returns:
        A [length, dim] tensor.

    Example:

    ```python
    table = sinusoidal_positions(10, 48)  # [10, 48]
    ```
    """
    half = dim // 2
    step = math.log(10000.0) / max(half - 1, 1)
    frequencies = ops.exp(ops.arange(half, dtype="float32") * -step)
    positions = ops.arange(1, length + 1, dtype="float32")
    angles = ops.expand_dims(positions, 1) * ops.expand_dims(frequencies, 0)
    table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    if dim % 2:
        table = ops.pad(table, [[0, 0], [0, 1]])
    return ops.cast(table, dtype)


@keras.saving.register_keras_serializable(package="glomo_keras")
class SequenceEncoder(keras.layers.Layer):
    """Encodes a feature sequence into a global and `n` local vectors.

    `Conv1D(d, kernel_size, "same", no bias)`, multiply by sqrt(d), add
    sinusoidal positions, dropout, `num_layers` pre-LN transformer layers, a
    final LayerNorm; the global vector is the max over time, the local one
    the adaptive max pooling to `num_windows` windows, flattened (spec §1).
    With `length_aware=True` (spec §8) attention ignores padded keys and both
    poolings cover each sample's real length only; otherwise the layer attends
    and pools over padding as the released code does.

    `positions` says where the sinusoidal positions are added: `"all"` adds
    position `t` (1-based) to every step, as the paper describes; `"nonzero"`
    follows the released code (its fairseq/MulT helper reads the first
    channel of the projected features as token ids with padding id 0): a
    step whose first projected channel is exactly 0 gets no position, so
    all-zero padding steps enter the transformer layers as zero vectors.

    Args:
        hidden_dim: int, `d`.
        num_layers: int, `L`.
        num_heads: int, `h`.
        num_windows: int, `n`.
        kernel_size: int, the input convolution's width.
        embedding_dropout: float, dropout after the positions.
        attention_dropout: float, dropout on attention probabilities.
        relu_dropout: float, dropout after the feed-forward ReLU.
        residual_dropout: float, dropout of each residual branch.
        length_aware: bool, whether padding is masked (see above).
        positions: `"all"` or `"nonzero"`, the steps that get positions.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: [B, T, d_in] features.
        padding_mask: optional [B, T] int tensor, 1 on real steps (a prefix).
            Only used when `length_aware`.
        training: bool.

    Returns:
        `(global_features [B, d], local_features [B, n*d])`.

    Example:

    ```python
    encoder = SequenceEncoder(hidden_dim=16, num_layers=1, num_heads=2,
                              num_windows=3)
    global_x, local_x = encoder(np.zeros((2, 7, 5)))  # [2, 16], [2, 48]
    ```
    """

    def __init__(
        self,
        hidden_dim,
        num_layers,
        num_heads,
        num_windows,
        kernel_size=3,
        embedding_dropout=0.2,
        attention_dropout=0.5,
        relu_dropout=0.3,
        residual_dropout=0.3,
        length_aware=False,
        positions="all",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if positions not in POSITIONS:
            raise ValueError(
                f"`positions` must be one of {list(POSITIONS)}. Received: positions={positions!r}"
            )
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.num_windows = num_windows
        self.kernel_size = kernel_size
        self.embedding_dropout = embedding_dropout
        self.attention_dropout = attention_dropout
        self.relu_dropout = relu_dropout
        self.residual_dropout = residual_dropout
        self.length_aware = length_aware
        self.positions = positions

    def build(self, inputs_shape):
        common = dict(dtype=self.dtype_policy)
        hidden_shape = tuple(inputs_shape[:-1]) + (self.hidden_dim,)
        self.projection = built(keras.layers.Conv1D(
            self.hidden_dim, self.kernel_size, padding="same", use_bias=False,
            name="projection", **common,
        ), inputs_shape)
        self.embedding_dropout_layer = keras.layers.Dropout(
            self.embedding_dropout, name="embedding_dropout", **common)
        self.transformer_layers = [
            built(TransformerLayer(
                num_heads=self.num_heads,
                intermediate_dim=4 * self.hidden_dim,
                normalize_first=True,
                attention_dropout=self.attention_dropout,
                activation_dropout=self.relu_dropout,
                residual_dropout=self.residual_dropout,
                name=f"transformer_layer_{index}",
                **common,
            ), hidden_shape)
            for index in range(self.num_layers)
        ]
        self.final_norm = built(
            keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", **common),
            hidden_shape)
        self.global_pooling = AdaptiveMaxPooling1D(1, name="global_pooling", **common)
        self.local_pooling = AdaptiveMaxPooling1D(self.num_windows, name="local_pooling", **common)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        mask = padding_mask if self.length_aware else None
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        x = self.projection(inputs)
        positions = sinusoidal_positions(ops.shape(x)[1], self.hidden_dim, dtype=x.dtype)
        if self.positions == "nonzero":
            has_position = ops.cast(ops.not_equal(x[:, :, :1], 0), x.dtype)
            positions = positions[None] * has_position
        x = x * math.sqrt(self.hidden_dim) + positions
        x = self.embedding_dropout_layer(x, training=training)
        for layer in self.transformer_layers:
            x = layer(x, padding_mask=mask, training=training)
        x = self.final_norm(x)
        global_features = ops.squeeze(self.global_pooling(x, mask=mask), 1)
        local_features = ops.reshape(
            self.local_pooling(x, mask=mask), (-1, self.num_windows * self.hidden_dim))
        return global_features, local_features

    def compute_output_shape(self, inputs_shape):
        batch = inputs_shape[0]
        return (batch, self.hidden_dim), (batch, self.num_windows * self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
