"""An asyncio HTTP/1.1 server whose every answer, errors included, is JSON.

Standard library only (`asyncio`). `HttpServer(handler, host, port)`
reads the head of each request and passes it to `await handler(request)`,
which reads the body with `await request.read_body()` if it wants it (so
it can refuse a request before its body is sent) and returns a `Response`
or raises `HTTPError`. The server itself answers what never reaches the
handler, always with a status line and `{"error": "..."}`:

- a malformed request line or header, binary junk, an HTTP version other
  than 1.x (505), a request line over 8 KiB (414), a header block over
  64 KiB or 100 fields (431);
- a body without a valid `Content-Length` (411 for chunked, 400 for a
  malformed or conflicting one), one over `max_body_bytes` (413);
- a client too slow to send its header block (`header_timeout`) or its
  body (`body_timeout`): 408;
- more than `max_connections` open connections: 503 at once. The listen
  backlog is as large, so a burst of connections waits in the kernel's
  accept queue instead of on SYN retries.

Connections are kept alive (HTTP/1.1 by default, HTTP/1.0 with
`Connection: keep-alive`) for `keep_alive_timeout` seconds between
requests; `Expect: 100-continue` is honoured. Each request is logged to
`log_stream` as one JSON line (time, request id, client, method, path,
status, milliseconds, bytes) before its answer is sent; the request id is
the client's `X-Request-Id` when it is a short token, else a new one, and
is echoed in the answer.

`request_stop()` (thread- and signal-safe) stops accepting, closes idle
connections, lets the requests in flight finish and be answered (at most
`drain_timeout` seconds; a second call stops at once), then
`serve_forever()` returns.
"""

import asyncio
import dataclasses
import email.utils
import http
import json
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

