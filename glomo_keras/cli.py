"""The `glomo-keras` command line (also `python -m glomo_keras`).

Each command is a module of `glomo_keras.commands` with `configure(parser)`
(its flags and `func`), imported only when that command runs, so `--help`
imports no Keras and `--backend` is set first. A mistake prints one line,
`glomo-keras <command>: <message>`, and exits 2 (`--debug` or
`GLOMO_DEBUG=1`: the traceback); TensorFlow's start-up lines show only with
`--verbose`.

Example:

```
glomo-keras summary --dataset mosi --backbone random:bert_base
glomo-keras train --dataset mosei --backend jax --debug
```
"""

import argparse
import importlib
import os
import sys

from glomo_keras import __version__
from glomo_keras.errors import GLoMoError
from glomo_keras.errors import closest_names

# name: (module, one-line help); the order of `glomo-keras --help`.
COMMANDS = {
    "data": ("glomo_keras.commands.data",
             "inspect a data file, or write the built-in sample dataset"),
    "train": ("glomo_keras.commands.train", "train GLoMo (model.fit), select, score, export"),
    "export": ("glomo_keras.commands.export",
               "export a finished run or a preset as a SavedModel (TF Serving layout)"),
    "serve": ("glomo_keras.commands.serve",
              "serve an exported model (TF Serving's REST API and KServe V2)"),
    "summary": ("glomo_keras.commands.summary", "print the parameter counts of a GLoMo model"),
    "convert": ("glomo_keras.commands.convert",
                "convert the released PyTorch code's weights to a .keras model"),
    "study": ("glomo_keras.commands.study",
              "run the paper's studies: Table 4 ablations, Fig. 3 sweeps"),
    "plot": ("glomo_keras.commands.plot",
             "t-SNE (Figs. 2 and 4), modality weights, expert load and Projector "
             "embeddings of a finished run"),
    "tune": ("glomo_keras.commands.tune",
             "search hyper-parameters with KerasTuner (writes best_config.json "
             "for train --config)"),
}
DEBUG_ENVIRONMENT = "GLOMO_DEBUG"


class CommandLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and that knows `--debug`/`--verbose`.

    Every parser (sub-commands' included) accepts `--debug` and `--verbose`,
    so they may stand anywhere; absent by default, so a sub-command does not
    reset what its parent parsed.

    Example:

    ```python
    parser = CommandLineParser(prog="glomo-keras train")
    parser.add_argument("--epochs", type=int)
    parser.parse_args(["--epochs", "x"])
    # stderr: glomo-keras train: error: argument --epochs: invalid int value: 'x' (...)
    ```
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        shared = self.add_argument_group("output")
        shared.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help=f"show the traceback of an error (or set {DEBUG_ENVIRONMENT}=1)")
        shared.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="show TensorFlow's native start-up logs")

    def parse_known_args(self, args=None, namespace=None):
        """Parses as argparse does and records the deepest command's `prog`."""
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, "prog"):
            namespace.prog = self.prog
        return namespace, extras

    def error(self, message):
        """Prints `message` as one line, with the closest flags for unknown ones; exits 2."""
        if message.startswith("unrecognized arguments:"):
            known = list(_option_strings(self))
            for given in message.split(":", 1)[1].split():
                message += closest_names(given.split("=")[0], known)
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def positive_int(text):
    """argparse type: an integer >= 1 (`type=positive_int`); else a one-line flag error."""
    return _positive(text, int, "a positive integer")


def positive_float(text):
    """argparse type: a number > 0 (`type=positive_float`); else a one-line flag error."""
    return _positive(text, float, "a positive number")


def _positive(text, kind, expected):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _option_strings(parser):
    """Every flag of `parser` and of its sub-commands' parsers."""
    for action in parser._actions:
        yield from action.option_strings
        for child in (action.choices or {}).values() if isinstance(
                action, argparse._SubParsersAction) else ():
            yield from _option_strings(child)


def build_parser(command):
    """The parser of one command, with only that command's module imported.

    Args:
        command: a name of `COMMANDS`.

    Example:

    ```python
    args = build_parser("train").parse_args(["--dataset", "mosi"])
    ```
    """
    module_name, help_text = COMMANDS[command]
    parser = CommandLineParser(prog=f"glomo-keras {command}", description=help_text)
    parser.set_defaults(command=command)
    importlib.import_module(module_name).configure(parser)
    return parser


def _top_parser():
    listing = "\n".join(f"  {name:<9} {help_text}" for name, (_, help_text) in COMMANDS.items())
    parser = CommandLineParser(
        prog="glomo-keras",
        description="GLoMo multimodal sentiment analysis in Keras 3.",
        epilog=f"commands:\n{listing}\n\n'glomo-keras COMMAND --help' shows a command's flags.",
        usage="glomo-keras [--version] [--debug] [--verbose] COMMAND ...",
    )
    parser.add_argument("--version", action="version", version=f"glomo-keras {__version__}")
    parser.add_argument("command", metavar="COMMAND", help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
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
    argv = sys.argv[1:] if argv is None else list(argv)
    top = _top_parser().parse_args(argv)
    if top.command not in COMMANDS:
        suggestion = closest_names(top.command, COMMANDS) or f"; expected one of {list(COMMANDS)}"
        print(f"glomo-keras: unknown command '{top.command}'{suggestion}", file=sys.stderr)
        return 2
    position = argv.index(top.command)
    args = build_parser(top.command).parse_args(argv[position + 1:] + argv[:position])
    debug = getattr(args, "debug", False) or os.environ.get(DEBUG_ENVIRONMENT, "") not in ("", "0")
    try:
        from glomo_keras.training import devices  # `--device cpu`, `--backend`: before Keras

        devices.select_backend(getattr(args, "backend", None), getattr(args, "device", "auto"))
        import_tensorflow(verbose=getattr(args, "verbose", False))
        return args.func(args) or 0
    except GLoMoError as error:
        if debug:
            raise
        print(f"{args.prog}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{args.prog}: interrupted (a rerun of train resumes from its last backup)",
              file=sys.stderr)
        return 130


def import_tensorflow(verbose=False):
    """Imports TensorFlow with its native start-up lines hidden; after the backend is chosen.

    Its C++ start-up lines (oneDNN, CUDA, CPU features) go to file
    descriptor 2 before `TF_CPP_MIN_LOG_LEVEL` applies, so descriptor 2 is
    /dev/null during the import unless `verbose`.

    Args:
        verbose: let the start-up lines through (and TensorFlow's INFO logs).

    Example:

    ```python
    import_tensorflow()   # a recipe, after its --backend is set
    ```
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        if not verbose:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
