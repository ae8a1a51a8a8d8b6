"""A REST server with TensorFlow Serving's API for an exported GLoMo model.

Standard library only (`http.server.ThreadingHTTPServer`) plus a
`Predictor`. Routes (`<name>` is the model name; `/versions/<v>` may follow
it, as in TF Serving):

- `GET /v1/models/<name>`: the version status, `AVAILABLE` once loaded.
- `GET /v1/models/<name>/metadata`: the `serving_default` signature and the
  preprocessing settings.
- `POST /v1/models/<name>:predict`: TF Serving's predict request with model
  inputs, row format `{"instances": [{input: value, ...}, ...]}` answered by
  `{"predictions": [{output: value, ...}, ...]}`, or columnar format
  `{"inputs": {input: batch_value, ...}}` answered by
  `{"outputs": {output: batch_value, ...}}`.
- `POST /v1/models/<name>:analyze`: raw utterances
  `{"instances": [{"words": [...], "acoustic": [[...] per word],
  "visual": [[...] per word]}]}` (HKT models also `"context"`), tokenised on
  the server, answered by `{"predictions": [{"sentiment": float,
  "modality_weights": {"text", "acoustic", "visual"}}, ...]}`
  (classification: `"probabilities"` and `"label"` in place of
  `"sentiment"`).

Every error is a 4xx (5xx for a server fault) with the body
`{"error": "..."}` naming the problem; the server keeps serving. JSON
numbers must be finite (`NaN`, `Infinity` and overflowing literals are
refused). Each request is logged to stderr: method, path, status and
milliseconds.
"""

import http.server
import json
import math
import re
import socket
import sys
import time
import traceback
import urllib.parse

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from glomo_keras.serving.predictor import OUTPUT_NAMES, SIGNATURE_NAME, Predictor

DEFAULT_MAX_BODY_BYTES = 10 * 2**20
# An oversized body is read and dropped up to this size before the 413 is
# sent, so the client reads the answer instead of a connection reset.
DRAIN_LIMIT_BYTES = 64 * 2**20
ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?P<action>/metadata|:predict|:analyze)?$"
)
ROUTE_METHODS = {None: "GET", "/metadata": "GET", ":predict": "POST", ":analyze": "POST"}
API = (
    "GET /v1/models/<name>, GET /v1/models/<name>/metadata, "
    "POST /v1/models/<name>:predict, POST /v1/models/<name>:analyze"
)


