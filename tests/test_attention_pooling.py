"""Tests for `AttentionPooling`."""

import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.attention_pooling import AttentionPooling

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def _inputs():
    return np.random.default_rng(1).normal(size=(4, 3, 6)).astype("float32")


def test_standard_layer_checks(tmp_path):
    run_layer_test(
        AttentionPooling,
        init_kwargs={"hidden_dim": 8, "dropout": 0.3},
        input_data=_inputs(),
        expected_output_shape=((4, 6), (4, 3)),
        tmp_path=tmp_path,
    )


def test_matches_numpy_formula():
    x = _inputs()
    layer = AttentionPooling(hidden_dim=8)
    pooled, weights = layer(x)
    w1, b1 = (ops.convert_to_numpy(v) for v in layer.hidden_dense.weights)
    w2, b2 = (ops.convert_to_numpy(v) for v in layer.score_dense.weights)
    scores = np.maximum(x.reshape(4, -1) @ w1 + b1, 0) @ w2 + b2
    scores = scores / np.sqrt(8)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(ops.convert_to_numpy(weights), expected, atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(pooled), (x * expected[..., None]).sum(1), atol=1e-5
    )
    np.testing.assert_allclose(ops.convert_to_numpy(weights).sum(-1), 1.0, atol=1e-6)
