"""glomo-keras: GLoMo multimodal sentiment analysis in Keras 3.

Example:

```python
from glomo_keras import GLoMo, GLoMoConfig
from glomo_keras.backbones import load_backbone

backbone, tokenizer = load_backbone("minilm")
model = GLoMo(GLoMoConfig.for_dataset("mosei"), backbone)
```
"""

import os

# Quiet TensorFlow's C++ start-up logs unless the user asked for them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def __getattr__(name):
    # GLoMo and GLoMoConfig are imported on first use, so that importing the
    # package (the command line) does not import Keras before `--backend`
    # has set KERAS_BACKEND. Import `GLoMo` (or `glomo_keras.model`) before
    # `keras.saving.load_model` of a GLoMo `.keras` file: that registers it.
    if name == "GLoMo":
        from glomo_keras.model import GLoMo

        return GLoMo
    if name == "GLoMoConfig":
        from glomo_keras.config import GLoMoConfig

        return GLoMoConfig
    raise AttributeError(f"module 'glomo_keras' has no attribute {name!r}")
