"""The paper's studies (`glomo-keras study`) and analysis figures (`glomo-keras plot`).

One small ablation study (full model and −T, one seed, one epoch, on 32/16/16
utterances of the built-in sample) is killed after its first variant and
resumed; the plot tests read its full-model run.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from training_fixtures import REPOSITORY
from training_fixtures import TINY_FLAGS
from training_fixtures import write_small_sample

from glomo_keras.config import GLoMoConfig
from glomo_keras.studies.figures import window_lines_from_points
from glomo_keras.studies.figures import windows_lines
from glomo_keras.studies.points import ABLATIONS
from glomo_keras.studies.points import ablation_points
from glomo_keras.studies.points import expert_points
from glomo_keras.studies.points import window_points

STUDY_FLAGS = [*TINY_FLAGS, "--epochs", "1", "--seeds", "3"]


def _read_rgb(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _rgb(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _study(output, *flags, cache):
    return subprocess.Popen(
        [sys.executable, "-m", "glomo_keras", "study", "ablations", "--dataset", "mosei",
         "--output", str(output), *map(str, flags)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPOSITORY,
        env={**os.environ, "GLOMO_KERAS_CACHE": str(cache)},
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A two-variant study, killed (SIGKILL) after its first variant, then rerun."""
    folder = tmp_path_factory.mktemp("study")
    data = write_small_sample(folder / "small.pkl")
    output = folder / "ablations"
    flags = ["--data", data, *STUDY_FLAGS, "--variants", "no_text"]
    first = _study(output, *flags, cache=folder / "cache")
    finished = output / "full" / "results.json"
    deadline = time.time() + 900
    while not finished.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert finished.exists(), "the first variant never finished"
    assert not (output / "no_text" / "results.json").exists()
    full_written = finished.stat().st_mtime_ns
    second = _study(output, *flags, cache=folder / "cache")
    stdout, stderr = second.communicate(timeout=900)
    assert second.returncode == 0, stderr[-3000:]
    return {"data": data, "output": output, "stdout": stdout, "stderr": stderr,
            "full_written": full_written, "cache": folder / "cache"}


@pytest.mark.slow
def test_a_killed_study_resumes_and_writes_the_table(study):
    output = study["output"]
    assert "GLoMo: finished, skipped" in study["stderr"]
    assert (output / "full" / "results.json").stat().st_mtime_ns == study["full_written"]
    with open(output / "ablations.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["name"] for row in rows] == ["full", "no_text"]
    full, no_text = rows
    for metric in ("acc2_has0", "acc2_non0", "f1_has0", "f1_non0", "mae", "corr"):
        run = json.loads((output / "no_text" / "results.json").read_text())
        assert float(no_text[f"{metric}_mean"]) == pytest.approx(run["mean"]["test"][metric], abs=1e-6)
        assert float(no_text[f"{metric}_delta"]) == pytest.approx(
            float(no_text[f"{metric}_mean"]) - float(full[f"{metric}_mean"]), abs=2e-6)
        assert float(full[f"{metric}_delta"]) == 0.0
    # −T drops the BERT branch: far fewer parameters.
    assert 0 < int(no_text["params"]) < int(full["params"])
    table = (output / "ablations.md").read_text()
    assert "| GLoMo |" in table and "| −T (A+V) |" in table and "Params" in table
    assert table in study["stdout"]
    assert json.loads((output / "study.json").read_text())["seeds"] == [3]


@pytest.mark.slow
def test_a_study_with_other_settings_is_refused(study, capsys, monkeypatch):
    from glomo_keras.cli import main

    # Refused before any training: the console script's entry point in this process.
    monkeypatch.setenv("GLOMO_KERAS_CACHE", str(study["cache"]))
    capsys.readouterr()
    assert main(["study", "ablations", "--dataset", "mosei", "--data", str(study["data"]),
                 "--output", str(study["output"]), *STUDY_FLAGS[:-1], "4",
                 "--variants", "no_text"]) == 2
    stderr = capsys.readouterr().err
    assert "seeds [3] → [4]" in stderr and "--overwrite" in stderr


@pytest.mark.slow
def test_plot_writes_the_figures_of_a_run(study, tmp_path):
    from glomo_keras.cli import main

    run = study["output"] / "full"
    figures = tmp_path / "figures"
    # The data file comes from the run's results.json (no --data).
    assert main(["plot", str(run), "--output", str(figures), "--max-points", "12",
                 "--no-cache"]) == 0
    written = json.loads((figures / "figures.json").read_text())
    assert written["utterances"] == 12 and written["seed"] == 3
    projector = run / "logs" / "seed_3"
    assert written["projector"] == str(projector)
    # Fig. 2: six representations of 12 utterances, one colour each.
    _check_scatter(figures / "unimodal_tsne.png", points=6 * 12, groups=6)
    # Fig. 4: coloured by the sign of the label; the groups come from the run's
    # own test predictions file (independent of the figure code).
    with open(run / "predictions" / "test_seed3.csv") as file:
        labels = {row["id"]: float(row["label"]) for row in csv.DictReader(file)}
    with open(figures / "fused_tsne.csv") as file:
        fused_rows = list(csv.DictReader(file))
    assert len(fused_rows) == 12
    metadata = _tsv(projector / "fused_metadata.tsv")
    signs = {("negative" if labels[i] < 0 else "positive" if labels[i] > 0 else "neutral")
             for i in metadata["id"]}
    assert set(metadata["group"]) == signs
    _check_scatter(figures / "fused_tsne.png", points=12, groups=len(signs))
    for name in ("modality_weights", "expert_load"):
        image = _read_rgb(figures / f"{name}.png")
        assert image.shape[0] > 200 and image.shape[1] > 400
        for colour in ("#0072B2", "#E69F00", "#009E73"):  # text, acoustic, visual
            assert np.all(image == _rgb(colour), axis=-1).sum() > 20, (name, colour)
    _check_projector(projector, utterances=12)
    info = _ask_tensorboard(run / "logs", "/data/plugin/projector/info?run=seed_3")
    shapes = {e["tensorName"]: e["tensorShape"] for e in info["embeddings"]}
    assert shapes == {"unimodal": [6 * 12, 16], "fused": [12, 32]}


@pytest.mark.slow
def test_the_study_is_one_hparams_table(study):
    groups = _ask_tensorboard(study["output"], "/data/plugin/hparams/session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100, "colParams": [],
        "allowedStatuses": ["STATUS_SUCCESS"],
    })["sessionGroups"]
    sessions = {group["sessions"][0]["name"]: group for group in groups}
    assert set(sessions) == {"full/logs/seed_3", "no_text/logs/seed_3"}
    assert json.loads(sessions["no_text/logs/seed_3"]["hparams"]["modalities"]) == ["a", "v"]
    for point, group in sessions.items():
        run = json.loads((study["output"] / point.split("/")[0] / "results.json").read_text())
        values = {value["name"]["tag"]: value["value"] for value in group["metricValues"]}
        assert values["test/mae"] == pytest.approx(run["per_seed"]["3"]["test"]["mae"])


