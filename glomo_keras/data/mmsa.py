"""Reader of the MMSA toolkit pickles (`aligned_50.pkl`, `unaligned_50.pkl`).

Layout: `{"train": {...}, "valid": {...}, "test": {...}}`, each a dict of
arrays: `text_bert` (N, 3, L) = token ids / attention mask / segment ids
(bert-base-uncased ids), `audio` (N, T_a, d_a), `vision` (N, T_v, d_v),
`regression_labels` (N,), `id` (N,), and optionally `audio_lengths`,
`vision_lengths` (unaligned files), `text` (N, L, 768), `raw_text`, ...
MMSA-FET's `run_single` output (the same keys for one utterance, without the
split level) is read as a `test` split of one unlabelled utterance.

A/V masks: from `audio_lengths`/`vision_lengths` when the file has them;
otherwise, when the sequence is as long as the text (aligned files), the
text's attention mask; otherwise up to the last non-zero frame.
"""

import numpy as np

from glomo_keras.data.checks import Checker, describe, split_table
from glomo_keras.data.common import REGRESSION, SENTIMENT_RANGE, Utterance

TASK = REGRESSION
CLASS_NAMES = None
LABEL_RANGE = SENTIMENT_RANGE
ACOUSTIC_COLUMNS = None
VISUAL_COLUMNS = None
LAYOUT = 'a dict {"train", "valid", "test"} of dicts of arrays (text_bert, audio, vision, ...)'
REQUIRED = ("text_bert", "audio", "vision")
# The stored feature widths of the MMSA toolkit's releases of the datasets of
# the dataset table (its config's `feature_dims`: text 768, audio, vision).
# MOSI's differ from its MAG-BERT file's (74 acoustic, 47 visual).
RELEASE_DIMS = {
    "mosi": {"acoustic": 5, "visual": 20},
    "mosei": {"acoustic": 74, "visual": 35},
}
MODALITIES = (("audio", "acoustic"), ("vision", "visual"))


def looks_like_split(value):
    """True if `value` is an MMSA split: a dict with `audio` and `vision` arrays."""
    return isinstance(value, dict) and "audio" in value and "vision" in value


def looks_like_single(obj):
    """True if `obj` is one MMSA-FET utterance (`run_single`), with no split level."""
    return looks_like_split(obj) and "text_bert" in obj


def read(obj, source):
    """Reads an unpickled MMSA file into the common form: `(splits, checker)`.

    Args:
        obj, source: the unpickled top level, and the file for error messages.

    Example:

    ```python
    splits, checker = read(load_pickle("unaligned_50.pkl"), "unaligned_50.pkl")
    splits["train"][0].acoustic_length   # from audio_lengths
    ```
    """
    checker = Checker(source)
    if looks_like_single(obj):
        checker.note("one utterance without splits (MMSA-FET run_single), read as 'test'")
        checker.at("test", 0)
        stacked = {key: np.asarray(obj[key])[None] for key in (*REQUIRED, "text") if key in obj}
        utterances = _read_split(stacked, checker, labelled=False)
        return {"test": utterances}, checker
    table = split_table(obj, checker, LAYOUT, valid_names=("valid", "dev"))
    splits = {}
    for split, data in table.items():
        checker.at(split)
        if not isinstance(data, dict):
            raise checker.error(f"expected a dict of arrays, found {describe(data)}")
        splits[split] = _read_split(data, checker, labelled=True)
    return splits, checker


def _read_split(data, checker, labelled):
    for field in REQUIRED:
        if field not in data:
            raise checker.error(
                "the field is missing (glomo-keras reads text_bert, audio and vision)", field
            )
    text_bert = _token_ids(checker, data["text_bert"])
    n, length = text_bert.shape[0], text_bert.shape[2]
    if n == 0:
        raise checker.error("the split is empty")
    checker.check_dim("text_length", length, "text_bert", what="tokens")
    if "text" in data:
        text = np.asarray(data["text"])
        if text.ndim == 3 and text.shape[0] == n:
            checker.check_dim("text", text.shape[-1], "text")
    sequences, lengths = {}, {}
    for field, modality in MODALITIES:
        array = checker.features(data[field], field, modality, ndim=3)
        if array.shape[0] != n:
            raise checker.error(f"has {array.shape[0]} items but 'text_bert' has {n}", field)
        sequences[modality] = array
        lengths[modality] = _lengths(checker, data, field, array, length)
    labels = _labels(checker, data, n) if labelled else [None] * n
    ids = _ids(checker, data, n)
    return [Utterance(id=ids[i], label=labels[i], text_bert=text_bert[i],
                      acoustic=sequences["acoustic"][i], visual=sequences["visual"][i],
                      acoustic_length=lengths["acoustic"][i], visual_length=lengths["visual"][i])
            for i in range(n)]


def _token_ids(checker, value):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" or array.ndim != 3 or array.shape[1] != 3:
        raise checker.error(
            f"expected token ids, mask and segment ids (N, 3, L), found {describe(array)}",
            "text_bert",
        )
    ids = np.rint(array).astype(np.int64)
    bad = np.argwhere((ids != array) | (ids < 0))
    if len(bad):
        checker.index = int(bad[0][0])
        raise checker.error("token ids must be non-negative integers", "text_bert")
    return ids.astype(np.int32)


def _lengths(checker, data, field, array, text_length):
    steps = array.shape[1]
    key = f"{field}_lengths"
    if key in data:
        lengths = np.asarray(data[key])
        if lengths.dtype.kind not in "biuf" or lengths.shape != (array.shape[0],):
            raise checker.error(
                f"expected ({array.shape[0]},) lengths, found {describe(lengths)}", key
            )
        checker.note(f"{field} masks from '{key}'")
        return np.clip(lengths.astype(np.int64), 0, steps).tolist()
    if steps == text_length:
        checker.note(f"{field} is aligned to the text: it shares the text's mask")
        return [None] * array.shape[0]
    checker.note(f"{field} has no '{key}': masks run to the last non-zero frame")
    nonzero = np.any(array != 0, axis=2)
    last = steps - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).tolist()


def _labels(checker, data, n):
    if "regression_labels" not in data:
        raise checker.error("the field is missing", "regression_labels")
    labels = np.asarray(data["regression_labels"])
    if labels.dtype.kind not in "biuf" or labels.size != n:
        raise checker.error(
            f"expected ({n},) numbers, found {describe(labels)}", "regression_labels"
        )
    labels = labels.reshape(n).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(labels))
    if len(bad):
        checker.index = int(bad[0])
        raise checker.error(
            f"expected a finite number, found {labels[bad[0]]}", "regression_labels"
        )
    return labels.tolist()


def _ids(checker, data, n):
    if "id" not in data:
        checker.note("no 'id' field: ids are '<split>:<index>'")
        return [f"{checker.split}:{i}" for i in range(n)]
    ids = np.asarray(data["id"]).reshape(-1)
    if ids.size != n:
        raise checker.error(f"expected {n} ids, found {describe(ids)}", "id")
    return [checker.identifier(value.item() if isinstance(value, np.generic) else value, "id")
            for value in ids]
