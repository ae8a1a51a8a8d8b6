"""Training and inference speed of GLoMo per backend and precision, and the cost of an epoch.

Per backend (one subprocess each; default TensorFlow, `--backends` adds
jax and torch), per shape (`mosi`: T 60, the default, `mosei`: T 80; the
dataset's GLoMo config, a randomly initialised bert-base-shaped backbone,
batch 32) and per precision (`--precisions`, default `float32 auto`: the
worker resolves `auto` as `train` does, so on a CPU with avx512_bf16 it is
`mixed_bfloat16`, and with `GLOMO_CPU_BF16=0` it is float32 again):

- train samples/s: `model.fit` on an in-memory `tf.data` batch, the median
  step after the first (the first step's time is the compile time);
- the same for the bare KerasHub backbone + `Dense(1)` on `[CLS]`: the
  in-run reference; `glomo_overhead` = GLoMo step / bare step - 1;
- eval samples/s (`predict`) and batch-1 latency of a compiled predict step;
- peak RSS of the process;
- each figure as a ratio to the float32 row of the same backend and shape
  measured in the same run (`vs_float32`).

The bare-backbone reference runs in the float32 worker only. Per precision,
in the TensorFlow process of the first shape: SavedModel batch-1 p50/p99
latency through `tf.saved_model.load(...).signatures["serving_default"]` of
the export at that precision (`export.precision_copy`; the SavedModel is
the same whichever backend trained the model).

The results record the CPU (model name, its bfloat16 flags, AVX-512,
`GLOMO_CPU_BF16`, `TF_ENABLE_ONEDNN_OPTS`).

Epochs (`--epochs-section`, or `--no-speed` alone; the fastest backend): `train()` on a
MOSI-like length distribution (mean ~18 WordPieces, a tail to T 60; MiniLM,
batch 32, `length_aware=True`), with fixed T and with `bucketing=True`:
epoch time (validation included), the sum of its training steps, bytes
written per epoch, training samples/s, and the largest difference of the
two pipelines' predictions with the same weights. Backups follow
`--backup-every` (default: the trainer's, 300 s; the last epoch always
backs up), so epoch/steps is reported over all steady epochs and over
those without a backup.

Each figure is stored with the load average (`uptime`) when it was taken:
the machine may be shared. Results: `benchmarks/results/train_speed.json`
and a printed table.

Usage:

```
python benchmarks/train_speed.py [--quick] [--backends tensorflow torch]
    [--shapes mosi mosei] [--backbone random:bert_base] [--threads N]
    [--precisions float32 auto mixed_bfloat16] [--epochs-section | --no-speed]
    [--epochs-backend B] [--output FILE]
GLOMO_CPU_BF16=0 python benchmarks/train_speed.py --output FILE   # bfloat16 forced off
```

The default run (TensorFlow, MOSI shape, float32 and auto) takes about 5
minutes on 2 quiet cores; `--quick` (2 timed steps, a small epoch section
when asked for) a little less.
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import sys
import tempfile
import time

from worker_rows import print_row
from worker_rows import run_worker

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

BATCH_SIZE = 32
SHAPES = {"mosi": 60, "mosei": 80}


def load_average():
    """The 1-, 5- and 15-minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bytes_written():
    """`wchar` and `write_bytes` of this process so far (Linux)."""
    with open("/proc/self/io") as file:
        fields = dict(line.split(": ") for line in file.read().splitlines())
    return int(fields["wchar"]), int(fields["write_bytes"])


def cpu_description():
    """The CPU's model name, bfloat16-related flags and the settings that steer precision."""
    from glomo_keras.training.devices import CPU_BFLOAT16_VARIABLE

    model, flags = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags":
                    flags.update(value.split())
    except OSError:
        pass
    return {"model_name": model or platform.processor(),
            "bf16_flags": sorted(f for f in flags if "bf16" in f or f.startswith("amx")),
            "avx512f": "avx512f" in flags,
            CPU_BFLOAT16_VARIABLE: os.environ.get(CPU_BFLOAT16_VARIABLE),
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}


