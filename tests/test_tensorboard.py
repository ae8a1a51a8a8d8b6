"""TensorBoard as a user sees it: a finished tiny run read back by TensorBoard's own code.

The run is the session's shared `glomo-keras train` run (2 seeds × 2 epochs
on 32/16/16 utterances of the built-in sample, `shared_artifacts.shared_run`,
which test_training_end_to_end checks too), copied and plotted once for the
module; the tests read it through `EventAccumulator` and through a
TensorBoard server on 127.0.0.1 (the HParams, Custom Scalars, Images and
Projector plugins' own HTTP answers).
"""

import json
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from shared_artifacts import RUN_SEEDS
from shared_artifacts import shared_run

import glomo_keras
from glomo_keras.training import summaries

SEEDS = RUN_SEEDS
FIRST, SECOND = SEEDS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished, plotted 2-seed run: its folder and results."""
    from glomo_keras.cli import main

    shared, process = shared_run(tmp_path_factory)
    assert process["returncode"] == 0, process["stderr"][-3000:]
    output = tmp_path_factory.mktemp("tensorboard") / "run"
    shutil.copytree(shared / "run", output)  # plot writes into the run
    assert main(["plot", str(output), "--max-points", "12", "--no-cache"]) == 0
    return {"dir": output, "data": "datasets/mosei.pkl",
            "results": json.loads((output / "results.json").read_text())}


@pytest.fixture(scope="module")
def server(run):
    """`tensorboard --logdir RUN/logs` on 127.0.0.1; yields a function that asks it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(run["dir"] / "logs"),
         "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def ask(path, body=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    deadline = time.time() + 180
    while True:
        try:
            ask("/data/runs")
            break
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(1)
    yield ask
    process.terminate()
    process.wait(timeout=60)


def _accumulator(log_dir):
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={"tensors": 0, "images": 0}
    )
    accumulator.Reload()
    return accumulator


def _scalars(accumulator, tag):
    import tensorflow as tf

    return [(event.step, float(tf.make_ndarray(event.tensor_proto)))
            for event in accumulator.Tensors(tag)]


def _text(accumulator, tag):
    return accumulator.Tensors(tag)[-1].tensor_proto.string_val[0].decode()


@pytest.mark.slow
def test_scalars_are_grouped_described_and_counted_from_epoch_1(run):
    log = _accumulator(run["dir"] / "logs" / f"seed_{FIRST}")
    tags = set(log.Tags()["tensors"])
    for tag in ("train/loss", "train/learning_rate", "validation/loss", "validation/mae",
                "validation/acc2_non0", "validation/f1_has0", "fusion/text_weight",
                "fusion/visual_weight", "moe/text/load_train/expert_0",
                "moe/acoustic/load_eval/expert_2", "moe/visual/imbalance_train",
                "moe/text/imbalance_eval", "selected/epoch", "selected/validation_mae",
                "test/mae", "test/acc2_has0"):
        assert tag in tags, (tag, sorted(tags))
    assert not [tag for tag in tags if tag.startswith("epoch_") or "/epoch_" in tag]
    for tag in ("train/loss", "validation/mae", "fusion/acoustic_weight",
                "moe/text/load_eval/expert_1"):
        assert [step for step, _ in _scalars(log, tag)] == [1, 2], tag
    scalar_tags = [tag for tag in tags if tag.split("/")[0] in
                   ("train", "validation", "fusion", "moe", "selected", "test")]
    for tag in scalar_tags:
        assert log.SummaryMetadata(tag).summary_description, tag
    assert "Lower is better" in log.SummaryMetadata("validation/mae").summary_description
    assert "non0" in log.SummaryMetadata("validation/acc2_non0").summary_description
    # The expert shares of one routing sum to 1.
    for kind in ("train", "eval"):
        shares = [_scalars(log, f"moe/text/load_{kind}/expert_{i}")[-1][1] for i in range(3)]
        assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    # The test metrics and the selected epoch are the ones of results.json.
    seed_result = run["results"]["per_seed"][str(FIRST)]
    best = seed_result["best_epoch"]
    assert _scalars(log, "selected/epoch") == [(best, float(best))]
    assert _scalars(log, "test/mae") == [(best, pytest.approx(seed_result["test"]["mae"]))]
    assert _scalars(log, "selected/validation_acc2_non0") == [
        (best, pytest.approx(seed_result["valid"]["acc2_non0"]))]


