"""Tests for `NoisyTopKMoE` against a numpy reference of the spec's §2."""

import math

import keras
import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.noisy_top_k_moe import NoisyTopKMoE

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends

INPUT_DIM = 6
HIDDEN_DIM = 4
OUTPUT_DIM = 5
BATCH = 8


def make_layer(rng, num_experts=3, top_k=2, noise_scale=0.0, **kwargs):
    """A built layer with random gate (and, optionally, noise) kernels."""
    layer = NoisyTopKMoE(
        num_experts, top_k, HIDDEN_DIM, OUTPUT_DIM, **kwargs
    )
    layer.build((None, INPUT_DIM))
    shape = (INPUT_DIM, num_experts)
    layer.gate_kernel.assign(rng.normal(size=shape).astype("float32"))
    layer.noise_kernel.assign(
        noise_scale * rng.normal(size=shape).astype("float32")
    )
    return layer


def numpy_experts(layer, x):
    """[B, s, output_dim] outputs of every expert."""
    params = {
        "/".join(w.path.split("/")[-2:]): ops.convert_to_numpy(w)
        for w in layer.weights
    }
    outputs = []
    for i in range(layer.num_experts):
        hidden = x @ params[f"expert_{i}_hidden/kernel"]
        hidden = np.maximum(hidden + params[f"expert_{i}_hidden/bias"], 0.0)
        output = hidden @ params[f"expert_{i}_output/kernel"]
        outputs.append(output + params[f"expert_{i}_output/bias"])
    return np.stack(outputs, axis=1)


def numpy_top_k_gates(logits, top_k):
    gates = np.zeros_like(logits)
    for b, row in enumerate(logits):
        top = np.argsort(-row, kind="stable")[:top_k]
        weights = np.exp(row[top] - row[top].max())
        gates[b, top] = weights / weights.sum()
    return gates


def numpy_cv_squared(values):
    if len(values) == 1:
        return 0.0
    return np.var(values, ddof=1) / (np.mean(values) ** 2 + 1e-10)


def numpy_normal_cdf(x, mean):
    erf = np.vectorize(math.erf)
    return 0.5 * (1.0 + erf((x - mean) / math.sqrt(2.0)))


def numpy_smooth_load(clean, noisy, stddev, top_k, cdf_mean):
    top = -np.sort(-noisy, axis=1)
    threshold_if_in = top[:, top_k : top_k + 1]
    threshold_if_out = top[:, top_k - 1 : top_k]
    prob = np.where(
        noisy > threshold_if_in,
        numpy_normal_cdf((clean - threshold_if_in) / stddev, cdf_mean),
        numpy_normal_cdf((clean - threshold_if_out) / stddev, cdf_mean),
    )
    return prob.sum(axis=0)


def numpy_noisy_logits(layer, x, seed):
    """The training logits, with the noise the layer's first call draws."""
    clean = x @ ops.convert_to_numpy(layer.gate_kernel)
    stddev = (
        np.logaddexp(0.0, x @ ops.convert_to_numpy(layer.noise_kernel))
        + layer.noise_epsilon
    )
    noise = keras.random.normal(
        clean.shape, dtype="float32", seed=keras.random.SeedGenerator(seed)
    )
    return clean, clean + ops.convert_to_numpy(noise) * stddev, stddev


def random_inputs(rng, batch=BATCH):
    return rng.normal(size=(batch, INPUT_DIM)).astype("float32")


@pytest.mark.parametrize(
    "num_experts,top_k", [(3, 2), (4, 1), (3, 3), (1, 1)]
)
def test_inference_gates_and_output_match_numpy(num_experts, top_k):
    rng = np.random.default_rng(0)
    layer = make_layer(rng, num_experts, top_k, noise_scale=1.0)
    x = random_inputs(rng)
    outputs, gates = layer(x, training=False, return_gates=True)
    gates = ops.convert_to_numpy(gates)

    assert np.all(np.count_nonzero(gates, axis=1) == top_k)
    np.testing.assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-6)
    clean = x @ ops.convert_to_numpy(layer.gate_kernel)
    np.testing.assert_allclose(
        gates, numpy_top_k_gates(clean, top_k), rtol=1e-5, atol=1e-6
    )
    expected = np.einsum("bs,bso->bo", gates, numpy_experts(layer, x))
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), expected, rtol=1e-5, atol=1e-5
    )
    assert layer.losses == []


