"""`train`: fit GLoMo on a dataset for one or more seeds, select, score, export.

The run directory's layout (every file written atomically) is
`glomo_keras.artifacts`'.
"""

import csv
import io
import json
import pathlib
import shutil
import sys
import time

import keras
import numpy as np

from glomo_keras import artifacts
from glomo_keras.backbones import load_backbone
from glomo_keras.backbones import load_tokenizer
from glomo_keras.data import make_dataset
from glomo_keras.data.common import LoadedDataset
from glomo_keras.data.fitting import load_options
from glomo_keras.data.loading import load
from glomo_keras.errors import GLoMoError
from glomo_keras.model import GLoMo
from glomo_keras.optimization import make_optimizer
from glomo_keras.training.devices import check_compile_settings
from glomo_keras.training.devices import keep_tensorflow_on_cpu
from glomo_keras.training.devices import choose_precision
from glomo_keras.training.devices import visible_gpus
from glomo_keras.training import summaries
from glomo_keras.training.distribution import make_strategy
from glomo_keras.training.monitor import ValidationMonitor
from glomo_keras.training.monitor import derived_model
from glomo_keras.training.monitor import predict_with_gates
from glomo_keras.training.monitor import task_metrics
from glomo_keras.training.options import BACKUP_INTERVAL_S
from glomo_keras.training.options import TrainingOptions
from glomo_keras.training.results import results_text
from glomo_keras.training.results import summarise
from glomo_keras.training.results import versions
from glomo_keras.training.results import write_results
from glomo_keras.training.run_export import publish_run


class RunExistsError(GLoMoError, RuntimeError):
    """The output directory already holds a finished run."""


def log(message, source=None):
    """Prints one progress line (of `source`: "study", "tune") to stderr, flushed."""
    tag = f"glomo-keras {source}" if source else "glomo-keras"
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare_data(config, data, tokenizer, use_cache=True):
    """Loads `data` (a path or a `LoadedDataset`) and fits the config to it.

    The data must fit the config (`glomo_keras.data.fitting.fit_config`):
    the task, the text input and the stored feature widths of the config
    (the dataset table's, or the ones set) are the file's, or a
    `DataFormatError` says which field differs and how to fix it. Where the
    file fixes T (MMSA) and the config's T is the table's, the run takes the
    file's T and says so in one line.

    Args:
        config: a `GLoMoConfig`.
        data: a data file or folder, or a `LoadedDataset`.
        tokenizer: the backbone's tokenizer (MAG and HKT), or None.
        use_cache: use the tokenised-data cache.

    Returns:
        `(config, dataset)`: the config fitted to the data, and the data.

    Raises:
        MissingFileError: the path does not exist or cannot be read.
        DataFormatError: the file is malformed or does not fit `config`.

    Example:

    ```python
    config, dataset = prepare_data(GLoMoConfig.for_dataset("mosi"), "aligned_50.pkl", None)
    config.max_sequence_length   # 50, the MMSA file's T
    ```
    """
    data = load_for_config(config, data, tokenizer, use_cache)
    for note in data.config_notes:
        log(note)
    if data.class_names:
        # The config's names (the dataset table's) win over a reader's
        # generic ones (their number agrees: checked when loading).
        data.preprocessor.class_names = list(data.config.class_names)
    return data.config, data


def load_for_config(config, data, tokenizer, use_cache=True):
    """`data` loaded for the config (its T, column selection and checks), and fitted to it.

    Example:

    ```python
    dataset = load_for_config(config, "datasets/mosi.pkl", tokenizer)
    dataset.config   # config fitted to the file
    ```
    """
    return load(data, tokenizer=tokenizer, use_cache=use_cache, **load_options(config))


