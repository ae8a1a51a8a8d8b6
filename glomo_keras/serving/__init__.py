"""Serving: run an exported GLoMo SavedModel with TensorFlow alone.

- `Predictor(path)` loads a version folder (or the highest version of a
  model folder) written by `glomo_keras.export.export_saved_model`, and
  offers `predict` (model inputs), `analyze` (raw utterances, tokenised as
  in training) and `metadata`.
- `make_server(model_base, name)` is a REST server with TensorFlow
  Serving's API (`/v1/models/<name>`, `/metadata`, `:predict`) plus
  `:analyze` for raw utterances and Prometheus metrics; `glomo-keras serve`
  runs it. It is built from `http_server.HttpServer` (asyncio HTTP/1.1,
  JSON errors, limits, timeouts, graceful stop, access log),
  `batching.Batcher` (dynamic batching with a bounded queue) and
  `metrics.ServingMetrics`.

Example:

```python
from glomo_keras.serving import Predictor

predictor = Predictor("saved_models/mosi")
predictor.analyze([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}])
```
"""

from glomo_keras.serving.predictor import Predictor
from glomo_keras.serving.server import make_server

__all__ = ["Predictor", "make_server"]
