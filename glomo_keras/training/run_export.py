"""A finished run's selected model as a preset and as a SavedModel.

`publish_run` loads the selected seed's `model.keras` once and writes it
with its preprocessor as a `GLoMoSentimentAnalyzer` preset and, when asked,
as a TF Serving SavedModel; `export_run` and `export_preset` turn a run or
a preset into a SavedModel later (layouts: `glomo_keras.artifacts`).
"""

import json
import pathlib

import keras

from glomo_keras import artifacts
from glomo_keras.errors import MissingFileError


def publish_run(run_dir, results, export_dir=None, export=True):
    """Writes the selected seed of a finished run as a preset and a SavedModel.

    Args:
        run_dir: the run directory of `train`.
        results: the run's results dict (`selected_seed`, `per_seed`).
        export_dir: the SavedModel base; default `<run_dir>/saved_model`.
        export: whether to write the SavedModel.

    Returns:
        `{"preset": path}`, plus `"export": path` of the new version folder
        with `export` (strings, for `results.json`).

    Example:

    ```python
    results.update(publish_run("runs/mosei", results))
    results["preset"], results["export"]   # runs/mosei/preset, runs/mosei/saved_model/1
    ```
    """
    run = pathlib.Path(run_dir)
    analyzer = _run_analyzer(run, results, results["selected_seed"])
    published = {"preset": str(analyzer.save_to_preset(run / artifacts.RUN_PRESET_DIR,
                                                       overwrite=True))}
    if export:
        published["export"] = str(_export(analyzer, export_dir or run / artifacts.RUN_EXPORT_DIR))
    return published


def export_run(run_dir, export_dir=None, results=None, seed=None, precision="float32"):
    """Exports a run's selected seed as a SavedModel (TF Serving layout).

    Args:
        run_dir: the run directory of `train`.
        export_dir: the export base; default `<run_dir>/saved_model`.
        results: the run's results dict (default: read `results.json`).
        seed: export this seed instead of the selected one.
        precision: the compute inside the SavedModel (`export_saved_model`).

    Returns:
        The path of the new version folder.

    Example:

    ```python
    export_run("runs/mosei")  # runs/mosei/saved_model/1
    ```
    """
    run = pathlib.Path(run_dir)
    results = artifacts.read_run_results(run) if results is None else results
    analyzer = _run_analyzer(run, results, results["selected_seed"] if seed is None else seed)
    return _export(analyzer, export_dir or run / artifacts.RUN_EXPORT_DIR, precision)


def export_preset(preset, export_dir=None, precision="float32"):
    """Exports a preset as a SavedModel (TF Serving layout).

    Args:
        preset: a folder written by `GLoMoSentimentAnalyzer.save_to_preset`,
            or a `kaggle://` / `hf://` handle of a published one.
        export_dir: the export base; default `saved_models/<dataset>`.
        precision: the compute inside the SavedModel (`export_saved_model`).

    Returns:
        The path of the new version folder.

    Example:

    ```python
    export_preset("runs/mosei/preset")  # saved_models/mosei/1
    ```
    """
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer

    analyzer = GLoMoSentimentAnalyzer.from_preset(preset)
    source = preset if "://" in str(preset) else str(pathlib.Path(preset).resolve())
    return _export(analyzer, export_dir or pathlib.Path("saved_models") / analyzer.config.dataset,
                   precision, preset=source)


def _export(analyzer, base, precision="float32", **metadata):
    """`analyzer` as the next SavedModel version under `base` (`export_saved_model`)."""
    from glomo_keras.export import export_saved_model

    return export_saved_model(analyzer.model, analyzer.preprocessor, pathlib.Path(base),
                              metadata={**metadata, **analyzer.metadata}, precision=precision)


def _run_analyzer(run, results, seed):
    """One seed of a run (its model without optimizer, its preprocessor) as an analyzer."""
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer
    from glomo_keras.data import GLoMoPreprocessor
    from glomo_keras.model import GLoMo

    model_path = artifacts.seed_dir(run, seed) / artifacts.SEED_MODEL_FILE
    if not model_path.exists():
        raise MissingFileError(
            f"{model_path} does not exist (the run's seeds: {list(results['per_seed'])})")
    # Presets and SavedModels keep the weights only, not the optimizer state.
    model = keras.saving.load_model(model_path, custom_objects={"GLoMo": GLoMo},
                                    compile=False)
    preprocessor = GLoMoPreprocessor.from_saved(
        json.loads((run / artifacts.PREPROCESSING_FILE).read_text()))
    metadata = {"run": str(run.resolve()), "seed": seed,
                "test": results["per_seed"][str(seed)]["test"]}
    return GLoMoSentimentAnalyzer(model, preprocessor, metadata)