@pytest.mark.slow
def test_hparams_rank_the_seeds_by_their_metrics(run, server):
    experiment = server("/data/plugin/hparams/experiment",
                        {"experimentName": "", "hparamsLimit": 1000})
    names = [info["name"] for info in experiment["hparamInfos"]]
    assert set(names[:len(summaries.DEFINING)]) == set(summaries.DEFINING)
    assert {"seed", "hidden_dim", "top_k_text", "fusion"} <= set(names)
    metrics = [info["name"]["tag"] for info in experiment["metricInfos"]]
    assert metrics[:8] == [f"test/{m}" for m in summaries.TASK_METRICS["regression"]]
    assert "selected/validation_acc2_non0" in metrics and "selected/epoch" in metrics
    groups = server("/data/plugin/hparams/session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100, "colParams": [],
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                            "STATUS_RUNNING"],
    })["sessionGroups"]
    assert len(groups) == len(SEEDS)
    for group in groups:
        (session,) = group["sessions"]
        assert session["status"] == "STATUS_SUCCESS"
        seed = session["name"].removeprefix("seed_")
        assert group["hparams"]["seed"] == int(seed)
        assert group["hparams"]["backbone"] == "random:bert_tiny"
        assert group["hparams"]["num_experts_acoustic"] == 3
        values = {value["name"]["tag"]: value["value"] for value in group["metricValues"]}
        result = run["results"]["per_seed"][seed]
        assert values["test/mae"] == pytest.approx(result["test"]["mae"])
        assert values["selected/validation_f1_non0"] == pytest.approx(result["valid"]["f1_non0"])


@pytest.mark.slow
def test_text_records_the_set_up_and_the_results(run):
    log = _accumulator(run["dir"] / "logs" / f"seed_{SECOND}")
    setup = _text(log, "run/setup")
    assert "train --dataset mosei --backend tensorflow" in setup  # the command that ran
    assert str(run["data"]) in setup and "32 / 16 / 16" in setup
    assert "random:bert_tiny" in setup and "float32" in setup and "keras" in setup
    assert '"hidden_dim": 16' in setup
    results = _text(log, "run/results")
    mean, std = run["results"]["mean"]["test"]["mae"], run["results"]["std"]["test"]["mae"]
    assert f"{mean:.4f} ± {std:.4f}" in results
    table = [line for line in results.splitlines() if line.startswith("|")]
    assert len(table) == 3 + len(SEEDS)  # header, rule, seeds, mean ± std
    note = _text(log, "run/selected_epoch")
    assert f"Selected epoch **{run['results']['per_seed'][str(SECOND)]['best_epoch']}**" in note


@pytest.mark.slow
def test_custom_scalars_put_related_tags_in_one_chart(run, server):
    import re

    layout = server("/data/plugin/custom_scalars/layout")
    charts = {chart["title"]: chart["multiline"]["tag"]
              for category in layout["category"] for chart in category["chart"]}
    tags = set(_accumulator(run["dir"] / "logs" / f"seed_{FIRST}").Tags()["tensors"])

    def matched(title):
        return sorted(tag for tag in tags
                      if any(re.match(pattern, tag) for pattern in charts[title]))

    fusion = next(title for title in charts if "modality weights" in title)
    assert matched(fusion) == ["fusion/acoustic_weight", "fusion/text_weight",
                               "fusion/visual_weight"]
    assert matched("loss: train and validation") == ["train/loss", "validation/loss"]
    for name in ("text", "acoustic", "visual"):
        for kind in ("training routing", "evaluation routing"):
            title = next(t for t in charts if t.startswith(f"{name} expert load, {kind}"))
            assert len(matched(title)) == 3, title


@pytest.mark.slow
def test_plot_writes_images_and_embeddings_into_the_seed_run(run, server):
    selected = run["results"]["selected_seed"]
    assert server("/data/runs") == [f"seed_{seed}" for seed in SEEDS]  # no empty run
    images = server("/data/plugin/images/tags")[f"seed_{selected}"]
    assert set(images) == {"figures/unimodal_tsne", "figures/fused_tsne",
                           "figures/modality_weights", "figures/expert_load"}
    assert "routing slots" in images["figures/expert_load"]["description"]
    info = server(f"/data/plugin/projector/info?run=seed_{selected}")
    shapes = {e["tensorName"]: e["tensorShape"] for e in info["embeddings"]}
    assert shapes == {"unimodal": [6 * 12, 16], "fused": [12, 32]}
    metadata = (run["dir"] / "logs" / f"seed_{selected}" / "fused_metadata.tsv").read_text()
    header, *rows = metadata.splitlines()
    assert header.split("\t") == ["id", "split", "label", "prediction", "group"]
    assert len(rows) == 12 and all(row.split("\t")[1] == "test" for row in rows)


