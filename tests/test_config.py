"""Tests for `GLoMoConfig`."""

import json

import pytest

from glomo_keras.config import GLoMoConfig
from glomo_keras.training.options import TrainingOptions

TABLE_1 = {
    # dataset: (batch, L, T, d, lr, epochs, dims t/a/v)
    "mosi": (240, 4, 60, 48, 4e-5, 70, (768, 74, 47)),
    "mosei": (64, 3, 80, 192, 1e-5, 100, (768, 74, 35)),
    "urfunny": (220, 3, 80, 112, 2e-5, 100, (768, 81, 91)),
    "mustard": (64, 3, 70, 160, 2e-5, 5, (768, 81, 91)),
    "cherma": (400, 7, 50, 256, 2e-5, 20, (1024, 1024, 2048)),
}


@pytest.mark.parametrize("dataset", sorted(TABLE_1))
def test_dataset_columns_follow_the_paper(dataset):
    config = GLoMoConfig.for_dataset(dataset)
    options = TrainingOptions.for_dataset(dataset)
    batch, layers, length, hidden, rate, epochs, dims = TABLE_1[dataset]
    assert (options.batch_size, config.num_layers, config.max_sequence_length,
            config.hidden_dim, options.learning_rate, options.epochs) == (
        batch, layers, length, hidden, rate, epochs)
    assert (config.text_dim, config.acoustic_dim, config.visual_dim) == dims
    assert (config.num_windows, config.num_experts, config.top_k,
            config.moe_loss_weight, config.num_heads) == (3, 3, 2, 1e-2, 16)


def test_tasks_and_column_selection():
    assert GLoMoConfig.for_dataset("mosei").output_dim == 1
    humour = GLoMoConfig.for_dataset("urfunny")
    assert humour.task == "classification" and humour.output_dim == 2
    assert (humour.acoustic_input_dim, humour.visual_input_dim) == (60, 36)
    cherma = GLoMoConfig.for_dataset("cherma")
    assert cherma.output_dim == 7 and cherma.text_encoder == "features"


def test_dict_round_trip_is_json_safe():
    config = GLoMoConfig.for_dataset("mustard", hidden_dim=64, modalities=["v", "t"])
    values = json.loads(json.dumps(config.to_dict()))
    assert GLoMoConfig.from_dict(values) == config
    assert config.modalities == ("t", "v")


def test_overrides_apply():
    config = GLoMoConfig.for_dataset("MOSI", hidden_dim=64, fusion="sum")
    assert (config.dataset, config.hidden_dim, config.fusion) == ("mosi", 64, "sum")
    assert config.replace(top_k=1).top_k == 1


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(hidden_dim=50), "hidden_dim=50 is invalid: expected a multiple of num_heads=16"),
        (dict(top_k=4), "top_k=4 is invalid: expected at most num_experts=3"),
        (dict(num_windows=0), "num_windows=0"),
        (dict(hidden_dim=32.0), "hidden_dim=32.0"),
        (dict(fusion_dropout=1.5), "fusion_dropout=1.5"),
        (dict(fusion="mean"), "fusion='mean'"),
        (dict(local_mixer="gru"), "local_mixer='gru'"),
        (dict(modalities=("t", "x")), "modalities"),
        (dict(modalities=()), "modalities"),
        (dict(acoustic_columns=(0, 100)), "acoustic_columns"),
        (dict(task="classification"), "class_names"),
        (dict(representations="local"), "leaves out"),
    ],
)
def test_impossible_values_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GLoMoConfig.for_dataset("mosi", **overrides)


def test_unknown_dataset_and_field_are_refused():
    with pytest.raises(ValueError, match="Unknown dataset 'iemocap'"):
        GLoMoConfig.for_dataset("iemocap")
    with pytest.raises(ValueError, match="Unknown GLoMoConfig override 'hiden_dim'; did you mean 'hidden_dim'"):
        GLoMoConfig.for_dataset("mosi", hiden_dim=32)
    with pytest.raises(ValueError, match="Unknown GLoMoConfig field 'colour'; known fields: "):
        GLoMoConfig.from_dict({"colour": "red"})


def test_paper_compatibility_is_the_default():
    config = GLoMoConfig.for_dataset("mosi")
    assert (config.compatibility, config.encoder_positions, config.moe_combine,
            config.moe_load_cdf_mean, config.length_aware) == ("paper", "all", "sum", 0.0, False)
    assert config.compatibility_overrides == {}


def test_released_compatibility_sets_its_bundle():
    config = GLoMoConfig.for_dataset("mosei", compatibility="released")
    assert (config.encoder_positions, config.moe_combine, config.moe_load_cdf_mean,
            config.length_aware) == ("nonzero", "log_space", 0.1, False)
    assert config.compatibility_overrides == {}
    assert GLoMoConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_bundle_fields_stay_overridable_and_are_recorded():
    config = GLoMoConfig.for_dataset("mosi", compatibility="released", moe_combine="sum",
                                     length_aware=True)
    assert (config.moe_combine, config.length_aware, config.encoder_positions) == ("sum", True, "nonzero")
    assert config.compatibility_overrides == {"moe_combine": "sum", "length_aware": True}
    assert GLoMoConfig.from_dict(config.to_dict()).compatibility_overrides == {
        "moe_combine": "sum", "length_aware": True}


