"""Checks shared by the readers: errors naming file, split, item and field, not numpy tracebacks."""

import numbers

import numpy as np

from glomo_keras.data.common import CLASSIFICATION, SPLITS, SplitReport
from glomo_keras.data.errors import DataFormatError


def describe(value):
    """A short description of a value for error messages, e.g. `a tuple of 2`."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    if isinstance(value, (tuple, list)):
        return f"{article} {name} of {len(value)}"
    return f"{article} {name}"


class Checker:
    """Validates the items of one file and tracks its dims and dirt.

    It turns every field into the common form's type or raises a
    `DataFormatError` naming the item (set by `at(split, index)`); the
    first non-empty array of a modality fixes its dim; non-finite values
    become 0 and are counted.

    Args:
        source: the file or folder, for error messages.

    Example:

    ```python
    checker = Checker("mosi.pkl")
    checker.at("train", 0)
    visual = checker.features(item_visual, "visual", "visual", rows=len(words))
    checker.dims        # {"visual": 47}
    checker.split_reports(splits, "regression", "mag", (-3.0, 3.0))  # once every item is read
    ```
    """

    def __init__(self, source):
        self.source = str(source)
        self.dims = {}
        self.nonfinite = {}
        # split -> modality -> [values seen, the stored fields holding them]
        self.values = {}
        self.notes = []
        self.split = None
        self.index = None

    def at(self, split, index=None):
        """Sets the split and item index that errors will name."""
        self.split = split
        self.index = index
        self.nonfinite.setdefault(split, {})

    def error(self, message, field=None):
        """A `DataFormatError` at the current split, item and `field`."""
        return DataFormatError(
            message, source=self.source, split=self.split, index=self.index, field=field
        )

    def note(self, text):
        """Adds a remark for the loading report (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def features(self, value, field, modality, rows=None, ndim=2):
        """A float32 feature array with finite values and the file's dims.

        Args:
            value: the stored array.
            field: the field name for errors.
            modality: `"acoustic"`, `"visual"` or `"text"` (one dim per file).
            rows: the required number of rows (word-aligned data), or None.
            ndim: 2 for one item [rows, d], 3 for a stacked split [N, T, d].

        Returns:
            float32 array; an empty one is (0, 0) while the dim is unknown
            (`read_items` gives it the dim).
        """
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            raise self.error(f"expected a numeric array, found {describe(value)}", field)
        if array.dtype.kind not in "biuf":
            raise self.error(f"expected a numeric array, found {describe(value)}", field)
        if ndim == 2 and array.size == 0 and rows in (None, 0):
            # An empty part, stored as (0, d), (0,) or []; only (0, d) tells d.
            if array.ndim == 2 and array.shape[1] > 0:
                self.check_dim(modality, array.shape[1], field)
            return np.zeros((0, self.dims.get(modality, 0)), np.float32)
        if array.ndim != ndim:
            layout = "[n_words, d]" if ndim == 2 else "[N, T, d]"
            raise self.error(f"expected an array {layout}, found shape {array.shape}", field)
        if rows is not None and array.shape[0] != rows:
            raise self.error(
                f"has {array.shape[0]} rows but the utterance has {rows} words; "
                "word-aligned features need one row per word",
                field,
            )
        self.check_dim(modality, array.shape[-1], field)
        with np.errstate(over="ignore"):
            array = array.astype(np.float32)
        bad = ~np.isfinite(array)
        count = int(bad.sum())
        if count:
            array[bad] = 0.0
        counts = self.nonfinite.setdefault(self.split, {})
        counts[modality] = counts.get(modality, 0) + count
        seen = self.values.setdefault(self.split, {}).setdefault(modality, [0, []])
        seen[0] += array.size
        if field not in seen[1]:
            seen[1].append(field)
        return array

    def split_reports(self, splits, task, data_format, label_range):
        """The labels and `SplitReport` of every split, once the whole file is read.

        Refuses what only the whole file shows: a modality of a split without
        any finite value (missing, not dirt: training on its zeros would go
        unnoticed), and a file without acoustic or visual features.

        Args:
            splits: split -> list of `Utterance`, as the reader gave them.
            task: `"regression"` or `"classification"`.
            data_format: the file's format (CHERMA also counts text dirt).
            label_range: `(low, high)` of valid labels, or None.

        Returns:
            dict split -> `(labels, report)`, in `SPLITS` order; labels int32
            class indices or float32 values (NaN where unknown).

        Example:

        ```python
        checker.split_reports(splits, "regression", "mag", (-3.0, 3.0))
        ```
        """
        for split, modalities in self.values.items():
            for modality, (count, fields) in modalities.items():
                if count and self.nonfinite.get(split, {}).get(modality, 0) == count:
                    raise DataFormatError(
                        f"all {count} values are non-finite (NaN or inf): the split has "
                        f"no {modality} features (a few non-finite values are replaced by "
                        "0 and counted; a modality without any finite value is refused)",
                        source=self.source, split=split, field="/".join(fields),
                    )
        for modality in ("acoustic", "visual"):
            if not self.dims.get(modality):
                raise DataFormatError(f"no utterance has {modality} features", source=self.source)
        modalities = ("text", "acoustic", "visual") if data_format == "cherma" else (
            "acoustic", "visual")
        result = {}
        for name in [name for name in SPLITS if name in splits]:
            utterances = splits[name]
            if task == CLASSIFICATION:
                labels = np.asarray([u.label for u in utterances], np.int32).reshape(-1)
            else:
                labels = np.asarray([np.nan if u.label is None else u.label
                                     for u in utterances], np.float32).reshape(-1)
            nonfinite = self.nonfinite.get(name, {})
            report = SplitReport(size=len(utterances), nonfinite_replaced={
                modality: nonfinite.get(modality, 0) for modality in modalities})
            known = labels[~np.isnan(labels)] if labels.dtype.kind == "f" else labels
            if len(known):
                report.label_min = float(known.min())
                report.label_max = float(known.max())
                if label_range is not None:
                    low, high = label_range
                    report.labels_out_of_range = int(np.sum((known < low) | (known > high)))
            result[name] = (labels, report)
        return result

    def check_dim(self, modality, dim, field, what="feature columns"):
        """Fixes the file's dim of `modality` or checks it did not change."""
        known = self.dims.setdefault(modality, int(dim))
        if known != dim:
            raise self.error(
                f"has {dim} {what} but earlier items have {known}; "
                f"{what} must not change inside a file",
                field,
            )

    def words(self, value, field):
        """A list of str from a list, tuple or array of strings."""
        if isinstance(value, np.ndarray) and value.dtype.kind in "US":
            value = value.tolist()
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise self.error(f"expected a list of words, found {describe(value)}", field)
        words = []
        for word in value:
            words.append(self.text(word, field))
        return words

    def text(self, value, field):
        """A str (bytes are decoded as UTF-8)."""
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error("expected UTF-8 text, found undecodable bytes", field)
        if not isinstance(value, str):
            raise self.error(f"expected a string, found {describe(value)}", field)
        return str(value)

    def identifier(self, value, field):
        """A segment id: a string, or an integer written as one."""
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(int(value))
        return self.text(value, field)

    def number(self, value, field):
        """A finite float from a number or an array holding one value."""
        if isinstance(value, (numbers.Real, np.ndarray, np.generic)) and not isinstance(
            value, (bool, np.bool_)
        ):
            array = np.asarray(value)
            if array.size == 1 and array.dtype.kind in "biuf":
                number = float(array.reshape(()))
                if np.isfinite(number):
                    return number
                raise self.error(f"expected a finite number, found {number}", field)
        raise self.error(
            f"expected a number or an array with one value, found {describe(value)}",
            field,
        )

    def class_index(self, value, field, class_names):
        """An int class index in range, from a number or a one-value array."""
        number = self.number(value, field)
        if number != int(number) or not 0 <= number < len(class_names):
            raise self.error(
                f"expected a class index in 0..{len(class_names) - 1} "
                f"({', '.join(class_names)}), found {number:g}",
                field,
            )
        return int(number)


def split_table(obj, checker, layout, valid_names=("dev", "valid")):
    """The three splits of an unpickled file as `{"train", "valid", "test"}`."""
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"expected {layout} at the top level, found {describe(obj)}",
            source=checker.source,
        )
    names = {"train": ("train",), "valid": valid_names, "test": ("test",)}
    table = {}
    for split, keys in names.items():
        present = [key for key in keys if key in obj]
        if not present:
            found = ", ".join(repr(key) for key in obj) or "none"
            raise DataFormatError(
                f"the split is missing (looked for {' or '.join(map(repr, keys))}; "
                f"the file has the keys {found})",
                source=checker.source,
                split=split,
            )
        table[split] = obj[present[0]]
    return table


