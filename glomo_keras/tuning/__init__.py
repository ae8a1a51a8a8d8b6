"""Hyper-parameter search with KerasTuner, on the validation split only.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.tuning import tune

best = tune(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl", "tuning/mosi", trials=20)
```
"""

from glomo_keras.tuning.search import OBJECTIVES
from glomo_keras.tuning.search import tune
from glomo_keras.tuning.space import SPACE
from glomo_keras.tuning.space import suggest

__all__ = ["OBJECTIVES", "SPACE", "suggest", "tune"]