def train(
    config,
    data,
    output_dir,
    options=None,
    backbone="minilm",
    seeds=None,
    export_dir=None,
    export=True,
    jit_compile="auto",
    overwrite=False,
    use_cache=True,
    verbose="auto",
    backup_interval=BACKUP_INTERVAL_S,
    callbacks=(),
):
    """Trains GLoMo once per seed, selects on validation and scores test.

    Each seed keeps the epoch with the lowest validation loss and scores the
    test split once with it; the seed with the lowest validation loss is
    published (preset, SavedModel). Rerunning a killed call resumes each
    seed from its last backup and skips finished seeds. Where steps are
    compiled for fixed shapes (JAX, XLA), the ragged last training batch is
    dropped (each epoch reshuffles) and the last evaluation batch padded.

    Args:
        config: a `GLoMoConfig` (the architecture).
        data: a data file/folder path or a `LoadedDataset`.
        output_dir: the run directory.
        options: a `TrainingOptions`; default the dataset's Table 1 column.
        backbone: the backbone spec of `load_backbone` (BERT text branch).
        seeds: list of ints; default `[options.seed]`.
        export_dir: the SavedModel base; default `<output_dir>/saved_model`.
        export: whether to export the selected model.
        jit_compile: passed to `model.compile`.
        overwrite: replace a finished run in `output_dir`.
        use_cache: use the tokenised-data cache.
        verbose: Keras `fit` verbosity, or "auto" (1 on a terminal, else 2).
        backup_interval: seconds between two backups of the training state
            at an epoch end (the last epoch always; 0: every epoch).
        callbacks: extra Keras callbacks for `fit` (e.g. timing).

    Returns:
        The results dict (also `results.json`).

    Raises:
        RunExistsError: `output_dir` holds a finished run and not `overwrite`.

    Example:

    ```python
    results = train(GLoMoConfig.for_dataset("mosei"), "datasets/mosei.pkl", "runs/mosei",
                    TrainingOptions.for_dataset("mosei", epochs=20), seeds=[1111, 1112])
    ```
    """
    output = pathlib.Path(output_dir)
    if (output / artifacts.RESULTS_FILE).exists() and not overwrite:
        raise RunExistsError(
            f"{output} holds a finished run (results.json); pass --overwrite "
            "to replace it or choose another --output.")
    options = options or TrainingOptions.for_dataset(config.dataset)
    options.check_config(config)
    seeds = list(seeds or [options.seed])
    if verbose == "auto":
        # A progress bar on a terminal, one line per epoch in a file or pipe.
        verbose = 1 if sys.stdout.isatty() else 2
    keep_tensorflow_on_cpu()
    precision, precision_reason = choose_precision(options.precision, visible_gpus())
    keras.mixed_precision.set_global_policy(precision)
    distribution = make_strategy(options.strategy)
    check_compile_settings(keras.backend.backend(), distribution.name, jit_compile, precision)
    uses_bert = "t" in config.modalities and config.text_encoder == "bert"
    # Loaded data (a recipe's) is already tokenised: the tokenizer is not needed.
    needs_tokenizer = uses_bert and not isinstance(data, LoadedDataset)
    tokenizer = load_tokenizer(backbone) if needs_tokenizer else None
    config, dataset = prepare_data(config, data, tokenizer, use_cache)
    # Every check is done: only now is anything in `output` replaced or written.
    if (output / artifacts.RESULTS_FILE).exists():
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    log(f"precision: {precision} ({precision_reason})")
    log(f"strategy {distribution.name}: {distribution.num_replicas} replica(s), "
        f"backend {keras.backend.backend()}")
    log(f"data {dataset.source}: format {dataset.format}, dims {dataset.dims}, "
        f"train/valid/test {len(dataset.train)}/{len(dataset.valid)}/{len(dataset.test)}")
    if distribution.is_chief:
        artifacts.write_json_atomically(output / artifacts.PREPROCESSING_FILE,
                                        keras.saving.serialize_keras_object(dataset.preprocessor))
        summaries.write_run_text(output / artifacts.LOGS_DIR, seeds, "setup", summaries.setup_text(
            config, options, dataset, backbone, distribution, precision, versions()), step=0)
    per_seed, started = {}, time.time()
    for index, seed in enumerate(seeds):
        try:
            per_seed[seed] = _train_seed(
                config, options.replace(seed=seed), dataset, output, backbone, distribution,
                jit_compile, verbose, backup_interval, list(callbacks))
        except Exception:
            if distribution.is_chief:
                summaries.write_session_status(
                    output / artifacts.LOGS_DIR / f"seed_{seed}", success=False)
            raise
        elapsed = time.time() - started
        remaining = elapsed / (index + 1) * (len(seeds) - index - 1)
        log(f"seed {seed} done ({index + 1}/{len(seeds)}), best epoch "
            f"{per_seed[seed]['best_epoch']}, ETA {remaining / 60:.1f} min")
    results = summarise(per_seed, config, options, distribution, backbone, dataset)
    if distribution.is_chief:
        results.update(publish_run(output, results, export_dir, export))
        log(f"preset of seed {results['selected_seed']}: {results['preset']}")
        if export:
            log(f"exported seed {results['selected_seed']} to {results['export']}")
        write_results(results, output)
        summaries.write_run_text(output / artifacts.LOGS_DIR, seeds, "results",
                                 results_text(results), step=options.epochs)
    return results


