"""The authors' released GLoMo forward pass (inference), in numpy.

Written from the released PyTorch code's computation (YetZzzzzz/GLoMo,
`GLoMo_MSA/GLoMo.py`, MulT's `modules/transformer.py`, the MoE module and
`nn.TransformerEncoderLayer`), reading its state dict by its own names and
layouts: `[out, in]` Linear weights, `[out, in, k]` Conv1d weights, packed
`in_proj_weight`, channel-major flattening of the pooled windows, positions
only where the first projected channel is non-zero, the MoE combined in log
space. Independent of `glomo_keras.convert`: the converter is tested against
it.

Example:

```python
outputs = released_forward(state, RELEASED_TINY, inputs)
outputs["prediction"]  # [B, num_labels]
```
"""

import math

import numpy as np
from numpy_bert import TINY_BERT
from numpy_bert import bert_hidden_states
from numpy_bert import layer_norm
from numpy_bert import linear
from numpy_bert import random_bert_state
from numpy_bert import softmax

# The released code's arguments for a tiny model (`args.*` there). `gran`
# and `experts` hold for every modality unless `gran_t`, `experts_a`, ...
# (the released code's per-modality arguments) say otherwise.
RELEASED_TINY = dict(d_l=8, num_heads=2, layers=1, gran=3, experts=3, k=2,
                     acoustic_dim=5, visual_dim=3, text_dim=TINY_BERT["hidden_size"],
                     num_labels=1, fusion_feedforward=16, bert=TINY_BERT)


def modality_arg(args, name, modality):
    """`args.<name>_<modality>` (e.g. `gran_t`), else `args.<name>`."""
    return args.get(f"{name}_{modality}", args[name])


def conv1d(x, weight):
    """`nn.Conv1d(padding=1, bias=False)` on [B, T, C_in] → [B, T, C_out]."""
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    steps = x.shape[1]
    return sum(padded[:, j:j + steps] @ weight[:, :, j].T for j in range(weight.shape[2]))


