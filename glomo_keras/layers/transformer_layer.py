"""`TransformerLayer`: one self-attention block, pre- or post-LayerNorm."""

import keras
from keras import ops

from glomo_keras.layers.initializers import arguments_config
from glomo_keras.layers.initializers import built
from glomo_keras.layers.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="glomo_keras")
class TransformerLayer(keras.layers.Layer):
    """A transformer encoder layer with separate dropout rates.

    With `normalize_first=True` (the GLoMo sequence encoders, spec §1):
    `x + Drop_res(MHA(LN(x)))`, then `x + Drop_res(W2 Drop_act(ReLU(W1 LN(x))))`.
    With `normalize_first=False` (the fusion layers, PyTorch
    `nn.TransformerEncoderLayer` defaults): `LN(x + Drop_res(MHA(x)))`, then
    `LN(x + Drop_res(W2 Drop_act(ReLU(W1 x))))`. Attention probabilities get
    `attention_dropout`. Every projection has a bias.

    Args:
        num_heads: int, attention heads; the input width must divide by it.
        intermediate_dim: int, the feed-forward width.
        normalize_first: bool, pre-LN (True) or post-LN (False).
        attention_dropout: float, dropout on attention probabilities.
        activation_dropout: float, dropout after the ReLU.
        residual_dropout: float, dropout on each branch before the residual.
        layer_norm_epsilon: float.
        kernel_initializer: initializer of the projection kernels.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:

    ```python
    layer = TransformerLayer(num_heads=2, intermediate_dim=32)
    outputs = layer(np.zeros((2, 5, 8)), padding_mask=np.ones((2, 5)))
    ```
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        normalize_first=True,
        attention_dropout=0.0,
        activation_dropout=0.0,
        residual_dropout=0.0,
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.normalize_first = normalize_first
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.residual_dropout = residual_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"{self.name}: the input width {hidden_dim} is not divisible "
                f"by num_heads={self.num_heads}."
            )
        common = dict(dtype=self.dtype_policy)
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            name="self_attention",
            **common,
        )
        self.attention.build(inputs_shape, inputs_shape)
        self.attention_norm, self.feedforward_norm = (
            built(keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, name=name, **common), inputs_shape)
            for name in ("attention_norm", "feedforward_norm")
        )
        self.intermediate_dense = built(keras.layers.Dense(
            self.intermediate_dim, activation="relu", name="intermediate_dense",
            kernel_initializer=clone_initializer(self.kernel_initializer), **common,
        ), inputs_shape)
        self.output_dense = built(keras.layers.Dense(
            hidden_dim, name="output_dense",
            kernel_initializer=clone_initializer(self.kernel_initializer), **common,
        ), tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.activation_dropout_layer = keras.layers.Dropout(
            self.activation_dropout, name="activation_dropout", **common)
        self.residual_dropout_layer = keras.layers.Dropout(
            self.residual_dropout, name="residual_dropout", **common)
        self.built = True

    def _attend(self, x, attention_mask, training):
        x = self.attention(x, x, attention_mask=attention_mask, training=training)
        return self.residual_dropout_layer(x, training=training)

    def _feedforward(self, x, training):
        x = self.intermediate_dense(x)
        x = self.activation_dropout_layer(x, training=training)
        x = self.output_dense(x)
        return self.residual_dropout_layer(x, training=training)

    def call(self, inputs, padding_mask=None, training=None):
        """Applies the layer.

        Args:
            inputs: [B, T, d] float tensor.
            padding_mask: optional [B, T] tensor, 1 on real steps; padded
                keys are then not attended to.
            training: bool, whether dropout is active.
        """
        attention_mask = None
        if padding_mask is not None:
            attention_mask = ops.expand_dims(ops.cast(padding_mask, "bool"), 1)
        x = inputs
        if self.normalize_first:
            x = x + self._attend(self.attention_norm(x), attention_mask, training)
            return x + self._feedforward(self.feedforward_norm(x), training)
        x = self.attention_norm(x + self._attend(x, attention_mask, training))
        return self.feedforward_norm(x + self._feedforward(x, training))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
