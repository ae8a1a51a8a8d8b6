"""Times `GLoMoPreprocessor` against the numpy `encode` on MOSEI-like MAG utterances.

Builds N utterances (5-60 words drawn as in `data_pipeline.py` from the
uncased BERT vocabulary, made-up words and words with punctuation attached,
plus accented, CJK, emoji, upper-case and over-long words; acoustic 74,
visual 35, a few -inf/nan), then measures:
- numpy: `encode` of all utterances at once (what the training cache does);
- tf.data: `Dataset.batch(64).map(preprocessor)` over padded dense inputs,
  the first pass (tracing included) and a second pass;
- one utterance: the median latency of an eager call (a serving request);
and checks that the tf.data outputs equal `encode`'s, value for value.

Usage:

```
python benchmarks/preprocessor.py [--utterances 4096] [--vocabulary vocab.txt]
                                  [--output benchmarks/results/preprocessor.json]
```
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from data_pipeline import default_vocabulary, word_list  # noqa: E402

from glomo_keras.data import (  # noqa: E402
    GLoMoPreprocessor,
    PreprocessingSettings,
    Utterance,
    encode,
    make_tokenizer,
)

BATCH_SIZE = 64
MAX_LENGTH = 60
DIMS = {"acoustic": 74, "visual": 35, "text": None}
ODD_WORDS = ["Café", "naïve", "日本語", "🙂", "WOW", "x" * 120, "don't", "U.S.A.", ""]


def make_utterances(vocabulary, count, seed=0):
    rng = np.random.default_rng(seed)
    pool, weights = word_list(vocabulary, rng)
    utterances = []
    for i in range(count):
        n = int(rng.integers(5, 61))
        words = rng.choice(pool, n, p=weights).tolist()
        words[int(rng.integers(n))] = ODD_WORDS[i % len(ODD_WORDS)]
        acoustic = rng.standard_normal((n, 74), dtype=np.float32)
        visual = rng.standard_normal((n, 35), dtype=np.float32)
        if i % 50 == 0:
            acoustic[0, 3] = -np.inf
            visual[-1, 2] = np.nan
        utterances.append(Utterance(words=words, acoustic=acoustic, visual=visual))
    return utterances


def dense_inputs(utterances):
    width = max(len(u.words) for u in utterances)
    inputs = {"words": np.asarray([u.words + [""] * (width - len(u.words)) for u in utterances])}
    for modality, dim in (("acoustic", 74), ("visual", 35)):
        array = np.zeros((len(utterances), width, dim), np.float32)
        for i, u in enumerate(utterances):
            array[i, : len(u.words)] = getattr(u, modality)
        inputs[modality] = array
    return inputs


def timed_pass(dataset):
    start = time.perf_counter()
    batches = list(dataset.as_numpy_iterator())
    return time.perf_counter() - start, batches


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=4096)
    parser.add_argument("--vocabulary", help="a WordPiece vocab.txt (default: uncased BERT)")
    parser.add_argument("--output", default="benchmarks/results/preprocessor.json")
    args = parser.parse_args(argv)

    tokenizer = make_tokenizer(args.vocabulary or default_vocabulary())
    settings = PreprocessingSettings(
        format="mag", max_length=MAX_LENGTH, acoustic_length=MAX_LENGTH,
        visual_length=MAX_LENGTH, stored_dims=DIMS, vocabulary=tokenizer.get_vocabulary())
    preprocessor = GLoMoPreprocessor.from_settings(settings, tokenizer)
    utterances = make_utterances(tokenizer.get_vocabulary(), args.utterances)
    count = len(utterances)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version(),
                           "load_average_1min": os.getloadavg()[0]},
               "utterances": count, "batch_size": BATCH_SIZE, "max_length": MAX_LENGTH}

    start = time.perf_counter()
    expected = encode(utterances, settings, tokenizer)
    results["numpy_encode_utterances_per_s"] = count / (time.perf_counter() - start)

    dataset = tf.data.Dataset.from_tensor_slices(dense_inputs(utterances))
    dataset = dataset.batch(BATCH_SIZE).map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    first_s, _ = timed_pass(dataset)
    second_s, batches = timed_pass(dataset)
    results["tf_data_first_pass_s"] = first_s
    results["tf_data_utterances_per_s"] = count / second_s
    mismatched = []
    for name, array in expected.items():
        if not np.array_equal(np.concatenate([batch[name] for batch in batches]), array):
            mismatched.append(name)
    results["equal_to_numpy_encode"] = not mismatched
    if mismatched:
        print(f"outputs differ from encode: {mismatched}")

    one = {name: value[:1][0] for name, value in dense_inputs(utterances[:1]).items()}
    preprocessor(one)  # trace the unbatched call
    latencies = []
    for _ in range(30):
        start = time.perf_counter()
        preprocessor(one)
        latencies.append(time.perf_counter() - start)
    results["one_utterance_eager_ms"] = 1000 * float(np.median(latencies))
    results["machine"]["load_average_1min_after"] = os.getloadavg()[0]

    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'measure':<34}{'value':>12}")
    for key, value in results.items():
        if isinstance(value, (float, bool)):
            text = str(value) if isinstance(value, bool) else f"{value:.3f}"
            print(f"{key:<34}{text:>12}")
    print(f"written to {output}")
    return 0 if not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