def set_threads(threads):
    """Threads of the backend's CPU kernels (None: the backend's default)."""
    if not threads:
        return
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def synthetic_batch(config, batch_size, seed=0):
    """One fixed-T batch with every token real (the cost of a full pad)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    steps = config.max_sequence_length
    ones = np.ones((batch_size, steps), "int32")
    inputs = {
        "token_ids": rng.integers(1000, 30000, (batch_size, steps)).astype("int32"),
        "padding_mask": ones,
        "segment_ids": np.zeros((batch_size, steps), "int32"),
        "acoustic": rng.standard_normal((batch_size, steps, config.acoustic_dim)).astype("float32"),
        "acoustic_mask": ones,
        "visual": rng.standard_normal((batch_size, steps, config.visual_dim)).astype("float32"),
        "visual_mask": ones,
    }
    labels = rng.uniform(-3, 3, (batch_size, 1)).astype("float32")
    return inputs, labels


class StepTimer:
    """A Keras callback factory recording every training step's seconds."""

    @staticmethod
    def make():
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.steps = []

            def on_train_batch_begin(self, batch, logs=None):
                self._start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.steps.append(time.perf_counter() - self._start)

        return Timer()


def time_fit(model, inputs, labels, steps):
    """(compile s, steady step s, all step s) of `model.fit` on one batch."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensors((inputs, {"prediction": labels})).repeat()
    timer = StepTimer.make()
    model.fit(dataset, steps_per_epoch=steps + 1, epochs=1, callbacks=[timer], verbose=0)
    return timer.steps[0], statistics.median(timer.steps[1:]), timer.steps


def time_predict(model, inputs, batches):
    """(eval samples/s, batch-1 p50 s) of compiled predict steps."""
    import numpy as np
    import tensorflow as tf

    size = len(next(iter(inputs.values())))
    dataset = tf.data.Dataset.from_tensors(inputs).repeat(batches)
    model.predict(tf.data.Dataset.from_tensors(inputs), verbose=0)  # compile
    start = time.perf_counter()
    model.predict(dataset, verbose=0)
    eval_rate = size * batches / (time.perf_counter() - start)
    single = {name: value[:1] for name, value in inputs.items()}
    model.predict_on_batch(single)
    latencies = []
    for _ in range(10):
        start = time.perf_counter()
        model.predict_on_batch(single)
        latencies.append(time.perf_counter() - start)
    return eval_rate, float(np.median(latencies))


def bare_backbone_model(backbone, learning_rate):
    """The backbone + Dense(1) on [CLS], compiled like GLoMo (AdamW, L1)."""
    import keras

    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in ("token_ids", "padding_mask", "segment_ids")
    }
    cls = backbone(inputs)["sequence_output"][:, 0]
    model = keras.Model(inputs, {"prediction": keras.layers.Dense(1, name="prediction")(cls)})
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, epsilon=1e-8, weight_decay=1e-4),
        loss={"prediction": keras.losses.MeanAbsoluteError()},
    )
    return model


def savedmodel_latency(model, inputs, calls, policy):
    """p50/p99 ms of the export at `policy`'s serving_default at batch 1 (TensorFlow)."""
    import numpy as np
    import tensorflow as tf

    from glomo_keras.export import precision_copy
    from glomo_keras.export import write_serving_archive

    folder = pathlib.Path(tempfile.mkdtemp(prefix="glomo_speed_"))
    start = time.perf_counter()
    write_serving_archive(precision_copy(model, policy), folder / "saved_model")
    export_s = time.perf_counter() - start
    signature = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    single = {name: tf.constant(value[:1]) for name, value in inputs.items()}
    for _ in range(3):
        signature(**single)
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        signature(**single)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"export_s": export_s, "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)), "calls": calls}


