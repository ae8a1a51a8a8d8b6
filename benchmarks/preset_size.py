"""The size of a preset's weights with and without the optimizer state.

A run's model is compiled and trained, so its `save_weights` file carries
AdamW's two moments beside the weights; presets and SavedModels are written
from the model loaded with `compile=False` (weights only). This builds the
sample configuration's GLoMo on the `minilm` backbone, trains one step,
and saves the weights both ways.

Run:

    python benchmarks/preset_size.py

Writes `benchmarks/results/preset_size.json` and prints the two sizes.
"""

import json
import os
import pathlib
import tempfile

import keras
import numpy as np

from glomo_keras import GLoMo
from glomo_keras import GLoMoConfig
from glomo_keras import TrainingOptions
from glomo_keras.backbones import load_backbone
from glomo_keras.optimization import make_optimizer

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SEQUENCE_LENGTH = 16


def one_step_model():
    """The sample's GLoMo (MOSEI layout, minilm) after one training step."""
    config = GLoMoConfig.for_dataset("mosei", max_sequence_length=SEQUENCE_LENGTH,
                                     acoustic_dim=74, visual_dim=35)
    backbone, _ = load_backbone("minilm")
    model = GLoMo(config, backbone)
    model.compile(optimizer=make_optimizer(TrainingOptions.for_dataset("mosei"), steps_per_epoch=1))
    batch = {tensor.name: np.ones([SEQUENCE_LENGTH if size is None else size
                                   for size in (2, *tensor.shape[1:])], tensor.dtype)
             for tensor in model.inputs}
    model.fit(batch, {"prediction": np.zeros((2, 1), "float32")}, epochs=1, verbose=0)
    return model


def weights_megabytes(model, folder, name):
    path = pathlib.Path(folder) / f"{name}.weights.h5"
    model.save_weights(path)
    return os.path.getsize(path) / 2**20


def main():
    model = one_step_model()
    with tempfile.TemporaryDirectory() as folder:
        keras_file = pathlib.Path(folder) / "model.keras"
        model.save(keras_file)
        with_optimizer = weights_megabytes(model, folder, "compiled")
        loaded = keras.saving.load_model(keras_file, custom_objects={"GLoMo": GLoMo},
                                         compile=False)
        weights_only = weights_megabytes(loaded, folder, "weights_only")
    result = {"backbone": "minilm", "with_optimizer_mb": round(with_optimizer, 1),
              "weights_only_mb": round(weights_only, 1)}
    output = REPOSITORY / "benchmarks" / "results" / "preset_size.json"
    output.write_text(json.dumps(result, indent=1))
    print(f"preset weights (minilm): {with_optimizer:.1f} MB with the optimizer state "
          f"(before) -> {weights_only:.1f} MB weights only (after); wrote {output}")


if __name__ == "__main__":
    main()
