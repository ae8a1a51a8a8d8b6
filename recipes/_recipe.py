"""What the five paper recipes share: the flags, the built-in sample, `train`.

A recipe is one call, `run_recipe(dataset)`: the flags of `glomo-keras
train` are read (`--backend` applied before Keras is imported); the data
defaults to the dataset table's file, or, when it is absent, to the
built-in sample with the offline `minilm` backbone and a few-epoch demo;
the settings are the paper's Table 1 column, then `--config`, then `--set`;
`glomo_keras.train` trains, selects, scores and exports.

Example (a recipe, run as `python recipes/train_mosei.py [flags]`):

```python
from _recipe import run_recipe

run_recipe("mosei")
```
"""

import os
import pathlib
import sys

from glomo_keras.cli import CommandLineParser
from glomo_keras.cli import import_tensorflow
from glomo_keras.datasets import get_dataset
from glomo_keras.errors import GLoMoError
from glomo_keras.training import devices
from glomo_keras.training import flags

SAMPLE_PATH = pathlib.Path("datasets") / "glomo_sample_mosei.pkl"
# The built-in sample's demo: a few epochs of a length-aware model with
# bucketing (the sample's utterances average 16 WordPieces, and batches
# padded to their longest halve a step; `--set length_aware=false --set
# bucketing=false` for the released model's padding behaviour).
DEMO = dict(
    epochs=6, learning_rate=1e-4, batch_size=32,
    max_sequence_length=48,  # the sample's longest utterance is 39 words
    task="regression", class_names=None, text_encoder="bert",
    acoustic_columns=None, visual_columns=None, length_aware=True, bucketing=True,
)


def run_recipe(dataset, argv=None):
    """Trains GLoMo on `dataset` with the paper's settings and the flags; exits on mistakes.

    Args:
        dataset: "mosi", "mosei", "urfunny", "mustard" or "cherma".
        argv: the flags of `glomo-keras train` (default `sys.argv[1:]`).

    Returns:
        the results dict of `glomo_keras.train` (also `results.json`).

    Example:

    ```python
    run_recipe("mosi", ["--seeds", "1111", "1112", "--compatibility", "released"])
    ```
    """
    prog = f"train_{dataset}.py"
    args, defaults = _parse_flags(dataset, prog, argv)
    from glomo_keras import train  # after --backend

    try:
        config, options = flags.settings_from_flags(args, **defaults)
        print(f"{config.dataset}: hidden {config.hidden_dim}, {config.num_layers} encoder "
              f"layers, T {config.max_sequence_length}, batch {options.batch_size}, "
              f"{options.epochs} epochs", flush=True)
        results = train(config, args.data, args.output, options, **flags.train_arguments(args))
    except GLoMoError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        sys.exit(2)
    flags.print_where_results_are(results, args.output)
    return results


def _parse_flags(dataset, prog, argv):
    """The flags with data, backbone and output filled in, and the config defaults under them."""
    info = get_dataset(dataset)
    parser = CommandLineParser(
        prog=prog, description=f"Train GLoMo on {info.title} with the paper's hyper-parameters.",
    )
    flags.add_training_arguments(parser, dataset_required=False)
    args = parser.parse_args(argv)
    args.dataset = info.name
    args.data = args.data or info.default_data
    defaults = {}
    if not os.path.exists(args.data):
        defaults = _use_the_sample(args, info)
    args.output = args.output or f"runs/{args.dataset}"
    try:
        devices.select_backend(args.backend, args.device)
        import_tensorflow(verbose=False)  # quietly, once the backend is set
        flags.prepare_devices(args)
    except GLoMoError as error:
        parser.exit(2, f"{prog}: {error}\n")
    return args, defaults


def _use_the_sample(args, info):
    """Points `args` at the built-in sample; returns the demo's settings."""
    from glomo_keras.data import sample

    args.backbone = args.backbone or "minilm"
    epochs = args.epochs or DEMO["epochs"]
    print(
        f"{args.data} not found: training on the built-in sample instead "
        f"({SAMPLE_PATH}, MOSEI layout, sentiment regression) with the "
        f"'{args.backbone}' backbone for {epochs} epoch{'s' * (epochs != 1)}. Put the "
        f"real file at {info.default_data} (or pass --data) to reproduce the paper.",
        flush=True,
    )
    if not SAMPLE_PATH.exists():
        sample.write(SAMPLE_PATH)
    args.data = str(SAMPLE_PATH)
    args.output = args.output or f"runs/{args.dataset}_sample"
    return dict(DEMO, acoustic_dim=sample.ACOUSTIC_DIM, visual_dim=sample.VISUAL_DIM)
