"""The HTTP behaviour of the model server, through the real server over loopback.

`glomo-keras serve` runs as a subprocess (the console script) for the
protocol errors, keep-alive and the access log; the time-outs and the
connection limit, which need limits too small for a command line, use a
`ModelServer` in this process. Every answer, errors included, must have a
status line and a JSON body whose limits are those of `Limits`.
"""

import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import pytest
from shared_artifacts import tiny_export
from test_serving import words_instance

from glomo_keras.serving import Limits
from glomo_keras.serving.predictor import Predictor
from glomo_keras.serving.server import ModelServer

MAX_BODY_BYTES = 4000
LIMITS = Limits(max_body_bytes=MAX_BODY_BYTES)
PATH = "/v1/models/tiny"
# The HTTP behaviour does not depend on the Keras backend: run in one pass.
pytestmark = pytest.mark.console


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
    return tiny_export(tmp_path_factory, "mosi", name="tiny")[2]


@pytest.fixture(scope="module")
def command(model_base, tmp_path_factory):
    """`glomo-keras serve` in a subprocess: (port, stderr path)."""
    log_path = tmp_path_factory.mktemp("log") / "stderr.txt"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["glomo-keras", "serve", "--model", str(model_base), "--port", "0",
             "--max-body-bytes", str(MAX_BODY_BYTES)],
            stdout=subprocess.PIPE, stderr=log, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    line = process.stdout.readline()
    assert "version 1" in line and " at http://127.0.0.1:" in line, (
        line, log_path.read_text()[-3000:])
    port = int(line.split(" at ")[-1].split(":")[2].split("/")[0])
    yield port, log_path
    process.terminate()
    assert process.wait(60) == 0


def exchange(port, data):
    """(status, headers, body) of the answer to raw bytes sent on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()  # fails unless the answer has a status line
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()


def analyze_body(words=("so", "good")):
    return json.dumps({"instances": [words_instance(list(words))]}).encode()


@pytest.mark.parametrize("data, status, message", [
    (b"GARBAGE\r\n\r\n", 400, "malformed HTTP/1.1 request"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\r\n\r\n", 400, "malformed"),
    (b"GET " + PATH.encode() + b" HTTP/1.1\r\n\r\n", 400, "malformed"),  # no Host
    (b"GET /" + b"a" * 9000, 431, LIMITS.head_too_large()),
    (b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
     431, LIMITS.head_too_large()),
    (b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411, "Content-Length"),
    (b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
     b"Content-Length: 3\r\n\r\n{}", 400, "malformed"),
    (b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n"
     b"0123456789", 400, "malformed"),
    (b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n"
     b"Expect: 100-continue\r\n\r\n", 413, LIMITS.body_too_large(9000)),
])
def test_protocol_errors_are_json_and_state_the_real_limits(command, data, status, message):
    port, _ = command
    got, headers, body = exchange(port, data)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert message in json.loads(body)["error"]
    assert exchange(port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200


def test_keep_alive_request_ids_and_the_access_log(command):
    port, log_path = command
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sockets = []
    for index in range(3):
        connection.request("POST", PATH + ":analyze", analyze_body(),
                           {"X-Request-Id": f"req-{index}"})
        sockets.append(connection.sock)
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("X-Request-Id") == f"req-{index}"
        assert "sentiment" in json.loads(response.read())["predictions"][0]
    assert sockets[0] is sockets[1] is sockets[2]  # one keep-alive connection
    connection.request("GET", PATH, headers={"X-Request-Id": "a b"})  # not a token: replaced
    response = connection.getresponse()
    response.read()
    assert len(response.getheader("X-Request-Id")) == 32
    connection.close()
    for _ in range(50):
        lines = [json.loads(line) for line in log_path.read_text().splitlines()
                 if line.startswith("{")]
        if any(line["request_id"] == "req-2" for line in lines):
            break
        time.sleep(0.1)
    logged = {line["request_id"]: line for line in lines}
    assert logged["req-0"]["status"] == 200 and logged["req-0"]["route"] == "analyze"
    assert logged["req-0"]["path"] == PATH + ":analyze" and logged["req-0"]["instances"] == 1


def test_expect_100_continue(command):
    port, _ = command
    body = analyze_body()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        reader = sock.makefile("rb")
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(body)
        assert reader.readline().startswith(b"HTTP/1.1 200")


def test_serve_refuses_bad_flags_with_one_line_and_exit_2(model_base, tmp_path,
                                                          tmp_path_factory):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            (["--model", str(tmp_path / "nope")], f"--model {tmp_path / 'nope'} does not exist"),
            (["--model", str(tmp_path)], f"--model {tmp_path}: "),
            (["--model", str(model_base), "--port", "70000"],
             "--port 70000 is out of range; expected 0 to 65535"),
            (["--model", str(model_base), "--port", str(port)],
             f"--host 127.0.0.1 --port {port} cannot be bound"),
        ]
        # One fresh process runs the command lines (console_cases.py: one import
        # of TensorFlow); the `command` fixture starts the console script itself.
        driver = tmp_path_factory.mktemp("serve_cases")
        (driver / "cases.json").write_text(json.dumps([["serve", *flags] for flags, _ in cases]))
        run = subprocess.run(
            [sys.executable, str(pathlib.Path(__file__).with_name("console_cases.py")),
             str(driver / "cases.json"), str(driver / "results.json")],
            cwd=driver, capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((driver / "results.json").read_text())
    for (flags, message), run in zip(cases, results, strict=True):
        assert run["returncode"] == 2, (flags, run["stderr"][-2000:])
        lines = run["stderr"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("glomo-keras serve: "), lines
        assert message in lines[0], (message, lines[0])


class InProcess:
    """A `ModelServer` with small limits, serving in a thread."""

    def __init__(self, model_base, limits):
        self.server = ModelServer(("127.0.0.1", 0), Predictor(model_base), "tiny", limits)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        for _ in range(100):  # until uvicorn answers
            try:
                if exchange(self.port, b"GET " + PATH.encode() +
                            b" HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(30)


@pytest.fixture()
def small(model_base):
    running = InProcess(model_base, Limits(max_connections=2, header_timeout=0.5,
                                           body_timeout=0.5))
    yield running
    running.close()


def test_slow_clients_get_408_and_silent_connections_are_closed(small):
    limits = small.server.limits
    status, _, body = exchange(small.port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    assert status == 408 and json.loads(body)["error"] == limits.head_too_slow()
    status, headers, body = exchange(
        small.port, b"POST " + PATH.encode() + b":analyze HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 100\r\n\r\n{\"inst")
    assert status == 408 and json.loads(body)["error"] == limits.body_too_slow(100)
    assert headers["connection"] == "close"
    with socket.create_connection(("127.0.0.1", small.port), timeout=30) as sock:
        start = time.monotonic()
        assert sock.recv(10) == b""  # closed without a word
        assert time.monotonic() - start < 10


def test_a_connection_over_the_limit_gets_503_at_once(small):
    held = [socket.create_connection(("127.0.0.1", small.port), timeout=30) for _ in range(2)]
    try:
        time.sleep(0.2)
        status, headers, body = exchange(small.port, b"")
        assert status == 503 and headers["retry-after"] == "1"
        assert json.loads(body)["error"] == small.server.limits.too_many_connections()
    finally:
        for sock in held:
            sock.close()
    for _ in range(50):  # once they close, new connections are served
        time.sleep(0.1)
        if exchange(small.port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")[0] \
                == 200:
            break
    else:
        pytest.fail("no connection was served after the others closed")
