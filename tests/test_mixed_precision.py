"""Mixed precision: a bfloat16 model trains with a finite loss and exports float32."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_export import tiny_preprocessor
from tiny_model import tiny_backbone, tiny_batch, tiny_config, tiny_labels

from glomo_keras import GLoMo
from glomo_keras.export import export_saved_model, float32_copy


@pytest.fixture
def bfloat16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.slow
def test_a_bfloat16_model_exports_a_float32_signature(bfloat16_policy, tmp_path):
    config = tiny_config("mosei")
    model = GLoMo(config, tiny_backbone())
    model.compile()
    inputs = tiny_batch(config)
    loss = model.train_on_batch(inputs, {"prediction": tiny_labels(config, inputs)})
    assert np.isfinite(loss)
    assert model.get_layer("global_guided_fusion").compute_dtype == "bfloat16"

    copy = float32_copy(model)
    assert all(layer.compute_dtype == "float32" for layer in copy._flatten_layers())
    assert float32_copy(copy) is copy
    mixed = keras.ops.convert_to_numpy(model(inputs)["prediction"]).astype("float32")
    full = keras.ops.convert_to_numpy(copy(inputs)["prediction"])
    np.testing.assert_allclose(full, mixed, atol=0.1)  # bfloat16 rounding only

    path = export_saved_model(model, tiny_preprocessor(config), tmp_path / "saved")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    assert {tensor.dtype for tensor in outputs.values()} == {tf.float32}
    np.testing.assert_allclose(outputs["prediction"].numpy(), full, atol=1e-5)
