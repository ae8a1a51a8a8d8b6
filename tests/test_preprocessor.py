"""GLoMoPreprocessor: the frozen numpy encodings on every layout; tf.data, config, SavedModel.

`frozen_reference()` gives what the numpy encoder of b735619 (since deleted)
gave for the same utterances and settings at the same call of the same test
(`tests/data/frozen_encodings/preprocessor_cases.npz`, recorded by running
these tests at b735619).

Dense inputs pad words with "" and feature rows with `PAD_ROW`, a value that
must never reach the outputs. Feature values tell where they come from
(`rows`: utterance base + row + column / 1000), so a row in the wrong place
breaks the exact equality.
"""

import inspect
import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from data_fixtures import TINY_VOCABULARY, mmsa_split, rows, tiny_tokenizer

from glomo_keras.data import GLoMoPreprocessor, Utterance
from glomo_keras.data.preprocessor import FORMAT_LAYOUTS, WORD_LAYOUTS

PAD_ROW = 7e5
DIMS = {"acoustic": 5, "visual": 4, "text": None}

MAG_WORDS = [
    ["The", "movie", "was", "good"],
    ["I", "don't", "know", "!"],  # punctuation inside a word, and alone
    ["playing", "it", "was", "unbelievable", "fun"],  # words of several pieces
    ["xyz", "so good", "", "café", "日本", "so!", "..."],  # unknown, spaced, empty, CJK
    ["great"],
    [],  # no words
    ["playing"] * 9,  # 18 pieces: cut at T
]

# (context sentences, punchline)
HKT_CASES = [
    ([["i", "know"], ["right"]], ["so", "good"]),
    ([], ["playing"]),  # no context
    ([["the", "movie", "was", "bad."]], ["oh", "no"]),  # "bad." is bad + "."
    ([["i"], [], ["right"]], ["yes"]),  # an empty sentence between
    ([[], ["oh"]], ["really"]),  # an empty first sentence
    ([["oh"], []], ["no"]),  # an empty last sentence
    ([[], []], ["yes", "don't"]),
    ([["yes"]], []),  # no punchline words: its "." gets no row
    ([["i", "know"], ["right", "it", "was", "fun"]], ["so", "unbelievable", "playing"]),
    ([["i"]], ["playing"] * 8),  # too long: all the context, then the punchline's end
]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def make_preprocessor(data_format, max_length, stored_dims=DIMS, tokenizer=None, **kwargs):
    """The preprocessor of a format's data; MAG and HKT get the tiny vocabulary."""
    layout = FORMAT_LAYOUTS[data_format]
    if layout in WORD_LAYOUTS:
        kwargs["tokenizer"] = tokenizer or tiny_tokenizer()
    return GLoMoPreprocessor(layout, sequence_length=max_length,
                             acoustic_dim=stored_dims["acoustic"],
                             visual_dim=stored_dims["visual"], text_dim=stored_dims["text"],
                             **kwargs)


FROZEN_CASES = (pathlib.Path(__file__).resolve().parent / "data" / "frozen_encodings"
                / "preprocessor_cases.npz")
_CALLS = {}


def frozen_reference():
    """The frozen encoding of this test's next reference call: `{input name: array}`."""
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[-1].split(" ")[0]
    index = _CALLS.get(test, 0)
    _CALLS[test] = index + 1
    prefix = f"{test}/{index}/"
    with np.load(FROZEN_CASES) as archive:
        reference = {key[len(prefix):]: archive[key] for key in archive.files
                     if key.startswith(prefix)}
    assert reference, f"no frozen encoding for {prefix}"
    return reference


@pytest.fixture(autouse=True)
def _count_reference_calls_per_test():
    _CALLS.clear()
    yield


def assert_equal_to_frozen(outputs):
    reference = frozen_reference()
    assert set(outputs) == set(reference)
    for name, expected in reference.items():
        actual = np.asarray(outputs[name])
        assert actual.dtype == expected.dtype, name
        np.testing.assert_array_equal(actual, expected, err_msg=name)


def padded(arrays, dim):
    """float32 [N, width, dim] from [n_i, dim] arrays; padding rows hold PAD_ROW."""
    width = max(len(array) for array in arrays)
    out = np.full((len(arrays), width, dim), PAD_ROW, np.float32)
    for i, array in enumerate(arrays):
        out[i, : len(array)] = array
    return out