MAX_REQUEST_LINE_BYTES = 8 * 2**10
MAX_HEADER_BYTES = 64 * 2**10
MAX_HEADER_FIELDS = 100
# An oversized body is read and dropped up to this size before the 413 is
# sent, so that the client reads the answer instead of a connection reset.
DRAIN_LIMIT_BYTES = 64 * 2**20
# After an answer that closes the connection, what the client still sends
# is read and dropped for at most this long, for the same reason.
LINGER_SECONDS = 2.0
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
VERSION = re.compile(r"^HTTP/(\d)\.(\d)$")
CONTENT_LENGTH = re.compile(r"^[0-9]{1,18}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
NO_BODY_STATUSES = (204, 304)


class HTTPError(Exception):
    """A request the server refuses, with its status and extra headers.

    Args:
        status: the HTTP status code.
        message: what is wrong, for the `{"error": ...}` body.
        headers: extra `(name, value)` headers, e.g. `Allow` or `Retry-After`.

    Example:

    ```python
    raise HTTPError(405, "GET is not allowed here; use POST", [("Allow", "POST")])
    ```
    """

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


@dataclasses.dataclass
class Request:
    """One HTTP request: its head as read, its body read on demand.

    The handler reads the body with `await request.read_body()`, so that it
    can refuse a request (e.g. 503 when busy) before the body is sent; an
    unread body closes the connection after the answer.

    Args:
        method: e.g. `"POST"`.
        target: the request target as sent, e.g. `"/v1/models/m:predict?x=1"`.
        path: its path, percent-decoding not applied, e.g. `"/v1/models/m:predict"`.
        version: `"HTTP/1.1"` or `"HTTP/1.0"`.
        headers: `{lower-case name: value}` (the last of repeated fields).
        content_length: the body's length in bytes (0 without a body).
        request_id: the id of the access log line and `X-Request-Id`.
        client: `"host:port"` of the client.
        body: the body bytes once read, else None.
        reader: the coroutine function that reads the body (the server's).
    """

    method: str
    target: str
    path: str
    version: str
    headers: dict
    content_length: int
    request_id: str
    client: str
    body: bytes = None
    reader: object = dataclasses.field(default=None, repr=False)

    async def read_body(self):
        """The body bytes, read on the first call.

        Raises:
            HTTPError: 408 when it does not arrive in time, 400 when the
                connection ends before it is whole.
        """
        if self.body is None:
            self.body = await self.reader()
        return self.body


@dataclasses.dataclass
class Response:
    """An answer: status, body and extra headers.

    Args:
        status: the HTTP status code.
        body: the body bytes (not sent for HEAD, 204 and 304).
        content_type: the `Content-Type`.
        headers: extra `(name, value)` headers.
        route: a short name of what was asked, for metrics (`"analyze"`).
        log: extra fields for the access log line.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list = dataclasses.field(default_factory=list)
    route: str = "other"
    log: dict = dataclasses.field(default_factory=dict)


def json_response(status, payload, headers=(), route="other", log=None):
    """A `Response` with a JSON body (non-finite numbers are refused).

    Example:

    ```python
    json_response(200, {"predictions": [...]}, route="analyze")
    ```
    """
    body = json.dumps(payload, allow_nan=False).encode("utf-8")
    return Response(status, body, headers=list(headers), route=route, log=log or {})


def error_response(status, message, headers=(), route="other"):
    """The JSON error answer `{"error": message}`."""
    return json_response(status, {"error": message}, headers, route, {"error": message})


class _Connection:
    """The state of one client connection."""

    def __init__(self, task, client):
        self.task = task
        self.client = client
        self.idle = True


class HttpServer:
    """An asyncio HTTP/1.1 server (see the module doc).

    The listening socket is bound at construction, so `server_address`
    holds the port even when `port` is 0.

    Args:
        handler: `async handler(request) -> Response`; it reads the body
            with `await request.read_body()` and may raise `HTTPError`
            (answered as JSON) or any exception (a JSON 500).
        host: the address to bind.
        port: the port; 0 picks a free one.
        max_body_bytes: the largest request body accepted.
        max_connections: the most open connections, and the listen backlog.
        header_timeout: seconds a client has to send a request's header
            block once it started it.
        body_timeout: seconds a client has to send a request's body, and to
            read an answer.
        keep_alive_timeout: seconds an idle connection stays open.
        drain_timeout: seconds `request_stop` waits for requests in flight.
        on_response: optional `on_response(method, route, status, seconds)`,
            called once per answer (metrics).
        log_stream: where the access log lines go (default stderr).

    Example:

    ```python
    async def hello(request):
        body = await request.read_body()
        return json_response(200, {"path": request.path, "bytes": len(body)})

    server = HttpServer(hello, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown()
    server.server_close()
    ```
    """

    def __init__(self, handler, host, port, *, max_body_bytes=10 * 2**20,
                 max_connections=1024, header_timeout=10.0, body_timeout=60.0,
                 keep_alive_timeout=30.0, drain_timeout=30.0, on_response=None,
                 log_stream=None):
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keep_alive_timeout = keep_alive_timeout
        self.drain_timeout = drain_timeout
        self.on_response = on_response
        self.log_stream = log_stream
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(max_connections)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        self._connections = set()
        self._loop = None
        self._stop = None
        self._force = None
        self._stop_requests = 0
        self._stopped = threading.Event()
        self._date = (0, "")

    @property
    def open_connections(self):
        """The number of open client connections."""
        return len(self._connections)

    def serve_forever(self):
        """Serves until `request_stop` or `shutdown`, then drains (see the module doc)."""
        self._stopped.clear()
        try:
            asyncio.run(self._serve())
        finally:
            self._stopped.set()

    def request_stop(self):
        """Asks `serve_forever` to drain and return; callable from any thread or a signal handler.

        A second call stops at once, cancelling the requests in flight.
        """
        self._stop_requests += 1
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        event = self._stop if self._stop_requests == 1 else self._force
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:
            pass  # the loop has just closed

    def shutdown(self):
        """`request_stop`, then waits until `serve_forever` has returned."""
        self.request_stop()
        if self._loop is not None:
            self._stopped.wait()

    def server_close(self):
        """Closes the listening socket."""
        self.socket.close()

    async def _serve(self):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        if self._stop_requests:
            self._stop.set()
        server = await asyncio.start_server(
            self._serve_connection, sock=self.socket, limit=MAX_HEADER_BYTES,
            backlog=self.max_connections,
        )
        await self._stop.wait()
        server.close()
        for connection in list(self._connections):
            if connection.idle:
                connection.task.cancel()
        tasks = {connection.task for connection in self._connections}
        force = asyncio.ensure_future(self._force.wait())
        deadline = self._loop.time() + self.drain_timeout
        while tasks and not force.done() and self._loop.time() < deadline:
            done, _ = await asyncio.wait(
                tasks | {force}, timeout=deadline - self._loop.time(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            tasks -= done
        force.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve_connection(self, reader, writer):
        peer = writer.get_extra_info("peername") or ("?", 0)
        connection = _Connection(asyncio.current_task(), f"{peer[0]}:{peer[1]}")
        self._connections.add(connection)
        try:
            if len(self._connections) > self.max_connections:
                await self._refuse_connection(connection, reader, writer)
                return
            while not self._stop.is_set():
                if not await self._serve_request(connection, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            self._connections.discard(connection)
            writer.close()

    async def _refuse_connection(self, connection, reader, writer):
        message = (
            f"the server has {self.max_connections} open connections, its limit; "
            "retry shortly"
        )
        response = error_response(503, message, [("Retry-After", "1")], route="refused")
        await self._send(writer, None, connection, response, time.perf_counter(), keep_alive=False)
        await self._linger(reader, writer)

    async def _serve_request(self, connection, reader, writer):
        """Reads and answers one request; returns whether to keep the connection."""
        connection.idle = True
        try:
            first = await asyncio.wait_for(reader.read(1), self.keep_alive_timeout)
        except asyncio.TimeoutError:
            return False
        if not first:
            return False
        connection.idle = False
        start = time.perf_counter()
        try:
            request, keep_alive = await self._read_request(first, connection, reader, writer)
        except HTTPError as error:
            response = error_response(error.status, error.message, error.headers, route="invalid")
            await self._send(writer, None, connection, response, start, keep_alive=False)
            await self._linger(reader, writer)
            return False
        response = await self._respond(request)
        unread = request.content_length and request.body is None
        keep_alive = keep_alive and not unread and not self._stop.is_set()
        await self._send(writer, request, connection, response, start, keep_alive)
        if not keep_alive:
            await self._linger(reader, writer)
        return keep_alive

    async def _respond(self, request):
        try:
            return await self.handler(request)
        except HTTPError as error:
            return error_response(error.status, error.message, error.headers)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return error_response(500, f"internal error: {type(error).__name__}: {error}")

    async def _read_request(self, first, connection, reader, writer):
        """The next request and whether the connection may stay open, or an HTTPError."""
        try:
            method, target, version, headers = await asyncio.wait_for(
                self._read_head(first, reader), self.header_timeout
            )
        except asyncio.TimeoutError:
            raise HTTPError(408, "the request's header block did not arrive in time") from None
        path = urllib.parse.urlsplit(target).path if target != "*" else "*"
        request_id = headers.get("x-request-id", "")
        if not REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
        keep_alive = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
        length = self._content_length(headers, method)
        if length > self.max_body_bytes:
            if "100-continue" not in headers.get("expect", "").lower():
                await self._discard(reader, length)
            raise HTTPError(
                413, f"the request body has {length} bytes; the limit is "
                f"{self.max_body_bytes} bytes",
            )
        expects_continue = "100-continue" in headers.get("expect", "").lower()

        async def read_body():
            if not length:
                return b""
            if expects_continue and version == "HTTP/1.1":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                return await asyncio.wait_for(reader.readexactly(length), self.body_timeout)
            except asyncio.TimeoutError:
                raise HTTPError(408, "the request body did not arrive in time") from None
            except asyncio.IncompleteReadError as error:
                raise HTTPError(
                    400, f"the request body ended after {len(error.partial)} of {length} bytes"
                ) from None

        request = Request(method, target, path, version, headers, length, request_id,
                          connection.client, reader=read_body)
        return request, keep_alive

    async def _read_head(self, first, reader):
        method, target, version = await self._read_request_line(first, reader)
        return method, target, version, await self._read_headers(reader)

    async def _read_request_line(self, first, reader):
        line = first
        while line in (b"\r", b"\n", b"\r\n"):  # empty lines before a request are ignored
            line = await self._read_line(reader, 414, "the request line")
        if not line.endswith(b"\n"):
            line += await self._read_line(reader, 414, "the request line")
        if len(line) > MAX_REQUEST_LINE_BYTES:
            raise HTTPError(
                414, f"the request line has {len(line)} bytes; the limit is "
                f"{MAX_REQUEST_LINE_BYTES}"
            )
        try:
            text = line.rstrip(b"\r\n").decode("ascii")
        except UnicodeDecodeError:
            raise HTTPError(400, "the request line is not ASCII text (is this HTTP?)") from None
        parts = text.split(" ")
        if len(parts) != 3 or not TOKEN.match(parts[0]) or not parts[1]:
            raise HTTPError(
                400, f"malformed request line {text[:200]!r}; expected "
                "'METHOD /path HTTP/1.1'"
            )
        method, target, version = parts
        match = VERSION.match(version)
        if match is None:
            raise HTTPError(400, f"malformed HTTP version {version[:40]!r}; expected HTTP/1.1")
        if match[1] != "1":
            raise HTTPError(505, f"{version} is not supported; use HTTP/1.1 or HTTP/1.0")
        if not (target.startswith("/") or target == "*" or target.startswith("http")):
            raise HTTPError(400, f"malformed request target {target[:200]!r}")
        return method, target, version

    async def _read_headers(self, reader):
        headers, size, count = {}, 0, 0
        content_lengths = []
        while True:
            line = await self._read_line(reader, 431, "a header field")
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise HTTPError(431, f"the header block exceeds {MAX_HEADER_BYTES} bytes")
            if line in (b"\r\n", b"\n"):
                break
            count += 1
            if count > MAX_HEADER_FIELDS:
                raise HTTPError(431, f"the request has more than {MAX_HEADER_FIELDS} header fields")
            text = line.rstrip(b"\r\n").decode("latin-1")
            name, colon, value = text.partition(":")
            if not colon or not TOKEN.match(name):
                raise HTTPError(400, f"malformed header field {text[:100]!r}")
            name, value = name.lower(), value.strip(" \t")
            if name == "content-length":
                content_lengths.append(value)
            headers[name] = value
        if content_lengths:
            headers["content-length"] = content_lengths
        return headers

    async def _read_line(self, reader, status, what):
        try:
            return await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise HTTPError(status, f"{what} exceeds {MAX_HEADER_BYTES} bytes") from None
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise
            raise HTTPError(400, f"{what} ended before its line break") from None

    @staticmethod
    def _content_length(headers, method):
        if "transfer-encoding" in headers:
            raise HTTPError(
                411, "chunked request bodies are not supported; send Content-Length"
            )
        values = headers.get("content-length")
        if values is None:
            if method == "POST":
                raise HTTPError(411, "a Content-Length header is required")
            return 0
        items = [item.strip() for value in values for item in value.split(",")]
        bad = [item for item in items if not CONTENT_LENGTH.match(item)]
        if bad:
            raise HTTPError(400, f"invalid Content-Length {bad[0][:40]!r}; expected digits only")
        lengths = {int(item) for item in items}
        if len(lengths) > 1:
            raise HTTPError(400, f"conflicting Content-Length headers {sorted(lengths)}")
        headers["content-length"] = str(lengths.pop())
        return int(headers["content-length"])

    async def _discard(self, reader, length):
        """Reads and drops a body the server will refuse (up to DRAIN_LIMIT_BYTES)."""
        if length <= DRAIN_LIMIT_BYTES:
            await self._drop_input(reader, length, self.body_timeout)

    async def _linger(self, reader, writer):
        """Half-closes, then drops what the client still sends, so it reads the answer."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            return
        await self._drop_input(reader, DRAIN_LIMIT_BYTES, LINGER_SECONDS)

    @staticmethod
    async def _drop_input(reader, length, seconds):
        """Reads and drops up to `length` bytes for at most `seconds`, or until end of input."""

        async def drop():
            remaining = length
            while remaining > 0:
                chunk = await reader.read(min(remaining, 2**16))
                if not chunk:
                    return
                remaining -= len(chunk)

        try:
            await asyncio.wait_for(drop(), seconds)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass

    async def _send(self, writer, request, connection, response, start, keep_alive):
        seconds = time.perf_counter() - start
        method = request.method if request else None
        request_id = request.request_id if request else uuid.uuid4().hex
        include_body = method != "HEAD" and response.status not in NO_BODY_STATUSES
        head = self._head(response, request_id, keep_alive, request)
        self._log(request, connection, response, request_id, seconds)
        if self.on_response is not None:
            self.on_response(method or "-", response.route, response.status, seconds)
        writer.write(head + response.body if include_body else head)
        try:
            await asyncio.wait_for(writer.drain(), self.body_timeout)
        except asyncio.TimeoutError:
            writer.transport.abort()

    def _head(self, response, request_id, keep_alive, request):
        status = http.HTTPStatus(response.status)
        lines = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            "Server: glomo-keras",
            f"Date: {self._http_date()}",
            f"X-Request-Id: {request_id}",
        ]
        if response.status not in NO_BODY_STATUSES:
            lines.append(f"Content-Type: {response.content_type}")
            lines.append(f"Content-Length: {len(response.body)}")
        for name, value in response.headers:
            if name.lower() != "connection":
                lines.append(f"{name}: {value}")
        if not keep_alive:
            lines.append("Connection: close")
        elif request is not None and request.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _http_date(self):
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True))
        return self._date[1]

    def _log(self, request, connection, response, request_id, seconds):
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "request_id": request_id,
            "client": connection.client,
            "method": request.method if request else None,
            "path": request.target[:500] if request else None,
            "status": response.status,
            "ms": round(1000 * seconds, 1),
            "bytes_in": len(request.body) if request and request.body else 0,
            "bytes_out": len(response.body),
            "route": response.route,
            **response.log,
        }
        stream = self.log_stream or sys.stderr
        stream.write(json.dumps(record) + "\n")
        stream.flush()
