"""`glomo-keras serve`: serve an exported model over TF Serving's REST API.

Concurrent requests are batched (`--max-batch-size`, `--batch-timeout-ms`);
a full queue answers 503 at once; SIGTERM or SIGINT stops accepting, lets
the requests in flight finish (at most `--drain-timeout` seconds; a second
signal stops at once) and exits 0. Metrics: `GET
/monitoring/prometheus/metrics`; one JSON access log line per request on
stderr.

Example:

```
glomo-keras serve --model saved_models/mosi --port 8501
curl http://127.0.0.1:8501/v1/models/mosi
```
"""

import signal
import sys


def configure(parser):
    """Adds the `serve` flags to `parser`."""
    from glomo_keras.serving import server

    parser.add_argument("--model", required=True,
                        help="the model folder (saved_models/<name>; its highest "
                             "version is served) or one version folder")
    parser.add_argument("--name", default=None,
                        help="the model name in the URLs (default: the model folder's name)")
    parser.add_argument("--port", type=int, default=8501,
                        help="the port (default 8501; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--max-batch-size", type=int, default=server.DEFAULT_MAX_BATCH_SIZE,
                        help="the most utterances in one model call: concurrent requests "
                             "are batched up to it, larger requests run in chunks of it "
                             "(default %(default)s; 1 turns batching off)")
    parser.add_argument("--batch-timeout-ms", type=float,
                        default=server.DEFAULT_BATCH_TIMEOUT_MS,
                        help="how long a batch that is not full may wait for requests "
                             "being read or parsed; it never waits when none is "
                             "(default %(default)s)")
    parser.add_argument("--max-enqueued-batches", type=int,
                        default=server.DEFAULT_MAX_ENQUEUED_BATCHES,
                        help="the queue holds this many full batches of utterances; "
                             "beyond, requests get 503 with Retry-After at once "
                             "(default %(default)s)")
    parser.add_argument("--batch-threads", type=int, default=server.DEFAULT_BATCH_THREADS,
                        help="batches run at the same time (default %(default)s)")
    parser.add_argument("--max-instances", type=int, default=server.DEFAULT_MAX_INSTANCES,
                        help="the most instances in one request; 413 beyond "
                             "(default %(default)s)")
    parser.add_argument("--max-connections", type=int, default=server.DEFAULT_MAX_CONNECTIONS,
                        help="the most open connections (503 beyond) and the listen "
                             "backlog (default %(default)s)")
    parser.add_argument("--workers", type=int, default=server.DEFAULT_WORKERS,
                        help="threads that parse and encode requests (default %(default)s)")
    parser.add_argument("--drain-timeout", type=float, default=server.DEFAULT_DRAIN_TIMEOUT,
                        help="seconds a SIGTERM/SIGINT waits for the requests in flight "
                             "(default %(default)s)")
    parser.set_defaults(func=run)


def run(args):
    from glomo_keras.serving.server import make_server

    try:
        server = make_server(
            args.model, name=args.name, host=args.host, port=args.port,
            max_batch_size=args.max_batch_size, batch_timeout_ms=args.batch_timeout_ms,
            max_enqueued_batches=args.max_enqueued_batches, batch_threads=args.batch_threads,
            max_instances=args.max_instances,
            max_connections=args.max_connections, workers=args.workers,
            drain_timeout=args.drain_timeout,
        )
    except (OSError, ValueError) as error:
        print(f"glomo-keras serve: {error}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        print(f"{signal.Signals(signum).name}: finishing the requests in flight "
              "(a second signal stops at once)", flush=True)
        server.request_shutdown()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    predictor = server.predictor
    print(
        f"Serving model {server.model_name!r} version {predictor.version} "
        f"({predictor.path}) at {server.url}",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("Server stopped.", flush=True)
    return 0