def padded_words(word_lists):
    width = max(len(words) for words in word_lists)
    return [list(words) + [""] * (width - len(words)) for words in word_lists]


def ragged(arrays):
    """float32 ragged [N, None, dim] from [n_i, dim] arrays."""
    return tf.RaggedTensor.from_row_lengths(
        np.concatenate(arrays).astype(np.float32), [len(array) for array in arrays])


def mag_utterances():
    utterances = [
        Utterance(words=words, acoustic=rows(len(words), 5, 1 + 10 * i),
                  visual=rows(len(words), 4, 1.5 + 10 * i))
        for i, words in enumerate(MAG_WORDS)
    ]
    utterances[1].acoustic[1, 2] = np.nan
    utterances[2].acoustic[0, 4] = -np.inf
    utterances[2].visual[3, 0] = np.inf
    return utterances


def mag_inputs(utterances):
    return {
        "words": padded_words([u.words for u in utterances]),
        "acoustic": padded([u.acoustic for u in utterances], 5),
        "visual": padded([u.visual for u in utterances], 4),
    }


def hkt_utterances():
    utterances = []
    for i, (context, words) in enumerate(HKT_CASES):
        n_context = sum(len(sentence) for sentence in context)
        acoustic = np.concatenate([rows(n_context, 5, 1 + 10 * i), rows(len(words), 5, 200 + i)])
        visual = np.concatenate([rows(n_context, 4, 2 + 10 * i), rows(len(words), 4, 300 + i)])
        utterances.append(Utterance(words=words, context=context, acoustic=acoustic,
                                    visual=visual))
    utterances[0].visual[1, 1] = np.nan
    utterances[8].acoustic[-1, 0] = np.inf
    return utterances


def hkt_inputs(utterances, sentences=True):
    """Dense HKT inputs; with `sentences`, the sentence ids and counts too."""
    inputs = {"words": padded_words([u.words for u in utterances]),
              "context_words": padded_words([u.all_words()[: -len(u.words) or None]
                                             for u in utterances])}
    for modality, dim in (("acoustic", 5), ("visual", 4)):
        context_rows, word_rows = [], []
        for u in utterances:
            array = getattr(u, modality)
            n_context = len(array) - len(u.words)
            context_rows.append(array[:n_context])
            word_rows.append(array[n_context:])
        inputs[modality] = padded(word_rows, dim)
        inputs[f"context_{modality}"] = padded(context_rows, dim)
    if sentences:
        ids = [[s for s, sentence in enumerate(u.context) for _ in sentence] for u in utterances]
        width = len(inputs["context_words"][0])
        inputs["context_sentence_ids"] = np.asarray(
            [sentence_ids + [0] * (width - len(sentence_ids)) for sentence_ids in ids], np.int32)
        inputs["context_sentences"] = np.asarray([len(u.context) for u in utterances], np.int32)
    return inputs


def test_words_layout_equals_encode_dense_and_ragged(tokenizer):
    preprocessor = make_preprocessor("mag", 12, acoustic_columns=[4, 0, 2], tokenizer=tokenizer)
    utterances = mag_utterances()
    inputs = mag_inputs(utterances)
    outputs = preprocessor(inputs)
    assert_equal_to_frozen(outputs)
    assert np.asarray(outputs["acoustic"]).shape == (7, 12, 3)
    ragged_inputs = {
        "words": tf.ragged.constant([u.words for u in utterances], dtype=tf.string),
        "acoustic": ragged([u.acoustic for u in utterances]),
        "visual": ragged([u.visual for u in utterances]),
    }
    assert_equal_to_frozen(preprocessor(ragged_inputs))


