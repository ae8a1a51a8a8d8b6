"""Convert the authors' released PyTorch GLoMo weights to and from Keras.

The released code (YetZzzzzz/GLoMo: `GLoMo_MSA/` for MOSI/MOSEI,
`GLoMo_MHD/` for UR-FUNNY/MUStARD, `GLoMo_MER/` for CHERMA) saves a
PyTorch `state_dict`. `from_torch_state_dict` builds a `GLoMo` and loads
such a state dict, given as a mapping of names to numpy arrays (no torch
import needed); `to_torch_state_dict` is the inverse. With
`compatibility="released"` and the exact GELU of Hugging Face BERT, the
converted model computes the released model's function (README,
"Fidelity").

Layout differences handled here:
- `nn.Linear` weights are `[out, in]`, Keras `Dense` kernels `[in, out]`;
  `nn.Conv1d` weights `[out, in, k]`, Keras `Conv1D` kernels `[k, in, out]`.
- Attention: Hugging Face BERT's separate `query`/`key`/`value`, and the
  packed `in_proj_weight` `[3d, d]` of MulT's and PyTorch's
  `MultiheadAttention`, become Keras `MultiHeadAttention` kernels
  `[d, heads, head_dim]`; output projections `[heads, head_dim, d]`.
- The released code flattens the pooled local windows channel-major
  (`[d, n]` → `d·n`), this project window-major (`[n, d]` → `n·d`): the
  input rows of each MoE's gate, noise and first expert layers are permuted.
- Hugging Face BERT names become KerasHub `BertBackbone` variables. The BERT
  pooler (unused by GLoMo) and buffers (`position_ids`, MulT's `version` and
  `_float_tensor`, the MoE's `mean`/`std`) are skipped, each with a note.
"""

import dataclasses
import re

import numpy as np
from keras import ops

from glomo_keras.config import GLoMoConfig
from glomo_keras.errors import GLoMoError
from glomo_keras.model import MODALITY_NAMES
from glomo_keras.model import GLoMo

RELEASED_ARCHITECTURE = dict(
    modalities=("t", "a", "v"), local_mixer="moe", representations="both",
    fusion="global_guided", guidance="global_weights",
)
BRANCH_PREFIXES = {"acoustic": "audio_network", "visual": "video_network",
                   "text": "text_network"}
MOE_PREFIXES = {"t": "moe_t", "a": "moe_a", "v": "moe_v"}
# Tensors the conversion skips: a pattern and why.
SKIPPED = (
    (r"(^|\.)bert\.pooler\.", "the BERT pooler is not used by GLoMo"),
    (r"(^|\.)position_ids$", "a buffer (positions 0..T-1)"),
    (r"(^|\.)token_type_ids$", "a buffer (zeros)"),
    (r"(^|\.)version$", "a buffer (MulT's format version)"),
    (r"(^|\.)_float_tensor$", "a buffer (MulT's dtype marker)"),
    (r"^moe_[tav]\.(mean|std)$", "a buffer (the smooth load's normal CDF)"),
)


class StateDictError(GLoMoError, ValueError):
    """A state dict that does not fit the model: names every problem."""


@dataclasses.dataclass
class TensorRule:
    """How one PyTorch tensor maps onto Keras variables.

    Attributes:
        name: the PyTorch name.
        variables: the Keras variables it fills.
        to_keras: PyTorch array → list of arrays, one per variable.
        to_torch: list of arrays (the variables' values) → PyTorch array.
    """

    name: str
    variables: list
    to_keras: object
    to_torch: object


def _identity(name, variable):
    return TensorRule(name, [variable], lambda w: [w], lambda v: v[0])


def _linear(prefix, dense):
    return [TensorRule(f"{prefix}.weight", [dense.kernel], lambda w: [w.T], lambda v: v[0].T),
            _identity(f"{prefix}.bias", dense.bias)]


def _layer_norm(prefix, norm):
    return [_identity(f"{prefix}.weight", norm.gamma),
            _identity(f"{prefix}.bias", norm.beta)]


def _conv1d(name, conv):
    return TensorRule(name, [conv.kernel],
                      lambda w: [np.transpose(w, (2, 1, 0))],
                      lambda v: np.transpose(v[0], (2, 1, 0)))


def _head_kernel(variable):
    """[out, in] Linear weight ↔ [in, heads, head_dim] kernel."""
    shape = tuple(variable.shape)
    return (lambda w: w.T.reshape(shape)), (lambda k: k.reshape(shape[0], -1).T)


