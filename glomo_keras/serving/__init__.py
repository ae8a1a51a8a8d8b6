"""Serving: run an exported GLoMo SavedModel with TensorFlow alone.

`Predictor(path)` runs an export of `glomo_keras.export.export_saved_model`
(`predict`, `analyze`, `metadata`); `make_server(model_base, name)` serves
it over TensorFlow Serving's REST API and KServe V2 with Prometheus
metrics (`glomo-keras serve`). `docs/serving.md` is the guide.

Example:

```python
from glomo_keras.serving import Predictor

predictor = Predictor("saved_models/mosi")
predictor.analyze([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}])
```
"""

import importlib

# Imported on first use, so that `glomo_keras.serving.limits` loads without TensorFlow.
_EXPORTS = {"Limits": "limits", "Predictor": "predictor", "make_server": "server"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