def test_words_with_context_layout_equals_encode(tokenizer):
    preprocessor = make_preprocessor("hkt", 12, visual_columns=[3, 1], tokenizer=tokenizer)
    utterances = hkt_utterances()
    outputs = preprocessor(hkt_inputs(utterances))
    assert_equal_to_frozen(outputs)
    ids = np.asarray(outputs["token_ids"])
    assert [TINY_VOCABULARY[i] for i in ids[3]] == [
        "[CLS]", "i", ".", ".", "right", "[SEP]", "yes", ".", "[SEP]", "[PAD]", "[PAD]", "[PAD]"]
    # Ragged inputs give their own lengths.
    ragged_inputs = {
        "words": tf.ragged.constant([u.words for u in utterances], dtype=tf.string),
        "context_words": tf.ragged.constant(
            [[word for sentence in u.context for word in sentence] for u in utterances],
            dtype=tf.string),
        "context_sentence_ids": tf.ragged.constant(
            [[s for s, sentence in enumerate(u.context) for _ in sentence] for u in utterances],
            dtype=tf.int32),
        "context_sentences": [len(u.context) for u in utterances],
    }
    for modality in ("acoustic", "visual"):
        arrays = [(getattr(u, modality), len(u.all_words()) - len(u.words)) for u in utterances]
        ragged_inputs[modality] = ragged([array[n:] for array, n in arrays])
        ragged_inputs[f"context_{modality}"] = ragged([array[:n] for array, n in arrays])
    assert_equal_to_frozen(preprocessor(ragged_inputs))
    # Without sentence ids, a context is one sentence; 0 sentences: up to the last word's.
    one_sentence = [u for u in utterances if len(u.context) <= 1]
    assert len(one_sentence) == 4
    inputs = hkt_inputs(one_sentence, sentences=False)
    inputs["context_sentences"] = np.zeros(4, np.int32)
    outputs = preprocessor(inputs)
    assert_equal_to_frozen(outputs)


def mmsa_utterances(split, lengths):
    utterances = []
    for i in range(len(split["text_bert"])):
        utterances.append(Utterance(
            text_bert=split["text_bert"][i], acoustic=split["audio"][i],
            visual=split["vision"][i],
            acoustic_length=int(split["audio_lengths"][i]) if lengths else None,
            visual_length=int(split["vision_lengths"][i]) if lengths else None,
        ))
    utterances[0].acoustic[2, 1] = np.nan
    return utterances


def test_token_ids_layout_with_stored_lengths_equals_encode():
    split = mmsa_split(4, length=20, audio=(24, 5), vision=(16, 6), lengths=True, seed=3)
    split["audio"][0, 2, 1] = np.nan  # a non-finite value, encoded as 0
    preprocessor = make_preprocessor("mmsa", 20, {"acoustic": 5, "visual": 6, "text": None},
                                     acoustic_length=20, visual_length=18,
                                     acoustic_columns=[1, 3])
    text_bert = split["text_bert"]
    outputs = preprocessor({
        "token_ids": text_bert[:, 0], "padding_mask": text_bert[:, 1],
        "segment_ids": text_bert[:, 2],
        "acoustic": split["audio"], "acoustic_length": split["audio_lengths"],
        "visual": split["vision"], "visual_length": split["vision_lengths"],
    })
    assert_equal_to_frozen(outputs)


def test_token_ids_layout_without_lengths_shares_the_text_mask():
    split = mmsa_split(3, length=20, audio=(20, 5), vision=(20, 6), seed=4)
    utterances = mmsa_utterances(split, lengths=False)
    utterances[1].acoustic = utterances[1].acoustic[:15]  # fewer frames: zero-padded
    preprocessor = make_preprocessor("mmsa", 20, {"acoustic": 5, "visual": 6, "text": None})
    text_bert = split["text_bert"]
    inputs = {
        "token_ids": text_bert[:, 0], "padding_mask": text_bert[:, 1],
        "segment_ids": text_bert[:, 2],
        "acoustic": ragged([u.acoustic for u in utterances]), "visual": split["vision"],
    }
    assert_equal_to_frozen(preprocessor(inputs))
    cut = GLoMoPreprocessor("token_ids", sequence_length=20, acoustic_dim=5, visual_dim=6,
                            acoustic_length=12)
    with pytest.raises(ValueError, match="acoustic without acoustic_length shares the text mask"):
        cut(inputs)


def cherma_utterances():
    utterances = []
    for i, (n_text, n_acoustic, n_visual) in enumerate([(3, 9, 5), (9, 2, 7), (6, 7, 1)]):
        utterances.append(Utterance(
            text_features=rows(n_text, 8, 1 + 10 * i), acoustic=rows(n_acoustic, 5, 2 + 10 * i),
            visual=rows(n_visual, 6, 3 + 10 * i)))
    utterances[1].text_features[0, 3] = np.nan
    utterances[0].visual[4, 5] = -np.inf
    return utterances


