"""Tests for `glomo_keras.serving.http_server` over raw sockets (no model needed)."""

import asyncio
import io
import json
import re
import socket
import threading

import pytest

from glomo_keras.serving.http_server import HTTPError, HttpServer, json_response

MAX_BODY_BYTES = 1000


class Running:
    """An `HttpServer` with a small test handler, serving in a thread."""

    def __init__(self, **options):
        self.started = threading.Event()
        self.log = io.StringIO()
        options.setdefault("max_body_bytes", MAX_BODY_BYTES)
        self.server = HttpServer(self.handle, "127.0.0.1", 0, log_stream=self.log, **options)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    async def handle(self, request):
        if request.path == "/slow":
            self.started.set()
            await asyncio.sleep(0.5)
        if request.path == "/boom":
            raise RuntimeError("the handler broke")
        if request.path == "/refused":
            raise HTTPError(429, "too many", [("Retry-After", "3")])
        body = await request.read_body()
        return json_response(200, {"method": request.method, "path": request.path,
                                    "body": body.decode("latin-1")})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def log_lines(self):
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture()
def running():
    server = Running(header_timeout=0.5, body_timeout=0.5)
    yield server
    server.stop()


class Reader:
    """Reads the answers of one connection, with one buffer for all of them."""

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def response(self, method="GET"):
        """(status, headers, body bytes) of the next answer; it must have a status line."""
        line = self.file.readline()
        match = re.match(rb"HTTP/1\.1 (\d{3}) [A-Za-z]", line)
        assert match, f"no status line: {line[:100]!r}"
        headers = {}
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        body = b"" if method == "HEAD" else self.file.read(length)
        return int(match[1]), headers, body


def read_response(sock):
    """The next answer on a socket whose answers are read one at a time."""
    return Reader(sock).response()


def exchange(running, data, half_close=False):
    with running.connect() as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_response(sock)


