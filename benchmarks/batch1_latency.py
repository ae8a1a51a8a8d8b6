"""Can a bert-base GLoMo answer one utterance at T 60 in 50 ms on this CPU?

The batch-1 goal of issue 19. The text backbone is almost all of the work
(the SavedModel of the whole model answers in about 83 ms at T 60, the bare
backbone in about 70), so this times a bare bert-base-shaped `BertBackbone`
(random weights, 12 layers, 768 wide) on one utterance of 60 tokens, in a
`tf.function`, each way TensorFlow offers to make it cheaper:

- `float32`, `mixed_bfloat16`, `bfloat16` (weights and compute): oneDNN's
  bf16 kernels on CPUs with avx512_bf16;
- `+xla`: the same function with `jit_compile=True`;
- `int8`: `Model.quantize("int8")` (int8 kernels, activations quantised per
  call), alone and with XLA.

Each variant runs in a subprocess of its own (dtype policies are global): 5
warm-up calls, then the median and the minimum of 40, and the largest
difference of the output from the float32 output of the same weights,
relative to the output's largest magnitude. The figure to beat is 50 ms for
the *backbone alone*; the fusion and heads add 10-15 ms. Results:
`benchmarks/results/batch1_latency.json` and a printed table. About 3 minutes.

Usage:

```
python benchmarks/batch1_latency.py [--output FILE]
```
"""

import argparse
import json
import os
import pathlib
import sys
import time

from worker_rows import print_row
from worker_rows import run_worker

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = ("float32", "float32+xla", "mixed_bfloat16", "bfloat16", "bfloat16+xla",
            "int8", "int8+xla", "int8+bfloat16+xla")
SEQUENCE_LENGTH, CALLS = 60, 40


def worker(variant):
    """Times one variant; returns its row of the table."""
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    for policy in ("mixed_bfloat16", "bfloat16"):
        if policy in variant.split("+"):
            keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768,
        intermediate_dim=3072, max_sequence_length=512)
    rng = np.random.default_rng(0)
    inputs = {
        "token_ids": tf.constant(rng.integers(1000, 2000, (1, SEQUENCE_LENGTH)), tf.int32),
        "segment_ids": tf.zeros((1, SEQUENCE_LENGTH), tf.int32),
        "padding_mask": tf.ones((1, SEQUENCE_LENGTH), tf.int32),
    }

    def sequence_output(x):
        return tf.cast(backbone(x)["sequence_output"], tf.float32)

    reference = sequence_output(inputs).numpy()
    if "int8" in variant:
        backbone.quantize("int8")
    function = tf.function(sequence_output, jit_compile="xla" in variant)
    output = function(inputs).numpy()
    for _ in range(5):
        function(inputs)
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        function(inputs).numpy()
        times.append(time.perf_counter() - start)
    return {"variant": variant, "p50_ms": 1000 * float(np.median(times)),
            "min_ms": 1000 * min(times),
            "relative_difference": float(np.abs(output - reference).max()
                                         / np.abs(reference).max())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output",
                        default=str(REPOSITORY / "benchmarks/results/batch1_latency.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print_row(worker(args.worker))
        return 0

    sys.path.insert(0, str(REPOSITORY))
    from glomo_keras.training.devices import cpu_bfloat16_flags

    results = {"cpu_bfloat16_flags": cpu_bfloat16_flags(), "cpus": os.cpu_count(),
               "sequence_length": SEQUENCE_LENGTH, "load_before": list(os.getloadavg()),
               "variants": []}
    print(f"{'variant':<20} {'p50 ms':>7} {'min ms':>7} {'rel. diff':>9}")
    for variant in VARIANTS:
        row = run_worker([__file__, "--worker", variant])
        results["variants"].append({"variant": variant, **row})
        if "error" in row:
            print(f"{variant:<20} failed\n{row['error']}")
            continue
        print(f"{variant:<20} {row['p50_ms']:7.1f} {row['min_ms']:7.1f} "
              f"{row['relative_difference']:9.1e}")
    results["load_after"] = list(os.getloadavg())
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"CPU bfloat16 flags {results['cpu_bfloat16_flags']}; load "
          f"{results['load_before'][0]:.1f}-{results['load_after'][0]:.1f}; {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
