"""Tests for `TransformerLayer` (pre- and post-LayerNorm)."""

import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.transformer_layer import TransformerLayer

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def _inputs(batch=3, steps=5, width=8):
    return np.random.default_rng(0).normal(size=(batch, steps, width)).astype("float32")


@pytest.mark.parametrize("normalize_first", [True, False])
def test_standard_layer_checks(tmp_path, normalize_first):
    run_layer_test(
        TransformerLayer,
        init_kwargs={
            "num_heads": 2,
            "intermediate_dim": 16,
            "normalize_first": normalize_first,
            "attention_dropout": 0.1,
            "activation_dropout": 0.1,
            "residual_dropout": 0.1,
        },
        input_data=_inputs(),
        call_kwargs={"padding_mask": np.ones((3, 5), "int32")},
        expected_output_shape=(3, 5, 8),
        tmp_path=tmp_path,
    )


def test_post_norm_output_is_normalised():
    layer = TransformerLayer(num_heads=2, intermediate_dim=16, normalize_first=False)
    outputs = ops.convert_to_numpy(layer(_inputs()))
    np.testing.assert_allclose(outputs.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(outputs.std(-1), 1.0, atol=1e-2)


def test_padding_mask_hides_padded_keys():
    layer = TransformerLayer(num_heads=2, intermediate_dim=16)
    x = _inputs(batch=1)
    mask = np.array([[1, 1, 1, 0, 0]], "int32")
    changed = x.copy()
    changed[:, 3:] = 100.0
    first = ops.convert_to_numpy(layer(x, padding_mask=mask))
    second = ops.convert_to_numpy(layer(changed, padding_mask=mask))
    np.testing.assert_allclose(first[:, :3], second[:, :3], atol=1e-5)
    unmasked = ops.convert_to_numpy(layer(changed))
    assert not np.allclose(first[:, :3], unmasked[:, :3], atol=1e-3)


def test_dropout_only_in_training():
    layer = TransformerLayer(num_heads=2, intermediate_dim=16, residual_dropout=0.5)
    x = _inputs()
    inference = [ops.convert_to_numpy(layer(x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    training = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(training, inference[0])


def test_width_must_divide_by_heads():
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        TransformerLayer(num_heads=3, intermediate_dim=16)(_inputs())


def test_parameter_count_matches_pytorch_layer():
    # 4d^2 + 4d attention, 2 LayerNorms, d*f + f + f*d + d feed-forward.
    d, f = 8, 16
    layer = TransformerLayer(num_heads=2, intermediate_dim=f)
    layer(_inputs(width=d))
    assert layer.count_params() == 4 * d * d + 4 * d + 4 * d + 2 * d * f + f + d


def _flat_sorted(variable):
    return np.sort(np.abs(ops.convert_to_numpy(variable)).ravel())


def test_sublayers_start_from_different_random_kernels():
    # One shared initializer instance would draw the same numbers for both
    # feed-forward kernels ([8, 32] and [32, 8]: the same 256 values).
    layer = TransformerLayer(num_heads=2, intermediate_dim=32)
    layer.build((2, 5, 8))
    kernels = {
        "intermediate": layer.intermediate_dense.kernel,
        "output": layer.output_dense.kernel,
        "query": layer.attention.query_dense.kernel,
        "key": layer.attention.key_dense.kernel,
    }
    assert not np.allclose(_flat_sorted(kernels["intermediate"]), _flat_sorted(kernels["output"]))
    assert not np.allclose(_flat_sorted(kernels["query"]), _flat_sorted(kernels["key"]))
    assert not np.allclose(_flat_sorted(kernels["query"]), _flat_sorted(kernels["intermediate"])[:64])
