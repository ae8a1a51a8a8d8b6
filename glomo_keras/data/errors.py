"""The one exception the data package raises for a file it cannot use."""

from glomo_keras.errors import GLoMoError


class DataFormatError(GLoMoError, ValueError):
    """A data file that glomo-keras cannot read, or reads but cannot use.

    A `GLoMoError` (the command line prints it and exits with status 2) and
    a `ValueError` (a missing file is a `MissingFileError` instead). The
    message names the file, split, item index and field that apply (also
    kept as attributes), then what was expected and what was found.

    Args:
        message: what was expected and what was found.
        source: the file or folder (a path or a name).
        split: the split, e.g. `"train"`.
        index: the item index inside the split.
        field: the field of the item, e.g. `"visual"`.

    Example:

    ```python
    raise DataFormatError("expected an array [n_words, d], found shape (3,)",
                          source="mosi.pkl", split="train", index=12, field="visual")
    ```
    """

    def __init__(self, message, *, source=None, split=None, index=None, field=None):
        self.source = None if source is None else str(source)
        self.split = split
        self.index = index
        self.field = field
        self.detail = message
        where = []
        if split is not None:
            where.append(f"split '{split}'")
        if index is not None:
            where.append(f"item {index}")
        if field is not None:
            where.append(f"field '{field}'")
        text = message
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.source is not None:
            text = f"{self.source}: {text}"
        super().__init__(text)
