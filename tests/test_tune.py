"""`glomo-keras tune`: KerasTuner trials scored on validation, resumable, and the
best configuration trained with `glomo-keras train --config`."""

import csv
import json

import pytest
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

from glomo_keras.cli import main
from glomo_keras.config import GLoMoConfig
from glomo_keras.training.options import TrainingOptions
from glomo_keras.training.options import replace_settings
from glomo_keras.tuning.space import SPACE
from glomo_keras.tuning.space import suggest


def test_suggestions_stay_valid_around_table_1():
    import keras_tuner

    base = GLoMoConfig.for_dataset("mosi")
    options = TrainingOptions.for_dataset("mosi")
    for seed in range(20):
        hp = keras_tuner.HyperParameters()
        defaults = suggest(hp, base, options)  # registers the space
        assert defaults["hidden_dim"] == base.hidden_dim  # the defaults are Table 1's
        assert defaults["batch_size"] == options.batch_size
        assert {space.name for space in hp.space} == set(SPACE)
        for space in hp.space:
            hp.values[space.name] = space.random_sample(seed)
        config, trial = replace_settings(base, options, suggest(hp, base, options))
        assert config.hidden_dim % config.num_heads == 0
        assert config.top_k <= config.num_experts
        assert options.learning_rate / 4 <= trial.learning_rate <= options.learning_rate * 4
        assert trial.batch_size in (120, 240, 480)


@pytest.mark.slow
def test_tune_scores_on_validation_resumes_and_its_best_config_trains(tmp_path, capsys):
    data = write_small_sample(tmp_path / "small.pkl")
    output = tmp_path / "tuning"
    flags = ["tune", "--dataset", "mosei", "--data", str(data), "--output", str(output),
             *TINY_FLAGS, "--epochs", "1", "--seeds", "3", "--no-cache",
             "--params", "learning_rate", "hidden_dim", "num_windows"]
    assert main([*flags, "--trials", "1"]) == 0
    first_trials = {path.parent.name: path.stat().st_mtime_ns
                    for path in (output / "trials").glob("*/results.json")}
    assert len(first_trials) == 1
    assert main([*flags, "--trials", "2"]) == 0  # continues: one more trial
    with open(output / "trials.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 and {row["status"] for row in rows} == {"COMPLETED"}
    for trial, written in first_trials.items():
        assert (output / "trials" / trial / "results.json").stat().st_mtime_ns == written
    for row in rows:
        results = json.loads((output / "trials" / row["trial"] / "results.json").read_text())
        # The objective is the validation MAE (the test split is never used).
        assert float(row["val_mae"]) == pytest.approx(results["mean"]["valid"]["mae"])
        assert results["config"]["hidden_dim"] == int(row["hidden_dim"])
        assert results["config"]["num_windows"] == int(row["num_windows"])
        assert (output / "kerastuner" / f"trial_{row['trial']}" / "trial.json").exists()
        # Each trial's seed is an HParams session of `tensorboard --logdir <output>`.
        session = _session_hparams(output / "trials" / row["trial"] / "logs" / "seed_3")
        assert session["hidden_dim"] == int(row["hidden_dim"])
        assert session["learning_rate"] == pytest.approx(float(row["learning_rate"]))
    best = min(rows, key=lambda row: float(row["val_mae"]))
    best_config = json.loads((output / "best_config.json").read_text())
    assert best_config["hidden_dim"] == int(best["hidden_dim"])
    assert best_config["learning_rate"] == pytest.approx(float(best["learning_rate"]))
    assert (best_config["num_heads"], best_config["epochs"]) == (2, 1)  # the tiny flags
    capsys.readouterr()

    run = tmp_path / "best_run"
    assert main(["train", "--dataset", "mosei", "--data", str(data), "--output", str(run),
                 "--backbone", "random:bert_tiny", "--config", str(output / "best_config.json"),
                 "--seeds", "3", "--no-export", "--no-cache"]) == 0
    results = json.loads((run / "results.json").read_text())
    trained = {**results["config"], **results["training"]}
    for name, value in best_config.items():
        assert trained[name] == value, name


def _session_hparams(log_dir):
    """The hyper-parameters of a TensorBoard run's HParams session."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import metadata

    log = event_accumulator.EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    log.Reload()
    content = log.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    return {name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for name, value in info.hparams.items()}


def test_train_config_file_must_be_a_json_object(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["train", "--dataset", "mosi", "--data", "x.pkl", "--config", str(bad)]) == 2
    assert "expected a JSON object" in capsys.readouterr().err