def torch_eager_reference(inputs, labels, steps):
    """Seconds per training step of an eager PyTorch bert-base + Linear(1).

    `nn.TransformerEncoder` at the bert-base shape (12 x 768, 12 heads, 3072,
    GELU, post-LN) with BERT's embeddings, AdamW and an L1 loss: the cost
    that dominates the authors' PyTorch GLoMo (a Hugging Face BERT trained
    eagerly), as a same-machine reference. Not the authors' code.
    """
    import torch

    class EagerBert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.words = torch.nn.Embedding(30522, 768)
            self.positions = torch.nn.Embedding(512, 768)
            self.segments = torch.nn.Embedding(2, 768)
            self.norm = torch.nn.LayerNorm(768, eps=1e-12)
            self.dropout = torch.nn.Dropout(0.1)
            layer = torch.nn.TransformerEncoderLayer(
                768, 12, 3072, dropout=0.1, activation="gelu", batch_first=True,
                layer_norm_eps=1e-12,
            )
            self.encoder = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
            self.head = torch.nn.Linear(768, 1)

        def forward(self, ids, mask, segments):
            positions = torch.arange(ids.shape[1])[None]
            x = self.words(ids) + self.positions(positions) + self.segments(segments)
            x = self.encoder(self.dropout(self.norm(x)), src_key_padding_mask=mask == 0)
            return self.head(x[:, 0])

    model = EagerBert()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-5, eps=1e-8, weight_decay=1e-4)
    tensors = [torch.as_tensor(inputs[name]).long()
               for name in ("token_ids", "padding_mask", "segment_ids")]
    target = torch.as_tensor(labels)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(*tensors), target)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def worker_speed(args):
    """One backend, one shape: the figures of the module doc."""
    import keras

    set_threads(args.threads)
    from glomo_keras import GLoMo, GLoMoConfig, TrainingOptions
    from glomo_keras.backbones import load_backbone
    from glomo_keras.training.devices import choose_precision

    policy, reason = choose_precision(args.precision)
    keras.mixed_precision.set_global_policy(policy)

    steps = SHAPES[args.shape]
    config = GLoMoConfig.for_dataset(args.shape, max_sequence_length=steps)
    learning_rate = TrainingOptions.for_dataset(args.shape).learning_rate
    inputs, labels = synthetic_batch(config, BATCH_SIZE)
    result = {"backend": keras.backend.backend(), "shape": args.shape, "T": steps,
              "batch": BATCH_SIZE, "backbone": args.backbone, "precision": args.precision,
              "policy": policy, "reason": reason, "threads": args.threads,
              "load_before": load_average()}
    backbone = load_backbone(args.backbone, max_sequence_length=max(512, steps))[0]
    model = GLoMo(config, backbone)
    model.compile()
    compile_s, step_s, all_steps = time_fit(model, inputs, labels, args.steps)
    result.update(compile_s=compile_s, step_s=step_s, steps_s=all_steps,
                  train_samples_per_s=BATCH_SIZE / step_s)
    result["eval_samples_per_s"], result["batch1_predict_s"] = time_predict(model, inputs, 3)
    if args.savedmodel:
        export_policy = "mixed_bfloat16" if policy == "mixed_bfloat16" else "float32"
        result["savedmodel_batch1"] = savedmodel_latency(model, inputs, args.latency_calls,
                                                         export_policy)
    if args.precision != "float32":
        result.update(peak_rss_gb=peak_rss_gb(), load_after=load_average())
        return result
    bare = bare_backbone_model(backbone, learning_rate)
    text = {name: inputs[name] for name in ("token_ids", "padding_mask", "segment_ids")}
    bare_compile, bare_step, bare_steps = time_fit(bare, text, labels, args.steps)
    result.update(bare_compile_s=bare_compile, bare_step_s=bare_step, bare_steps_s=bare_steps,
                  bare_train_samples_per_s=BATCH_SIZE / bare_step,
                  glomo_overhead=step_s / bare_step - 1)
    if result["backend"] == "torch" and args.backbone == "random:bert_base":
        eager = torch_eager_reference(inputs, labels, args.steps)
        result["torch_eager_bert_samples_per_s"] = BATCH_SIZE / eager
    result.update(peak_rss_gb=peak_rss_gb(), load_after=load_average())
    return result