class RequestError(Exception):
    """A request the server refuses, with its HTTP status.

    Args:
        status: the HTTP status code (4xx).
        message: what is wrong, for the `{"error": ...}` body.
        allow: the allowed method, for a 405's `Allow` header.
    """

    def __init__(self, status, message, allow=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.allow = allow


class ModelServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server of one model (build it with `make_server`).

    Args:
        address: `(host, port)`; port 0 picks a free port.
        predictor: the `Predictor` to serve.
        name: the model name of the URLs.
        max_body_bytes: the largest request body accepted (413 beyond).
    """

    daemon_threads = True

    def __init__(self, address, predictor, name, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
        self.predictor = predictor
        self.model_name = name
        self.max_body_bytes = max_body_bytes
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)

    @property
    def url(self):
        """The model's base URL, e.g. `http://127.0.0.1:8501/v1/models/mosi`."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.model_name}"


def make_server(model_base, name=None, host="127.0.0.1", port=8501,
                max_body_bytes=DEFAULT_MAX_BODY_BYTES):
    """A server of the exported model in `model_base`, ready to `serve_forever()`.

    Args:
        model_base: a model folder (`saved_models/mosi`, its highest version
            is served) or one version folder.
        name: the model name in the URLs; default: the model folder's name.
        host: the address to bind; 127.0.0.1 (this machine only) by default.
        port: the port; 0 picks a free one (see `server.server_address`).
        max_body_bytes: the largest request body accepted (10 MiB default).

    Returns:
        a `ModelServer`; run `serve_forever()`, stop with `shutdown()` from
        another thread, then `server_close()`.

    Example:

    ```python
    server = make_server("saved_models/mosi", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.url)   # http://127.0.0.1:41234/v1/models/mosi
    ```
    """
    predictor = Predictor(model_base)
    return ModelServer((host, port), predictor, name or predictor.name, max_body_bytes)


class RequestHandler(http.server.BaseHTTPRequestHandler):
    """Answers one HTTP request of TF Serving's REST API (see the module doc)."""

    server_version = "glomo-keras"
    # Seconds a client may stall while sending its request.
    timeout = 60

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def log_request(self, code="-", size="-"):
        """Silenced: `_handle` logs each request once, with its duration."""

    def _handle(self, method):
        start = time.perf_counter()
        allow = None
        try:
            body = self._read_body(required=method == "POST")
            status, payload = 200, self._route(method, body)
        except RequestError as error:
            status, payload, allow = error.status, {"error": error.message}, error.allow
        except ValueError as error:
            status, payload = 400, {"error": str(error)}
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            status = 500
            payload = {"error": f"internal error: {type(error).__name__}: {error}"}
        # Logged before the answer leaves, so a client never outruns its log line.
        milliseconds = 1000 * (time.perf_counter() - start)
        self.log_message("%s %s %d %.1f ms", method, self.path, status, milliseconds)
        self._send_json(status, payload, allow)

    def _read_body(self, required):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise RequestError(411, "chunked request bodies are not supported; send Content-Length")
        text = self.headers.get("Content-Length")
        if text is None:
            if required:
                raise RequestError(411, "a Content-Length header is required")
            return b""
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            raise RequestError(400, f"invalid Content-Length {text!r}")
        limit = self.server.max_body_bytes
        if length > limit:
            if length <= DRAIN_LIMIT_BYTES:
                self._discard(length)
            raise RequestError(
                413, f"the request body has {length} bytes; the limit is {limit} bytes"
            )
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(408, "the request body did not arrive in time") from None
        if len(body) != length:
            raise RequestError(
                400, f"the request body ended after {len(body)} of {length} bytes"
            )
        return body

    def _discard(self, length):
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 2**16))
                if not chunk:
                    return
                length -= len(chunk)
        except TimeoutError:
            return

    def _route(self, method, body):
        path = urllib.parse.urlsplit(self.path).path
        match = ROUTE.match(path)
        if match is None:
            raise RequestError(404, f"unknown path {path!r}; the API is {API}")
        action = match["action"]
        expected = ROUTE_METHODS[action]
        if method != expected:
            raise RequestError(
                405, f"{method} is not allowed on {path}; use {expected}", allow=expected
            )
        self._check_model(match["name"], match["version"])
        predictor = self.server.predictor
        if action is None:
            return {"model_version_status": [{
                "version": str(predictor.version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }]}
        if action == "/metadata":
            return _metadata(self.server.model_name, predictor.metadata())
        request = _parse_json(body)
        if action == ":predict":
            return _predict(predictor, request)
        if set(request) != {"instances"}:
            raise RequestError(
                400, 'an analyze request is {"instances": [...]}; '
                f"found the keys {sorted(request)}"
            )
        return {"predictions": predictor.analyze(request["instances"])}

    def _check_model(self, name, version):
        served = self.server.model_name
        if name != served:
            raise RequestError(
                404, f"model {name!r} is not served here; this server serves {served!r}"
            )
        available = self.server.predictor.version
        if version is not None and int(version) != available:
            raise RequestError(
                404, f"version {version} of model {name!r} is not available; "
                f"the available version is {available}"
            )

    def _send_json(self, status, payload, allow=None):
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if allow:
                self.send_header("Allow", allow)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _parse_json(body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text") from None
    try:
        request = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error}") from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(request, dict):
        raise RequestError(
            400, f"the request body must be a JSON object, found {type(request).__name__}"
        )
    return request


def _refuse_constant(name):
    raise RequestError(400, f"non-finite number {name} in the request; numbers must be finite")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise RequestError(400, f"number {text} is out of range; numbers must be finite")
    return value


def _predict(predictor, request):
    unknown = sorted(set(request) - {"instances", "inputs", "signature_name"})
    formats = [key for key in ("instances", "inputs") if key in request]
    if unknown or len(formats) != 1:
        raise RequestError(
            400, 'a predict request holds exactly one of "instances" (row format) or '
            f'"inputs" (columnar format), and optionally "signature_name"; found the keys '
            f"{sorted(request)}"
        )
    signature = request.get("signature_name", SIGNATURE_NAME)
    if signature != SIGNATURE_NAME:
        raise RequestError(
            400, f"unknown signature_name {signature!r}; this model has {SIGNATURE_NAME!r}"
        )
    if formats == ["inputs"]:
        if not isinstance(request["inputs"], dict):
            raise RequestError(400, '"inputs" must be an object mapping input names to batches')
        outputs = predictor.predict(request["inputs"])
        return {"outputs": {name: outputs[name].tolist() for name in OUTPUT_NAMES}}
    inputs = _stack_instances(request["instances"], sorted(predictor.input_specs))
    outputs = predictor.predict(inputs)
    size = len(request["instances"])
    return {"predictions": [
        {name: outputs[name][index].tolist() for name in OUTPUT_NAMES}
        for index in range(size)
    ]}


def _stack_instances(instances, names):
    """Row-format instances -> `{name: batch array}`, with errors naming the instance."""
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, '"instances" must be a non-empty list of objects')
    columns = {name: [] for name in names}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RequestError(
                400, f"instance {index}: expected an object with the inputs {names}, "
                f"found {type(instance).__name__}"
            )
        missing = sorted(set(names) - set(instance))
        unknown = sorted(set(instance) - set(names))
        if missing or unknown:
            raise RequestError(
                400, f"instance {index}: expected the inputs {names}; "
                f"missing {missing}, unknown {unknown}"
            )
        for name in names:
            try:
                value = np.asarray(instance[name])
            except ValueError:
                value = None
            if value is None or value.dtype.kind not in "iuf":
                raise RequestError(
                    400, f"instance {index}, input {name!r}: not a rectangular array of numbers"
                )
            first = columns[name][0] if columns[name] else value
            if value.shape != first.shape:
                raise RequestError(
                    400, f"instance {index}, input {name!r}: shape {value.shape} differs "
                    f"from instance 0's {first.shape}; row-format instances must have "
                    "equal shapes (pad them, or use the columnar format)"
                )
            columns[name].append(value)
    return {name: np.stack(values) for name, values in columns.items()}


def _metadata(name, metadata):
    """TF Serving's metadata answer (a faithful subset) plus the preprocessing."""

    def tensor_info(spec):
        return {
            "dtype": types_pb2.DataType.Name(tf.as_dtype(spec["dtype"]).as_datatype_enum),
            "tensor_shape": {
                "dim": [{"size": str(-1 if size is None else size), "name": ""}
                        for size in spec["shape"]],
                "unknown_rank": False,
            },
        }

    return {
        "model_spec": {
            "name": name, "signature_name": "", "version": str(metadata["version"]),
        },
        "metadata": {
            "signature_def": {"signature_def": {SIGNATURE_NAME: {
                "inputs": {key: tensor_info(spec) for key, spec in metadata["inputs"].items()},
                "outputs": {key: tensor_info(spec) for key, spec in metadata["outputs"].items()},
                "method_name": "tensorflow/serving/predict",
            }}},
            "glomo": {
                "preprocessing": metadata["preprocessing"],
                "model_config": metadata["model_config"],
                "export_metadata": metadata["export_metadata"],
            },
        },
    }
