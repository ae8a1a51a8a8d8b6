"""`GLoMo`: the functional Keras model of spec §1–§3."""

import keras
from keras import ops

from glomo_keras.backbones import GeluBertBackbone  # noqa: F401  (registered for .keras files)
from glomo_keras.config import MODALITIES
from glomo_keras.config import GLoMoConfig
from glomo_keras.layers.adaptive_max_pooling import AdaptiveMaxPooling1D
from glomo_keras.layers.global_guided_fusion import GlobalGuidedFusion
from glomo_keras.layers.hidden_state_concatenation import HiddenStateConcatenation
from glomo_keras.layers.noisy_top_k_moe import NoisyTopKMoE
from glomo_keras.layers.sequence_encoder import SequenceEncoder
from glomo_keras.optimization import make_optimizer
from glomo_keras.training.options import DEFAULT_SEED
from glomo_keras.training.options import TrainingOptions

MODALITY_NAMES = {"t": "text", "a": "acoustic", "v": "visual"}
# The config fields that are `SequenceEncoder` arguments of the same name.
ENCODER_FIELDS = ("hidden_dim", "num_layers", "num_heads", "embedding_dropout",
                  "attention_dropout", "relu_dropout", "residual_dropout", "length_aware")


def bert_hidden_states(backbone):
    """A model from BERT inputs to `[second_to_last, last]` hidden states [B, T, H].

    The pooler is left out (neither trained nor counted); with one
    transformer layer, the embeddings stand for the second-to-last layer.

    Args:
        backbone: a built `keras_hub.models.BertBackbone`.

    Example:

    ```python
    previous, last = bert_hidden_states(backbone)(inputs)
    ```
    """
    layers = backbone.transformer_layers
    if len(layers) > 1:
        previous = layers[-2].output
    else:
        previous = backbone.get_layer("embeddings_dropout").output
    return keras.Model(backbone.input, [previous, layers[-1].output], name="bert_hidden_states")


