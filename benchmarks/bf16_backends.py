"""Does bfloat16 pay on this CPU, per Keras backend? The evidence for `--precision auto`.

Per backend (a subprocess each: tensorflow, jax, torch where installed), a
bert-base feed-forward block (Dense 768→3072 GELU, Dense 3072→768,
LayerNormalization, Dense(1); 1,920 tokens = batch 32 × T 60) trained with
`train_on_batch` (AdamW, L1 loss) under `float32` and under
`mixed_bfloat16`: the median step time of 8 after a warm-up, and the
bfloat16 speed-up (float32 step / bfloat16 step). `devices.
CPU_BFLOAT16_BACKENDS` lists the backends where it is above 1 on a CPU with
native bfloat16. Results: `benchmarks/results/bf16_backends.json` (with the
CPU's bfloat16 flags) and a printed line per backend. About 2 minutes.

Usage:

```
python benchmarks/bf16_backends.py [--backends tensorflow jax torch] [--output FILE]
```
"""

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import time

from worker_rows import print_row
from worker_rows import run_worker

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
TOKENS, WIDTH, INTERMEDIATE = 32 * 60, 768, 3072


def step_seconds(policy, steps=8):
    """Median `train_on_batch` seconds of the feed-forward block under `policy`."""
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy(policy)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((TOKENS, WIDTH)).astype("float32")
    y = rng.standard_normal((TOKENS, 1)).astype("float32")
    inputs = keras.Input((WIDTH,))
    hidden = keras.layers.Dense(INTERMEDIATE, activation="gelu")(inputs)
    hidden = keras.layers.LayerNormalization()(keras.layers.Dense(WIDTH)(hidden))
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(hidden))
    model.compile(keras.optimizers.AdamW(1e-4), "mae")
    model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def worker():
    import keras

    float32, bfloat16 = step_seconds("float32"), step_seconds("mixed_bfloat16")
    return {"backend": keras.backend.backend(), "float32_step_s": float32,
            "mixed_bfloat16_step_s": bfloat16, "bfloat16_speedup": float32 / bfloat16}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+",
                        default=[b for b in ("tensorflow", "jax", "torch")
                                 if importlib.util.find_spec(b)])
    parser.add_argument("--output",
                        default=str(REPOSITORY / "benchmarks/results/bf16_backends.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print_row(worker())
        return 0

    sys.path.insert(0, str(REPOSITORY))
    from glomo_keras.training.devices import cpu_bfloat16_flags

    results = {"cpu_bfloat16_flags": cpu_bfloat16_flags(), "cpus": os.cpu_count(),
               "load_before": list(os.getloadavg()), "backends": []}
    for backend in args.backends:
        row = run_worker([__file__, "--worker"], {"KERAS_BACKEND": backend})
        results["backends"].append({"backend": backend, **row})
        if "error" in row:
            print(f"{backend}: failed\n{row['error']}")
            continue
        print(f"{backend:<11} float32 {row['float32_step_s'] * 1000:6.0f} ms, mixed_bfloat16 "
              f"{row['mixed_bfloat16_step_s'] * 1000:6.0f} ms: bfloat16 "
              f"{row['bfloat16_speedup']:.2f}x")
    results["load_after"] = list(os.getloadavg())
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"CPU bfloat16 flags {results['cpu_bfloat16_flags']}; load "
          f"{results['load_before'][0]:.1f}-{results['load_after'][0]:.1f}; {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
