"""The restricted unpickler: plain data loads, any other global is refused."""

import os
import pickle

import numpy as np
import pytest

from glomo_keras.data import DataFormatError, load, load_pickle
from glomo_keras.errors import MissingFileError


class _Hostile:
    """Unpickling this runs `os.system(...)` with an ordinary `pickle.load`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Custom:
    pass


def _write(path, obj, protocol=4):
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_data_round_trips(tmp_path, protocol):
    data = {
        "train": [((["a", "b"], np.ones((2, 3), np.float32), np.zeros((2, 4))),
                   np.array([[0.5]], np.float32), "x[0]")],
        "numbers": (1, 2.5, 3 + 4j, True, None, np.float32(1.5), np.int64(7)),
        "containers": [{1, 2}, frozenset({3}), bytearray(b"ab"), b"raw"],
        "arrays": [np.arange(5), np.array(["x", "yy"]), np.array([1, "a"], dtype=object),
                   np.zeros((0, 91)), np.array([np.nan, -np.inf])],
    }
    loaded = load_pickle(_write(tmp_path / "plain.pkl", data, protocol))
    assert loaded["train"][0][0][0] == ["a", "b"]
    np.testing.assert_array_equal(loaded["train"][0][0][1], np.ones((2, 3)))
    assert loaded["numbers"][:5] == data["numbers"][:5]
    assert loaded["numbers"][5] == np.float32(1.5)
    assert loaded["containers"] == data["containers"]
    assert loaded["arrays"][2].tolist() == [1, "a"]
    assert loaded["arrays"][3].shape == (0, 91)


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = _write(tmp_path / "mosi.pkl", {"train": [_Hostile(marker)]})
    with pytest.raises(DataFormatError) as error:
        load_pickle(path)
    message = str(error.value)
    assert str(path) in message
    assert "system" in message
    assert "refused" in message
    assert not marker.exists()


def test_hostile_pickle_is_refused_through_load(tmp_path):
    marker = tmp_path / "pwned"
    path = _write(tmp_path / "mosi.pkl", _Hostile(marker), protocol=2)
    with pytest.raises(DataFormatError, match="system"):
        load(path, use_cache=False)
    assert not marker.exists()


def test_other_globals_are_named(tmp_path):
    path = _write(tmp_path / "custom.pkl", {"x": _Custom()})
    with pytest.raises(DataFormatError, match=r"test_data_unpickler\._Custom"):
        load_pickle(path)
    path = _write(tmp_path / "eval.pkl", None)
    # A hand-written pickle: builtins.eval("1 + 1").
    path.write_bytes(b"cbuiltins\neval\n(V1 + 1\ntR.")
    with pytest.raises(DataFormatError, match=r"builtins\.eval"):
        load_pickle(path)


def test_unreadable_files_are_clear_errors(tmp_path):
    path = _write(tmp_path / "cut.pkl", {"train": [np.ones((50, 50))]})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataFormatError, match="not a readable pickle"):
        load_pickle(path)
    (tmp_path / "text.pkl").write_text("hello")
    with pytest.raises(DataFormatError, match="not a readable pickle"):
        load_pickle(tmp_path / "text.pkl")
    with pytest.raises(MissingFileError, match=r"missing\.pkl: cannot open the file"):
        load_pickle(tmp_path / "missing.pkl")
