"""Ordinary mistakes on the command line: one line on stderr, exit 2, nothing lost.

Every case runs the console script's entry point (`glomo_keras.cli.main`,
what `python -m glomo_keras` runs) inside one shared workspace, whose files,
the `--output` folders included, must be exactly as they were afterwards.
The cases run one after another in one fresh process (console_cases.py),
each with its own stderr capture and warning registry, so TensorFlow's
import is paid once, not once per case.
"""

import os
import pickle
import socket

import numpy as np
import pytest
from console_cases import run_cases
from console_cases import snapshot
from shared_artifacts import tiny_export
from training_fixtures import write_small_sample

from glomo_keras.data import sample

# Fresh processes that pick their own backend: run once (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.console

TINY = ["--backbone", "random:bert_tiny", "--epochs", "1", "--set", "hidden_dim=16",
        "--set", "num_heads=2", "--set", "num_layers=1"]
TRAIN = ["train", "--output", "out", *TINY]
SMALL = ["--dataset", "mosei", "--data", "small.pkl"]


def _port_in_use():
    """A listening socket on loopback, kept open for the module."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def _with_modified_blocks(path, change):
    """Writes the built-in sample's first utterances with `change(item)` applied."""
    data = {split: [change(item) for item in items[:8]]
            for split, items in sample.build().items()}
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=4)


def _narrow_acoustic(item):
    (words, visual, acoustic), label, segment = item
    return (words, visual, acoustic[:, :10]), label, segment