def _attention_projection(name, dense):
    kernel_to_keras, kernel_to_torch = _head_kernel(dense.kernel)
    bias_shape = tuple(dense.bias.shape)
    return [
        TensorRule(f"{name}.weight", [dense.kernel],
                   lambda w: [kernel_to_keras(w)], lambda v: kernel_to_torch(v[0])),
        TensorRule(f"{name}.bias", [dense.bias],
                   lambda b: [b.reshape(bias_shape)], lambda v: v[0].reshape(-1)),
    ]


def _attention_output(prefix, dense):
    shape = tuple(dense.kernel.shape)  # [heads, head_dim, d]
    return [
        TensorRule(f"{prefix}.weight", [dense.kernel],
                   lambda w: [w.T.reshape(shape)],
                   lambda v: v[0].reshape(-1, shape[-1]).T),
        _identity(f"{prefix}.bias", dense.bias),
    ]


def _packed_attention(prefix, attention):
    """`in_proj_weight`/`in_proj_bias` ([3d, d], [3d]) and `out_proj`."""
    parts = [attention.query_dense, attention.key_dense, attention.value_dense]
    converters = [_head_kernel(part.kernel) for part in parts]
    bias_shape = tuple(parts[0].bias.shape)
    return [
        TensorRule(
            f"{prefix}.in_proj_weight", [part.kernel for part in parts],
            lambda w: [to_keras(chunk) for (to_keras, _), chunk
                       in zip(converters, np.split(w, 3))],
            lambda v: np.concatenate([to_torch(k) for (_, to_torch), k
                                      in zip(converters, v)]),
        ),
        TensorRule(
            f"{prefix}.in_proj_bias", [part.bias for part in parts],
            lambda b: [chunk.reshape(bias_shape) for chunk in np.split(b, 3)],
            lambda v: np.concatenate([bias.reshape(-1) for bias in v]),
        ),
        *_attention_output(f"{prefix}.out_proj", attention.output_dense),
    ]


def _window_major_rows(num_windows, hidden_dim):
    """Row permutation between channel-major and window-major flattening.

    Returns `(to_keras, to_torch)` for matrices whose rows index the
    flattened pooled windows: PyTorch row `c·n + w` is Keras row `w·d + c`.
    """
    def transposed(outer, inner):
        def regroup(matrix):
            rest = matrix.shape[1:]
            return matrix.reshape(outer, inner, *rest).swapaxes(0, 1).reshape(-1, *rest)
        return regroup

    return transposed(hidden_dim, num_windows), transposed(num_windows, hidden_dim)


def _moe(prefix, moe, num_windows, hidden_dim):
    rows_to_keras, rows_to_torch = _window_major_rows(num_windows, hidden_dim)
    rules = [
        TensorRule(f"{prefix}.{name}", [kernel],
                   lambda w: [rows_to_keras(w)], lambda v: rows_to_torch(v[0]))
        for name, kernel in (("w_gate", moe.gate_kernel), ("w_noise", moe.noise_kernel))
    ]
    for i, (hidden, output) in enumerate(zip(moe._expert_hidden_layers,
                                             moe._expert_output_layers)):
        rules += [
            TensorRule(f"{prefix}.experts.{i}.fc1.weight", [hidden.kernel],
                       lambda w: [rows_to_keras(w.T)], lambda v: rows_to_torch(v[0]).T),
            _identity(f"{prefix}.experts.{i}.fc1.bias", hidden.bias),
            *_linear(f"{prefix}.experts.{i}.fc2", output),
        ]
    return rules


def _transformer_layers(prefix, layers, fc1, fc2, norm1, norm2):
    """Rules of `TransformerLayer`s under the PyTorch names of their parts."""
    rules = []
    for i, layer in enumerate(layers):
        name = f"{prefix}.{i}"
        rules += [
            *_packed_attention(f"{name}.self_attn", layer.attention),
            *_linear(f"{name}.{fc1}", layer.intermediate_dense),
            *_linear(f"{name}.{fc2}", layer.output_dense),
            *_layer_norm(f"{name}.{norm1}", layer.attention_norm),
            *_layer_norm(f"{name}.{norm2}", layer.feedforward_norm),
        ]
    return rules


def _sequence_encoder(prefix, encoder):
    rules = [_conv1d(f"{prefix}.projs.weight", encoder.projection)]
    rules += _transformer_layers(f"{prefix}.encoder.layers", encoder.transformer_layers,
                                 "fc1", "fc2", "layer_norms.0", "layer_norms.1")
    return rules + _layer_norm(f"{prefix}.encoder.layer_norm", encoder.final_norm)


