"""`glomo-keras serve`: serve an exported model over TF Serving's REST API.

Example:

```
glomo-keras serve --model saved_models/mosi --port 8501
curl http://127.0.0.1:8501/v1/models/mosi
```
"""

import signal
import sys
import threading


def register(subparsers):
    """Adds the `serve` command to `subparsers`."""
    parser = subparsers.add_parser(
        "serve", help="serve an exported model (TF Serving REST API plus :analyze)"
    )
    parser.add_argument("--model", required=True,
                        help="the model folder (saved_models/<name>; its highest "
                             "version is served) or one version folder")
    parser.add_argument("--name", default=None,
                        help="the model name in the URLs (default: the model folder's name)")
    parser.add_argument("--port", type=int, default=8501,
                        help="the port (default 8501; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to bind (default 127.0.0.1: this machine only)")
    parser.set_defaults(func=run)


def run(args):
    from glomo_keras.serving.server import make_server

    try:
        server = make_server(args.model, name=args.name, host=args.host, port=args.port)
    except (OSError, ValueError) as error:
        print(f"glomo-keras serve: {error}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        # `shutdown` waits for `serve_forever` to return, so not on its thread.
        threading.Thread(target=server.shutdown).start()

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
