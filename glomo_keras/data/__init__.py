"""Data: every benchmark layout, safe loading, one encoder, a tf.data pipeline.

`load` reads the MAG, HKT, MMSA and CHERMA layouts safely and prepares the
model inputs of every split (cached), `GLoMoPreprocessor` is the one encoder
(and what the data is), `make_dataset` the `tf.data` pipeline for
`model.fit`, `inspect` describes a file, `sample` is a built-in MOSEI-layout
dataset.

Example:

```python
dataset = load("mosei.pkl", tokenizer=load_tokenizer("minilm"))
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
