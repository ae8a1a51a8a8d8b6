"""Every published layout read as published, with clear errors for bad files."""

import numpy as np
import pytest
from data_fixtures import (
    hkt_data,
    hkt_item,
    mag_data,
    mag_item,
    mmsa_data,
    mmsa_split,
    rows,
    write_cherma,
    write_pickle,
)

from glomo_keras.data import DataFormatError, read
from glomo_keras.data.common import CHERMA_CLASS_NAMES
from glomo_keras.errors import MissingFileError


# MAG ------------------------------------------------------------------------------------


def test_mag_reads_splits_dims_labels_and_ids(tmp_path):
    data = mag_data(visual_dim=47)
    data["train"][0] = mag_item(["great"], 1.5, "one[0]")
    data["train"][1] = mag_item(["word"] * 150, np.array([-2.0], np.float32), "long[0]")
    data["train"][2] = mag_item(["naïve", "日本", "don't", "!!"], np.array([[0.25]]), "uni[0]")
    dataset = read(write_pickle(tmp_path / "mosi.pkl", data))
    assert dataset.format == "mag"
    assert dataset.dataset == "mosi"
    assert dataset.preprocessor.sequence_length == 60
    assert dataset.stored_dims == {"acoustic": 74, "visual": 47, "text": None}
    assert dataset.task == "regression" and dataset.class_names is None
    assert [len(dataset.splits[s]) for s in ("train", "valid", "test")] == [3, 2, 2]
    train = dataset.train
    assert train.ids == ["one[0]", "long[0]", "uni[0]"]
    np.testing.assert_allclose(train.labels, [1.5, -2.0, 0.25])
    assert train.labels.dtype == np.float32
    assert train.utterances[2].words == ["naïve", "日本", "don't", "!!"]
    assert train.utterances[1].acoustic.shape == (150, 74)
    assert train.utterances[1].acoustic.dtype == np.float32
    assert dataset.train.arrays is None


def test_mag_replaces_and_counts_nonfinite_values(tmp_path):
    data = mag_data()
    data["train"][0][0][2][0, 3] = -np.inf
    data["train"][0][0][2][1, 5] = np.nan
    data["train"][1][0][1][0, 0] = np.inf
    data["test"][0][0][1][0, :2] = np.nan
    dataset = read(write_pickle(tmp_path / "mosi.pkl", data))
    report = dataset.report.splits
    assert report["train"].nonfinite_replaced == {"acoustic": 2, "visual": 1}
    assert report["valid"].nonfinite_replaced == {"acoustic": 0, "visual": 0}
    assert report["test"].nonfinite_replaced == {"acoustic": 0, "visual": 2}
    acoustic = dataset.train.utterances[0].acoustic
    assert np.isfinite(acoustic).all() and acoustic[0, 3] == 0 and acoustic[1, 5] == 0


def test_mag_reports_labels_outside_the_range(tmp_path):
    data = mag_data()
    data["dev"][0] = mag_item(["good"], 3.5)
    dataset = read(write_pickle(tmp_path / "mosi.pkl", data))
    assert dataset.report.splits["valid"].labels_out_of_range == 1
    assert dataset.report.splits["train"].labels_out_of_range == 0
    assert "outside the range" in str(dataset.report)


def test_mosei_is_recognised_from_the_visual_dim(tmp_path):
    dataset = read(write_pickle(tmp_path / "data.pkl", mag_data(visual_dim=35)))
    assert dataset.dataset == "mosei" and dataset.preprocessor.sequence_length == 80


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: [d["train"]], r"expected a dict .* found a list of 1"),
        (lambda d: {k: v for k, v in d.items() if k != "test"},
         r"split 'test': the split is missing .*'train', 'dev'"),
        (lambda d: {**d, "dev": []}, r"split 'valid': the split is empty"),
        (lambda d: {**d, "dev": "x"}, r"split 'valid': expected a list of items"),
    ],
)
def test_mag_top_level_errors(tmp_path, change, expected):
    path = write_pickle(tmp_path / "mosi.pkl", change(mag_data()))
    with pytest.raises(DataFormatError, match=expected):
        read(path, "mag")


def _bad_item(index, item):
    data = mag_data()
    data["train"][index] = item
    return data


