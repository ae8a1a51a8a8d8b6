"""Tests for `glomo_keras.export`: TF Serving layout, asset, fresh-process outputs.

Also home of the tiny preprocessor the serving tests share, and of the
preprocessing settings of glomo-keras 0.1 (old runs and exports still load).
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from numpy_bert import TINY_VOCABULARY
from tiny_model import SEQUENCE_LENGTH
from tiny_model import VOCABULARY_SIZE
from tiny_model import tiny_batch

from glomo_keras import export
from glomo_keras.data import GLoMoPreprocessor
from glomo_keras.data import make_tokenizer
from glomo_keras.export import export_saved_model

# A WordPiece vocabulary of exactly the tiny backbone's size.
assert len(TINY_VOCABULARY) == VOCABULARY_SIZE

METADATA = {"run": "runs/tiny", "seed": 5576, "test": {"mae": 0.5}}


def _columns(selection):
    return None if selection is None else list(range(*selection))


def tiny_preprocessor(config, **changes):
    """The MAG (for UR-FUNNY/MUStARD configs, HKT) preprocessor of a tiny config."""
    word_aligned = config.dataset in ("urfunny", "mustard")
    return GLoMoPreprocessor(**{
        "layout": "words_with_context" if word_aligned else "words",
        "tokenizer": make_tokenizer(TINY_VOCABULARY),
        "sequence_length": SEQUENCE_LENGTH,
        "acoustic_dim": config.acoustic_dim,
        "visual_dim": config.visual_dim,
        "acoustic_columns": _columns(config.acoustic_columns),
        "visual_columns": _columns(config.visual_columns),
        "task": config.task,
        "class_names": config.class_names,
        "dataset": config.dataset,
        **changes,
    })


def data_facts(preprocessor):
    """A preprocessor's config without the layer names: what its data is."""
    config = preprocessor.get_config()
    del config["name"]
    config["tokenizer"] = config["tokenizer"]["config"]["vocabulary"]
    return config


def legacy_settings(config):
    """A tiny MAG config's preprocessing settings as glomo-keras 0.1 saved them.

    Runs (`preprocessing.json`) and SavedModels (the asset's `preprocessing`)
    of that version hold this dict instead of the serialised preprocessor.
    """
    return {
        "format": "mag", "max_length": SEQUENCE_LENGTH, "acoustic_length": SEQUENCE_LENGTH,
        "visual_length": SEQUENCE_LENGTH,
        "stored_dims": {"acoustic": config.acoustic_dim, "visual": config.visual_dim,
                        "text": None},
        "task": "regression", "class_names": None, "acoustic_columns": None,
        "visual_columns": None, "vocabulary": TINY_VOCABULARY, "lowercase": True,
        "strip_accents": False, "dataset": config.dataset,
    }


def outputs_of(model, inputs):
    """The Keras model's outputs as numpy arrays.

    Eager on TensorFlow (no tracing); compiled `predict` on JAX, whose eager
    op-by-op dispatch of the whole model is slow.
    """
    if keras.backend.backend() == "jax":
        return model.predict(inputs, batch_size=len(inputs["acoustic"]), verbose=0)
    outputs = model(inputs, training=False)
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shared tiny export (version 1, with METADATA) and a second version without."""
    from shared_artifacts import tiny_export  # it imports this module

    model, preprocessor, base = tiny_export(tmp_path_factory, "mosi", name="tiny_mosi")
    second = export_saved_model(model, preprocessor, base)
    return model, base, base / "1", second


def test_versions_follow_the_tf_serving_layout(exported):
    _, base, first, second = exported
    assert (first, second) == (base / "1", base / "2")
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    for folder in (first, second):
        assert (folder / "saved_model.pb").is_file()
        assert (folder / "variables").is_dir()
        assert (folder / "assets" / "glomo_preprocessing.json").is_file()
        # The raw-words model, apart so that serving_default needs no TF Text ops.
        assert (folder / "analyze" / "saved_model.pb").is_file()


def test_asset_holds_the_preprocessor_config_and_metadata(exported):
    model, _, first, second = exported
    asset = json.loads((first / "assets" / "glomo_preprocessing.json").read_text())
    saved = GLoMoPreprocessor.from_saved(asset["preprocessing"])
    assert data_facts(saved) == data_facts(tiny_preprocessor(model.config))
    assert asset["preprocessing"]["config"]["tokenizer"]["config"]["vocabulary"] == (
        TINY_VOCABULARY)
    assert asset["model_config"] == model.config.to_dict()
    assert asset["metadata"] == {**METADATA, "precision": "float32"}
    second_asset = json.loads((second / "assets" / "glomo_preprocessing.json").read_text())
    assert second_asset["metadata"] == {"precision": "float32"}


def test_an_export_of_glomo_keras_0_1_still_serves(exported, tmp_path):
    """Its asset holds the preprocessing settings, not the serialised preprocessor."""
    from glomo_keras.serving.predictor import Predictor

    model, _, first, _ = exported
    old = tmp_path / "old" / "1"
    shutil.copytree(first, old)
    asset_path = old / "assets" / "glomo_preprocessing.json"
    asset = json.loads(asset_path.read_text())
    asset["preprocessing"] = legacy_settings(model.config)
    asset_path.write_text(json.dumps(asset))
    rng = np.random.default_rng(3)
    instances = [{"words": ["so", "good", "playing"],
                  "acoustic": rng.normal(size=(3, 5)).tolist(),
                  "visual": rng.normal(size=(3, 3)).tolist()}]
    predictor, current = Predictor(old), Predictor(first)
    assert data_facts(predictor.preprocessor) == data_facts(current.preprocessor)
    assert predictor.analyze(instances) == current.analyze(instances)


# A fresh process with TensorFlow and, unless argv[2] is "no-tf-text" (then
# importing it fails), TensorFlow Text (the tokenizer's ops) only: argv[1] is
# a JSON list of [folder, signature, .npz of inputs]. It loads each folder
# once and prints, as JSON, each call's outputs (strings decoded) with its
# "inputs" (the signature's input names), then whether glomo_keras was imported.
FRESH_CALLS = """
import json, sys
if sys.argv[2] == "no-tf-text":
    sys.modules["tensorflow_text"] = None  # any import of it raises ImportError