@keras.saving.register_keras_serializable(package="glomo_keras")
class GLoMo(keras.Model):
    """GLoMo: global-local modal fusion with modality-specific MoE.

    A functional model with named dict inputs (spec "Inputs": `token_ids`,
    `padding_mask`, `segment_ids` — or `text_features`, `text_mask` for
    feature text — and `acoustic`, `acoustic_mask`, `visual`, `visual_mask`;
    inputs of modalities the config leaves out are ignored, so one dataset
    feeds every Table 4 variant) and dict outputs `prediction` [B, output_dim],
    `global_weights` and `local_weights` [B, 3] (order t, a, v; zero for a
    modality left out).

    Args:
        config: a `GLoMoConfig` (or its `to_dict()`).
        backbone: a `keras_hub.models.BertBackbone` for the text branch; not
            needed when text is left out or comes as features.
        seed: the seed of the MoE gate noise (modality m adds its index);
            `train` passes the run's `TrainingOptions.seed`.
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    ```python
    backbone, tokenizer = load_backbone("random:bert_tiny")
    model = GLoMo(GLoMoConfig.for_dataset("mosi"), backbone)
    model.compile()
    outputs = model(inputs)  # {"prediction", "global_weights", "local_weights"}
    analysis = model.analyze(inputs)  # {"G_t", "L_t", ..., "fused", "gates_t", ...}
    ```
    """

    def __init__(self, config, backbone=None, seed=DEFAULT_SEED, name="glomo", **kwargs):
        if isinstance(config, dict):
            config = GLoMoConfig.from_dict(config)
        uses_bert = "t" in config.modalities and config.text_encoder == "bert"
        if uses_bert and backbone is None:
            raise ValueError(
                "GLoMo with a BERT text branch needs a backbone: "
                "GLoMo(config, load_backbone(spec)[0])."
            )
        inputs, vectors = {}, []
        for modality in config.modalities:
            if modality == "t" and uses_bert:
                branch_inputs, pair = _bert_branch(config, backbone)
            else:
                branch_inputs, pair = _sequence_branch(config, modality)
            inputs.update(branch_inputs)
            global_vector, local_features = pair
            mixer = _local_mixer(config, modality, seed)
            if config.local_mixer == "moe":
                # The gates are left out of the outputs; `analysis_model`
                # reads them from this call.
                local_vector, _ = mixer(local_features, return_gates=True)
            else:
                local_vector = mixer(local_features)
            for kind, vector in (("global", global_vector), ("local", local_vector)):
                if config.representations in ("both", kind):
                    token = f"{MODALITY_NAMES[modality]}_{kind}_token"
                    vectors.append(keras.layers.Reshape((1, -1), name=token)(vector))
        tokens = keras.layers.Concatenate(axis=1, name="fusion_tokens")(vectors)
        # `fused` ([Z1; Z2]) is left out of the outputs; `analysis_model`
        # reads it from this call.
        prediction, global_weights, local_weights, _ = GlobalGuidedFusion(
            hidden_dim=config.hidden_dim,
            output_dim=config.output_dim,
            num_heads=config.num_heads,
            num_layers=config.fusion_layers,
            intermediate_dim=config.fusion_intermediate_dim,
            dropout=config.fusion_dropout,
            pooling_dropout=config.pooling_dropout,
            representations=config.representations,
            fusion=config.fusion,
            guidance=config.guidance,
            name="global_guided_fusion",
        )(tokens, return_fused=True)
        # The output heads are float32 under mixed precision too.
        outputs = {
            "prediction": keras.layers.Identity(name="prediction", dtype="float32")(prediction),
            "global_weights": _all_modalities(global_weights, config.modalities, "global_weights"),
            "local_weights": _all_modalities(local_weights, config.modalities, "local_weights"),
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.input_names = tuple(inputs)
        self.config = config
        self.seed = seed
        self.backbone_config = keras.layers.serialize(backbone) if uses_bert else None

    def call(self, inputs, training=None, mask=None, **kwargs):
        """Runs the model on the inputs it declares (others are ignored)."""
        if isinstance(inputs, dict) and set(self.input_names) <= set(inputs):
            inputs = {name: inputs[name] for name in self.input_names}
            if isinstance(mask, dict):
                mask = {name: mask.get(name) for name in inputs}
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def analysis_model(self):
        """A model from the same inputs to the representations of the paper's analysis.

        It shares this model's layers and weights (nothing is copied or
        trained) and returns a dict:
        - `prediction`, `global_weights`, `local_weights`: as this model;
        - `G_t`, `L_t`, `G_a`, `L_a`, `G_v`, `L_v` [B, d]: the unimodal
          global vectors `X_m^g` and local vectors `X̂_m^l` (MoE or MLP
          output) that enter the fusion, for the modalities and
          representations the config keeps (Fig. 2);
        - `fused`: the vector the output layer reads: `[Z1; Z2]` [B, 2d] for
          the global-guided fusion (Fig. 4), the combined `Z_m` otherwise;
        - `gates_t`, `gates_a`, `gates_v` [B, s_m]: the MoE gates at
          inference (MoE local mixers with local representations kept).

        Build it once and call `predict` on it (or use `analyze`).

        Example:

        ```python
        analysis = model.analysis_model()
        outputs = analysis.predict(inputs, batch_size=64)
        outputs["fused"].shape  # (N, 2 * config.hidden_dim)
        ```
        """
        config = self.config
        outputs = dict(self.output)
        for modality in config.modalities:
            prefix = MODALITY_NAMES[modality]
            for kind, letter in (("global", "G"), ("local", "L")):
                if config.representations in ("both", kind):
                    token = self.get_layer(f"{prefix}_{kind}_token")
                    outputs[f"{letter}_{modality}"] = token.input
            if config.local_mixer == "moe" and config.representations != "global":
                outputs[f"gates_{modality}"] = self.get_layer(f"{prefix}_moe").output[1]
        outputs["fused"] = self.get_layer("global_guided_fusion").output[3]
        return keras.Model(self.inputs, outputs, name=f"{self.name}_analysis")

    def analyze(self, inputs, batch_size=32):
        """The `analysis_model()` outputs for `inputs`, as numpy arrays.

        Args:
            inputs: the model's input dict (numpy arrays) or a dataset.
            batch_size: the prediction batch size (arrays only).

        Example:

        ```python
        outputs = model.analyze(split.inputs)
        outputs["G_t"].shape  # (N, config.hidden_dim)
        ```
        """
        return self.analysis_model().predict(inputs, batch_size=batch_size, verbose=0)

    def compile(self, optimizer="auto", loss="auto", metrics=None, **kwargs):
        """Configures training with the loss on `prediction` only; builds the optimizer.

        Args:
            optimizer: "auto" for `make_optimizer`, AdamW with the constant
                learning rate, epsilon and weight decay of the dataset's
                `TrainingOptions` (none on biases and LayerNorm; for a
                dataset outside the table, pass `make_optimizer(options)`),
                or any Keras optimizer.
            loss: "auto" for mean absolute error (regression) or sparse
                categorical cross-entropy on logits (classification), or any
                Keras loss applied to `prediction`.
            metrics: metrics for `prediction`.
            **kwargs: other `keras.Model.compile` arguments.
        """
        if optimizer == "auto":
            optimizer = make_optimizer(TrainingOptions.for_dataset(self.config.dataset))
        if loss == "auto":
            loss = (
                keras.losses.MeanAbsoluteError()
                if self.config.task == "regression"
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            )
        super().compile(optimizer=optimizer, loss={"prediction": loss},
                        metrics={"prediction": metrics} if metrics else None, **kwargs)
        self._build_optimizer()

    def compile_from_config(self, config):
        """Restores the compile settings saved in a `.keras` file."""
        keras.Model.compile(self, **keras.saving.deserialize_keras_object(config))
        self._build_optimizer()

    def _build_optimizer(self):
        # The optimizer's variables are created now, not in the first train
        # step: TensorFlow traces a step that creates variables twice, which
        # doubled the start-up of the first `fit` (22 -> 12 s, tiny model).
        # Under a distribution strategy, compile inside its scope as usual.
        self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {"config": self.config.to_dict(), "backbone": self.backbone_config,
                "seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "seed" not in config:
            # Saved before `TrainingOptions`: the seed was a config field.
            config["seed"] = config["config"].get("seed", DEFAULT_SEED)
        if config.get("backbone") is not None:
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


def _bert_branch(config, backbone):
    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in ("token_ids", "padding_mask", "segment_ids")
    }
    previous, last = bert_hidden_states(backbone)(inputs)
    global_vector = keras.layers.Dense(config.hidden_dim, name="text_global_dense")(last[:, 0])
    sequence, mask = HiddenStateConcatenation(
        config.length_aware, name="text_hidden_concatenation"
    )([last, previous], padding_mask=inputs["padding_mask"])
    local = keras.layers.Conv1D(
        config.hidden_dim, 3, padding="same", use_bias=False, name="text_local_projection"
    )(sequence)
    num_windows = config.per_modality("num_windows")["t"]
    local = AdaptiveMaxPooling1D(num_windows, name="text_local_pooling")(
        local, mask=mask if config.length_aware else None)
    local = keras.layers.Flatten(name="text_local_flatten")(local)
    return inputs, (global_vector, local)


def _sequence_branch(config, modality):
    name = MODALITY_NAMES[modality]
    feature_key = "text_features" if modality == "t" else name
    mask_key = "text_mask" if modality == "t" else f"{name}_mask"
    width = {"t": config.text_dim, "a": config.acoustic_input_dim,
             "v": config.visual_input_dim}[modality]
    inputs = {
        feature_key: keras.Input((None, width), dtype="float32", name=feature_key),
        mask_key: keras.Input((None,), dtype="int32", name=mask_key),
    }
    encoder = SequenceEncoder(
        num_windows=config.per_modality("num_windows")[modality],
        positions=config.encoder_positions,
        name=f"{name}_encoder",
        **{field: getattr(config, field) for field in ENCODER_FIELDS},
    )
    return inputs, encoder(inputs[feature_key], padding_mask=inputs[mask_key])


def _local_mixer(config, modality, seed):
    name = MODALITY_NAMES[modality]
    if config.local_mixer == "mlp":
        return keras.layers.Dense(config.hidden_dim, name=f"{name}_local_mlp")
    return NoisyTopKMoE(
        num_experts=config.per_modality("num_experts")[modality],
        top_k=config.per_modality("top_k")[modality],
        hidden_dim=config.hidden_dim,
        output_dim=config.hidden_dim,
        loss_weight=config.moe_loss_weight,
        noisy_gating=config.noisy_gating,
        combine=config.moe_combine,
        load_cdf_mean=config.moe_load_cdf_mean,
        seed=seed + MODALITIES.index(modality),
        name=f"{name}_moe",
    )


def _all_modalities(weights, modalities, name):
    """Spreads [B, M] weights of the kept modalities over [B, 3] slots."""
    if len(modalities) < len(MODALITIES):
        slots = ops.convert_to_tensor([MODALITIES.index(m) for m in modalities])
        weights = ops.matmul(weights, ops.one_hot(slots, len(MODALITIES), dtype=weights.dtype))
    return keras.layers.Identity(name=name, dtype="float32")(weights)
