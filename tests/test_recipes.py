"""The five recipes in fresh processes: the flags, the sample when the data is absent.

`python recipes/train_mosei.py` without data (the project's main job) trains
on the built-in sample; each other recipe starts quietly, knows its dataset
and reports a flag mistake with its own name and exit status 2 (one fresh
process runs these short command lines one after another). All five are
one helper, `recipes/_recipe.py`, around the `train` function the console
script calls too.
"""

import json
import subprocess
import sys

import pytest
from console_cases import console_environment
from console_cases import run_cases
from training_fixtures import REPOSITORY
from training_fixtures import TINY_FLAGS

# Fresh processes that pick their own backend: run once (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.console

# The tiny model; the sample's 600 training utterances in batches of 64.
TINY = [*TINY_FLAGS, "--batch-size", "64", "--epochs", "1"]


def _recipe(dataset, *flags, cwd):
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "recipes" / f"train_{dataset}.py"), *flags],
        cwd=cwd, capture_output=True, text=True, timeout=900,
        env=console_environment(GLOMO_KERAS_CACHE=str(cwd / "cache")),
    )


@pytest.mark.slow
def test_mosei_recipe_trains_on_the_sample_when_the_data_is_absent(tmp_path):
    result = _recipe("mosei", *TINY, "--no-export", "--backend", "tensorflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    first = result.stdout.splitlines()[0]
    assert first.startswith("datasets/mosei.pkl not found: training on the built-in sample")
    # Quiet: TensorFlow's start-up lines are hidden; stderr holds progress lines only.
    assert all(line.startswith("[glomo-keras ") for line in result.stderr.splitlines()), (
        result.stderr[-3000:])
    results = json.loads((tmp_path / "runs" / "mosei_sample" / "results.json").read_text())
    assert (results["config"]["dataset"], results["config"]["hidden_dim"]) == ("mosei", 16)
    # The demo's settings under the flags: length-aware with bucketing, T from --set.
    assert results["config"]["length_aware"] and results["training"]["bucketing"]
    assert (results["training"]["epochs"], results["training"]["batch_size"]) == (1, 64)
    assert results["config"]["max_sequence_length"] == 16
    assert (tmp_path / "datasets" / "glomo_sample_mosei.pkl").exists()


OTHERS = ["mosi", "urfunny", "mustard", "cherma"]


@pytest.fixture(scope="module")
def mistakes_and_help(tmp_path_factory):
    """{dataset: (a flag mistake's result, --help's result)}: one fresh process runs them all.

    Each recipe runs as `python recipes/train_<dataset>.py ...` would
    (console_cases.py: its own stdout, stderr and exit status).
    """
    folder = tmp_path_factory.mktemp("recipes")
    environment = console_environment(GLOMO_KERAS_CACHE=str(folder / "cache"))
    cases = []
    for dataset in OTHERS:
        script = str(REPOSITORY / "recipes" / f"train_{dataset}.py")
        cases += [[script, "--data", str(folder / "absent.pkl"), "--backend", "tensorflow",
                   "--set", "hiden_dim=8"], [script, "--help"]]
    results = run_cases(cases, folder, tmp_path_factory.mktemp("recipe_cases"), environment)
    return {dataset: tuple(results[2 * i:2 * i + 2]) for i, dataset in enumerate(OTHERS)}


@pytest.mark.parametrize("dataset", OTHERS)
def test_each_recipe_knows_its_dataset_and_reports_flag_mistakes(dataset, mistakes_and_help):
    result, help_result = mistakes_and_help[dataset]
    assert result["returncode"] == 2
    assert result["stderr"].splitlines() == [
        f"train_{dataset}.py: Unknown field 'hiden_dim' (GLoMoConfig or TrainingOptions); "
        "did you mean 'hidden_dim'?"], result["stderr"][-3000:]
    assert f"{dataset}: " not in result["stdout"]  # refused before the config line
    assert "built-in sample" in result["stdout"]  # --data absent: the sample's demo
    help_text = help_result["stdout"]
    assert help_text.startswith(f"usage: train_{dataset}.py")
    assert "--set FIELD=VALUE" in help_text and "--backend" in help_text


def test_the_recipe_helper_imports_no_keras_before_the_flags():
    """`--backend` can only work if nothing imported Keras before the flags are read."""
    script = "import sys, _recipe\nprint('keras' in sys.modules, 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY / "recipes",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]