@pytest.mark.parametrize(
    "item, expected",
    [
        ((["a"], 0.5), r"item 2: expected \(\(words, visual, acoustic\), label, segment\), "
                       r"found a tuple of 2"),
        (((["a", "b"], rows(2, 47), rows(3, 74)), 0.5, "s"),
         r"item 2, field 'acoustic': has 3 rows but the utterance has 2 words"),
        (((["a"], np.ones(47), rows(1, 74)), 0.5, "s"),
         r"item 2, field 'visual': expected an array \[n_words, d\], found shape \(47,\)"),
        (((["a"], rows(1, 47), rows(1, 73)), 0.5, "s"),
         r"item 2, field 'acoustic': has 73 feature columns but earlier items have 74"),
        (((["a"], rows(1, 47), rows(1, 74)), np.array([1.0, 2.0]), "s"),
         r"item 2, field 'label': expected a number or an array with one value, "
         r"found an array of shape \(2,\)"),
        (((["a"], rows(1, 47), rows(1, 74)), "pos", "s"), r"item 2, field 'label'"),
        (((["a"], rows(1, 47), np.array([["x"] * 74])), 0.5, "s"),
         r"item 2, field 'acoustic': expected a numeric array"),
        ((("a b", rows(1, 47), rows(1, 74)), 0.5, "s"),
         r"item 2, field 'words': expected a list of words"),
        (((["a"], rows(1, 47), rows(1, 74)), 0.5, 3.5), r"item 2, field 'segment'"),
    ],
)
def test_mag_item_errors_name_split_item_and_field(tmp_path, item, expected):
    path = write_pickle(tmp_path / "mosi.pkl", _bad_item(2, item))
    with pytest.raises(DataFormatError, match=r"mosi\.pkl: split 'train', " + expected) as error:
        read(path)
    assert error.value.split == "train" and error.value.index == 2


def test_an_undetectable_structure_is_a_clear_error(tmp_path):
    path = write_pickle(tmp_path / "odd.pkl", {"train": [(1, 2)], "dev": [], "test": []})
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        read(path)
    with pytest.raises(MissingFileError, match=r"missing\.pkl: no such file or folder; "
                       "expected a data file .* or a CHERMA folder"):
        read(tmp_path / "missing.pkl")
    with pytest.raises(DataFormatError, match="CHERMA data is a folder"):
        read(path, "cherma")


# HKT ------------------------------------------------------------------------------------


def test_hkt_reads_punchline_context_and_labels(tmp_path):
    data = hkt_data()
    data["train"][2] = hkt_item("yes .", [], label=np.float64(1.0), hid="h2")
    dataset = read(write_pickle(tmp_path / "mustard.pkl", data))
    assert dataset.format == "hkt" and dataset.dataset == "mustard"
    assert dataset.preprocessor.sequence_length == 70
    assert dataset.task == "classification"
    assert dataset.class_names == ["not_sarcastic", "sarcastic"]  # the dataset table's
    assert dataset.stored_dims == {"acoustic": 81, "visual": 91, "text": None}
    assert dataset.dims == {"acoustic": 60, "visual": 36, "text": None}
    first = dataset.train.utterances[0]
    assert first.words == ["so", "good"] and first.context == [["i", "know"], ["right"]]
    assert first.acoustic.shape == (5, 81)
    np.testing.assert_allclose(first.acoustic[:, 0], [0, 1, 2, 100, 101])
    empty = dataset.train.utterances[2]
    assert empty.context == [] and empty.acoustic.shape == (2, 81)
    assert dataset.train.labels.dtype == np.int32
    assert dataset.train.labels.tolist() == [0, 1, 1]
    assert dataset.train.ids == ["0", "1", "h2"]


def test_hkt_accepts_an_empty_context_stored_as_a_flat_empty_array(tmp_path):
    data = hkt_data()
    (p, (c_words, _, _, hcf), hid, label) = hkt_item("oh no", [])
    data["test"][0] = (p, (c_words, np.array([]), np.array([]), hcf), hid, label)
    dataset = read(write_pickle(tmp_path / "ur_funny.pkl", data))
    assert dataset.test.utterances[0].acoustic.shape == (2, 81)
    assert dataset.dataset == "urfunny" and dataset.preprocessor.sequence_length == 80
    assert dataset.class_names == ["not_humorous", "humorous"]


def test_hkt_file_of_unknown_dataset_gets_generic_class_names(tmp_path):
    dataset = read(write_pickle(tmp_path / "jokes.pkl", hkt_data()))
    assert dataset.dataset is None and dataset.class_names == ["negative", "positive"]


def test_hkt_errors(tmp_path):
    data = hkt_data()
    data["train"][1] = hkt_item("so good", ["i know"], label=2)
    with pytest.raises(DataFormatError, match=r"item 1, field 'label': expected a class index"):
        read(write_pickle(tmp_path / "a.pkl", data))
    data = hkt_data()
    punchline, (c_words, c_visual, c_acoustic, hcf), hid, label = hkt_item("so", ["i know"])
    data["dev"][1] = (punchline, (c_words, c_visual[:1], c_acoustic, hcf), hid, label)
    with pytest.raises(DataFormatError,
                       match=r"split 'valid', item 1, field 'c_visual': has 1 rows but "
                             r"the utterance has 2 words"):
        read(write_pickle(tmp_path / "b.pkl", data))


# MMSA -----------------------------------------------------------------------------------


