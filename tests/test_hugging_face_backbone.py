"""Hugging Face checkpoints keep their GELU: tests against a numpy BERT."""

import keras
import numpy as np
import pytest
from keras import ops
from numpy_bert import TINY_BERT
from numpy_bert import TINY_VOCABULARY
from numpy_bert import bert_hidden_states
from numpy_bert import write_hugging_face_checkpoint
from test_export import outputs_of
from test_export import run_fresh_process_check
from test_export import tiny_preprocessor
from tiny_model import tiny_batch
from tiny_model import tiny_config

from glomo_keras import GLoMo
from glomo_keras.backbones import GeluBertBackbone
from glomo_keras.backbones import load_backbone
from glomo_keras.export import export_saved_model
from glomo_keras.model import bert_hidden_states as keras_hidden_states

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def _text_inputs(seed=0, batch=3, steps=7, vocabulary=len(TINY_VOCABULARY)):
    rng = np.random.default_rng(seed)
    lengths = np.array([steps, 4, 2])[:batch]
    mask = (np.arange(steps)[None] < lengths[:, None]).astype("int32")
    return {
        "token_ids": (rng.integers(5, vocabulary, (batch, steps)) * mask).astype("int32"),
        "segment_ids": (rng.integers(0, 2, (batch, steps)) * mask).astype("int32"),
        "padding_mask": mask,
    }


def _keras_last_two(backbone, inputs):
    previous, last = keras_hidden_states(backbone)(inputs)
    return ops.convert_to_numpy(previous), ops.convert_to_numpy(last)


def _numpy_last_two(state, inputs, exact_gelu, config=TINY_BERT, prefix=""):
    hidden = bert_hidden_states(state, config, inputs["token_ids"], inputs["segment_ids"],
                                inputs["padding_mask"], exact_gelu=exact_gelu, prefix=prefix)
    return hidden[-2], hidden[-1]


def _assert_real_steps_close(keras_pair, numpy_pair, mask, atol):
    real = mask.astype(bool)
    for got, expected in zip(keras_pair, numpy_pair):
        np.testing.assert_allclose(got[real], expected[real], atol=atol)


def test_exact_gelu_checkpoint_matches_a_numpy_bert(tmp_path):
    state = write_hugging_face_checkpoint(tmp_path / "bert", hidden_act="gelu")
    backbone, tokenizer = load_backbone(str(tmp_path / "bert"))
    assert isinstance(backbone, GeluBertBackbone) and backbone.hidden_activation == "gelu"
    assert tokenizer.vocabulary_size() == len(TINY_VOCABULARY)
    inputs = _text_inputs()
    keras_pair = _keras_last_two(backbone, inputs)
    _assert_real_steps_close(keras_pair, _numpy_last_two(state, inputs, exact_gelu=True),
                             inputs["padding_mask"], atol=1e-5)
    # The check can tell the two GELUs apart on this checkpoint.
    tanh_pair = _numpy_last_two(state, inputs, exact_gelu=False)
    assert np.abs(keras_pair[1] - tanh_pair[1]).max() > 1e-3


@pytest.mark.parametrize("hidden_act", ["gelu_new", "gelu_pytorch_tanh"])
def test_tanh_gelu_checkpoints_keep_the_tanh_form(tmp_path, hidden_act):
    state = write_hugging_face_checkpoint(tmp_path / "bert", hidden_act=hidden_act)
    backbone, _ = load_backbone(str(tmp_path / "bert"))
    assert backbone.hidden_activation == "gelu_approximate"
    inputs = _text_inputs(seed=1)
    _assert_real_steps_close(_keras_last_two(backbone, inputs),
                             _numpy_last_two(state, inputs, exact_gelu=False),
                             inputs["padding_mask"], atol=1e-5)


def test_unsupported_activation_is_refused_naming_the_field(tmp_path):
    write_hugging_face_checkpoint(tmp_path / "bert", hidden_act="swish")
    with pytest.raises(ValueError, match=r"config.json: field 'hidden_act' is 'swish'"):
        load_backbone(str(tmp_path / "bert"))


def test_activation_can_be_forced_and_keras_presets_keep_theirs(tmp_path):
    backbone, _ = load_backbone("random:bert_tiny")
    assert not isinstance(backbone, GeluBertBackbone)
    exact, tokenizer = load_backbone("random:bert_tiny", hidden_activation="gelu")
    assert exact.hidden_activation == "gelu"
    exact.save_to_preset(str(tmp_path / "preset"))
    tokenizer.save_to_preset(str(tmp_path / "preset"))
    reloaded, _ = load_backbone(str(tmp_path / "preset"))
    assert isinstance(reloaded, GeluBertBackbone) and reloaded.hidden_activation == "gelu"
    with pytest.raises(ValueError, match="hidden_activation"):
        load_backbone("random:bert_tiny", hidden_activation="relu")


@pytest.fixture(scope="module")
def exact_gelu_model(tmp_path_factory):
    """A tiny GLoMo on an exact-GELU Hugging Face checkpoint, a batch and its outputs."""
    folder = tmp_path_factory.mktemp("exact_gelu")
    write_hugging_face_checkpoint(folder / "bert", hidden_act="gelu")
    backbone, _ = load_backbone(str(folder / "bert"))
    config = tiny_config()
    model = GLoMo(config, backbone)
    batch = tiny_batch(config, seed=5)
    return model, batch, outputs_of(model, batch)


def test_exact_gelu_survives_keras_files(exact_gelu_model, tmp_path):
    model, batch, expected = exact_gelu_model
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    text_backbone = reloaded.get_layer("bert_hidden_states")
    assert any(getattr(layer, "activation", None) is not None
               and layer.activation.__name__ == "exact_gelu"
               for layer in text_backbone._flatten_layers())
    for name, value in outputs_of(reloaded, batch).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-6)


@pytest.mark.slow
def test_exact_gelu_survives_saved_model_export(exact_gelu_model, tmp_path):
    """The SavedModel, read in a fresh process, answers as the Keras model.

    TensorFlow exports in this process; JAX through the TensorFlow-backend
    export process, which reads the `.keras` file that any other backend
    writes alike (PyTorch's `.keras` files are checked above), so the PyTorch
    pass leaves this path to the JAX pass.
    """
    if keras.backend.backend() == "torch":
        pytest.skip("the TensorFlow-process export of another backend runs in the JAX pass")
    model, batch, expected = exact_gelu_model
    folder = export_saved_model(model, tiny_preprocessor(model.config), tmp_path / "saved")
    report = run_fresh_process_check(folder, {"full": (batch, expected)}, tmp_path)
    for name, difference in report["full"].items():
        assert difference <= 1e-5, (name, difference)
