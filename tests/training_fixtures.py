"""A small MAG file and tiny-model flags for training tests.

Example:

```python
path = write_small_sample(tmp_path / "small.pkl")
subprocess.run([sys.executable, "recipes/train_mosei.py", "--data", str(path),
                *TINY_FLAGS, "--output", str(tmp_path / "run")])
```
"""

import os
import pathlib
import subprocess
import sys

from data_fixtures import write_pickle

from glomo_keras.data import sample

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]

# A tiny GLoMo on a random 2-layer BERT: seconds per epoch on a CPU.
TINY_FLAGS = [
    "--backbone", "random:bert_tiny",
    "--batch-size", "8",
    "--set", "hidden_dim=16", "--set", "num_heads=2", "--set", "num_layers=1",
    "--set", "fusion_layers=1", "--set", "fusion_intermediate_dim=32",
    "--set", "max_sequence_length=16", "--set", "learning_rate=0.001",
]


def write_small_sample(path, sizes=(32, 16, 16)):
    """Writes the first utterances of the built-in sample as a MAG pickle."""
    data = sample.build()
    small = {
        split: items[:size]
        for (split, items), size in zip(data.items(), sizes)
    }
    write_pickle(path, small)
    return path


def run_mosei_recipe(output, *flags, timeout=900):
    """Runs `recipes/train_mosei.py --output OUTPUT *flags` in a fresh process (its own cache)."""
    env = {**os.environ, "GLOMO_KERAS_CACHE": f"{output}_cache"}
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "recipes" / "train_mosei.py"),
         "--output", str(output), *map(str, flags)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPOSITORY,
    )
