"""The model server: one exported model behind two REST APIs, on Starlette and uvicorn.

TensorFlow Serving's API (`tf_serving.py`), the Open Inference Protocol
(`open_inference.py`) and Prometheus metrics (`metrics.py`) on a Starlette
app run by uvicorn with `protocol.GuardedH11Protocol`. A model request is
admitted on its head (413 over the body limit, 503 when the batch queue has
no room for its estimated instances), read, parsed in a worker thread, run
by the `Batcher` with concurrent requests, and answered `{"error": ...}` on
any error (500 for a fault of the server, whose details go to its log).
One JSON access log line per request goes to `log_stream`, with its request
id. `docs/serving.md` is the guide.

Example:

```python
server = make_server("saved_models/mosi", port=0)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.url)   # http://127.0.0.1:41234/v1/models/mosi
server.shutdown()
server.server_close()
```
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from glomo_keras.serving import limits as defaults
from glomo_keras.serving import open_inference, tf_serving
from glomo_keras.serving.batching import Batcher, QueueFullError
from glomo_keras.serving.limits import Limits
from glomo_keras.serving.metrics import METHODS, ServingMetrics
from glomo_keras.serving.payload import RequestError
from glomo_keras.serving.predictor import Predictor
from glomo_keras.serving.protocol import GuardedH11Protocol

METRICS_PATH = "/monitoring/prometheus/metrics"
API = (
    "GET /v1/models/<name>, GET /v1/models/<name>/metadata, "
    "POST /v1/models/<name>:predict, POST /v1/models/<name>:analyze, "
    "GET /v2/health/live, GET /v2/health/ready, GET /v2/models/<name>, "
    "GET /v2/models/<name>/ready, POST /v2/models/<name>/infer, "
    f"GET {METRICS_PATH}"
)
# A client's X-Request-Id is kept (and echoed) when it is such a short token.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ModelServer:
    """A server of one model (build it with `make_server`).

    Args:
        address: `(host, port)`; port 0 picks a free port.
        predictor: the `Predictor` to serve.
        name: the model name of the URLs.
        limits: the `Limits` of requests and connections.
        max_batch_size, batch_timeout_ms, max_enqueued_batches, batch_threads:
            the `Batcher`'s settings (`glomo-keras serve --help` says each);
            the queue counts the instances of requests still being read, as
            estimated from their `Content-Length`.
        workers: threads that parse requests and encode answers.
        drain_timeout: seconds a stop waits for the requests in flight.
        log_stream: where the JSON access log goes (default stderr).

    Example:

    ```python
    server = ModelServer(("127.0.0.1", 0), Predictor("saved_models/mosi"), "mosi")
    ```
    """

    def __init__(self, address, predictor, name, limits=None, *,
                 max_batch_size=defaults.MAX_BATCH_SIZE,
                 batch_timeout_ms=defaults.BATCH_TIMEOUT_MS,
                 max_enqueued_batches=defaults.MAX_ENQUEUED_BATCHES,
                 batch_threads=defaults.BATCH_THREADS, workers=defaults.WORKERS,
                 drain_timeout=defaults.DRAIN_TIMEOUT, log_stream=None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.predictor = predictor
        self.model_name = name
        self.limits = limits or Limits()
        self.log_stream = log_stream
        self._in_flight = 0
        self._bytes_per_instance = {}
        self.metrics = ServingMetrics(
            lambda: self.batcher.queued_instances, lambda: self._in_flight,
            lambda: len(self._uvicorn.server_state.connections),
        )
        self.batcher = Batcher(
            predictor.run_batch, max_batch_size=max_batch_size,
            batch_timeout=batch_timeout_ms / 1000, max_enqueued_batches=max_enqueued_batches,
            num_batch_threads=batch_threads, on_batch=self.metrics.observe_batch,
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, "request-worker")
        try:
            self._socket = _bind(address, self.limits.max_connections)
        except OSError:
            self.batcher.close()
            self._executor.shutdown()
            raise
        self.server_address = self._socket.getsockname()
        self._metadata = json.dumps(tf_serving.metadata(name, predictor)).encode("utf-8")
        self._v2_metadata = json.dumps(
            open_inference.model_metadata(name, predictor)).encode("utf-8")
        app = Starlette(routes=[
            Route(METRICS_PATH, _answering_errors(self._metrics_route), methods=["GET"]),
            Route("/v1/models/{rest:path}", _answering_errors(self._tf_serving_route),
                  methods=METHODS),
            Route("/v2", _answering_errors(self._v2_server_route), methods=["GET"]),
            Route("/v2/health/{what}", _answering_errors(self._v2_health_route),
                  methods=["GET"]),
            Route("/v2/models/{rest:path}", _answering_errors(self._v2_model_route),
                  methods=METHODS),
        ], exception_handlers={HTTPException: _http_exception})
        protocol = functools.partial(GuardedH11Protocol, limits=self.limits,
                                     observe=self.metrics.observe_request)
        config = uvicorn.Config(
            _AccessLog(app, self), http=protocol, loop="asyncio", lifespan="off",
            log_config=None, log_level="warning", access_log=False, server_header=False,
            backlog=self.limits.max_connections,
            timeout_keep_alive=self.limits.keep_alive_timeout,
            timeout_graceful_shutdown=drain_timeout,
            h11_max_incomplete_event_size=self.limits.max_header_bytes,
        )
        self._uvicorn = _Uvicorn(config)
        self._stopped = threading.Event()

    @property
    def url(self):
        """The model's base URL, e.g. `http://127.0.0.1:8501/v1/models/mosi`."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.model_name}"

    @property
    def stopping(self):
        """Whether a stop was requested: answers close their connection."""
        return self._uvicorn.should_exit

    def serve_forever(self):
        """Serves until `shutdown` or `request_shutdown`, then drains and returns."""
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._stopped.set()

    def request_shutdown(self):
        """Starts a graceful stop without waiting (safe in a signal handler); twice: at once."""
        if self._uvicorn.should_exit:
            self._uvicorn.force_exit = True
        self._uvicorn.should_exit = True

    def shutdown(self):
        """Stops gracefully and waits until `serve_forever` has returned."""
        self.request_shutdown()
        self._stopped.wait()

    def server_close(self):
        """Closes the socket, then finishes the queued batches and stops the threads."""
        self._socket.close()
        self.batcher.close()
        self._executor.shutdown()

    # Routes.

    async def _metrics_route(self, request):
        _route(request, "metrics")
        body, content_type = self.metrics.exposition()
        return Response(body, media_type=content_type)

    async def _tf_serving_route(self, request):
        action = self._model_action(request, tf_serving, (":predict", ":analyze"))
        if action is None:
            return _json(tf_serving.status(self.predictor))
        if action == "/metadata":
            return Response(self._metadata, media_type="application/json")
        return await self._run_model(request, action, tf_serving)

    async def _v2_server_route(self, request):
        _route(request, "v2_server")
        return _json(open_inference.server_metadata())

    async def _v2_health_route(self, request):
        what = request.path_params["what"]
        if what not in ("live", "ready"):
            raise RequestError(404, _unknown_path(request))
        _route(request, f"v2_{what}")
        return _json({what: True})

    async def _v2_model_route(self, request):
        action = self._model_action(request, open_inference, ("/infer",))
        if action is None:
            return Response(self._v2_metadata, media_type="application/json")
        if action == "/ready":
            return _json({"name": self.model_name, "ready": True})
        return await self._run_model(request, action, open_inference)

    def _model_action(self, request, api, posted):
        """The action of a model path of `api`, once path, method and model are checked."""
        match = api.ROUTE.match(request.url.path)
        if match is None:
            raise RequestError(404, _unknown_path(request))
        action, name, version = match["action"], match["name"], match["version"]
        _route(request, api.ROUTE_NAMES[action])
        _check_method(request, "POST" if action in posted else "GET")
        if name != self.model_name:
            raise RequestError(
                404, f"model {name!r} is not served here; this server serves "
                f"{self.model_name!r}"
            )
        available = self.predictor.version
        if version is not None and int(version) != available:
            raise RequestError(
                404, f"version {version} of model {name!r} is not available; "
                f"the available version is {available}"
            )
        return action

    async def _run_model(self, request, action, api):
        """Admits the request on its head, reads, parses (`api.parse_body`), runs and answers it.

        Admission reserves the request's instances, estimated from its
        `Content-Length`, in the batch queue: without room it gets a 503
        before its body is read; once admitted it is never refused later.
        """
        length = self._content_length(request)
        reservation = self.batcher.reserve(self._estimate_instances(action, length))
        self._in_flight += 1
        loop = asyncio.get_running_loop()
        try:
            try:
                body = await self._read_body(request, length)
                job = await loop.run_in_executor(
                    self._executor, api.parse_body, action, body, self.predictor, self.limits,
                    self.batcher.max_batch_size)
            except BaseException:
                self.batcher.release(reservation)
                raise
            self._learn_bytes_per_instance(action, len(body) / job.size)
            lengths = job.lengths if self.predictor.pads_to_longest else None
            futures = self.batcher.submit(job.parts, key=job.key, reservation=reservation,
                                          lengths=lengths)
            results = await asyncio.gather(*map(asyncio.wrap_future, futures))
            payload = await loop.run_in_executor(
                self._executor,
                lambda: _encode(api.answer(job, results, self.predictor, self.model_name)))
            request.scope["glomo.instances"] = job.size
            return Response(payload, media_type="application/json")
        finally:
            self._in_flight -= 1

    def _content_length(self, request):
        value = request.headers.get("content-length")
        if value is None:
            raise RequestError(411, "a model request needs a Content-Length header "
                               "(chunked bodies are not accepted)")
        if not value.isdigit():
            raise RequestError(400, f"invalid Content-Length {value!r}")
        length = int(value)
        if length > self.limits.max_body_bytes:
            raise RequestError(413, self.limits.body_too_large(length))
        return length

    async def _read_body(self, request, length):
        try:
            return await asyncio.wait_for(request.body(), self.limits.body_timeout)
        except asyncio.TimeoutError:
            raise RequestError(408, self.limits.body_too_slow(length),
                               [("Connection", "close")]) from None
        except ClientDisconnect:
            raise RequestError(400, "the client closed the connection before its body "
                               "was read") from None

    def _estimate_instances(self, action, length):
        """The instances in a body of `length` bytes, from the mean bytes per instance."""
        per_instance = self._bytes_per_instance.get(action)
        return max(1, int(length / per_instance)) if per_instance else 1

    def _learn_bytes_per_instance(self, action, value):
        """A moving mean of the bytes per instance of `action`'s requests."""
        mean = self._bytes_per_instance.get(action, value)
        self._bytes_per_instance[action] = 0.9 * mean + 0.1 * value


