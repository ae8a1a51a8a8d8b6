"""End to end: `glomo-keras train` trains, selects, scores, logs and exports; the
recipe refuses to overwrite the finished run.

The run is the session's shared `train` run (`shared_artifacts.shared_run`),
which test_command_line and test_tensorboard read too.
"""

import csv
import json
import os

import pytest
from shared_artifacts import RUN_SEEDS
from shared_artifacts import shared_run
from training_fixtures import TINY_FLAGS
from training_fixtures import run_mosei_recipe

REGRESSION_KEYS = {"mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"}


def _tags(log_dir):
    from tensorboard.backend.event_processing import event_accumulator

    tags = set()
    for root, _, files in os.walk(log_dir):
        if any(name.startswith("events.out") for name in files):
            accumulator = event_accumulator.EventAccumulator(root, size_guidance={"tensors": 0})
            accumulator.Reload()
            tags.update(accumulator.Tags()["tensors"])
    return tags


@pytest.mark.slow
def test_a_run_trains_selects_scores_logs_and_exports(tmp_path_factory):
    folder, result = shared_run(tmp_path_factory)
    data = folder / "datasets" / "mosei.pkl"
    output = folder / "run"
    export_base = output / "saved_model"
    assert result["returncode"] == 0, result["stderr"][-3000:]
    # conftest's GLOMO_CPU_BF16=0: auto is float32 on this CPU too, and says why.
    assert "precision: float32 (auto: this CPU has no native bfloat16" in result["stderr"]
    results = json.loads((output / "results.json").read_text())
    assert set(results["per_seed"]) == set(map(str, RUN_SEEDS))
    for seed_result in results["per_seed"].values():
        assert set(seed_result["test"]) == REGRESSION_KEYS
        assert set(seed_result["valid"]) == REGRESSION_KEYS
        assert seed_result["best_epoch"] in (1, 2)
    assert set(results["mean"]["test"]) == set(results["std"]["test"]) == REGRESSION_KEYS
    assert results["num_replicas"] == 1
    assert results["config"]["hidden_dim"] == 16
    assert results["config"]["length_aware"] is True
    assert results["training"]["bucketing"] is True
    assert results["training"]["batch_size"] == 8
    assert "keras" in results["versions"]
    for seed in RUN_SEEDS:
        with open(output / "predictions" / f"test_seed{seed}.csv") as file:
            rows = list(csv.DictReader(file))
        assert len(rows) == 16 and set(rows[0]) == {"id", "label", "prediction"}
    assert (export_base / "1" / "saved_model.pb").exists()
    assert results["export"] == str(export_base.relative_to(folder) / "1")
    assert "TensorBoard: tensorboard --logdir" in result["stdout"]
    tags = _tags(output / "logs" / f"seed_{RUN_SEEDS[0]}")
    for expected in ("train/loss", "validation/mae", "validation/acc7", "validation/f1_non0",
                     "moe/text/imbalance_eval", "moe/acoustic/load_train/expert_0",
                     "moe/visual/load_eval/expert_0", "fusion/text_weight",
                     "fusion/visual_weight", "test/mae", "_hparams_/session_start_info"):
        assert expected in tags, (expected, sorted(tags))

    again = run_mosei_recipe(output, "--data", data, *TINY_FLAGS, "--epochs", "2")
    assert again.returncode == 2
    assert "holds a finished run" in again.stderr
