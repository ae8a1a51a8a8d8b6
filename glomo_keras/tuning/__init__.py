"""Hyper-parameter search with KerasTuner, on the validation split only.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.tuning import tune

best = tune(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl", "tuning/mosi", trials=20)
```
"""

import importlib

from glomo_keras.tuning.space import SPACE
from glomo_keras.tuning.space import suggest

__all__ = ["OBJECTIVES", "SPACE", "suggest", "tune"]


def __getattr__(name):
    # `tune` and `OBJECTIVES` import Keras and KerasTuner: only on first use,
    # so that the command line's flags (`SPACE`) import neither.
    if name in ("OBJECTIVES", "tune"):
        return getattr(importlib.import_module("glomo_keras.tuning.search"), name)
    raise AttributeError(f"module 'glomo_keras.tuning' has no attribute {name!r}")