def make_server(model_base, name=None, host="127.0.0.1", port=defaults.PORT, limits=None,
                **options):
    """A `ModelServer` of the exported model in `model_base`, ready to `serve_forever()`.

    Args:
        model_base: a model folder (its highest version is served) or one
            version folder; a FileNotFoundError if it holds no export.
        name: the model name in the URLs; default: the model folder's name.
        host: the address to bind; 127.0.0.1 (this machine only) by default.
        port: the port; 0 picks a free one (an OSError if it is in use).
        limits: the `Limits` (default `Limits()`).
        **options: the other arguments of `ModelServer` (batching, drain).

    Example:

    ```python
    server = make_server("saved_models/mosi", port=0, limits=Limits(max_instances=64))
    ```
    """
    predictor = Predictor(model_base)
    return ModelServer((host, port), predictor, name or predictor.name, limits, **options)


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, leaving signals to its owner (`glomo-keras serve` stops it).

    uvicorn's own handlers re-raise the signal after the drain, so the
    process would end by SIGTERM instead of exiting 0.
    """

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class _AccessLog:
    """ASGI middleware: the head size limit, request ids, the access log and the metrics.

    A request's log line is written, and its metrics counted, before the
    last part of its answer is sent, so a client that has its answer finds
    them there.
    """

    def __init__(self, app, server):
        self.app = app
        self.server = server

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        record = {"status": 500, "bytes_out": 0, "logged": False}

        def log():
            record["logged"] = True
            seconds = time.perf_counter() - start
            route = scope.get("glomo.route", "unknown")
            self.server.metrics.observe_request(scope["method"], route, record["status"],
                                                seconds)
            line = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "request_id": request_id,
                "client": (scope.get("client") or ["?"])[0], "method": scope["method"],
                "path": scope["path"], "route": route, "status": record["status"],
                "ms": round(seconds * 1000, 2), "bytes_out": record["bytes_out"],
            }
            for key in ("glomo.instances", "glomo.error"):
                if key in scope:
                    line[key.split(".")[1]] = scope[key]
            print(json.dumps(line), file=self.server.log_stream or sys.stderr, flush=True)

        async def logged_send(message):
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                headers = [*message.get("headers", []),
                           (b"x-request-id", request_id.encode("latin-1"))]
                if self.server.stopping:  # uvicorn closes the connection after it
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                record["bytes_out"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    log()
            await send(message)

        try:
            head = len(scope["raw_path"]) + len(scope["query_string"]) + sum(
                len(name) + len(value) + 4 for name, value in scope["headers"])
            if head > self.server.limits.max_header_bytes:
                # h11 bounds a head that arrives in pieces; this, one that came whole.
                scope["glomo.route"] = "invalid"
                response = _error(Request(scope), 431, self.server.limits.head_too_large(),
                                  [("Connection", "close")])
                await response(scope, receive, logged_send)
            else:
                await self.app(scope, receive, logged_send)
        finally:
            if not record["logged"]:  # no answer was sent (the client went away)
                log()


def _answering_errors(endpoint):
    """`endpoint` with every error answered `{"error": ...}` (see the module doc)."""

    @functools.wraps(endpoint)
    async def answered(request):
        try:
            return await endpoint(request)
        except RequestError as error:
            return _error(request, error.status, error.message, error.headers)
        except QueueFullError as error:
            return _error(request, 503, f"{error}; retry after {error.retry_after} s",
                          [("Retry-After", str(error.retry_after))])
        except ValueError as error:
            return _error(request, 400, str(error))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return _error(request, 500, "internal error; the server's log has the details")

    return answered


def _route(request, name):
    request.scope["glomo.route"] = name


def _check_method(request, expected):
    allowed = ["GET", "HEAD"] if expected == "GET" else ["POST"]
    if request.method not in allowed:
        raise RequestError(
            405, f"{request.method} is not allowed on {request.url.path}; use {expected}",
            [("Allow", ", ".join(allowed))],
        )


def _unknown_path(request):
    return f"unknown path {request.url.path!r}; the API is {API}"


def _json(payload):
    return Response(_encode(payload), media_type="application/json")


def _encode(payload):
    return json.dumps(payload, allow_nan=False).encode("utf-8")


def _error(request, status, message, headers=()):
    request.scope["glomo.error"] = message
    return Response(_encode({"error": message}), status, headers=dict(headers),
                    media_type="application/json")


async def _http_exception(request, error):
    """Starlette's own 404/405 (paths outside the API), in JSON."""
    if error.status_code == 404:
        return _error(request, 404, _unknown_path(request))
    return _error(request, error.status_code,
                  f"{request.method} is not allowed on {request.url.path}",
                  error.headers or {})


def _bind(address, backlog):
    """A listening socket on `address` (an OSError if it cannot be bound)."""
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it an answer's head and body wait for the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
