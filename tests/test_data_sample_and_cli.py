"""The built-in sample and the `glomo-keras data` command."""

import json
import os
import pickle

import numpy as np
import pytest
from data_fixtures import (
    TINY_VOCABULARY,
    hkt_data,
    mag_data,
    mmsa_data,
    write_cherma,
    write_pickle,
)

from glomo_keras.cli import build_parser
from glomo_keras.data import load, load_pickle, read, sample


def run(argv):
    assert argv[0] == "data"
    args = build_parser("data").parse_args(argv[1:])
    return args.func(args)


def inspect_json(capsys, *argv):
    capsys.readouterr()
    assert run(["data", "inspect", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_sample_is_deterministic_and_shaped_like_mosei():
    first, second = sample.build(), sample.build()
    assert [len(first[s]) for s in ("train", "dev", "test")] == [600, 100, 200]
    for a, b in zip(first["train"], second["train"]):
        assert a[0][0] == b[0][0] and a[2] == b[2]
        np.testing.assert_array_equal(a[0][2], b[0][2])
        np.testing.assert_array_equal(a[1], b[1])
    (words, visual, acoustic), label, segment = first["train"][0]
    assert visual.shape == (len(words), 35) and acoustic.shape == (len(words), 74)
    assert label.shape == (1, 1) and isinstance(segment, str)
    labels = np.array([float(item[1][0, 0]) for item in first["train"]])
    assert labels.min() >= -3 and labels.max() <= 3 and len(np.unique(np.round(labels))) == 7


def test_the_sample_features_carry_the_label_in_local_events():
    items = sample.build()["train"]
    labels = np.array([float(item[1][0, 0]) for item in items])
    # The events add score * pattern to acoustic column 0 on two rows per sentiment word.
    event = np.array([np.nansum(np.where(np.isfinite(a), a, 0)[:, 0]) for (_, _, a), _, _ in items])
    assert np.corrcoef(event, labels)[0, 1] > 0.6
    peak = np.array([np.abs(v[:, 0]).max() for (_, v, _), _, _ in items])
    assert peak[np.abs(labels) >= 2].mean() > 2 * peak[labels == 0].mean()


def test_sample_command_writes_a_mag_pickle_that_the_reader_loads(tmp_path, capsys):
    path = tmp_path / "out" / "sample.pkl"
    assert run(["data", "sample", "--output", str(path)]) == 0
    assert "600" in capsys.readouterr().out
    dataset = load(path, tokenizer=TINY_VOCABULARY, use_cache=False)
    assert dataset.format == "mag" and dataset.dataset == "mosei"
    assert [len(s) for s in dataset.splits.values()] == [600, 100, 200]
    assert dataset.train.inputs["acoustic"].shape == (600, 80, 74)
    assert len(load_pickle(path)["dev"]) == 100


def test_inspect_the_sample(tmp_path, capsys):
    path = sample.write(tmp_path / "sample.pkl")
    result = inspect_json(capsys, path)
    assert result["format"] == "mag"
    assert {k: v["size"] for k, v in result["splits"].items()} == {
        "train": 600, "valid": 100, "test": 200}
    assert result["dims"] == {"acoustic": 74, "visual": 35, "text": None}
    items = [item for split in sample.build().values() for item in split]
    expected = {
        "acoustic": sum(int((~np.isfinite(a)).sum()) for (_, _, a), _, _ in items),
        "visual": sum(int((~np.isfinite(v)).sum()) for (_, v, _), _, _ in items),
    }
    assert expected["acoustic"] > 0 and expected["visual"] > 0
    assert result["nonfinite_replaced"] == expected
    train = result["splits"]["train"]
    assert sum(train["labels"]["histogram"].values()) == 600
    assert train["lengths"]["text"]["unit"] == "words"
    assert train["truncated"] == 0
    pieces = inspect_json(capsys, path, "--vocabulary", _vocab_file(tmp_path), "--max-length", 12)
    assert pieces["splits"]["train"]["lengths"]["text"]["unit"] == "wordpieces"
    assert pieces["max_length"] == 12 and pieces["splits"]["train"]["truncated"] > 0
    assert run(["data", "inspect", str(path)]) == 0
    table = capsys.readouterr().out
    assert "format mag" in table and "train" in table and "acoustic 74" in table


def _vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(TINY_VOCABULARY) + "\n", encoding="utf-8")
    return path


def test_inspect_every_layout(tmp_path, capsys):
    data = mag_data(visual_dim=47)
    data["train"][0][0][2][0, 0] = -np.inf
    result = inspect_json(capsys, write_pickle(tmp_path / "mosi.pkl", data))
    assert result["format"] == "mag" and result["dims"]["visual"] == 47
    assert result["nonfinite_replaced"] == {"acoustic": 1, "visual": 0}

    result = inspect_json(capsys, write_pickle(tmp_path / "mustard.pkl", hkt_data((5, 2, 1))))
    assert result["format"] == "hkt"
    assert [result["splits"][s]["size"] for s in ("train", "valid", "test")] == [5, 2, 1]
    assert result["dims"] == {"acoustic": 81, "visual": 91, "text": None}
    assert result["input_dims"]["acoustic"] == 60
    assert result["splits"]["train"]["labels"]["histogram"] == {"not_sarcastic": 3, "sarcastic": 2}

    result = inspect_json(capsys, write_pickle(
        tmp_path / "unaligned_50.pkl", mmsa_data(audio=(375, 5), vision=(500, 20),
                                                 lengths=True)))
    assert result["format"] == "mmsa"
    assert result["dims"] == {"acoustic": 5, "visual": 20, "text": 768}
    assert result["splits"]["valid"]["size"] == 2
    assert result["splits"]["train"]["lengths"]["acoustic"]["unit"] == "frames"

    result = inspect_json(capsys, write_cherma(tmp_path / "cherma"), "--format", "cherma")
    assert result["format"] == "cherma"
    assert result["dims"] == {"acoustic": 1024, "visual": 2048, "text": 1024}
    assert result["nonfinite_replaced"] == {"text": 0, "acoustic": 0, "visual": 0}
    assert result["splits"]["train"]["truncated"] == 1


def test_inspect_fails_cleanly_on_unreadable_files(tmp_path, capsys):
    from glomo_keras.cli import main

    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    assert main(["data", "inspect", str(tmp_path / "junk.pkl")]) == 2
    assert "not a readable pickle" in capsys.readouterr().err
    assert main(["data", "inspect", str(tmp_path / "missing.pkl")]) == 2
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps(_Hostile(str(marker))))
    assert main(["data", "inspect", str(hostile), "--json"]) == 2
    assert "system" in capsys.readouterr().err
    assert not marker.exists()


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_the_cli_registers_the_data_command(tmp_path, capsys):
    from glomo_keras.cli import main

    path = sample.write(tmp_path / "sample.pkl")
    assert main(["data", "inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"]["test"]["size"] == 200
    with pytest.raises(SystemExit):
        main(["data"])
    assert read(path).report.splits["train"].size == 600
