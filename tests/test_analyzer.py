"""`GLoMoSentimentAnalyzer`: raw utterances in, answers out; presets round-trip exactly."""

import pathlib

import h5py
import keras
import keras_hub
import numpy as np
import pytest
from test_export import tiny_preprocessor
from tiny_model import tiny_backbone
from tiny_model import tiny_config

from glomo_keras import GLoMo
from glomo_keras.analyzer import GLoMoSentimentAnalyzer
from glomo_keras.data import GLoMoPreprocessor
from glomo_keras.errors import OfflineError

DATA = pathlib.Path(__file__).parent / "data"


def _analyzer(dataset="mosi"):
    keras.utils.set_random_seed(3)
    config = tiny_config(dataset)
    model = GLoMo(config, tiny_backbone())
    return GLoMoSentimentAnalyzer(model, tiny_preprocessor(config), metadata={"run": "tiny"})


def _utterances(config, context=False):
    rng = np.random.default_rng(0)
    dims = (config.acoustic_dim, config.visual_dim)
    rows = []
    for words in (["the", "movie", "was", "good"], ["not", "fun"], ["playing"]):
        utterance = {"words": words}
        sentences = [["i", "love", "it"], ["so"]] if context else []
        n = len(words) + sum(len(s) for s in sentences)
        if context:
            utterance["context"] = sentences
        utterance["acoustic"] = rng.normal(size=(n, dims[0])).astype("float32")
        utterance["visual"] = rng.normal(size=(n, dims[1])).astype("float32")
        rows.append(utterance)
    return rows