def test_no_aux_loss_at_inference():
    rng = np.random.default_rng(1)
    layer = make_layer(rng, noise_scale=1.0)
    x = random_inputs(rng)
    layer(x, training=True)
    assert len(layer.losses) == 1
    layer(x, training=False)
    assert layer.losses == []
    layer(x)
    assert layer.losses == []


@pytest.mark.parametrize(
    "num_experts,top_k,noisy_gating",
    [(3, 2, False), (4, 1, False), (3, 3, True), (3, 3, False), (1, 1, True)],
)
def test_aux_loss_with_count_load(num_experts, top_k, noisy_gating):
    rng = np.random.default_rng(2)
    layer = make_layer(
        rng, num_experts, top_k, noise_scale=1.0, noisy_gating=noisy_gating
    )
    x = random_inputs(rng)
    _, gates = layer(x, training=True, return_gates=True)
    gates = ops.convert_to_numpy(gates)
    if not noisy_gating:
        clean = x @ ops.convert_to_numpy(layer.gate_kernel)
        np.testing.assert_allclose(
            gates, numpy_top_k_gates(clean, top_k), rtol=1e-5, atol=1e-6
        )
    load = (gates > 0).sum(axis=0).astype("float32")
    expected = 1e-2 * (
        numpy_cv_squared(gates.sum(axis=0)) + numpy_cv_squared(load)
    )
    (loss,) = layer.losses
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss), expected, rtol=1e-5, atol=1e-9
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.auxiliary_loss(gates, load)),
        expected,
        rtol=1e-5,
        atol=1e-9,
    )


@pytest.mark.parametrize("load_cdf_mean", [0.0, 0.1])
@pytest.mark.parametrize("num_experts,top_k", [(3, 2), (4, 1), (5, 3)])
def test_aux_loss_with_smooth_load(num_experts, top_k, load_cdf_mean):
    rng = np.random.default_rng(3)
    layer = make_layer(
        rng,
        num_experts,
        top_k,
        noise_scale=0.5,
        loss_weight=0.5,
        load_cdf_mean=load_cdf_mean,
        seed=7,
    )
    x = random_inputs(rng)
    clean, noisy, stddev = numpy_noisy_logits(layer, x, seed=7)
    _, gates = layer(x, training=True, return_gates=True)
    gates = ops.convert_to_numpy(gates)
    np.testing.assert_allclose(
        gates, numpy_top_k_gates(noisy, top_k), rtol=1e-5, atol=1e-6
    )
    load = numpy_smooth_load(clean, noisy, stddev, top_k, load_cdf_mean)
    expected = 0.5 * (
        numpy_cv_squared(gates.sum(axis=0)) + numpy_cv_squared(load)
    )
    (loss,) = layer.losses
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss), expected, rtol=1e-4, atol=1e-7
    )


def test_load_cdf_mean_changes_the_loss():
    losses = {}
    for load_cdf_mean in [0.0, 0.1]:
        rng = np.random.default_rng(4)
        layer = make_layer(
            rng, noise_scale=0.5, load_cdf_mean=load_cdf_mean, seed=11
        )
        x = random_inputs(rng)
        outputs = layer(x, training=True)
        losses[load_cdf_mean] = float(ops.convert_to_numpy(layer.losses[0]))
        clean, noisy, stddev = numpy_noisy_logits(layer, x, seed=11)
        load = numpy_smooth_load(clean, noisy, stddev, 2, load_cdf_mean)
        gates = numpy_top_k_gates(noisy, 2)
        expected = 1e-2 * (
            numpy_cv_squared(gates.sum(axis=0)) + numpy_cv_squared(load)
        )
        np.testing.assert_allclose(losses[load_cdf_mean], expected, rtol=1e-4)
        assert outputs.shape == (BATCH, OUTPUT_DIM)
    assert not np.isclose(losses[0.0], losses[0.1], rtol=1e-4)


def test_gate_noise_only_in_training():
    rng = np.random.default_rng(5)
    layer = make_layer(rng, noise_scale=2.0, seed=3)
    x = random_inputs(rng)
    clean = numpy_top_k_gates(x @ ops.convert_to_numpy(layer.gate_kernel), 2)

    first = layer(x, training=False, return_gates=True)
    second = layer(x, training=False, return_gates=True)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(a), ops.convert_to_numpy(b)
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(first[1]), clean, rtol=1e-5, atol=1e-6
    )

    _, noisy_gates = layer(x, training=True, return_gates=True)
    assert not np.allclose(ops.convert_to_numpy(noisy_gates), clean)


