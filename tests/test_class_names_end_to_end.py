"""UR-FUNNY/MUStARD models report their own class names end to end.

Config, results, preset, SavedModel (`analyze` label), Predictor and REST all
name the classes of the dataset table, even when the HKT file's name does not
say which dataset it holds (the reader's generic names never leak out).
"""

import json
import threading
import urllib.request

import keras
import pytest
from data_fixtures import hkt_data
from data_fixtures import write_pickle
from test_serving import words_instance

from glomo_keras.analyzer import GLoMoSentimentAnalyzer
from glomo_keras.config import GLoMoConfig
from glomo_keras.serving import make_server
from glomo_keras.training import TrainingOptions
from glomo_keras.training import train

NAMES = ["not_sarcastic", "sarcastic"]


@pytest.mark.slow
def test_mustard_class_names_from_config_to_rest(tmp_path):
    keras.utils.set_random_seed(2)
    data = write_pickle(tmp_path / "jokes.pkl", hkt_data((8, 4, 4)))  # names no dataset
    config = GLoMoConfig.for_dataset(
        "mustard", hidden_dim=8, num_heads=2, num_layers=1, fusion_layers=1,
        fusion_intermediate_dim=16, max_sequence_length=12)
    options = TrainingOptions.for_dataset("mustard", batch_size=4, epochs=1)
    results = train(config, data, tmp_path / "run", options, backbone="random:bert_tiny",
                    export_dir=tmp_path / "saved", use_cache=False, verbose=0)
    assert results["config"]["class_names"] == NAMES
    preprocessing = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
    assert preprocessing["config"]["class_names"] == NAMES  # the serialised preprocessor
    analyzer = GLoMoSentimentAnalyzer.from_preset(results["preset"])
    instance = words_instance(["so", "good"], 81, 91, context=[["i", "know"], ["right"]])
    answer = analyzer.analyze([instance])[0]
    assert set(answer["probabilities"]) == set(NAMES) and answer["label"] in NAMES

    server = make_server(tmp_path / "saved", port=0)
    predictor = server.predictor  # the export's Predictor, as served
    assert str(predictor.path) == results["export"]
    assert predictor.preprocessor.class_names == NAMES
    assert predictor.analyze([instance])[0]["label"] == answer["label"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = json.dumps({"instances": [instance]}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                server.url + ":analyze", body, method="POST"), timeout=60) as response:
            served = json.loads(response.read())["predictions"][0]
    finally:
        server.shutdown()
        server.server_close()
    assert set(served["probabilities"]) == set(NAMES) and served["label"] == answer["label"]