def _bert(bert):
    """Rules for the BERT layers inside `GLoMo`'s `bert_hidden_states` model."""
    get = bert.get_layer
    rules = [
        _identity("bert.embeddings.word_embeddings.weight",
                  get("token_embedding").embeddings),
        _identity("bert.embeddings.position_embeddings.weight",
                  get("position_embedding").position_embeddings),
        _identity("bert.embeddings.token_type_embeddings.weight",
                  get("segment_embedding").embeddings),
        *_layer_norm("bert.embeddings.LayerNorm", get("embeddings_layer_norm")),
    ]
    index = 0
    while any(layer.name == f"transformer_layer_{index}" for layer in bert.layers):
        layer = get(f"transformer_layer_{index}")
        name = f"bert.encoder.layer.{index}"
        attention = layer._self_attention_layer
        rules += [
            *_attention_projection(f"{name}.attention.self.query", attention.query_dense),
            *_attention_projection(f"{name}.attention.self.key", attention.key_dense),
            *_attention_projection(f"{name}.attention.self.value", attention.value_dense),
            *_attention_output(f"{name}.attention.output.dense", attention.output_dense),
            *_layer_norm(f"{name}.attention.output.LayerNorm",
                         layer._self_attention_layer_norm),
            *_linear(f"{name}.intermediate.dense", layer._feedforward_intermediate_dense),
            *_linear(f"{name}.output.dense", layer._feedforward_output_dense),
            *_layer_norm(f"{name}.output.LayerNorm", layer._feedforward_layer_norm),
        ]
        index += 1
    return rules


def _fusion(fusion):
    rules = _transformer_layers("transformer_encoder.layers", fusion.transformer_layers,
                                "linear1", "linear2", "norm1", "norm2")
    for name, dense in zip(("fc_ts", "fc_as", "fc_vs"), fusion.modality_denses):
        rules += _linear(name, dense)
    for name, kind in (("attn_cs", "global"), ("attn_fs", "local")):
        pooling = fusion.representation_poolings[kind]
        rules += _linear(f"{name}.attention_mlp.attention_mlp", pooling.hidden_dense)
        rules += _linear(f"{name}.fc_att", pooling.score_dense)
    return rules + _linear("fc_all", fusion.combine_dense) + _linear(
        "classifier", fusion.output_dense)


def tensor_rules(model):
    """Every PyTorch tensor of the released layout, mapped onto `model`.

    Args:
        model: a `GLoMo` with the released architecture (all modalities,
            MoE local mixers, both representations, global-guided fusion).

    Returns:
        A list of `TensorRule`, one per released-code parameter.

    Raises:
        StateDictError: the model's configuration has no released
            counterpart.

    Example:

    ```python
    names = [rule.name for rule in tensor_rules(model)]
    ```
    """
    config = model.config
    differences = {
        name: getattr(config, name) for name, value in RELEASED_ARCHITECTURE.items()
        if getattr(config, name) != value
    }
    if differences:
        raise StateDictError(
            f"The released code has no counterpart of {differences}: it is "
            f"the full model ({RELEASED_ARCHITECTURE})."
        )
    rules = []
    if config.text_encoder == "bert":
        rules += _bert(model.get_layer("bert_hidden_states"))
        rules += _linear("bert.linear1", model.get_layer("text_global_dense"))
        rules.append(_conv1d("bert.proj_l.weight", model.get_layer("text_local_projection")))
    for branch, prefix in BRANCH_PREFIXES.items():
        if branch == "text" and config.text_encoder == "bert":
            continue
        rules += _sequence_encoder(prefix, model.get_layer(f"{branch}_encoder"))
    windows = config.per_modality("num_windows")
    for modality, prefix in MOE_PREFIXES.items():
        moe = model.get_layer(f"{MODALITY_NAMES[modality]}_moe")
        rules += _moe(prefix, moe, windows[modality], config.hidden_dim)
    return rules + _fusion(model.get_layer("global_guided_fusion"))


def _standard_names(state_dict):
    """Plain numpy arrays under the released names.

    Strips a `module.` prefix (`nn.DataParallel` checkpoints) and reads old
    Hugging Face LayerNorm names (`gamma`/`beta`).
    """
    names = list(state_dict)
    strip = bool(names) and all(name.startswith("module.") for name in names)
    standard = {}
    for name, value in state_dict.items():
        key = name[len("module."):] if strip else name
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
        key = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)
        standard[key] = np.asarray(value)
    return standard