def test_training_without_noisy_gating_uses_clean_gates():
    rng = np.random.default_rng(6)
    layer = make_layer(rng, noise_scale=2.0, noisy_gating=False)
    x = random_inputs(rng)
    clean = numpy_top_k_gates(x @ ops.convert_to_numpy(layer.gate_kernel), 2)
    _, gates = layer(x, training=True, return_gates=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(gates), clean, rtol=1e-5, atol=1e-6
    )


def test_noise_is_reproducible_under_a_seed():
    rng = np.random.default_rng(7)
    first = make_layer(rng, noise_scale=1.0, seed=42)
    second = NoisyTopKMoE(3, 2, HIDDEN_DIM, OUTPUT_DIM, seed=42)
    second.build((None, INPUT_DIM))
    second.set_weights(first.get_weights())
    x = random_inputs(rng)
    for _ in range(2):
        a = first(x, training=True, return_gates=True)
        b = second(x, training=True, return_gates=True)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(
                ops.convert_to_numpy(u), ops.convert_to_numpy(v)
            )
    # Successive calls draw fresh noise.
    _, gates_1 = first(x, training=True, return_gates=True)
    _, gates_2 = first(x, training=True, return_gates=True)
    assert not np.array_equal(
        ops.convert_to_numpy(gates_1), ops.convert_to_numpy(gates_2)
    )


def test_log_space_combine_matches_numpy():
    rng = np.random.default_rng(8)
    layer = make_layer(rng, combine="log_space")
    x = random_inputs(rng)
    outputs, gates = layer(x, return_gates=True)
    gates = ops.convert_to_numpy(gates)
    combined = np.einsum("bs,bso->bo", gates, np.exp(numpy_experts(layer, x)))
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), np.log(combined), rtol=1e-5, atol=1e-5
    )


def _numpy_log_space(gates, experts):
    """log(sum over the selected experts of G_i exp(E_i)), computed stably."""
    selected = gates[:, :, None] > 0
    peak = np.where(selected, experts, -np.inf).max(axis=1, keepdims=True)
    total = np.where(selected, gates[:, :, None] * np.exp(np.where(selected, experts - peak, 0.0)), 0.0)
    return peak[:, 0] + np.log(total.sum(axis=1))


@pytest.mark.parametrize("bias", [-1000.0, 1000.0])
def test_log_space_is_exact_for_extreme_expert_outputs(bias):
    # Naively, exp(-1000) underflows to 0 and exp(1000) overflows to inf.
    rng = np.random.default_rng(9)
    layer = make_layer(rng, combine="log_space")
    for i in range(layer.num_experts):
        layer._expert_output_layers[i].bias.assign(np.full((OUTPUT_DIM,), bias, "float32"))
    x = random_inputs(rng)
    outputs, gates = layer(x, return_gates=True)
    expected = _numpy_log_space(ops.convert_to_numpy(gates).astype("float64"),
                                numpy_experts(layer, x).astype("float64"))
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected, rtol=1e-6)


