"""Training: `train(config, data, output_dir, options, ...)` and its parts.

`glomo_keras.training.devices`, `options` and `flags` import no Keras at
module level, so that the command line and the recipes can choose the
backend first; `train`, `RunExistsError` and `prepare_data` are imported
on first use for the same reason.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.training import TrainingOptions, train

train(GLoMoConfig.for_dataset("mosei"), "datasets/mosei.pkl", "runs/mosei",
      TrainingOptions.for_dataset("mosei", epochs=3))
```
"""


def __getattr__(name):
    if name in ("train", "RunExistsError", "prepare_data"):
        from glomo_keras.training import trainer

        return getattr(trainer, name)
    if name == "TrainingOptions":
        from glomo_keras.training.options import TrainingOptions

        return TrainingOptions
    raise AttributeError(f"module 'glomo_keras.training' has no attribute {name!r}")