import numpy as np
import tensorflow as tf
if sys.argv[2] != "no-tf-text":
    import tensorflow_text  # noqa: F401

results, loaded = [], {}
for folder, signature, path in json.loads(sys.argv[1]):
    if folder not in loaded:
        loaded[folder] = tf.saved_model.load(folder)
    function = loaded[folder].signatures[signature]
    outputs = function(**{name: tf.constant(value) for name, value in np.load(path).items()})
    result = {name: [v.decode() for v in value.numpy()] if value.dtype == tf.string
              else value.numpy().tolist() for name, value in outputs.items()}
    result["inputs"] = sorted(function.structured_input_signature[1])
    results.append(result)
results.append(any(name.startswith("glomo_keras") for name in sys.modules))
print(json.dumps(results))
"""


def call_in_fresh_process(calls, tensorflow_text=True):
    """Makes SavedModel signature calls in one fresh process (`FRESH_CALLS`).

    Args:
        calls: a list of [folder, signature name, path of an .npz of inputs].
        tensorflow_text: import TensorFlow Text there; False makes importing it fail.

    Returns:
        (one dict of outputs and "inputs" per call, whether glomo_keras was imported).

    Example:

    ```python
    (answer,), imported = call_in_fresh_process([[folder, "analyze", "batch.npz"]])
    ```
    """
    text = "tf-text" if tensorflow_text else "no-tf-text"
    run = subprocess.run([sys.executable, "-c", FRESH_CALLS, json.dumps(calls), text],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    *answers, glomo_keras_imported = json.loads(run.stdout.strip().splitlines()[-1])
    return answers, glomo_keras_imported


def run_fresh_process_check(folder, batches, tmp_path):
    """Calls `serving_default` in a fresh process without TensorFlow Text; returns a report.

    Args:
        folder: the SavedModel version folder.
        batches: name ("full", "short") → (inputs, expected outputs).
        tmp_path: a folder for the batch files.

    Returns:
        {"inputs": the signature's input names, "outputs": its output names,
        name: {output: largest difference from the expected},
        "glomo_keras_imported": bool}.

    Example:

    ```python
    report = run_fresh_process_check(folder, {"full": (inputs, expected)}, tmp_path)
    ```
    """
    calls = []
    for name, (inputs, _) in batches.items():
        np.savez(tmp_path / f"{name}.npz", **inputs)
        calls.append([str(folder), "serving_default", str(tmp_path / f"{name}.npz")])
    answers, glomo_keras_imported = call_in_fresh_process(calls, tensorflow_text=False)
    report = {"inputs": answers[0]["inputs"], "glomo_keras_imported": glomo_keras_imported,
              "outputs": sorted(set(answers[0]) - {"inputs"})}
    for (name, (_, expected)), answer in zip(batches.items(), answers):
        report[name] = {output: float(np.abs(np.asarray(answer[output]) - expected[output]).max())
                        for output in ("prediction", "global_weights", "local_weights")}
    return report


def test_fresh_tensorflow_process_reproduces_the_keras_outputs(exported, tmp_path):
    model, _, first, _ = exported
    full = tiny_batch(model.config, batch=4, seed=3)
    short = {name: value[:1, :5] for name, value in full.items()}
    batches = {prefix: (inputs, outputs_of(model, inputs))
               for prefix, inputs in (("full", full), ("short", short))}
    report = run_fresh_process_check(first, batches, tmp_path)
    assert report["glomo_keras_imported"] is False
    assert report["inputs"] == sorted(model.input)
    assert report["outputs"] == ["global_weights", "local_weights", "prediction"]
    for prefix in ("full", "short"):
        for name, difference in report[prefix].items():
            assert difference <= 1e-5, (prefix, name, difference)


def test_saved_model_cli_runs_serving_default_without_tensorflow_text(exported, tmp_path):
    model, _, first, _ = exported
    inputs = tiny_batch(model.config, batch=2, seed=4)
    for name, value in inputs.items():
        np.save(tmp_path / f"{name}.npy", value)
    blocker = tmp_path / "no_tf_text" / "tensorflow_text"  # importing it fails
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('TF Text must not load here')\n")
    outputs = tmp_path / "outputs"
    run = subprocess.run(
        ["saved_model_cli", "run", "--dir", str(first), "--tag_set", "serve",
         "--signature_def", "serving_default", "--outdir", str(outputs),
         "--inputs", ";".join(f"{name}={tmp_path / name}.npy" for name in inputs)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
             "PYTHONPATH": f"{blocker.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    expected = outputs_of(model, inputs)
    for name in ("prediction", "global_weights", "local_weights"):
        np.testing.assert_allclose(np.load(outputs / f"{name}.npy"), expected[name], atol=1e-5)


def test_a_mismatched_preprocessor_is_refused_before_writing(exported, tmp_path):
    model, *_ = exported
    with pytest.raises(ValueError, match="'acoustic' has 5 features but the preprocessor gives 9"):
        export_saved_model(model, tiny_preprocessor(model.config, acoustic_dim=9),
                           tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()
    with pytest.raises(ValueError, match="task is 'regression'"):
        export_saved_model(model, tiny_preprocessor(
            model.config, task="classification", class_names=["a", "b"]), tmp_path / "wrong")


def test_a_failed_export_leaves_no_version(exported, tmp_path, monkeypatch):
    model, *_ = exported

    def crash(model, *args):
        path = [arg for arg in args if isinstance(arg, os.PathLike)][-1]  # the SavedModel folder
        os.makedirs(path, exist_ok=True)
        (path / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "write_serving_archive", crash)
    monkeypatch.setattr(export, "_write_in_tensorflow_process", crash)
    base = tmp_path / "tiny"
    (base / "3").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model, tiny_preprocessor(model.config), base)
    assert sorted(p.name for p in base.iterdir()) == ["3"]


def test_export_does_not_depend_on_serving():
    check = ("import sys, glomo_keras.export; "
             "print(sorted(m for m in sys.modules if m.startswith('glomo_keras.serving')))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_end_of_a_run_loads_model_keras_once(exported, tmp_path, monkeypatch):
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer
    from glomo_keras.training.run_export import publish_run

    model, *_ = exported
    run = tmp_path / "run"
    (run / "seed_1").mkdir(parents=True)
    model.save(run / "seed_1" / "model.keras")
    # A run of glomo-keras 0.1: its preprocessing.json holds the settings.
    (run / "preprocessing.json").write_text(json.dumps(legacy_settings(model.config)))
    results = {"selected_seed": 1, "per_seed": {"1": {"test": {"mae": 0.5}}}}
    loads = []
    load_model = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model",
                        lambda *args, **kwargs: loads.append(args[0]) or load_model(*args, **kwargs))

    published = publish_run(run, results)
    assert loads == [run / "seed_1" / "model.keras"]
    assert published == {"preset": str(run / "preset"), "export": str(run / "saved_model" / "1")}
    asset = json.loads((run / "saved_model" / "1" / "assets" / "glomo_preprocessing.json").read_text())
    assert asset["metadata"] == {"run": str(run.resolve()), "seed": 1, "test": {"mae": 0.5},
                                 "precision": "float32"}
    analyzer = GLoMoSentimentAnalyzer.from_preset(published["preset"])
    assert analyzer.metadata["seed"] == 1
    inputs = tiny_batch(model.config, batch=2, seed=5)
    np.testing.assert_allclose(outputs_of(analyzer.model, inputs)["prediction"],
                               outputs_of(model, inputs)["prediction"], atol=1e-6)
    assert publish_run(run, results, export=False) == {"preset": str(run / "preset")}
    assert len(loads) == 2 and not (run / "saved_model" / "2").exists()
