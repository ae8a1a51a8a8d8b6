"""`tune`: KerasTuner search over `train` runs, scored on the validation split.

The study directory holds `kerastuner/` (KerasTuner's oracle and one
`trial_<id>/trial.json` per trial: hyper-parameters, score, status),
`trials/<id>/` (each trial's `glomo-keras train` run: `results.json` with the
resolved config, the training options and every metric), `trials.csv` (one
row per finished trial) and `best_config.json` (the best trial's config and
training fields as `--set` overrides, for `glomo-keras train --config`). Rerunning the same command
continues the search: finished trials are kept, an interrupted trial runs
again and resumes its training where it stopped.
"""

import csv
import pathlib
import shutil

import keras

from glomo_keras.artifacts import write_json_atomically
from glomo_keras.config import GLoMoConfig
from glomo_keras.errors import SetupError
from glomo_keras.studies.data import load_for_config
from glomo_keras.studies.runner import log
from glomo_keras.training import train
from glomo_keras.training.options import TrainingOptions
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


def require_keras_tuner():
    """Imports KerasTuner, or explains how to install it."""
    try:
        import keras_tuner
    except ImportError:
        raise SetupError(
            "tuning needs KerasTuner, which is not installed: pip install 'glomo-keras[analysis]'"
        ) from None
    return keras_tuner


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
    the validation `mae` (regression, minimised) or weighted `f1`
    (classification, maximised), averaged over the seeds; the test split is
    never looked at.

    Args:
        base_config: the `GLoMoConfig` the space is centred on (Table 1).
        data: the data file or folder.
        output_dir: the search directory.
        options: the `TrainingOptions` the space is centred on (its
            learning rate and batch size); default the dataset's.
        trials: the number of trials in total (a rerun adds the missing ones).
        names: the fields to tune (`glomo_keras.tuning.SPACE`).
        search: "random" or "bayesian" (KerasTuner's oracles).
        backbone: the backbone spec.
        seeds: each trial's seeds; default `[options.seed]`.
        overwrite: discard a previous search in `output_dir`.
        use_cache: use the tokenised-data cache.
        **train_options: other `train` arguments (`jit_compile`, `verbose`).

    Returns:
        dict with `objective`, `best_trial`, `best_score`, `best_config`
        (also `best_config.json`) and `trials` (also `trials.csv`).

    Example:

    ```python
    best = tune(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl", "tuning/mosi",
                trials=20, backbone="bert_base_en_uncased")
    best["best_config"]  # {"hidden_dim": 64, "learning_rate": 3.1e-05, ...}
    ```
    """
    keras_tuner = require_keras_tuner()
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
    tuner = _tuner_class(keras_tuner)(
        oracle=oracle, directory=str(output), project_name="kerastuner",
        base_config=base_config, base_options=options, dataset=dataset, runs_dir=output / "trials",
        names=list(names), metric=metric,
        train_kwargs=dict(backbone=backbone, seeds=seeds, export=False, **train_options),
    )
    tuner.search()
    rows = _trial_rows(tuner, objective_name, base_config, options, names)
    if not rows:
        raise RuntimeError(f"no trial of {output} finished; see kerastuner/trial_*/trial.json")
    best = tuner.oracle.get_best_trials(1)[0]
    best_config = {**base_overrides(base_config, options),
                   **suggest(best.hyperparameters, base_config, options, names)}
    write_json_atomically(output / "best_config.json", best_config)
    _write_csv(output / "trials.csv", rows)
    summary = {"objective": objective_name, "direction": direction,
               "best_trial": best.trial_id, "best_score": best.score,
               "best_config": best_config, "trials": rows}
    write_json_atomically(output / "tuning.json", summary)
    log(f"best trial {best.trial_id}: {objective_name} {best.score:.4f}; "
        f"wrote {output / 'best_config.json'} and {output / 'trials.csv'}", "tune")
    return summary


def _tuner_class(keras_tuner):
    """A `keras_tuner.Tuner` whose trials are `train` runs (built on demand,
    so that importing this module does not need KerasTuner)."""

    class TrainTuner(keras_tuner.Tuner):
        """Runs each trial as `train(config, dataset, runs_dir / trial_id, options)`."""

        def __init__(self, base_config, base_options, dataset, runs_dir, names, metric,
                     train_kwargs, **kwargs):
            super().__init__(hypermodel=None, **kwargs)
            self.base_config = base_config
            self.base_options = base_options
            self.dataset = dataset
            self.runs_dir = runs_dir
            self.names = names
            self.metric = metric
            self.train_kwargs = train_kwargs

        def run_trial(self, trial, *args, **kwargs):
            overrides = suggest(trial.hyperparameters, self.base_config, self.base_options,
                                self.names)
            log(f"trial {trial.trial_id}: {overrides}", "tune")
            keras.backend.clear_session()
            config, options = replace_settings(self.base_config, self.base_options, overrides)
            results = train(config, self.dataset, self.runs_dir / trial.trial_id, options,
                            **self.train_kwargs)
            score = results["mean"]["valid"][self.metric]
            return {self.oracle.objective.name: score}

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


def _write_csv(path, rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
