"""Data: every benchmark layout, safe loading, WordPiece alignment, a tf.data pipeline.

- `load(path, format="auto", tokenizer=...)` reads the MAG-BERT/MIB pickles
  of MOSI and MOSEI, the HKT pickles of UR-FUNNY and MUStARD, MMSA's
  `aligned_50.pkl`/`unaligned_50.pkl` and the CHERMA feature folder, safely
  (`load_pickle` admits only numpy arrays and plain data), and prepares the
  model inputs of every split (cached in `~/.cache/glomo_keras`).
- `make_dataset(split, batch_size, ...)` is the `tf.data` pipeline for `model.fit`.
- `encode(utterances, settings, tokenizer)` encodes raw utterances (for
  serving) exactly as training did; `PreprocessingSettings` holds how.
- `inspect(path)` describes a file; `sample` is a built-in MOSEI-layout dataset.
- `fitting.fit_config(config, dataset)` refuses data whose task, text input,
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

from glomo_keras.data import sample
from glomo_keras.data.alignment import make_tokenizer
from glomo_keras.data.common import Utterance
from glomo_keras.data.encoding import encode, encode_labels
from glomo_keras.data.errors import DataFormatError
from glomo_keras.data.inspection import inspect
from glomo_keras.data.loading import LoadedDataset, Split, detect_format, load, read
from glomo_keras.data.pipeline import make_dataset
from glomo_keras.data.preprocessor import GLoMoPreprocessor
from glomo_keras.data.settings import PreprocessingSettings
from glomo_keras.data.unpickler import load_pickle

__all__ = [
    "DataFormatError",
    "GLoMoPreprocessor",
    "LoadedDataset",
    "PreprocessingSettings",
    "Split",
    "Utterance",
    "detect_format",
    "encode",
    "encode_labels",
    "inspect",
    "load",
    "load_pickle",
    "make_dataset",
    "make_tokenizer",
    "read",
    "sample",
]
