"""`glomo-keras summary`: build a GLoMo model and print its parameter counts.

Example:

```
glomo-keras summary --dataset mosi --backbone random:bert_base --json
```
"""

import json

from glomo_keras.training import devices
from glomo_keras.training.flags import parse_overrides


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
                        help="override a GLoMoConfig field (repeatable; training "
                        "fields are accepted and do not change the counts)")
    parser.add_argument("--json", action="store_true",
                        help="print the counts as JSON only")
    parser.set_defaults(func=run)


def run(args):
    """Prints the parameter counts for parsed flags; returns 0."""
    from glomo_keras.backbones import load_backbone
    from glomo_keras.model import GLoMo
    from glomo_keras.summary import layer_table
    from glomo_keras.summary import parameter_counts
    from glomo_keras.training.options import run_settings

    config, _ = run_settings(args.dataset, parse_overrides(args.overrides))
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
