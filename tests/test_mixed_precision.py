"""Mixed precision: a bfloat16 model trains and exports; bfloat16 SavedModels keep float32 signatures."""

import contextlib
import io
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from shared_artifacts import tiny_export
from test_export import METADATA
from test_export import tiny_preprocessor
from tiny_model import tiny_backbone, tiny_batch, tiny_config, tiny_labels

from glomo_keras import GLoMo
from glomo_keras.cli import main
from glomo_keras.export import export_policy, export_saved_model, precision_copy
from glomo_keras.training.devices import EXPORT_PRECISIONS


@pytest.fixture
def bfloat16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


def serve(path, inputs):
    """The SavedModel's serving_default outputs as numpy arrays."""
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    assert {tensor.dtype for tensor in outputs.values()} == {tf.float32}
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def asset_metadata(path):
    return json.loads((path / "assets" / "glomo_preprocessing.json").read_text())["metadata"]


@pytest.mark.slow
def test_a_bfloat16_model_exports_a_float32_signature(bfloat16_policy, tmp_path):
    config = tiny_config("mosei")
    model = GLoMo(config, tiny_backbone())
    model.compile()
    inputs = tiny_batch(config)
    loss = model.train_on_batch(inputs, {"prediction": tiny_labels(config, inputs)})
    assert np.isfinite(loss)
    assert model.get_layer("global_guided_fusion").compute_dtype == "bfloat16"

    copy = precision_copy(model)
    assert all(layer.compute_dtype == "float32" for layer in copy._flatten_layers())
    assert precision_copy(copy) is copy
    mixed = keras.ops.convert_to_numpy(model(inputs)["prediction"]).astype("float32")
    full = keras.ops.convert_to_numpy(copy(inputs)["prediction"])
    np.testing.assert_allclose(full, mixed, atol=0.1)  # bfloat16 rounding only

    path = export_saved_model(model, tiny_preprocessor(config), tmp_path / "saved")
    np.testing.assert_allclose(serve(path, inputs)["prediction"], full, atol=1e-5)
    assert asset_metadata(path) == {"precision": "float32"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A float32 tiny model exported in float32 (the shared export), and its run
    exported again by `glomo-keras export --precision auto` where the CPU has
    bfloat16 (`GLOMO_CPU_BF16=1`): in mixed_bfloat16.

    Returns:
        (model, {precision: version folder}, run folder, the command's stdout).
    """
    model, preprocessor, base = tiny_export(tmp_path_factory, "mosi", name="tiny")
    folder = tmp_path_factory.mktemp("precision_run")
    run = folder / "run"
    (run / "seed_1").mkdir(parents=True)
    model.save(run / "seed_1" / "model.keras")
    (run / "preprocessing.json").write_text(json.dumps(keras.saving.serialize_keras_object(
        tiny_preprocessor(model.config))))
    (run / "results.json").write_text(json.dumps(
        {"selected_seed": 1, "per_seed": {"1": {"test": {"mae": 0.5}}},
         "export": str(folder / "exported_before")}))
    (folder / "exported_before").mkdir()
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setenv("GLOMO_CPU_BF16", "1")
        # An exported run is exported again when another precision is asked for.
        assert main(["export", "--run", str(run), "--precision", "auto"]) == 0
    paths = {"float32": base / "1", "mixed_bfloat16": run / "saved_model" / "1"}
    return model, paths, run, stdout.getvalue()


@pytest.mark.slow
def test_a_bfloat16_export_answers_within_1e_2_of_the_float32_export(exports):
    model, paths, run, _ = exports
    assert asset_metadata(paths["float32"]) == {**METADATA, "precision": "float32"}
    assert asset_metadata(paths["mixed_bfloat16"]) == {
        "run": str(run.resolve()), "seed": 1, "test": {"mae": 0.5},
        "precision": "mixed_bfloat16"}
    # The "test split": 64 utterances of varied lengths.
    inputs = tiny_batch(model.config, batch=64, seed=11)
    full, mixed = serve(paths["float32"], inputs), serve(paths["mixed_bfloat16"], inputs)
    for name in ("prediction", "global_weights", "local_weights"):
        # 1e-2, plus bfloat16's relative step (8 significant bits: 0.016
        # between 2 and 4) for predictions on the sentiment scale.
        np.testing.assert_allclose(mixed[name], full[name], atol=1e-2, rtol=1e-2)
        assert np.abs(mixed[name] - full[name]).mean() < 1e-2
    # bfloat16 really computes inside: the answers differ by its rounding.
    assert np.abs(mixed["prediction"] - full["prediction"]).max() > 0
    analyze = tf.saved_model.load(str(paths["mixed_bfloat16"] / "analyze"))
    assert "analyze" in analyze.signatures


def test_export_precision_auto_follows_the_cpu_rule(monkeypatch):
    monkeypatch.setenv("GLOMO_CPU_BF16", "1")
    assert export_policy("auto") == "mixed_bfloat16"
    monkeypatch.setenv("GLOMO_CPU_BF16", "0")
    assert export_policy("auto") == "float32"
    assert export_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert EXPORT_PRECISIONS == ("auto", "float32", "mixed_bfloat16")
    with pytest.raises(ValueError, match="export precision 'mixed_float16'; expected one of"):
        export_policy("mixed_float16")


@pytest.mark.slow
def test_export_command_precision_auto(exports):
    _, paths, run, stdout = exports
    assert f"SavedModel: {run / 'saved_model' / '1'}" in stdout
    assert asset_metadata(paths["mixed_bfloat16"])["precision"] == "mixed_bfloat16"
