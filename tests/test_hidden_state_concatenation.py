"""Tests for `HiddenStateConcatenation`."""

import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.hidden_state_concatenation import HiddenStateConcatenation

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def _states():
    rng = np.random.default_rng(2)
    last = rng.normal(size=(2, 5, 3)).astype("float32")
    previous = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    return last, previous, mask


def test_paper_behaviour_concatenates_padding_too():
    last, previous, mask = _states()
    sequence, out_mask = HiddenStateConcatenation()([last, previous], padding_mask=mask)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(sequence), np.concatenate([last, previous], 1)
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(out_mask), np.ones((2, 10)))


def test_length_aware_gathers_real_tokens():
    last, previous, mask = _states()
    layer = HiddenStateConcatenation(length_aware=True)
    sequence, out_mask = (
        ops.convert_to_numpy(t) for t in layer([last, previous], padding_mask=mask)
    )
    expected = np.zeros((2, 10, 3), "float32")
    expected[0, :6] = np.concatenate([last[0, :3], previous[0, :3]])
    expected[1] = np.concatenate([last[1], previous[1]])
    np.testing.assert_array_equal(sequence, expected)
    np.testing.assert_array_equal(out_mask, [[1] * 6 + [0] * 4, [1] * 10])


@pytest.mark.parametrize("length_aware", [False, True])
def test_standard_layer_checks(tmp_path, length_aware):
    last, previous, mask = _states()
    run_layer_test(
        HiddenStateConcatenation,
        init_kwargs={"length_aware": length_aware},
        input_data=[last, previous],
        call_kwargs={"padding_mask": mask},
        expected_output_shape=((2, 10, 3), (2, 10)),
        expect_trainable_weights=False,
        tmp_path=tmp_path,
    )
