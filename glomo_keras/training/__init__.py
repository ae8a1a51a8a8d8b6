"""Training: `train(config, data, output_dir, ...)` and its parts.

`glomo_keras.training.devices` imports no Keras at module level, so that
the command line can choose the backend first; `train` and
`RunExistsError` and `prepare_data` are imported on first use for the same
reason.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.training import train

train(GLoMoConfig.for_dataset("mosei"), "datasets/mosei.pkl", "runs/mosei")
```
"""


def __getattr__(name):
    if name in ("train", "RunExistsError", "prepare_data"):
        from glomo_keras.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'glomo_keras.training' has no attribute {name!r}")
