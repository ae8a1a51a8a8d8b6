"""TensorFlow Serving's REST API: its requests parsed into jobs, its answers built.

Routes (`<name>` is the model name; `/versions/<v>` may follow it):
`GET /v1/models/<name>` (the version status), `GET .../metadata` (every
signature, plus the preprocessing), `POST ...:predict` (row format
`{"instances": [...]}` or columnar `{"inputs": {...}}`, of `serving_default`
or, with `"signature_name": "analyze"`, of the raw-words signature) and
`POST ...:analyze` (raw utterances answered by sentiment or class and
modality weights). A cut utterance's answer holds `"truncated_to"` (the
words kept); `"truncate": false` refuses it instead. `docs/serving.md` has
request examples.

Example:

```python
job = parse_body(":analyze", body, predictor, limits, 16)
outputs = [predictor.run_batch([inputs])[0] for inputs, _ in job.parts]
answer(job, outputs, predictor, "mosi")   # {"predictions": [...]}
```
"""

import re

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from glomo_keras.data.common import UTTERANCE_FIELDS
from glomo_keras.serving.payload import RequestError, check_count, check_signature
from glomo_keras.serving.payload import check_truncate, count_key, joined_outputs, json_type
from glomo_keras.serving.payload import make_job, parse_json, tensors_job
from glomo_keras.serving.predictor import ANALYZE_SIGNATURE, SIGNATURE_NAME
from glomo_keras.serving.predictor import check_input_names, describe_spec

ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?P<action>/metadata|:predict|:analyze)?$"
)
ROUTE_NAMES = {None: "status", "/metadata": "metadata", ":predict": "predict",
               ":analyze": "analyze"}


def parse_body(action, body, predictor, limits, max_batch_size):
    """The `Job` of a `:predict` or `:analyze` body (bytes), or a `RequestError`/ValueError.

    A row-format body of more instances than `limits.max_instances` is
    refused (413) before it is parsed, its instances counted by key (`count_key`).

    Args:
        action: `":predict"` or `":analyze"`.
        body: the request body.
        predictor: the served `Predictor`.
        limits: the server's `Limits`.
        max_batch_size: the batcher's part size.
    """
    for key in (UTTERANCE_FIELDS[predictor.preprocessor.format][0], sorted(predictor.input_specs)[0]):
        # The quoted key counted as plain bytes is an upper bound, at memory speed.
        if body.count(f'"{key}"'.encode("utf-8")) > limits.max_instances:
            count = count_key(body, key)
            if count > limits.max_instances:
                raise RequestError(413, limits.too_many_instances(count))
    request = parse_json(body)
    truncate = check_truncate(request.get("truncate", True), '"truncate"')
    if action == ":analyze":
        if set(request) - {"instances", "truncate"} or "instances" not in request:
            raise RequestError(
                400, 'an analyze request is {"instances": [...]} with optionally '
                f'"truncate"; found the keys {sorted(request)}'
            )
        return _utterances_job("analyze", request["instances"], predictor, limits,
                               max_batch_size, truncate)
    unknown = sorted(set(request) - {"instances", "inputs", "signature_name", "truncate"})
    formats = [key for key in ("instances", "inputs") if key in request]
    if unknown or len(formats) != 1:
        raise RequestError(
            400, 'a predict request holds exactly one of "instances" (row format) or '
            f'"inputs" (columnar format), and optionally "signature_name"; found the keys '
            f"{sorted(request)}"
        )
    signature = request.get("signature_name", SIGNATURE_NAME)
    check_signature(signature, predictor)
    if formats == ["inputs"]:
        if not isinstance(request["inputs"], dict):
            raise RequestError(400, '"inputs" must be an object mapping input names to batches')
        for value in request["inputs"].values():
            check_count(value, limits)
        return tensors_job("columns", signature, request["inputs"], predictor, max_batch_size,
                           truncate)
    if signature == ANALYZE_SIGNATURE:
        return _utterances_job("rows", request["instances"], predictor, limits, max_batch_size,
                               truncate)
    check_count(request["instances"], limits)
    inputs = _stack_instances(request["instances"], predictor.input_specs)
    return tensors_job("rows", signature, inputs, predictor, max_batch_size)


def answer(job, results, predictor, name):
    """The JSON answer of a job from its parts' outputs (a ValueError if not finite)."""
    outputs = joined_outputs(results)
    kept = job.words_kept or [None] * job.size
    if job.kind == "analyze":
        return {"predictions": predictor.describe(outputs, kept)}
    if job.kind == "columns":
        payload = {"outputs": {name: value.tolist() for name, value in outputs.items()}}
        if any(count is not None for count in kept):
            payload["truncated_to"] = kept
        return payload
    predictions = []
    for index in range(job.size):
        prediction = {name: value[index].tolist() for name, value in outputs.items()}
        if kept[index] is not None:
            prediction["truncated_to"] = kept[index]
        predictions.append(prediction)
    return {"predictions": predictions}


def status(predictor):
    """TF Serving's model status answer."""
    return {"model_version_status": [{
        "version": str(predictor.version),
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }]}


def metadata(name, predictor):
    """TF Serving's metadata answer (a faithful subset) plus the preprocessing."""
    described = predictor.metadata()
    signatures = {
        signature: {
            "inputs": {key: _tensor_info(spec) for key, spec in inputs.items()},
            "outputs": {key: _tensor_info(spec) for key, spec in outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }
        for signature, (inputs, outputs) in predictor.signatures.items()
    }
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(predictor.version)},
        "metadata": {
            "signature_def": {"signature_def": signatures},
            "glomo": {key: described[key]
                      for key in ("preprocessing", "model_config", "export_metadata")},
        },
    }


def _utterances_job(kind, instances, predictor, limits, max_batch_size, truncate):
    check_count(instances, limits)
    inputs = predictor.encode_instances(instances)
    kept = predictor.words_kept(instances, truncate)
    return make_job(kind, inputs, max_batch_size, raw=predictor.raw_analyze, words_kept=kept)


def _tensor_info(spec):
    return {
        "dtype": types_pb2.DataType.Name(tf.as_dtype(spec.dtype).as_datatype_enum),
        "tensor_shape": {
            "dim": [{"size": str(-1 if size is None else size), "name": ""}
                    for size in spec.shape.as_list()],
            "unknown_rank": False,
        },
    }


def _stack_instances(instances, specs):
    """Row-format instances -> `{name: batch array}`, with errors naming the instance."""
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, '"instances" must be a non-empty list of objects')
    columns = {name: [] for name in sorted(specs)}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RequestError(
                400, f"instance {index}: expected an object with the inputs {sorted(specs)}, "
                f"found {json_type(instance)}"
            )
        check_input_names(instance, specs, f"instance {index}: ")
        for name, values in columns.items():
            where = f"instance {index}, input {name!r}"
            try:
                value = np.asarray(instance[name])
            except ValueError:
                value = None
            if value is None or value.dtype.kind not in "iuf":
                raise RequestError(400, f"{where}: expected a rectangular array of numbers "
                                   f"({describe_spec(specs[name], row=True)})")
            if values and value.shape != values[0].shape:
                raise RequestError(
                    400, f"{where}: shape {value.shape} differs from instance 0's "
                    f"{values[0].shape}; row-format instances must have equal shapes (pad "
                    "them, or use the columnar format)"
                )
            values.append(value)
    return {name: np.stack(values) for name, values in columns.items()}