def adaptive_max_pool(x, windows):
    """`nn.AdaptiveMaxPool1d` over time of [B, T, C] → [B, C, windows]."""
    steps = x.shape[1]
    pooled = [x[:, (i * steps) // windows: -((-(i + 1) * steps) // windows)].max(1)
              for i in range(windows)]
    return np.stack(pooled, axis=-1)


def sinusoid(position, dim):
    half = dim // 2
    frequencies = np.exp(np.arange(half) * -(math.log(10000.0) / (half - 1)))
    angles = position * frequencies
    return np.concatenate([np.sin(angles), np.cos(angles)])


def packed_attention(x, state, prefix, heads):
    """Self-attention with `in_proj_weight` [3d, d] on [B, T, d]."""
    batch, steps, width = x.shape
    q, k, v = np.split(x @ state[f"{prefix}.in_proj_weight"].T
                       + state[f"{prefix}.in_proj_bias"], 3, axis=-1)

    def split(t):
        return t.reshape(batch, steps, heads, width // heads).transpose(0, 2, 1, 3)

    q = split(q) * (width // heads) ** -0.5
    context = softmax(q @ split(k).transpose(0, 1, 3, 2)) @ split(v)
    context = context.transpose(0, 2, 1, 3).reshape(batch, steps, width)
    return linear(context, state, f"{prefix}.out_proj")


def mult_encoder(features, state, prefix, args, windows):
    """Audio_Video_network: projection, MulT encoder; returns (global, local)."""
    d = args["d_l"]
    projected = conv1d(features, state[f"{prefix}.projs.weight"])
    positions = np.stack([sinusoid(t + 1, d) for t in range(features.shape[1])])
    has_position = (projected[:, :, :1] != 0).astype(projected.dtype)
    x = math.sqrt(d) * projected + positions[None] * has_position
    for i in range(args["layers"]):
        name = f"{prefix}.encoder.layers.{i}"

        def norm(j, t):
            return layer_norm(t, state[f"{name}.layer_norms.{j}.weight"],
                              state[f"{name}.layer_norms.{j}.bias"], 1e-5)

        x = x + packed_attention(norm(0, x), state, f"{name}.self_attn", args["num_heads"])
        hidden = np.maximum(linear(norm(1, x), state, f"{name}.fc1"), 0.0)
        x = x + linear(hidden, state, f"{name}.fc2")
    x = layer_norm(x, state[f"{prefix}.encoder.layer_norm.weight"],
                   state[f"{prefix}.encoder.layer_norm.bias"], 1e-5)
    local = adaptive_max_pool(x, windows).reshape(len(x), -1)  # channel-major
    return x.max(1), local


def moe(x, state, prefix, args, experts):
    """The MoE at inference: top-k softmax gates, experts combined in log space."""
    logits = x @ state[f"{prefix}.w_gate"]
    gates = np.zeros_like(logits)
    for b, row in enumerate(logits):
        top = np.argsort(-row, kind="stable")[:args["k"]]
        gates[b, top] = softmax(row[top])
    combined = np.zeros((len(x), args["d_l"]))
    for i in range(experts):
        hidden = np.maximum(linear(x, state, f"{prefix}.experts.{i}.fc1"), 0.0)
        expert = linear(hidden, state, f"{prefix}.experts.{i}.fc2")
        combined += np.where(gates[:, i:i + 1] > 0, gates[:, i:i + 1] * np.exp(expert), 0.0)
    combined[combined == 0] = np.finfo(float).eps
    return np.log(combined)


def fusion_layer(x, state, prefix, heads):
    """`nn.TransformerEncoderLayer` (post-LN, ReLU) on [B, 6, d]."""
    def norm(name, t):
        return layer_norm(t, state[f"{prefix}.{name}.weight"], state[f"{prefix}.{name}.bias"], 1e-5)

    x = norm("norm1", x + packed_attention(x, state, f"{prefix}.self_attn", heads))
    hidden = np.maximum(linear(x, state, f"{prefix}.linear1"), 0.0)
    return norm("norm2", x + linear(hidden, state, f"{prefix}.linear2"))


def attention_pooling(vectors, state, prefix, d):
    """The released `Attention`: weights [B, 3] and the weighted sum."""
    hidden = np.maximum(linear(np.concatenate(vectors, 1), state,
                               f"{prefix}.attention_mlp.attention_mlp"), 0.0)
    weights = softmax(linear(hidden, state, f"{prefix}.fc_att") * d ** -0.5)
    return weights, sum(weights[:, m:m + 1] * vectors[m] for m in range(3))


def released_forward(state, args, inputs):
    """The released model's `test()` pass.

    Args:
        state: the released state dict, name → array.
        args: a `RELEASED_TINY`-like dict.
        inputs: `token_ids`, `segment_ids`, `padding_mask`, `acoustic`,
            `visual` (numpy).

    Returns:
        `prediction`, `global_weights` (attn_cs), `local_weights` (attn_fs).
    """
    state = {name: np.asarray(value, "float64") for name, value in state.items()}
    d = args["d_l"]
    hidden = bert_hidden_states(state, args["bert"], inputs["token_ids"], inputs["segment_ids"],
                                inputs["padding_mask"], exact_gelu=True, prefix="bert.")
    last, previous = hidden[-1], hidden[-2]
    text_global = linear(last[:, 0], state, "bert.linear1")
    text_local = conv1d(np.concatenate([last, previous], 1), state["bert.proj_l.weight"])
    gran = {m: modality_arg(args, "gran", m) for m in "tav"}
    experts = {m: modality_arg(args, "experts", m) for m in "tav"}
    text_local = adaptive_max_pool(text_local, gran["t"]).reshape(len(last), -1)
    acoustic_global, acoustic_local = mult_encoder(
        inputs["acoustic"], state, "audio_network", args, gran["a"])
    visual_global, visual_local = mult_encoder(
        inputs["visual"], state, "video_network", args, gran["v"])
    tokens = [text_global, moe(text_local, state, "moe_t", args, experts["t"]),
              acoustic_global, moe(acoustic_local, state, "moe_a", args, experts["a"]),
              visual_global, moe(visual_local, state, "moe_v", args, experts["v"])]
    h = np.stack(tokens, axis=1)
    for i in range(2):
        h = fusion_layer(h, state, f"transformer_encoder.layers.{i}", args["num_heads"])
    h = [h[:, i] for i in range(6)]
    global_weights, global_fused = attention_pooling(h[0::2], state, "attn_cs", d)
    local_weights, local_fused = attention_pooling(h[1::2], state, "attn_fs", d)
    z1 = linear(np.concatenate([global_fused, local_fused], 1), state, "fc_all")
    modality = [linear(np.concatenate([h[2 * m], h[2 * m + 1]], 1), state, name)
                for m, name in enumerate(("fc_ts", "fc_as", "fc_vs"))]
    z2 = sum(global_weights[:, m:m + 1] * modality[m] for m in range(3))
    prediction = linear(np.concatenate([z1, z2], 1), state, "classifier")
    return {"prediction": prediction, "global_weights": global_weights,
            "local_weights": local_weights}


def random_released_state(rng, args, scale=0.3):
    """A random state dict with the released code's names and shapes.

    Built from the released architecture alone (not from glomo_keras), with
    the buffers and the BERT pooler a real checkpoint also holds.
    """
    d = args["d_l"]

    def normal(*shape):
        return (scale * rng.normal(size=shape)).astype("float32")

    def linear_(name, out, inp):
        state[f"{name}.weight"] = normal(out, inp)
        state[f"{name}.bias"] = normal(out)

    def norm(name):
        state[f"{name}.weight"] = (1.0 + 0.1 * rng.normal(size=d)).astype("float32")
        state[f"{name}.bias"] = normal(d)

    def packed(name):
        state[f"{name}.in_proj_weight"] = normal(3 * d, d)
        state[f"{name}.in_proj_bias"] = normal(3 * d)
        linear_(f"{name}.out_proj", d, d)

    state = random_bert_state(rng, args["bert"], prefix="bert.")
    state["bert.embeddings.position_ids"] = np.arange(args["bert"]["max_position_embeddings"])[None]
    linear_("bert.linear1", d, args["text_dim"])
    state["bert.proj_l.weight"] = normal(d, args["text_dim"], 3)
    for prefix, width in (("audio_network", args["acoustic_dim"]),
                          ("video_network", args["visual_dim"])):
        state[f"{prefix}.projs.weight"] = normal(d, width, 3)
        for i in range(args["layers"]):
            name = f"{prefix}.encoder.layers.{i}"
            packed(f"{name}.self_attn")
            linear_(f"{name}.fc1", 4 * d, d)
            linear_(f"{name}.fc2", d, 4 * d)
            norm(f"{name}.layer_norms.0")
            norm(f"{name}.layer_norms.1")
        norm(f"{prefix}.encoder.layer_norm")
        state[f"{prefix}.encoder.version"] = np.array([2.0], "float32")
        state[f"{prefix}.encoder.embed_positions._float_tensor"] = np.zeros(1, "float32")
    for prefix in ("moe_t", "moe_a", "moe_v"):
        n = modality_arg(args, "gran", prefix[-1])
        s = modality_arg(args, "experts", prefix[-1])
        state[f"{prefix}.w_gate"] = (3.0 * normal(n * d, s))
        state[f"{prefix}.w_noise"] = normal(n * d, s)
        for i in range(s):
            linear_(f"{prefix}.experts.{i}.fc1", d, n * d)
            linear_(f"{prefix}.experts.{i}.fc2", d, d)
        state[f"{prefix}.mean"] = np.array([0.1], "float32")
        state[f"{prefix}.std"] = np.array([1.0], "float32")
    for i in range(2):
        name = f"transformer_encoder.layers.{i}"
        packed(f"{name}.self_attn")
        linear_(f"{name}.linear1", args["fusion_feedforward"], d)
        linear_(f"{name}.linear2", d, args["fusion_feedforward"])
        norm(f"{name}.norm1")
        norm(f"{name}.norm2")
    for name in ("fc_ts", "fc_as", "fc_vs", "fc_all"):
        linear_(name, d, 2 * d)
    for name in ("attn_cs", "attn_fs"):
        linear_(f"{name}.attention_mlp.attention_mlp", d, 3 * d)
        linear_(f"{name}.fc_att", 3, d)
    linear_("classifier", args["num_labels"], 2 * d)
    return state


def word_aligned_inputs(rng, args, lengths, steps):
    """A batch as word-aligned data has it: zero features at [CLS]/[SEP]/pad."""
    batch = len(lengths)
    mask = (np.arange(steps)[None] < np.array(lengths)[:, None]).astype("int32")
    words = mask.copy()
    words[:, 0] = 0
    words[np.arange(batch), np.array(lengths) - 1] = 0
    token_ids = rng.integers(5, args["bert"]["vocab_size"], (batch, steps)) * mask
    token_ids[:, 0] = 2
    token_ids[np.arange(batch), np.array(lengths) - 1] = 3
    inputs = {"token_ids": token_ids.astype("int32"), "segment_ids": np.zeros((batch, steps), "int32"),
              "padding_mask": mask}
    for name, width in (("acoustic", args["acoustic_dim"]), ("visual", args["visual_dim"])):
        inputs[name] = (rng.normal(size=(batch, steps, width)) * words[..., None]).astype("float32")
        inputs[f"{name}_mask"] = words.astype("int32")
    return inputs
