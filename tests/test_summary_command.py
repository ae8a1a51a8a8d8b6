"""Tests for `glomo-keras summary` (the paper's Table 5 figures)."""

import json
import subprocess
import sys

import pytest

from glomo_keras.cli import main


@pytest.mark.slow
def test_mosi_bert_base_prints_table_5_figure():
    result = subprocess.run(
        [sys.executable, "-m", "glomo_keras", "summary", "--dataset", "mosi",
         "--backbone", "random:bert_base"],
        capture_output=True, text=True, check=True,
    )
    assert "109,818,887" in result.stdout
    assert "927,239" in result.stdout
    assert "108,891,648" in result.stdout


def test_json_counts_for_a_small_config(capsys):
    main(["summary", "--dataset", "cherma", "--set", "hidden_dim=32",
          "--set", "num_layers=1", "--json"])
    counts = json.loads(capsys.readouterr().out)
    assert set(counts) == {"total_params", "backbone_params", "glomo_params"}
    assert counts["backbone_params"] == 0
    assert counts["total_params"] == counts["glomo_params"] > 0


def test_bad_override_is_refused(capsys):
    assert main(["summary", "--dataset", "cherma", "--set", "hidden_dim=30", "--json"]) == 2
    assert "hidden_dim=30" in capsys.readouterr().err


def test_per_modality_experts_change_the_counts_by_their_experts(capsys):
    def glomo_params(*flags):
        main(["summary", "--dataset", "cherma", "--set", "hidden_dim=32",
              "--set", "num_layers=1", *flags, "--json"])
        return json.loads(capsys.readouterr().out)["glomo_params"]

    default = glomo_params()
    assert glomo_params("--set", "num_experts=t:3,a:3,v:3") == default
    # One more acoustic expert: Dense(n·d → d) + Dense(d → d) and a gate and
    # a noise column (n = 3 windows, d = 32).
    one_more = glomo_params("--set", "num_experts=t:3,a:4,v:3")
    assert one_more - default == (3 * 32 * 32 + 32) + (32 * 32 + 32) + 2 * 3 * 32
