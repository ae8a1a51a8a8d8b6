"""Export a GLoMo model as a TensorFlow Serving SavedModel, with its preprocessing.

`export_saved_model(model, settings, "saved_models/mosi")` writes the next
version folder `saved_models/mosi/<version>/` (TF Serving's layout) holding
a SavedModel whose `serving_default` signature takes the model's named
inputs (spec "Inputs") and returns `prediction`, `global_weights` and
`local_weights`, and the asset `assets/glomo_preprocessing.json` with the
preprocessing settings, so that serving encodes a request as training did.
`tf.saved_model.load` reads the result without glomo_keras.

A mixed-precision model is exported as a float32 copy with the same
weights (`float32_copy`): the signature's outputs are float32 and CPUs,
which mostly lack fast bfloat16, serve it at full speed.

The SavedModel is traced by the TensorFlow backend. Under another backend
(JAX, PyTorch) the model is saved as a `.keras` file and a short
TensorFlow-backend Python process (on the CPU) loads and exports it, so the
export works from any backend.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import keras

from glomo_keras.data import PreprocessingSettings
from glomo_keras.serving.predictor import ASSET_NAME, SIGNATURE_NAME, model_versions

# The TensorFlow-backend process that exports a `.keras` file (argv: the
# `.keras` path, the SavedModel folder).
_EXPORT_SCRIPT = (
    "import sys, keras\n"
    "import glomo_keras.model  # registers GLoMo and its layers for load_model\n"
    "from glomo_keras.export import write_serving_archive\n"
    "model = keras.saving.load_model(sys.argv[1], compile=False)\n"
    "write_serving_archive(model, sys.argv[2])\n"
)


def export_saved_model(model, settings, export_base, metadata=None):
    """Writes `model` as the next version of `export_base`, for TF Serving.

    The version is 1 + the largest integer folder in `export_base` (1 when
    there is none). The SavedModel is written to a hidden temporary folder
    inside `export_base` and renamed to the version folder at the end, so a
    crash never leaves a half-written version.

    Args:
        model: a built `GLoMo` (any Keras backend).
        settings: the `PreprocessingSettings` (or its `to_dict()`) the
            model's training data was encoded with.
        export_base: the model folder, e.g. `saved_models/mosi`.
        metadata: an optional JSON-serialisable dict saved with the model
            (e.g. the run name, the validation metrics).

    Returns:
        `pathlib.Path` of the new version folder.

    Raises:
        ValueError: the settings do not fit the model (inputs, feature dims,
            task, number of classes).
        RuntimeError: the TensorFlow-backend export process failed (other
            backends only).

    Example:

    ```python
    path = export_saved_model(model, dataset.settings, "saved_models/mosi")
    # saved_models/mosi/1
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    signature(**inputs)["prediction"]
    ```
    """
    if isinstance(settings, dict):
        settings = PreprocessingSettings.from_dict(settings)
    check_settings(model, settings)
    model = float32_copy(model)
    asset = json.dumps(
        {
            "preprocessing": settings.to_dict(),
            "model_config": model.config.to_dict(),
            "metadata": metadata or {},
        },
        indent=2,
    )
    export_base = pathlib.Path(export_base)
    export_base.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".export-", dir=export_base))
    try:
        archive = staging / "saved_model"
        if keras.backend.backend() == "tensorflow":
            write_serving_archive(model, archive)
        else:
            _write_in_tensorflow_process(model, staging, archive)
        (archive / "assets").mkdir(exist_ok=True)
        (archive / "assets" / ASSET_NAME).write_text(asset, encoding="utf-8")
        target = export_base / str(1 + max(model_versions(export_base), default=0))
        archive.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def float32_copy(model):
    """The model itself if it computes in float32, else a float32 copy.

    A model built under a mixed-precision policy (`mixed_bfloat16`,
    `mixed_float16`) keeps float32 variables; the copy is built from its
    config under the float32 policy (the backbone's own dtype too) and gets
    the same weights.

    Args:
        model: a built `GLoMo`.

    Example:

    ```python
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = GLoMo(config, backbone)
    float32_copy(model).output["prediction"].dtype  # "float32"
    ```
    """
    if all(layer.compute_dtype == "float32" for layer in model._flatten_layers()):
        return model
    config = model.get_config()
    if config.get("backbone") is not None:
        config["backbone"] = json.loads(json.dumps(config["backbone"]))
        config["backbone"]["config"]["dtype"] = "float32"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = type(model).from_config(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def write_serving_archive(model, path):
    """Writes the SavedModel of `model` (TensorFlow backend only).

    The `serving_default` signature takes one `tf.TensorSpec` per model
    input, named as the input, with the batch and sequence dims None and
    the feature dims fixed; it runs the model with `training=False`.

    Args:
        model: a built functional Keras model with named dict inputs.
        path: the SavedModel folder to write.

    Example:

    ```python
    write_serving_archive(model, "/tmp/glomo_saved_model")
    ```
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "write_serving_archive needs the TensorFlow backend (KERAS_BACKEND="
            f"tensorflow), not {keras.backend.backend()!r}; export_saved_model "
            "works from any backend"
        )
    import tensorflow as tf

    signature = {
        name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
        for name, tensor in model.input.items()
    }
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE_NAME,
        lambda inputs: model(inputs, training=False),
        input_signature=[signature],
    )
    archive.write_out(str(path), verbose=False)


def check_settings(model, settings):
    """Raises ValueError when the preprocessing settings do not fit the model.

    Every model input must be one that the settings produce, with the same
    feature dim, and the task and the number of classes must agree.

    Args:
        model: a `GLoMo`.
        settings: its `PreprocessingSettings`.

    Example:

    ```python
    check_settings(model, dataset.settings)
    ```
    """
    specs = settings.input_specs()
    for name, tensor in model.input.items():
        if name not in specs:
            raise ValueError(
                f"the model input {name!r} is not produced by {settings.format!r} "
                f"preprocessing, whose inputs are {sorted(specs)}"
            )
        shape, _ = specs[name]
        if len(tensor.shape) == 3 and tensor.shape[-1] != shape[-1]:
            raise ValueError(
                f"the model input {name!r} has {tensor.shape[-1]} features but "
                f"the preprocessing settings give {shape[-1]}"
            )
    config = model.config
    if config.task != settings.task:
        raise ValueError(
            f"the model's task is {config.task!r} but the settings' is {settings.task!r}"
        )
    if config.task == "classification" and config.output_dim != len(settings.class_names):
        raise ValueError(
            f"the model has {config.output_dim} classes but the settings name "
            f"{len(settings.class_names)}: {settings.class_names}"
        )


def _write_in_tensorflow_process(model, staging, archive):
    keras_path = staging / "model.keras"
    model.save(keras_path)
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", _EXPORT_SCRIPT, str(keras_path), str(archive)],
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"the TensorFlow-backend export process failed (exit {result.returncode}):\n"
            f"{result.stderr[-4000:]}"
        )
