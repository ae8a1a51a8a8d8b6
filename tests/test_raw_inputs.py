"""`GLoMoPreprocessor.raw_inputs`: utterances → dense (or ragged) inputs.

End to end equal to the frozen encodings.
"""

import numpy as np
import pytest
from data_fixtures import mmsa_split
from test_preprocessor import cherma_utterances
from test_preprocessor import frozen_reference
from test_preprocessor import mmsa_utterances
from test_preprocessor import hkt_utterances
from test_preprocessor import mag_utterances
from test_preprocessor import make_preprocessor

from glomo_keras.data.errors import DataFormatError


def _assert_matches_encode(utterances, preprocessor):
    outputs = preprocessor.encode(utterances)
    reference = frozen_reference()
    assert set(outputs) == set(reference)
    for name, expected in reference.items():
        np.testing.assert_array_equal(np.asarray(outputs[name]), expected, err_msg=name)


def test_word_layouts_match_encode():
    _assert_matches_encode(mag_utterances(), make_preprocessor("mag", 8))
    _assert_matches_encode(hkt_utterances(), make_preprocessor(
        "hkt", 9, acoustic_columns=[0, 2, 4], visual_columns=[1, 3]))


@pytest.mark.parametrize("layout", ["mag", "hkt"])
def test_ragged_raw_inputs_encode_as_the_padded_ones(layout):
    if layout == "mag":
        utterances, preprocessor = mag_utterances(), make_preprocessor("mag", 8)
    else:
        utterances, preprocessor = hkt_utterances(), make_preprocessor(
            "hkt", 9, acoustic_columns=[0, 2, 4], visual_columns=[1, 3])
    padded = preprocessor.call_with_lengths(preprocessor.raw_inputs(utterances))
    ragged_inputs = preprocessor.raw_inputs(utterances, ragged=True)
    assert ragged_inputs["words"].shape.rank == 2 and ragged_inputs["words"].ragged_rank == 1
    for traced in (True, False):
        ragged = preprocessor.call_with_lengths(ragged_inputs, traced=traced)
        assert set(ragged) == set(padded)
        for name, expected in padded.items():
            np.testing.assert_array_equal(ragged[name].numpy(), expected.numpy(),
                                          err_msg=f"{name}, traced={traced}")


def test_checked_utterances_are_taken_as_they_are():
    # `read` checked them: finite float32 rows; the same inputs either way.
    utterances = mag_utterances()
    for utterance in utterances:
        for modality in ("acoustic", "visual"):
            array = getattr(utterance, modality).astype("float32")
            array[~np.isfinite(array)] = 0.0
            setattr(utterance, modality, array)
    preprocessor = make_preprocessor("mag", 8)
    for ragged in (False, True):
        checked = preprocessor.raw_inputs(utterances, ragged=ragged, checked=True)
        again = preprocessor.raw_inputs(utterances, ragged=ragged)
        for name, expected in again.items():
            for part in ("flat_values", "row_lengths") if ragged else ("array",):
                np.testing.assert_array_equal(
                    _part(checked[name], part), _part(expected, part), err_msg=name)


def _part(value, part):
    if part == "flat_values":
        return value.flat_values.numpy()
    if part == "row_lengths":
        return value.row_lengths().numpy()
    return value


def test_encode_splits_names_the_split_of_a_bad_utterance():
    preprocessor = make_preprocessor("mag", 8)
    bad = {"words": ["a"], "acoustic": np.zeros((2, 5)), "visual": np.zeros((1, 4))}
    with pytest.raises(DataFormatError, match="has 2 rows") as error:
        preprocessor.encode_splits({"train": mag_utterances(), "valid": [bad]}, "f.pkl")
    assert "valid" in str(error.value)


def test_request_dicts_and_hkt_context_rows_come_first():
    preprocessor = make_preprocessor("hkt", 9)
    request = {"words": ["so", "good"], "context": [["i", "know"], ["right"]],
               "acoustic": np.arange(25, dtype="float32").reshape(5, 5),
               "visual": np.ones((5, 4), "float32")}
    batch = preprocessor.raw_inputs([request])
    np.testing.assert_array_equal(batch["context_acoustic"][0, :, 0], [0, 5, 10])
    np.testing.assert_array_equal(batch["acoustic"][0, :, 0], [15, 20])
    assert batch["context_sentence_ids"].tolist() == [[0, 0, 1]]
    assert batch["context_sentences"].tolist() == [2]
    _assert_matches_encode([request], preprocessor)


def test_sequence_layouts_match_encode():
    dims = {"acoustic": 5, "visual": 6, "text": None}
    for lengths in (True, False):
        split = mmsa_split(3, length=20, audio=(24, 5), vision=(20, 6), lengths=lengths, seed=3)
        _assert_matches_encode(mmsa_utterances(split, lengths=lengths), make_preprocessor(
            "mmsa", 20, dims, acoustic_length=24 if lengths else 20))
    _assert_matches_encode(cherma_utterances(), make_preprocessor(
        "cherma", 6, {"acoustic": 5, "visual": 6, "text": 8}, acoustic_length=7,
        visual_length=5, acoustic_columns=[0, 4]))


@pytest.mark.parametrize("utterances, message", [
    ([], "non-empty list"),
    ([{"words": ["a"], "acoustic": np.zeros((2, 5)), "visual": np.zeros((1, 4))}],
     "instance 0|item 0|has 2 rows"),
    ([{"words": ["a"], "acoustic": np.zeros((1, 6)), "visual": np.zeros((1, 4))}], "6 feature"),
    ([{"words": "a", "acoustic": np.zeros((1, 5)), "visual": np.zeros((1, 4))}], "list of words"),
    ([{"words": ["a"], "colour": 1}], "unknown fields"),
])
def test_bad_utterances_are_named(utterances, message):
    with pytest.raises(DataFormatError, match=message):
        make_preprocessor("mag", 8).raw_inputs(utterances)