def test_replace_compatibility_brings_the_new_bundle():
    paper = GLoMoConfig.for_dataset("mosi", hidden_dim=32)
    released = paper.replace(compatibility="released")
    assert (released.moe_combine, released.encoder_positions, released.hidden_dim) == (
        "log_space", "nonzero", 32)
    assert released.replace(compatibility="paper") == paper
    mixed = paper.replace(compatibility="released", moe_load_cdf_mean=0.0)
    assert mixed.compatibility_overrides == {"moe_load_cdf_mean": 0.0}
    assert paper.replace(top_k=1).moe_combine == "sum"


@pytest.mark.parametrize("overrides, message", [
    (dict(compatibility="authors"), "compatibility='authors' is invalid: expected one of"),
    (dict(encoder_positions="some"), "encoder_positions='some'"),
])
def test_bad_compatibility_values_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        GLoMoConfig.for_dataset("mosi", **overrides)


def test_compatibility_flag_of_train_and_the_recipes():
    import argparse

    from glomo_keras.training.flags import add_training_arguments
    from glomo_keras.training.flags import settings_from_flags

    parser = argparse.ArgumentParser()
    add_training_arguments(parser, dataset_required=False)
    args = parser.parse_args(["--compatibility", "released", "--set", "moe_combine=sum"])
    args.dataset = "mosi"
    config, _ = settings_from_flags(args)
    assert (config.compatibility, config.encoder_positions, config.moe_combine) == (
        "released", "nonzero", "sum")
    args = parser.parse_args(["--set", "compatibility=released"])
    args.dataset = "mosei"
    assert settings_from_flags(args)[0].moe_combine == "log_space"
    with pytest.raises(SystemExit):
        parser.parse_args(["--compatibility", "authors"])


def test_dataset_fields_come_from_the_dataset_table():
    from glomo_keras.config import DATASET_FIELDS
    from glomo_keras.datasets import get_dataset

    assert GLoMoConfig(dataset="mosei") == GLoMoConfig.for_dataset("mosei")
    humour = GLoMoConfig.for_dataset("UR_FUNNY")
    assert humour.dataset == "urfunny" and humour.class_names == ("not_humorous", "humorous")
    moved = GLoMoConfig.for_dataset("mosi", hidden_dim=64).replace(dataset="mustard")
    assert (moved.hidden_dim, moved.class_names, moved.max_sequence_length) == (
        160, ("not_sarcastic", "sarcastic"), 70)
    own = {name: getattr(GLoMoConfig.for_dataset("mosi"), name) for name in DATASET_FIELDS}
    assert GLoMoConfig(dataset="my_reviews", **own).dataset == "my_reviews"
    with pytest.raises(ValueError, match="Unknown dataset 'my_reviews'"):
        GLoMoConfig(dataset="my_reviews", hidden_dim=32)
    assert get_dataset("CMU-MOSI").config_defaults()["hidden_dim"] == 48


def test_per_modality_values_round_trip_and_read_per_modality():
    config = GLoMoConfig.for_dataset("mosi", num_experts={"t": 3, "a": 2, "v": 4},
                                     num_windows=[1, 2, 6], top_k={"t": 2, "a": 1, "v": 2})
    assert config.num_experts == (3, 2, 4) and config.num_windows == (1, 2, 6)
    assert config.per_modality("num_experts") == {"t": 3, "a": 2, "v": 4}
    assert config.per_modality("top_k") == {"t": 2, "a": 1, "v": 2}
    values = json.loads(json.dumps(config.to_dict()))
    assert values["num_experts"] == [3, 2, 4]
    assert GLoMoConfig.from_dict(values) == config
    # Values that agree across modalities are one int: the default model.
    same = GLoMoConfig.for_dataset("mosi", num_experts={"t": 3, "a": 3, "v": 3})
    assert same.num_experts == 3 and same == GLoMoConfig.for_dataset("mosi")
    assert same.per_modality("num_windows") == {"t": 3, "a": 3, "v": 3}


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(num_experts={"t": 3, "a": 2}), "one value for each of"),
        (dict(num_experts={"t": 3, "a": 2, "v": 2, "x": 1}), "one value for each of"),
        (dict(num_windows=(1, 2)), "3 values in the order"),
        (dict(num_windows={"t": 0, "a": 2, "v": 2}), "num_windows=(0, 2, 2)"),
        (dict(num_experts=(1, 3, 3)), "top_k=2 is invalid: expected at most num_experts=1 of 't'"),
        (dict(top_k={"t": 1, "a": 4, "v": 1}), "at most num_experts=3"),
        (dict(num_experts="many"), "num_experts='many'"),
    ],
)
def test_impossible_per_modality_values_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GLoMoConfig.for_dataset("mosi", **overrides)


def test_set_parser_reads_per_modality_values():
    from glomo_keras.training.flags import parse_overrides

    overrides = parse_overrides(["num_experts=t:3,a:2,v:4", "num_windows=[1,2,3]",
                                 "fusion=sum", "hidden_dim=64"])
    assert overrides == {"num_experts": {"t": 3, "a": 2, "v": 4}, "num_windows": [1, 2, 3],
                         "fusion": "sum", "hidden_dim": 64}
    config = GLoMoConfig.for_dataset("mosi", **overrides)
    assert config.per_modality("num_windows") == {"t": 1, "a": 2, "v": 3}