@pytest.mark.slow
def test_plot_of_an_unfinished_run_is_a_usage_error(run, tmp_path, capsys):
    from glomo_keras.analysis import RunNotFinishedError
    from glomo_keras.analysis import plot_run
    from glomo_keras.cli import main
    from glomo_keras.errors import MissingFileError

    with pytest.raises(RunNotFinishedError):
        plot_run(tmp_path)
    assert issubclass(RunNotFinishedError, MissingFileError)
    assert main(["plot", str(tmp_path)]) == 2
    assert "has no results.json" in capsys.readouterr().err
    moved = tmp_path / "moved"
    moved.mkdir()
    results = {**run["results"], "data": str(tmp_path / "gone.pkl")}
    (moved / "results.json").write_text(json.dumps(results))
    (moved / f"seed_{run['results']['selected_seed']}").symlink_to(
        run["dir"] / f"seed_{run['results']['selected_seed']}")
    assert main(["plot", str(moved)]) == 2
    assert "gone.pkl does not exist; pass --data" in capsys.readouterr().err


def test_command_line_names_the_console_script(monkeypatch):
    """The setup text's command: `python -m glomo_keras` reads as the console script."""
    main_module = pathlib.Path(glomo_keras.__file__).with_name("__main__.py")
    monkeypatch.setattr(sys, "argv", [str(main_module), "train", "--dataset", "mosei"])
    assert summaries.command_line() == "glomo-keras train --dataset mosei"
    monkeypatch.setattr(sys, "argv", ["/usr/bin/glomo-keras", "train", "--data", "a b.pkl"])
    assert summaries.command_line() == "glomo-keras train --data 'a b.pkl'"
    monkeypatch.setattr(sys, "argv", ["recipes/train_mosei.py", "--seeds", "1"])
    assert summaries.command_line() == "train_mosei.py --seeds 1"


def test_expert_load_is_a_share_of_routing_slots(tmp_path):
    import tensorflow as tf

    # 4 utterances, top-2 of 3 experts: expert 0 gets 4 of the 8 slots.
    gates = np.array([[0.6, 0.4, 0], [0.5, 0, 0.5], [0.7, 0.3, 0], [0.9, 0, 0.1]])
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=1):
        summaries.write_expert_load("text", "eval", gates)
    writer.close()
    log = _accumulator(tmp_path)
    shares = [_scalars(log, f"moe/text/load_eval/expert_{i}")[0][1] for i in range(3)]
    assert shares == pytest.approx([0.5, 0.25, 0.25])
    assert _scalars(log, "moe/text/imbalance_eval")[0][1] > 0


def test_a_failed_seed_ends_its_session_as_a_failure(tmp_path):
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import metadata

    summaries.write_session_status(tmp_path, success=False)
    content = _accumulator(tmp_path).SummaryMetadata(
        metadata.SESSION_END_INFO_TAG).plugin_data.content
    assert metadata.parse_session_end_info_plugin_data(content).status == (
        api_pb2.STATUS_FAILURE)


def test_a_classification_seed_ends_with_its_metrics(tmp_path):
    result = {"best_epoch": 3, "best_val_loss": 0.61,
              "valid": {"accuracy": 0.7, "f1": 0.68, "per_class_f1": {"a": 0.6, "b": 0.7}},
              "test": {"accuracy": 0.65, "f1": 0.64, "per_class_f1": {"a": 0.5, "b": 0.7}}}
    summaries.write_seed_end(tmp_path, "classification", result)
    log = _accumulator(tmp_path)
    assert _scalars(log, "test/f1") == [(3, pytest.approx(0.64))]
    assert _scalars(log, "selected/validation_accuracy") == [(3, pytest.approx(0.7))]
    assert "| f1 | 0.6800 | 0.6400 |" in _text(log, "run/selected_epoch")
