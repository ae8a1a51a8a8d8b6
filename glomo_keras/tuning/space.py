"""The hyper-parameter search space around the paper's Table 1 column.

`suggest(hp, config, options, names)` draws, with KerasTuner's
`HyperParameters`, one configuration near `config` and `options` (a
`GLoMoConfig` and `TrainingOptions`, usually the dataset's Table 1 column):
- `hidden_dim`: ×½, ×1, ×1½, ×2, rounded to multiples of `num_heads`;
- `num_layers`: L − 1, L, L + 1;
- `learning_rate`: log-uniform in [lr / 4, 4 lr];
- `batch_size`: ×½, ×1, ×2;
- the dropouts: 0.0–0.6 in steps of 0.1;
- `num_experts`: 2–4, `num_windows`: 1–6, `top_k`: 1–2 (at most the
  experts), one value for all modalities.
"""

SPACE = ("hidden_dim", "num_layers", "learning_rate", "batch_size",
         "embedding_dropout", "attention_dropout", "relu_dropout", "residual_dropout",
         "fusion_dropout", "pooling_dropout", "num_experts", "num_windows", "top_k")
DROPOUTS = {"embedding_dropout", "attention_dropout", "relu_dropout", "residual_dropout",
            "fusion_dropout", "pooling_dropout"}


def check_names(names):
    """Raises ValueError for a name outside `SPACE`."""
    unknown = sorted(set(names) - set(SPACE))
    if unknown:
        raise ValueError(f"cannot tune {unknown}; the search space has {list(SPACE)}")


def suggest(hp, base, options, names=SPACE):
    """One configuration of the search space as overrides of config and options fields.

    Args:
        hp: a `keras_tuner.HyperParameters` (a trial's).
        base: the `GLoMoConfig` the space is centred on.
        options: the `TrainingOptions` it is centred on.
        names: the fields to tune (a subset of `SPACE`).

    Returns:
        dict of overrides for `replace_settings`, e.g. `{"hidden_dim": 64, ...}`.

    Example:

    ```python
    hp = keras_tuner.HyperParameters()
    overrides = suggest(hp, GLoMoConfig.for_dataset("mosi"), TrainingOptions.for_dataset("mosi"))
    ```
    """
    check_names(names)
    chosen = {}
    for name in names:
        if name == "hidden_dim":
            heads = base.num_heads
            widths = sorted({max(heads, round(base.hidden_dim * factor / heads) * heads)
                             for factor in (0.5, 1.0, 1.5, 2.0)})
            chosen[name] = hp.Choice(name, widths, default=base.hidden_dim)
        elif name == "num_layers":
            chosen[name] = hp.Int(name, max(1, base.num_layers - 1), base.num_layers + 1,
                                  default=base.num_layers)
        elif name == "learning_rate":
            rate = options.learning_rate
            chosen[name] = hp.Float(name, rate / 4, rate * 4, sampling="log", default=rate)
        elif name == "batch_size":
            size = options.batch_size
            sizes = sorted({max(1, size // 2), size, 2 * size})
            chosen[name] = hp.Choice(name, sizes, default=size)
        elif name in DROPOUTS:
            rate = hp.Float(name, 0.0, 0.6, step=0.1, default=round(getattr(base, name), 1))
            chosen[name] = round(rate, 2)
        elif name == "num_experts":
            chosen[name] = hp.Int(name, 2, 4, default=3)
        elif name == "num_windows":
            chosen[name] = hp.Int(name, 1, 6, default=3)
        elif name == "top_k":
            chosen[name] = hp.Int(name, 1, 2, default=2)
    if "top_k" in chosen:
        experts = chosen.get("num_experts", min(base.per_modality("num_experts").values()))
        chosen["top_k"] = min(chosen["top_k"], experts)
    return chosen
