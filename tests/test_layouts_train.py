"""Every file layout the readers accept trains with its dataset's default configuration.

One epoch of `glomo-keras train`, run through the console script's entry
point in one fresh process (console_cases.py: one TensorFlow import, each
command line with its own stderr capture and exit status), on a small file
of each layout (MAG, HKT, MMSA aligned and unaligned, CHERMA) with only the
model shrunk (`--set`): T, the feature widths and the task are the
dataset's, except where the file fixes them (MMSA: T = 50, MOSI's 5
acoustic and 20 visual columns).

The HKT run (MUStARD, classification) is also exported: its class names
are followed from the config to the preset, the SavedModel, the Predictor
and REST.
"""

import json
import os
import threading

import pytest
from console_cases import run_cases
from data_fixtures import hkt_data, mag_data, mmsa_data, write_cherma, write_pickle
from test_serving import call
from test_serving import words_instance

from glomo_keras.analyzer import GLoMoSentimentAnalyzer
from glomo_keras.serving import make_server

# Fresh processes that pick their own backend: run once (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.console

SIZES = (8, 4, 4)
# A tiny model on a random 2-layer BERT; everything else is the dataset's.
# Reading a layout does not depend on the Keras backend (tf.data feeds all
# three; test_command_line trains on each): TensorFlow, whose steps compile
# fastest.
SMALL = ["--backend", "tensorflow", "--backbone", "random:bert_tiny", "--epochs", "1", "--seeds", "1", "--batch-size", "4",
         "--no-cache",
         "--set", "hidden_dim=8", "--set", "num_heads=2", "--set", "num_layers=1",
         "--set", "fusion_layers=1", "--set", "fusion_intermediate_dim=16"]


def _mag(folder):
    return write_pickle(folder / "mosi.pkl", mag_data(SIZES))


def _hkt(folder):
    return write_pickle(folder / "jokes.pkl", hkt_data(SIZES))  # names no dataset


def _mmsa_aligned(folder):
    return write_pickle(folder / "aligned_50.pkl", mmsa_data(SIZES))


def _mmsa_unaligned(folder):
    return write_pickle(folder / "unaligned_50.pkl",
                        mmsa_data(SIZES, audio=(30, 5), vision=(40, 20), lengths=True))


def _cherma(folder):
    return write_cherma(folder / "CHERMA0723", sizes=SIZES)


# layout: (writer, --dataset, the T, acoustic and visual widths results.json records)
EXPORTED = "hkt"  # the one layout whose run is exported as well
LAYOUTS = {
    "mag": (_mag, "mosi", 60, 74, 47),
    "hkt": (_hkt, "mustard", 70, 81, 91),
    "mmsa_aligned": (_mmsa_aligned, "mosi", 50, 5, 20),
    "mmsa_unaligned": (_mmsa_unaligned, "mosi", 50, 5, 20),
    "cherma": (_cherma, "cherma", 50, 1024, 2048),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each layout's folder (its file and `run`) and its command line's result."""
    folder = tmp_path_factory.mktemp("layouts")
    cases = []
    for layout, (write, dataset, *_) in LAYOUTS.items():
        (folder / layout).mkdir()
        data = write(folder / layout)
        cases.append(["train", "--dataset", dataset, "--data", str(data),
                      "--output", str(folder / layout / "run"), *SMALL,
                      *([] if layout == EXPORTED else ["--no-export"])])
    env = {**os.environ, "GLOMO_KERAS_CACHE": str(folder / "cache")}
    results = run_cases(cases, folder, tmp_path_factory.mktemp("layout_cases"), env)
    return {layout: (folder / layout, result) for layout, result in zip(LAYOUTS, results)}


@pytest.mark.slow
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_trains_an_epoch_through_the_console_script(layout, trained):
    _, dataset, length, acoustic_dim, visual_dim = LAYOUTS[layout]
    folder, result = trained[layout]
    output = folder / "run"
    assert result["returncode"] == 0, result["stderr"][-3000:]
    results = json.loads((output / "results.json").read_text())
    config = results["config"]
    assert config["dataset"] == dataset and config["hidden_dim"] == 8
    assert (config["max_sequence_length"], config["acoustic_dim"],
            config["visual_dim"]) == (length, acoustic_dim, visual_dim)
    preprocessing = json.loads((output / "preprocessing.json").read_text())
    assert preprocessing["config"]["sequence_length"] == length
    assert set(results["per_seed"]) == {"1"}
    notes = [line for line in result["stderr"].splitlines() if "fixes T" in line]
    if layout.startswith("mmsa"):
        assert len(notes) == 1 and notes[0].endswith(
            "its MMSA token ids are padded to 50, so max_sequence_length = 50 "
            "instead of mosi's 60")
    else:
        assert notes == []


@pytest.mark.slow
def test_mustard_class_names_from_config_to_rest(trained):
    """UR-FUNNY/MUStARD models report their own class names end to end.

    Config, results, preset, SavedModel (`analyze` label), Predictor and REST
    all name the classes of the dataset table, though the HKT file's name does
    not say which dataset it holds (the reader's generic names never leak out).
    """
    names = ["not_sarcastic", "sarcastic"]
    folder, result = trained["hkt"]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    results = json.loads((folder / "run" / "results.json").read_text())
    assert results["config"]["class_names"] == names
    preprocessing = json.loads((folder / "run" / "preprocessing.json").read_text())
    assert preprocessing["config"]["class_names"] == names  # the serialised preprocessor
    analyzer = GLoMoSentimentAnalyzer.from_preset(results["preset"])
    instance = words_instance(["so", "good"], 81, 91, context=[["i", "know"], ["right"]])
    answer = analyzer.analyze([instance])[0]
    assert set(answer["probabilities"]) == set(names) and answer["label"] in names

    server = make_server(folder / "run" / "saved_model", port=0)
    predictor = server.predictor  # the export's Predictor, as served
    assert str(predictor.path) == results["export"]
    assert predictor.preprocessor.class_names == names
    assert predictor.analyze([instance])[0]["label"] == answer["label"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, served = call(server.url + ":analyze", {"instances": [instance]})
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200, served
    served = served["predictions"][0]
    assert set(served["probabilities"]) == set(names) and served["label"] == answer["label"]
