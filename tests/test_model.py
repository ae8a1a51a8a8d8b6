"""Tests for the `GLoMo` functional model."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_test_helper import RUN_EAGERLY
from tiny_model import tiny_backbone
from tiny_model import tiny_batch
from tiny_model import tiny_config
from tiny_model import tiny_labels

from glomo_keras import GLoMo
from glomo_keras import GLoMoConfig
from glomo_keras.optimization import make_optimizer
from glomo_keras.summary import parameter_counts
from glomo_keras.training import TrainingOptions

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends


def _numpy(outputs):
    return {key: ops.convert_to_numpy(value) for key, value in outputs.items()}


@pytest.fixture(scope="module")
def default_model():
    """The tiny default GLoMo, shared by the tests that never train it."""
    return GLoMo(tiny_config(), tiny_backbone())


def test_named_inputs_and_outputs(default_model):
    config = default_model.config
    assert set(default_model.input) == {
        "token_ids", "padding_mask", "segment_ids",
        "acoustic", "acoustic_mask", "visual", "visual_mask",
    }
    outputs = _numpy(default_model(tiny_batch(config)))
    assert outputs["prediction"].shape == (4, 1)
    for key in ("global_weights", "local_weights"):
        assert outputs[key].shape == (4, 3)
        np.testing.assert_allclose(outputs[key].sum(-1), 1.0, atol=1e-5)


def test_moe_losses_only_in_training(default_model):
    batch = tiny_batch(default_model.config)
    default_model(batch, training=False)
    assert default_model.losses == []
    default_model(batch, training=True)
    assert len(default_model.losses) == 3


@pytest.mark.parametrize("dataset", ["mosi"])
def test_compiled_steps_train_and_keras_save_and_load_keep_the_model(dataset, tmp_path):
    config = tiny_config(dataset, length_aware=True)
    model = GLoMo(config, tiny_backbone())
    # The package's AdamW (as `compile()` makes it), with a learning rate at
    # which twenty steps of this tiny model show the loss dropping.
    model.compile(optimizer=make_optimizer(
        TrainingOptions.for_dataset(dataset, learning_rate=3e-3)))
    # `compile` builds the optimizer, so the step is traced (or compiled)
    # once: built inside the step, its variables made TensorFlow trace it
    # twice. PyTorch runs the step eagerly, once per step.
    assert model.optimizer.built
    traces, train_step = [], model.train_step
    model.train_step = lambda *args: traces.append(1) or train_step(*args)
    batch = tiny_batch(config, batch=16, seed=1)
    labels = tiny_labels(config, batch)
    before = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    # Compiled steps, as `fit` runs by default (twenty eager steps cost more on
    # JAX: 50 s against 31). On JAX's unoptimised XLA (the JAX pass of
    # scripts/test.sh) this length-aware model's compiled steps got NaN
    # gradients while the max pooling's gradient compared recomputed values.
    history = model.fit(batch, labels, epochs=20, batch_size=16, verbose=0)
    assert len(traces) == (20 if keras.backend.backend() == "torch" else 1)
    after = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after))
    assert changed > 0.9 * len(before)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.6 * losses[0], losses
    # The trained model saves and loads with identical outputs, its
    # optimizer included, and the loaded model trains on.
    path = tmp_path / "glomo.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, GLoMo) and loaded.config == config
    expected, actual = model.predict(batch, verbose=0), loaded.predict(batch, verbose=0)
    for key in expected:
        np.testing.assert_array_equal(expected[key], actual[key])
    assert loaded.optimizer is not None
    loaded.fit(batch, labels, epochs=1, batch_size=16, verbose=0)


ABLATIONS = [
    dict(modalities=("t",)),
    dict(modalities=("a", "v")),
    dict(modalities=("t", "v")),
    dict(local_mixer="mlp"),
    dict(representations="global"),
    dict(representations="local", guidance="local_weights"),
    dict(fusion="concat"),
    dict(fusion="attention"),
    dict(guidance="mlp"),
    dict(moe_combine="log_space", moe_load_cdf_mean=0.1),
    dict(noisy_gating=False),
]


@pytest.mark.parametrize("overrides", ABLATIONS, ids=str)
def test_table_4_ablations_build_and_train(overrides):
    config = tiny_config(**overrides)
    model = GLoMo(config, tiny_backbone())
    model.compile(run_eagerly=RUN_EAGERLY)
    batch = tiny_batch(config)
    assert set(model.input) == set(batch)
    history = model.fit(batch, np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    outputs = _numpy(model(batch))
    dropped = [i for i, m in enumerate("tav") if m not in config.modalities]
    for key in ("global_weights", "local_weights"):
        np.testing.assert_array_equal(outputs[key][:, dropped], 0.0)
    uses_moe = config.local_mixer == "moe" and config.representations != "global"
    assert any("moe" in layer.name for layer in model.layers) == uses_moe


def test_feature_text_branch_needs_no_backbone():
    config = tiny_config("cherma")
    model = GLoMo(config)
    batch = tiny_batch(config)
    assert "text_features" in model.input and "token_ids" not in model.input
    assert _numpy(model(batch))["prediction"].shape == (4, 7)
    assert parameter_counts(model)["backbone_params"] == 0


def test_bert_text_branch_requires_a_backbone():
    with pytest.raises(ValueError, match="needs a backbone"):
        GLoMo(tiny_config())


def test_classification_compiles_with_cross_entropy():
    config = tiny_config("mustard")
    model = GLoMo(config, tiny_backbone())
    model.compile(run_eagerly=RUN_EAGERLY)
    batch = tiny_batch(config)
    labels = tiny_labels(config, batch)
    loss = model.evaluate(batch, labels, verbose=0)
    probabilities = ops.softmax(model(batch)["prediction"])
    expected = -np.mean(np.log(ops.convert_to_numpy(probabilities)[np.arange(4), labels]))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_regression_loss_is_mean_absolute_error_on_prediction_only(default_model):
    config, model = default_model.config, default_model
    model.compile(run_eagerly=RUN_EAGERLY)
    batch = tiny_batch(config)
    labels = tiny_labels(config, batch)
    loss = model.evaluate(batch, labels, verbose=0)
    prediction = model.predict(batch, verbose=0)["prediction"]
    assert loss == pytest.approx(np.abs(prediction - labels).mean(), rel=1e-4)


@pytest.mark.parametrize(
    "dataset, glomo_params", [("mosi", 927_239), ("mosei", 7_057_799)]
)
def test_parameter_figures_outside_bert(dataset, glomo_params):
    # The GLoMo part depends on the backbone's width (768) only.
    config = GLoMoConfig.for_dataset(dataset)
    model = GLoMo(config, tiny_backbone(hidden_dim=768, num_layers=1))
    assert parameter_counts(model)["glomo_params"] == glomo_params


def test_no_two_random_weights_start_equal():
    # A shared initializer instance draws the same numbers for every weight
    # of a size; each sublayer must draw its own (spec: independent inits).
    config = tiny_config(compatibility="released")
    model = GLoMo(config, tiny_backbone())
    random_weights = {}
    for weight in model.weights:
        values = ops.convert_to_numpy(weight)
        if np.unique(values).size > 2:  # skip zeros/ones/constant inits
            random_weights[weight.path] = np.sort(np.abs(values).ravel())
    assert len(random_weights) > 40
    seen = {}
    for path, values in random_weights.items():
        key = (values.size, round(float(values.sum()), 6))
        assert key not in seen, (path, seen.get(key))
        seen[key] = path


def test_per_modality_experts_and_windows_build_save_and_reload(tmp_path):
    config = tiny_config(num_experts={"t": 1, "a": 2, "v": 4}, top_k={"t": 1, "a": 2, "v": 2},
                         num_windows={"t": 2, "a": 3, "v": 5})
    model = GLoMo(config, tiny_backbone())
    for name, experts, top_k, windows in (("text", 1, 1, 2), ("acoustic", 2, 2, 3),
                                          ("visual", 4, 2, 5)):
        moe = model.get_layer(f"{name}_moe")
        assert (moe.num_experts, moe.top_k) == (experts, top_k)
        assert moe.gate_kernel.shape == (windows * config.hidden_dim, experts)
    batch = tiny_batch(config)
    path = tmp_path / "per_modality.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.config == config and loaded.config.num_experts == (1, 2, 4)
    np.testing.assert_array_equal(model.predict(batch, verbose=0)["prediction"],
                                  loaded.predict(batch, verbose=0)["prediction"])


@pytest.mark.parametrize("overrides", [dict(), dict(fusion="concat"), dict(local_mixer="mlp"),
                                       dict(representations="global"),
                                       dict(modalities=("a", "v"), num_experts=(3, 2, 4))],
                         ids=str)
def test_analysis_outputs_are_the_representations_behind_the_prediction(overrides):
    config = tiny_config(**overrides)
    model = GLoMo(config, tiny_backbone())
    batch = tiny_batch(config)
    found = model.analyze(batch)
    expected = model.predict(batch, verbose=0)
    for key in ("prediction", "global_weights", "local_weights"):
        np.testing.assert_allclose(found[key], expected[key], atol=1e-6)
    # The prediction is the output layer applied to `fused`.
    head = model.get_layer("global_guided_fusion").output_dense
    np.testing.assert_allclose(_numpy({"p": head(found["fused"])})["p"], found["prediction"],
                               atol=1e-5)
    width = {"global_guided": 2, "concat": len(config.modalities)}.get(config.fusion, 1)
    assert found["fused"].shape == (4, width * config.hidden_dim)
    kinds = {"both": "GL", "global": "G", "local": "L"}[config.representations]
    unimodal = {f"{kind}_{m}" for kind in kinds for m in config.modalities}
    assert unimodal <= set(found) and not {k for k in found if k[:2] in ("G_", "L_")} - unimodal
    for m in config.modalities:
        vector = found.get(f"G_{m}")
        assert vector is None or vector.shape == (4, config.hidden_dim)
    gated = config.local_mixer == "moe" and config.representations != "global"
    for m in config.modalities:
        assert (f"gates_{m}" in found) == gated
        if gated:
            gates = found[f"gates_{m}"]
            assert gates.shape == (4, config.per_modality("num_experts")[m])
            np.testing.assert_allclose(gates.sum(-1), 1.0, atol=1e-5)
            assert np.all((gates > 0).sum(-1) == config.per_modality("top_k")[m])


def test_inputs_of_left_out_modalities_are_ignored():
    full = tiny_config()
    model = GLoMo(tiny_config(modalities=("a", "v")))
    batch = tiny_batch(full)  # text inputs too, as a dataset of every modality gives
    only_needed = {k: v for k, v in batch.items() if k.startswith(("acoustic", "visual"))}
    np.testing.assert_array_equal(_numpy(model(batch))["prediction"],
                                  _numpy(model(only_needed))["prediction"])
    model.compile(run_eagerly=RUN_EAGERLY)
    history = model.fit(batch, tiny_labels(full, batch), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
