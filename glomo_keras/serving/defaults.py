"""The defaults of the model server's settings, importable without TensorFlow.

`glomo-keras serve --help` shows them without loading TensorFlow; the
server (`ModelServer`) takes them as its defaults. The limits on requests
and connections are the fields of `limits.Limits`.

Example:

```python
from glomo_keras.serving import defaults

defaults.MAX_BATCH_SIZE   # 16
```
"""

PORT = 8501
MAX_BATCH_SIZE = 16
BATCH_TIMEOUT_MS = 10.0
MAX_ENQUEUED_BATCHES = 3
BATCH_THREADS = 1
WORKERS = 2
DRAIN_TIMEOUT = 30.0
