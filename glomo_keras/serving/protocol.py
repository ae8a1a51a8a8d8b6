"""uvicorn's HTTP/1.1 protocol (h11) with the guards a public server needs.

`GuardedH11Protocol` keeps uvicorn's parsing and adds, per connection: what
the parser refuses is answered `{"error": ...}` (431 for a head over
`Limits.max_header_bytes`, else 400, where uvicorn answers plain text); a
connection over `Limits.max_connections` gets a JSON 503 at once; a
request's line and headers must arrive within `Limits.header_timeout`
seconds (else a JSON 408; an idle new connection is closed). Each such
answer is reported to `observe(method, route, status, seconds)` with the
route `invalid`, `refused` or `timeout`.

Example:

```python
protocol = functools.partial(GuardedH11Protocol, limits=Limits(), observe=print)
uvicorn.Config(app, http=protocol, h11_max_incomplete_event_size=Limits().max_header_bytes)
```
"""

import http
import json
import time

from uvicorn.protocols.http.h11_impl import H11Protocol


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus JSON protocol errors, a connection limit and a head timer.

    Args:
        limits: the server's `Limits`.
        observe: `observe(method, route, status, seconds)`, for the metrics.
        **kwargs: uvicorn's arguments of `H11Protocol`.
    """

    def __init__(self, *args, limits, observe, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.observe = observe
        self._head_timer = None
        self._opened = time.perf_counter()

    def connection_made(self, transport):
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._answer(503, self.limits.too_many_connections(), "refused",
                         [("retry-after", "1")])
            return
        self._arm_head_timer()

    def connection_lost(self, exc):
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data):
        if self._head_timer is None and self._waiting_for_head():
            self._arm_head_timer()
        super().data_received(data)

    def on_response_complete(self):
        self._cancel_head_timer()
        super().on_response_complete()

    def send_400_response(self, msg):
        """Answers what h11 cannot parse (uvicorn calls this), in JSON."""
        if len(self.conn.trailing_data[0]) >= self.limits.max_header_bytes:
            self._answer(431, self.limits.head_too_large(), "invalid")
        else:
            self._answer(400, "malformed HTTP/1.1 request: a request line or header that "
                         "cannot be parsed, no Host header, or a conflicting or invalid "
                         "Content-Length", "invalid")

    def _waiting_for_head(self):
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self):
        self._opened = time.perf_counter()
        self._head_timer = self.loop.call_later(
            self.limits.header_timeout, self._head_timed_out, self.cycle)

    def _cancel_head_timer(self):
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self, cycle):
        self._head_timer = None
        if self.cycle is not cycle or not self._waiting_for_head():
            return  # a request arrived in time
        if self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:
            self._answer(408, self.limits.head_too_slow(), "timeout")
        else:
            self.transport.close()

    def _answer(self, status, message, route, headers=()):
        """Writes a JSON error answer outside h11's state machine and closes."""
        body = json.dumps({"error": message}).encode("utf-8")
        lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
                 "content-type: application/json", f"content-length: {len(body)}",
                 "connection: close", *(f"{name}: {value}" for name, value in headers)]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.transport.close()
        self.observe("other", route, status, time.perf_counter() - self._opened)