def test_mmsa_aligned_file(tmp_path):
    dataset = read(write_pickle(tmp_path / "aligned_50.pkl", mmsa_data()))
    assert dataset.format == "mmsa"
    assert dataset.stored_dims == {"acoustic": 5, "visual": 20, "text": 768}
    assert dataset.preprocessor.sequence_length == 50
    assert dataset.preprocessor.acoustic_length == 50
    assert [len(s) for s in dataset.splits.values()] == [4, 2, 3]
    utterance = dataset.train.utterances[0]
    assert utterance.text_bert.dtype == np.int32 and utterance.text_bert.shape == (3, 50)
    assert utterance.acoustic_length is None
    assert dataset.train.ids[1] == "video1$_$1"
    assert any("shares the text's mask" in note for note in dataset.report.notes)


def test_mmsa_unaligned_file_keeps_its_lengths_and_dims(tmp_path):
    data = mmsa_data(audio=(375, 74), vision=(500, 47), lengths=True)
    data["train"]["audio"][0, 0, 0] = -np.inf
    data["train"]["vision"][1, 2, :3] = np.nan
    dataset = read(write_pickle(tmp_path / "unaligned_50.pkl", data))
    assert dataset.stored_dims["acoustic"] == 74 and dataset.stored_dims["visual"] == 47
    assert dataset.preprocessor.acoustic_length == 375 and dataset.preprocessor.visual_length == 500
    utterance = dataset.train.utterances[0]
    assert utterance.acoustic_length == int(data["train"]["audio_lengths"][0])
    assert dataset.report.splits["train"].nonfinite_replaced == {"acoustic": 1, "visual": 3}


def test_mmsa_single_utterance_is_a_test_split(tmp_path):
    split = mmsa_split(1, audio=(120, 25), vision=(33, 171))
    single = {key: split[key][0] for key in ("audio", "vision", "text", "text_bert")}
    dataset = read(write_pickle(tmp_path / "feature.pkl", single))
    assert list(dataset.splits) == ["test"] and dataset.train is None
    assert np.isnan(dataset.test.labels[0])
    assert dataset.test.utterances[0].acoustic.shape == (120, 25)


def test_mmsa_errors(tmp_path):
    data = mmsa_data()
    del data["valid"]["text_bert"]
    with pytest.raises(DataFormatError, match=r"split 'valid', field 'text_bert': the field is"):
        read(write_pickle(tmp_path / "a.pkl", data))
    data = mmsa_data()
    data["test"]["audio"] = data["test"]["audio"][:2]
    with pytest.raises(DataFormatError, match=r"field 'audio': has 2 items but 'text_bert' has 3"):
        read(write_pickle(tmp_path / "b.pkl", data))
    data = mmsa_data()
    data["test"]["vision"] = data["test"]["vision"][:, :, :7]
    with pytest.raises(DataFormatError, match=r"split 'test', field 'vision': has 7 feature"):
        read(write_pickle(tmp_path / "c.pkl", data))


# CHERMA ---------------------------------------------------------------------------------


def test_cherma_folder(tmp_path):
    folder = write_cherma(tmp_path / "cherma")
    np_path = folder / "text" / "train" / "utt_0001.npy"
    array = np.load(np_path)
    array[0, :4] = np.nan
    np.save(np_path, array)
    dataset = read(folder)
    assert dataset.format == "cherma"
    assert dataset.stored_dims == {"acoustic": 1024, "visual": 2048, "text": 1024}
    assert dataset.class_names == list(CHERMA_CLASS_NAMES)
    assert dataset.train.labels.tolist() == [0, 1, 2, 3]
    assert dataset.valid.labels.tolist() == [4, 5]
    assert dataset.train.ids == ["utt_0000", "utt_0001", "utt_0002", "utt_0003"]
    assert dataset.train.utterances[1].text_features.shape == (60, 1024)
    assert dataset.report.splits["train"].nonfinite_replaced == {
        "text": 4, "acoustic": 0, "visual": 0
    }
    assert dataset.preprocessor.sequence_length == 50


def test_cherma_errors(tmp_path):
    folder = write_cherma(tmp_path / "cherma")
    (folder / "visual" / "valid" / "utt_0005.mp4.npy").unlink()
    with pytest.raises(DataFormatError,
                       match=r"split 'valid', item 1, field 'visual': the feature file "
                             r"visual/valid/utt_0005.mp4.npy does not exist"):
        read(folder)
    folder = write_cherma(tmp_path / "other")
    text = (folder / "test.json").read_text(encoding="utf-8").replace("惊奇", "开心")
    (folder / "test.json").write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"field 'video_label': unknown emotion '开心'"):
        read(folder)
    (folder / "test.json").unlink()
    with pytest.raises(DataFormatError, match="a folder must be a CHERMA release|no test.json"):
        read(folder)
