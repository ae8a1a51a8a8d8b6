"""A REST server with TensorFlow Serving's API for an exported GLoMo model.

Routes (`<name>` is the model name; `/versions/<v>` may follow it, as in
TF Serving):

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
- `GET /monitoring/prometheus/metrics`: Prometheus metrics (`metrics.py`).

HEAD works wherever GET does; OPTIONS answers 204 with `Allow`.

Every error is a 4xx (5xx for a server fault or overload) with the body
`{"error": "..."}` naming the problem; the server keeps serving. JSON
numbers must be finite both ways (`NaN`, `Infinity` and overflowing
literals are refused; outputs that are not finite are a 400).

Under load (`ModelServer`): the HTTP side is one asyncio event loop
(`http_server.py`: keep-alive, timeouts, connection limit, graceful stop,
JSON access log); a small thread pool parses and encodes requests; a
`Batcher` runs the instances of concurrent `:predict` and `:analyze`
requests together in calls of at most `max_batch_size` instances, so each
request is also split into such chunks; when the queue is full, a request
gets a 503 with `Retry-After` at once, before its body is even read.
"""

import asyncio
import concurrent.futures
import dataclasses
import json
import math
import re
import sys
import traceback

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from glomo_keras.serving.batching import Batcher, QueueFullError
from glomo_keras.serving.http_server import (
    HTTPError,
    HttpServer,
    Response,
    error_response,
    json_response,
)
from glomo_keras.serving.metrics import ServingMetrics
from glomo_keras.serving.predictor import (
    OUTPUT_NAMES,
    SIGNATURE_NAME,
    Predictor,
    check_finite,
)

# The defaults of `ModelServer` and `glomo-keras serve`.
DEFAULT_MAX_BODY_BYTES = 10 * 2**20
DEFAULT_MAX_INSTANCES = 256
DEFAULT_MAX_BATCH_SIZE = 16
DEFAULT_BATCH_TIMEOUT_MS = 10.0
DEFAULT_MAX_ENQUEUED_BATCHES = 3
DEFAULT_BATCH_THREADS = 1
DEFAULT_WORKERS = 2
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_DRAIN_TIMEOUT = 30.0
METRICS_PATH = "/monitoring/prometheus/metrics"
ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?P<action>/metadata|:predict|:analyze)?$"
)
ROUTE_NAMES = {None: "status", "/metadata": "metadata", ":predict": "predict",
               ":analyze": "analyze"}
API = (
    "GET /v1/models/<name>, GET /v1/models/<name>/metadata, "
    "POST /v1/models/<name>:predict, POST /v1/models/<name>:analyze, "
    f"GET {METRICS_PATH}"
)
GET_METHODS = ("GET", "HEAD", "OPTIONS")
POST_METHODS = ("POST", "OPTIONS")


@dataclasses.dataclass
class _Job:
    """A parsed model request: its input chunks and how to answer it."""

    kind: str  # "analyze", "rows" or "columns"
    parts: list  # [(inputs, size)], each at most max_batch_size instances
    key: tuple  # the shapes the chunks share, for the batcher
    size: int


