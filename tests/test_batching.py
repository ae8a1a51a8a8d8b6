"""Tests for `glomo_keras.serving.batching.Batcher` (plain Python payloads)."""

import contextlib
import threading

import pytest

from glomo_keras.serving.batching import Batcher, QueueFullError


class Recording:
    """A `run_batch` that doubles numbers, records each batch and waits at a gate.

    Args:
        held: the gate starts closed (the first batch waits until it opens).
    """

    def __init__(self, held=False):
        self.batches = []
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        self.running = threading.Event()

    def __call__(self, payloads):
        self.running.set()
        assert self.gate.wait(10)
        self.batches.append(list(payloads))
        if any(payload == "bad" for payload in payloads):
            raise ValueError("a bad payload")
        return [payload * 2 for payload in payloads]


@contextlib.contextmanager
def running_batcher(run, **options):
    """A `Batcher` of `run`, closed (with the gate open) at the end."""
    batcher = Batcher(run, **options)
    try:
        yield batcher
    finally:
        run.gate.set()
        batcher.close()


@contextlib.contextmanager
def busy_batcher(**options):
    """`(run, batcher, futures)`: the one batch thread held running the payload 0."""
    run = Recording(held=True)
    with running_batcher(run, **options) as batcher:
        futures = batcher.submit([(0, 1)])
        assert run.running.wait(10)
        yield run, batcher, futures


def test_concurrent_parts_run_in_one_batch_and_get_their_own_results():
    run = Recording()
    with running_batcher(run, max_batch_size=8, batch_timeout=10.0) as batcher:
        # Eight requests on their way, as the server reserves them: without
        # reservations the batch thread may (and, on a busy machine, did) take
        # the parts submitted so far before the last one arrives.
        reservations = [batcher.reserve(1) for _ in range(8)]
        futures = [batcher.submit([(value, 1)], reservation=reservation)[0]
                   for value, reservation in zip(range(8), reservations)]
        assert [future.result(10) for future in futures] == [0, 2, 4, 6, 8, 10, 12, 14]
        assert run.batches == [list(range(8))]  # full: it did not wait for the timeout


def test_batches_hold_at_most_max_batch_size_and_one_key():
    options = dict(max_batch_size=4, batch_timeout=0.0, max_enqueued_batches=10)
    with busy_batcher(**options) as (run, batcher, first):
        futures = batcher.submit([(1, 3), (2, 3)], key="a")
        futures += batcher.submit([(3, 1)], key="b")
        futures += batcher.submit([(4, 1)], key="a")
        assert batcher.queued_instances == 8
        run.gate.set()
        assert [future.result(10) for future in first + futures] == [0, 2, 4, 6, 8]
        assert run.batches == [[0], [1, 4], [2], [3]]


def test_parts_with_lengths_batch_the_oldest_with_the_nearest_lengths():
    options = dict(max_batch_size=3, batch_timeout=0.0, max_enqueued_batches=10)
    with busy_batcher(**options) as (run, batcher, first):
        # payload = length; the oldest (20) takes the nearest: 24, then 16 before 8.
        futures = []
        for length in (20, 8, 40, 24, 16, 8, 41):
            futures += batcher.submit([(length, 1)], key="raw", lengths=[length])
        run.gate.set()
        assert [future.result(10) for future in futures] == [40, 16, 80, 48, 32, 16, 82]
        # A batch keeps its parts in the order they came.
        assert run.batches == [[0], [20, 24, 16], [8, 40, 8], [41]]


def test_an_error_stays_with_its_own_part():
    with busy_batcher(max_batch_size=8, batch_timeout=0.0) as (run, batcher, (blocker,)):
        good, bad, other = (batcher.submit([(value, 1)])[0] for value in (5, "bad", 7))
        run.gate.set()
        assert blocker.result(10) == 0
        assert good.result(10) == 10 and other.result(10) == 14
        with pytest.raises(ValueError, match="a bad payload"):
            bad.result(10)
        assert run.batches[1] == [5, "bad", 7]  # tried together, then each alone


def test_a_full_queue_refuses_at_once_but_an_empty_one_takes_any_request():
    options = dict(max_batch_size=2, batch_timeout=0.0, max_enqueued_batches=2)
    with busy_batcher(**options) as (run, batcher, running):
        queued = batcher.submit([(1, 2), (2, 2)])  # 4 instances: the queue is full
        with pytest.raises(QueueFullError, match="4 instances are waiting") as error:
            batcher.submit([(3, 1)])
        assert error.value.retry_after >= 1
        run.gate.set()
        assert [future.result(10) for future in running + queued] == [0, 2, 4]
        large = batcher.submit([(value, 2) for value in range(5)])  # 10 > 4, queue empty
        assert [future.result(10) for future in large] == [0, 2, 4, 6, 8]
        with pytest.raises(ValueError, match="exceed max_batch_size"):
            batcher.submit([(1, 3)])


def test_batches_wait_only_while_reserved_instances_are_on_their_way():
    run = Recording()
    with running_batcher(run, max_batch_size=8, batch_timeout=60.0) as batcher:
        assert batcher.submit([(1, 1)])[0].result(10) == 2  # nothing reserved: no wait
        first = batcher.reserve(1)
        second = batcher.reserve(2)
        future = batcher.submit([(21, 1)], reservation=first)[0]
        with pytest.raises(TimeoutError):  # two instances are on their way: it waits
            future.result(0.3)
        batcher.release(second)  # they will not come after all
        assert future.result(10) == 42
        assert run.batches == [[1], [21]]
        assert batcher.reserved_instances == 0


def test_reservations_count_against_the_queue_and_are_never_refused_later():
    options = dict(max_batch_size=2, batch_timeout=0.0, max_enqueued_batches=2)
    with busy_batcher(**options) as (run, batcher, running):
        reservation = batcher.reserve(3)
        with pytest.raises(QueueFullError, match="3 instances are waiting"):
            batcher.reserve(2)
        # Submitted against its reservation, a request is taken even over the estimate.
        futures = batcher.submit([(1, 2), (2, 2), (3, 1)], reservation=reservation)
        assert batcher.queued_instances == 5 and batcher.reserved_instances == 0
        run.gate.set()
        assert [future.result(10) for future in running + futures] == [0, 2, 4, 6]


def test_close_runs_what_is_queued_then_refuses():
    run = Recording(held=True)
    batcher = Batcher(run, max_batch_size=1, batch_timeout=0.0, max_enqueued_batches=5)
    futures = [batcher.submit([(value, 1)])[0] for value in range(3)]
    assert run.running.wait(10)
    closing = threading.Thread(target=batcher.close)
    closing.start()
    run.gate.set()
    closing.join(10)
    assert [future.result(0) for future in futures] == [0, 2, 4]
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit([(1, 1)])
