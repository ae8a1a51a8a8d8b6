"""The raw-words SavedModel (`<version>/analyze`): raw utterances in any TensorFlow process.

A fresh interpreter that imports only TensorFlow and TensorFlow Text, whose
tokenizer ops the graph uses, answers raw utterances exactly as the Python
paths do: the training pipeline's encoding through the Keras model, and the
`Predictor` (the REST server's `:analyze`). The version folder itself holds
only `serving_default` (see `test_export.py`).
"""

import re
import subprocess

import numpy as np
import pytest
from shared_artifacts import tiny_export
from test_export import call_in_fresh_process
from test_export import outputs_of

from glomo_keras.serving import Predictor

DATASETS = ["mosi", "mustard"]


def utterances(config, context):
    rng = np.random.default_rng(1)
    result = []
    for words in (["the", "movie", "was", "good"], ["not", "fun", "playing"], ["i"]):
        sentences = [["i", "love", "it"], ["so"]] if context else []
        rows = len(words) + sum(len(s) for s in sentences)
        utterance = {"words": words,
                     "acoustic": rng.normal(size=(rows, config.acoustic_dim)).astype("float32"),
                     "visual": rng.normal(size=(rows, config.visual_dim)).astype("float32")}
        if context:
            utterance["context"] = sentences
        result.append(utterance)
    result[1]["acoustic"][0, 0] = np.nan  # replaced by 0, as training does
    return result


@pytest.fixture(scope="module")
def fresh_answers(tmp_path_factory):
    """{dataset: (model, preprocessor, version folder, utterances, raw batch, answer)}.

    One fresh TensorFlow process calls each dataset's `analyze` signature.
    """
    folder = tmp_path_factory.mktemp("fresh_analyze")
    cases, calls = {}, []
    for dataset in DATASETS:
        model, preprocessor, base = tiny_export(tmp_path_factory, dataset)
        batch_utterances = utterances(model.config, context=dataset == "mustard")
        batch = preprocessor.raw_inputs(batch_utterances)
        batch = {name: value.astype(str) if value.dtype == object else value
                 for name, value in batch.items()}
        np.savez(folder / f"{dataset}.npz", **batch)
        calls.append([str(base / "1" / "analyze"), "analyze", str(folder / f"{dataset}.npz")])
        cases[dataset] = (model, preprocessor, base / "1", batch_utterances, batch)
    answers, glomo_keras_imported = call_in_fresh_process(calls)
    assert glomo_keras_imported is False
    return {dataset: (*cases[dataset], answer) for dataset, answer in zip(DATASETS, answers)}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_a_fresh_tensorflow_process_analyzes_raw_utterances(dataset, fresh_answers):
    model, preprocessor, folder, batch_utterances, batch, answer = fresh_answers[dataset]
    config = model.config
    assert answer["inputs"] == sorted(batch)

    expected = outputs_of(model, preprocessor.encode(batch_utterances))
    for name, value in expected.items():
        np.testing.assert_allclose(np.asarray(answer[name]), value, atol=1e-5, err_msg=name)
    predictor = Predictor(folder)
    assert predictor.raw_analyze
    described = predictor.analyze(batch_utterances)
    for index, row in enumerate(described):
        key = "sentiment" if config.task == "regression" else "label"
        if key == "sentiment":
            assert abs(row["sentiment"] - answer["prediction"][index][0]) <= 1e-5
        else:
            assert row["label"] == answer["label"][index]
            assert set(row["probabilities"]) == {"not_sarcastic", "sarcastic"}
            np.testing.assert_allclose(list(row["probabilities"].values()),
                                       answer["probabilities"][index], atol=1e-5)


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures_of_both_folders(tmp_path_factory):
    # The layout is the same for every word-level export (MAG and HKT alike).
    _, _, base = tiny_export(tmp_path_factory, "mosi")
    folder = base / "1"
    for path, signatures in ((folder / "analyze", ["analyze", "serving_default"]),
                             (folder, ["serving_default"])):
        shown = subprocess.run(["saved_model_cli", "show", "--all", "--dir", str(path)],
                               capture_output=True, text=True, timeout=300)
        assert shown.returncode == 0, shown.stderr[-2000:]
        listed = re.findall(r"signature_def\['(\w+)'\]", shown.stdout)
        assert sorted(set(listed) - {"__saved_model_init_op"}) == signatures