class ModelServer:
    """A server of one model (build it with `make_server`).

    Args:
        address: `(host, port)`; port 0 picks a free port.
        predictor: the `Predictor` to serve.
        name: the model name of the URLs.
        max_body_bytes: the largest request body accepted (413 beyond).
        max_batch_size: the most instances in one model call; larger
            requests run in chunks of this size.
        batch_timeout_ms: how long a batch that is not full may wait for
            the requests being read or parsed (it never waits when none is).
        max_enqueued_batches: the batch queue holds this many full batches
            of instances, counting those of requests still being read or
            parsed (estimated from their `Content-Length`); beyond, requests
            get 503 at once.
        batch_threads: batches run at the same time.
        max_instances: the most instances in one request (413 beyond).
        workers: threads that parse, encode and answer requests.
        max_connections: the most open connections (503 beyond), and the
            listen backlog.
        drain_timeout: seconds a stop waits for the requests in flight.
        header_timeout, body_timeout, keep_alive_timeout: see `HttpServer`.
        log_stream: where the JSON access log goes (default stderr).

    Attributes:
        predictor, model_name, batcher, metrics, server_address, url.
    """

    def __init__(self, address, predictor, name, max_body_bytes=DEFAULT_MAX_BODY_BYTES, *,
                 max_batch_size=DEFAULT_MAX_BATCH_SIZE,
                 batch_timeout_ms=DEFAULT_BATCH_TIMEOUT_MS,
                 max_enqueued_batches=DEFAULT_MAX_ENQUEUED_BATCHES,
                 batch_threads=DEFAULT_BATCH_THREADS, max_instances=DEFAULT_MAX_INSTANCES,
                 workers=DEFAULT_WORKERS, max_connections=DEFAULT_MAX_CONNECTIONS,
                 drain_timeout=DEFAULT_DRAIN_TIMEOUT, header_timeout=10.0, body_timeout=60.0,
                 keep_alive_timeout=30.0, log_stream=None):
        if max_instances < 1 or workers < 1:
            raise ValueError(
                f"max_instances and workers must be at least 1, not {max_instances}, {workers}"
            )
        self.predictor = predictor
        self.model_name = name
        self.max_instances = max_instances
        self._in_flight = 0
        self._bytes_per_instance = {}
        self.batcher = Batcher(
            predictor.run_batch, max_batch_size=max_batch_size,
            batch_timeout=batch_timeout_ms / 1000, max_enqueued_batches=max_enqueued_batches,
            num_batch_threads=batch_threads, on_batch=self._on_batch,
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, "request-worker")
        try:
            self.http = HttpServer(
                self._handle, address[0], address[1], max_body_bytes=max_body_bytes,
                max_connections=max_connections, header_timeout=header_timeout,
                body_timeout=body_timeout, keep_alive_timeout=keep_alive_timeout,
                drain_timeout=drain_timeout, log_stream=log_stream,
            )
        except OSError:
            self.batcher.close()
            self._executor.shutdown()
            raise
        self.metrics = ServingMetrics(
            lambda: self.batcher.queued_instances, lambda: self._in_flight,
            lambda: self.http.open_connections,
        )
        self.http.on_response = self.metrics.observe_request
        self.server_address = self.http.server_address
        self._metadata = json.dumps(_metadata(name, predictor.metadata())).encode("utf-8")

    @property
    def url(self):
        """The model's base URL, e.g. `http://127.0.0.1:8501/v1/models/mosi`."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.model_name}"

    def serve_forever(self):
        """Serves until `shutdown` or `request_shutdown`, then drains and returns."""
        self.http.serve_forever()

    def request_shutdown(self):
        """Starts a graceful stop without waiting (safe in a signal handler); twice: at once."""
        self.http.request_stop()

    def shutdown(self):
        """Stops gracefully and waits until `serve_forever` has returned."""
        self.http.shutdown()

    def server_close(self):
        """Closes the socket, then finishes the queued batches and stops the threads."""
        self.http.server_close()
        self.batcher.close()
        self._executor.shutdown()

    def _on_batch(self, size, seconds):
        self.metrics.observe_batch(size, seconds)

    async def _handle(self, request):
        route = "unknown"
        try:
            if request.path == METRICS_PATH:
                route = "metrics"
                self._check_method(request, GET_METHODS)
                if request.method == "OPTIONS":
                    return _options(GET_METHODS, route)
                body, content_type = self.metrics.exposition()
                return Response(200, body, content_type=content_type, route=route)
            if request.path == "*" and request.method == "OPTIONS":
                return _options(("GET", "HEAD", "POST", "OPTIONS"), "options")
            match = ROUTE.match(request.path)
            if match is None:
                raise HTTPError(404, f"unknown path {request.path!r}; the API is {API}")
            action = match["action"]
            route = ROUTE_NAMES[action]
            allowed = POST_METHODS if action in (":predict", ":analyze") else GET_METHODS
            self._check_method(request, allowed)
            self._check_model(match["name"], match["version"])
            if request.method == "OPTIONS":
                return _options(allowed, route)
            if action is None:
                return json_response(200, self._status(), route=route)
            if action == "/metadata":
                return Response(200, self._metadata, route=route)
            return await self._run_model(action, request, route)
        except HTTPError as error:
            return error_response(error.status, error.message, error.headers, route)
        except QueueFullError as error:
            return error_response(
                503, f"{error}; retry after {error.retry_after} s",
                [("Retry-After", str(error.retry_after))], route,
            )
        except ValueError as error:
            return error_response(400, str(error), route=route)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return error_response(500, f"internal error: {type(error).__name__}: {error}",
                                  route=route)

    @staticmethod
    def _check_method(request, allowed):
        if request.method not in allowed:
            expected = allowed[0]
            raise HTTPError(
                405, f"{request.method} is not allowed on {request.path}; use {expected}",
                [("Allow", ", ".join(allowed))],
            )

    def _check_model(self, name, version):
        served = self.model_name
        if name != served:
            raise HTTPError(
                404, f"model {name!r} is not served here; this server serves {served!r}"
            )
        available = self.predictor.version
        if version is not None and int(version) != available:
            raise HTTPError(
                404, f"version {version} of model {name!r} is not available; "
                f"the available version is {available}"
            )

    def _status(self):
        return {"model_version_status": [{
            "version": str(self.predictor.version),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }]}

    async def _run_model(self, action, request, route):
        """Reserves room in the queue, reads and parses, runs in the batcher, answers.

        The reservation is the request's instances estimated from its
        `Content-Length`: without room the request gets a 503 at once, before
        its body is read; once it has room it is never refused later.
        """
        estimate = self._estimate_instances(action, request.content_length)
        reservation = self.batcher.reserve(estimate)
        self._in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            try:
                body = await request.read_body()
                job = await loop.run_in_executor(self._executor, self._prepare, action, body)
            except BaseException:
                self.batcher.release(reservation)
                raise
            self._learn_bytes_per_instance(action, len(body) / job.size)
            futures = self.batcher.submit(job.parts, key=job.key, reservation=reservation)
            results = await asyncio.gather(*map(asyncio.wrap_future, futures))
            return _answer(self.predictor, job, results, route)
        finally:
            self._in_flight -= 1

    def _estimate_instances(self, action, length):
        """The instances in a body of `length` bytes, from the mean bytes per instance."""
        per_instance = self._bytes_per_instance.get(action)
        return max(1, int(length / per_instance)) if per_instance else 1

    def _learn_bytes_per_instance(self, action, value):
        """A moving mean of the bytes per instance of `action`'s requests."""
        mean = self._bytes_per_instance.get(action, value)
        self._bytes_per_instance[action] = 0.9 * mean + 0.1 * value

    def _prepare(self, action, body):
        request = _parse_json(body)
        predictor = self.predictor
        if action == ":analyze":
            if set(request) != {"instances"}:
                raise HTTPError(
                    400, 'an analyze request is {"instances": [...]}; '
                    f"found the keys {sorted(request)}"
                )
            self._check_count(request["instances"])
            kind, inputs = "analyze", predictor.encode_instances(request["instances"])
        else:
            kind, inputs = _predict_inputs(request, sorted(predictor.input_specs),
                                           self._check_count)
            inputs = predictor.check_inputs(inputs)
        size = len(inputs[next(iter(inputs))])
        step = self.batcher.max_batch_size
        parts = [
            ({name: array[start:start + step] for name, array in inputs.items()},
             min(step, size - start))
            for start in range(0, size, step)
        ]
        if kind == "analyze" and predictor.raw_analyze:
            # Raw utterances of any length batch together: `run_batch` pads.
            key = ("analyze",)
        else:
            key = tuple((name, array.shape[1:], array.dtype.str)
                        for name, array in sorted(inputs.items()))
        return _Job(kind, parts, key, size)

    def _check_count(self, items):
        if isinstance(items, (list, tuple)) and len(items) > self.max_instances:
            raise HTTPError(
                413, f"the request holds {len(items)} instances; the limit is "
                f"{self.max_instances} per request: send several requests"
            )


