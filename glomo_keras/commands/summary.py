"""`glomo-keras summary`: build a GLoMo model and print its parameter counts.

Example:

```
glomo-keras summary --dataset mosi --backbone random:bert_base --json
```
"""

import json
import re

from glomo_keras.errors import UsageError
from glomo_keras.training import devices

# `t:3,a:2,v:4`: one value per modality (`num_experts`, `num_windows`, `top_k`).
PER_MODALITY_TEXT = re.compile(r"[tav]:-?\d+(,[tav]:-?\d+)*")


def configure(parser):
    """Adds the `summary` flags to `parser`."""
    parser.add_argument("--dataset", default="mosi",
                        help="mosi, mosei, urfunny, mustard or cherma (default mosi)")
    parser.add_argument("--backbone", default="random:bert_base",
                        help="a KerasHub preset name (downloads), a local folder, minilm, "
                        "random:bert_base or random:bert_tiny (default random:bert_base: "
                        "bert-base's shape, offline)")
    parser.add_argument("--backend", choices=devices.BACKENDS,
                        help="the Keras backend (default: KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE",
                        help="override a GLoMoConfig field (repeatable)")
    parser.add_argument("--json", action="store_true",
                        help="print the counts as JSON only")
    parser.set_defaults(func=run)


def parse_overrides(pairs):
    """Parses `field=value` strings; values are read as JSON where possible.

    `m:int,...` with m in t/a/v reads as a per-modality dict.

    Args:
        pairs: list of "field=value" strings.

    Raises:
        UsageError: a pair without `=` or without a field name.

    Example:

    ```python
    parse_overrides(["hidden_dim=64", "fusion=sum", "num_experts=t:3,a:2,v:4"])
    # {"hidden_dim": 64, "fusion": "sum", "num_experts": {"t": 3, "a": 2, "v": 4}}
    ```
    """
    overrides = {}
    for pair in pairs:
        field, separator, text = pair.partition("=")
        if not separator or not field:
            raise UsageError(f"--set expects FIELD=VALUE, got {pair!r}")
        if PER_MODALITY_TEXT.fullmatch(text):
            overrides[field] = {
                modality: int(number)
                for modality, number in (item.split(":") for item in text.split(","))
            }
            continue
        try:
            overrides[field] = json.loads(text)
        except json.JSONDecodeError:
            overrides[field] = text
    return overrides


def run(args):
    """Prints the parameter counts for parsed flags; returns 0."""
    from glomo_keras.backbones import load_backbone
    from glomo_keras.config import GLoMoConfig
    from glomo_keras.model import GLoMo
    from glomo_keras.summary import layer_table
    from glomo_keras.summary import parameter_counts

    config = GLoMoConfig.for_dataset(args.dataset, **parse_overrides(args.overrides))
    backbone = None
    if "t" in config.modalities and config.text_encoder == "bert":
        backbone, _ = load_backbone(args.backbone)
    model = GLoMo(config, backbone)
    counts = parameter_counts(model)
    if args.json:
        print(json.dumps(counts))
        return 0
    print(f"GLoMo for {config.dataset} (backbone {args.backbone})")
    print(f"{'layer':<32} {'class':<24} {'params':>12}")
    for name, kind, count in layer_table(model):
        print(f"{name:<32} {kind:<24} {count:>12,}")
    print("-" * 70)
    for key, value in counts.items():
        print(f"{key:<32} {'':<24} {value:>12,}")
    return 0
