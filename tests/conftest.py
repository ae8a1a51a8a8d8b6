"""Shared pytest set-up: quiet TensorFlow logs, float32, a fixed seed per test.

`GLOMO_CPU_BF16=0`: `--precision auto` trains in float32 on every CPU, so
that tests comparing numbers give the same answer on CPUs with and without
native bfloat16 (the tests of the detection set it themselves).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOMO_CPU_BF16", "0")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield


def pytest_collection_modifyitems(items):
    """Puts the files with the most slow (end-to-end) tests first, in a stable order.

    scripts/test.sh hands whole files to two pytest-xdist workers in this
    order (`--no-loadscope-reorder`): started last, the long end-to-end files
    would leave one worker running them alone while the other idles.
    """
    slow = {}
    for item in items:
        slow.setdefault(item.path, 0)
        slow[item.path] += item.get_closest_marker("slow") is not None
    items.sort(key=lambda item: -slow[item.path])
