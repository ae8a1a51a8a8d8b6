"""Tests for `GlobalGuidedFusion` and every Table 4 variant."""

import numpy as np
import pytest
from keras import ops
from layer_test_helper import run_layer_test

from glomo_keras.layers.global_guided_fusion import GlobalGuidedFusion
from glomo_keras.layers.global_guided_fusion import check_fusion_settings

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends

SMALL = dict(hidden_dim=8, output_dim=2, num_heads=2, intermediate_dim=16)


def _tokens(num_tokens=6, batch=4):
    return np.random.default_rng(4).normal(size=(batch, num_tokens, 8)).astype("float32")


VARIANTS = [
    dict(),
    dict(guidance="local_weights"),
    dict(guidance="attention"),
    dict(guidance="mlp"),
    dict(representations="global"),
    dict(representations="local", guidance="local_weights"),
    dict(fusion="sum"),
    dict(fusion="concat"),
    dict(fusion="attention"),
    dict(fusion="product"),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: str(v) or "paper")
def test_standard_layer_checks(tmp_path, variant):
    per_modality = 1 if variant.get("representations") in ("global", "local") else 2
    run_layer_test(
        GlobalGuidedFusion,
        init_kwargs={**SMALL, **variant},
        input_data=_tokens(3 * per_modality),
        expected_output_shape=((4, 2), (4, 3), (4, 3)),
        tmp_path=tmp_path,
    )


def test_paper_fusion_matches_formula():
    """ŷ = Dense([Z1; Z2]) with Z2 = Σ W_g,m Z_m, recomputed from sublayers."""
    layer = GlobalGuidedFusion(**SMALL)
    x = _tokens()
    prediction, w_g, w_l = (ops.convert_to_numpy(t) for t in layer(x))
    z = x
    for transformer in layer.transformer_layers:
        z = transformer(z)
    z = ops.convert_to_numpy(z).reshape(4, 3, 2, 8)
    z_m = np.stack(
        [ops.convert_to_numpy(d(z[:, m].reshape(4, 16))) for m, d in enumerate(layer.modality_denses)],
        1,
    )
    pooled_g, weights_g = layer.representation_poolings["global"](z[:, :, 0])
    pooled_l, weights_l = layer.representation_poolings["local"](z[:, :, 1])
    np.testing.assert_allclose(w_g, ops.convert_to_numpy(weights_g), atol=1e-5)
    np.testing.assert_allclose(w_l, ops.convert_to_numpy(weights_l), atol=1e-5)
    z1 = layer.combine_dense(ops.concatenate([pooled_g, pooled_l], -1))
    z2 = (z_m * w_g[..., None]).sum(1)
    expected = layer.output_dense(ops.concatenate([z1, z2], -1))
    np.testing.assert_allclose(prediction, ops.convert_to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(w_g.sum(-1), 1.0, atol=1e-6)


def test_missing_representation_reports_zero_weights():
    layer = GlobalGuidedFusion(**SMALL, representations="global")
    _, w_g, w_l = (ops.convert_to_numpy(t) for t in layer(_tokens(3)))
    np.testing.assert_allclose(w_g.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(w_l, 0.0)


def test_unweighted_fusions_report_equal_weights():
    layer = GlobalGuidedFusion(**SMALL, fusion="sum")
    _, w_g, w_l = (ops.convert_to_numpy(t) for t in layer(_tokens()))
    np.testing.assert_allclose(w_g, 1 / 3)
    np.testing.assert_allclose(w_l, 1 / 3)


@pytest.mark.parametrize(
    "settings, message",
    [
        (("both", "mean", "global_weights"), "fusion='mean'"),
        (("all", "global_guided", "global_weights"), "representations='all'"),
        (("both", "global_guided", "softmax"), "guidance='softmax'"),
        (("local", "global_guided", "global_weights"), "leaves out"),
        (("global", "global_guided", "local_weights"), "leaves out"),
    ],
)
def test_impossible_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        check_fusion_settings(*settings)
    with pytest.raises(ValueError, match=message):
        GlobalGuidedFusion(**SMALL, representations=settings[0],
                           fusion=settings[1], guidance=settings[2])