def _train_seed(config, options, dataset, output, backbone_spec, distribution, jit_compile,
                verbose, backup_interval, extra_callbacks):
    seed = options.seed
    work = distribution.working_directory(output)
    seed_dir = artifacts.seed_dir(work, seed)
    finished = seed_dir / artifacts.SEED_RESULT_FILE
    if finished.exists():
        log(f"seed {seed} already finished; reading {finished}")
        return json.loads(finished.read_text())
    seed_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    batch_size = options.batch_size
    fixed_shapes = compiles_fixed_shapes(jit_compile, distribution)
    drop_remainder = fixed_shapes and len(dataset.train) > batch_size
    train_ds = make_dataset(
        dataset.train, batch_size, shuffle=True, seed=seed,
        bucketing=options.bucketing, drop_remainder=drop_remainder, repeat=True)
    # Sorted by length, validation batches hold similar lengths and bucketing
    # cuts most of their padding (the metrics do not depend on the order).
    valid = dataset.valid.by_length() if options.bucketing else dataset.valid
    valid_ds, test_ds = (
        make_dataset(split, batch_size, bucketing=options.bucketing, pad_final_batch=fixed_shapes)
        for split in (valid, dataset.test))
    count = len(dataset.train)
    steps_per_epoch = count // batch_size if drop_remainder else -(-count // batch_size)
    with distribution.scope():
        backbone = _backbone(config, backbone_spec)
        model = GLoMo(config, backbone, seed=seed)
        model.compile(optimizer=make_optimizer(options, steps_per_epoch), jit_compile=jit_compile)
        best_weights = BestWeights(seed_dir / "best.weights.h5")
        # Saved last at an epoch end, so a restored epoch is complete; the
        # backup is removed only once the seed's result.json exists, so a
        # kill after the last epoch does not train it again.
        backup = IntervalBackup(artifacts.backup_dir(work, seed), best_weights, backup_interval)
        initial_epoch = backup.restore(model)
    if initial_epoch:
        log(f"seed {seed}: resuming after epoch {initial_epoch} (backup {backup.backup_dir})")
    distribution.prepare_model(model, train_ds)
    log_dir = output / artifacts.LOGS_DIR / f"seed_{seed}"
    callbacks = [
        ValidationMonitor(
            config, valid_ds, valid.labels, log_dir,
            history_path=seed_dir / "history.json" if distribution.is_chief else None,
            hparams=summaries.session_hparams(
                config, options, backbone_spec, distribution.num_replicas,
                keras.mixed_precision.global_policy().name),
            session_name=f"{output.name}/seed_{seed}",
            write=distribution.is_chief),
        best_weights,
        *extra_callbacks,
        backup]
    log(f"seed {seed}: {options.epochs} epochs of {steps_per_epoch} steps "
        f"(global batch {batch_size})")
    model.fit(
        train_ds, epochs=options.epochs, initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose, shuffle=False)
    best = best_weights.best
    if best is not None:
        best_weights.restore()
    else:
        log(f"seed {seed}: no finite validation loss; using the last weights")
    test_outputs, _ = predict_with_gates(model, test_ds, count=len(dataset.test))
    valid_outputs, _ = predict_with_gates(model, valid_ds, count=len(valid))
    result = {
        "seed": seed,
        "best_epoch": None if best is None else best["epoch"],
        "best_val_loss": None if best is None else best["val_loss"],
        "test": task_metrics(config, dataset.test.labels, test_outputs["prediction"]),
        "valid": task_metrics(config, valid.labels, valid_outputs["prediction"])}
    if distribution.is_chief:
        summaries.write_seed_end(log_dir, config.task, result)
        artifacts.write_atomically(seed_dir / artifacts.SEED_MODEL_FILE, model.save)
        _write_predictions(output / "predictions" / f"test_seed{seed}.csv", dataset.test,
                           test_outputs["prediction"], config)
    artifacts.write_json_atomically(finished, result)
    artifacts.remove_backup(work, seed)
    return result


