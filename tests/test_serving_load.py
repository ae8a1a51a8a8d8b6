"""The model server under load: dynamic batching and back-pressure, over real HTTP.

The served Predictor can hold its batch thread at a gate, so that requests
pile up in the queue in a known order; everything else is the real server.
"""

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from shared_artifacts import tiny_export
from test_export import outputs_of
from test_serving import words_instance

from glomo_keras.serving.predictor import Predictor
from glomo_keras.serving.server import ModelServer

MAX_BATCH_SIZE = 4
MAX_ENQUEUED_BATCHES = 2


class GatedPredictor(Predictor):
    """A Predictor whose `run_batch` records its batches and waits at an open/closed gate."""

    def __init__(self, path):
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.batch_sizes = []

    def run_batch(self, batch):
        self.batch_sizes.append([len(next(iter(inputs.values()))) for inputs in batch])
        self.entered.set()
        assert self.gate.wait(60)
        return super().run_batch(batch)


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    model, preprocessor, base = tiny_export(tmp_path_factory, "mosi", name="tiny")
    predictor = GatedPredictor(base / "1")
    server = ModelServer(("127.0.0.1", 0), predictor, "tiny", max_batch_size=MAX_BATCH_SIZE,
                         batch_timeout_ms=0, max_enqueued_batches=MAX_ENQUEUED_BATCHES,
                         batch_threads=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, model, preprocessor
    predictor.gate.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


def post(url, body):
    """(status, headers, JSON answer) of one POST."""
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def in_background(url, bodies):
    """Sends each body from its own thread; returns the threads and their answers."""
    answers = [None] * len(bodies)

    def send(index):
        answers[index] = post(url, bodies[index])

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    return threads, answers


def hold_the_batch_thread(server):
    """Sends one request and keeps its batch at the gate; returns its thread."""
    predictor = server.predictor
    predictor.gate.clear()
    predictor.entered.clear()
    threads, answers = in_background(server.url + ":analyze",
                                     [{"instances": [words_instance(["hold"])]}])
    assert predictor.entered.wait(60)
    return threads[0], answers


def wait_for_queue(server, instances):
    for _ in range(600):
        if server.batcher.queued_instances == instances:
            return
        time.sleep(0.05)
    pytest.fail(f"the queue holds {server.batcher.queued_instances} instances, "
                f"not {instances}")


def test_concurrent_requests_share_a_batch_with_the_answers_of_unbatched_ones(gated):
    server, model, preprocessor = gated
    held, _ = hold_the_batch_thread(server)
    instances = [words_instance(["so", "good", "fun"][: 1 + seed % 3], seed=seed)
                 for seed in range(3)]
    overflowing = {**words_instance(["good"], seed=9), "acoustic": [[3e38] * 5]}
    bodies = [{"instances": [instance]} for instance in instances]
    bodies.append({"instances": [overflowing]})
    threads, answers = in_background(server.url + ":analyze", bodies)
    wait_for_queue(server, 4)
    server.predictor.batch_sizes.clear()
    server.predictor.gate.set()
    for thread in threads + [held]:
        thread.join(60)
    assert server.predictor.batch_sizes == [[1, 1, 1, 1]]  # one call for the four requests
    for instance, (status, _, answer) in zip(instances, answers):
        expected = outputs_of(model, preprocessor.encode([instance]))
        assert status == 200
        assert answer["predictions"][0]["sentiment"] == pytest.approx(
            float(expected["prediction"][0, 0]), abs=1e-5)
        np.testing.assert_allclose(list(answer["predictions"][0]["modality_weights"].values()),
                                   expected["global_weights"][0], atol=1e-5)
    status, _, answer = answers[-1]  # its non-finite outputs are its own error
    assert status == 400 and "not finite" in answer["error"]


def test_a_full_queue_answers_503_with_retry_after_at_once(gated):
    server, _, _ = gated
    held, _ = hold_the_batch_thread(server)
    capacity = MAX_BATCH_SIZE * MAX_ENQUEUED_BATCHES
    full = {"instances": [words_instance(["good"], seed=seed) for seed in range(capacity)]}
    threads, answers = in_background(server.url + ":analyze", [full])
    wait_for_queue(server, capacity)
    status, headers, answer = post(server.url + ":analyze",
                                   {"instances": [words_instance(["late"])]})
    assert status == 503 and int(headers["Retry-After"]) >= 1
    assert "busy" in answer["error"] and f"the queue holds {capacity}" in answer["error"]
    with socket.create_connection(server.server_address[:2], timeout=60) as sock:
        sock.sendall(b"POST /v1/models/tiny:analyze HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 5000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()  # refused on its head: the body is never sent
        assert response.status == 503 and "busy" in json.loads(response.read())["error"]
    server.predictor.gate.set()
    for thread in threads + [held]:
        thread.join(60)
    assert answers[0][0] == 200 and len(answers[0][2]["predictions"]) == capacity
    assert post(server.url + ":analyze", {"instances": [words_instance(["again"])]})[0] == 200
