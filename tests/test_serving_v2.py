"""The Open Inference Protocol (KServe V2) of the model server, over real HTTP.

Called with plain `requests` following the protocol's JSON schema: the
`tritonclient[http]` and `kserve` clients do not install cleanly beside
TensorFlow here (`tritonclient` pins `ml-dtypes<=0.5.4`, `kserve` pins
`protobuf` 6 under TensorFlow's 7), see `docs/serving.md`.
"""

import threading

import numpy as np
import pytest
import requests
from shared_artifacts import tiny_export
from test_export import outputs_of
from test_serving import words_instance
from tiny_model import tiny_batch

from glomo_keras.serving import Limits
from glomo_keras.serving import make_server

MAX_INSTANCES = 8
DATATYPES = {"float32": "FP32", "int32": "INT32"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    model, _, base = tiny_export(tmp_path_factory, "mosi")
    server = make_server(base, port=0, limits=Limits(max_instances=MAX_INSTANCES))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = server.url.split("/v1/")[0]
    yield root, model, server
    server.shutdown()
    server.server_close()
    thread.join(30)


def tensor(name, array, datatype=None):
    array = np.asarray(array)
    datatype = datatype or ("BYTES" if array.dtype.kind == "U" else DATATYPES[array.dtype.name])
    return {"name": name, "shape": list(array.shape), "datatype": datatype,
            "data": array.reshape(-1).tolist()}


def outputs_by_name(answer):
    return {item["name"]: np.reshape(item["data"], item["shape"]) for item in answer["outputs"]}


def test_health_metadata_and_readiness(served):
    root, model, _ = served
    assert requests.get(f"{root}/v2/health/live", timeout=30).json() == {"live": True}
    assert requests.get(f"{root}/v2/health/ready", timeout=30).json() == {"ready": True}
    assert requests.get(f"{root}/v2", timeout=30).json()["name"] == "glomo-keras"
    for path in ("/v2/models/mosi", "/v2/models/mosi/versions/1"):
        metadata = requests.get(root + path, timeout=30).json()
        assert metadata["name"] == "mosi" and metadata["versions"] == ["1"]
        inputs = {item["name"]: item for item in metadata["inputs"]}
        assert sorted(inputs) == sorted(model.input)
        assert inputs["acoustic"] == {"name": "acoustic", "datatype": "FP32",
                                      "shape": [-1, -1, 5]}
        assert inputs["token_ids"]["datatype"] == "INT32"
        assert [item["name"] for item in metadata["outputs"]] == [
            "global_weights", "local_weights", "prediction"]
        raw = metadata["parameters"]["signatures"]["analyze"]["inputs"]
        assert {item["name"]: item["datatype"] for item in raw} == {
            "acoustic": "FP32", "visual": "FP32", "words": "BYTES"}
    ready = requests.get(f"{root}/v2/models/mosi/ready", timeout=30)
    assert ready.status_code == 200 and ready.json() == {"name": "mosi", "ready": True}


def test_infer_with_model_inputs_matches_keras(served):
    root, model, _ = served
    batch = tiny_batch(model.config, batch=3, seed=2)
    body = {"id": "req-7", "inputs": [tensor(name, value) for name, value in batch.items()]}
    answer = requests.post(f"{root}/v2/models/mosi/infer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    assert payload["model_name"] == "mosi" and payload["model_version"] == "1"
    assert payload["id"] == "req-7"
    got = outputs_by_name(payload)
    for name, value in outputs_of(model, batch).items():
        np.testing.assert_allclose(got[name], value, atol=1e-5)
    body["outputs"] = [{"name": "prediction"}]
    answer = requests.post(f"{root}/v2/models/mosi/versions/1/infer", json=body, timeout=60)
    assert [item["name"] for item in answer.json()["outputs"]] == ["prediction"]


def test_infer_with_raw_words_matches_analyze(served):
    root, _, server = served
    utterances = [words_instance(["so", "good", "fun"], seed=1),
                  words_instance(["the", "movie", "was", "not", "good", "so", "fun"], seed=2)]
    analyzed = requests.post(server.url + ":analyze", json={"instances": utterances},
                             timeout=60).json()["predictions"]
    width = max(len(u["words"]) for u in utterances)

    def padded(rows, dim):
        return rows + [[0.0] * dim] * (width - len(rows))

    inputs = [
        tensor("words", [u["words"] + [""] * (width - len(u["words"])) for u in utterances]),
        tensor("acoustic", np.array([padded(u["acoustic"], 5) for u in utterances], "float32")),
        tensor("visual", np.array([padded(u["visual"], 3) for u in utterances], "float32")),
    ]
    answer = requests.post(f"{root}/v2/models/mosi/infer", json={"inputs": inputs}, timeout=60)
    assert answer.status_code == 200, answer.text
    got = outputs_by_name(answer.json())
    np.testing.assert_allclose(got["prediction"][:, 0],
                               [p["sentiment"] for p in analyzed], atol=1e-5)
    np.testing.assert_allclose(got["global_weights"],
                               [list(p["modality_weights"].values()) for p in analyzed],
                               atol=1e-5)
    # The second utterance has 7 words; T = 7 holds [CLS], 5 words, [SEP].
    assert got["truncated_to"].tolist() == [-1, 5] and analyzed[1]["truncated_to"] == 5
    refused = requests.post(f"{root}/v2/models/mosi/infer",
                            json={"inputs": inputs, "parameters": {"truncate": False}},
                            timeout=60)
    assert refused.status_code == 400 and "7 words" in refused.json()["error"]


def bad_infers(batch):
    """(description, body, status, words the error must name)."""
    good = [tensor(name, value) for name, value in batch.items()]
    by_name = {item["name"]: item for item in good}
    return [
        ("wrong datatype", {"inputs": [*(t for t in good if t["name"] != "token_ids"),
                                       {**by_name["token_ids"], "datatype": "INT64"}]},
         400, ["'token_ids'", "expected datatype INT32", "[-1, -1]", "INT64"]),
        ("data size", {"inputs": [*(t for t in good if t["name"] != "visual"),
                                  {**by_name["visual"], "data": [0.5] * 7}]},
         400, ["'visual'", "7 values", str(by_name["visual"]["shape"])]),
        ("missing input", {"inputs": [t for t in good if t["name"] != "visual_mask"]},
         400, ["'visual_mask' (int32 [B, ?])"]),
        ("unknown datatype", {"inputs": [{**by_name["visual"], "datatype": "FLOAT"}]},
         400, ["'FLOAT'", "FP32"]),
        ("binary data", {"inputs": [{**by_name["visual"],
                                     "parameters": {"binary_data_size": 12}}]},
         400, ["binary tensor data"]),
        ("no inputs", {"instances": []}, 400, ['"inputs"']),
        ("too many instances", {"inputs": [{**by_name["visual"],
                                            "shape": [MAX_INSTANCES + 1, 7, 3]}]},
         413, [f"{MAX_INSTANCES + 1} instances", f"limit is {MAX_INSTANCES}"]),
        ("unknown output", {"inputs": good, "outputs": [{"name": "colour"}]}, 400,
         ["'colour'", "prediction"]),
        ("words for the tensor signature",
         {"inputs": good, "parameters": {"signature_name": "analyze"}}, 400,
         ["'words' (string [B, ?])"]),
    ]


def test_bad_infer_requests_are_4xx_json(served):
    root, model, _ = served
    batch = tiny_batch(model.config, batch=2, seed=6)
    for description, body, status, words in bad_infers(batch):
        answer = requests.post(f"{root}/v2/models/mosi/infer", json=body, timeout=60)
        assert answer.status_code == status, (description, answer.text)
        error = answer.json()["error"]
        for word in words:
            assert word in error, (description, word, error)
    assert requests.post(f"{root}/v2/models/nope/infer", json={}, timeout=30).status_code == 404
    assert requests.get(f"{root}/v2/models/mosi/infer", timeout=30).status_code == 405
    assert requests.get(f"{root}/v2/models/mosi/versions/3", timeout=30).status_code == 404
