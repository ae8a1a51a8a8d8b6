"""Every request example of `docs/serving.md` is accepted by this server.

The examples are the page's `http` blocks: a `METHOD /path` line, then the
JSON body, if any. They are written for a toy export (acoustic rows of 5
values, visual rows of 3, T 7) named `mosi`, which this test builds.
"""

import json
import pathlib
import re
import threading

import pytest
import requests
from shared_artifacts import tiny_export

from glomo_keras.serving import make_server

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "serving.md"


def doc_examples():
    """[(method, path, body or None)] of the doc's `http` blocks."""
    examples = []
    for block in re.findall(r"```http\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        head, _, body = block.partition("\n")
        method, path = head.split()
        examples.append((method, path, json.loads(body) if body.strip() else None))
    return examples


@pytest.fixture(scope="module")
def server_root(tmp_path_factory):
    base = tiny_export(tmp_path_factory, "mosi")[2]
    server = make_server(base, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url.split("/v1/")[0]
    server.shutdown()
    server.server_close()
    thread.join(30)


def test_the_doc_has_examples_of_both_apis():
    paths = [path for _, path, _ in doc_examples()]
    assert len(paths) >= 9
    assert any(path.endswith(":analyze") for path in paths)
    assert sum(path.endswith(":predict") for path in paths) >= 3
    assert any(path.endswith("/infer") for path in paths)


def test_every_request_example_of_the_doc_is_accepted(server_root):
    for method, path, body in doc_examples():
        answer = requests.request(method, server_root + path, json=body, timeout=60)
        assert answer.status_code == 200, (method, path, answer.text)
        payload = answer.json()
        assert "error" not in payload, (path, payload)
        if path.endswith(":predict"):
            assert "predictions" in payload or "outputs" in payload
