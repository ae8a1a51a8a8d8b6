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


def test_bad_override_is_refused():
    with pytest.raises(ValueError, match="hidden_dim=30"):
        main(["summary", "--dataset", "cherma", "--set", "hidden_dim=30", "--json"])
