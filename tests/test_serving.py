"""Tests for `glomo_keras.serving`: the Predictor and the TF Serving REST API over real HTTP.

The HTTP protocol itself (limits, time-outs, connection handling) is
tested through the real server in `test_serving_protocol.py`, the KServe
V2 API in `test_serving_v2.py`.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from shared_artifacts import tiny_export
from test_export import outputs_of
from tiny_model import tiny_batch

from glomo_keras.serving import Limits
from glomo_keras.serving import Predictor
from glomo_keras.serving import make_server

MAX_BODY_BYTES = 2**20
MAX_INSTANCES = 40
MAX_BATCH_SIZE = 4
MOSI = "tiny_mosi"
MUSTARD = "tiny_mustard"


def words_instance(words, acoustic_dim=5, visual_dim=3, seed=0, context=None):
    """An `:analyze` instance with one acoustic and visual row per word."""
    rng = np.random.default_rng(seed)
    rows = sum(len(sentence) for sentence in context or ()) + len(words)
    instance = {
        "words": words,
        "acoustic": rng.normal(size=(rows, acoustic_dim)).round(3).tolist(),
        "visual": rng.normal(size=(rows, visual_dim)).round(3).tolist(),
    }
    if context is not None:
        instance["context"] = context
    return instance


class Served:
    """An exported tiny model, its Keras original and a running server."""

    def __init__(self, base, model, preprocessor, max_body_bytes=MAX_BODY_BYTES):
        self.model = model
        self.preprocessor = preprocessor
        self.path = base / "1"
        limits = Limits(max_body_bytes=max_body_bytes, max_instances=MAX_INSTANCES)
        self.server = make_server(base, port=0, limits=limits, max_batch_size=MAX_BATCH_SIZE)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = self.server.url

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    models = {}
    for name, dataset in ((MOSI, "mosi"), (MUSTARD, "mustard")):
        model, preprocessor, base = tiny_export(tmp_path_factory, dataset, name=name)
        models[name] = Served(base, model, preprocessor)
    yield models
    for item in models.values():
        item.close()


def call(url, body=None, method=None, raw=None):
    """(status, JSON answer) of one HTTP request; `raw` bytes are sent as they are."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_status_and_versions(served):
    url = served[MOSI].url
    status, answer = call(url)
    assert status == 200
    assert answer == {"model_version_status": [{
        "version": "1", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }]}
    assert call(url + "/versions/1")[0] == 200
    status, answer = call(url + "/versions/7")
    assert status == 404 and "version 7" in answer["error"]


