"""A finished run's selected model as a preset and as a SavedModel.

`write_run_preset` writes the selected seed's model and preprocessor as a
`GLoMoSentimentAnalyzer` preset (`<run>/preset/`); `export_run` and
`export_preset` turn a run or a preset into a TF Serving SavedModel.
"""

import json
import pathlib

import keras

from glomo_keras.data import PreprocessingSettings
from glomo_keras.errors import MissingFileError

# A run's SavedModel versions, `<run>/saved_model/<version>/`.
RUN_EXPORT_DIR = "saved_model"


def export_run(run_dir, export_dir=None, results=None, seed=None):
    """Exports a run's selected seed as a SavedModel (TF Serving layout).

    Args:
        run_dir: the run directory of `train`.
        export_dir: the export base; the version folder goes inside it.
            Default `<run_dir>/saved_model`.
        results: the run's results dict (default: read `results.json`).
        seed: export this seed instead of the selected one.

    Returns:
        The path of the new version folder.

    Example:

    ```python
    export_run("runs/mosei")  # runs/mosei/saved_model/1
    ```
    """
    from glomo_keras.export import export_saved_model

    run = pathlib.Path(run_dir)
    results = read_run_results(run) if results is None else results
    seed = results["selected_seed"] if seed is None else seed
    model, settings = _run_model(run, results, seed)
    base = pathlib.Path(export_dir or run / RUN_EXPORT_DIR)
    return export_saved_model(model, settings, base, metadata=_run_metadata(run, results, seed))


def read_run_results(run_dir):
    """A finished run's `results.json`.

    Raises:
        MissingFileError: `run_dir` is not a folder of `train` or its run
            has not finished.

    Example:

    ```python
    read_run_results("runs/mosei")["selected_seed"]
    ```
    """
    run = pathlib.Path(run_dir)
    if not run.is_dir():
        raise MissingFileError(f"run folder {run} does not exist")
    path = run / "results.json"
    if not path.exists():
        raise MissingFileError(f"{run} holds no results.json: not a finished "
                               "glomo-keras train run (train writes it at the end)")
    return json.loads(path.read_text())


def _run_model(run, results, seed):
    """The model of one seed of a run (without its optimizer) and the preprocessing settings."""
    from glomo_keras.model import GLoMo

    model_path = run / f"seed_{seed}" / "model.keras"
    if not model_path.exists():
        raise MissingFileError(
            f"{model_path} does not exist (the run's seeds: {list(results['per_seed'])})")
    # Presets and SavedModels keep the weights only, not the optimizer state.
    model = keras.saving.load_model(model_path, custom_objects={"GLoMo": GLoMo},
                                    compile=False)
    settings = PreprocessingSettings.from_dict(
        json.loads((run / "preprocessing.json").read_text())
    )
    return model, settings


def _run_metadata(run, results, seed):
    return {"run": str(run.resolve()), "seed": seed,
            "test": results["per_seed"][str(seed)]["test"]}


def write_run_preset(run_dir, results):
    """Writes the selected seed of a run as a preset, `<run>/preset/`.

    Args:
        run_dir: the run directory of `train`.
        results: the run's results dict.

    Returns:
        The preset folder.

    Example:

    ```python
    GLoMoSentimentAnalyzer.from_preset(write_run_preset("runs/mosei", results))
    ```
    """
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer
    from glomo_keras.data import GLoMoPreprocessor

    run = pathlib.Path(run_dir)
    seed = results["selected_seed"]
    model, settings = _run_model(run, results, seed)
    analyzer = GLoMoSentimentAnalyzer(
        model, GLoMoPreprocessor.from_settings(settings), _run_metadata(run, results, seed))
    return analyzer.save_to_preset(run / "preset", overwrite=True)


def export_preset(preset_dir, export_dir=None):
    """Exports a preset folder as a SavedModel (TF Serving layout).

    Args:
        preset_dir: a folder written by `GLoMoSentimentAnalyzer.save_to_preset`.
        export_dir: the export base; default `saved_models/<dataset>`.

    Returns:
        The path of the new version folder.

    Example:

    ```python
    export_preset("runs/mosei/preset")  # saved_models/mosei/1
    ```
    """
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer
    from glomo_keras.export import export_saved_model

    analyzer = GLoMoSentimentAnalyzer.from_preset(preset_dir)
    base = pathlib.Path(export_dir or pathlib.Path("saved_models") / analyzer.config.dataset)
    return export_saved_model(analyzer.model, analyzer.preprocessor, base,
                              metadata={"preset": str(pathlib.Path(preset_dir).resolve()),
                                        **analyzer.metadata})
