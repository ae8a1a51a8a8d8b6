"""A numpy BERT forward pass and a tiny Hugging Face BERT checkpoint writer.

The reference the Keras backbones are tested against: Hugging Face's
`BertModel` computation written out in numpy (float64), reading weights by
their Hugging Face names.

Example:

```python
state = write_hugging_face_checkpoint(tmp_path, hidden_act="gelu")
hidden = bert_hidden_states(state, TINY_BERT, token_ids, segment_ids, mask)
hidden[-1]  # the last layer's output [B, T, H]
```
"""

import json
import math

import numpy as np
from safetensors.numpy import save_file

TINY_VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "the", "movie", "was",
    "good", "bad", "so", "not", "great", "fun", "i", "love", "it", "play", "##ing",
]
# Hugging Face `config.json` fields of the tiny checkpoint.
TINY_BERT = dict(
    vocab_size=len(TINY_VOCABULARY), hidden_size=8, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=16, max_position_embeddings=16,
    type_vocab_size=2, layer_norm_eps=1e-12,
)
_erf = np.vectorize(math.erf)


def gelu(x, exact=True):
    """GELU, exact (erf) or the tanh approximation."""
    if exact:
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def layer_norm(x, weight, bias, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * weight + bias


def linear(x, state, name):
    """PyTorch `nn.Linear`: `x W^T + b` from `<name>.weight`/`<name>.bias`."""
    return x @ state[f"{name}.weight"].T + state[f"{name}.bias"]


def softmax(x, axis=-1):
    x = x - x.max(axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis, keepdims=True)


def bert_hidden_states(state, config, token_ids, segment_ids, padding_mask,
                       exact_gelu=True, prefix=""):
    """Every hidden state of a Hugging Face BERT, in numpy.

    Args:
        state: name → array, Hugging Face names (`embeddings.…`,
            `encoder.layer.<i>.…`), optionally under `prefix`.
        config: `num_attention_heads` and `layer_norm_eps` (a `TINY_BERT`
            like dict).
        token_ids, segment_ids, padding_mask: [B, T] int arrays.
        exact_gelu: erf GELU (`hidden_act="gelu"`) or the tanh form.
        prefix: a name prefix such as `"bert."`.

    Returns:
        `[embeddings, layer_1, ..., layer_L]`, each [B, T, H] float64.
    """
    state = {k[len(prefix):]: np.asarray(v, "float64") for k, v in state.items()
             if k.startswith(prefix)}
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    steps = token_ids.shape[1]
    x = (state["embeddings.word_embeddings.weight"][token_ids]
         + state["embeddings.position_embeddings.weight"][:steps][None]
         + state["embeddings.token_type_embeddings.weight"][segment_ids])
    x = layer_norm(x, state["embeddings.LayerNorm.weight"], state["embeddings.LayerNorm.bias"], eps)
    hidden = [x]
    blocked = np.where(padding_mask[:, None, None, :] > 0, 0.0, -1e9)
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in state:
        name = f"encoder.layer.{layer}"
        batch, _, width = x.shape

        def split(t):
            return t.reshape(batch, steps, heads, width // heads).transpose(0, 2, 1, 3)

        q, k, v = (split(linear(x, state, f"{name}.attention.self.{part}"))
                   for part in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(width // heads) + blocked
        context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, steps, width)
        x = layer_norm(x + linear(context, state, f"{name}.attention.output.dense"),
                       state[f"{name}.attention.output.LayerNorm.weight"],
                       state[f"{name}.attention.output.LayerNorm.bias"], eps)
        inner = gelu(linear(x, state, f"{name}.intermediate.dense"), exact_gelu)
        x = layer_norm(x + linear(inner, state, f"{name}.output.dense"),
                       state[f"{name}.output.LayerNorm.weight"],
                       state[f"{name}.output.LayerNorm.bias"], eps)
        hidden.append(x)
        layer += 1
    return hidden


def random_bert_state(rng, config, scale=0.5, prefix="", pooler=True):
    """Random float32 BERT weights under their Hugging Face names.

    `scale` sets the weights' standard deviation; 0.5 makes the feed-forward
    activations large enough that exact and tanh GELU differ visibly.
    """
    width, inner = config["hidden_size"], config["intermediate_size"]

    def normal(*shape):
        return (scale * rng.normal(size=shape)).astype("float32")

    def norm(name):
        state[f"{name}.weight"] = (1.0 + 0.1 * rng.normal(size=width)).astype("float32")
        state[f"{name}.bias"] = normal(width)

    state = {
        "embeddings.word_embeddings.weight": normal(config["vocab_size"], width),
        "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], width),
        "embeddings.token_type_embeddings.weight": normal(config["type_vocab_size"], width),
    }
    norm("embeddings.LayerNorm")
    for layer in range(config["num_hidden_layers"]):
        name = f"encoder.layer.{layer}"
        for part in ("attention.self.query", "attention.self.key",
                     "attention.self.value", "attention.output.dense"):
            state[f"{name}.{part}.weight"] = normal(width, width)
            state[f"{name}.{part}.bias"] = normal(width)
        norm(f"{name}.attention.output.LayerNorm")
        state[f"{name}.intermediate.dense.weight"] = normal(inner, width)
        state[f"{name}.intermediate.dense.bias"] = normal(inner)
        state[f"{name}.output.dense.weight"] = normal(width, inner)
        state[f"{name}.output.dense.bias"] = normal(width)
        norm(f"{name}.output.LayerNorm")
    if pooler:
        state["pooler.dense.weight"] = normal(width, width)
        state["pooler.dense.bias"] = normal(width)
    return {prefix + name: value for name, value in state.items()}


def write_hugging_face_checkpoint(directory, hidden_act="gelu", seed=0, config=None):
    """Writes a random BERT in the Hugging Face layout; returns its weights.

    `config.json`, `tokenizer_config.json`, `vocab.txt` and
    `model.safetensors` (names under `bert.`, as `BertModel` checkpoints
    saved from a task model have them).

    Args:
        directory: a `pathlib.Path`, created if needed.
        hidden_act: the `config.json` activation name.
        seed: the weights' random seed.
        config: `config.json` fields; `TINY_BERT` by default.

    Returns:
        The weights, name → float32 array, names without the `bert.` prefix.
    """
    config = dict(config or TINY_BERT)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(
        {**config, "model_type": "bert", "architectures": ["BertModel"],
         "hidden_act": hidden_act}))
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCABULARY) + "\n")
    state = random_bert_state(np.random.default_rng(seed), config)
    save_file({"bert." + k: v for k, v in state.items()}, str(directory / "model.safetensors"))
    return state
