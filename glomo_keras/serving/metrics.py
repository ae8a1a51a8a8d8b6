"""Prometheus metrics of a model server (`prometheus_client`).

`GET /monitoring/prometheus/metrics` (TensorFlow Serving's path) answers
`ServingMetrics.exposition()`: answered requests by route, method and
status, their latency, batch sizes and durations, and gauges of the queued
instances, the requests in flight and the open connections. A route is a
handler's name (`analyze`, `v2_infer`, ...), `unknown` (an unknown path),
`invalid`, `timeout` or `refused` (`protocol.py`). Each server has its own
registry, so several servers can live in one process (tests).
"""

import prometheus_client

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


class ServingMetrics:
    """The metrics of one model server.

    Args:
        queued_instances: a function returning the instances waiting for a batch.
        requests_in_flight: a function returning the model requests being handled.
        open_connections: a function returning the open connections.

    Example:

    ```python
    metrics = ServingMetrics(lambda: 0, lambda: 0, lambda: 1)
    metrics.observe_request("POST", "analyze", 200, 0.031)
    metrics.observe_batch(8, 0.12)
    body, content_type = metrics.exposition()
    ```
    """

    def __init__(self, queued_instances, requests_in_flight, open_connections):
        self.registry = prometheus_client.CollectorRegistry()
        registry = self.registry
        self.requests = prometheus_client.Counter(
            "glomo_serving_requests", "Answered HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=registry,
        )
        self.latency = prometheus_client.Histogram(
            "glomo_serving_request_duration_seconds",
            "Seconds from a request's first byte to its answer, by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.batch_size = prometheus_client.Histogram(
            "glomo_serving_batch_size", "Instances per model call.",
            buckets=BATCH_SIZE_BUCKETS, registry=registry,
        )
        self.batch_duration = prometheus_client.Histogram(
            "glomo_serving_batch_duration_seconds", "Seconds per model call.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        gauges = (
            ("glomo_serving_queued_instances", "Instances waiting for a batch.",
             queued_instances),
            ("glomo_serving_requests_in_flight", "Model requests being handled.",
             requests_in_flight),
            ("glomo_serving_open_connections", "Open client connections.", open_connections),
        )
        for name, documentation, function in gauges:
            gauge = prometheus_client.Gauge(name, documentation, registry=registry)
            gauge.set_function(function)

    def observe_request(self, method, route, status, seconds):
        """Counts one answered request and its latency."""
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, size, seconds):
        """Records one model call of `size` instances."""
        self.batch_size.observe(size)
        self.batch_duration.observe(seconds)

    def exposition(self):
        """`(body bytes, content type)` in the Prometheus text format."""
        body = prometheus_client.generate_latest(self.registry)
        return body, prometheus_client.CONTENT_TYPE_LATEST
