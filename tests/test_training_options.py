"""`TrainingOptions`, and how one set of field names reaches the config and the options."""

import argparse
import json

import pytest

from glomo_keras.config import GLoMoConfig
from glomo_keras.training.flags import add_training_arguments
from glomo_keras.training.flags import settings_from_flags
from glomo_keras.training.flags import train_arguments
from glomo_keras.training.options import TrainingOptions
from glomo_keras.training.options import replace_settings
from glomo_keras.training.options import run_settings


def test_options_take_the_dataset_column_and_round_trip():
    options = TrainingOptions.for_dataset("mosei", epochs=3, lr_decay_epochs=[2])
    assert (options.batch_size, options.learning_rate, options.epochs) == (64, 1e-5, 3)
    assert options.lr_decay_epochs == (2,)
    assert (options.seed, options.strategy, options.precision) == (5576, "auto", "auto")
    values = json.loads(json.dumps(options.to_dict()))
    assert TrainingOptions.from_dict(values) == options
    assert options.replace(seed=7).seed == 7


@pytest.mark.parametrize("overrides, message", [
    (dict(learning_rate=0), "learning_rate=0 is invalid: expected a positive number"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(epochs=2.5), "epochs=2.5"),
    (dict(weight_decay=-1), "weight_decay=-1"),
    (dict(bucketing="yes"), "bucketing='yes'"),
    (dict(seed=True), "seed=True"),
    (dict(strategy="ring"), "strategy='ring'"),
    (dict(precision="half"), "precision='half'"),
    (dict(lr_decay_epochs=[-1]), "lr_decay_epochs"),
])
def test_impossible_options_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainingOptions.for_dataset("mosi", **overrides)


def test_options_without_a_dataset_need_the_table_fields():
    with pytest.raises(ValueError, match="for_dataset"):
        TrainingOptions()
    own = TrainingOptions.for_dataset("my_reviews", batch_size=8, learning_rate=1e-3, epochs=2)
    assert own.batch_size == 8
    with pytest.raises(ValueError, match="Unknown dataset 'my_reviews'"):
        TrainingOptions.for_dataset("my_reviews", batch_size=8)


def test_each_name_goes_to_its_object():
    config, options = run_settings("mosi", {"hidden_dim": 64, "epochs": 3, "seed": 9,
                                            "length_aware": True, "bucketing": True})
    assert (config.hidden_dim, config.length_aware) == (64, True)
    assert (options.epochs, options.seed, options.bucketing, options.batch_size) == (
        3, 9, True, 240)
    config, options = replace_settings(config, options, {"hidden_dim": 32, "batch_size": 8})
    assert (config.hidden_dim, options.batch_size, options.epochs) == (32, 8, 3)


def test_unknown_names_and_crossed_settings_are_refused():
    with pytest.raises(ValueError, match="Unknown field 'epoch'.*did you mean 'epochs'"):
        run_settings("mosi", {"epoch": 3})
    with pytest.raises(ValueError, match="Unknown field 'hiden_dim'.*did you mean 'hidden_dim'"):
        run_settings("mosi", {"hiden_dim": 3})
    with pytest.raises(ValueError, match="bucketing=True is invalid.*length_aware=True"):
        run_settings("mosi", {"bucketing": True})
    with pytest.raises(ValueError, match="'epochs' is not a GLoMoConfig override.*TrainingOptions"):
        GLoMoConfig.for_dataset("mosi", epochs=3)


def test_flags_config_file_and_set_reach_both_objects(tmp_path):
    parser = argparse.ArgumentParser()
    add_training_arguments(parser)
    path = tmp_path / "best_config.json"
    path.write_text(json.dumps({"hidden_dim": 32, "learning_rate": 1e-3, "epochs": 4}))
    args = parser.parse_args([
        "--dataset", "mosei", "--epochs", "2", "--batch-size", "16", "--strategy", "default",
        "--precision", "float32", "--config", str(path), "--set", "epochs=5",
        "--set", "weight_decay=0.0", "--set", "num_experts=t:3,a:2,v:3",
    ])
    config, options = settings_from_flags(args)
    assert (config.hidden_dim, config.num_experts) == (32, (3, 2, 3))
    assert (options.epochs, options.batch_size, options.learning_rate) == (5, 16, 1e-3)
    assert (options.weight_decay, options.strategy, options.precision) == (0.0, "default",
                                                                          "float32")


def test_export_flags_reach_train():
    parser = argparse.ArgumentParser()
    add_training_arguments(parser)
    chosen = train_arguments(parser.parse_args(["--dataset", "mosi", "--export-dir", "models/x"]))
    assert (chosen["export_dir"], chosen["export"]) == ("models/x", True)
    default = train_arguments(parser.parse_args(["--dataset", "mosi"]))
    assert (default["export_dir"], default["export"]) == (None, True)
    assert train_arguments(parser.parse_args(["--dataset", "mosi", "--no-export"]))["export"] is False
    with pytest.raises(SystemExit):  # one or the other
        parser.parse_args(["--dataset", "mosi", "--no-export", "--export-dir", "models/x"])


def test_first_format_configs_load_with_their_training_fields_ignored():
    saved = {**GLoMoConfig.for_dataset("mosi").to_dict(), "batch_size": 4, "epochs": 2,
             "learning_rate": 3e-4, "seed": 11, "bucketing": False, "weight_decay": 1e-4,
             "adam_epsilon": 1e-8, "lr_decay_epochs": [80, 100], "lr_decay_factor": 0.1}
    assert GLoMoConfig.from_dict(saved) == GLoMoConfig.for_dataset("mosi")
