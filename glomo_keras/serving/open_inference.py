"""The Open Inference Protocol (KServe V2) over REST: requests parsed, answers built.

The routes of the protocol's HTTP/REST binding, so that KServe's and
Triton's clients work unchanged: `GET /v2/health/live|ready`, `GET /v2`,
`GET /v2/models/<name>[/versions/<v>][/ready]` and `POST .../infer`
(`{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data"}],
"outputs"?: [{"name"}]}`, answered with flat row-major `data`). The inputs
are those of `serving_default` or, when they include `words` (or
`parameters.signature_name` is "analyze"), the raw words of the `analyze`
signature; a cut utterance adds the output `truncated_to` INT32 [B] (-1
where none was cut), or is refused with `parameters.truncate` false. JSON
data only: the binary tensor extension is refused (400).

Example:

```python
job = parse_body("/infer", body, predictor, limits, 16)
answer(job, results, predictor, "mosi")
```
"""

import re

import numpy as np

from glomo_keras import __version__
from glomo_keras.serving.payload import RequestError, check_signature, check_truncate
from glomo_keras.serving.payload import joined_outputs, json_type, parse_json, tensors_job
from glomo_keras.serving.predictor import ANALYZE_SIGNATURE, SIGNATURE_NAME

ROUTE = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>\d+))?(?P<action>/ready|/infer)?$"
)
ROUTE_NAMES = {None: "v2_metadata", "/ready": "v2_model_ready", "/infer": "v2_infer"}
# numpy dtype names -> the protocol's tensor data types.
DATATYPES = {"float32": "FP32", "float64": "FP64", "int32": "INT32", "int64": "INT64",
             "bool": "BOOL", "string": "BYTES"}


def server_metadata():
    """The answer of `GET /v2`."""
    return {"name": "glomo-keras", "version": __version__, "extensions": []}


def model_metadata(name, predictor):
    """The answer of `GET /v2/models/<name>`."""
    signatures = {
        signature: {"inputs": _tensors(inputs), "outputs": _tensors(outputs)}
        for signature, (inputs, outputs) in predictor.signatures.items()
    }
    return {
        "name": name,
        "versions": [str(predictor.version)],
        "platform": "tensorflow_savedmodel",
        "inputs": signatures[SIGNATURE_NAME]["inputs"],
        "outputs": signatures[SIGNATURE_NAME]["outputs"],
        "parameters": {"signatures": signatures},
    }


def parse_body(action, body, predictor, limits, max_batch_size):
    """The `Job` of an infer request's body (bytes), or a `RequestError`/ValueError.

    Args:
        action, body, predictor, limits, max_batch_size: as for `tf_serving.parse_body`.
    """
    request = parse_json(body)
    unknown = sorted(set(request) - {"id", "parameters", "inputs", "outputs"})
    if unknown or not isinstance(request.get("inputs"), list) or not request["inputs"]:
        raise RequestError(
            400, 'an infer request is {"inputs": [{"name", "shape", "datatype", "data"}, ...]} '
            f'with optionally "id", "parameters", "outputs"; found the keys {sorted(request)}'
        )
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError(400, f'"parameters" must be an object, found {json_type(parameters)}')
    tensors, datatypes = {}, {}
    for index, tensor in enumerate(request["inputs"]):
        name, datatype, array = _input_array(index, tensor, limits)
        if name in tensors:
            raise RequestError(400, f"input {name!r} is given twice")
        tensors[name] = array
        datatypes[name] = datatype
    default = ANALYZE_SIGNATURE if "words" in tensors else SIGNATURE_NAME
    signature = parameters.get("signature_name", default)
    check_signature(signature, predictor)
    input_specs, output_specs = predictor.signatures[signature]
    for name, datatype in datatypes.items():
        spec = input_specs.get(name)  # the Predictor names unknown inputs
        if spec is not None and datatype != DATATYPES[spec.dtype.name]:
            raise RequestError(400, f"input {name!r}: expected datatype "
                               f"{DATATYPES[spec.dtype.name]} with shape {_shape(spec)}, "
                               f"found {datatype}")
    wanted = _requested_outputs(request.get("outputs"), output_specs)
    truncate = check_truncate(parameters.get("truncate", True), 'parameter "truncate"')
    job = tensors_job("v2", signature, tensors, predictor, max_batch_size, truncate)
    job.outputs = wanted
    job.request_id = request.get("id")
    return job


def answer(job, results, predictor, name):
    """The answer of an infer request from its parts' outputs (a ValueError if not finite)."""
    outputs = joined_outputs(results)
    names = job.outputs or sorted(outputs)
    answer = [_output(key, outputs[key]) for key in names]
    kept = job.words_kept or []
    if any(count is not None for count in kept):
        answer.append(_output("truncated_to", np.array(
            [-1 if count is None else count for count in kept], np.int32)))
    payload = {"model_name": name, "model_version": str(predictor.version), "outputs": answer}
    if job.request_id is not None:
        payload["id"] = job.request_id
    return payload


def _tensors(specs):
    return [{"name": key, "datatype": DATATYPES[spec.dtype.name], "shape": _shape(spec)}
            for key, spec in sorted(specs.items())]


def _shape(spec):
    return [-1 if size is None else size for size in spec.shape.as_list()]


def _input_array(index, tensor, limits):
    """`(name, datatype, array)` of one input tensor of a request, shaped as it says."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise RequestError(400, f"inputs[{index}]: expected an object with a string \"name\"")
    name = tensor["name"]
    where = f"input {name!r}"
    if "parameters" in tensor and "binary_data_size" in (tensor["parameters"] or {}):
        raise RequestError(400, f"{where}: binary tensor data is not supported; send JSON "
                           '"data"')
    shape, datatype, data = tensor.get("shape"), tensor.get("datatype"), tensor.get("data")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise RequestError(400, f"{where}: \"shape\" must be a non-empty list of "
                           f"non-negative integers, found {shape!r}")
    if shape[0] > limits.max_instances:
        raise RequestError(413, limits.too_many_instances(shape[0]))
    if datatype not in DATATYPES.values():
        raise RequestError(400, f"{where}: unknown datatype {datatype!r}; expected one of "
                           f"{sorted(DATATYPES.values())}")
    if not isinstance(data, list):
        raise RequestError(400, f"{where}: \"data\" must be a list, found {json_type(data)}")
    try:
        array = np.asarray(data, dtype=str if datatype == "BYTES" else None)
    except (ValueError, TypeError):
        array = None
    if array is None or array.size != int(np.prod(shape)):
        size = "ragged" if array is None else f"{array.size} values"
        raise RequestError(400, f"{where}: \"data\" must hold {int(np.prod(shape))} values "
                           f"for the shape {shape} ({datatype}), found {size}")
    return name, datatype, array.reshape(shape)


def _requested_outputs(requested, specs):
    if requested is None:
        return None
    names = [item.get("name") if isinstance(item, dict) else None for item in requested]
    unknown = [name for name in names if name not in specs]
    if not isinstance(requested, list) or unknown:
        raise RequestError(400, f"unknown outputs {unknown}; this signature has {sorted(specs)}")
    return names


def _output(name, array):
    datatype = "BYTES" if array.dtype.kind == "U" else DATATYPES[array.dtype.name]
    return {"name": name, "datatype": datatype, "shape": list(array.shape),
            "data": array.reshape(-1).tolist()}
