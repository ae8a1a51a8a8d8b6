"""Tests for `glomo_keras.convert` and `glomo-keras convert`.

The reference is `released_reference.released_forward`, a numpy port of the
released code's forward pass that reads the released state dict layout.
"""

import sys

import keras
import numpy as np
import pytest
from numpy_bert import write_hugging_face_checkpoint
from released_reference import RELEASED_TINY
from released_reference import random_released_state
from released_reference import released_forward
from released_reference import word_aligned_inputs
from safetensors.numpy import save_file
from test_export import outputs_of

from glomo_keras import GLoMo
from glomo_keras.cli import main
from glomo_keras.commands import convert as convert_command
from glomo_keras.config import GLoMoConfig
from glomo_keras.convert import StateDictError
from glomo_keras.convert import from_torch_state_dict
from glomo_keras.convert import load_torch_state_dict
from glomo_keras.convert import tensor_rules
from glomo_keras.convert import to_torch_state_dict
from glomo_keras.errors import SetupError
from glomo_keras.errors import UsageError

# Model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends

STEPS = 8
TINY_OVERRIDES = dict(hidden_dim=8, num_heads=2, num_layers=1, fusion_intermediate_dim=16,
                      max_sequence_length=STEPS, acoustic_dim=5, visual_dim=3)


def released_config(**changes):
    return GLoMoConfig.for_dataset("mosi", **{"compatibility": "released",
                                              **TINY_OVERRIDES, **changes})


@pytest.fixture(scope="module")
def bert_directory(tmp_path_factory):
    """A tiny Hugging Face BERT: the backbone shape and vocabulary."""
    directory = tmp_path_factory.mktemp("bert")
    write_hugging_face_checkpoint(directory, hidden_act="gelu", seed=3)
    return str(directory)


@pytest.fixture(scope="module")
def released():
    """A random released-layout state dict and a word-aligned batch."""
    rng = np.random.default_rng(0)
    state = random_released_state(rng, RELEASED_TINY)
    inputs = word_aligned_inputs(rng, RELEASED_TINY, lengths=[8, 6, 4], steps=STEPS)
    return state, inputs, released_forward(state, RELEASED_TINY, inputs)


def assert_outputs_close(outputs, expected, atol):
    for name in ("prediction", "global_weights", "local_weights"):
        np.testing.assert_allclose(outputs[name], expected[name], atol=atol, err_msg=name)


def test_a_converted_state_dict_gives_the_released_models_outputs(released, bert_directory):
    state, inputs, expected = released
    model, notes = from_torch_state_dict(state, released_config(), bert_directory)
    assert_outputs_close(outputs_of(model, inputs), expected, atol=1e-5)
    skipped = sorted(note.split(":")[0] for note in notes)
    assert "skipped bert.embeddings.position_ids" in skipped
    assert "skipped bert.pooler.dense.weight" in skipped
    assert "skipped moe_t.mean" in skipped and "skipped audio_network.encoder.version" in skipped
    assert not any("compatibility" in note for note in notes)


def test_per_modality_windows_and_experts_convert_like_the_released_arguments(
        released, bert_directory):
    """gran_t/a/v and experts_t/a/v ↔ per-modality num_windows/num_experts."""
    _, inputs, _ = released
    args = dict(RELEASED_TINY, gran_t=2, gran_a=4, gran_v=1, experts_t=4, experts_v=2)
    state = random_released_state(np.random.default_rng(6), args)
    config = released_config(num_windows={"t": 2, "a": 4, "v": 1},
                             num_experts={"t": 4, "a": 3, "v": 2})
    model, _ = from_torch_state_dict(state, config, bert_directory)
    assert_outputs_close(outputs_of(model, inputs), released_forward(state, args, inputs),
                         atol=1e-5)
    assert to_torch_state_dict(model)["moe_a.w_gate"].shape == (4 * 8, 3)


@pytest.mark.parametrize("change", [dict(compatibility="paper"), dict(encoder_positions="all"),
                                    dict(moe_combine="sum"), "gelu_approximate"])
def test_each_part_of_the_released_bundle_matters(released, bert_directory, change):
    state, inputs, expected = released
    if change == "gelu_approximate":
        model, _ = from_torch_state_dict(state, released_config(), bert_directory,
                                         hidden_activation="gelu_approximate")
    else:
        model, notes = from_torch_state_dict(state, released_config(**change), bert_directory)
        assert any("compatibility" in note for note in notes)
    difference = np.abs(outputs_of(model, inputs)["prediction"] - expected["prediction"]).max()
    assert difference > 3e-5  # three times the tolerance the released outputs meet


def _randomised_gates(model, seed):
    rng = np.random.default_rng(seed)
    for name in ("text_moe", "acoustic_moe", "visual_moe"):
        kernel = model.get_layer(name).gate_kernel
        kernel.assign(rng.normal(size=tuple(kernel.shape)).astype("float32"))


def test_round_trip_through_the_torch_layout_is_exact(released, bert_directory):
    _, inputs, _ = released
    keras.utils.set_random_seed(4)
    model, _ = from_torch_state_dict(random_released_state(np.random.default_rng(1), RELEASED_TINY),
                                     released_config(), bert_directory)
    _randomised_gates(model, seed=5)
    state = to_torch_state_dict(model)
    covered = {id(v) for rule in tensor_rules(model) for v in rule.variables}
    assert covered == {id(v) for v in model.weights}
    again, notes = from_torch_state_dict(state, released_config(), bert_directory)
    assert notes == []
    for first, second in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(first, second)
    assert to_torch_state_dict(again).keys() == state.keys()
    # The inverse mapping writes the released layout: the reference agrees.
    assert_outputs_close(outputs_of(model, inputs), released_forward(state, RELEASED_TINY, inputs),
                         atol=1e-5)


