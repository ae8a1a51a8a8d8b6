"""Training: `train(config, data, output_dir, ...)` and its parts.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.training import train

train(GLoMoConfig.for_dataset("mosei"), "datasets/mosei.pkl", "runs/mosei")
```
"""

from glomo_keras.training.trainer import RunExistsError
from glomo_keras.training.trainer import train
