"""The `glomo-keras` command line (also `python -m glomo_keras`).

Each sub-command lives in its own module of `glomo_keras.commands` and
exposes `register(subparsers)`, which adds its parser and sets `func`.

Example:

```
glomo-keras summary --dataset mosi --backbone random:bert_base
```
"""

import argparse
import sys

from glomo_keras.commands import convert, data, export, plot, serve, study, summary, train, tune

COMMANDS = (summary, data, train, export, serve, convert, study, plot, tune)


def build_parser():
    """Returns the top-level `argparse.ArgumentParser` with every command."""
    parser = argparse.ArgumentParser(
        prog="glomo-keras",
        description="GLoMo multimodal sentiment analysis in Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv=None):
    """Runs one command; returns its exit status.

    Args:
        argv: the arguments without the program name; `sys.argv[1:]` if None.

    Example:

    ```python
    main(["summary", "--dataset", "mosi", "--backbone", "random:bert_tiny"])
    ```
    """
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
