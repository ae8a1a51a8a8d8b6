"""`glomo-keras export --run DIR`: export a finished run as a SavedModel.

Example:

```
glomo-keras export --run runs/mosei --export-dir saved_models/mosei
```
"""


def register(subparsers):
    """Adds the `export` command to `subparsers`."""
    parser = subparsers.add_parser(
        "export", help="export a finished run's selected model (TF Serving layout)"
    )
    parser.add_argument("--run", required=True, help="the run directory of `train`")
    parser.add_argument("--export-dir", help="export base (default saved_models/<dataset>)")
    parser.add_argument("--seed", type=int, help="export this seed, not the selected one")
    parser.set_defaults(func=run)


def run(args):
    from glomo_keras.training.run_export import export_run

    path = export_run(args.run, args.export_dir, seed=args.seed)
    print(f"SavedModel: {path}")
    return 0