def read_items(checker, table, expected, looks_like, read_item):
    """split -> the `Utterance` that `read_item(item)` makes of each item of `table`, checked.

    Each split must be a non-empty list, each item `looks_like(item)`
    (else an error names it: "expected {expected}"). The feature fields
    (an array, or a tuple of parts stacked in order: HKT's context and
    punchline rows) then become one array of the file's dim each, also an
    empty part read before the dim was known.

    Example:

    ```python
    splits = read_items(checker, split_table(obj, checker, LAYOUT), "((words, v, a), label, id)",
                        looks_like, lambda item: Utterance(...))
    ```
    """
    splits = {}
    for split, items in table.items():
        checker.at(split)
        if not isinstance(items, (list, tuple)):
            raise checker.error(f"expected a list of items, found {describe(items)}")
        if len(items) == 0:
            raise checker.error("the split is empty")
        splits[split] = []
        for index, item in enumerate(items):
            checker.at(split, index)
            if not looks_like(item):
                raise checker.error(f"expected {expected}, found {describe(item)}")
            splits[split].append(read_item(item))
    for modality, attribute in (("acoustic", "acoustic"), ("visual", "visual"),
                                ("text", "text_features")):
        dim = checker.dims.get(modality)
        for utterance in (u for utterances in splits.values() for u in utterances):
            parts = getattr(utterance, attribute)
            if isinstance(parts, tuple) and dim is not None:
                parts = np.concatenate([part.reshape(-1, dim) for part in parts])
            elif parts is not None and dim is not None and parts.shape[1] != dim:
                parts = parts.reshape(-1, dim)  # empty, read before the dim was known
            setattr(utterance, attribute, parts)
    return splits
