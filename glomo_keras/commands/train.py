"""`glomo-keras train`: the flags of `glomo_keras.training.flags`, then `train`.

Example:

```
glomo-keras train --dataset mosei --data datasets/mosei.pkl --seeds 1111 1112
glomo-keras train --dataset mosi --data datasets/mosi.pkl --set epochs=3 --set hidden_dim=64
```

No Keras at module level: `--backend` is set first. The recipes take the same flags.
"""

import pathlib

from glomo_keras.training.flags import add_training_arguments
from glomo_keras.training.flags import default_data
from glomo_keras.training.flags import prepare_devices
from glomo_keras.training.flags import print_where_results_are
from glomo_keras.training.flags import settings_from_flags
from glomo_keras.training.flags import train_arguments


def configure(parser):
    """Adds the `train` flags to `parser` (the CLI's `train` command)."""
    add_training_arguments(parser)
    parser.set_defaults(func=run)


def run(args):
    """Runs training for parsed flags; returns the exit status."""
    prepare_devices(args)
    from glomo_keras.training import train

    config, options = settings_from_flags(args)
    output = pathlib.Path(args.output or f"runs/{config.dataset}")
    data = args.data or default_data(config.dataset)
    results = train(config, data, output, options, **train_arguments(args))
    if not (output / "results.json").exists():
        # A non-chief worker of --strategy multi_worker: only the chief
        # (worker 0) writes results, predictions and the export.
        print(f"done; this worker wrote under {output / 'workers'}, the chief "
              "(worker 0) writes results.json in its own --output")
        return 0
    print_where_results_are(results, output)
    return 0
