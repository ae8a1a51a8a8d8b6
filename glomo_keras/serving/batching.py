"""Dynamic batching: concurrent requests coalesced into one model call.

Much as TensorFlow Serving batches: requests submit parts of at most
`max_batch_size` instances; a batch thread takes the oldest part and the
waiting parts of its `key` (e.g. equal padded shapes), nearest `length`
first when parts carry one (raw utterances of a `length_aware` model), until
the batch is full or the oldest part has waited `batch_timeout` seconds,
and runs them in one call of `run_batch(payloads)`. A batch waits only
while a `reserve`d request is still on its way; a batch of several parts
that raises is rerun part by part, so one request's bad input fails no
other. The queue is bounded: beyond `max_enqueued_batches * max_batch_size`
waiting instances, `reserve` (or `submit` without a reservation) raises
`QueueFullError` at once (the server answers 503); an empty queue takes any
request.
"""

import collections
import concurrent.futures
import dataclasses
import threading
import time


class QueueFullError(Exception):
    """The batch queue has no room for a request's instances.

    Args:
        message: what is full.
        retry_after: seconds after which a retry will likely find room.
    """

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass
class _Part:
    payload: object
    size: int
    key: object
    future: concurrent.futures.Future
    enqueued: float
    length: int = None


class Batcher:
    """Coalesces concurrently submitted instances into batches of one model call.

    Args:
        run_batch: `run_batch(payloads) -> results`, one result per payload,
            in order; it may raise (see the module doc).
        max_batch_size: the most instances in one call.
        batch_timeout: seconds the oldest waiting part may wait for others
            before its batch runs anyway.
        max_enqueued_batches: the queue holds at most this many full batches
            of instances (`max_batch_size` each).
        num_batch_threads: threads running batches at the same time (on
            a small CPU, two calls at once use the cores better than one).
        on_batch: optional `on_batch(size, seconds)`, called after each run.

    Example:

    ```python
    batcher = Batcher(lambda payloads: [p * 2 for p in payloads], max_batch_size=8)
    futures = batcher.submit([(21, 1)])
    futures[0].result()   # 42
    batcher.close()
    ```
    """

    def __init__(self, run_batch, max_batch_size=32, batch_timeout=0.002,
                 max_enqueued_batches=4, num_batch_threads=1, on_batch=None):
        if max_batch_size < 1 or max_enqueued_batches < 1 or num_batch_threads < 1:
            raise ValueError(
                "max_batch_size, max_enqueued_batches and num_batch_threads must be "
                f"at least 1, not {max_batch_size}, {max_enqueued_batches}, "
                f"{num_batch_threads}"
            )
        if batch_timeout < 0:
            raise ValueError(f"batch_timeout must be at least 0, not {batch_timeout}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.batch_timeout = batch_timeout
        self.capacity = max_enqueued_batches * max_batch_size
        self.on_batch = on_batch
        self._queue = collections.deque()
        self.queued_instances = 0  # waiting for a batch
        self.reserved_instances = 0  # reserved, not submitted yet
        self._closing = False
        self._condition = threading.Condition()
        self._seconds_per_instance = None
        self._threads = [
            threading.Thread(target=self._loop, name=f"batcher-{index}", daemon=True)
            for index in range(num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def reserve(self, size):
        """The reservation (for `submit` or `release`) of room for about `size` instances.

        Raises `QueueFullError` without room, RuntimeError once closed.
        """
        with self._condition:
            self._check_room(size)
            self.reserved_instances += size
        return size

    def release(self, reservation):
        """Gives back a reservation that will not be submitted."""
        with self._condition:
            self.reserved_instances -= reservation
            self._condition.notify_all()

    def submit(self, parts, key=None, reservation=None, lengths=None):
        """Enqueues one request's parts, all or none.

        Args:
            parts: a list of `(payload, size)`, each of at most
                `max_batch_size` instances.
            key: parts batch together only with parts of an equal key.
            reservation: from `reserve`; the parts then take its place and are
                never refused. Without one, the queue must have room.
            lengths: optional, one length per part: a batch groups parts of
                similar length (see the module doc).

        Returns:
            a `concurrent.futures.Future` per part, holding its result;
            `QueueFullError` without reservation or room, RuntimeError once
            closed.
        """
        size = sum(part_size for _, part_size in parts)
        oversized = [part_size for _, part_size in parts if part_size > self.max_batch_size]
        if oversized:
            raise ValueError(
                f"parts of {oversized} instances exceed max_batch_size {self.max_batch_size}"
            )
        with self._condition:
            if reservation is None:
                self._check_room(size)
            else:
                self.reserved_instances -= reservation
            now = time.monotonic()
            futures = []
            for (payload, part_size), length in zip(parts, lengths or [None] * len(parts)):
                future = concurrent.futures.Future()
                self._queue.append(_Part(payload, part_size, key, future, now, length))
                futures.append(future)
            self.queued_instances += size
            self._condition.notify_all()
        return futures

    def _check_room(self, size):
        """Raises unless `size` more instances fit (called with the lock held)."""
        if self._closing:
            raise RuntimeError("the batcher is closed")
        waiting = self.queued_instances + self.reserved_instances
        if waiting and waiting + size > self.capacity:
            raise QueueFullError(
                f"the server is busy: {waiting} instances are waiting "
                f"(the queue holds {self.capacity})",
                retry_after=self.retry_after(),
            )

    def retry_after(self):
        """Seconds the queue takes to drain at the measured speed (at least 1): `Retry-After`."""
        per_instance = self._seconds_per_instance or 0.0
        waiting = self.queued_instances + self.reserved_instances
        return max(1, round(waiting * per_instance / len(self._threads)))

    def close(self, timeout=None):
        """Runs what is queued, then stops the batch threads (`timeout`: seconds, None: all)."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self):
        while (batch := self._next_batch()) is not None:
            if batch:
                self._run(batch)

    def _next_batch(self):
        """Waits for a batch (see the module doc); None once closed and empty."""
        with self._condition:
            while True:
                while not self._queue:
                    if self._closing:
                        return None
                    self._condition.wait()
                first = self._queue[0]
                waiting = sum(part.size for part in self._queue if part.key == first.key)
                remaining = first.enqueued + self.batch_timeout - time.monotonic()
                if waiting >= self.max_batch_size or remaining <= 0 or self._closing:
                    break
                if not self.reserved_instances:
                    break  # nothing is on its way
                self._condition.wait(remaining)
            chosen, size = set(), 0
            for part in self._candidates(first):
                if size + part.size <= self.max_batch_size:
                    size += part.size
                    chosen.add(id(part))
            batch, kept = [], collections.deque()
            for part in self._queue:
                if id(part) not in chosen:
                    kept.append(part)
                # A part whose request went away (cancelled) is dropped.
                elif part.future.set_running_or_notify_cancel():
                    batch.append(part)
            self._queue = kept
            self.queued_instances -= size
            return batch

    def _candidates(self, first):
        """The waiting parts that may join `first`'s batch, in the order they are taken."""
        parts = [part for part in self._queue if part.key == first.key]
        if first.length is None:
            return parts
        # A stable sort: `first` (distance 0, the oldest) stays first.
        return sorted(parts, key=lambda part: abs(part.length - first.length))

    def _run(self, batch):
        start = time.perf_counter()
        try:
            results = self.run_batch([part.payload for part in batch])
            if len(results) != len(batch):
                raise RuntimeError(
                    f"run_batch returned {len(results)} results for {len(batch)} payloads"
                )
        except Exception as error:
            if len(batch) == 1:
                batch[0].future.set_exception(error)
            else:
                for part in batch:  # alone, so each part gets its own error
                    self._run([part])
            return
        seconds = time.perf_counter() - start
        size = sum(part.size for part in batch)
        self._seconds_per_instance = seconds / size
        if self.on_batch is not None:
            self.on_batch(size, seconds)
        for part, result in zip(batch, results):
            part.future.set_result(result)
