"""Exporting the selected model of a finished (or finishing) run."""

import json
import pathlib

import keras

from glomo_keras.data import PreprocessingSettings


def export_run(run_dir, export_dir=None, results=None, seed=None):
    """Exports a run's selected seed as a SavedModel (TF Serving layout).

    Args:
        run_dir: the run directory of `train`.
        export_dir: the export base; the version folder goes inside it.
            Default `saved_models/<dataset>`.
        results: the run's results dict (default: read `results.json`).
        seed: export this seed instead of the selected one.

    Returns:
        The path of the new version folder.

    Example:

    ```python
    export_run("runs/mosei")  # saved_models/mosei/1
    ```
    """
    from glomo_keras.export import export_saved_model
    from glomo_keras.model import GLoMo


    run = pathlib.Path(run_dir)
    if results is None:
        path = run / "results.json"
        if not path.exists():
            raise FileNotFoundError(f"{run} holds no results.json: the run has not finished.")
        results = json.loads(path.read_text())
    seed = results["selected_seed"] if seed is None else seed
    model_path = run / f"seed_{seed}" / "model.keras"
    if not model_path.exists():
        raise FileNotFoundError(f"{model_path} does not exist (seeds: {list(results['per_seed'])}).")
    model = keras.saving.load_model(model_path, custom_objects={"GLoMo": GLoMo})
    settings = PreprocessingSettings.from_dict(
        json.loads((run / "preprocessing.json").read_text())
    )
    base = pathlib.Path(export_dir or pathlib.Path("saved_models") / model.config.dataset)
    return export_saved_model(
        model, settings, base,
        metadata={"run": str(run.resolve()), "seed": seed,
                  "test": results["per_seed"][str(seed)]["test"]},
    )