def test_features_layout_equals_encode_ragged_and_with_lengths():
    utterances = cherma_utterances()
    preprocessor = make_preprocessor("cherma", 6, {"acoustic": 5, "visual": 6, "text": 8},
                                     acoustic_length=7, visual_length=5,
                                     acoustic_columns=[0, 4])
    fields = (("text_features", "text", 8), ("acoustic", "acoustic", 5), ("visual", "visual", 6))
    ragged_inputs = {name: ragged([getattr(u, name) for u in utterances])
                     for name, _, _ in fields}
    assert_equal_to_frozen(preprocessor(ragged_inputs))
    dense = {}
    for name, modality, dim in fields:
        arrays = [getattr(u, name) for u in utterances]
        dense[name] = padded(arrays, dim)  # PAD_ROW after each length: becomes zeros
        dense[f"{modality}_length"] = np.asarray([len(array) for array in arrays], np.int32)
    assert_equal_to_frozen(preprocessor(dense))


def assert_longest_is_max_length_cut(fixed, longest, inputs, lengths):
    """`padding="longest"` gives the `"max_length"` outputs cut to the batch's rounded length.

    `lengths` maps each output's sequence to the real steps of the batch's
    longest utterance and its cap (T, T_a or T_v).
    """
    expected, outputs = fixed(inputs), longest(inputs)
    assert set(outputs) == set(expected)
    for name, value in outputs.items():
        real, cap = lengths[name]
        steps = min(cap, -(-real // 8) * 8)
        assert np.asarray(value).shape[1] == steps, name
        np.testing.assert_array_equal(np.asarray(value),
                                      np.asarray(expected[name])[:, :steps], err_msg=name)


def test_longest_padding_pads_to_the_batch_longest_rounded_to_8(tokenizer):
    words = [["so", "good"], ["playing", "it", "was", "unbelievable", "fun"], ["playing"] * 9]
    utterances = [Utterance(words=w, acoustic=rows(len(w), 5, i), visual=rows(len(w), 4, i))
                  for i, w in enumerate(words)]
    fixed = make_preprocessor("mag", 20, acoustic_columns=[4, 0, 2], tokenizer=tokenizer)
    longest = make_preprocessor("mag", 20, acoustic_columns=[4, 0, 2], tokenizer=tokenizer,
                                padding="longest")
    names = ("token_ids", "padding_mask", "segment_ids", "acoustic", "acoustic_mask",
             "visual", "visual_mask")
    # [CLS] so good [SEP]: 4 tokens -> 8 steps; 2 + 8 pieces -> 16; 2 + 18 -> T = 20.
    for batch, real in ((utterances[:1], 4), (utterances[:2], 10), (utterances, 20)):
        assert_longest_is_max_length_cut(fixed, longest, mag_inputs(batch),
                                         dict.fromkeys(names, (real, 20)))
    # The longest: [CLS] the movie was bad . [SEP] oh no . [SEP], 11 tokens.
    assert_longest_is_max_length_cut(
        make_preprocessor("hkt", 24, visual_columns=[3, 1], tokenizer=tokenizer),
        make_preprocessor("hkt", 24, visual_columns=[3, 1], tokenizer=tokenizer,
                          padding="longest"),
        hkt_inputs(hkt_utterances()[:3]), dict.fromkeys(names, (11, 24)))
    cherma = cherma_utterances()  # text 3, 9, 6 steps; acoustic 9, 2, 7; visual 5, 7, 1
    features = dict(data_format="cherma", max_length=20,
                    stored_dims={"acoustic": 5, "visual": 6, "text": 8},
                    acoustic_length=7, visual_length=30)
    inputs = {name: ragged([getattr(u, name) for u in cherma])
              for name in ("text_features", "acoustic", "visual")}
    caps = {"text": (9, 20), "acoustic": (7, 7), "visual": (7, 30)}
    assert_longest_is_max_length_cut(
        make_preprocessor(**features), make_preprocessor(**features, padding="longest"), inputs,
        {name: caps[name.split("_")[0]] for name in
         ("text_features", "text_mask", "acoustic", "acoustic_mask", "visual", "visual_mask")})
    with pytest.raises(ValueError, match="'max_length' for layout 'token_ids'"):
        GLoMoPreprocessor("token_ids", sequence_length=8, acoustic_dim=5, visual_dim=4,
                          padding="longest")
    with pytest.raises(ValueError, match="padding must be one of"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=8, acoustic_dim=5,
                          visual_dim=4, padding="shortest")


def test_tf_data_map_batched_and_unbatched(tokenizer):
    preprocessor = make_preprocessor("mag", 12, acoustic_columns=[4, 0, 2], tokenizer=tokenizer)
    utterances = mag_utterances()
    inputs = mag_inputs(utterances)
    labels = np.arange(len(utterances), dtype=np.float32)
    elements = tf.data.Dataset.from_tensor_slices((inputs, labels))
    for dataset in (
        elements.batch(3).map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE),
        elements.map(preprocessor).batch(3),  # one utterance per call
    ):
        batches = list(dataset.as_numpy_iterator())
        outputs = {name: np.concatenate([batch[0][name] for batch in batches])
                   for name in batches[0][0]}
        assert_equal_to_frozen(outputs)
        np.testing.assert_array_equal(np.concatenate([batch[1] for batch in batches]), labels)


def test_one_unbatched_utterance_gives_unbatched_outputs(tokenizer):
    preprocessor = make_preprocessor("hkt", 12, tokenizer=tokenizer)
    utterances = hkt_utterances()
    inputs = hkt_inputs(utterances[:1])
    del inputs["context_sentences"]  # optional: its last sentence has words
    single = {name: np.asarray(value)[0] for name, value in inputs.items()}
    outputs = preprocessor(single)
    assert np.asarray(outputs["token_ids"]).shape == (12,)
    assert np.asarray(outputs["visual"]).shape == (12, 4)
    reference = frozen_reference()
    for name, expected in reference.items():
        np.testing.assert_array_equal(np.asarray(outputs[name]), expected[0], err_msg=name)


def test_config_round_trip_and_keras_file_keep_the_outputs(tokenizer, tmp_path):
    preprocessor = make_preprocessor("mag", 12, tokenizer=tokenizer, acoustic_columns=[4, 0, 2],
                                     name="preprocessor")
    config = preprocessor.get_config()
    arguments = set(inspect.signature(GLoMoPreprocessor.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)
    assert config["acoustic_columns"] == [4, 0, 2] and config["layout"] == "words"
    assert config["tokenizer"]["config"]["vocabulary"] == TINY_VOCABULARY
    # A JSON config alone rebuilds the layer, tokenizer vocabulary included.
    rebuilt = GLoMoPreprocessor.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(preprocessor)))
    assert serialized["registered_name"] == "glomo_keras>GLoMoPreprocessor"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config
    path = str(tmp_path / "preprocessor.keras")
    with pytest.warns(UserWarning, match="not yet been built"):
        keras.Sequential([preprocessor]).save(path)
    loaded = keras.saving.load_model(path).layers[0]
    assert isinstance(loaded, GLoMoPreprocessor) and loaded.get_config() == config
    inputs = mag_inputs(mag_utterances())
    expected = preprocessor(inputs)
    for name, value in loaded(inputs).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(expected[name]), err_msg=name)


