"""`glomo-keras export --run DIR | --preset DIR|HANDLE`: a run or a preset as a SavedModel.

A run is exported inside itself (`<run>/saved_model/<version>/`) unless
`--export-dir` says otherwise; a run that `train` already exported is not
exported again (it says where the export is) unless `--force`.

Example:

```
glomo-keras export --run runs/mosei                      # runs/mosei/saved_model/1
glomo-keras export --run runs/mosei --export-dir models/mosei --force
glomo-keras export --preset runs/mosei/preset --export-dir models/mosei
glomo-keras export --preset hf://me/glomo_mosei --export-dir models/mosei
glomo-keras export --run runs/mosei --precision auto --force   # bfloat16 where the CPU has it
```
"""

import pathlib

from glomo_keras.errors import UsageError
from glomo_keras.training.devices import EXPORT_PRECISIONS


def configure(parser):
    """Adds the `export` flags to `parser`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="the run folder of `train`")
    source.add_argument("--preset", help="a preset folder (GLoMoSentimentAnalyzer.save_to_preset) "
                        "or a kaggle:// or hf:// handle of a published one")
    parser.add_argument("--export-dir", help="the SavedModel base; the version folder goes "
                        "inside (default: <run>/saved_model for --run, "
                        "saved_models/<dataset> for --preset)")
    parser.add_argument("--seed", type=int, help="export this seed of --run, not the selected one")
    parser.add_argument("--precision", choices=EXPORT_PRECISIONS, default="float32",
                        help="the compute inside the SavedModel; its inputs and outputs stay "
                        "float32 (default float32; auto: mixed_bfloat16 where this CPU has "
                        "avx512_bf16/amx_bf16, GLOMO_CPU_BF16=0 or 1 overrides)")
    parser.add_argument("--force", action="store_true",
                        help="export a new version even if the run was exported already")
    parser.set_defaults(func=run)


def run(args):
    """Exports for parsed flags; returns the exit status."""
    from glomo_keras.artifacts import read_run_results
    from glomo_keras.training.run_export import export_preset
    from glomo_keras.training.run_export import export_run

    if args.preset:
        if args.seed is not None:
            raise UsageError("--seed applies to --run, not to --preset")
        path = export_preset(args.preset, args.export_dir, precision=args.precision)
    else:
        results = read_run_results(args.run)
        done = results.get("export")
        if done and pathlib.Path(done).is_dir() and not (
                args.force or args.seed is not None or args.export_dir
                or args.precision != "float32"):
            print(f"{args.run} is exported already: {done} (--force exports a new version)")
            return 0
        path = export_run(args.run, args.export_dir, results=results, seed=args.seed,
                          precision=args.precision)
    print(f"SavedModel: {path}")
    return 0
