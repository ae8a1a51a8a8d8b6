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

from glomo_keras.backbones import GeluBertBackbone  # noqa: E402
from glomo_keras.config import GLoMoConfig  # noqa: E402
from glomo_keras.model import GLoMo  # noqa: E402

__version__ = "0.1.0"
