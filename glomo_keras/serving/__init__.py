"""Serving: run an exported GLoMo SavedModel with TensorFlow alone.

- `Predictor(path)` loads a version folder (or the highest version of a
  model folder) written by `glomo_keras.export.export_saved_model`, and
  offers `predict` (model inputs), `analyze` (raw utterances, tokenised as
  in training) and `metadata`.
- `make_server(model_base, name)` is a REST server (`server.py`: a
  Starlette app run by uvicorn) with TensorFlow Serving's API
  (`tf_serving.py`: `/v1/models/<name>`, `/metadata`, `:predict`, plus
  `:analyze` for raw utterances), the Open Inference Protocol, KServe V2
  (`open_inference.py`: `/v2/...`) and Prometheus metrics (`metrics.py`);
  `glomo-keras serve` runs it. Under it: `protocol.py` (uvicorn's h11
  protocol with JSON protocol errors, a connection limit and a head
  timer), `limits.py` (the limits and their messages), `payload.py` (JSON
  bodies, refusals, batcher jobs) and `batching.Batcher` (dynamic batching
  with a bounded queue). `docs/serving.md` is the user's guide.

Example:

```python
from glomo_keras.serving import Predictor

predictor = Predictor("saved_models/mosi")
predictor.analyze([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}])
```
"""

import importlib

# Imported on first use, so that `glomo_keras.serving.defaults` and
# `limits` load without TensorFlow.
_EXPORTS = {"Limits": "limits", "Predictor": "predictor", "make_server": "server"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