def test_traces_with_a_fixed_signature_into_a_saved_model(tokenizer, tmp_path):
    """The `analyze` signature the export builds: raw words and stored rows in."""
    preprocessor = make_preprocessor("hkt", 12, visual_columns=[3, 1], tokenizer=tokenizer)
    words = tf.TensorSpec([None, None], tf.string)
    rows_of = {"acoustic": tf.TensorSpec([None, None, 5], tf.float32),
               "visual": tf.TensorSpec([None, None, 4], tf.float32)}

    @tf.function(input_signature=[{
        "words": words, "context_words": words, **rows_of,
        **{f"context_{name}": spec for name, spec in rows_of.items()},
        "context_sentence_ids": tf.TensorSpec([None, None], tf.int32),
        "context_sentences": tf.TensorSpec([None], tf.int32),
    }])
    def analyze(inputs):
        return preprocessor(inputs)

    traced = analyze.get_concrete_function()
    shapes = {name: spec.shape.as_list() for name, spec in traced.structured_outputs.items()}
    assert shapes["token_ids"] == [None, 12] and shapes["visual"] == [None, 12, 2]
    module = tf.Module()
    module.analyze = analyze
    tf.saved_model.save(module, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    utterances = hkt_utterances()
    inputs = {name: tf.constant(value) for name, value in hkt_inputs(utterances).items()}
    assert_equal_to_frozen(loaded.analyze(inputs))


def test_bad_inputs_and_arguments_get_clear_errors(tokenizer):
    preprocessor = GLoMoPreprocessor("words", tokenizer, sequence_length=8, acoustic_dim=5,
                                     visual_dim=4)
    words = [["so", "good"]]
    with pytest.raises(ValueError, match="the input 'visual' is missing"):
        preprocessor({"words": words, "acoustic": rows(2, 5)[None]})
    with pytest.raises(ValueError, match="acoustic has 3 columns; .* expects the 5 stored"):
        preprocessor({"words": words, "acoustic": rows(2, 3)[None], "visual": rows(2, 4)[None]})
    with pytest.raises(ValueError, match="visual needs one row per word"):
        preprocessor({"words": words, "acoustic": rows(2, 5)[None], "visual": rows(1, 4)[None]})
    with pytest.raises(ValueError, match="words must be strings"):
        preprocessor({"words": [[1, 2]], "acoustic": rows(2, 5)[None], "visual": rows(2, 4)[None]})
    hkt = GLoMoPreprocessor("words_with_context", tokenizer, sequence_length=8,
                            acoustic_dim=5, visual_dim=4)
    with pytest.raises(ValueError, match="non-decreasing"):
        hkt({"words": words, "acoustic": rows(2, 5)[None], "visual": rows(2, 4)[None],
             "context_words": [["i", "know"]], "context_sentence_ids": [[1, 0]],
             "context_acoustic": rows(2, 5)[None], "context_visual": rows(2, 4)[None]})
    untokenised = GLoMoPreprocessor("words", sequence_length=8, acoustic_dim=5, visual_dim=4)
    with pytest.raises(ValueError, match="'words' needs the backbone's tokenizer to encode"):
        untokenised({"words": words, "acoustic": rows(2, 5)[None], "visual": rows(2, 4)[None]})
    with pytest.raises(ValueError, match="layout must be one of"):
        GLoMoPreprocessor("mag", tokenizer, sequence_length=8, acoustic_dim=5, visual_dim=4)
    with pytest.raises(ValueError, match="acoustic_length must be sequence_length=8"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=8, acoustic_dim=5,
                          visual_dim=4, acoustic_length=20)
    with pytest.raises(ValueError, match=r"visual_columns must select columns in 0..3"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=8, acoustic_dim=5,
                          visual_dim=4, visual_columns=[4])
    with pytest.raises(ValueError, match="a classification task needs class_names"):
        GLoMoPreprocessor("words", tokenizer, sequence_length=8, acoustic_dim=5,
                          visual_dim=4, task="classification")


def test_the_settings_of_glomo_keras_0_1_make_the_same_preprocessor(tokenizer):
    """Runs and exports of 0.1 saved preprocessing settings, not the preprocessor."""
    settings = {
        "format": "hkt", "max_length": 12, "acoustic_length": 12, "visual_length": 12,
        "stored_dims": DIMS, "task": "classification", "class_names": ["no", "yes"],
        "acoustic_columns": None, "visual_columns": [3, 1], "vocabulary": TINY_VOCABULARY,
        "lowercase": True, "strip_accents": False, "dataset": "mustard",
    }
    preprocessor = GLoMoPreprocessor.from_saved(settings)
    expected = make_preprocessor("hkt", 12, tokenizer=tokenizer, visual_columns=[3, 1],
                                 task="classification", class_names=["no", "yes"],
                                 dataset="mustard")
    saved = keras.saving.serialize_keras_object(expected)
    assert GLoMoPreprocessor.from_saved(saved).get_config() == expected.get_config()
    assert "class_name" in saved  # from_saved left it as it was
    configs = [preprocessor.get_config(), expected.get_config()]
    for config in configs:
        del config["name"], config["tokenizer"]["config"]["name"]
    assert configs[0] == configs[1]
    assert (preprocessor.format, preprocessor.input_dims) == (
        "hkt", {"acoustic": 5, "visual": 2, "text": None})
    inputs = hkt_inputs(hkt_utterances())
    for name, value in preprocessor(inputs).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(expected(inputs)[name]))