def make_server(model_base, name=None, host="127.0.0.1", port=8501,
                max_body_bytes=DEFAULT_MAX_BODY_BYTES, **options):
    """A server of the exported model in `model_base`, ready to `serve_forever()`.

    Args:
        model_base: a model folder (`saved_models/mosi`, its highest version
            is served) or one version folder.
        name: the model name in the URLs; default: the model folder's name.
        host: the address to bind; 127.0.0.1 (this machine only) by default.
        port: the port; 0 picks a free one (see `server.server_address`).
        max_body_bytes: the largest request body accepted (10 MiB default).
        **options: the other arguments of `ModelServer` (batching, limits,
            timeouts).

    Returns:
        a `ModelServer`; run `serve_forever()`, stop with `shutdown()` from
        another thread, then `server_close()`.

    Example:

    ```python
    server = make_server("saved_models/mosi", port=0, max_batch_size=16)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.url)   # http://127.0.0.1:41234/v1/models/mosi
    ```
    """
    predictor = Predictor(model_base)
    return ModelServer((host, port), predictor, name or predictor.name, max_body_bytes,
                       **options)


def _options(allowed, route):
    return Response(204, headers=[("Allow", ", ".join(allowed))], route=route)


def _predict_inputs(request, names, check_count):
    """`(kind, inputs)` of a predict request: `"rows"` or `"columns"` and `{name: value}`."""
    unknown = sorted(set(request) - {"instances", "inputs", "signature_name"})
    formats = [key for key in ("instances", "inputs") if key in request]
    if unknown or len(formats) != 1:
        raise HTTPError(
            400, 'a predict request holds exactly one of "instances" (row format) or '
            f'"inputs" (columnar format), and optionally "signature_name"; found the keys '
            f"{sorted(request)}"
        )
    signature = request.get("signature_name", SIGNATURE_NAME)
    if signature != SIGNATURE_NAME:
        raise HTTPError(
            400, f"unknown signature_name {signature!r}; this model has {SIGNATURE_NAME!r}"
        )
    if formats == ["inputs"]:
        inputs = request["inputs"]
        if not isinstance(inputs, dict):
            raise HTTPError(400, '"inputs" must be an object mapping input names to batches')
        for value in inputs.values():
            check_count(value)
        return "columns", inputs
    check_count(request["instances"])
    return "rows", _stack_instances(request["instances"], names)