def test_keep_alive_request_ids_and_access_log(running):
    with running.connect() as sock:
        reader = Reader(sock)
        for index in range(3):
            body = f"{{\"n\": {index}}}".encode()
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-%d\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (index, len(body), body))
            status, headers, answer = reader.response()
            assert status == 200 and headers["x-request-id"] == f"req-{index}"
            assert json.loads(answer) == {"method": "POST", "path": "/echo",
                                          "body": body.decode()}
            assert "connection" not in headers
    lines = running.log_lines()
    assert [line["request_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert lines[0]["method"] == "POST" and lines[0]["status"] == 200
    assert lines[0]["path"] == "/echo" and lines[0]["bytes_in"] == 8
    # HTTP/1.0 closes unless asked; a bad request id is replaced.
    status, headers, _ = exchange(running, b"GET /a HTTP/1.0\r\nX-Request-Id: a b\r\n\r\n")
    assert status == 200 and headers["connection"] == "close"
    assert len(headers["x-request-id"]) == 32
    status, headers, _ = exchange(
        running, b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert headers["connection"] == "keep-alive"


def test_head_omits_the_body(running):
    with running.connect() as sock:
        sock.sendall(b"HEAD /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n")
        reader = Reader(sock)
        status, headers, body = reader.response(method="HEAD")
        assert status == 200 and int(headers["content-length"]) > 0 and body == b""
        status, _, body = reader.response()  # the next answer follows at once
        assert json.loads(body)["path"] == "/y"


@pytest.mark.parametrize("data, half_close, status, words", [
    (b"GARBAGE\r\n\r\n", False, 400, ["malformed request line"]),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\r\n\r\n", False, 400, ["not ASCII"]),
    (b"\x00\x01\x02 junk", True, 400, ["ended before"]),
    (b"GET /\r\n\r\n", False, 400, ["malformed request line"]),
    (b"GET / HTTP/2.0\r\n\r\n", False, 505, ["HTTP/2.0", "HTTP/1.1"]),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", False, 505, ["HTTP/2.0"]),
    (b"GET / HTTP/1.x\r\n\r\n", False, 400, ["HTTP version"]),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", False, 414, ["request line", "8192"]),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", False, 414, ["request line"]),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", False, 431, ["header"]),
    (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", False, 431, ["100 header fields"]),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", False, 400, ["malformed header"]),
    (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", False, 400, ["malformed header"]),
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", False, 400,
     ["conflicting Content-Length", "[2, 3]"]),
    (b"POST / HTTP/1.1\r\nContent-Length: 2, 3\r\n\r\n{}", False, 400, ["conflicting"]),
    (b"POST / HTTP/1.1\r\nContent-Length: 1_0\r\n\r\n0123456789", False, 400,
     ["invalid Content-Length '1_0'"]),
    (b"POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}", False, 400, ["'+2'"]),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", False, 400, ["'-1'"]),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", False, 411,
     ["chunked"]),
    (b"POST / HTTP/1.1\r\n\r\n", False, 411, ["Content-Length"]),
    (b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + b" " * 2000, False, 413,
     ["2000", str(MAX_BODY_BYTES)]),
    (b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", True, 400, ["ended after 3 of 10"]),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", False, 408, ["header block"]),
    (b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", False, 408, ["body"]),
])
def test_protocol_errors_are_json_with_a_status_line(running, data, half_close, status, words):
    got, headers, body = exchange(running, data, half_close)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = json.loads(body)["error"]
    for word in words:
        assert word in error, (word, error)
    assert exchange(running, b"GET /after HTTP/1.1\r\n\r\n")[0] == 200


def test_expect_100_continue(running):
    with running.connect() as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        reader = Reader(sock)
        assert reader.file.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.file.readline() == b"\r\n"
        sock.sendall(b"abcd")
        status, _, body = reader.response()
        assert status == 200 and json.loads(body)["body"] == "abcd"
    # A body over the limit is refused before it is sent.
    status, _, body = exchange(
        running, b"POST /e HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    assert status == 413


def test_a_handler_can_refuse_before_the_body_is_sent(running):
    with running.connect() as sock:
        sock.sendall(b"POST /refused HTTP/1.1\r\nContent-Length: 500\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        status, headers, body = read_response(sock)  # no 100 Continue first
        assert status == 429 and headers["connection"] == "close"
    with running.connect() as sock:  # without Expect the body is dropped, the answer read
        sock.sendall(b"POST /refused HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + b"x" * 500)
        assert read_response(sock)[0] == 429


def test_handler_errors_are_json(running):
    status, headers, body = exchange(running, b"GET /boom HTTP/1.1\r\n\r\n")
    assert status == 500 and "RuntimeError: the handler broke" in json.loads(body)["error"]
    status, headers, body = exchange(running, b"GET /refused HTTP/1.1\r\n\r\n")
    assert status == 429 and headers["retry-after"] == "3"
    assert json.loads(body) == {"error": "too many"}


def test_connection_limit_answers_503_at_once():
    running = Running(max_connections=2)
    try:
        held = [running.connect() for _ in range(2)]
        for sock in held:  # answered, so both are accepted and open
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert read_response(sock)[0] == 200
        with running.connect() as extra:
            status, headers, body = read_response(extra)
        assert status == 503 and headers["retry-after"] == "1"
        assert "2 open connections" in json.loads(body)["error"]
        held[0].close()
        for _ in range(100):  # once one closes, a new connection is served
            with running.connect() as sock:
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
                if read_response(sock)[0] == 200:
                    break
        else:
            pytest.fail("no connection was served after one closed")
        held[1].close()
    finally:
        running.stop()


def test_stop_answers_requests_in_flight_and_closes_idle_connections():
    running = Running(drain_timeout=30)
    idle = running.connect()
    idle.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert read_response(idle)[0] == 200
    busy = running.connect()
    busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
    assert running.started.wait(10)
    running.server.request_stop()
    status, headers, body = read_response(busy)
    assert status == 200 and headers["connection"] == "close"
    running.thread.join(10)
    assert not running.thread.is_alive()  # the idle connection did not hold the stop
    assert idle.recv(10) == b""
    running.server.server_close()
    with pytest.raises(ConnectionRefusedError):
        running.connect()
    idle.close()
    busy.close()
