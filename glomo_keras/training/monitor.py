"""`ValidationMonitor`: per-epoch validation loss and metrics, and the epoch in TensorBoard."""

import json
import pathlib
import weakref

import keras
import numpy as np
import tensorflow as tf

from glomo_keras.artifacts import write_json_atomically
from glomo_keras.metrics import classification_metrics
from glomo_keras.metrics import regression_metrics
from glomo_keras.model import MODALITY_NAMES
from glomo_keras.training import summaries


def moe_layers(model):
    """The model's MoE layers by modality name ("text", "acoustic", ...)."""
    layers = {layer.name: layer for layer in model.layers}
    return {name: layers[f"{name}_moe"] for name in MODALITY_NAMES.values()
            if f"{name}_moe" in layers}


# Models over a GLoMo model's graph, built once per model and kind: a new
# one per call made TensorFlow trace a new predict function every epoch.
_DERIVED = weakref.WeakKeyDictionary()


def derived_model(model, kind, outputs):
    """`keras.Model(model.inputs, outputs(model))`, built once per `model` and `kind`."""
    built = _DERIVED.setdefault(model, {})
    if kind not in built:
        built[kind] = keras.Model(model.inputs, outputs(model))
    return built[kind]


def gate_probe(model):
    """The model's outputs plus its MoE layers' inputs, as one Keras model (built once per model).

    Args:
        model: a `GLoMo` model.

    Example:

    ```python
    outputs = gate_probe(model).predict(inputs)  # + "moe_input/<modality>"
    ```
    """
    return derived_model(model, "gate_probe", lambda model: {
        **model.output,
        **{f"moe_input/{name}": layer.input for name, layer in moe_layers(model).items()}})


def predict_with_gates(model, dataset, count=None):
    """`(outputs, {modality: gates [N, s]})`: `predict_with_moe_inputs`, routed without noise.

    Args:
        model, dataset, count: as `predict_with_moe_inputs`.

    Example:

    ```python
    outputs, gates = predict_with_gates(model, valid_dataset)
    ```
    """
    outputs, moe_inputs = predict_with_moe_inputs(model, dataset, count)
    return outputs, route(model, moe_inputs, training=False)


def predict_with_moe_inputs(model, dataset, count=None):
    """The model's outputs over a dataset and each MoE layer's inputs.

    Args:
        model: a `GLoMo` model.
        dataset: a `tf.data.Dataset` of `(inputs, label)` batches.
        count: keep the first `count` rows (after `pad_final_batch`); None keeps all.

    Returns:
        `(outputs, {modality: MoE inputs})`.

    Example:

    ```python
    outputs, moe_inputs = predict_with_moe_inputs(model, valid_dataset)
    gates = route(model, moe_inputs, training=True)
    ```
    """
    outputs = gate_probe(model).predict(dataset.map(lambda inputs, label: inputs), verbose=0)
    outputs = {name: value[:count] for name, value in outputs.items()}
    moe_inputs = {name: outputs.pop(f"moe_input/{name}") for name in moe_layers(model)}
    return outputs, moe_inputs


def route(model, moe_inputs, training):
    """The gates [N, s] of each MoE layer for its inputs.

    Args:
        model: a `GLoMo` model.
        moe_inputs: `{modality: MoE inputs}` (`predict_with_moe_inputs`).
        training: route as training does (gate noise), or as inference does.

    Example:

    ```python
    route(model, moe_inputs, training=False)["text"].shape  # (N, num_experts)
    ```
    """
    layers = moe_layers(model)
    return {
        name: keras.ops.convert_to_numpy(
            layers[name](inputs, training=training, return_gates=True)[1])
        for name, inputs in moe_inputs.items()}


def validation_loss(model, labels, predictions):
    """The compiled loss of `prediction`, as `evaluate` reports it (no MoE balancing losses).

    Args:
        model: a compiled `GLoMo`.
        labels: the labels, in prediction order.
        predictions: the `prediction` output [N, output_dim].

    Example:

    ```python
    validation_loss(model, split.labels, outputs["prediction"])  # 0.73
    ```
    """
    loss = model.loss["prediction"] if isinstance(model.loss, dict) else model.loss
    loss = keras.losses.get(loss)
    predictions = np.asarray(predictions, dtype="float32")
    labels = np.asarray(labels)
    if model.config.task == "regression":
        labels = labels.astype("float32").reshape(-1, 1)
    else:
        labels = labels.astype("int32").reshape(-1)
    return float(keras.ops.convert_to_numpy(loss(labels, predictions)))


