"""Tests for `AdaptiveMaxPooling1D` against a PyTorch-window numpy reference."""

import math

import keras
import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.adaptive_max_pooling import AdaptiveMaxPooling1D

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def reference_pool(x, output_size, lengths=None):
    """PyTorch AdaptiveMaxPool1d windows over each sample's length, in loops."""
    batch, steps, channels = x.shape
    out = np.zeros((batch, output_size, channels), dtype=x.dtype)
    for b in range(batch):
        length = steps if lengths is None else int(lengths[b])
        for i in range(output_size):
            start = math.floor(i * length / output_size)
            end = math.ceil((i + 1) * length / output_size)
            if end > start:
                out[b, i] = x[b, start:end].max(axis=0)
    return out


def prefix_mask(lengths, steps, dtype="int32"):
    return (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(
        dtype
    )


@pytest.mark.parametrize("output_size", [1, 2, 3, 4, 5])
def test_unmasked_matches_reference(output_size):
    rng = np.random.default_rng(output_size)
    layer = AdaptiveMaxPooling1D(output_size)
    for steps in [1, 3, 4, 7, 10]:
        x = rng.normal(size=(3, steps, 4)).astype("float32")
        y = ops.convert_to_numpy(layer(x))
        assert y.shape == (3, output_size, 4)
        np.testing.assert_array_equal(y, reference_pool(x, output_size))


@pytest.mark.parametrize("output_size", [1, 2, 3, 4, 5])
def test_masked_matches_reference(output_size):
    # One sample per real length 0..10, so N < n, N % n != 0 and N = 0 occur.
    steps = 10
    lengths = np.arange(steps + 1)
    rng = np.random.default_rng(10 + output_size)
    x = rng.normal(size=(steps + 1, steps, 3)).astype("float32")
    layer = AdaptiveMaxPooling1D(output_size)
    y = ops.convert_to_numpy(layer(x, mask=prefix_mask(lengths, steps)))
    np.testing.assert_array_equal(y, reference_pool(x, output_size, lengths))
    np.testing.assert_array_equal(y[0], 0.0)


def test_bool_mask():
    x = np.random.default_rng(2).normal(size=(3, 7, 2)).astype("float32")
    lengths = [7, 4, 1]
    y = AdaptiveMaxPooling1D(3)(x, mask=prefix_mask(lengths, 7, "bool"))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(y), reference_pool(x, 3, lengths)
    )


def test_masked_padding_is_never_pooled():
    x = np.full((1, 6, 2), 100.0, dtype="float32")
    x[0, :2] = [[1.0, -1.0], [2.0, -2.0]]
    y = AdaptiveMaxPooling1D(3)(x, mask=prefix_mask([2], 6))
    # Windows over length 2: [0, 1), [0, 2), [1, 2).
    expected = [[[1.0, -1.0], [2.0, -1.0], [2.0, -2.0]]]
    np.testing.assert_array_equal(ops.convert_to_numpy(y), expected)


def test_empty_sample_gives_zeros():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = prefix_mask([3, 0], 5)
    y = ops.convert_to_numpy(AdaptiveMaxPooling1D(3)(x, mask=mask))
    np.testing.assert_array_equal(y[1], np.zeros((3, 3)))
    np.testing.assert_array_equal(y, reference_pool(x, 3, [3, 0]))
    assert np.all(np.isfinite(y))