def _nan_acoustic(item):
    (words, visual, acoustic), label, segment = item
    return (words, visual, np.full_like(acoustic, np.nan)), label, segment


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with data files, an output folder that must survive, a run and a model."""
    folder = tmp_path_factory.mktemp("mistakes")
    (folder / "out").mkdir()
    (folder / "out" / "keep.txt").write_text("written by an earlier command")
    write_small_sample(folder / "small.pkl", sizes=(8, 8, 8))
    _with_modified_blocks(folder / "narrow.pkl", _narrow_acoustic)
    _with_modified_blocks(folder / "nan.pkl", _nan_acoustic)
    (folder / "junk.pkl").write_bytes(b"not a pickle")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "broken.json").write_text("{hidden_dim: 64")
    (folder / "unfinished").mkdir()
    (folder / "finished").mkdir()
    (folder / "finished" / "results.json").write_text("{}")
    (folder / "weights.h5").write_bytes(b"")
    tiny_export(tmp_path_factory, "mosi", base=folder / "models" / "tiny")
    listener = _port_in_use()
    yield folder, listener.getsockname()[1]
    listener.close()


# (name, argv, a fragment the one line must hold); PORT_IN_USE is replaced.
PORT_IN_USE = "{port_in_use}"
MISTAKES = [
    ("unknown command", ["trian"], "did you mean 'train'"),
    ("unknown dataset", ["train", "--dataset", "mosie", "--data", "small.pkl"],
     "did you mean 'mosi', 'mosei'"),
    ("unknown --set field", [*TRAIN, *SMALL, "--set", "hiden_dim=8"],
     "did you mean 'hidden_dim'"),
    ("--set without =", [*TRAIN, *SMALL, "--set", "hidden_dim"], "--set expects FIELD=VALUE"),
    ("--set of the wrong type", [*TRAIN, *SMALL, "--set", "num_layers=two"],
     "num_layers='two' is invalid: expected a positive integer"),
    ("--set out of range", [*TRAIN, *SMALL, "--set", "fusion_dropout=1.5"],
     "fusion_dropout=1.5 is invalid: expected a rate in [0, 1)"),
    ("--set top_k above the experts", [*TRAIN, *SMALL, "--set", "top_k=5"],
     "expected at most num_experts=3"),
    ("--set a boolean as text", [*TRAIN, *SMALL, "--set", "bucketing=yes"],
     "expected true or false"),
    ("batch size 0", [*TRAIN, *SMALL, "--batch-size", "0"],
     "argument --batch-size: expected a positive integer, got '0'"),
    ("negative epochs", [*TRAIN, *SMALL, "--epochs", "-1"],
     "argument --epochs: expected a positive integer, got '-1'"),
    ("learning rate 0", [*TRAIN, *SMALL, "--learning-rate", "0"],
     "argument --learning-rate: expected a positive number, got '0'"),
    ("misspelled flag", [*TRAIN, *SMALL, "--learnig-rate", "0.1"],
     "did you mean '--learning-rate'"),
    ("unknown backend", [*TRAIN, *SMALL, "--backend", "mxnet"], "invalid choice: 'mxnet'"),
    ("no --data and no default file", [*TRAIN, "--dataset", "mosi"],
     "no --data given and datasets/mosi.pkl"),
    ("missing --data", [*TRAIN, "--dataset", "mosei", "--data", "nowhere.pkl"], "nowhere.pkl"),
    ("unreadable --data", [*TRAIN, "--dataset", "mosei", "--data", "junk.pkl"],
     "junk.pkl: not a readable pickle"),
    ("missing --config", [*TRAIN, *SMALL, "--config", "nowhere.json"],
     "--config nowhere.json: cannot read it"),
    ("--config not an object", [*TRAIN, *SMALL, "--config", "list.json"],
     "expected a JSON object of GLoMoConfig or TrainingOptions fields, got a JSON list"),
    ("--config not JSON", [*TRAIN, *SMALL, "--config", "broken.json"],
     "--config broken.json: not JSON"),
    ("backbone that downloads, offline", ["train", "--output", "out", *SMALL,
                                          "--backbone", "bert_base_en_uncased"],
     "offline choices: minilm"),
    ("misspelled backbone", ["train", "--output", "out", *SMALL,
                             "--backbone", "bert_bse_en_uncased"],
     "did you mean 'bert_base_en_uncased'"),
    ("missing backbone folder", ["train", "--output", "out", *SMALL,
                                 "--backbone", "./no/such/bert"],
     "Backbone directory ./no/such/bert does not exist"),
    ("feature widths of another dataset", [*TRAIN, "--dataset", "mosi", "--data", "small.pkl"],
     "visual"),
    ("acoustic block of 10 columns", [*TRAIN, "--dataset", "mosei", "--data", "narrow.pkl"],
     "acoustic"),
    ("a modality entirely non-finite", [*TRAIN, "--dataset", "mosei", "--data", "nan.pkl"],
     "acoustic"),
    ("a finished run without --overwrite", ["train", "--output", "finished", *TINY, *SMALL],
     "finished holds a finished run"),
    ("strategy without its cluster", [*TRAIN, *SMALL, "--strategy", "multi_worker"],
     "TF_CONFIG"),
    ("a GPU on a CPU machine", [*TRAIN, *SMALL, "--device", "gpu"], "sees no GPU"),
    ("tune with no trials", ["tune", "--output", "out", *TINY, *SMALL, "--trials", "0"],
     "argument --trials: expected a positive integer, got '0'"),
    ("study of an unknown variant", ["study", "ablations", "--output", "out", *TINY, *SMALL,
                                     "--variants", "NOPE"], "--variants"),
    ("export of a missing run", ["export", "--run", "runs/nope"],
     "run folder runs/nope does not exist"),
    ("export of an unfinished run", ["export", "--run", "unfinished"],
     "unfinished holds no results.json"),
    ("plot of a missing run", ["plot", "runs/nope"], "runs/nope"),
    ("serve a missing model", ["serve", "--model", "models/nope"], "models/nope"),
    ("serve on a port out of range", ["serve", "--model", "models/tiny", "--port", "99999"],
     "--port"),
    ("serve on a port in use", ["serve", "--model", "models/tiny", "--port", PORT_IN_USE],
     "--port"),
    ("data sample over a file", ["data", "sample", "--output", "out/keep.txt"],
     "--output out/keep.txt exists; pass --force"),
    ("inspect a missing file", ["data", "inspect", "nowhere.pkl"], "nowhere.pkl"),
    ("convert a missing checkpoint", ["convert", "--torch-checkpoint", "nowhere.pth",
                                      "--dataset", "mosi", "--output", "out/m.keras"],
     "--torch-checkpoint nowhere.pth does not exist"),
    ("convert to a non-.keras file", ["convert", "--torch-checkpoint", "weights.h5",
                                      "--dataset", "mosi", "--output", "out/m.h5"],
     "--output out/m.h5 must end in .keras"),
    ("summary of an unknown dataset", ["summary", "--dataset", "imdb"], "Unknown dataset 'imdb'"),
]


@pytest.fixture(scope="module")
def outcomes(workspace, tmp_path_factory):
    """Every case run in one fresh process: {name: result}, and the files before."""
    folder, port_in_use = workspace
    cases = [[str(port_in_use) if arg == PORT_IN_USE else arg for arg in argv]
             for _, argv, _ in MISTAKES]
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("KERAS_BACKEND", "TF_CONFIG", "GLOMO_DEBUG")}
    environment["GLOMO_KERAS_CACHE"] = str(folder / ".." / f"{folder.name}_cache")
    before = snapshot(folder)
    results = run_cases(cases, folder, tmp_path_factory.mktemp("mistake_cases"), environment)
    return before, {name: result for (name, _, _), result in zip(MISTAKES, results)}


@pytest.mark.parametrize("name, argv, fragment", MISTAKES, ids=[case[0] for case in MISTAKES])
def test_a_mistake_is_one_line_and_exit_2(outcomes, name, argv, fragment):
    before, results = outcomes
    result = results[name]
    lines = result["stderr"].strip().splitlines()
    assert result["returncode"] == 2, (result["returncode"], result["stderr"][-2000:])
    assert 1 <= len(lines) <= 3, result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert fragment in result["stderr"], result["stderr"]
    assert "out/keep.txt" in before and result["files"] == before
