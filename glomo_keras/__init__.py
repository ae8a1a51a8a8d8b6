"""glomo-keras: GLoMo multimodal sentiment analysis in Keras 3.

Example:

```python
from glomo_keras import GLoMo, GLoMoConfig
from glomo_keras.backbones import load_backbone

backbone, tokenizer = load_backbone("minilm")
model = GLoMo(GLoMoConfig.for_dataset("mosei"), backbone)
```
"""

from glomo_keras.config import GLoMoConfig
from glomo_keras.model import GLoMo

__version__ = "0.1.0"