def _gradient_of_sum(layer, x, mask):
    """d sum(layer(x, mask)) / dx on the running backend, as numpy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(layer(x, mask=mask))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(lambda v: layer(v, mask=mask).sum()))(x))
    import torch

    x = torch.tensor(x, requires_grad=True)
    layer(x, mask=torch.tensor(mask)).sum().backward()
    return x.grad.numpy()


def test_gradient_goes_to_the_first_maximum_of_each_window():
    # Each window has a tie; PyTorch's AdaptiveMaxPool1d gives the whole
    # gradient to the first maximum (ops.max would split it between the ties).
    x = np.array([[[1.0], [3.0], [3.0], [0.0], [3.0], [9.0], [9.0]]], "float32")
    mask = prefix_mask([5], 7)  # the 9s are padding
    # Windows over length 5: [0, 3) and [2, 5).
    gradient = _gradient_of_sum(AdaptiveMaxPooling1D(2), x, mask)
    np.testing.assert_array_equal(gradient[0, :, 0], [0, 1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    layer = AdaptiveMaxPooling1D(3, dtype=policy)
    compute_dtype = layer.compute_dtype
    x = np.random.default_rng(1).normal(size=(2, 7, 4)).astype("float32")
    x_low = ops.convert_to_numpy(ops.cast(x, compute_dtype))
    lengths = [7, 2]
    y = layer(ops.cast(x, compute_dtype), mask=prefix_mask(lengths, 7))
    assert keras.backend.standardize_dtype(y.dtype) == compute_dtype
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ops.cast(y, "float32")),
        reference_pool(x_low.astype("float32"), 3, lengths),
    )


def test_dynamic_length_symbolic_shape_and_no_mask_output():
    inputs = keras.Input(shape=(None, 4))
    mask = keras.Input(shape=(None,), dtype="int32")
    layer = AdaptiveMaxPooling1D(2)
    outputs = layer(inputs, mask=mask)
    assert tuple(outputs.shape) == (None, 2, 4)
    assert layer.compute_output_shape((None, None, 4)) == (None, 2, 4)
    model = keras.Model([inputs, mask], outputs)
    for steps in [3, 8]:
        x = np.random.default_rng(steps).normal(size=(2, steps, 4))
        x = x.astype("float32")
        m = prefix_mask([steps, 2], steps)
        np.testing.assert_allclose(
            model.predict([x, m], verbose=0), reference_pool(x, 2, [steps, 2])
        )
        unmasked = keras.Model(inputs, AdaptiveMaxPooling1D(2)(inputs))
        np.testing.assert_allclose(
            unmasked.predict(x, verbose=0), reference_pool(x, 2)
        )


def test_consumes_the_mask():
    tokens = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    pooled = AdaptiveMaxPooling1D(2)(embedded)
    assert getattr(pooled, "_keras_mask", None) is None
    x = np.zeros((1, 3, 4), dtype="float32")
    mask = np.ones((1, 3), dtype="int32")
    assert AdaptiveMaxPooling1D(2).compute_mask(x, mask) is None


def test_implicit_keras_mask_sets_the_lengths():
    tokens = np.array([[3, 4, 5, 0, 0, 0]], dtype="int32")
    embedding = keras.layers.Embedding(10, 4, mask_zero=True)
    embedded = embedding(tokens)
    y = AdaptiveMaxPooling1D(2)(embedded)
    expected = reference_pool(ops.convert_to_numpy(embedded), 2, [3])
    np.testing.assert_allclose(ops.convert_to_numpy(y), expected)


@pytest.mark.parametrize("output_size", [0, -1, 2.0, None])
def test_bad_output_size(output_size):
    with pytest.raises(ValueError, match="output_size"):
        AdaptiveMaxPooling1D(output_size)


@pytest.mark.parametrize("output_size", [1, 3])
def test_run_layer_test_unmasked(output_size, tmp_path):
    # output_size=1 is the case that crashes keras.layers.AdaptiveMaxPooling1D
    # on TensorFlow in Keras 3.15.1.
    run_layer_test(
        AdaptiveMaxPooling1D,
        init_kwargs={"output_size": output_size},
        input_data=np.random.rand(2, 5, 4).astype("float32"),
        expected_output_shape=(2, output_size, 4),
        expect_trainable_weights=False,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("output_size", [1, 3])
def test_run_layer_test_masked(output_size, tmp_path):
    run_layer_test(
        AdaptiveMaxPooling1D,
        init_kwargs={"output_size": output_size},
        input_data=np.random.rand(3, 5, 4).astype("float32"),
        call_kwargs={"mask": prefix_mask([5, 2, 0], 5)},
        expected_output_shape=(3, output_size, 4),
        expect_trainable_weights=False,
        tmp_path=tmp_path,
    )
