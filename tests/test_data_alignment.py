"""WordPiece tokenisation and alignment by `GLoMoPreprocessor`, checked piece by piece."""

import json

import keras
import numpy as np
import pytest
from data_fixtures import (
    TINY_VOCABULARY,
    hkt_data,
    hkt_item,
    mag_data,
    mag_item,
    mmsa_data,
    rows,
    tiny_tokenizer,
    write_cherma,
    write_pickle,
)

from glomo_keras.data import (
    DataFormatError,
    GLoMoPreprocessor,
    Utterance,
    load,
    read,
)


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def pieces(token_ids):
    return [TINY_VOCABULARY[i] for i in token_ids]


class Aligned:
    """One utterance through the preprocessor: tokens, segments, each token's word row."""

    def __init__(self, tokenizer, words, max_length, context=None):
        layout = "words" if context is None else "words_with_context"
        preprocessor = GLoMoPreprocessor(layout, tokenizer, sequence_length=max_length,
                                         acoustic_dim=1, visual_dim=1)
        n_rows = len(words) + sum(len(sentence) for sentence in context or ())
        # Row r holds r + 1, so a token's feature value minus 1 is its row (-1: none).
        features = np.arange(1, n_rows + 1, dtype="float32")[:, None]
        utterance = {"words": words, "acoustic": features, "visual": features}
        if context is not None:
            utterance["context"] = context
        outputs = preprocessor.call_with_lengths(preprocessor.raw_inputs([utterance]))
        outputs = {name: value.numpy()[0] for name, value in outputs.items()}
        self.token_ids = outputs["token_ids"]
        self.segment_ids = outputs["segment_ids"]
        self.rows = outputs["acoustic"][:, 0].astype(np.int32) - 1
        self.n_tokens = int(outputs["padding_mask"].sum())
        self.length = int(outputs["text_length"])


def align_words(words, tokenizer, max_length):
    return Aligned(tokenizer, words, max_length)


def align_pair(context, words, tokenizer, max_length):
    return Aligned(tokenizer, words, max_length, context)


def test_align_words_piece_by_piece(tokenizer):
    aligned = align_words(["The", "playing", "don't", "xyz", "unbelievable"], tokenizer, 14)
    assert pieces(aligned.token_ids) == [
        "[CLS]", "the", "play", "##ing", "don", "'", "t", "[UNK]", "un", "##believ", "##able",
        "[SEP]", "[PAD]", "[PAD]",
    ]
    assert aligned.rows.tolist() == [-1, 0, 1, 1, 2, 2, 2, 3, 4, 4, 4, -1, -1, -1]
    assert aligned.segment_ids.tolist() == [0] * 14
    assert aligned.n_tokens == 12 and aligned.length == 12


def test_align_words_truncates_to_the_first_pieces(tokenizer):
    aligned = align_words(["playing"] * 5, tokenizer, 6)
    assert pieces(aligned.token_ids) == ["[CLS]", "play", "##ing", "play", "##ing", "[SEP]"]
    assert aligned.rows.tolist() == [-1, 0, 0, 1, 1, -1]
    assert aligned.length == 12 and aligned.n_tokens == 6


def test_align_words_unicode_punctuation_and_empty(tokenizer):
    aligned = align_words(["日本", "so!", "..."], tokenizer, 10)
    assert pieces(aligned.token_ids[:8]) == ["[CLS]", "日", "本", "so", "!", ".", ".", "."]
    assert aligned.rows[:9].tolist() == [-1, 0, 0, 1, 1, 2, 2, 2, -1]
    empty = align_words([], tokenizer, 4)
    assert pieces(empty.token_ids) == ["[CLS]", "[SEP]", "[PAD]", "[PAD]"]


def test_align_pair_layout_segments_and_rows(tokenizer):
    aligned = align_pair([["i", "know"], ["right"]], ["so", "good"], tokenizer, 14)
    assert pieces(aligned.token_ids) == [
        "[CLS]", "i", "know", ".", "right", "[SEP]", "so", "good", ".", "[SEP]",
        "[PAD]", "[PAD]", "[PAD]", "[PAD]",
    ]
    assert aligned.segment_ids.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    # The "." pieces repeat the row of the word before them.
    assert aligned.rows.tolist() == [-1, 0, 1, 1, 2, -1, 3, 4, 4, -1, -1, -1, -1, -1]
    assert aligned.length == 10