def load_torch_state_dict(model, state_dict):
    """Loads a released-code state dict into `model`, all or nothing.

    Every tensor is checked (known name, present, shape) and converted
    before any variable is assigned; on a problem nothing is assigned.

    Args:
        model: a `GLoMo` with the released architecture.
        state_dict: name → array-like (numpy arrays, or tensors converted
            with `.numpy()`), as `torch.load` returns them.

    Returns:
        A list of notes: the tensors skipped and why, and deviations of the
        model's configuration from the released function.

    Raises:
        StateDictError: unknown, missing or misshapen tensors, each named.

    Example:

    ```python
    notes = load_torch_state_dict(model, state)
    ```
    """
    state = _standard_names(state_dict)
    rules = tensor_rules(model)
    known = {rule.name for rule in rules}
    notes, unknown = [], []
    for name in sorted(set(state) - known):
        reason = next((why for pattern, why in SKIPPED if re.search(pattern, name)), None)
        if reason is None:
            unknown.append(name)
        else:
            notes.append(f"skipped {name}: {reason}")
    missing = sorted(known - set(state))
    misshapen, assignments = [], []
    for rule in rules:
        if rule.name not in state:
            continue
        expected = _expected_shape(rule)
        array = state[rule.name]
        if tuple(array.shape) != expected:
            misshapen.append(f"{rule.name}: {tuple(array.shape)}, expected {expected}")
            continue
        assignments.extend(zip(rule.variables, rule.to_keras(array)))
    problems = [f"{title} ({len(names)}): " + "; ".join(names)
                for title, names in (("unknown tensors", unknown), ("missing tensors", missing),
                                     ("misshapen tensors", misshapen)) if names]
    if problems:
        raise StateDictError(
            "The state dict does not fit this GLoMo configuration "
            f"(dataset {model.config.dataset!r}, hidden_dim {model.config.hidden_dim}, "
            f"num_layers {model.config.num_layers}); nothing was loaded. "
            + " | ".join(problems)
        )
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))
    return notes + _fidelity_notes(model.config, state)


def _expected_shape(rule):
    current = [np.zeros(tuple(variable.shape), "float32") for variable in rule.variables]
    return tuple(rule.to_torch(current).shape)


def _fidelity_notes(config, state):
    notes = []
    if config.compatibility != "released" or config.compatibility_overrides:
        notes.append(
            f"compatibility={config.compatibility!r} with overrides "
            f"{config.compatibility_overrides}: the model computes a different "
            "function from the released code's (use compatibility='released')"
        )
    means = {float(np.asarray(state[name]).reshape(-1)[0]) for name in state
             if re.fullmatch(r"moe_[tav]\.mean", name)}
    for mean in sorted(means):
        if not np.isclose(mean, config.moe_load_cdf_mean):
            notes.append(
                f"the state dict's MoE load CDF mean is {mean}, the config's "
                f"moe_load_cdf_mean {config.moe_load_cdf_mean} (training only)"
            )
    return notes


def to_torch_state_dict(model):
    """The released-code state dict of `model` (name → numpy array).

    Args:
        model: a `GLoMo` with the released architecture.

    Returns:
        A dict with every released-code parameter (no buffers).

    Example:

    ```python
    state = to_torch_state_dict(model)
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, "glomo.pth")
    ```
    """
    return {
        rule.name: rule.to_torch([ops.convert_to_numpy(v) for v in rule.variables])
        for rule in tensor_rules(model)
    }


def from_torch_state_dict(state_dict, config, backbone_spec="random:bert_base",
                          hidden_activation="gelu"):
    """Builds a `GLoMo` holding a released-code state dict.

    Args:
        state_dict: name → array-like, the released model's `state_dict()`.
        config: a `GLoMoConfig` (or a dataset name for its Table 1 column
            with `compatibility="released"`).
        backbone_spec: the BERT shape and tokenizer vocabulary, as
            `load_backbone` takes it (the default is bert-base-uncased's
            shape), or a built `keras_hub.models.BertBackbone`; its weights
            are replaced by the state dict's.
        hidden_activation: the BERT GELU: `"gelu"` (exact, as Hugging Face's
            bert-base-uncased in the released code) or `"gelu_approximate"`.

    Returns:
        `(model, notes)`: the `GLoMo` and the notes of
        `load_torch_state_dict`.

    Raises:
        StateDictError: the state dict does not fit the configuration.

    Example:

    ```python
    model, notes = from_torch_state_dict(state, "mosi")
    model.save("glomo_mosi.keras")
    ```
    """
    from glomo_keras.backbones import load_backbone
    from glomo_keras.backbones import with_hidden_activation

    if isinstance(config, str):
        config = GLoMoConfig.for_dataset(config, compatibility="released")
    backbone = None
    if config.text_encoder == "bert":
        if isinstance(backbone_spec, str):
            backbone, _ = load_backbone(backbone_spec, hidden_activation=hidden_activation)
        else:
            backbone = with_hidden_activation(backbone_spec, hidden_activation)
    model = GLoMo(config, backbone)
    notes = load_torch_state_dict(model, state_dict)
    return model, notes
