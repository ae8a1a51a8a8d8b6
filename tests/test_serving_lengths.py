"""Serving a `length_aware` model at the utterance's length (spec §8, issue 19).

Its `analyze` signature pads a batch to its longest utterance, rounded up
to a multiple of 8 (at most T), its `serving_default` takes any length up
to T, and the server batches utterances of similar length together. The
answers equal the Keras model's on the same utterances padded to T, to
1e-5: in a fresh TensorFlow process (the SavedModel alone) and through the
server over loopback.
"""

import threading

import keras
import keras_hub
import numpy as np
import pytest
from data_fixtures import TINY_VOCABULARY
from test_export import call_in_fresh_process
from test_export import outputs_of
from test_export import tiny_preprocessor
from test_serving import call
from test_serving import words_instance
from tiny_model import tiny_config

from glomo_keras import GLoMo
from glomo_keras.export import export_saved_model
from glomo_keras.serving import make_server
from glomo_keras.serving.payload import make_job

T = 24
# WordPiece tokens with [CLS] and [SEP]: 4 (8 steps), 10 (16), 20 (24) and
# 32 (cut to T = 24).
WORDS = [["so", "good"], ["the", "movie", "was", "not", "good", "i", "know", "it"],
         ["playing"] * 9, ["playing"] * 15]

def utterances(config, context):
    instances = []
    for seed, words in enumerate(WORDS):
        sentences = [["i", "love", "it"], ["so"]] if context else None
        instances.append(words_instance(words, config.acoustic_dim, config.visual_dim, seed,
                                        sentences))
    return instances


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{dataset: (model, preprocessor, version folder)} of length_aware models with T = 24."""
    keras.utils.set_random_seed(5)
    root = tmp_path_factory.mktemp("length_serving")
    items = {}
    for dataset in ("mosi", "mustard"):
        config = tiny_config(dataset, max_sequence_length=T, length_aware=True)
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(TINY_VOCABULARY), num_layers=2, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=T)
        model = GLoMo(config, backbone)
        preprocessor = tiny_preprocessor(config, sequence_length=T)
        items[dataset] = (model, preprocessor,
                          export_saved_model(model, preprocessor, root / dataset))
    return items


def padded_to_t(model, preprocessor, instances):
    """The Keras model's outputs on the utterances padded to T, as training encodes."""
    return outputs_of(model, preprocessor.encode(instances))


def save_inputs(path, inputs):
    np.savez(path, **{name: value.astype(str) if value.dtype == object else value
                      for name, value in inputs.items()})
    return str(path)


@pytest.fixture(scope="module")
def fresh_answers(exported, tmp_path_factory):
    """{dataset: (utterances, T-padded outputs, steps of each alone, answers)}.

    One fresh TensorFlow process makes every call: per dataset, `analyze` on
    the batch, then per utterance `analyze` on it alone and
    `serving_default` on it padded to its own length.
    """
    folder = tmp_path_factory.mktemp("fresh_calls")
    cases, calls = {}, []
    for dataset, (model, preprocessor, version) in exported.items():
        instances = utterances(model.config, context=dataset == "mustard")
        longest = tiny_preprocessor(model.config, sequence_length=T, padding="longest")
        first = len(calls)
        calls.append([str(version / "analyze"), "analyze", save_inputs(
            folder / f"{dataset}_batch.npz", preprocessor.raw_inputs(instances))])
        singles = []
        for index, instance in enumerate(instances):
            calls.append([str(version / "analyze"), "analyze", save_inputs(
                folder / f"{dataset}_raw{index}.npz", preprocessor.raw_inputs([instance]))])
            encoded = longest.encode([instance])
            singles.append(encoded["token_ids"].shape[1])
            calls.append([str(version), "serving_default", save_inputs(
                folder / f"{dataset}_inputs{index}.npz", encoded)])
        cases[dataset] = (instances, padded_to_t(model, preprocessor, instances), singles,
                          slice(first, len(calls)))
    answers, glomo_keras_imported = call_in_fresh_process(calls)
    assert glomo_keras_imported is False
    return {dataset: (instances, expected, singles, answers[calls_of])
            for dataset, (instances, expected, singles, calls_of) in cases.items()}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mosi", "mustard"])
def test_saved_model_answers_at_the_batch_length_equal_those_padded_to_t(
        fresh_answers, dataset):
    instances, expected, singles, answers = fresh_answers[dataset]
    # Each alone: 8, 16, 24 steps (HKT's context adds 7 tokens), the last cut to T.
    assert singles == ([16, 24, 24, 24] if dataset == "mustard" else [8, 16, 24, 24])
    batch, alone = answers[0], answers[1:]
    for name, value in expected.items():
        np.testing.assert_allclose(batch[name], value, atol=1e-5, err_msg=name)
        for index in range(len(instances)):
            for answer in alone[2 * index: 2 * index + 2]:  # analyze, serving_default
                np.testing.assert_allclose(answer[name], value[index:index + 1], atol=1e-5,
                                           err_msg=f"{name} of utterance {index}")


def test_raw_jobs_record_each_part_longest_utterance():
    inputs = {"words": np.array([["so", "good", ""], ["a", "b", "c"], ["d", "", ""]], object),
              "context_words": np.array([["i", ""], ["", ""], ["x", "y"]], object)}
    job = make_job("analyze", inputs, 2, raw=True)
    assert job.key == ("raw",) and job.lengths == [3, 3]
    assert make_job("rows", {"acoustic": np.zeros((3, 4, 2))}, 2).lengths is None


@pytest.mark.slow
def test_the_server_batches_by_length_and_answers_as_padded_to_t(exported):
    model, preprocessor, folder = exported["mosi"]
    server = make_server(folder, port=0, max_batch_size=4, batch_timeout_ms=50,
                         max_enqueued_batches=16)
    submitted = []
    submit = server.batcher.submit

    def recording_submit(parts, **options):
        submitted.append(options["lengths"])
        return submit(parts, **options)

    server.batcher.submit = recording_submit
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.predictor.pads_to_longest
        instances = utterances(model.config, context=False) * 2
        expected = padded_to_t(model, preprocessor, instances)["prediction"][:, 0]
        answers = [None] * len(instances)

        def analyze(index):
            answers[index] = call(server.url + ":analyze", {"instances": [instances[index]]})

        threads = [threading.Thread(target=analyze, args=(index,))
                   for index in range(len(instances))]
        for each in threads:
            each.start()
        for each in threads:
            each.join(60)
        assert [status for status, _ in answers] == [200] * len(instances)
        for index, (_, answer) in enumerate(answers):
            prediction = answer["predictions"][0]
            assert abs(prediction["sentiment"] - expected[index]) <= 1e-5, index
            assert ("truncated_to" in prediction) == (index % len(WORDS) == 3)
        # Each request's words count (of its one utterance) is its part's length.
        assert sorted(submitted) == sorted([[len(words)] for words in WORDS] * 2)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_raw_requests_batched_together_pad_their_words_with_the_empty_string():
    from glomo_keras.serving.predictor import _padded_raw_batch

    # Columnar requests arrive as str arrays (dtype "<U..."), whose padding
    # must be "" (no word), never "0".
    batch = [{"words": np.array([["so"]]), "acoustic": np.ones((1, 1, 2), np.float32)},
             {"words": np.array([["not", "good"]]), "acoustic": np.ones((1, 2, 2), np.float32)}]
    tensors = _padded_raw_batch(batch)
    assert tensors["words"].numpy().astype(str).tolist() == [["so", ""], ["not", "good"]]
    assert tensors["acoustic"].numpy()[0, 1].tolist() == [0.0, 0.0]
