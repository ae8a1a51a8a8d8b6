"""`ValidationMonitor`: per-epoch validation loss and metrics, MoE and fusion statistics."""

import json
import weakref

import keras
import numpy as np
import tensorflow as tf

from glomo_keras.metrics import classification_metrics
from glomo_keras.metrics import regression_metrics
from glomo_keras.model import MODALITY_NAMES


def moe_layers(model):
    """The model's MoE layers by modality name ("text", "acoustic", ...)."""
    found = {}
    for layer in model.layers:
        for name in MODALITY_NAMES.values():
            if layer.name == f"{name}_moe":
                found[name] = layer
    return found


# One probe model per GLoMo model: building a new one per call made
# TensorFlow trace a new predict function every epoch.
_PROBES = weakref.WeakKeyDictionary()


def gate_probe(model):
    """The model's outputs plus its MoE layers' inputs, as one Keras model.

    Built on the first call for a model and reused after that (its predict
    function is traced once).

    Args:
        model: a `GLoMo` model.

    Example:

    ```python
    outputs = gate_probe(model).predict(inputs)  # + "moe_input/<modality>"
    ```
    """
    probe = _PROBES.get(model)
    if probe is None:
        moes = moe_layers(model)
        probe = keras.Model(
            model.inputs,
            {**model.output, **{f"moe_input/{n}": l.input for n, l in moes.items()}},
        )
        _PROBES[model] = probe
    return probe


def predict_with_gates(model, dataset, count=None):
    """Predicts a dataset and routes its MoE inputs through the gates.

    Args:
        model: a `GLoMo` model.
        dataset: a `tf.data.Dataset` of `(inputs, label)` batches.
        count: keep the first `count` outputs (a dataset whose last batch
            was padded with `pad_final_batch`); None keeps all.

    Returns:
        `(outputs, gates)`: the model's output dict over the whole dataset
        and `{modality: gates [N, s]}` at inference (no noise).

    Example:

    ```python
    outputs, gates = predict_with_gates(model, valid_dataset)
    ```
    """
    outputs = gate_probe(model).predict(dataset.map(_inputs_only), verbose=0)
    outputs = {name: value[:count] for name, value in outputs.items()}
    gates = {
        name: keras.ops.convert_to_numpy(
            layer(outputs.pop(f"moe_input/{name}"), training=False, return_gates=True)[1]
        )
        for name, layer in moe_layers(model).items()
    }
    return outputs, gates


def _inputs_only(inputs, label):
    return inputs


def validation_loss(model, labels, predictions):
    """The compiled loss of `prediction`, as Keras's `evaluate` reports it.

    The mean of the model's `prediction` loss over all samples; the MoE
    balancing losses are training-only, so they are not part of it.

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
        labels.reshape(-1), np.argmax(predictions, axis=-1), list(config.class_names)
    )


class ValidationMonitor(keras.callbacks.Callback):
    """Adds the validation metrics to the epoch logs and writes statistics.

    At the end of every epoch it predicts the validation split once, adds
    `val_loss` (the compiled loss, as `evaluate` computes it, so `fit` needs
    no `validation_data`) and `val_<metric>` for every scalar metric of the
    task to the logs (so the Keras TensorBoard callback, the progress bar
    and `ModelCheckpoint` see them), and writes to
    TensorBoard `moe/<modality>_aux_loss` (the balancing loss of the
    validation gates), `moe/<modality>_expert_load` (the fraction of
    routings each expert gets: a histogram, plus one scalar per expert) and
    `fusion/<modality>_weight` (the mean global-attention modality weight).
    It also appends the epoch's logs to `history_path` (JSON), which
    survives a restart.

    Args:
        config: the `GLoMoConfig`.
        valid_dataset: the validation `tf.data.Dataset` (not shuffled; its
            last batch may be padded, see `make_dataset(pad_final_batch)`).
        valid_labels: the validation labels, in dataset order.
        log_dir: the TensorBoard directory of these statistics.
        history_path: JSON file of per-epoch logs, or None.
        hparams: dict of hyper-parameters for the HParams plugin, or None.
        write: whether this process writes (False on non-chief workers).

    Example:

    ```python
    monitor = ValidationMonitor(config, valid_ds, split.labels, "run/logs/glomo")
    model.fit(train_ds, callbacks=[monitor])  # logs val_loss, val_mae, ...
    ```
    """

    def __init__(self, config, valid_dataset, valid_labels, log_dir,
                 history_path=None, hparams=None, write=True):
        super().__init__()
        self.config = config
        self.valid_dataset = valid_dataset
        self.valid_labels = valid_labels
        self.log_dir = str(log_dir)
        self.history_path = history_path
        self.hparams = hparams
        self.write = write
        self._writer = None

    def on_train_begin(self, logs=None):
        if not self.write:
            return
        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.hparams:
            from tensorboard.plugins.hparams import api as hparams_api

            with self._writer.as_default():
                hparams_api.hparams(self.hparams)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        outputs, gates = predict_with_gates(
            self.model, self.valid_dataset, count=len(self.valid_labels)
        )
        logs["val_loss"] = validation_loss(self.model, self.valid_labels, outputs["prediction"])
        metrics = task_metrics(self.config, self.valid_labels, outputs["prediction"])
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                logs[f"val_{key}"] = float(value)
        if not self.write:
            return
        with self._writer.as_default(step=epoch):
            for name, gate in gates.items():
                layer = moe_layers(self.model)[name]
                load = (gate > 0).sum(0).astype("float32")
                aux = layer.auxiliary_loss(gate, load)
                tf.summary.scalar(f"moe/{name}_aux_loss", float(aux))
                fractions = load / max(load.sum(), 1.0)
                tf.summary.histogram(f"moe/{name}_expert_load", fractions)
                for index, fraction in enumerate(fractions):
                    tf.summary.scalar(
                        f"moe/{name}_expert_load/expert_{index}", float(fraction)
                    )
            weights = outputs["global_weights"].mean(0)
            for index, name in enumerate(MODALITY_NAMES.values()):
                tf.summary.scalar(f"fusion/{name}_weight", float(weights[index]))
        self._writer.flush()
        if self.history_path is not None:
            self._append_history(epoch, logs)

    def _append_history(self, epoch, logs):
        history = read_history(self.history_path)
        history = [entry for entry in history if entry["epoch"] != epoch]
        history.append({"epoch": epoch, **{k: float(v) for k, v in logs.items()}})
        history.sort(key=lambda entry: entry["epoch"])
        temporary = f"{self.history_path}.tmp"
        with open(temporary, "w") as file:
            json.dump(history, file, indent=1)
        tf.io.gfile.rename(temporary, str(self.history_path), overwrite=True)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def read_history(path):
    """The per-epoch logs written by `ValidationMonitor` (empty if none)."""
    try:
        with open(path) as file:
            return json.load(file)
    except FileNotFoundError:
        return []
