"""The GPU path, checked end to end on one GPU in under 8 minutes.

On a machine with a GPU (TensorFlow backend; MOSEI shapes: GLoMo's MOSEI
config, a randomly initialised bert-base-shaped backbone, batch 64, T 80),
one subprocess per variant:

- float32 and mixed_bfloat16, each with XLA off and on (default strategy);
- `MirroredStrategy` over the one GPU (mixed_bfloat16, XLA off: XLA is
  refused under `tf.distribute`, see `check_compile_settings`);

each with samples/s, step p50/p90, compile time (the first step), peak GPU
memory and a finite loss. Then the mixed_bfloat16 model is exported
(`export_saved_model`: a float32 SavedModel) and reloaded on the GPU and,
in a process that sees no GPU, on the CPU; the largest difference of their
predictions from the model's float32 copy (and from the bfloat16 model) is
reported.

Without a GPU (`--cpu`, or automatically when none is visible) the same
variants run on the CPU at a tiny shape (bert_tiny, batch 8, T 16; the
mirrored variant over one CPU device), with the export reloaded on the
CPU: it checks the code path, not the speed.

Results: `benchmarks/results/gpu_check.json` (GPU) or
`benchmarks/results/gpu_check_cpu.json` (CPU), and a printed table.

Usage:

```
python benchmarks/gpu_check.py [--steps 20] [--cpu] [--output FILE]
```
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from worker_rows import print_row
from worker_rows import run_worker

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
WORKER_TIMEOUT = 600  # seconds a variant may take before it is reported as timed out

GPU_SHAPE = {"backbone": "random:bert_base", "batch": 64, "T": 80}
CPU_SHAPE = {"backbone": "random:bert_tiny", "batch": 8, "T": 16}
VARIANTS = (
    {"name": "fp32", "precision": "float32", "jit": False, "strategy": "default"},
    {"name": "fp32_xla", "precision": "float32", "jit": True, "strategy": "default"},
    {"name": "bf16", "precision": "mixed_bfloat16", "jit": False, "strategy": "default"},
    {"name": "bf16_xla", "precision": "mixed_bfloat16", "jit": True, "strategy": "default"},
    {"name": "bf16_mirrored", "precision": "mixed_bfloat16", "jit": False,
     "strategy": "mirrored"},
)


def build(shape, precision):
    """(config, model, inputs, labels) for a shape under a dtype policy."""
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    from glomo_keras import GLoMo, GLoMoConfig
    from glomo_keras.backbones import load_backbone

    config = GLoMoConfig.for_dataset("mosei", max_sequence_length=shape["T"])
    if shape["backbone"] == "random:bert_tiny":
        config = config.replace(hidden_dim=32, num_heads=4, fusion_intermediate_dim=64)
    backbone = load_backbone(shape["backbone"], max_sequence_length=max(512, shape["T"]))[0]
    model = GLoMo(config, backbone)
    rng = np.random.default_rng(0)
    batch, steps = shape["batch"], shape["T"]
    lengths = rng.integers(steps // 4, steps + 1, batch)
    mask = (np.arange(steps)[None] < lengths[:, None]).astype("int32")
    inputs = {
        "token_ids": (rng.integers(1000, 30000, (batch, steps)) * mask).astype("int32"),
        "padding_mask": mask, "segment_ids": np.zeros((batch, steps), "int32"),
        "acoustic": rng.standard_normal((batch, steps, config.acoustic_dim)).astype("float32"),
        "acoustic_mask": mask,
        "visual": rng.standard_normal((batch, steps, config.visual_dim)).astype("float32"),
        "visual_mask": mask,
    }
    labels = rng.uniform(-3, 3, (batch, 1)).astype("float32")
    return config, model, inputs, labels


def gpu_memory_peak_gb():
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30


def worker_variant(variant, shape, steps, export_dir=None):
    """Trains `steps + 1` steps of one variant; optionally exports the model."""
    import keras
    import numpy as np
    import tensorflow as tf

    from glomo_keras.training.devices import check_compile_settings
    from glomo_keras.training.distribution import make_strategy

    distribution = make_strategy(variant["strategy"])
    check_compile_settings("tensorflow", distribution.name, variant["jit"], variant["precision"])
    with distribution.scope():
        config, model, inputs, labels = build(shape, variant["precision"])
        model.compile(jit_compile=variant["jit"])
        model.optimizer.build(model.trainable_variables)
    dataset = tf.data.Dataset.from_tensors((inputs, {"prediction": labels})).repeat()

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.losses = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))
            self.steps.append(time.perf_counter() - self.start)

    timer = Timer()
    model.fit(dataset, steps_per_epoch=steps + 1, epochs=1, callbacks=[timer], verbose=0)
    timed = np.array(timer.steps[1:])
    result = {
        **variant, "num_replicas": distribution.num_replicas,
        "compile_s": timer.steps[0], "step_p50_s": float(np.percentile(timed, 50)),
        "step_p90_s": float(np.percentile(timed, 90)),
        "samples_per_s": shape["batch"] / float(np.median(timed)),
        "loss_first": timer.losses[0], "loss_last": timer.losses[-1],
        "finite_loss": bool(np.all(np.isfinite(timer.losses))),
        "prediction_dtype": str(model(inputs)["prediction"].dtype),
        "peak_gpu_memory_gb": gpu_memory_peak_gb(),
        "devices": [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"],
    }
    if export_dir:
        from glomo_keras.export import export_saved_model, precision_copy

        def prediction(network):
            return keras.ops.convert_to_numpy(network.predict_on_batch(inputs)["prediction"])

        expected, mixed = prediction(precision_copy(model)), prediction(model)
        start = time.perf_counter()
        path = export_saved_model(model, preprocessor_for(config), export_dir)
        result["export_s"] = time.perf_counter() - start
        result["export_path"] = str(path)
        np.savez(pathlib.Path(export_dir) / "check.npz", expected=expected,
                 mixed=mixed.astype("float32"), **inputs)
    return result


def preprocessor_for(config):
    """A MAG `GLoMoPreprocessor` that fits `config` (vocabulary of 30,522 pieces)."""
    from glomo_keras.data import GLoMoPreprocessor, make_tokenizer

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
        f"w{index}" for index in range(30522 - 5)
    ]
    return GLoMoPreprocessor(
        "words", make_tokenizer(vocabulary), sequence_length=config.max_sequence_length,
        acoustic_dim=config.acoustic_dim, visual_dim=config.visual_dim, dataset=config.dataset)


def worker_reload(export_dir):
    """Reloads the exported SavedModel here; the largest prediction difference."""
    import numpy as np
    import tensorflow as tf

    check = np.load(pathlib.Path(export_dir) / "check.npz")
    path = next(p for p in pathlib.Path(export_dir).iterdir() if p.name.isdigit())
    start = time.perf_counter()
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    load_s = time.perf_counter() - start
    inputs = {name: tf.constant(check[name]) for name in check.files
              if name not in ("expected", "mixed")}
    outputs = signature(**inputs)
    return {
        "devices": [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"],
        "load_s": load_s, "output_dtypes": sorted({o.dtype.name for o in outputs.values()}),
        "max_difference": float(np.abs(outputs["prediction"].numpy() - check["expected"]).max()),
        "max_difference_vs_mixed": float(
            np.abs(outputs["prediction"].numpy() - check["mixed"]).max()),
    }


def has_gpu():
    """Whether TensorFlow sees a GPU (checked in a subprocess: no GPU memory taken here)."""
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return result.returncode == 0 and result.stdout.strip().splitlines()[-1] != "0"


def print_table(results):
    print(f"{'variant':<15}{'samples/s':>10}{'p50 s':>8}{'p90 s':>8}{'compile s':>11}"
          f"{'GPU GB':>8}  loss")
    for row in results["variants"]:
        if "error" in row:
            print(f"{row['name']:<15} failed: {row['error'][-300:]}")
            continue
        memory = row["peak_gpu_memory_gb"]
        print(f"{row['name']:<15}{row['samples_per_s']:>10.1f}{row['step_p50_s']:>8.3f}"
              f"{row['step_p90_s']:>8.3f}{row['compile_s']:>11.1f}"
              f"{'-' if memory is None else f'{memory:.1f}':>8}  "
              f"{row['loss_first']:.3f} -> {row['loss_last']:.3f}"
              f"{'' if row['finite_loss'] else ' NOT FINITE'}")
    for where, row in results["reload"].items():
        if "error" in row:
            print(f"reload on {where}: failed: {row['error'][-300:]}")
        else:
            print(f"reload on {where}: max difference {row['max_difference']:.2e} "
                  f"(vs the bfloat16 model {row['max_difference_vs_mixed']:.2e}), "
                  f"outputs {row['output_dtypes']}, load {row['load_s']:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--cpu", action="store_true", help="the CPU check at a tiny shape")
    parser.add_argument("--output")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        if args.worker == "reload":
            result = worker_reload(args.export_dir)
        else:
            variant = next(v for v in VARIANTS if v["name"] == args.worker)
            shape = CPU_SHAPE if args.cpu else GPU_SHAPE
            result = worker_variant(variant, shape, args.steps, args.export_dir)
        print_row(result)
        return 0

    gpu = not args.cpu and has_gpu()
    if not gpu and not args.cpu:
        print("[gpu_check] no GPU visible: running the CPU check at a tiny shape", file=sys.stderr)
    cpu_flags = [] if gpu else ["--cpu"]
    hide = {} if gpu else {"CUDA_VISIBLE_DEVICES": ""}
    export_dir = tempfile.mkdtemp(prefix="glomo_gpu_check_")
    results = {"gpu": gpu, "shape": GPU_SHAPE if gpu else CPU_SHAPE, "steps": args.steps,
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load": os.getloadavg()[0],
               "variants": [], "reload": {}}
    start = time.perf_counter()
    for variant in VARIANTS:
        extra = ["--export-dir", export_dir] if variant["name"] == "bf16" else []
        print(f"[gpu_check] {variant['name']} ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
        row = run_worker([__file__, "--worker", variant["name"], "--steps", str(args.steps),
                          *cpu_flags, *extra], hide, timeout=WORKER_TIMEOUT)
        results["variants"].append({"name": variant["name"], **row})
    if gpu:
        results["reload"]["gpu"] = run_worker(
            [__file__, "--worker", "reload", "--export-dir", export_dir], timeout=WORKER_TIMEOUT)
    results["reload"]["cpu"] = run_worker(
        [__file__, "--worker", "reload", "--export-dir", export_dir],
        {"CUDA_VISIBLE_DEVICES": ""}, timeout=WORKER_TIMEOUT)
    results["total_s"] = time.perf_counter() - start
    name = "gpu_check.json" if gpu else "gpu_check_cpu.json"
    output = pathlib.Path(args.output or REPOSITORY / "benchmarks" / "results" / name)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    print(f"\n{output} ({results['total_s'] / 60:.1f} min)")
    failed = [r for r in results["variants"] if "error" in r or not r["finite_loss"]]
    failed += [r for r in results["reload"].values() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