def mosi_like_data(path, vocabulary, sizes, seed=0):
    """A MAG pickle whose WordPiece lengths look like MOSI's (mean ~18, tail to 60)."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    words = [t for t in vocabulary if t.isalpha() and t.islower() and len(t) > 2][:8000]
    data, count = {}, 0
    for split, size in zip(("train", "dev", "test"), sizes):
        items = []
        for _ in range(size):
            n = int(np.clip(round(rng.lognormal(np.log(13), 0.6)), 2, 70))
            chosen = rng.choice(words, n).tolist()
            label = np.array([[rng.uniform(-3, 3)]], np.float32)
            items.append(((chosen, rng.standard_normal((n, 47), dtype=np.float32),
                           rng.standard_normal((n, 74), dtype=np.float32)), label, f"v{count}"))
            count += 1
        data[split] = items
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=4)


class EpochMeter:
    """Callback factory: per epoch, wall seconds (next epoch's start or the
    end of training), summed step seconds and bytes written."""

    @staticmethod
    def make():
        import keras

        class Meter(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs = []

            def _close(self):
                if self.epochs and "epoch_s" not in self.epochs[-1]:
                    last = self.epochs[-1]
                    wchar, write_bytes = bytes_written()
                    last["epoch_s"] = time.perf_counter() - last.pop("_start")
                    last["written_mb"] = (wchar - last.pop("_wchar")) / 1e6
                    last["disk_written_mb"] = (write_bytes - last.pop("_write_bytes")) / 1e6

            def on_epoch_begin(self, epoch, logs=None):
                self._close()
                wchar, write_bytes = bytes_written()
                self.epochs.append({"epoch": epoch + 1, "_start": time.perf_counter(),
                                    "_wchar": wchar, "_write_bytes": write_bytes,
                                    "steps_s": 0.0, "steps": 0})

            def on_train_batch_begin(self, batch, logs=None):
                self._step = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.epochs[-1]["steps_s"] += time.perf_counter() - self._step
                self.epochs[-1]["steps"] += 1

            def on_train_end(self, logs=None):
                self._close()

        return Meter()


def worker_epochs(args):
    """`train()` with fixed T and with bucketing on MOSI-like lengths."""
    import keras
    import numpy as np

    set_threads(args.threads)
    from glomo_keras import GLoMo, GLoMoConfig, TrainingOptions
    from glomo_keras.backbones import load_tokenizer
    from glomo_keras.data import load, make_dataset
    from glomo_keras.data.pipeline import sequence_extents
    from glomo_keras.training import train
    from glomo_keras.training.trainer import BACKUP_INTERVAL_S

    if args.backup_every is None:
        args.backup_every = BACKUP_INTERVAL_S
    work = pathlib.Path(tempfile.mkdtemp(prefix="glomo_epochs_"))
    tokenizer = load_tokenizer("minilm")
    path = work / "mosi_like.pkl"
    mosi_like_data(path, tokenizer.get_vocabulary(), args.epoch_sizes)
    data = load(path, tokenizer=tokenizer, max_length=60, cache_dir=work / "cache")
    lengths = sequence_extents(data.train.arrays)[60]
    result = {"backend": keras.backend.backend(), "backbone": "minilm", "T": 60,
              "batch": BATCH_SIZE, "sizes": list(args.epoch_sizes),
              "token_length_mean": float(lengths.mean()),
              "token_length_p95": float(np.percentile(lengths, 95)),
              "token_length_max": int(lengths.max()), "runs": {}}
    models = {}
    for name, bucketing in (("fixed_T", False), ("bucketing", True)):
        config = GLoMoConfig.for_dataset("mosi", max_sequence_length=60, length_aware=True)
        options = TrainingOptions.for_dataset(
            "mosi", batch_size=BATCH_SIZE, epochs=args.epochs, learning_rate=1e-4,
            bucketing=bucketing, precision="float32",
        )
        meter = EpochMeter.make()
        load_before = load_average()
        start = time.perf_counter()
        train(config, data, work / name, options, backbone="minilm", export=False, verbose=0,
              backup_interval=args.backup_every, callbacks=[meter],
              jit_compile=False if keras.backend.backend() == "tensorflow" else "auto")
        epochs = meter.epochs
        steady = epochs[1:] or epochs
        train_size = len(data.train)
        result["runs"][name] = {
            "wall_s": time.perf_counter() - start, "epochs": epochs,
            "steady_epoch_s": statistics.mean(e["epoch_s"] for e in steady),
            "steady_steps_s": statistics.mean(e["steps_s"] for e in steady),
            "train_samples_per_s": train_size / statistics.mean(e["steps_s"] for e in steady),
            "epoch_over_steps": statistics.mean(e["epoch_s"] / e["steps_s"] for e in steady),
            "written_mb_per_epoch": statistics.mean(e["written_mb"] for e in steady),
            "backup_every_s": args.backup_every,
            "load_before": load_before, "load_after": load_average(),
        }
        models[name] = work / name / f"seed_{options.seed}" / "model.keras"
    fixed, bucketed = result["runs"]["fixed_T"], result["runs"]["bucketing"]
    result["epoch_speedup"] = fixed["steady_epoch_s"] / bucketed["steady_epoch_s"]
    result["train_speedup"] = bucketed["train_samples_per_s"] / fixed["train_samples_per_s"]
    model = keras.saving.load_model(models["bucketing"])
    assert isinstance(model, GLoMo)
    outputs = [model.predict(make_dataset(data.valid, BATCH_SIZE, bucketing=b), verbose=0)
               for b in (False, True)]
    result["max_prediction_difference"] = max(
        float(np.abs(outputs[0][key] - outputs[1][key]).max()) for key in outputs[0]
    )
    weights = sum(int(np.prod(v.shape)) for v in model.weights)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    result["weights_mb"] = weights * 4 / 1e6
    for run in result["runs"].values():
        # An epoch that wrote less than half the weights made no backup.
        quiet = [e for e in run["epochs"][1:] if e["written_mb"] < result["weights_mb"] / 2]
        run["epoch_over_steps_without_backup"] = (
            statistics.mean(e["epoch_s"] / e["steps_s"] for e in quiet) if quiet else None)
    result["weights_and_adam_mb"] = (weights + 2 * trainable) * 4 / 1e6
    result["peak_rss_gb"] = peak_rss_gb()
    return result


def run_speed_worker(backend, args, mode, extra=(), precision="float32"):
    """Runs this script as a worker for `backend`; returns its result dict."""
    command = [__file__, "--worker", mode, "--backbone", args.backbone,
               "--steps", str(args.steps), "--precision", precision,
               "--epochs", str(args.epochs), "--latency-calls", str(args.latency_calls),
               *(["--backup-every", str(args.backup_every)] if args.backup_every is not None
                 else []),
               "--epoch-sizes", *map(str, args.epoch_sizes), *extra]
    if args.threads:
        command += ["--threads", str(args.threads)]
    print(f"[train_speed] {backend} {mode} {precision} {' '.join(extra)} "
          f"(load {load_average()})",
          file=sys.stderr, flush=True)
    result = run_worker(command, {"KERAS_BACKEND": backend})
    if "error" in result:
        print(result["error"], file=sys.stderr)
        return {"backend": backend, "mode": mode, "error": result["error"][-500:]}
    return result


def available_backends():
    import importlib.util

    return [name for name in ("tensorflow", "jax", "torch") if importlib.util.find_spec(name)]


def add_ratios(rows):
    """Each row's figures over the float32 row of its backend and shape (`vs_float32`)."""
    baselines = {(row["backend"], row["shape"]): row for row in rows
                 if "error" not in row and row["precision"] == "float32"}
    for row in rows:
        baseline = baselines.get((row.get("backend"), row.get("shape")))
        if "error" in row or baseline is None:
            continue
        ratios = {key: row[key] / baseline[key]
                  for key in ("train_samples_per_s", "eval_samples_per_s")}
        ratios["batch1_predict_latency"] = row["batch1_predict_s"] / baseline["batch1_predict_s"]
        if "savedmodel_batch1" in row and "savedmodel_batch1" in baseline:
            ratios["savedmodel_p50_latency"] = (row["savedmodel_batch1"]["p50_ms"]
                                                / baseline["savedmodel_batch1"]["p50_ms"])
        row["vs_float32"] = ratios