def task_metrics(config, labels, predictions):
    """The MMSA metrics of a task for labels and raw `prediction` outputs.

    Args:
        config: a `GLoMoConfig` (task and class names).
        labels: float [N] or [N, 1] (regression) or int [N] class indices.
        predictions: the model's `prediction` output [N, output_dim].

    Example:

    ```python
    task_metrics(config, split.labels, outputs["prediction"])["mae"]
    ```
    """
    labels = np.asarray(labels)
    if config.task == "regression":
        return regression_metrics(labels.reshape(-1), np.asarray(predictions).reshape(-1))
    return classification_metrics(
        labels.reshape(-1), np.argmax(predictions, axis=-1), list(config.class_names))


class ValidationMonitor(keras.callbacks.Callback):
    """Adds the validation metrics to the epoch logs and writes TensorBoard.

    Every epoch end predicts the validation split once and adds `val_loss`
    (as `evaluate` computes it, so `fit` needs no `validation_data`) and
    `val_<metric>` to the logs, writes the epoch's scalars at step
    `epoch + 1` and appends the logs to `history_path`. Training starts
    with the HParams experiment and session and the Custom Scalars layout
    (the tags: `glomo_keras.training.summaries`).

    Args:
        config: the `GLoMoConfig`.
        valid_dataset: the validation `tf.data.Dataset` (not shuffled; its
            last batch may be padded, see `make_dataset(pad_final_batch)`).
        valid_labels: the validation labels, in dataset order.
        log_dir: the seed's TensorBoard directory (one run, one session).
        history_path: JSON file of per-epoch logs, or None.
        hparams: the session's hyper-parameters (`summaries.session_hparams`), or None.
        session_name: the session's "Trial ID" (e.g. "mosi/seed_1"); None: a hash.
        write: whether this process writes (False on non-chief workers).

    Example:

    ```python
    monitor = ValidationMonitor(config, valid_ds, split.labels, "run/logs/seed_1")
    model.fit(train_ds, callbacks=[monitor])  # logs val_loss, val_mae, ...
    ```
    """

    def __init__(self, config, valid_dataset, valid_labels, log_dir,
                 history_path=None, hparams=None, session_name=None, write=True):
        super().__init__()
        self.config = config
        self.valid_dataset = valid_dataset
        self.valid_labels = valid_labels
        self.log_dir = str(log_dir)
        self.history_path = history_path
        self.hparams = hparams
        self.session_name = session_name
        self.write = write
        self._writer = None

    def on_train_begin(self, logs=None):
        if not self.write:
            return
        self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            if self.hparams:
                from tensorboard.plugins.hparams import api as hparams_api

                summaries.write_experiment(self.hparams, self.config.task)
                hparams_api.hparams(self.hparams, trial_id=self.session_name)
            summaries.write_layout(list(moe_layers(self.model)))
        self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        training_logs = dict(logs)
        outputs, moe_inputs = predict_with_moe_inputs(
            self.model, self.valid_dataset, count=len(self.valid_labels))
        logs["val_loss"] = validation_loss(self.model, self.valid_labels, outputs["prediction"])
        metrics = task_metrics(self.config, self.valid_labels, outputs["prediction"])
        logs.update({f"val_{key}": float(value) for key, value in metrics.items()
                     if isinstance(value, (int, float))})
        if not self.write:
            return
        with self._writer.as_default(step=epoch + 1):
            self._write_scalars(training_logs, logs)
            for kind, training in (("train", True), ("eval", False)):
                for name, gates in route(self.model, moe_inputs, training).items():
                    summaries.write_expert_load(name, kind, gates)
            weights = outputs["global_weights"].mean(0)
            for index, name in enumerate(MODALITY_NAMES.values()):
                tf.summary.scalar(
                    f"fusion/{name}_weight", float(weights[index]),
                    description=f"Mean global-attention weight of the {name} modality "
                    "over the validation split (the three weights sum to 1).")
        self._writer.flush()
        if self.history_path is not None:
            self._append_history(epoch, logs)

    def _write_scalars(self, training_logs, logs):
        for key, value in training_logs.items():
            tf.summary.scalar(f"train/{key}", float(value), description=(
                f"{summaries.description(key)} Training split, mean over the epoch."))
        if "learning_rate" not in training_logs:
            rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            tf.summary.scalar("train/learning_rate", float(rate),
                              description=summaries.description("learning_rate"))
        for key, value in logs.items():
            if key.startswith("val_"):
                metric = key[len("val_"):]
                tf.summary.scalar(f"validation/{metric}", value, description=(
                    f"{summaries.description(metric)} Validation split, end of the epoch."))

    def _append_history(self, epoch, logs):
        path = pathlib.Path(self.history_path)
        history = json.loads(path.read_text()) if path.exists() else []
        history = [entry for entry in history if entry["epoch"] != epoch]
        history.append({"epoch": epoch, **{k: float(v) for k, v in logs.items()}})
        history.sort(key=lambda entry: entry["epoch"])
        write_json_atomically(self.history_path, history)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
