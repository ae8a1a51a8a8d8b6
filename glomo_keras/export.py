"""Export a GLoMo model as a TensorFlow Serving SavedModel, with its preprocessing.

`export_saved_model(model, preprocessor, "saved_models/mosi")` writes the
next version folder `saved_models/mosi/<version>/` (TF Serving's layout):
the `serving_default` signature (model inputs -> `prediction`,
`global_weights`, `local_weights`; core TensorFlow ops only), the asset
`assets/glomo_preprocessing.json` (the serialised `GLoMoPreprocessor`, the
model config, metadata) and, for word-level models (MAG, HKT), the raw-words
SavedModel `<version>/analyze/`, whose `analyze` signature runs the
preprocessor (WordPiece by TensorFlow Text, alignment, columns, padding) and
the model in one graph. `precision` chooses the compute inside (the inputs
and outputs stay float32). The SavedModel is traced by the TensorFlow
backend; from another backend a TensorFlow-backend subprocess exports a
saved `.keras` file. `docs/serving.md` describes the signatures.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import keras

from glomo_keras import artifacts
from glomo_keras.artifacts import ANALYZE_FOLDER, ANALYZE_SIGNATURE, ASSET_NAME
from glomo_keras.artifacts import OUTPUT_NAMES, SIGNATURE_NAME
from glomo_keras.errors import UsageError
from glomo_keras.training.devices import EXPORT_PRECISIONS, choose_precision


# The TensorFlow-backend process that exports a `.keras` file (argv: the
# `.keras` path, the serialised preprocessor's JSON, the SavedModel folder).
_EXPORT_SCRIPT = (
    "import json, sys, keras\n"
    "import glomo_keras.model  # registers GLoMo and its layers for load_model\n"
    "from glomo_keras.data import GLoMoPreprocessor\n"
    "from glomo_keras.export import write_serving_archive\n"
    "model = keras.saving.load_model(sys.argv[1], compile=False)\n"
    "preprocessor = GLoMoPreprocessor.from_saved(json.load(open(sys.argv[2], encoding='utf-8')))\n"
    "write_serving_archive(model, sys.argv[3], preprocessor)\n"
)


def export_saved_model(model, preprocessor, export_base, metadata=None, precision="float32"):
    """Writes `model` as the next version of `export_base` (atomically), for TF Serving.

    Args:
        model: a built `GLoMo` (any Keras backend).
        preprocessor: the `GLoMoPreprocessor` the model's data was encoded
            with; a ValueError if it does not fit the model.
        export_base: the model folder, e.g. `saved_models/mosi`; the version
            is 1 + its largest integer folder (1 when there is none).
        metadata: an optional JSON-serialisable dict saved with the model.
        precision: one of `EXPORT_PRECISIONS` (see `export_policy`).

    Returns:
        `pathlib.Path` of the new version folder (a RuntimeError if the
        TensorFlow-backend export process of another backend failed).

    Example:

    ```python
    path = export_saved_model(model, dataset.preprocessor, "saved_models/mosi")
    tf.saved_model.load(str(path)).signatures["serving_default"](**inputs)
    ```
    """
    from glomo_keras.analyzer import GLoMoSentimentAnalyzer

    GLoMoSentimentAnalyzer(model, preprocessor)  # refuses a pair that does not fit
    policy = export_policy(precision)
    model = precision_copy(model, policy)
    asset = json.dumps({"preprocessing": keras.saving.serialize_keras_object(preprocessor),
                        "model_config": model.config.to_dict(),
                        "metadata": {**(metadata or {}), "precision": policy}}, indent=2)
    target = artifacts.next_version_folder(export_base)
    with artifacts.directory_written_atomically(target) as archive:
        if keras.backend.backend() == "tensorflow":
            write_serving_archive(model, archive, preprocessor)
        else:
            _write_in_tensorflow_process(model, preprocessor, archive)
        (archive / "assets").mkdir(exist_ok=True)
        (archive / "assets" / ASSET_NAME).write_text(asset, encoding="utf-8")
    return target


def export_policy(precision):
    """The dtype policy of `export_saved_model`'s `precision`.

    Args:
        precision: one of `EXPORT_PRECISIONS`; "auto" is `mixed_bfloat16`
            where this CPU has native bfloat16 (`devices.choose_precision`'s
            rule for TensorFlow), else `float32`; else a UsageError.

    Example:

    ```python
    export_policy("auto")  # "mixed_bfloat16" on an AVX512-BF16 CPU
    ```
    """
    if precision not in EXPORT_PRECISIONS:
        raise UsageError(
            f"export precision {precision!r}; expected one of {list(EXPORT_PRECISIONS)}")
    return choose_precision(precision, gpus=[], backend="tensorflow")[0]


def precision_copy(model, policy="float32"):
    """`model` with its backbone computing under `policy`, the rest in float32.

    A float32 model is returned as it is for `policy="float32"`; otherwise a
    copy with the same (float32) weights whose BERT backbone computes under
    `policy` (answers within about 1e-2 of float32 under `mixed_bfloat16`).

    Args:
        model: a built `GLoMo`.
        policy: "float32" or "mixed_bfloat16".

    Example:

    ```python
    precision_copy(model, "mixed_bfloat16").output["prediction"].dtype  # "float32"
    ```
    """
    if policy == "float32" and all(
            layer.compute_dtype == "float32" for layer in model._flatten_layers()):
        return model
    config = model.get_config()
    if config.get("backbone") is not None:
        config["backbone"] = json.loads(json.dumps(config["backbone"]))
        config["backbone"]["config"]["dtype"] = policy
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = type(model).from_config(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def analyze_input_signature(preprocessor):
    """The `analyze` signature's `{name: tf.TensorSpec}`: `GLoMoPreprocessor.raw_inputs`' arrays.

    Args:
        preprocessor: the `GLoMoPreprocessor` of a word-level model.

    Example:

    ```python
    analyze_input_signature(preprocessor)["words"]   # TensorSpec([None, None], tf.string)
    ```
    """
    import tensorflow as tf

    dims = preprocessor.stored_dims
    shapes = {"words": ([None, None], tf.string)}
    for prefix in [""] + (["context_"] if preprocessor.format == "hkt" else []):
        for modality in ("acoustic", "visual"):
            shapes[f"{prefix}{modality}"] = ([None, None, dims[modality]], tf.float32)
    if preprocessor.format == "hkt":
        shapes["context_words"] = ([None, None], tf.string)
        shapes["context_sentence_ids"] = ([None, None], tf.int32)
        shapes["context_sentences"] = ([None], tf.int32)
    return {name: tf.TensorSpec(shape, dtype, name=name)
            for name, (shape, dtype) in shapes.items()}


def _analyze_function(model, preprocessor):
    """Raw utterances → preprocessor → model (→ class probabilities and name)."""
    import tensorflow as tf

    config = model.config
    preprocessor = preprocessor.with_padding("longest" if config.length_aware else "max_length")
    class_names = (tf.constant([str(name) for name in config.class_names])
                   if config.task == "classification" else None)

    def analyze(inputs):
        outputs = model(preprocessor(inputs), training=False)
        result = {name: tf.cast(outputs[name], tf.float32) for name in OUTPUT_NAMES}
        if class_names is not None:
            result["probabilities"] = tf.nn.softmax(result["prediction"], axis=-1)
            result["label"] = tf.gather(class_names, tf.argmax(result["prediction"], axis=-1))
        return result

    return analyze


def write_serving_archive(model, path, preprocessor=None):
    """Writes the SavedModel of `model` (TensorFlow backend only), see the module doc.

    Args:
        model: a built functional Keras model with named dict inputs.
        path: the SavedModel folder to write.
        preprocessor: its `GLoMoPreprocessor`; that of a word-level model adds
            the raw-words SavedModel in `path/analyze`. None: `serving_default` alone.

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
    _write_archive(path, model, lambda inputs: model(inputs, training=False), signature,
                   [SIGNATURE_NAME])
    if preprocessor is not None and preprocessor.format in ("mag", "hkt"):
        _write_archive(pathlib.Path(path) / ANALYZE_FOLDER, model,
                       _analyze_function(model, preprocessor),
                       analyze_input_signature(preprocessor), [ANALYZE_SIGNATURE, SIGNATURE_NAME],
                       resources=preprocessor)


