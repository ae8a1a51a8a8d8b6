"""`glomo_keras.artifacts`: atomic files and folders, run results, preset handles, versions."""

import json

import pytest

from glomo_keras import artifacts
from glomo_keras.errors import MissingFileError
from glomo_keras.errors import UsageError


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    path = artifacts.write_json_atomically(tmp_path / "result.json", {"epoch": 1})
    assert json.loads(path.read_text()) == {"epoch": 1}

    def fail(partial):
        partial.write_text('{"epo')
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        artifacts.write_atomically(path, fail)
    assert json.loads(path.read_text()) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_a_folder_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    target = tmp_path / "preset"
    with artifacts.directory_written_atomically(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".preset-")
        (staging / "a.txt").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with artifacts.directory_written_atomically(target):
            pass
    with pytest.raises(RuntimeError, match="killed"):
        with artifacts.directory_written_atomically(target, overwrite=True) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "old"
    with artifacts.directory_written_atomically(target, overwrite=True) as staging:
        (staging / "b.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["preset"]


def test_run_results_and_backups(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        artifacts.read_run_results(tmp_path / "none")
    with pytest.raises(MissingFileError, match="holds no results.json"):
        artifacts.read_run_results(tmp_path)
    artifacts.write_json_atomically(tmp_path / artifacts.RESULTS_FILE, {"selected_seed": 3})
    assert artifacts.read_run_results(tmp_path) == {"selected_seed": 3}
    for seed in (1, 2):
        artifacts.backup_dir(tmp_path, seed).mkdir(parents=True)
    artifacts.remove_backup(tmp_path, 1)
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["seed_2"]
    artifacts.remove_backup(tmp_path, 2)
    assert not (tmp_path / "backup").exists()


def test_versions_and_preset_locations(tmp_path):
    base = tmp_path / "mosi"
    assert artifacts.next_version_folder(base) == base / "1"
    for name in ("1", "3", ".export-x", "latest"):
        (base / name).mkdir(parents=True)
    assert artifacts.model_versions(base) == [1, 3]
    assert artifacts.next_version_folder(base) == base / "4"
    with pytest.raises(FileNotFoundError, match="neither a SavedModel version folder"):
        artifacts.resolve_version(base)
    (base / "3" / "saved_model.pb").write_bytes(b"")
    assert artifacts.resolve_version(base) == (base / "3", 3)
    assert artifacts.local_preset(base) == base
    with pytest.raises(MissingFileError, match="does not exist"):
        artifacts.local_preset(tmp_path / "none")
    with pytest.raises(UsageError, match="'gs' is not one of kaggle://, hf://"):
        artifacts.local_preset("gs://bucket/preset")
