"""`glomo-keras serve`: serve an exported model over TF Serving's REST API and KServe V2.

SIGTERM or SIGINT lets the requests in flight finish (at most
`--drain-timeout` seconds; a second signal stops at once) and exits 0.
`docs/serving.md` is the guide.

Example:

```
glomo-keras serve --model saved_models/mosi --port 8501
curl http://127.0.0.1:8501/v1/models/mosi
```
"""

import pathlib
import signal

from glomo_keras.cli import positive_int
from glomo_keras.errors import MissingFileError, UsageError
from glomo_keras.serving import limits as defaults
from glomo_keras.serving.limits import Limits


def configure(parser):
    """Adds the `serve` flags to `parser`."""
    limits = Limits()
    parser.add_argument("--model", required=True,
                        help="the model folder (saved_models/<name>; its highest "
                             "version is served) or one version folder")
    parser.add_argument("--name", default=None,
                        help="the model name in the URLs (default: the model folder's "
                        "name; for a run's saved_model folder, the run's name)")
    parser.add_argument("--port", type=int, default=defaults.PORT,
                        help="the port, 0 to 65535 (default %(default)s; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--max-batch-size", type=positive_int, default=defaults.MAX_BATCH_SIZE,
                        help="the most utterances in one model call: concurrent requests "
                             "are batched up to it, larger requests run in chunks of it "
                             "(default %(default)s; 1 turns batching off)")
    parser.add_argument("--batch-timeout-ms", type=float, default=defaults.BATCH_TIMEOUT_MS,
                        help="how long a batch that is not full may wait for requests "
                             "being read or parsed; it never waits when none is "
                             "(default %(default)s)")
    parser.add_argument("--max-enqueued-batches", type=positive_int,
                        default=defaults.MAX_ENQUEUED_BATCHES,
                        help="the queue holds this many full batches of utterances; "
                             "beyond, requests get 503 with Retry-After at once "
                             "(default %(default)s)")
    parser.add_argument("--batch-threads", type=positive_int, default=defaults.BATCH_THREADS,
                        help="batches run at the same time (default %(default)s)")
    parser.add_argument("--max-instances", type=positive_int, default=limits.max_instances,
                        help="the most instances in one request; 413 beyond "
                             "(default %(default)s)")
    parser.add_argument("--max-body-bytes", type=positive_int, default=limits.max_body_bytes,
                        help="the largest request body; 413 beyond (default %(default)s)")
    parser.add_argument("--max-connections", type=positive_int, default=limits.max_connections,
                        help="the most open connections (503 beyond) and the listen "
                             "backlog (default %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=defaults.WORKERS,
                        help="threads that parse requests and encode answers "
                             "(default %(default)s)")
    parser.add_argument("--drain-timeout", type=float, default=defaults.DRAIN_TIMEOUT,
                        help="seconds a SIGTERM/SIGINT waits for the requests in flight "
                             "(default %(default)s)")
    parser.set_defaults(func=run)


def run(args):
    """Serves until SIGTERM or SIGINT; returns 0 once drained.

    Raises:
        UsageError: a flag out of range, or the port in use.
        MissingFileError: `--model` is no exported model.
    """
    from glomo_keras.serving.server import make_server

    _check_flags(args)
    limits = Limits(max_body_bytes=args.max_body_bytes, max_instances=args.max_instances,
                    max_connections=args.max_connections)
    try:
        server = make_server(
            args.model, name=args.name, host=args.host, port=args.port, limits=limits,
            max_batch_size=args.max_batch_size, batch_timeout_ms=args.batch_timeout_ms,
            max_enqueued_batches=args.max_enqueued_batches, batch_threads=args.batch_threads,
            workers=args.workers, drain_timeout=args.drain_timeout,
        )
    except FileNotFoundError as error:
        raise MissingFileError(f"--model {args.model}: {error}") from None
    except OSError as error:
        raise UsageError(
            f"--host {args.host} --port {args.port} cannot be bound ({error.strerror}); "
            "expected a free port on an address of this machine (--port 0 picks a free one)"
        ) from None

    def stop(signum, frame):
        print(f"{signal.Signals(signum).name}: finishing the requests in flight "
              "(a second signal stops at once)", flush=True)
        server.request_shutdown()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    predictor = server.predictor
    print(f"Serving model {server.model_name!r} version {predictor.version} "
          f"({predictor.path}) at {server.url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("Server stopped.", flush=True)
    return 0


def _check_flags(args):
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is out of range; expected 0 to 65535 "
                         "(0 picks a free port)")
    for flag, unit in (("batch_timeout_ms", "milliseconds"), ("drain_timeout", "seconds")):
        value = getattr(args, flag)
        if value < 0:
            raise UsageError(f"--{flag.replace('_', '-')} {value} is negative; expected "
                             f"0 or more {unit}")
    if not pathlib.Path(args.model).exists():
        raise MissingFileError(f"--model {args.model} does not exist; expected an exported "
                               "model folder such as runs/mosi/saved_model")
