"""Tests for `SequenceEncoder` and `sinusoidal_positions`."""

import math

import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.sequence_encoder import SequenceEncoder
from glomo_keras.layers.sequence_encoder import sinusoidal_positions

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends

SMALL = dict(hidden_dim=8, num_layers=2, num_heads=2, num_windows=3)


def _features(batch=3, steps=7, width=5):
    return np.random.default_rng(3).normal(size=(batch, steps, width)).astype("float32")


def _mask(lengths, steps=7):
    return (np.arange(steps)[None] < np.array(lengths)[:, None]).astype("int32")


def test_sinusoidal_positions_tensor2tensor_layout():
    table = ops.convert_to_numpy(sinusoidal_positions(6, 8))
    step = math.log(10000.0) / 3
    for position in range(6):
        for i in range(4):
            angle = (position + 1) * math.exp(-i * step)
            assert table[position, i] == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[position, 4 + i] == pytest.approx(math.cos(angle), abs=1e-5)
    odd = ops.convert_to_numpy(sinusoidal_positions(3, 5))
    np.testing.assert_array_equal(odd[:, -1], 0.0)


@pytest.mark.parametrize("length_aware,positions", [(False, "all"), (True, "all"), (False, "nonzero")])
def test_standard_layer_checks(tmp_path, length_aware, positions):
    run_layer_test(
        SequenceEncoder,
        init_kwargs={**SMALL, "length_aware": length_aware, "positions": positions},
        input_data=_features(),
        call_kwargs={"padding_mask": _mask([7, 4, 1])},
        expected_output_shape=((3, 8), (3, 24)),
        tmp_path=tmp_path,
    )


def test_global_is_max_and_local_are_windows_of_the_encoding():
    encoder = SequenceEncoder(**SMALL)
    x = _features()
    global_x, local_x = (ops.convert_to_numpy(t) for t in encoder(x))
    # Rebuild the encoding without pooling and pool it in numpy.
    h = encoder.projection(x) * math.sqrt(8) + sinusoidal_positions(7, 8)
    for layer in encoder.transformer_layers:
        h = layer(h)
    h = ops.convert_to_numpy(encoder.final_norm(h))
    np.testing.assert_allclose(global_x, h.max(1), atol=1e-5)
    windows = [(0, 3), (2, 5), (4, 7)]  # floor(i*7/3), ceil((i+1)*7/3)
    expected = np.concatenate([h[:, a:b].max(1) for a, b in windows], -1)
    np.testing.assert_allclose(local_x, expected, atol=1e-5)


def test_length_aware_ignores_padding_and_paper_mode_does_not():
    x = _features(batch=1)
    mask = _mask([4])
    noisy = x.copy()
    noisy[:, 4:] = 50.0
    aware = SequenceEncoder(**SMALL, length_aware=True)
    a = [ops.convert_to_numpy(t) for t in aware(x, padding_mask=mask)]
    b = [ops.convert_to_numpy(t) for t in aware(noisy, padding_mask=mask)]
    for first, second in zip(a, b):
        np.testing.assert_allclose(first, second, atol=1e-5)
    paper = SequenceEncoder(**SMALL)
    c = ops.convert_to_numpy(paper(x, padding_mask=mask)[0])
    d = ops.convert_to_numpy(paper(noisy, padding_mask=mask)[0])
    assert not np.allclose(c, d, atol=1e-3)


def test_parameter_count_matches_spec():
    # Conv (3*d_in*d) + L * (LN + MHA + LN + FFN d->4d->d) + final LN.
    d, d_in, layers = 16, 5, 2
    encoder = SequenceEncoder(hidden_dim=d, num_layers=layers, num_heads=4, num_windows=3)
    encoder(_features(width=d_in))
    per_layer = 2 * d + (4 * d * d + 4 * d) + 2 * d + (d * 4 * d + 4 * d + 4 * d * d + d)
    assert encoder.count_params() == 3 * d_in * d + layers * per_layer + 2 * d


def _word_aligned_features(steps=8, real=(1, 5)):
    """Features as word-aligned data has them: zero rows outside `real`."""
    x = _features(batch=2, steps=steps)
    x[:, : real[0]] = 0.0
    x[:, real[1]:] = 0.0
    return x


def _encode_from(encoder, embedded):
    h = embedded
    for layer in encoder.transformer_layers:
        h = layer(h)
    return ops.convert_to_numpy(encoder.final_norm(h))


def test_nonzero_positions_follow_the_released_code():
    # Steps 1-4 are real; the convolution (kernel 3) reaches steps 0 and 5,
    # so steps 6 and 7 project to exact zeros: no position there.
    encoder = SequenceEncoder(**SMALL, positions="nonzero")
    x = _word_aligned_features()
    global_x, _ = encoder(x)
    projected = ops.convert_to_numpy(encoder.projection(x))
    np.testing.assert_array_equal(projected[:, 6:], 0.0)
    assert (projected[:, :6, 0] != 0).all()
    table = ops.convert_to_numpy(sinusoidal_positions(8, 8))
    embedded = projected * math.sqrt(8) + table[None] * (projected[:, :, :1] != 0)
    np.testing.assert_array_equal(embedded[:, 6:], 0.0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(global_x), _encode_from(encoder, embedded).max(1), atol=1e-5
    )


def test_nonzero_and_all_positions_differ_only_on_zero_steps():
    nonzero = SequenceEncoder(**SMALL, positions="nonzero")
    everywhere = SequenceEncoder(**SMALL, positions="all")
    dense = _features()
    nonzero(dense)
    everywhere(dense)
    everywhere.set_weights(nonzero.get_weights())
    for first, second in zip(nonzero(dense), everywhere(dense)):
        np.testing.assert_allclose(ops.convert_to_numpy(first), ops.convert_to_numpy(second), atol=1e-6)
    padded = _word_aligned_features()
    assert not np.allclose(
        ops.convert_to_numpy(nonzero(padded)[0]), ops.convert_to_numpy(everywhere(padded)[0]), atol=1e-3
    )


def test_unknown_positions_are_refused():
    with pytest.raises(ValueError, match="positions"):
        SequenceEncoder(**SMALL, positions="some")