def test_align_pair_drops_the_start_of_the_context_first(tokenizer):
    aligned = align_pair([["i", "know"], ["right"]], ["so", "good"], tokenizer, 8)
    assert pieces(aligned.token_ids) == [
        "[CLS]", ".", "right", "[SEP]", "so", "good", ".", "[SEP]"]
    assert aligned.rows.tolist() == [-1, 1, 2, -1, 3, 4, 4, -1]
    assert aligned.length == 10
    only_punchline = align_pair([["i"]], ["playing", "playing"], tokenizer, 6)
    assert pieces(only_punchline.token_ids) == [
        "[CLS]", "[SEP]", "play", "##ing", "play", "[SEP]"]


def test_align_pair_with_an_empty_context(tokenizer):
    aligned = align_pair([], ["playing"], tokenizer, 7)
    assert pieces(aligned.token_ids) == [
        "[CLS]", "[SEP]", "play", "##ing", ".", "[SEP]", "[PAD]"]
    assert aligned.segment_ids.tolist() == [0, 0, 1, 1, 1, 1, 0]
    assert aligned.rows.tolist() == [-1, -1, 0, 0, 0, -1, -1]


def test_encode_mag_repeats_rows_per_piece_with_zero_rows_elsewhere(tmp_path, tokenizer):
    data = mag_data()
    data["train"][0] = mag_item(["the", "playing", "great"], 2.0)
    dataset = load(write_pickle(tmp_path / "mosi.pkl", data), tokenizer=tokenizer,
                   max_length=8, use_cache=False)
    inputs = dataset.train.inputs
    for name in ("token_ids", "padding_mask", "segment_ids", "acoustic_mask", "visual_mask"):
        assert inputs[name].dtype == np.int32, name
    assert inputs["acoustic"].dtype == np.float32
    assert pieces(inputs["token_ids"][0]) == [
        "[CLS]", "the", "play", "##ing", "great", "[SEP]", "[PAD]", "[PAD]"]
    assert inputs["padding_mask"][0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
    assert inputs["acoustic_mask"][0].tolist() == [0, 1, 1, 1, 1, 0, 0, 0]
    assert inputs["visual_mask"][0].tolist() == inputs["acoustic_mask"][0].tolist()
    acoustic = inputs["acoustic"][0]
    np.testing.assert_allclose(acoustic[:, 0], [0, 0, 1, 1, 2, 0, 0, 0])
    np.testing.assert_allclose(acoustic[2], rows(2, 74)[1])
    assert not acoustic[[0, 5, 6, 7]].any()
    assert inputs["visual"].shape == (3, 8, 47)
    np.testing.assert_allclose(inputs["visual"][0, 4], rows(3, 47)[2])


def test_encode_hkt_selects_columns_and_aligns_context_and_punchline(tmp_path, tokenizer):
    data = hkt_data()
    data["train"][0] = hkt_item("so good", ["i know", "right"])
    dataset = load(write_pickle(tmp_path / "ur_funny.pkl", data), tokenizer=tokenizer,
                   max_length=12, use_cache=False)
    inputs = dataset.train.inputs
    assert pieces(inputs["token_ids"][0][:10]) == [
        "[CLS]", "i", "know", ".", "right", "[SEP]", "so", "good", ".", "[SEP]"]
    assert inputs["acoustic"].shape == (3, 12, 60)
    assert inputs["visual"].shape == (3, 12, 36)
    np.testing.assert_allclose(
        inputs["acoustic"][0, :10, 0], [0, 0, 1, 1, 2, 0, 100, 101, 101, 0])
    # visual column 55 of the stored array is column 0 of the input
    np.testing.assert_allclose(inputs["visual"][0, 6, 0], 100.055, rtol=1e-6)
    np.testing.assert_allclose(inputs["acoustic"][0, 6, 59], 100.059, rtol=1e-6)
    assert inputs["segment_ids"][0, :10].tolist() == [0] * 6 + [1] * 4


def test_hkt_column_selection_is_configurable(tmp_path, tokenizer):
    dataset = load(write_pickle(tmp_path / "mustard.pkl", hkt_data()), tokenizer=tokenizer,
                   acoustic_columns=range(0, 81), visual_columns=[0, 90], use_cache=False)
    assert dataset.dims == {"acoustic": 81, "visual": 2, "text": None}
    assert dataset.train.inputs["visual"].shape[-1] == 2
    with pytest.raises(DataFormatError, match="visual_columns .* 0..90"):
        load(write_pickle(tmp_path / "mustard.pkl", hkt_data()), tokenizer=tokenizer,
             visual_columns=[91], use_cache=False)


def test_one_word_and_150_word_utterances(tmp_path, tokenizer):
    data = mag_data()
    data["train"][0] = mag_item(["great"], 1.0)
    data["train"][1] = mag_item(["playing"] * 150, -1.0)
    dataset = load(write_pickle(tmp_path / "mosi.pkl", data), tokenizer=tokenizer,
                   use_cache=False)
    inputs = dataset.train.inputs
    assert inputs["padding_mask"][0].sum() == 3
    assert inputs["padding_mask"][1].sum() == 60
    assert pieces(inputs["token_ids"][1][-3:]) == ["play", "##ing", "[SEP]"]
    np.testing.assert_allclose(inputs["acoustic"][1, 57:59, 0], [28, 28])
    assert dataset.report.splits["train"].truncated == 1


def test_encode_a_request_exactly_as_training(tmp_path, tokenizer):
    data = hkt_data()
    dataset = load(write_pickle(tmp_path / "ur_funny.pkl", data), tokenizer=tokenizer,
                   use_cache=False)
    saved = json.loads(json.dumps(keras.saving.serialize_keras_object(dataset.preprocessor)))
    preprocessor = GLoMoPreprocessor.from_saved(saved)  # its own tokenizer, from the JSON
    (punchline, p_visual, p_acoustic, _), (context, c_visual, c_acoustic, _), _, _ = (
        data["train"][0])
    request = {
        "words": punchline.split(),
        "context": [sentence.split() for sentence in context],
        "acoustic": np.concatenate([c_acoustic, p_acoustic]).tolist(),
        "visual": np.concatenate([c_visual, p_visual]).tolist(),
    }
    served = preprocessor.encode([request])
    trained = dataset.train.inputs
    assert set(served) == set(trained)
    for name in served:
        np.testing.assert_array_equal(served[name][0], trained[name][0], err_msg=name)
        assert served[name].dtype == trained[name].dtype, name


def test_encode_rejects_requests_that_do_not_fit(tmp_path, tokenizer):
    dataset = load(write_pickle(tmp_path / "mosi.pkl", mag_data()), tokenizer=tokenizer,
                   use_cache=False)
    encode = dataset.preprocessor.encode
    good = Utterance(words=["so", "good"], acoustic=rows(2, 74), visual=rows(2, 47))
    assert encode([good])["acoustic"].shape == (1, 60, 74)
    with pytest.raises(DataFormatError, match=r"item 0, field 'acoustic': has 3 rows"):
        encode([{"words": ["so", "good"], "acoustic": rows(3, 74), "visual": rows(2, 47)}])
    with pytest.raises(DataFormatError, match=r"field 'visual': has 35 feature columns"):
        encode([{"words": ["so"], "acoustic": rows(1, 74), "visual": rows(1, 35)}])
    with pytest.raises(DataFormatError, match="unknown fields"):
        encode([{"text": "so good"}])
    with pytest.raises(DataFormatError, match=r"field 'words': expected a list of words"):
        encode([{"words": "so good", "acoustic": rows(2, 74), "visual": rows(2, 47)}])
    with pytest.raises(DataFormatError, match=r"field 'words': expected a string, found an int"):
        encode([{"words": ["so", 3], "acoustic": rows(2, 74), "visual": rows(2, 47)}])


def test_the_data_facts_validate_and_round_trip(tokenizer):
    preprocessor = GLoMoPreprocessor(
        "words_with_context", tokenizer, sequence_length=80, acoustic_dim=81, visual_dim=91,
        task="classification", class_names=["negative", "positive"],
        acoustic_columns=range(60), visual_columns=range(55, 91), dataset="urfunny",
    )
    assert (preprocessor.format, preprocessor.acoustic_length) == ("hkt", 80)
    assert preprocessor.stored_dims == {"acoustic": 81, "visual": 91, "text": None}
    assert preprocessor.input_dims == {"acoustic": 60, "visual": 36, "text": None}
    saved = json.loads(json.dumps(keras.saving.serialize_keras_object(preprocessor)))
    again = GLoMoPreprocessor.from_saved(saved)
    assert again.get_config() == preprocessor.get_config()
    assert list(again.tokenizer.get_vocabulary()) == TINY_VOCABULARY
    with pytest.raises(ValueError, match="needs class_names"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=60, acoustic_dim=81,
                          visual_dim=91, task="classification")
    with pytest.raises(ValueError, match="task must be regression or classification"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=60, acoustic_dim=81,
                          visual_dim=91, task="sentiment")


def test_encode_mmsa_uses_text_bert_and_lengths(tmp_path):
    data = mmsa_data(audio=(30, 5), vision=(40, 20), lengths=True)
    dataset = load(write_pickle(tmp_path / "unaligned_50.pkl", data), use_cache=False)
    inputs = dataset.train.inputs
    text_bert = data["train"]["text_bert"].astype(np.int32)
    np.testing.assert_array_equal(inputs["token_ids"], text_bert[:, 0])
    np.testing.assert_array_equal(inputs["padding_mask"], text_bert[:, 1])
    np.testing.assert_array_equal(inputs["segment_ids"], text_bert[:, 2])
    assert inputs["acoustic"].shape == (4, 30, 5) and inputs["visual"].shape == (4, 40, 20)
    np.testing.assert_array_equal(inputs["acoustic_mask"].sum(1), data["train"]["audio_lengths"])
    np.testing.assert_array_equal(inputs["visual_mask"].sum(1), data["train"]["vision_lengths"])
    assert all(inputs[k].dtype == np.int32 for k in ("token_ids", "acoustic_mask"))
    aligned = load(write_pickle(tmp_path / "aligned_50.pkl", mmsa_data()), use_cache=False)
    inputs = aligned.train.inputs
    np.testing.assert_array_equal(inputs["acoustic_mask"], inputs["padding_mask"])
    with pytest.raises(DataFormatError, match="padded to T = 50, but max_sequence_length = 60"):
        load(tmp_path / "aligned_50.pkl", max_length=60, use_cache=False)


def test_encode_cherma_pads_and_truncates_to_50(tmp_path):
    dataset = load(write_cherma(tmp_path / "cherma"), use_cache=False)
    inputs = dataset.train.inputs
    assert set(inputs) == {"text_features", "text_mask", "acoustic", "acoustic_mask",
                           "visual", "visual_mask"}
    assert inputs["text_features"].shape == (4, 50, 1024)
    assert inputs["visual"].shape == (4, 50, 2048)
    assert inputs["text_mask"].sum(1).tolist() == [10, 50, 50, 10]
    assert inputs["text_mask"].dtype == np.int32
    np.testing.assert_allclose(inputs["acoustic"][0, 9, 0], 9)
    assert not inputs["acoustic"][0, 10:].any()
    assert dataset.report.splits["train"].truncated == 1
    assert (dataset.preprocessor.sequence_length, dataset.dims["text"]) == (50, 1024)


def test_read_gives_the_common_form_without_a_tokenizer(tmp_path):
    dataset = load(write_pickle(tmp_path / "mosi.pkl", mag_data()), use_cache=False)
    assert dataset.train.arrays is None and dataset.train.inputs is None
    assert dataset.train.utterances[0].words == ["the", "movie", "was", "good"]
    assert any("pass tokenizer=" in note for note in dataset.report.notes)
    assert read(tmp_path / "mosi.pkl").preprocessor.tokenizer is None
