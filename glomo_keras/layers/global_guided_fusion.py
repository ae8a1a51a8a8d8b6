"""`GlobalGuidedFusion`: GLoMo's fusion block (spec §3) and its ablations."""

import keras
from keras import ops

from glomo_keras.layers.attention_pooling import AttentionPooling
from glomo_keras.layers.initializers import arguments_config
from glomo_keras.layers.initializers import built
from glomo_keras.layers.transformer_layer import TransformerLayer

REPRESENTATIONS = ("both", "global", "local")
FUSIONS = ("global_guided", "sum", "concat", "attention", "product")
GUIDANCES = ("global_weights", "local_weights", "attention", "mlp")


@keras.saving.register_keras_serializable(package="glomo_keras")
class GlobalGuidedFusion(keras.layers.Layer):
    """Fuses the global and local vectors of every modality into a prediction.

    The input stacks, modality by modality, the global then the local vector
    (`[X_t^g, X_t^l, X_a^g, X_a^l, X_v^g, X_v^l]` for three modalities and
    both representations). Post-LN transformer layers mix the tokens;
    per modality `Z_m = Dense(d)([Z_m^g; Z_m^l])`; attention pooling over
    the global tokens gives `W_g` and `Z_g`, over the local tokens `W_l` and
    `Z_l`; `Z1 = Dense(d)([Z_g; Z_l])`, `Z2 = sum_m W_g,m Z_m` and the
    prediction is `Dense(output_dim)([Z1; Z2])`.

    The Table 4 ablations (spec §7):
    - `representations="global"|"local"`: one vector per modality; the
      weights of the missing representation are reported as zeros.
    - `fusion="sum"|"concat"|"product"|"attention"`: after the transformer
      layers and the per-modality `Z_m`, combine the `Z_m` by sum,
      concatenation, element-wise product or attention pooling, then
      `Dense(output_dim)`. Both weight outputs then report the attention
      weights (`"attention"`) or equal weights `1/M` (the others, which learn
      no modality weights).
    - `guidance`: the weights of `Z2`: `"global_weights"` (paper),
      `"local_weights"` (ReAt_G), `"attention"` (a separate attention pooling
      over the `Z_m`, ATTN_G) or `"mlp"` (`Dense(d)([Z_t; Z_a; Z_v])`, MLP_G).

    Args:
        hidden_dim: int, `d`.
        output_dim: int, 1 for regression or the number of classes.
        num_heads: int, attention heads of the transformer layers.
        num_layers: int, post-LN transformer layers.
        intermediate_dim: int, their feed-forward width.
        dropout: float, their dropout (attention, activation and residual).
        pooling_dropout: float, the attention poolings' dropout.
        representations: "both", "global" or "local".
        fusion: one of `FUSIONS`.
        guidance: one of `GUIDANCES` (only used by "global_guided").
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: [B, M*R, d] tokens, R = 2 for "both", else 1.
        training: bool.
        return_fused: bool, whether to also return the fused vector the
            output layer reads: `[Z1; Z2]` [B, 2d] for "global_guided", the
            combined `Z_m` for the other fusions ([B, M*d] for "concat",
            else [B, d]).

    Returns:
        `(prediction [B, output_dim], global_weights [B, M],
        local_weights [B, M])`, plus `fused` when `return_fused`.

    Example:

    ```python
    fusion = GlobalGuidedFusion(hidden_dim=16, output_dim=1, num_heads=2,
                                intermediate_dim=32)
    prediction, w_g, w_l = fusion(np.zeros((2, 6, 16)))
    ```
    """

    def __init__(
        self,
        hidden_dim,
        output_dim,
        num_heads,
        num_layers=2,
        intermediate_dim=2048,
        dropout=0.1,
        pooling_dropout=0.3,
        representations="both",
        fusion="global_guided",
        guidance="global_weights",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_fusion_settings(representations, fusion, guidance)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.pooling_dropout = pooling_dropout
        self.representations = representations
        self.fusion = fusion
        self.guidance = guidance

    @property
    def kept_representations(self):
        """The representations present, in token order: "global", "local"."""
        if self.representations == "both":
            return ("global", "local")
        return (self.representations,)

    def build(self, inputs_shape):
        batch, num_tokens, width = inputs_shape
        per_modality = len(self.kept_representations)
        self.num_modalities = num_tokens // per_modality
        common = dict(dtype=self.dtype_policy)
        d = self.hidden_dim
        stack_shape = (batch, self.num_modalities, d)

        self.transformer_layers = [
            built(TransformerLayer(
                num_heads=self.num_heads,
                intermediate_dim=self.intermediate_dim,
                normalize_first=False,
                attention_dropout=self.dropout,
                activation_dropout=self.dropout,
                residual_dropout=self.dropout,
                name=f"transformer_layer_{index}",
                **common,
            ), inputs_shape)
            for index in range(self.num_layers)
        ]

        def dense(units, name, input_width):
            return built(keras.layers.Dense(units, name=name, **common), (batch, input_width))

        def pooling(name):
            return built(AttentionPooling(d, self.pooling_dropout, name=name, **common),
                         stack_shape)

        self.modality_denses = [
            dense(d, f"modality_dense_{index}", per_modality * width)
            for index in range(self.num_modalities)
        ]
        head_width = d
        if self.fusion == "global_guided":
            self.representation_poolings = {
                kind: pooling(f"{kind}_attention_pooling")
                for kind in self.kept_representations
            }
            self.combine_dense = dense(d, "combine_dense", per_modality * d)
            if self.guidance == "attention":
                self.mixup_pooling = pooling("mixup_attention_pooling")
            if self.guidance == "mlp":
                self.mixup_dense = dense(d, "mixup_dense", self.num_modalities * d)
            head_width = 2 * d
        elif self.fusion == "attention":
            self.fusion_pooling = pooling("fusion_attention_pooling")
        elif self.fusion == "concat":
            head_width = self.num_modalities * d
        self.output_dense = dense(self.output_dim, "output_dense", head_width)
        self.built = True

    def call(self, inputs, training=None, return_fused=False):
        tokens = inputs
        for layer in self.transformer_layers:
            tokens = layer(tokens, training=training)
        per_modality = len(self.kept_representations)
        grouped = ops.reshape(tokens, (-1, self.num_modalities, per_modality, self.hidden_dim))
        modality_vectors = ops.stack([
            dense(ops.reshape(grouped[:, index], (-1, per_modality * self.hidden_dim)))
            for index, dense in enumerate(self.modality_denses)
        ], axis=1)
        if self.fusion == "global_guided":
            fused, global_weights, local_weights = self._global_guided(
                grouped, modality_vectors, training)
        else:
            fused, global_weights, local_weights = self._simple_fusion(modality_vectors, training)
        outputs = (self.output_dense(fused), global_weights, local_weights)
        return (*outputs, fused) if return_fused else outputs

    def _global_guided(self, grouped, modality_vectors, training):
        pooled, weights = {}, {}
        for position, kind in enumerate(self.kept_representations):
            pooled[kind], weights[kind] = self.representation_poolings[kind](
                grouped[:, :, position], training=training
            )
        z1 = self.combine_dense(ops.concatenate([pooled[k] for k in self.kept_representations], -1))
        if self.guidance in ("global_weights", "local_weights"):
            mix = weights[self.guidance.split("_")[0]]
            z2 = ops.sum(modality_vectors * ops.expand_dims(mix, -1), axis=1)
        elif self.guidance == "attention":
            z2, _ = self.mixup_pooling(modality_vectors, training=training)
        else:
            z2 = self.mixup_dense(
                ops.reshape(modality_vectors, (-1, self.num_modalities * self.hidden_dim))
            )
        zeros = ops.zeros_like(next(iter(weights.values())))
        fused = ops.concatenate([z1, z2], -1)
        return fused, weights.get("global", zeros), weights.get("local", zeros)

    def _simple_fusion(self, modality_vectors, training):
        weights = ops.ones_like(modality_vectors[:, :, 0]) / self.num_modalities
        if self.fusion == "sum":
            fused = ops.sum(modality_vectors, axis=1)
        elif self.fusion == "product":
            fused = ops.prod(modality_vectors, axis=1)
        elif self.fusion == "concat":
            fused = ops.reshape(modality_vectors, (-1, self.num_modalities * self.hidden_dim))
        else:
            fused, weights = self.fusion_pooling(modality_vectors, training=training)
        return fused, weights, weights

    def compute_output_shape(self, inputs_shape):
        return self._output_shapes(inputs_shape)[:3]

    def compute_output_spec(self, inputs, training=None, return_fused=False):
        shapes = self._output_shapes(inputs.shape)[:4 if return_fused else 3]
        return tuple(keras.KerasTensor(shape, dtype=self.compute_dtype) for shape in shapes)

    def _output_shapes(self, inputs_shape):
        """The shapes of the prediction, the two weights and the fused vector."""
        batch = inputs_shape[0]
        num_modalities = inputs_shape[1] // len(self.kept_representations)
        width = {"global_guided": 2, "concat": num_modalities}.get(self.fusion, 1)
        return ((batch, self.output_dim), (batch, num_modalities), (batch, num_modalities),
                (batch, width * self.hidden_dim))

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}


def check_fusion_settings(representations, fusion, guidance):
    """Raises ValueError for an unknown or impossible ablation setting.

    Args:
        representations: one of `REPRESENTATIONS`.
        fusion: one of `FUSIONS`.
        guidance: one of `GUIDANCES`.

    Example:

    ```python
    check_fusion_settings("both", "global_guided", "global_weights")
    ```
    """
    for name, value, allowed in (
        ("representations", representations, REPRESENTATIONS),
        ("fusion", fusion, FUSIONS),
        ("guidance", guidance, GUIDANCES),
    ):
        if value not in allowed:
            raise ValueError(
                f"{name}={value!r} is invalid: expected one of {list(allowed)}."
            )
    if fusion == "global_guided" and (
        (guidance == "global_weights" and representations == "local")
        or (guidance == "local_weights" and representations == "global")
    ):
        raise ValueError(
            f"guidance={guidance!r} needs the representation that "
            f"representations={representations!r} leaves out."
        )
