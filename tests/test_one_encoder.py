"""The one encoder reproduces the frozen encodings of the five file layouts exactly.

`tests/data/frozen_encodings/<layout>.npz` hold what the numpy encoder of
b735619 gave for the tiny inputs beside them (see `freeze.py` there). Both
ways into the encoder must give the same arrays: the training walk
(`load`, which encodes every split) and the raw utterances of `read` fed to
`GLoMoPreprocessor` (the analyzer's and the SavedModel's way). Ints are
bit-equal, floats equal to the last bit.
"""

import pathlib
import sys

import numpy as np
import pytest

FROZEN = pathlib.Path(__file__).resolve().parent / "data" / "frozen_encodings"
sys.path.insert(0, str(FROZEN))

from freeze import INPUTS, LAYOUTS  # noqa: E402

from glomo_keras.data import load, make_tokenizer, preprocessor, read  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer(str(INPUTS / "vocab.txt"))


def frozen(layout):
    with np.load(FROZEN / f"{layout}.npz") as archive:
        return {key: archive[key] for key in archive.files}


def assert_same(expected, actual, label):
    assert expected.dtype == actual.dtype, f"{label}: {actual.dtype} != {expected.dtype}"
    assert expected.shape == actual.shape, f"{label}: {actual.shape} != {expected.shape}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=0, atol=0, err_msg=label)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=label)


@pytest.mark.parametrize("traced", [False, True], ids=["op_by_op", "traced"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_training_walk_reproduces_the_frozen_encoding(layout, traced, tokenizer, monkeypatch):
    # Small files run the preprocessor op by op; from TRACE_FROM utterances
    # on, traced in a tf.data pipeline: both give the frozen arrays.
    monkeypatch.setattr(preprocessor, "TRACE_FROM", 0 if traced else 10**9)
    file, options = LAYOUTS[layout]
    dataset = load(INPUTS / file, tokenizer=tokenizer, use_cache=False, **options)
    expected = frozen(layout)
    actual = {}
    for name, split in dataset.splits.items():
        actual.update({f"{name}/{key}": np.asarray(value) for key, value in split.inputs.items()})
        actual[f"{name}/labels"] = np.asarray(split.labels)
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert_same(expected[key], actual[key], f"{layout} {key}")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_preprocessor_on_raw_utterances_reproduces_the_frozen_encoding(layout, tokenizer):
    file, options = LAYOUTS[layout]
    dataset = read(INPUTS / file, tokenizer=tokenizer, **options)
    preprocessor = dataset.preprocessor
    expected = frozen(layout)
    for name, split in dataset.splits.items():
        outputs = preprocessor(preprocessor.raw_inputs(split.utterances))
        for key, value in outputs.items():
            assert_same(expected[f"{name}/{key}"], np.asarray(value), f"{layout} {name}/{key}")