def _ask_tensorboard(logdir, path, body=None):
    """Starts TensorBoard on `logdir` (127.0.0.1) and returns its JSON answer to `path`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host",
         "127.0.0.1", "--port", str(port), "--reload_interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode(),
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        raise AssertionError(f"TensorBoard never answered {path}")
    finally:
        server.terminate()
        server.wait(timeout=60)


def _check_scatter(path, points, groups):
    """Every point's pixel has a group colour; every group's colour shows."""
    image = _read_rgb(path)
    with open(path.with_suffix(".csv")) as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == points
    colours = {row["group"]: _rgb(row["colour"]) for row in rows}
    assert len(colours) == len(set(colours.values())) == groups
    seen = set()
    for row in rows:
        pixel = tuple(image[int(row["pixel_row"]), int(row["pixel_column"])])
        assert pixel in colours.values(), (row, pixel)
        if pixel == colours[row["group"]]:
            seen.add(row["group"])
    assert seen == set(colours)


def _tsv(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return {name: [line.split("\t")[i] for line in lines[1:]] for i, name in enumerate(header)}


def _check_projector(folder, utterances):
    config = (folder / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "unimodal"' in config and 'tensor_name: "fused"' in config
    assert 'metadata_path: "fused_metadata.tsv"' in config
    unimodal = np.loadtxt(folder / "unimodal_tensors.tsv", delimiter="\t")
    fused = np.loadtxt(folder / "fused_tensors.tsv", delimiter="\t")
    assert unimodal.shape == (6 * utterances, 16) and fused.shape == (utterances, 32)
    unimodal_metadata = _tsv(folder / "unimodal_metadata.tsv")
    assert len(unimodal_metadata["representation"]) == 6 * utterances
    assert unimodal_metadata["representation"][:utterances] == ["G_t"] * utterances
    fused_metadata = _tsv(folder / "fused_metadata.tsv")
    assert len(fused_metadata["prediction"]) == utterances
    assert set(fused_metadata["split"]) == {"test"}


@pytest.mark.slow
def test_experts_study_writes_its_grid_and_heat_map(study, tmp_path):
    from glomo_keras.cli import main

    output = tmp_path / "experts"
    assert main(["study", "experts", "--dataset", "mosei", "--data", str(study["data"]),
                 "--output", str(output), *STUDY_FLAGS, "--text", "1", "2",
                 "--acoustic", "2", "--visual", "2", "--no-cache"]) == 0
    with open(output / "experts.csv") as file:
        rows = list(csv.DictReader(file))
    assert [(row["experts_t"], row["top_k_t"], row["top_k_a"]) for row in rows] == [
        ("1", "1", "2"), ("2", "2", "2")]
    for row in rows:
        run = json.loads((output / row["name"] / "results.json").read_text())
        trained = GLoMoConfig.from_dict(run["config"]).per_modality("num_experts")
        assert trained == {"t": int(row["experts_t"]), "a": 2, "v": 2}
    # One more 2-layer text expert of n·d → d → d with gate and noise columns.
    assert int(rows[1]["params"]) - int(rows[0]["params"]) == (3 * 16 * 16 + 16) + (
        16 * 16 + 16) + 2 * 3 * 16
    image = _read_rgb(output / "experts.png")
    assert image.shape[1] > image.shape[0] > 200
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # not blank


def test_ablation_points_cover_table_4():
    labels = [point.label for point in ablation_points()]
    assert labels[0] == "GLoMo" and len(labels) == 14
    for name in ("MLP_M", "Global", "Local", "SUM", "CON", "ATTN_F", "MUL", "ATTN_G",
                 "MLP_G", "ReAt_G"):
        assert name in labels
    base = GLoMoConfig.for_dataset("mosi")
    for point in ablation_points():
        base.replace(**point.overrides)  # every row is a valid configuration
    chosen = [p.name for p in ablation_points(["sum", "-T", "reat_g", "−V"])]
    assert chosen == ["full", "no_text", "no_visual", "sum", "reat_g"]
    with pytest.raises(ValueError, match="Unknown ablation variant 'TT'"):
        ablation_points(["TT"])
    assert ABLATIONS["local"].overrides["guidance"] == "local_weights"


def test_sweep_points_and_window_lines(tmp_path):
    base = GLoMoConfig.for_dataset("mosi", top_k=2)
    grid = expert_points(base, {"t": [1, 2, 3, 4], "a": [1, 2, 3, 4], "v": [1, 2, 3, 4]})
    assert len(grid) == 64 and len({p.name for p in grid}) == 64
    for point in grid:
        base.replace(**point.overrides)  # 1 expert gets top_k 1
    assert grid[0].overrides == {"num_experts": {"t": 1, "a": 1, "v": 1},
                                 "top_k": {"t": 1, "a": 1, "v": 1}}
    windows = window_points(base, [1, 3, 6], vary=["t", "v", "all"])
    # t: 1, 3, 6; v: 1, (3 repeats the base), 6; all: 1, (3 again), 6.
    assert [p.name for p in windows] == [
        "windows_t1_a3_v3", "windows_t3_a3_v3", "windows_t6_a3_v3", "windows_t3_a3_v1",
        "windows_t3_a3_v6", "windows_t1_a1_v1", "windows_t6_a6_v6"]
    scores = {p.name: {"mean": {"test": {"acc2_non0": 0.5 + 0.01 * i}}}
              for i, p in enumerate(windows)}
    lines = window_lines_from_points(windows, scores, ["t", "v", "all"],
                                     base.per_modality("num_windows"), "acc2_non0")
    assert lines["t"] == {1: 0.5, 3: 0.51, 6: 0.52}
    assert lines["v"] == {1: 0.53, 3: 0.51, 6: 0.54}
    assert lines["all"] == {1: 0.55, 3: 0.51, 6: 0.56}
    image = _read_rgb(windows_lines(lines, "acc2_non0", tmp_path / "windows.png"))
    for colour in ("#0072B2", "#009E73", "#D55E00"):  # text, visual, all
        assert np.all(image == _rgb(colour), axis=-1).sum() > 50


def test_a_study_with_other_training_options_is_refused(tmp_path):
    from glomo_keras.studies.runner import StudyMismatchError
    from glomo_keras.studies.runner import _check_identity
    from glomo_keras.training.options import TrainingOptions

    options = TrainingOptions.for_dataset("mosei", epochs=1)
    record = {"kind": "ablations", "base_config": GLoMoConfig.for_dataset("mosei").to_dict(),
              "training": options.to_dict(), "seeds": [3], "backbone": "random:bert_tiny"}
    (tmp_path / "study.json").write_text(json.dumps(record))
    _check_identity(tmp_path / "study.json", record)  # the same settings continue
    changed = {**record, "training": options.replace(epochs=2).to_dict()}
    with pytest.raises(StudyMismatchError, match=r"training fields \['epochs'\]"):
        _check_identity(tmp_path / "study.json", changed)
