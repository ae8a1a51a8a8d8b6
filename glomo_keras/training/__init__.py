"""Training: `train(config, data, output_dir, options, ...)` and its parts.

`devices`, `options` and `flags` import no Keras, so that the backend can
be chosen first; `train`, `RunExistsError` and `prepare_data` are imported
on first use.

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
