"""`glomo-keras study ablations|experts|windows`: the paper's studies, resumable.

Every study takes the flags of `glomo-keras train`, trains one run folder
per point under `--output` and skips finished points when rerun.

Example:

```
glomo-keras study ablations --dataset mosi --data datasets/mosi.pkl --seeds 1 2 3 \\
    --output studies/mosi_ablations [--variants SUM MLP_M]
glomo-keras study experts --dataset mosi --data datasets/mosi.pkl --text 1 2 --acoustic 1 2 --visual 1 2
glomo-keras study windows --dataset mosi --data datasets/mosi.pkl --windows 1 2 3 4 5 6
```
"""

from glomo_keras.cli import positive_int
from glomo_keras.errors import UsageError
from glomo_keras.training.flags import add_training_arguments
from glomo_keras.training.flags import default_data
from glomo_keras.training.flags import prepare_devices
from glomo_keras.training.flags import settings_from_flags
from glomo_keras.training.flags import train_arguments


def configure(parser):
    """Adds the `study` command's three kinds to `parser`."""
    kinds = parser.add_subparsers(dest="study", required=True, metavar="ablations|experts|windows")
    ablations = kinds.add_parser(
        "ablations", help="the full model and every Table 4 row (ablations.csv/.md)")
    ablations.add_argument("--variants", nargs="+", metavar="NAME",
                           help="a subset, by folder name or label (e.g. sum SUM "
                           "no_text -T MLP_M ReAt_G); the full model always runs")
    experts = kinds.add_parser("experts",
                               help="Fig. 3b: experts per modality (experts.csv/.png)")
    for name in ("text", "acoustic", "visual"):
        experts.add_argument(f"--{name}", type=positive_int, nargs="+", default=[1, 2, 3, 4],
                             metavar="S", help=f"{name} expert counts (default 1 2 3 4)")
    windows = kinds.add_parser("windows",
                               help="Fig. 3a: local windows per modality (windows.csv/.png)")
    windows.add_argument("--windows", type=positive_int, nargs="+", default=[1, 2, 3, 4, 5, 6],
                         metavar="N", help="window counts (default 1 2 3 4 5 6)")
    windows.add_argument("--vary", nargs="+", default=["t", "a", "v"],
                         choices=["t", "a", "v", "all"],
                         help="one line per modality varied alone, and/or all together")
    for kind, study_parser in (("ablations", ablations), ("experts", experts),
                               ("windows", windows)):
        add_training_arguments(study_parser, output=f"studies/<dataset>_{kind}",
                               exports=False)
        if kind != "ablations":
            study_parser.add_argument("--metric", help="the figure's test metric "
                                      "(default acc2_non0, or f1 for classification)")
        study_parser.set_defaults(func=run, study=kind)


def run(args):
    """Runs one study for parsed flags; returns the exit status."""
    prepare_devices(args)
    from glomo_keras import studies
    from glomo_keras.studies.points import ablation_points

    if args.study == "ablations":
        try:
            ablation_points(args.variants)
        except ValueError as error:
            raise UsageError(f"--variants: {error}") from None
    config, training = settings_from_flags(args)
    args.data = args.data or default_data(config.dataset)
    options = dict(options=training, **train_arguments(args))
    output = args.output or f"studies/{config.dataset}_{args.study}"
    if args.study == "ablations":
        studies.ablation_study(config, args.data, output, variants=args.variants, **options)
    elif args.study == "experts":
        grid = {"t": args.text, "a": args.acoustic, "v": args.visual}
        studies.experts_study(config, args.data, output, grid=grid,
                              metric=args.metric, **options)
    else:
        studies.windows_study(config, args.data, output, windows=args.windows,
                              vary=args.vary, metric=args.metric, **options)
    print(f"study: {output}")
    return 0
