"""`glomo-keras tune`: KerasTuner search around the paper's Table 1, on validation.

Example:

```
glomo-keras tune --dataset mosi --data datasets/mosi.pkl --trials 20 --output tuning/mosi
glomo-keras train --dataset mosi --data datasets/mosi.pkl --config tuning/mosi/best_config.json
```
"""

import sys

from glomo_keras.commands.train import add_training_arguments
from glomo_keras.commands.train import build_config
from glomo_keras.commands.train import jit_setting
from glomo_keras.commands.train import prepare_devices


def register(subparsers):
    """Adds the `tune` command to `subparsers`."""
    from glomo_keras.tuning.space import SPACE

    parser = subparsers.add_parser(
        "tune", help="search hyper-parameters with KerasTuner (validation metric; "
        "writes best_config.json for train --config)"
    )
    add_training_arguments(parser)
    parser.add_argument("--trials", type=int, default=10, help="trials in total (default 10)")
    parser.add_argument("--search", default="random", choices=["random", "bayesian"],
                        help="KerasTuner oracle (default random)")
    parser.add_argument("--params", nargs="+", default=list(SPACE), choices=list(SPACE),
                        metavar="FIELD", help=f"the fields to tune (default all: {' '.join(SPACE)})")
    parser.set_defaults(func=run)


def run(args):
    """Runs the search for parsed flags; returns the exit status."""
    if args.export_dir or args.no_export:
        print("glomo-keras tune: trials are never exported; drop --export-dir/--no-export",
              file=sys.stderr)
        return 2
    prepare_devices(args)
    from glomo_keras.tuning import tune

    config = build_config(args)
    output = args.output or f"tuning/{config.dataset}"
    summary = tune(
        config, args.data, output, trials=args.trials, names=args.params,
        search=args.search, backbone=args.backbone or "bert_base_en_uncased",
        seeds=args.seeds, overwrite=args.overwrite, use_cache=not args.no_cache,
        strategy=args.strategy, jit_compile=jit_setting(args),
    )
    print(f"best trial {summary['best_trial']}: {summary['objective']} "
          f"{summary['best_score']:.4f} ({len(summary['trials'])} trials)")
    print(f"train it: glomo-keras train --dataset {config.dataset} --data {args.data} "
          f"--config {output}/best_config.json")
    return 0
