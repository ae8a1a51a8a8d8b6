"""Tests for `load_backbone` and `load_tokenizer` (offline specs only; presets need a download)."""

import keras_hub
import numpy as np
import pytest
from keras import ops
from numpy_bert import bert_hidden_states
from safetensors.numpy import load_file

from glomo_keras.backbones import load_backbone
from glomo_keras.backbones import load_tokenizer
from glomo_keras.backbones import minilm_directory
from glomo_keras.model import bert_hidden_states as keras_hidden_states


def test_random_tiny_shape_and_uncased_tokenizer():
    backbone, tokenizer = load_backbone("random:bert_tiny")
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    assert (backbone.num_layers, backbone.hidden_dim, backbone.num_heads,
            backbone.intermediate_dim, backbone.vocabulary_size) == (2, 128, 2, 512, 30522)
    assert tokenizer.vocabulary_size() == 30522
    assert tokenizer.token_to_id("[CLS]") == 101
    ids = ops.convert_to_numpy(tokenizer(["Hello World"]))[0].tolist()
    assert ids == [7592, 2088]


@pytest.mark.slow
def test_minilm_loads_real_pretrained_weights_with_exact_gelu():
    """all-MiniLM-L6-v2 by name and as a folder: trained weights, exact GELU, a numpy BERT's outputs.

    Loading does not depend on the Keras backend; test_hugging_face_backbone
    checks the exact GELU of every backend against the numpy BERT.
    """
    backbone, tokenizer = load_backbone("minilm")
    assert (backbone.num_layers, backbone.hidden_dim) == (6, 384)
    assert backbone.hidden_activation == "gelu"
    embeddings = ops.convert_to_numpy(backbone.token_embedding.embeddings)
    assert abs(float(embeddings.std()) - 0.02) > 0.005  # trained, not the N(0, 0.02) init
    ids = [101] + ops.convert_to_numpy(tokenizer(["a truly wonderful film"])).tolist()[0] + [102]
    inputs = {"token_ids": np.array([ids], "int32"), "segment_ids": np.zeros((1, len(ids)), "int32"),
              "padding_mask": np.ones((1, len(ids)), "int32")}
    last_two = [ops.convert_to_numpy(hidden) for hidden in keras_hidden_states(backbone)(inputs)]
    state = load_file(str(minilm_directory() / "model.safetensors"))
    prefix = "bert." if any(key.startswith("bert.") for key in state) else ""
    expected = bert_hidden_states(state, {"num_attention_heads": 12, "layer_norm_eps": 1e-12},
                                  inputs["token_ids"], inputs["segment_ids"],
                                  inputs["padding_mask"], exact_gelu=True, prefix=prefix)
    for got, want in zip(last_two, expected[-2:]):
        np.testing.assert_allclose(got, want, atol=1e-4)
    again, _ = load_backbone(str(minilm_directory()))  # the same checkpoint as a folder
    np.testing.assert_allclose(ops.convert_to_numpy(again(inputs)["sequence_output"]),
                               last_two[1], atol=1e-5)


def test_keras_preset_directory_round_trip(tmp_path):
    backbone, tokenizer = load_backbone("random:bert_tiny")
    backbone.save_to_preset(str(tmp_path))
    tokenizer.save_to_preset(str(tmp_path))
    loaded, loaded_tokenizer = load_backbone(str(tmp_path))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.token_embedding.embeddings),
        ops.convert_to_numpy(backbone.token_embedding.embeddings),
    )
    assert loaded_tokenizer.vocabulary_size() == 30522


def test_load_tokenizer_builds_no_backbone(tmp_path, monkeypatch):
    backbone, tokenizer = load_backbone("random:bert_tiny")
    backbone.save_to_preset(str(tmp_path))
    tokenizer.save_to_preset(str(tmp_path))

    def refuse(*args, **kwargs):
        raise AssertionError("a backbone was built to get a tokenizer")

    monkeypatch.setattr(keras_hub.models.BertBackbone, "__init__", refuse)
    monkeypatch.setattr(keras_hub.models.BertBackbone, "from_preset", refuse)
    for spec in ("random:bert_tiny", "minilm", str(tmp_path)):
        loaded = load_tokenizer(spec)
        assert loaded.get_vocabulary() == tokenizer.get_vocabulary(), spec
    with pytest.raises(ValueError, match="Unknown random backbone 'bert_huge'"):
        load_tokenizer("random:bert_huge")


def test_bad_specs_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown random backbone 'bert_huge'"):
        load_backbone("random:bert_huge")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="holds no config.json"):
        load_backbone(str(tmp_path))