def print_table(results):
    cpu = results["machine"]["cpu"]
    print(f"\nCPU {cpu['model_name']}: bfloat16 flags {cpu['bf16_flags'] or 'none'}, "
          f"GLOMO_CPU_BF16={cpu['GLOMO_CPU_BF16']}")
    print(f"\n{'backend':<11}{'shape':<7}{'precision':<26}{'train/s':>9}{'x fp32':>8}"
          f"{'eval/s':>9}{'x fp32':>8}{'b1 ms':>8}{'SM p50':>8}{'x fp32':>8}"
          f"{'compile s':>11}{'RSS GB':>8}  load")
    for row in results["speed"]:
        if "error" in row:
            print(f"{row['backend']:<11}{row.get('shape', ''):<7} failed: {row['error'][-80:]}")
            continue
        ratios = row.get("vs_float32", {})
        label = (row["policy"] if row["precision"] == row["policy"]
                 else f"{row['precision']}={row['policy']}")
        served = row.get("savedmodel_batch1")

        def ratio(key):
            return f"{ratios[key]:>7.2f}x" if key in ratios else f"{'-':>8}"

        print(f"{row['backend']:<11}{row['shape']:<7}{label:<26}"
              f"{row['train_samples_per_s']:>9.2f}{ratio('train_samples_per_s')}"
              f"{row['eval_samples_per_s']:>9.2f}{ratio('eval_samples_per_s')}"
              f"{row['batch1_predict_s'] * 1000:>8.0f}"
              f"{served['p50_ms'] if served else float('nan'):>8.0f}"
              f"{ratio('savedmodel_p50_latency')}"
              f"{row['compile_s']:>11.1f}{row['peak_rss_gb']:>8.2f}  "
              f"{row['load_before'][0]}-{row['load_after'][0]}")
    print("(x fp32: samples/s over the float32 row's, latency over the float32 row's; "
          "SM p50: SavedModel batch-1 ms)")
    for row in results["speed"]:
        if row.get("precision") not in (None, "float32"):
            print(f"{row['backend']} {row['shape']} {row['precision']}: {row['reason']}")
        if "bare_train_samples_per_s" in row:
            print(f"{row['backend']} {row['shape']}: bare backbone "
                  f"{row['bare_train_samples_per_s']:.2f} samples/s, GLoMo overhead "
                  f"{row['glomo_overhead']:+.1%}")
        if "torch_eager_bert_samples_per_s" in row:
            print(f"eager PyTorch bert-base reference ({row['shape']}): "
                  f"{row['torch_eager_bert_samples_per_s']:.2f} samples/s")
        if "savedmodel_batch1" in row:
            latency = row["savedmodel_batch1"]
            print(f"SavedModel batch-1 ({row['shape']}, T {row['T']}, {row['policy']}): p50 "
                  f"{latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms")
    epochs = results.get("epochs")
    if epochs and "runs" in epochs:
        print(f"\nEpochs ({epochs['backend']}, MiniLM, T 60, batch 32; tokens mean "
              f"{epochs['token_length_mean']:.1f}, p95 {epochs['token_length_p95']:.0f}):")
        print(f"{'pipeline':<11}{'epoch s':>9}{'steps s':>9}{'epoch/steps':>13}"
              f"{'no backup':>11}{'train/s':>9}{'MB/epoch':>10}")
        for name, run in epochs["runs"].items():
            quiet = run.get("epoch_over_steps_without_backup")
            print(f"{name:<11}{run['steady_epoch_s']:>9.1f}{run['steady_steps_s']:>9.1f}"
                  f"{run['epoch_over_steps']:>13.2f}"
                  f"{'-' if quiet is None else f'{quiet:.2f}':>11}"
                  f"{run['train_samples_per_s']:>9.1f}{run['written_mb_per_epoch']:>10.0f}")
        print(f"epoch speed-up {epochs['epoch_speedup']:.2f}x, training "
              f"{epochs['train_speedup']:.2f}x, max prediction difference "
              f"{epochs['max_prediction_difference']:.2e}; weights + Adam "
              f"{epochs['weights_and_adam_mb']:.0f} MB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", nargs="+")
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES))
    parser.add_argument("--backbone", default="random:bert_base")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    parser.add_argument("--threads", type=int, help="CPU threads (default: the backend's)")
    parser.add_argument("--precisions", nargs="+", default=["float32", "auto"],
                        choices=["float32", "auto", "mixed_bfloat16"],
                        help="precisions measured per backend and shape (float32 is always "
                        "measured first: the baseline of the ratios)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the epoch section")
    parser.add_argument("--epoch-sizes", type=int, nargs=3, default=[640, 128, 64])
    parser.add_argument("--backup-every", type=float,
                        help="seconds between backups in the epoch section (default: "
                        "the trainer's; 0: every epoch)")
    parser.add_argument("--epochs-backend", help="backend of the epoch section (default: fastest)")
    parser.add_argument("--epochs-section", action="store_true",
                        help="also run the epoch section (fixed T against bucketing)")
    parser.add_argument("--no-speed", action="store_true", help="only the epoch section")
    parser.add_argument("--latency-calls", type=int, default=50)
    parser.add_argument("--output", default=str(REPOSITORY / "benchmarks/results/train_speed.json"))
    parser.add_argument("--worker", choices=["speed", "epochs"], help=argparse.SUPPRESS)
    parser.add_argument("--shape", choices=sorted(SHAPES), help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--savedmodel", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker_speed(args) if args.worker == "speed" else worker_epochs(args)
        print_row(result)
        return 0

    if args.quick:
        args.steps = min(args.steps, 2)
        args.epochs = min(args.epochs, 2)
        args.epoch_sizes = [320, 64, 32]
        args.latency_calls = 20
    backends = args.backends or ["tensorflow"]
    shapes = args.shapes or ["mosi"]
    precisions = ["float32"] + [p for p in dict.fromkeys(args.precisions) if p != "float32"]
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "processor": platform.processor(), "python": platform.python_version(),
                           "cpu": cpu_description()},
               "settings": {k: v for k, v in vars(args).items()
                            if k not in ("worker", "shape", "savedmodel", "output", "precision")},
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "speed": []}
    start = time.perf_counter()
    for shape in [] if args.no_speed else shapes:
        for backend in backends:
            extra = ["--shape", shape]
            if backend == "tensorflow" and shape == shapes[0]:
                extra.append("--savedmodel")
            for precision in precisions:
                results["speed"].append(run_speed_worker(backend, args, "speed", extra, precision))
    add_ratios(results["speed"])
    if args.epochs_section or args.no_speed:
        rates = [r for r in results["speed"] if "train_samples_per_s" in r]
        fastest = max(rates, key=lambda r: r["train_samples_per_s"])["backend"] if rates else (
            "tensorflow")
        results["epochs"] = run_speed_worker(args.epochs_backend or fastest, args, "epochs")
    results["total_s"] = time.perf_counter() - start
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    print(f"\n{output} ({results['total_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
