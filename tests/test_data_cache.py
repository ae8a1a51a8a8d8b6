"""The cache of tokenised arrays: hits, invalidation, atomic files."""

import numpy as np
import pytest
from data_fixtures import TINY_VOCABULARY, mag_data, mag_item, tiny_tokenizer, write_pickle

from glomo_keras.data import load, make_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture
def data_file(tmp_path):
    return write_pickle(tmp_path / "mosi.pkl", mag_data())


def test_second_load_hits_the_cache(tmp_path, data_file, tokenizer):
    cache_dir = tmp_path / "cache"
    first = load(data_file, tokenizer=tokenizer, cache_dir=cache_dir)
    assert first.report.cache == "written"
    assert len(list(cache_dir.glob("mosi-*.npz"))) == 1
    second = load(data_file, tokenizer=tokenizer, cache_dir=cache_dir)
    assert second.report.cache == "hit"
    assert second.train.utterances is None
    assert second.preprocessor.get_config() == first.preprocessor.get_config()
    assert second.report.splits == first.report.splits
    for name in first.splits:
        assert second.splits[name].ids == first.splits[name].ids
        np.testing.assert_array_equal(second.splits[name].labels, first.splits[name].labels)
        for key, array in first.splits[name].inputs.items():
            np.testing.assert_array_equal(second.splits[name].inputs[key], array, err_msg=key)


@pytest.mark.parametrize(
    "change",
    ["content", "max_length", "vocabulary", "columns", "lowercase"],
)
def test_changes_miss_the_cache(tmp_path, data_file, tokenizer, change):
    cache_dir = tmp_path / "cache"
    load(data_file, tokenizer=tokenizer, cache_dir=cache_dir)
    options = {"tokenizer": tokenizer, "cache_dir": cache_dir}
    if change == "content":
        data = mag_data()
        data["test"][0] = mag_item(["so", "good"], 2.0)
        write_pickle(data_file, data)
    elif change == "max_length":
        options["max_length"] = 20
    elif change == "vocabulary":
        options["tokenizer"] = make_tokenizer(TINY_VOCABULARY + ["extra"])
    elif change == "columns":
        options["acoustic_columns"] = [0, 1, 2]
    else:
        options["tokenizer"] = make_tokenizer(TINY_VOCABULARY, lowercase=False)
    again = load(data_file, **options)
    assert again.report.cache == "written"
    assert len(list(cache_dir.glob("*.npz"))) == 2
    assert again.train.utterances is not None


def test_no_cache_writes_nothing(tmp_path, data_file, tokenizer, monkeypatch):
    monkeypatch.setenv("GLOMO_KERAS_CACHE", str(tmp_path / "env_cache"))
    dataset = load(data_file, tokenizer=tokenizer, use_cache=False)
    assert dataset.report.cache == "off"
    assert not (tmp_path / "env_cache").exists()


def test_the_environment_variable_sets_the_folder(tmp_path, data_file, tokenizer, monkeypatch):
    monkeypatch.setenv("GLOMO_KERAS_CACHE", str(tmp_path / "env_cache"))
    load(data_file, tokenizer=tokenizer)
    assert len(list((tmp_path / "env_cache").glob("*.npz"))) == 1
    assert load(data_file, tokenizer=tokenizer).report.cache == "hit"


def test_a_corrupt_cache_file_is_replaced(tmp_path, data_file, tokenizer):
    cache_dir = tmp_path / "cache"
    load(data_file, tokenizer=tokenizer, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:200])
    again = load(data_file, tokenizer=tokenizer, cache_dir=cache_dir)
    assert again.report.cache == "written"
    assert load(data_file, tokenizer=tokenizer, cache_dir=cache_dir).report.cache == "hit"
    assert [p.name for p in cache_dir.iterdir()] == [cache_file.name]


def test_cache_files_hold_no_pickles(tmp_path, data_file, tokenizer):
    load(data_file, tokenizer=tokenizer, cache_dir=tmp_path / "cache")
    (cache_file,) = (tmp_path / "cache").glob("*.npz")
    with np.load(cache_file, allow_pickle=False) as archive:
        for name in archive.files:
            assert archive[name].dtype != object
