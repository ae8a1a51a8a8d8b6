"""A restricted unpickler: numpy arrays and plain data, and nothing else.

Benchmark features circulate as pickles, and an ordinary `pickle.load` runs
whatever code a file names. `load_pickle` reads a file with an unpickler whose
`find_class` admits only the globals that numpy arrays, numpy scalars, dtypes,
builtin containers, numbers and strings need. Any other global (`os.system`,
`builtins.eval`, a class of some library) stops the load with a
`DataFormatError` that names the file and the global, before the global is
imported, so none of the file's code runs.
"""

import _codecs
import builtins
import pickle

import numpy as np

from glomo_keras.data.errors import DataFormatError
from glomo_keras.errors import MissingFileError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

# (module, name) -> the object it stands for. Python 2 pickles name
# `__builtin__`; numpy 1.x pickles name `numpy.core`, numpy 2.x `numpy._core`.
_ALLOWED = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_module, "scalar")] = _multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = _numeric._frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
# Python 2 and protocol-2 pickles spell bytes as `_codecs.encode(text, "latin1")`.
_ALLOWED[("_codecs", "encode")] = _codecs.encode
for _module in ("builtins", "__builtin__"):
    for _name in (
        "list", "tuple", "dict", "set", "frozenset", "bytearray", "bytes",
        "str", "int", "float", "complex", "bool",
    ):
        _ALLOWED[(_module, _name)] = getattr(builtins, _name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise DataFormatError(
                f"refused to load: the pickle references the global "
                f"'{module}.{name}'; only numpy arrays, numpy scalars and "
                "dtypes, builtin containers, numbers and strings are allowed, "
                "and nothing from the file was run",
                source=self._source,
            )
        return allowed

    def persistent_load(self, pid):
        raise DataFormatError(
            "refused to load: the pickle uses persistent ids", source=self._source
        )


def load_pickle(path):
    """Reads a pickle that may only hold numpy arrays and plain data.

    Python 2 pickles are read with `encoding="latin1"` (numpy's setting).

    Args:
        path: the pickle file.

    Raises:
        MissingFileError: the file does not exist or cannot be opened.
        DataFormatError: a forbidden global, or not a readable pickle.

    Example:

    ```python
    data = load_pickle("mosi.pkl")
    data["train"][0][1]  # the first label
    ```
    """
    try:
        with open(path, "rb") as file:
            return _RestrictedUnpickler(file, path).load()
    except DataFormatError:
        raise
    except OSError as error:
        raise MissingFileError(
            f"{path}: cannot open the file ({error.strerror}); expected a readable pickle"
        ) from None
    except Exception as error:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise DataFormatError(
            f"not a readable pickle ({type(error).__name__}: {error})", source=path
        )
