"""Data: every benchmark layout, safe loading, one encoder, a tf.data pipeline.

- `load(path, format="auto", tokenizer=...)` reads the MAG-BERT/MIB pickles
  of MOSI and MOSEI, the HKT pickles of UR-FUNNY and MUStARD, MMSA's
  `aligned_50.pkl`/`unaligned_50.pkl` and the CHERMA feature folder, safely
  (`load_pickle` admits only numpy arrays and plain data), and prepares the
  model inputs of every split (cached in `~/.cache/glomo_keras`).
- `make_dataset(split, batch_size, ...)` is the `tf.data` pipeline for `model.fit`.
- `GLoMoPreprocessor` is the one encoder: words and per-word feature rows
  (or token ids, or feature sequences) -> model inputs, in TensorFlow ops,
  for training (`load`), the analyzer and the SavedModel; its config is
  what the data is (format, T, widths, columns, task, classes, dataset).
- `inspect(path)` describes a file; `sample` is a built-in MOSEI-layout dataset.
- `load(path, config=...)` refuses data whose task, text input,
  feature widths or T do not fit a `GLoMoConfig` (what `train` checks).

Example:

```python
from glomo_keras.backbones import load_backbone
from glomo_keras.data import load, make_dataset

backbone, tokenizer = load_backbone("minilm")
dataset = load("mosei.pkl", tokenizer=tokenizer)
train = make_dataset(dataset.train, batch_size=64, shuffle=True, seed=5576)
```
"""

import importlib

# name: the module that defines it. They are imported on first use, so that
# `glomo_keras.data.common` (the command line's flags) imports no Keras.
_EXPORTS = {
    "DataFormatError": "glomo_keras.data.errors",
    "GLoMoPreprocessor": "glomo_keras.data.preprocessor",
    "LoadedDataset": "glomo_keras.data.common",
    "Split": "glomo_keras.data.common",
    "Utterance": "glomo_keras.data.common",
    "detect_format": "glomo_keras.data.formats",
    "inspect": "glomo_keras.data.inspection",
    "load": "glomo_keras.data.loading",
    "load_pickle": "glomo_keras.data.unpickler",
    "make_dataset": "glomo_keras.data.pipeline",
    "make_tokenizer": "glomo_keras.data.tokenizer",
    "read": "glomo_keras.data.loading",
    "sample": "glomo_keras.data.sample",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'glomo_keras.data' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if name == "sample" else getattr(module, name)
