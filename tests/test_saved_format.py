"""`.keras` files of the first format (training fields in the GLoMo config) still load.

`tests/data/glomo_v0_tiny.keras` was saved before the training fields
(batch size, learning rate, epochs, seed, ...) left `GLoMoConfig`: a tiny
MOSI model (`tests.tiny_model.tiny_config("mosi", learning_rate=3e-4,
epochs=2, seed=11)` with a one-layer `tiny_backbone`), and
`glomo_v0_tiny_io.npz` holds three inputs (`input_<name>`) and the outputs it
predicted then (`output_<name>`).
"""

import json
import pathlib
import zipfile

import keras
import numpy as np

import glomo_keras.model  # noqa: F401  (registers GLoMo for load_model)

DATA = pathlib.Path(__file__).parent / "data"


def test_the_committed_file_holds_training_fields():
    with zipfile.ZipFile(DATA / "glomo_v0_tiny.keras") as archive:
        saved = json.loads(archive.read("config.json"))["config"]["config"]
    assert {"batch_size", "learning_rate", "epochs", "seed", "bucketing"} <= set(saved)


def test_a_first_format_file_loads_and_predicts_as_when_saved():
    arrays = np.load(DATA / "glomo_v0_tiny_io.npz")
    inputs = {key[len("input_"):]: arrays[key] for key in arrays.files
              if key.startswith("input_")}
    model = keras.saving.load_model(DATA / "glomo_v0_tiny.keras")
    outputs = model.predict(inputs, verbose=0)
    for key in ("prediction", "global_weights", "local_weights"):
        np.testing.assert_allclose(outputs[key], arrays[f"output_{key}"], rtol=1e-5, atol=1e-6)
    assert model.config.hidden_dim == 8
    # The saved seed (then a config field) seeds the MoE gate noise still.
    assert model.seed == 11
    assert model.get_layer("text_moe").seed == 11
    saved = model.get_config()
    assert saved["seed"] == 11 and "seed" not in saved["config"]
