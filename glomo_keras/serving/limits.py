"""The limits and defaults of a model server, importable without TensorFlow.

Every refusal of a request over a limit is worded here, from the limit's
own value, so that no message can name another number than the one
enforced. The other settings' defaults (`PORT`, `MAX_BATCH_SIZE`, ...) are
`glomo-keras serve`'s and `ModelServer`'s.

Example:

```python
limits = Limits(max_body_bytes=2**20)
limits.body_too_large(5_000_000)
# "the request body of 5000000 bytes is over the limit of 1048576 bytes (1.0 MiB)"
```
"""

import dataclasses

PORT = 8501
MAX_BATCH_SIZE = 16
BATCH_TIMEOUT_MS = 10.0
MAX_ENQUEUED_BATCHES = 3
BATCH_THREADS = 1
WORKERS = 2
DRAIN_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request and one connection may use.

    Args:
        max_body_bytes: the largest request body (413 beyond, refused on its
            `Content-Length` before it is read).
        max_header_bytes: the largest request line plus headers (431 beyond).
        max_instances: the most instances in one request (413 beyond).
        max_connections: the most open connections (503 beyond), also the
            listen backlog.
        header_timeout: seconds a client may take to send a request's line
            and headers once it started (408), or to start on a new
            connection (closed).
        body_timeout: seconds a client may take to send a request body (408).
        keep_alive_timeout: seconds an idle keep-alive connection stays open.

    Example:

    ```python
    Limits(max_instances=64).too_many_instances(65)
    ```
    """

    max_body_bytes: int = 10 * 2**20
    max_header_bytes: int = 8 * 2**10
    max_instances: int = 256
    max_connections: int = 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive_timeout: float = 30.0

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value <= 0:
                raise ValueError(f"{field.name} must be positive, not {value}")

    def body_too_large(self, length):
        """The 413 message of a body of `length` bytes."""
        return (f"the request body of {length} bytes is over the limit of "
                f"{self.max_body_bytes} bytes ({self.max_body_bytes / 2**20:.1f} MiB)")

    def head_too_large(self):
        """The 431 message of a request line and headers over the limit."""
        return (f"the request line and headers are over the limit of "
                f"{self.max_header_bytes} bytes ({self.max_header_bytes // 1024} KiB)")

    def too_many_instances(self, count):
        """The 413 message of a request of `count` instances."""
        return (f"the request holds {count} instances; the limit is "
                f"{self.max_instances} per request: send several requests")

    def too_many_connections(self):
        """The 503 message of a connection over the limit."""
        return (f"the server has {self.max_connections} open connections, its limit; "
                "retry after 1 s")

    def head_too_slow(self):
        """The 408 message of a request line and headers sent too slowly."""
        return f"the request line and headers did not arrive within {self.header_timeout:g} s"

    def body_too_slow(self, length):
        """The 408 message of a body of `length` bytes sent too slowly."""
        return f"the request body of {length} bytes did not arrive within {self.body_timeout:g} s"
