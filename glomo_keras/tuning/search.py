"""`tune`: KerasTuner search over `train` runs, scored on the validation split.

The search directory holds `kerastuner/` (KerasTuner's oracle and trials),
`trials/<id>/` (each trial's `train` run), `trials.csv` and
`best_config.json` (the best trial's fields, for `glomo-keras train
--config`). Rerunning the same command continues the search.
"""

import pathlib
import shutil

import keras

from glomo_keras.artifacts import write_json_atomically
from glomo_keras.config import GLoMoConfig
from glomo_keras.errors import SetupError
from glomo_keras.studies.data import load_for_config
from glomo_keras.studies.tables import write_csv
from glomo_keras.training import train
from glomo_keras.training.options import TrainingOptions
from glomo_keras.training.trainer import log
from glomo_keras.training.options import replace_settings
from glomo_keras.tuning.space import SPACE
from glomo_keras.tuning.space import check_names
from glomo_keras.tuning.space import suggest

# The validation metric each task optimises, as KerasTuner objectives.
OBJECTIVES = {
    "regression": ("val_mae", "mae", "min"),
    "classification": ("val_f1", "f1", "max"),
}
ORACLES = ("random", "bayesian")


def base_overrides(config, options):
    """The fields of `config` and `options` that differ from the dataset's Table 1 column."""
    defaults = {**GLoMoConfig.for_dataset(config.dataset).to_dict(),
                **TrainingOptions.for_dataset(config.dataset).to_dict()}
    return {name: value for name, value in {**config.to_dict(), **options.to_dict()}.items()
            if value != defaults[name]}


def tune(base_config, data, output_dir, options=None, trials=10, names=SPACE, search="random",
         backbone="minilm", seeds=None, overwrite=False, use_cache=True,
         **train_options):
    """Searches hyper-parameters around `base_config` on the validation metric.

    Each trial trains with `train` (every seed; no export) and is scored by
    `OBJECTIVES` on the validation split, averaged over the seeds; the test
    split is never looked at.

    Args:
        base_config: the `GLoMoConfig` the space is centred on (Table 1).
        data: the data file or folder.
        output_dir: the search directory.
        options: the `TrainingOptions` the space is centred on; default the dataset's.
        trials: the number of trials in total (a rerun adds the missing ones).
        names: the fields to tune (`glomo_keras.tuning.SPACE`).
        search: "random" or "bayesian" (KerasTuner's oracles).
        backbone, seeds, use_cache, **train_options: as `train`'s.
        overwrite: discard a previous search in `output_dir`.

    Returns:
        dict with `objective`, `best_trial`, `best_score`, `best_config` and `trials`.

    Example:

    ```python
    best = tune(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl", "tuning/mosi", trials=20)
    best["best_config"]  # {"hidden_dim": 64, "learning_rate": 3.1e-05, ...}
    ```
    """
    try:
        import keras_tuner
    except ImportError:
        raise SetupError("tuning needs KerasTuner, which is not installed: "
                         "pip install 'glomo-keras[analysis]'") from None
    options = options or TrainingOptions.for_dataset(base_config.dataset)
    check_names(names)
    if search not in ORACLES:
        raise ValueError(f"search={search!r}: expected one of {list(ORACLES)}")
    output = pathlib.Path(output_dir)
    if overwrite and output.exists():
        shutil.rmtree(output)
    objective_name, metric, direction = OBJECTIVES[base_config.task]
    objective = keras_tuner.Objective(objective_name, direction=direction)
    oracle_class = {"random": keras_tuner.oracles.RandomSearchOracle,
                    "bayesian": keras_tuner.oracles.BayesianOptimizationOracle}[search]
    oracle = oracle_class(objective=objective, max_trials=trials, seed=options.seed)
    dataset = load_for_config(base_config, data, backbone, use_cache)

    def run_trial(trial):
        overrides = suggest(trial.hyperparameters, base_config, options, names)
        log(f"trial {trial.trial_id}: {overrides}", "tune")
        keras.backend.clear_session()
        config, trial_options = replace_settings(base_config, options, overrides)
        results = train(config, dataset, output / "trials" / trial.trial_id, trial_options,
                        backbone=backbone, seeds=seeds, export=False, **train_options)
        return results["mean"]["valid"][metric]

    tuner = _tuner_class(keras_tuner, run_trial)(
        hypermodel=None, oracle=oracle, directory=str(output), project_name="kerastuner")
    tuner.search()
    rows = _trial_rows(tuner, objective_name, base_config, options, names)
    if not rows:
        raise RuntimeError(f"no trial of {output} finished; see kerastuner/trial_*/trial.json")
    best = tuner.oracle.get_best_trials(1)[0]
    best_config = {**base_overrides(base_config, options),
                   **suggest(best.hyperparameters, base_config, options, names)}
    write_json_atomically(output / "best_config.json", best_config)
    write_csv(rows, output / "trials.csv")
    summary = {"objective": objective_name, "direction": direction,
               "best_trial": best.trial_id, "best_score": best.score,
               "best_config": best_config, "trials": rows}
    write_json_atomically(output / "tuning.json", summary)
    log(f"best trial {best.trial_id}: {objective_name} {best.score:.4f}; "
        f"wrote {output / 'best_config.json'} and {output / 'trials.csv'}", "tune")
    return summary


def _tuner_class(keras_tuner, score):
    """A `keras_tuner.Tuner` class whose trial's objective is `score(trial)` (a `train` run's)."""

    class TrainTuner(keras_tuner.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            return {self.oracle.objective.name: score(trial)}

    return TrainTuner


def _trial_rows(tuner, objective_name, base_config, base_options, names):
    """One row per scored trial: id, status, score and the values it trained with."""
    rows = []
    for trial in tuner.oracle.trials.values():
        if trial.score is None:
            continue
        rows.append({"trial": trial.trial_id, "status": trial.status,
                     objective_name: trial.score,
                     **suggest(trial.hyperparameters, base_config, base_options, names)})
    return sorted(rows, key=lambda row: row["trial"])
