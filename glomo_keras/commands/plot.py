"""`glomo-keras plot RUN`: the paper's analysis figures of a finished run.

Example:

```
glomo-keras plot runs/mosi --data datasets/mosi.pkl [--split test] [--max-points 1000]
```
"""

import sys


def configure(parser):
    """Adds the `plot` flags to `parser`."""
    parser.add_argument("run", metavar="RUN", help="a finished glomo-keras train run directory")
    parser.add_argument("--data", required=True, help="the data file or folder the run used")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--seed", type=int, help="the seed's model (default: the run's "
                        "selected seed, lowest validation loss)")
    parser.add_argument("--max-points", type=int, default=1000, metavar="N",
                        help="at most N utterances, a fixed random subset (default 1000)")
    parser.add_argument("--output", help="the PNG folder (default RUN/figures)")
    parser.add_argument("--projector-dir", help="the Projector folder "
                        "(default RUN/logs/projector)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the tokenised-data cache")
    parser.set_defaults(func=run)


def run(args):
    """Writes the figures for parsed flags; returns the exit status."""
    from glomo_keras.analysis import RunNotFinishedError
    from glomo_keras.analysis import plot_run

    try:
        written = plot_run(args.run, args.data, args.output, args.split, args.seed,
                           args.max_points, args.projector_dir, not args.no_cache)
    except RunNotFinishedError as error:
        print(f"glomo-keras plot: {error}", file=sys.stderr)
        return 2
    print(f"{written['utterances']} {args.split} utterances of seed {written['seed']}:")
    for name, path in written["figures"].items():
        print(f"  {name:<18} {path}")
    print(f"Projector: tensorboard --logdir {written['projector']}")
    return 0
