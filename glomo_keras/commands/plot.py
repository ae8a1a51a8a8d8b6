"""`glomo-keras plot RUN`: the paper's analysis figures of a finished run.

Example:

```
glomo-keras plot runs/mosi [--split test] [--max-points 1000] [--data datasets/mosi.pkl]
```
"""


def configure(parser):
    """Adds the `plot` flags to `parser`."""
    parser.add_argument("run", metavar="RUN", help="a finished glomo-keras train run directory")
    parser.add_argument("--data", help="the data file or folder (default: the one the run "
                        "trained on, from RUN/results.json)")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--seed", type=int, help="the seed's model (default: the run's "
                        "selected seed, lowest validation loss)")
    parser.add_argument("--max-points", type=int, default=1000, metavar="N",
                        help="at most N utterances, a fixed random subset (default 1000)")
    parser.add_argument("--output", help="the PNG folder (default RUN/figures)")
    parser.add_argument("--projector-dir", help="the Projector folder "
                        "(default the seed's TensorBoard run, RUN/logs/seed_<S>)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the tokenised-data cache")
    parser.set_defaults(func=run)


def run(args):
    """Writes the figures for parsed flags (into files and the run's TensorBoard).

    A run that is missing or unfinished, or whose data file is gone, raises
    a `GLoMoError` (the command line prints it on one line, exit 2).
    """
    from glomo_keras.analysis import plot_run

    written = plot_run(args.run, args.data, args.output, args.split, args.seed,
                       args.max_points, args.projector_dir, not args.no_cache)
    print(f"{written['utterances']} {args.split} utterances of seed {written['seed']}:")
    for name, path in written["figures"].items():
        print(f"  {name:<18} {path}")
    print(f"Images and Projector in run seed_{written['seed']}: "
          f"tensorboard --logdir {args.run.rstrip('/')}/logs")
    return 0
