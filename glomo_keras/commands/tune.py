"""`glomo-keras tune`: KerasTuner search around the paper's Table 1, on validation.

Example:

```
glomo-keras tune --dataset mosi --data datasets/mosi.pkl --trials 20 --output tuning/mosi
glomo-keras train --dataset mosi --data datasets/mosi.pkl --config tuning/mosi/best_config.json
```
"""

from glomo_keras.cli import positive_int
from glomo_keras.training.flags import add_training_arguments
from glomo_keras.training.flags import default_data
from glomo_keras.training.flags import prepare_devices
from glomo_keras.training.flags import settings_from_flags
from glomo_keras.training.flags import train_arguments
from glomo_keras.tuning.space import SPACE


def configure(parser):
    """Adds the `tune` flags to `parser`."""
    add_training_arguments(parser, output="tuning/<dataset>", exports=False)
    parser.add_argument("--trials", type=positive_int, default=10,
                        help="trials in total (default 10)")
    parser.add_argument("--search", default="random", choices=["random", "bayesian"],
                        help="KerasTuner oracle (default random)")
    parser.add_argument("--params", nargs="+", default=list(SPACE), choices=SPACE,
                        metavar="FIELD",
                        help=f"the fields to tune (default all: {' '.join(SPACE)})")
    parser.set_defaults(func=run)


def run(args):
    """Runs the search for parsed flags; returns the exit status."""
    prepare_devices(args)
    from glomo_keras.tuning import tune

    config, options = settings_from_flags(args)
    args.data = args.data or default_data(config.dataset)
    output = args.output or f"tuning/{config.dataset}"
    summary = tune(config, args.data, output, options, trials=args.trials, names=args.params,
                   search=args.search, **train_arguments(args))
    print(f"best trial {summary['best_trial']}: {summary['objective']} "
          f"{summary['best_score']:.4f} ({len(summary['trials'])} trials)")
    print(f"train it: glomo-keras train --dataset {config.dataset} --data {args.data} "
          f"--config {output}/best_config.json")
    return 0
