"""`glomo-keras export --run DIR | --preset DIR`: a run or a preset as a SavedModel.

Example:

```
glomo-keras export --run runs/mosei --export-dir saved_models/mosei
glomo-keras export --preset runs/mosei/preset
```
"""


def register(subparsers):
    """Adds the `export` command to `subparsers`."""
    parser = subparsers.add_parser(
        "export", help="export a finished run's selected model (TF Serving layout)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="the run directory of `train`")
    source.add_argument("--preset", help="a preset folder (GLoMoSentimentAnalyzer.save_to_preset)")
    parser.add_argument("--export-dir", help="export base (default saved_models/<dataset>)")
    parser.add_argument("--seed", type=int, help="export this seed, not the selected one")
    parser.set_defaults(func=run)


def run(args):
    from glomo_keras.training.run_export import export_preset
    from glomo_keras.training.run_export import export_run

    if args.preset:
        if args.seed is not None:
            raise SystemExit("glomo-keras export: --seed applies to --run, not to --preset")
        path = export_preset(args.preset, args.export_dir)
    else:
        path = export_run(args.run, args.export_dir, seed=args.seed)
    print(f"SavedModel: {path}")
    return 0
