"""Request bodies: strict JSON, the refusals of a request, and batcher jobs.

Both APIs (`tf_serving.py`, `open_inference.py`) parse their bodies with
`parse_json`, refuse with `RequestError` and hand the model a `Job`: the
request's inputs cut into parts of at most `max_batch_size` instances.

Example:

```python
body = parse_json(b'{"instances": [...]}')
job = make_job("analyze", predictor.encode_instances(body["instances"]), 16, raw=True)
```
"""

import dataclasses
import json
import math
import re

import numpy as np

from glomo_keras.serving.predictor import ANALYZE_SIGNATURE, check_finite


class RequestError(Exception):
    """A request the server refuses, with its HTTP status and extra headers.

    Args:
        status: the HTTP status code (4xx, or 503 when busy).
        message: what is wrong, for the `{"error": ...}` body.
        headers: extra `(name, value)` headers, e.g. `Allow` or `Retry-After`.

    Example:

    ```python
    raise RequestError(405, "GET is not allowed here; use POST", [("Allow", "POST")])
    ```
    """

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


@dataclasses.dataclass
class Job:
    """A parsed model request: its input parts and how to answer it.

    Attributes:
        kind: how to answer: `"analyze"`, `"rows"`, `"columns"` or `"v2"`.
        parts: `[(inputs, size)]`, each at most `max_batch_size` instances.
        key: the shapes the parts share: parts batch only with equal keys.
        size: the instances in the request.
        words_kept: per instance, the words kept of a cut utterance, or None.
        outputs: the output names the client asked for (None: all).
        lengths: raw utterances: per part, the words (context included) of
            its longest utterance, to batch similar lengths; else None.
        request_id: the `"id"` of an infer request, echoed in its answer.
    """

    kind: str
    parts: list
    key: tuple
    size: int
    words_kept: list = None
    outputs: list = None
    lengths: list = None
    request_id: object = None


def make_job(kind, inputs, max_batch_size, raw=False, words_kept=None):
    """The `Job` of a request's checked inputs.

    Args:
        kind: see `Job`.
        inputs: `{name: np.ndarray}`, batch axis first.
        max_batch_size: the most instances in one part.
        raw: raw utterances of any length (`run_batch` pads them): they batch
            with every other raw request, and `Job.lengths` is recorded.
        words_kept: see `Job`.

    Example:

    ```python
    make_job("columns", predictor.check_inputs(arrays), 16)
    ```
    """
    size = len(next(iter(inputs.values())))
    parts = [
        ({name: array[start:start + max_batch_size] for name, array in inputs.items()},
         min(max_batch_size, size - start))
        for start in range(0, size, max_batch_size)
    ]
    if not raw:
        key = tuple((name, array.shape[1:], array.dtype.str)
                    for name, array in sorted(inputs.items()))
        return Job(kind, parts, key, size, words_kept)
    lengths = [
        int(sum((part[name] != "").sum(axis=1) for name in ("words", "context_words")
                if name in part).max())
        for part, _ in parts
    ]
    return Job(kind, parts, ("raw",), size, words_kept, lengths=lengths)


def tensors_job(kind, signature, tensors, predictor, max_batch_size, truncate=True):
    """The `Job` of a signature's batch tensors (`analyze`: raw utterances, "" pads words)."""
    inputs = predictor.check_inputs(tensors, signature)
    if signature != ANALYZE_SIGNATURE:
        return make_job(kind, inputs, max_batch_size)
    kept = predictor.words_kept(
        [{"words": [word for word in row if word]} for row in inputs["words"]], truncate)
    return make_job(kind, inputs, max_batch_size, raw=True, words_kept=kept)


def joined_outputs(results):
    """The outputs of a job's parts joined on the batch axis (a ValueError if not finite)."""
    outputs = {name: np.concatenate([result[name] for result in results]) for name in results[0]}
    check_finite(outputs)
    return outputs


def parse_json(body):
    """The JSON object of a request body, numbers finite, or a 400 `RequestError`.

    Example:

    ```python
    parse_json(b'{"instances": [1]}')   # {"instances": [1]}
    ```
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text") from None
    try:
        request = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error}") from None
    except ValueError:  # Python's limit on the digits of an integer
        raise RequestError(400, "malformed JSON: a number has too many digits") from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(request, dict):
        raise RequestError(
            400, f"the request body must be a JSON object, found {type(request).__name__}"
        )
    return request


def count_key(body, key):
    """How many objects of a JSON body have the key `key`, counted without parsing it.

    A key is a string followed by a colon (not a value, not inside a
    string): a row-format body's instances, at a regular expression's speed.

    Example:

    ```python
    count_key(b'{"instances": [{"words": ["words"]}, {"words": []}]}', "words")   # 2
    ```
    """
    quoted = b'"' + key.encode("utf-8") + b'"'
    pattern = re.compile(rb"(?<!\\)" + re.escape(quoted) + rb"\s*:")
    return sum(1 for _ in pattern.finditer(body))


def check_signature(name, predictor):
    """Refuses (400) a `signature_name` that the served model does not have."""
    if name not in predictor.signatures:
        raise RequestError(400, f"unknown signature_name {name!r}; this model has "
                           f"{sorted(predictor.signatures)}")


def check_count(items, limits):
    """Refuses a list of more than `limits.max_instances` items (413)."""
    if isinstance(items, (list, tuple)) and len(items) > limits.max_instances:
        raise RequestError(413, limits.too_many_instances(len(items)))


def check_truncate(value, name):
    """`value` if it is true or false, else a 400 `RequestError` naming the field `name`."""
    if not isinstance(value, bool):
        raise RequestError(400, f"{name} must be true or false, found {json_type(value)}")
    return value


def json_type(value):
    """The JSON name of a parsed value's type, for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _refuse_constant(name):
    raise RequestError(400, f"non-finite number {name} in the request; numbers must be finite")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise RequestError(400, f"number {text} is out of range; numbers must be finite")
    return value