def _answer(predictor, job, results, route):
    """The JSON answer of a job from its chunks' outputs."""
    outputs = {name: np.concatenate([result[name] for result in results])
               for name in OUTPUT_NAMES}
    check_finite(outputs)
    if job.kind == "analyze":
        payload = {"predictions": predictor.describe(outputs)}
    elif job.kind == "columns":
        payload = {"outputs": {name: outputs[name].tolist() for name in OUTPUT_NAMES}}
    else:
        payload = {"predictions": [
            {name: outputs[name][index].tolist() for name in OUTPUT_NAMES}
            for index in range(job.size)
        ]}
    return json_response(200, payload, route=route, log={"instances": job.size})


def _parse_json(body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "the request body is not UTF-8 text") from None
    try:
        request = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise HTTPError(400, f"malformed JSON: {error}") from None
    except ValueError:  # Python's limit on the digits of an integer
        raise HTTPError(400, "malformed JSON: a number has too many digits") from None
    except RecursionError:
        raise HTTPError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(request, dict):
        raise HTTPError(
            400, f"the request body must be a JSON object, found {type(request).__name__}"
        )
    return request


def _refuse_constant(name):
    raise HTTPError(400, f"non-finite number {name} in the request; numbers must be finite")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise HTTPError(400, f"number {text} is out of range; numbers must be finite")
    return value


def _stack_instances(instances, names):
    """Row-format instances -> `{name: batch array}`, with errors naming the instance."""
    if not isinstance(instances, list) or not instances:
        raise HTTPError(400, '"instances" must be a non-empty list of objects')
    columns = {name: [] for name in names}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise HTTPError(
                400, f"instance {index}: expected an object with the inputs {names}, "
                f"found {type(instance).__name__}"
            )
        missing = sorted(set(names) - set(instance))
        unknown = sorted(set(instance) - set(names))
        if missing or unknown:
            raise HTTPError(
                400, f"instance {index}: expected the inputs {names}; "
                f"missing {missing}, unknown {unknown}"
            )
        for name in names:
            try:
                value = np.asarray(instance[name])
            except ValueError:
                value = None
            if value is None or value.dtype.kind not in "iuf":
                raise HTTPError(
                    400, f"instance {index}, input {name!r}: not a rectangular array of numbers"
                )
            first = columns[name][0] if columns[name] else value
            if value.shape != first.shape:
                raise HTTPError(
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