def test_analyze_regression_and_the_preset_round_trip(tmp_path):
    analyzer = _analyzer()
    utterances = _utterances(analyzer.config)
    answers = analyzer.analyze(utterances)
    assert len(answers) == 3 and set(answers[0]) == {"sentiment", "modality_weights"}
    assert abs(sum(answers[0]["modality_weights"].values()) - 1) < 1e-5
    expected = analyzer.predict(utterances)
    inputs = analyzer.preprocessor.encode(utterances)
    direct = analyzer.model.predict(inputs, verbose=0)
    np.testing.assert_allclose(expected["prediction"], direct["prediction"], atol=1e-6)

    path = analyzer.save_to_preset(tmp_path / "preset")
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) == [
        "assets/tokenizer/vocabulary.txt", "config.json", "metadata.json",
        "model.weights.h5", "preprocessor.json", "tokenizer.json"]
    vocabulary = (path / "assets" / "tokenizer" / "vocabulary.txt").read_text().split()
    assert vocabulary == list(analyzer.preprocessor.tokenizer.get_vocabulary())
    for name in ("config.json", "preprocessor.json", "tokenizer.json", "metadata.json"):
        assert "[CLS]" not in (path / name).read_text(), f"{name} repeats the vocabulary"
    with h5py.File(path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    loaded = GLoMoSentimentAnalyzer.from_preset(path)
    assert loaded.metadata["run"] == "tiny" and loaded.config == analyzer.config
    for name, value in loaded.predict(utterances).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        analyzer.save_to_preset(path)
    (path / "preprocessor.json").unlink()
    with pytest.raises(FileNotFoundError, match="preprocessor.json is missing"):
        GLoMoSentimentAnalyzer.from_preset(path)


def test_classification_answers_use_the_dataset_class_names(tmp_path):
    analyzer = _analyzer("mustard")
    answers = analyzer.analyze(_utterances(analyzer.config, context=True))
    assert set(answers[0]["probabilities"]) == {"not_sarcastic", "sarcastic"}
    assert answers[0]["label"] in {"not_sarcastic", "sarcastic"}
    loaded = GLoMoSentimentAnalyzer.from_preset(analyzer.save_to_preset(tmp_path / "p"))
    assert loaded.analyze(_utterances(analyzer.config, context=True)) == answers
    # What the data is travels in preprocessor.json, once.
    assert (loaded.preprocessor.task, loaded.preprocessor.class_names, loaded.preprocessor.dataset
            ) == ("classification", ["not_sarcastic", "sarcastic"], "mustard")
    assert "class_names" not in loaded.metadata


def test_a_preprocessor_that_does_not_fit_is_refused():
    analyzer = _analyzer()
    wrong = GLoMoPreprocessor("words", analyzer.preprocessor.tokenizer, sequence_length=7,
                              acoustic_dim=9, visual_dim=analyzer.config.visual_dim)
    with pytest.raises(ValueError, match="'acoustic' has 5 features but the preprocessor gives 9"):
        GLoMoSentimentAnalyzer(analyzer.model, wrong)
    wrong = tiny_preprocessor(analyzer.config, task="classification", class_names=["a", "b"])
    with pytest.raises(ValueError, match="the model's task is 'regression' but the "
                                         "preprocessor's is 'classification'"):
        GLoMoSentimentAnalyzer(analyzer.model, wrong)
    cherma = tiny_config("cherma")
    with pytest.raises(ValueError, match="the 'mag' preprocessor gives token ids but the "
                                         "model's text_encoder is 'features'"):
        tiny_preprocessor(cherma).check_fits(cherma)
    mustard = _analyzer("mustard")
    wrong = tiny_preprocessor(mustard.config, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"the model has 2 classes but the preprocessor names "
                                         r"3: \['a', 'b', 'c'\]"):
        GLoMoSentimentAnalyzer(mustard.model, wrong)


def test_a_committed_preset_of_the_first_format_loads_and_predicts():
    """`tests/data/preset_0_1_0` was written by glomo-keras 0.1.0 (preprocessor.json,
    vocabulary inlined); its predictions on `_utterances` are in the `.npz` beside it."""
    loaded = GLoMoSentimentAnalyzer.from_preset(DATA / "preset_0_1_0")
    assert loaded.metadata["run"] == "tiny" and loaded.config.dataset == "mosi"
    # Its task and dataset were in metadata.json only.
    assert (loaded.preprocessor.task, loaded.preprocessor.dataset) == ("regression", "mosi")
    expected = np.load(DATA / "preset_0_1_0_expected.npz")
    outputs = loaded.predict(_utterances(loaded.config))
    assert sorted(outputs) == sorted(expected.files)
    for name in expected.files:
        np.testing.assert_allclose(outputs[name], expected[name], atol=1e-6, err_msg=name)


def test_keras_hub_can_upload_the_preset_and_handles_need_the_network(tmp_path):
    analyzer = _analyzer()
    path = analyzer.save_to_preset(tmp_path / "preset")
    # upload_preset checks the folder (config.json, model.weights.h5), then the URI.
    with pytest.raises(ValueError, match="Unknown URI"):
        keras_hub.upload_preset("file://nowhere", str(path))
    for handle in ("hf://glomo-keras-tests/no-such-preset",
                   "kaggle://glomo-keras-tests/none/keras/none"):
        try:
            GLoMoSentimentAnalyzer.from_preset(handle)
        except OfflineError as error:
            assert handle in str(error) and "give a preset folder" in str(error)
        else:
            pytest.fail(f"{handle} does not exist, yet it loaded")


def test_overwrite_keeps_the_old_preset_when_the_write_fails(tmp_path, monkeypatch):
    analyzer = _analyzer()
    path = analyzer.save_to_preset(tmp_path / "preset")
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    expected = analyzer.predict(_utterances(analyzer.config))

    def fail(filepath, *args, **kwargs):
        pathlib.Path(filepath).write_bytes(b"half a weights file")
        raise OSError("No space left on device")

    monkeypatch.setattr(analyzer.model, "save_weights", fail)
    with pytest.raises(OSError, match="No space left"):
        analyzer.save_to_preset(path, overwrite=True)
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preset"]  # no staging left
    loaded = GLoMoSentimentAnalyzer.from_preset(path)
    np.testing.assert_array_equal(loaded.predict(_utterances(analyzer.config))["prediction"],
                                  expected["prediction"])

    monkeypatch.undo()
    analyzer.metadata["run"] = "second"
    analyzer.save_to_preset(path, overwrite=True)
    assert GLoMoSentimentAnalyzer.from_preset(path).metadata["run"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preset"]
