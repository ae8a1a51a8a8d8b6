"""glomo-keras: GLoMo multimodal sentiment analysis in Keras 3.

The public API: `GLoMoConfig` (the architecture), `GLoMo` (the model),
`TrainingOptions` (how to train) and `train` (what `glomo-keras train` and
the recipes run).

Example:

```python
from glomo_keras import GLoMo, GLoMoConfig, TrainingOptions, train
from glomo_keras.backbones import load_backbone

backbone, tokenizer = load_backbone("minilm")
model = GLoMo(GLoMoConfig.for_dataset("mosei"), backbone)
results = train(GLoMoConfig.for_dataset("mosei"), "datasets/mosei.pkl", "runs/mosei",
                TrainingOptions.for_dataset("mosei", epochs=3))
```
"""

import importlib
import os

# Quiet TensorFlow's C++ start-up logs unless the user asked for them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


# The public API, imported on first use, so that importing the package (the
# command line, a recipe's first lines) does not import Keras before
# `--backend` has set KERAS_BACKEND. Import `GLoMo` (or `glomo_keras.model`)
# before `keras.saving.load_model` of a GLoMo `.keras` file: that registers it.
_PUBLIC = {
    "GLoMo": "glomo_keras.model",
    "GLoMoConfig": "glomo_keras.config",
    "TrainingOptions": "glomo_keras.training.options",
    "train": "glomo_keras.training.trainer",
}


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'glomo_keras' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