def compiles_fixed_shapes(jit_compile, distribution):
    """Whether the train step is compiled per input shape: JAX, or TensorFlow's XLA."""
    backend = keras.backend.backend()
    # TensorFlow with "auto" compiles with XLA on a GPU without a tf.distribute strategy.
    return backend == "jax" or jit_compile is True or (
        backend == "tensorflow" and jit_compile == "auto" and distribution.name == "default"
        and bool(visible_gpus()))


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest `val_loss`, kill-safe.

    Like `ModelCheckpoint(save_best_only=True, save_weights_only=True)`, but
    an improvement stays in memory until `flush()` (a backup, the end of
    training, `restore()`); the epoch and loss go to `best.json` beside it.

    Args:
        path: the weights file (must end in `.weights.h5`).

    Example:

    ```python
    best = BestWeights("run/seed_1/best.weights.h5")
    model.fit(train, callbacks=[ValidationMonitor(...), best])
    best.best  # {"epoch": 3, "val_loss": 0.71} (epochs count from 1)
    best.restore()  # the model now holds the best weights
    ```
    """

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)
        self.record = self.path.with_name(self.path.name.replace(".weights.h5", ".json"))
        self.best = None
        self._pending = None
        if self.path.exists() and self.record.exists():
            self.best = json.loads(self.record.read_text())

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_loss")
        if value is None or not np.isfinite(value):
            return
        if self.best is not None and not value < self.best["val_loss"]:
            return
        self.best = {"epoch": epoch + 1, "val_loss": float(value)}
        self._pending = [
            np.array(value, copy=True) for value in _weights_view(self.model).get_weights()]

    def on_train_end(self, logs=None):
        self.flush()

    def flush(self):
        """Writes a best kept in memory to disk (nothing when there is none)."""
        if self._pending is None:
            return
        view = _weights_view(self.model)
        current = view.get_weights()
        view.set_weights(self._pending)
        artifacts.write_atomically(self.path, lambda partial: view.save_weights(str(partial)))
        view.set_weights(current)
        artifacts.write_json_atomically(self.record, self.best)
        self._pending = None

    def restore(self):
        """Loads the best weights into the model."""
        self.flush()
        _weights_view(self.model).load_weights(str(self.path))


def _weights_view(model):
    """The model without its optimizer (its weights files hold the model's variables only)."""
    return derived_model(model, "weights", lambda model: model.outputs)


class IntervalBackup(keras.callbacks.Callback):
    """Backs up the training state at epoch ends, at most every `interval` seconds.

    The state (weights, optimizer variables, epochs done; public Keras API
    only, written atomically) is read back by `restore` before `fit`. The
    last epoch is always backed up, the best weights first.

    Args:
        backup_dir: the backup folder.
        best_weights: the run's `BestWeights`, or None.
        interval: seconds; 0 backs up every epoch.

    Example:

    ```python
    best = BestWeights("run/best.weights.h5")
    backup = IntervalBackup("run/backup", best, 300)
    initial_epoch = backup.restore(model)   # 0 without a backup
    model.fit(train, epochs=10, initial_epoch=initial_epoch, callbacks=[best, backup])
    ```
    """

    def __init__(self, backup_dir, best_weights=None, interval=0):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.best_weights = best_weights
        self.interval = interval
        self._last_backup = time.monotonic()

    @property
    def weights_path(self):
        """The backed-up weights and optimizer state."""
        return self.backup_dir / artifacts.BACKUP_WEIGHTS_FILE

    @property
    def metadata_path(self):
        """The backed-up number of finished epochs, `{"epoch": n}`."""
        return self.backup_dir / artifacts.BACKUP_METADATA_FILE

    def restore(self, model):
        """Loads a backup into `model` (compiled, optimizer built); returns its epochs (0: none)."""
        if not (self.weights_path.is_file() and self.metadata_path.is_file()):
            return 0
        model.load_weights(str(self.weights_path))
        return int(json.loads(self.metadata_path.read_text())["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 >= self.params.get("epochs", epoch + 1)
        if last or time.monotonic() - self._last_backup >= self.interval:
            self.save(epoch + 1)
            self._last_backup = time.monotonic()

    def save(self, epochs_done):
        """Backs up the model, its optimizer and `epochs_done` (the best weights first)."""
        if self.best_weights is not None:
            self.best_weights.flush()
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        artifacts.write_atomically(self.weights_path,
                                   lambda partial: self.model.save_weights(str(partial)))
        artifacts.write_json_atomically(self.metadata_path, {"epoch": epochs_done})


def _backbone(config, spec):
    if "t" in config.modalities and config.text_encoder == "bert":
        return load_backbone(spec)[0]
    return None


def _write_predictions(path, split, predictions, config):
    rows = [["id", "label", "prediction"]]
    for segment, label, prediction in zip(split.ids, split.labels, predictions):
        if config.task == "regression":
            rows.append([segment, f"{float(label):.6f}", f"{float(prediction[0]):.6f}"])
        else:
            rows.append([segment, int(label), int(np.argmax(prediction))])
    text = io.StringIO(newline="")
    csv.writer(text).writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    artifacts.write_text_atomically(path, text.getvalue())