def _write_archive(path, model, function, signature, names, resources=None):
    """A SavedModel of `function` under each of `names`, with `model`'s variables.

    The function is one tf.function for all `names`, traced before the
    archive sees it (TensorFlow traces it once more while saving). The model
    is not tracked as an object (its variables are collections): tracked,
    Keras would trace the model's own default signature too, one more trace
    of the whole model per archive. `resources` is the layer whose lookup tables
    the function uses (the preprocessor's vocabulary), tracked as such.
    """
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    for kind in ("variables", "trainable_variables", "non_trainable_variables"):
        archive.add_variable_collection(kind, getattr(model, kind))
    if resources is not None:
        archive.track(resources)
    endpoint = tf.function(function, input_signature=[signature], autograph=False)
    endpoint.get_concrete_function()
    for name in names:
        archive.add_endpoint(name, endpoint)
    archive.write_out(str(path), verbose=False)


def _write_in_tensorflow_process(model, preprocessor, archive):
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    with tempfile.TemporaryDirectory(prefix="glomo-export-") as work:
        keras_path = pathlib.Path(work) / "model.keras"
        model.save(keras_path)
        preprocessor_path = pathlib.Path(work) / "preprocessor.json"
        preprocessor_path.write_text(
            json.dumps(keras.saving.serialize_keras_object(preprocessor)), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-c", _EXPORT_SCRIPT, str(keras_path), str(preprocessor_path),
             str(archive)], env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"the TensorFlow-backend export process failed (exit {result.returncode}):\n"
            f"{result.stderr[-4000:]}"
        )
