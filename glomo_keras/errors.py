"""The package's error classes: mistakes a user can correct.

Library code raises these (never `SystemExit`); the command line
(`glomo_keras.cli`) turns any `GLoMoError` into one line on stderr,
`glomo-keras <command>: <message>`, and exit status 2. Every other
exception is a bug and keeps its traceback.

Each message names the flag, file or field, what was given and what was
expected; `closest_names` adds "did you mean ...?" for a misspelled name.
"""

import difflib


class GLoMoError(Exception):
    """Base of the mistakes a user can correct (bad flags, files, settings)."""


class UsageError(GLoMoError, ValueError):
    """A flag, argument or setting with a value that cannot be used."""


class MissingFileError(GLoMoError, FileNotFoundError):
    """A file or folder the command needs does not exist or cannot be read."""


class SetupError(GLoMoError, RuntimeError):
    """This machine cannot do what was asked: no GPU, a backend already imported."""


class OfflineError(GLoMoError, ConnectionError):
    """Something (a backbone preset) must be downloaded and the network is not there."""


def closest_names(given, names, count=3):
    """"; did you mean 'x' or 'y'?" for a misspelled `given`, or "" when nothing is close.

    Args:
        given: the name the user typed.
        names: the valid names.
        count: at most this many suggestions.

    Example:

    ```python
    closest_names("learnig_rate", ["learning_rate", "epochs"])
    # "; did you mean 'learning_rate'?"
    ```
    """
    matches = difflib.get_close_matches(str(given), [str(n) for n in names], n=count, cutoff=0.6)
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {listed}?"