def _routed_layer(combine, policy, selected_bias, unselected_bias):
    """A layer whose gates always keep experts 0 and 1 and drop expert 2."""
    layer = NoisyTopKMoE(3, 2, HIDDEN_DIM, OUTPUT_DIM, combine=combine, seed=3, dtype=policy)
    layer.build((None, INPUT_DIM))
    layer.gate_kernel.assign(np.tile([[10.0, 10.0, -10.0]], (INPUT_DIM, 1)).astype("float32"))
    for i, bias in enumerate([selected_bias, selected_bias, unselected_bias]):
        layer._expert_output_layers[i].bias.assign(np.full((OUTPUT_DIM,), bias, "float32"))
    return layer


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("selected_bias,unselected_bias", [(0.0, 1e4), (1e4, 1e4), (-1e4, 1e4), (0.0, -1e4)])
def test_log_space_outputs_and_gradients_stay_finite(policy, selected_bias, unselected_bias):
    layer = _routed_layer("log_space", policy, selected_bias, unselected_bias)
    x = np.abs(random_inputs(np.random.default_rng(11))) + 0.1
    outputs, gates = layer(x, training=True, return_gates=True)
    gates = ops.convert_to_numpy(gates)
    assert (gates[:, 2] == 0).all() and (gates[:, :2] > 0).all()
    outputs = ops.convert_to_numpy(ops.cast(outputs, "float32"))
    assert np.isfinite(outputs).all()
    np.testing.assert_allclose(outputs, selected_bias, rtol=1e-2, atol=5.0)
    # One SGD step: any non-finite gradient would leave a non-finite weight.
    inputs = keras.Input((INPUT_DIM,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mae")
    loss = model.train_on_batch(x, np.zeros((len(x), OUTPUT_DIM), "float32"))
    assert np.isfinite(loss)
    for weight in layer.weights:
        assert np.isfinite(ops.convert_to_numpy(ops.cast(weight, "float32"))).all(), weight.path


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("combine", ["sum", "log_space"])
def test_mixed_precision(policy, combine):
    rng = np.random.default_rng(10)
    reference = make_layer(rng, noise_scale=1.0, combine=combine, seed=1)
    layer = NoisyTopKMoE(
        3, 2, HIDDEN_DIM, OUTPUT_DIM, combine=combine, seed=1, dtype=policy
    )
    layer.build((None, INPUT_DIM))
    layer.set_weights(reference.get_weights())
    x = random_inputs(rng)
    outputs, gates = layer(x, training=False, return_gates=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == layer.compute_dtype
    assert keras.backend.standardize_dtype(gates.dtype) == "float32"
    expected, expected_gates = reference(x, training=False, return_gates=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(gates),
        ops.convert_to_numpy(expected_gates),
        atol=2e-2,  # the inputs are rounded to the compute dtype first
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(outputs, "float32")),
        ops.convert_to_numpy(expected),
        rtol=5e-2,
        atol=5e-2,
    )
    layer(x, training=True)
    (loss,) = layer.losses
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    assert np.isfinite(ops.convert_to_numpy(loss))


def test_weights_names_shapes_and_zero_init():
    layer = NoisyTopKMoE(3, 2, HIDDEN_DIM, OUTPUT_DIM)
    layer.build((None, INPUT_DIM))
    for kernel, name in [
        (layer.gate_kernel, "gate_kernel"),
        (layer.noise_kernel, "noise_kernel"),
    ]:
        assert kernel.name == name
        assert tuple(kernel.shape) == (INPUT_DIM, 3)
        np.testing.assert_array_equal(ops.convert_to_numpy(kernel), 0.0)
    per_expert = (
        INPUT_DIM * HIDDEN_DIM + HIDDEN_DIM + HIDDEN_DIM * OUTPUT_DIM
        + OUTPUT_DIM
    )
    assert layer.count_params() == 2 * INPUT_DIM * 3 + 3 * per_expert
    names = sorted({w.path.split("/")[-2] for w in layer.weights[2:]})
    assert names == [
        f"expert_{i}_{part}" for i in range(3) for part in ["hidden", "output"]
    ]


def test_zero_gate_kernel_gives_uniform_top_k_gates():
    layer = NoisyTopKMoE(4, 2, HIDDEN_DIM, OUTPUT_DIM)
    gates = ops.convert_to_numpy(
        layer(random_inputs(np.random.default_rng(11)), return_gates=True)[1]
    )
    assert np.all(np.count_nonzero(gates, axis=1) == 2)
    np.testing.assert_allclose(gates[gates > 0], 0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top_k": 0},
        {"top_k": 4},
        {"num_experts": 0, "top_k": 1},
        {"hidden_dim": 0},
        {"output_dim": -1},
        {"combine": "max"},
        {"loss_weight": -1.0},
        {"noise_epsilon": -0.1},
    ],
)
def test_bad_arguments(kwargs):
    args = {
        "num_experts": 3,
        "top_k": 2,
        "hidden_dim": HIDDEN_DIM,
        "output_dim": OUTPUT_DIM,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        NoisyTopKMoE(**args)


@pytest.mark.parametrize("return_gates", [False, True])
def test_run_layer_test(return_gates, tmp_path):
    batch = 4
    expected_shape = (batch, OUTPUT_DIM)
    if return_gates:
        expected_shape = (expected_shape, (batch, 3))
    run_layer_test(
        NoisyTopKMoE,
        init_kwargs={
            "num_experts": 3,
            "top_k": 2,
            "hidden_dim": HIDDEN_DIM,
            "output_dim": OUTPUT_DIM,
            "combine": "log_space" if return_gates else "sum",
            "load_cdf_mean": 0.1,
            "seed": 5576,
        },
        input_data=np.random.rand(batch, INPUT_DIM).astype("float32"),
        call_options={"return_gates": return_gates},
        expected_output_shape=expected_shape,
        tmp_path=tmp_path,
    )
