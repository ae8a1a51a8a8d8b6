"""`AttentionPooling`: GLoMo's attention over modality vectors (spec §3.4)."""

import keras
from keras import ops

from glomo_keras.layers.initializers import built


@keras.saving.register_keras_serializable(package="glomo_keras")
class AttentionPooling(keras.layers.Layer):
    """Weights `M` modality vectors by a learned softmax and sums them.

    `a = Dense(M)(ReLU(Dropout(Dense(d)([z_1; ...; z_M]))))`,
    `w = softmax(a / sqrt(d))`, output `sum_m w_m z_m`.

    Args:
        hidden_dim: int, `d`, the width of the hidden projection; the scale
            of the logits is `hidden_dim ** -0.5`.
        dropout: float, dropout before the ReLU.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: [B, M, d_in] modality vectors.
        training: bool.

    Returns:
        `(pooled [B, d_in], weights [B, M])`.

    Example:

    ```python
    pooled, weights = AttentionPooling(hidden_dim=8)(np.ones((2, 3, 8)))
    ```
    """

    def __init__(self, hidden_dim, dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.dropout = dropout

    def build(self, inputs_shape):
        batch, num_vectors, width = inputs_shape
        common = dict(dtype=self.dtype_policy)
        self.hidden_dense = built(
            keras.layers.Dense(self.hidden_dim, name="hidden_dense", **common),
            (batch, num_vectors * width))
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout", **common)
        self.score_dense = built(keras.layers.Dense(num_vectors, name="score_dense", **common),
                                 (batch, self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        num_vectors, width = inputs.shape[-2], inputs.shape[-1]
        flat = ops.reshape(inputs, (-1, num_vectors * width))
        hidden = self.dropout_layer(self.hidden_dense(flat), training=training)
        scores = self.score_dense(ops.relu(hidden))
        weights = ops.softmax(scores * (self.hidden_dim**-0.5), axis=-1)
        pooled = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        return pooled, weights

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], inputs_shape[-1]), (inputs_shape[0], inputs_shape[-2])

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "dropout": self.dropout})
        return config