def test_metadata_describes_signature_and_preprocessing(served):
    status, answer = call(served[MOSI].url + "/metadata")
    assert status == 200
    assert answer["model_spec"] == {"name": MOSI, "signature_name": "", "version": "1"}
    signatures = answer["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["analyze", "serving_default"]
    analyze = signatures["analyze"]
    assert sorted(analyze["inputs"]) == ["acoustic", "visual", "words"]
    assert analyze["inputs"]["words"]["dtype"] == "DT_STRING"
    assert sorted(analyze["outputs"]) == ["global_weights", "local_weights", "prediction"]
    signature = signatures["serving_default"]
    assert sorted(signature["inputs"]) == sorted(served[MOSI].model.input)
    acoustic = signature["inputs"]["acoustic"]
    assert acoustic["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in acoustic["tensor_shape"]["dim"]] == ["-1", "-1", "5"]
    assert signature["inputs"]["token_ids"]["dtype"] == "DT_INT32"
    assert sorted(signature["outputs"]) == ["global_weights", "local_weights", "prediction"]
    preprocessing = answer["metadata"]["glomo"]["preprocessing"]
    assert preprocessing["format"] == "mag" and preprocessing["vocabulary_size"] == 20
    assert preprocessing["input_dims"] == {"acoustic": 5, "visual": 3, "text": None}


def test_predict_row_and_columnar_formats_match_keras(served):
    item = served[MOSI]
    batch = tiny_batch(item.model.config, batch=3, seed=5)
    expected = outputs_of(item.model, batch)
    columnar = {name: value.tolist() for name, value in batch.items()}
    status, answer = call(item.url + ":predict", {"inputs": columnar})
    assert status == 200
    for name, value in expected.items():
        np.testing.assert_allclose(answer["outputs"][name], value, atol=1e-5)
    rows = [{name: value[i].tolist() for name, value in batch.items()} for i in range(3)]
    status, answer = call(item.url + ":predict",
                          {"signature_name": "serving_default", "instances": rows})
    assert status == 200 and len(answer["predictions"]) == 3
    for name, value in expected.items():
        got = [prediction[name] for prediction in answer["predictions"]]
        np.testing.assert_allclose(got, value, atol=1e-5)


def test_analyze_regression_matches_keras_on_training_encoding(served):
    item = served[MOSI]
    instances = [
        words_instance(["the", "movie", "was", "good"], seed=1),
        words_instance(["not", "playing"], seed=2),
    ]
    status, answer = call(item.url + ":analyze", {"instances": instances})
    assert status == 200
    expected = outputs_of(item.model, item.preprocessor.encode(instances))
    for index, prediction in enumerate(answer["predictions"]):
        assert set(prediction) == {"sentiment", "modality_weights"}
        assert prediction["sentiment"] == pytest.approx(
            float(expected["prediction"][index, 0]), abs=1e-5)
        weights = prediction["modality_weights"]
        assert list(weights) == ["text", "acoustic", "visual"]
        np.testing.assert_allclose(
            list(weights.values()), expected["global_weights"][index], atol=1e-5)


def test_analyze_classification_with_context_and_columns(served):
    item = served[MUSTARD]
    instances = [
        words_instance(["so", "fun"], 6, 7, seed=3, context=[["i", "love", "it"], ["."]]),
        words_instance(["great"], 6, 7, seed=4, context=[]),
    ]
    status, answer = call(item.url + ":analyze", {"instances": instances})
    assert status == 200, answer
    logits = outputs_of(item.model, item.preprocessor.encode(instances))["prediction"]
    names = ["not_sarcastic", "sarcastic"]
    for index, prediction in enumerate(answer["predictions"]):
        assert set(prediction) == {"probabilities", "label", "modality_weights"}
        probabilities = np.exp(logits[index]) / np.exp(logits[index]).sum()
        assert list(prediction["probabilities"]) == names
        np.testing.assert_allclose(
            list(prediction["probabilities"].values()), probabilities, atol=1e-5)
        assert prediction["label"] == names[int(np.argmax(probabilities))]


def _good_analyze():
    return {"instances": [words_instance(["so", "good"])]}


def _columnar(batch, **changes):
    inputs = {name: value.tolist() for name, value in batch.items()}
    inputs.update(changes)
    return {"inputs": inputs}


def bad_requests(batch):
    """(description, method, suffix, raw body, status, words the error must name)."""
    wrong_dims = np.zeros((4, 7, 4)).tolist()
    nan_body = ('{"instances": [{"words": ["good"], "acoustic": [[NaN, 0, 0, 0, 0]], '
                '"visual": [[0, 0, 0]]}]}')
    rows = [{name: value[i].tolist() for name, value in batch.items()} for i in range(2)]
    rows[1]["acoustic"] = rows[1]["acoustic"][:5]

    def encoded(body):
        return json.dumps(body).encode()

    return [
        ("malformed JSON", "POST", ":predict", b'{"inputs": {', 400, ["malformed JSON"]),
        ("not an object", "POST", ":predict", b"[1, 2]", 400, ["JSON object"]),
        ("not UTF-8", "POST", ":analyze", b'{"instances": "\xff"}', 400, ["UTF-8"]),
        ("wrong feature dim", "POST", ":predict",
         encoded(_columnar(batch, acoustic=wrong_dims)), 400, ["'acoustic'", "5", "(4, 7, 4)"]),
        ("wrong rank", "POST", ":predict",
         encoded(_columnar(batch, token_ids=[1, 2, 3])), 400, ["'token_ids'", "rank 2"]),
        ("float ids", "POST", ":predict",
         encoded(_columnar(batch, token_ids=np.full((4, 7), 0.5).tolist())), 400,
         ["'token_ids'", "int32"]),
        ("unknown input", "POST", ":predict",
         encoded(_columnar(batch, colour=[[1]])), 400, ["unknown ['colour']"]),
        ("too long", "POST", ":predict",
         encoded({"inputs": {name: np.concatenate([value, value], 1).tolist()
                             for name, value in batch.items()}}), 400, ["14 steps", "1 to 7"]),
        ("ragged rows", "POST", ":predict", encoded({"instances": rows}), 400,
         ["instance 1", "'acoustic'", "equal shapes"]),
        ("both formats", "POST", ":predict",
         encoded({"instances": [], "inputs": {}}), 400, ["exactly one of"]),
        ("rows != words", "POST", ":analyze",
         encoded({"instances": [words_instance(["so", "good"]),
                                {**words_instance(["bad"]), "visual": [[0, 0, 0]] * 2}]}),
         400, ["instance 1", "'visual'", "2 rows", "1 words"]),
        ("wrong stored dim", "POST", ":analyze",
         encoded({"instances": [words_instance(["good"], acoustic_dim=4)]}), 400,
         ["instance 0", "'acoustic'", "5 values", "(1, 4)"]),
        ("context for MAG", "POST", ":analyze",
         encoded({"instances": [words_instance(["good"], context=[["so"]])]}), 400,
         ["instance 0", "unknown fields ['context']"]),
        ("no instances", "POST", ":analyze", b'{"utterances": []}', 400, ["instances"]),
        ("NaN", "POST", ":analyze", nan_body.encode(), 400, ["NaN"]),
        ("Infinity", "POST", ":analyze", nan_body.replace("NaN", "-Infinity").encode(), 400,
         ["-Infinity"]),
        ("overflow", "POST", ":analyze", nan_body.replace("NaN", "1e999").encode(), 400,
         ["1e999"]),
        ("5000-digit integer", "POST", ":analyze", nan_body.replace("NaN", "9" * 5000).encode(),
         400, ["too many digits"]),
        ("missing field", "POST", ":analyze",
         encoded({"instances": [{"words": ["good"], "visual": [[0, 0, 0]]}]}), 400,
         ["instance 0", "'acoustic' is missing", "rows of 5 numbers"]),
        ("words not a list", "POST", ":analyze",
         encoded({"instances": [{**words_instance(["good"]), "words": "good"}]}), 400,
         ["instance 0", "'words'"]),
        ("missing input", "POST", ":predict",
         encoded({"instances": [{k: v for k, v in rows[0].items() if k != "visual"}]}), 400,
         ["instance 0", "missing ['visual' (float32 [?, 3])]"]),
        ("missing columnar input", "POST", ":predict",
         encoded({"inputs": {k: v for k, v in _columnar(batch)["inputs"].items()
                             if k != "token_ids"}}), 400,
         ["'token_ids' (int32 [B, ?])"]),
        ("unknown signature", "POST", ":predict",
         encoded({"signature_name": "classify", "instances": rows[:1]}), 400,
         ["'classify'", "'analyze'", "'serving_default'"]),
        ("truncate refused", "POST", ":analyze",
         encoded({"truncate": False, "instances": [words_instance(["good"] * 9)]}), 400,
         ["instance 0", "9 words", "7 WordPiece tokens", "first 5 words"]),
        ("unknown model", "GET", "@/v1/models/nope", None, 404, ["'nope'", MOSI]),
        ("unknown model predict", "POST", "@/v1/models/nope:predict", b"{}", 404, ["'nope'"]),
        ("unknown path", "GET", "@/v3/models", None, 404, ["unknown path", ":analyze", "/v2/"]),
        ("GET predict", "GET", ":predict", None, 405, ["GET", "POST"]),
        ("POST status", "POST", "", b"{}", 405, ["POST", "GET"]),
        ("DELETE", "DELETE", "", None, 405, ["DELETE"]),
        # The wrong answers of issue 11: each was accepted or a 5xx before.
        ("lone surrogate", "POST", ":analyze",
         b'{"instances": [{"words": ["\\ud800"], "acoustic": [[0, 0, 0, 0, 0]], '
         b'"visual": [[0, 0, 0]]}]}', 400, ["instance 0", "'words'", "lone surrogate"]),
        ("no words", "POST", ":analyze",
         encoded({"instances": [{"words": [], "acoustic": [], "visual": []}]}), 400,
         ["instance 0", "'words'", "no words"]),
        ("blank word", "POST", ":analyze",
         encoded({"instances": [words_instance(["so", " "])]}), 400, ["word 1", "blank"]),
        ("boolean feature", "POST", ":analyze",
         encoded({"instances": [{**words_instance(["good"]),
                                 "acoustic": [[True, 0.5, 0, 0, 0]]}]}), 400,
         ["instance 0", "'acoustic'", "true/false"]),
        ("non-finite outputs", "POST", ":analyze",
         encoded({"instances": [words_instance(["good"]),
                                {**words_instance(["good"]), "acoustic": [[3e38] * 5]}]}),
         400, ["instances [1]", "not finite"]),
        ("token id -1", "POST", ":predict",
         encoded(_columnar(batch, token_ids=np.where(batch["token_ids"] > 0, -1, 0).tolist())),
         400, ["'token_ids'", "-1", "non-negative"]),
        ("token id past the vocabulary", "POST", ":predict",
         encoded(_columnar(batch, token_ids=np.full((4, 7), 20).tolist())), 400,
         ["'token_ids'", "20 tokens"]),
        ("mask of 2", "POST", ":predict",
         encoded(_columnar(batch, visual_mask=(2 * batch["visual_mask"]).tolist())), 400,
         ["'visual_mask'", "0 or 1"]),
        ("boolean input", "POST", ":predict",
         encoded(_columnar(batch, padding_mask=[[True, 1, 1, 0, 0, 0, 0]] * 4)), 400,
         ["'padding_mask'", "true/false"]),
        ("too many instances", "POST", ":analyze",
         encoded({"instances": [words_instance(["good"])] * (MAX_INSTANCES + 1)}), 413,
         [f"{MAX_INSTANCES + 1} instances", f"limit is {MAX_INSTANCES}"]),
        ("too many rows", "POST", ":predict",
         encoded({"instances": [rows[0]] * (MAX_INSTANCES + 1)}), 413,
         [f"{MAX_INSTANCES + 1} instances"]),
    ]


def test_bad_requests_get_4xx_errors_and_the_server_keeps_serving(served):
    item = served[MOSI]
    root = item.url.split("/v1/")[0]
    batch = tiny_batch(item.model.config, batch=4, seed=6)
    for description, method, suffix, raw, status, words in bad_requests(batch):
        url = root + suffix[1:] if suffix.startswith("@") else item.url + suffix
        got, answer = call(url, method=method, raw=raw)
        assert got == status, (description, got, answer)
        assert set(answer) == {"error"}, description
        for word in words:
            assert word in answer["error"], (description, word, answer["error"])
    status, answer = call(item.url + ":analyze", _good_analyze())
    assert status == 200 and "sentiment" in answer["predictions"][0]


def test_a_body_over_the_limit_is_refused_on_its_head(served):
    # Only the head is sent: the 413 must come without the body (a client
    # still sending a large body may instead see the connection close).
    url = urllib.parse.urlsplit(served[MOSI].url + ":predict")
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    connection.putrequest("POST", url.path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {
        "error": Limits(max_body_bytes=MAX_BODY_BYTES).body_too_large(MAX_BODY_BYTES + 1)}
    connection.close()
    status, answer = call(served[MOSI].url + ":analyze", _good_analyze())
    assert status == 200 and "sentiment" in answer["predictions"][0]


def test_concurrent_requests(served):
    item = served[MOSI]
    results = []

    def analyze(seed):
        body = {"instances": [words_instance(["good", "fun"], seed=seed)]}
        results.append(call(item.url + ":analyze", body)[0])

    threads = [threading.Thread(target=analyze, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * 4


def test_each_request_is_logged_as_json_with_a_request_id(served, capfd):
    item = served[MOSI]
    capfd.readouterr()
    request = urllib.request.Request(item.url + "/metadata", headers={"X-Request-Id": "abc-1"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["X-Request-Id"] == "abc-1"
    call(item.url + ":analyze", {"instances": []})
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert len(lines) == 2
    assert lines[0]["request_id"] == "abc-1" and lines[0]["status"] == 200
    assert lines[0]["method"] == "GET" and lines[0]["path"] == f"/v1/models/{MOSI}/metadata"
    assert lines[0]["ms"] >= 0 and lines[0]["route"] == "metadata"
    assert lines[1]["status"] == 400 and "non-empty list" in lines[1]["error"]
    assert len(lines[1]["request_id"]) == 32


def test_head_answers_the_get_headers_without_a_body(served):
    item = served[MOSI]
    host, port = item.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("HEAD", f"/v1/models/{MOSI}/metadata")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b""
    assert int(response.getheader("Content-Length")) > 0
    connection.close()


def test_predict_with_the_analyze_signature_and_truncation(served):
    item = served[MOSI]
    long = words_instance(["so", "good", "fun", "the", "movie", "was", "fine"], seed=4)
    short = words_instance(["so", "good"], seed=5)
    status, answer = call(item.url + ":analyze", {"instances": [long, short]})
    assert status == 200, answer
    assert answer["predictions"][0]["truncated_to"] == 5  # T 7 = [CLS] + 5 words + [SEP]
    assert "truncated_to" not in answer["predictions"][1]
    cut = {name: value[:5] for name, value in long.items()}
    expected = outputs_of(item.model, item.preprocessor.encode([cut]))["prediction"][0, 0]
    assert answer["predictions"][0]["sentiment"] == pytest.approx(float(expected), abs=1e-5)
    status, rows = call(item.url + ":predict",
                        {"signature_name": "analyze", "instances": [long, short]})
    assert status == 200, rows
    assert rows["predictions"][0]["truncated_to"] == 5
    assert rows["predictions"][0]["prediction"][0] == pytest.approx(
        answer["predictions"][0]["sentiment"], abs=1e-6)
    columns = {"words": [long["words"], short["words"] + [""] * 5],
               "acoustic": [long["acoustic"], short["acoustic"] + [[0.0] * 5] * 5],
               "visual": [long["visual"], short["visual"] + [[0.0] * 3] * 5]}
    status, answer = call(item.url + ":predict",
                          {"signature_name": "analyze", "inputs": columns})
    assert status == 200, answer
    np.testing.assert_allclose(
        np.asarray(answer["outputs"]["prediction"])[:, 0],
        [prediction["prediction"][0] for prediction in rows["predictions"]], atol=1e-6)
    assert answer["truncated_to"] == [5, None]


def test_large_requests_run_in_chunks_over_one_keep_alive_connection(served):
    item = served[MOSI]
    instances = [words_instance(["so", "good", "fun"][: 1 + seed % 3], seed=seed)
                 for seed in range(3 * MAX_BATCH_SIZE + 1)]
    expected = outputs_of(item.model, item.preprocessor.encode(instances))["prediction"][:, 0]
    host, port = item.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    sockets = []
    for _ in range(2):
        connection.request("POST", f"/v1/models/{MOSI}:analyze",
                           json.dumps({"instances": instances}))
        sockets.append(connection.sock)
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and response.version == 11 and not response.will_close
        got = [prediction["sentiment"] for prediction in answer["predictions"]]
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert sockets[0] is sockets[1] is not None  # both on one connection
    connection.close()


def test_metrics_in_prometheus_text_format(served):
    item = served[MOSI]
    root = item.url.split("/v1/")[0]
    call(item.url + ":analyze", _good_analyze())
    call(item.url + ":analyze", {"instances": "nope"})
    with urllib.request.urlopen(root + "/monitoring/prometheus/metrics", timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for sample in families["glomo_serving_requests"].samples
        if sample.name == "glomo_serving_requests_total"
    }
    assert requests[("analyze", "200")] >= 1 and requests[("analyze", "400")] >= 1
    latency = families["glomo_serving_request_duration_seconds"]
    assert any(s.name.endswith("_bucket") and s.labels["route"] == "analyze"
               for s in latency.samples)
    batch_sizes = {s.name: s.value for s in families["glomo_serving_batch_size"].samples}
    assert batch_sizes["glomo_serving_batch_size_count"] >= 1
    for name in ("glomo_serving_queued_instances", "glomo_serving_requests_in_flight",
                 "glomo_serving_open_connections"):
        assert name in families


def test_predictor_resolves_folders_and_validates_inputs(served):
    item = served[MOSI]
    base = item.path.parent
    for path in (base, item.path):
        predictor = Predictor(path)
        assert (predictor.path, predictor.version, predictor.name) == (item.path, 1, MOSI)
    # Pooling over padding (length_aware=False): every batch is padded to T.
    assert predictor.raw_analyze and not predictor.pads_to_longest
    with pytest.raises(FileNotFoundError, match="neither a SavedModel"):
        Predictor(base.parent)
    batch = tiny_batch(item.model.config, batch=2, seed=8)
    np.testing.assert_allclose(
        predictor.predict(batch)["prediction"],
        outputs_of(item.model, batch)["prediction"], atol=1e-5)
    with pytest.raises(ValueError, match="missing \\['visual_mask' \\(int32"):
        predictor.predict({k: v for k, v in batch.items() if k != "visual_mask"})
    with pytest.raises(ValueError, match="different batch sizes"):
        predictor.predict({**batch, "visual": batch["visual"][:1]})
    with pytest.raises(ValueError, match="share their sequence length"):
        predictor.predict({**batch, "acoustic_mask": batch["acoustic_mask"][:, :5]})
    with pytest.raises(ValueError, match="'visual' holds non-finite"):
        predictor.predict({**batch, "visual": np.full_like(batch["visual"], np.inf)})
    metadata = predictor.metadata()
    assert metadata["inputs"]["acoustic"] == {"dtype": "float32", "shape": [None, None, 5]}
    assert metadata["preprocessing"]["request_fields"] == ["words", "acoustic", "visual"]
    json.dumps(metadata)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_finishes_requests_in_flight_on_a_signal(served, tmp_path, stop):
    base = served[MOSI].path.parent
    log = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen(
        ["glomo-keras", "serve", "--model", str(base), "--port", "0", "--name", "sentiment"],
        stdout=subprocess.PIPE, stderr=log, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        line = process.stdout.readline()
        log.seek(0)
        assert "http://127.0.0.1:" in line, (line, log.read()[-3000:])
        url = line.split(" at ")[-1].strip()
        assert url.endswith("/v1/models/sentiment")
        port = int(url.split(":")[2].split("/")[0])
        idle, busy = (socket.create_connection(("127.0.0.1", port), timeout=60)
                      for _ in range(2))
        for sock in (idle, busy):  # one answer each: both connections are open
            sock.sendall(b"GET /v1/models/sentiment HTTP/1.1\r\nHost: x\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert json.loads(response.read())["model_version_status"][0]["state"] == "AVAILABLE"
        body = json.dumps(_good_analyze()).encode()
        busy.sendall(b"POST /v1/models/sentiment:analyze HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body[:10]))
        time.sleep(0.5)  # the server reads the head and waits for the body
        process.send_signal(stop)
        time.sleep(0.3)
        busy.sendall(body[10:])
        response = http.client.HTTPResponse(busy)
        response.begin()
        answer = json.loads(response.read())
        assert response.status == 200 and "sentiment" in answer["predictions"][0]
        assert response.getheader("Connection") == "close"
        assert process.wait(timeout=60) == 0
        assert "Server stopped." in process.stdout.read()
        assert idle.recv(10) == b""  # the idle connection was closed
        idle.close()
        busy.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
