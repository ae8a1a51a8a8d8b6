"""Test metrics of float32 and mixed_bfloat16 training: mean ± std over seeds.

Trains the same small GLoMo (a random 2-layer BERT, `random:bert_tiny`;
hidden 32, one fusion layer) with `train()` on two files, in float32 and in
`mixed_bfloat16`, 3 seeds each, and reports every test metric as mean ± std
per precision, and whether the two means agree within the seeds' spread
(|mean difference| <= std float32 + std bfloat16):

- `sample`: the built-in sample (MOSEI layout; 600 / 100 / 200 utterances;
  `glomo_keras.data.sample`);
- `mosi_like`: a MOSI-layout file (visual 47 features), made of the
  sample's sentences (their sentiment words and feature events carry the
  label) padded with neutral filler words to MOSI-like lengths (lognormal,
  median 13 words, up to 50), 640 / 128 / 256 utterances.

The precision is set explicitly (`TrainingOptions.precision`), so the
comparison is the same on a CPU without bfloat16 (where bfloat16 is only
slower). Results: `benchmarks/results/bf16_accuracy.json` and a printed
table. About 10-15 minutes on 2 quiet cores.

Usage:

```
python benchmarks/bf16_accuracy.py [--seeds 1 2 3] [--epochs 6] [--datasets sample mosi_like]
    [--output FILE]
```
"""

import argparse
import json
import os
import pathlib
import pickle
import statistics
import sys
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PRECISIONS = ("float32", "mixed_bfloat16")
MOSI_SIZES = {"train": 640, "dev": 128, "test": 256}
MOSI_VISUAL_DIM = 47
METRICS = ("mae", "corr", "acc7", "acc2_non0", "f1_non0")


def write_mosi_like(path, seed=7):
    """Writes the MOSI-layout file described in the module doc; returns `path`."""
    import numpy as np

    from glomo_keras.data import sample

    rng = np.random.default_rng(seed)
    fillers = [word for phrase in sample.OPENERS + sample.SUBJECTS + sample.LINKING_VERBS
               for word in phrase.split()] + list(sample.NEUTRAL_ADJECTIVES)
    source = [item for split in sample.build(seed).values() for item in split]
    data, index = {}, 0
    for split, size in MOSI_SIZES.items():
        items = []
        for _ in range(size):
            (words, visual, acoustic), label, _ = source[index % len(source)]
            index += 1
            target = int(np.clip(round(rng.lognormal(np.log(13), 0.5)), len(words), 50))
            extra = target - len(words)
            at = int(rng.integers(0, len(words) + 1))
            words = words[:at] + rng.choice(fillers, extra).tolist() + words[at:]
            acoustic, visual = (
                np.insert(features, [at] * extra, rng.normal(
                    0.0, sample.NOISE, (extra, features.shape[1])).astype(np.float32), axis=0)
                for features in (acoustic, visual))
            widths = rng.normal(0.0, sample.NOISE,
                                (len(words), MOSI_VISUAL_DIM - visual.shape[1]))
            visual = np.concatenate([visual, widths.astype(np.float32)], axis=1)
            items.append(((words, visual, acoustic), label, f"mosi_like{len(items)}"))
        data[split] = items
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=4)
    return path


def config_for(dataset_name):
    from glomo_keras import GLoMoConfig

    return GLoMoConfig.for_dataset(
        "mosei" if dataset_name == "sample" else "mosi",
        hidden_dim=32, num_heads=2, num_layers=1, fusion_intermediate_dim=64,
        max_sequence_length=48,
    )


def summarise(per_seed):
    """`{metric: {"mean", "std", "values"}}` of the seeds' test metrics."""
    return {metric: {"mean": statistics.mean(values), "std": statistics.stdev(values),
                     "values": values}
            for metric in per_seed[0]
            for values in [[seed[metric] for seed in per_seed]]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--datasets", nargs="+", default=["sample", "mosi_like"],
                        choices=["sample", "mosi_like"])
    parser.add_argument("--output",
                        default=str(REPOSITORY / "benchmarks/results/bf16_accuracy.json"))
    args = parser.parse_args(argv)

    import keras

    from glomo_keras import TrainingOptions
    from glomo_keras.data import sample
    from glomo_keras.training import train

    work = pathlib.Path(tempfile.mkdtemp(prefix="glomo_bf16_accuracy_"))
    files = {"sample": sample.write(work / "sample.pkl"),
             "mosi_like": write_mosi_like(work / "mosi_like.pkl")}
    results = {"backend": keras.backend.backend(), "seeds": args.seeds, "epochs": args.epochs,
               "backbone": "random:bert_tiny", "load_before": list(os.getloadavg()),
               "datasets": {}}
    start = time.perf_counter()
    for name in args.datasets:
        config = config_for(name)
        results["datasets"][name] = {"config": config.to_dict()}
        for precision in PRECISIONS:
            options = TrainingOptions.for_dataset(
                config.dataset, batch_size=32, epochs=args.epochs, learning_rate=1e-3,
                precision=precision)
            began = time.perf_counter()
            run = train(config, files[name], work / f"{name}_{precision}", options,
                        backbone="random:bert_tiny", seeds=args.seeds, export=False,
                        use_cache=False, verbose=0)
            per_seed = [run["per_seed"][str(seed)]["test"] for seed in args.seeds]
            results["datasets"][name][precision] = {
                "test": summarise(per_seed), "seconds": time.perf_counter() - began}
            print(f"[bf16_accuracy] {name} {precision}: "
                  f"{time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        keras.mixed_precision.set_global_policy("float32")
    results.update(total_s=time.perf_counter() - start, load_after=list(os.getloadavg()))

    print(f"\nTest metrics, mean ± std over seeds {args.seeds} ({results['backend']}, "
          f"{args.epochs} epochs):")
    print(f"{'dataset':<11}{'metric':<11}{'float32':>18}{'mixed_bfloat16':>18}  agree")
    for name, entry in results["datasets"].items():
        full, half = entry["float32"]["test"], entry["mixed_bfloat16"]["test"]
        entry["agree"] = {}
        for metric in METRICS:
            a, b = full[metric], half[metric]
            agree = abs(a["mean"] - b["mean"]) <= a["std"] + b["std"]
            entry["agree"][metric] = agree
            print(f"{name:<11}{metric:<11}{a['mean']:>10.3f} ± {a['std']:.3f}"
                  f"{b['mean']:>10.3f} ± {b['std']:.3f}  {'yes' if agree else 'NO'}")
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\n{output} ({results['total_s'] / 60:.1f} min, load "
          f"{results['load_before'][0]:.1f}-{results['load_after'][0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