def test_classification_and_feature_text_layouts_round_trip():
    keras.utils.set_random_seed(6)
    for dataset, overrides in (("mustard", dict(acoustic_dim=6, visual_dim=7,
                                                acoustic_columns=(0, 4), visual_columns=(2, 7))),
                               ("cherma", dict(text_dim=6))):
        config = GLoMoConfig.for_dataset(dataset, compatibility="released",
                                         **{**TINY_OVERRIDES, **overrides})
        backbone = None
        if config.text_encoder == "bert":
            from tiny_model import tiny_backbone

            backbone = tiny_backbone()
        model = GLoMo(config, backbone)
        state = to_torch_state_dict(model)
        assert state["classifier.weight"].shape == (config.output_dim, 16)
        if dataset == "cherma":
            assert state["text_network.projs.weight"].shape == (8, 6, 3)
        twin = GLoMo(config, backbone)
        load_torch_state_dict(twin, state)
        for first, second in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(first, second)


def test_bad_state_dicts_name_every_problem_and_load_nothing(released, bert_directory):
    state, _, _ = released
    model, _ = from_torch_state_dict(state, released_config(), bert_directory)
    before = model.get_weights()
    broken = dict(state)
    broken["moe_t.gate_bias"] = np.zeros(3, "float32")
    del broken["fc_all.bias"]
    broken["classifier.weight"] = broken["classifier.weight"].T
    broken["audio_network.encoder.layers.0.fc1.weight"] = np.zeros((4, 4), "float32")
    with pytest.raises(StateDictError) as error:
        load_torch_state_dict(model, broken)
    message = str(error.value)
    for expected in ("nothing was loaded", "unknown tensors (1): moe_t.gate_bias",
                     "missing tensors (1): fc_all.bias",
                     "classifier.weight: (16, 1), expected (1, 16)",
                     "audio_network.encoder.layers.0.fc1.weight: (4, 4), expected (32, 8)"):
        assert expected in message
    for first, second in zip(before, model.get_weights()):
        np.testing.assert_array_equal(first, second)


def test_data_parallel_prefix_and_old_layer_norm_names_are_read(released, bert_directory):
    state, inputs, expected = released
    renamed = {"module." + name.replace("LayerNorm.weight", "LayerNorm.gamma")
               .replace("LayerNorm.bias", "LayerNorm.beta"): value for name, value in state.items()}
    model, _ = from_torch_state_dict(renamed, released_config(), bert_directory)
    assert_outputs_close(outputs_of(model, inputs), expected, atol=1e-5)


def test_ablations_without_a_released_counterpart_are_refused(bert_directory):
    from tiny_model import tiny_backbone

    model = GLoMo(released_config(fusion="sum"), tiny_backbone())
    with pytest.raises(StateDictError, match="no counterpart of {'fusion': 'sum'}"):
        to_torch_state_dict(model)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_convert_command_writes_a_keras_model(released, bert_directory, tmp_path, capsys, suffix):
    state, inputs, expected = released
    checkpoint = tmp_path / f"glomo{suffix}"
    if suffix == ".npz":
        np.savez(checkpoint, **state)
    else:
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(checkpoint))
    output = tmp_path / "out" / "glomo.keras"
    argv = ["convert", "--torch-checkpoint", str(checkpoint), "--dataset", "mosi",
            "--output", str(output), "--backbone", bert_directory]
    argv += [f"--set={name}={value}" for name, value in TINY_OVERRIDES.items()]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "note: skipped bert.pooler.dense.weight" in printed and "compatibility=released" in printed
    model = keras.saving.load_model(output)
    assert model.config.compatibility == "released"
    assert_outputs_close(outputs_of(model, inputs), expected, atol=1e-5)
    capsys.readouterr()
    assert main(argv) == 2
    assert f"--output {output} exists; pass --overwrite" in capsys.readouterr().err


def test_convert_command_reports_a_mismatched_dataset(released, bert_directory, tmp_path, capsys):
    state, _, _ = released
    checkpoint = tmp_path / "glomo.npz"
    np.savez(checkpoint, **state)
    argv = ["convert", "--torch-checkpoint", str(checkpoint), "--dataset", "mosi",
            "--output", str(tmp_path / "glomo.keras"), "--backbone", bert_directory,
            f"--set=max_sequence_length={STEPS}", "--set=num_heads=2", "--set=hidden_dim=16",
            "--set=num_layers=1", "--set=acoustic_dim=5", "--set=visual_dim=3"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "glomo.npz" in error and "misshapen tensors" in error and "bert.linear1.weight" in error
    assert not (tmp_path / "glomo.keras").exists()


def test_pth_without_torch_says_how_to_install_it(tmp_path, monkeypatch):
    checkpoint = tmp_path / "glomo.pth"
    checkpoint.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(SetupError, match=r"needs PyTorch.*pip install"):
        convert_command.read_state_dict(checkpoint)
    with pytest.raises(UsageError, match="unknown suffix '.ckpt'"):
        (tmp_path / "x.ckpt").write_bytes(b"")
        convert_command.read_state_dict(tmp_path / "x.ckpt")
