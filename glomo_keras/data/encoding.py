"""Utterances -> model inputs: the one encoder of training and serving.

`encode` turns a batch of utterances in the common form into the model's
input dict, following `PreprocessingSettings`. The training pipeline encodes
whole splits with the same code (`encode_arrays`) and serving encodes one
request with `encode`, so both see exactly the same tokens, rows, columns,
padding and masks.

Inputs (numpy, batch axis first):
- MAG, HKT, MMSA: int32 `token_ids`, `padding_mask`, `segment_ids` [N, T];
- CHERMA: float32 `text_features` [N, T, d_t] and int32 `text_mask` [N, T];
- float32 `acoustic` [N, T_a, d_a], int32 `acoustic_mask` [N, T_a], and
  `visual`, `visual_mask` alike.

Masks are int32 0/1, never bool (a bool input breaks `tf.distribute` input
distribution). For word-aligned data (MAG, HKT) T_a = T_v = T, and
`acoustic_mask` = `visual_mask` is 1 on the tokens that carry a word's row:
`padding_mask` minus `[CLS]` and `[SEP]` (an HKT "." piece that follows no
word of its segment carries no row either). Those positions hold zero rows.

The compact form (`encode_arrays`): for word-aligned data the [N, T, d]
feature arrays repeat each word's row for each of its pieces, 2-3 times the
size of the words' rows. Splits therefore keep `acoustic_table` and
`visual_table` [1 + n_words, d] (row 0 is zeros, then every word's row after
the column selection) and `feature_rows` [N, T] int32 (the table row of each
token, 0 for none); `expand` turns that into the input dict, and the tf.data
pipeline does the same per batch. MMSA and CHERMA arrays are kept as inputs.
"""

import dataclasses

import numpy as np

from glomo_keras.data.alignment import WordPieceTable, align_pair, align_words, as_tokenizer
from glomo_keras.data.checks import Checker
from glomo_keras.data.common import CLASSIFICATION, Utterance
from glomo_keras.data.errors import DataFormatError

# The arrays of the compact form that are not model inputs.
TABLE_KEYS = ("feature_rows", "acoustic_table", "visual_table")
# The feature tables rows point into: one per split, not one row per utterance.
SHARED_TABLE_KEYS = ("acoustic_table", "visual_table")


def encode(utterances, settings, tokenizer=None):
    """The model input dict for a batch of utterances.

    Args:
        utterances: `Utterance` objects, or dicts with the same keys, e.g.
            `{"words": [...], "acoustic": [[...], ...], "visual": [[...], ...]}`
            and for HKT also `"context"` (a list of sentences, each a list of
            words, whose rows come first). Feature rows have the stored dims
            (`settings.stored_dims`); the column selection happens here.
            Non-finite values are replaced by 0.
        settings: the `PreprocessingSettings` of the model.
        tokenizer: the backbone's tokenizer (MAG, HKT); None builds one from
            `settings.vocabulary` (slower: build it once and pass it).

    Returns:
        dict name -> numpy array, batch axis first (see the module doc).

    Raises:
        DataFormatError: an utterance does not fit the settings (dims, rows
            per word, token length).

    Example:

    ```python
    inputs = encode(
        [{"words": ["so", "good"], "acoustic": np.zeros((2, 74)),
          "visual": np.zeros((2, 35))}],
        settings, tokenizer,
    )
    model.predict(inputs)
    ```
    """
    arrays, _ = encode_arrays(utterances, settings, tokenizer)
    return expand(arrays)


def encode_arrays(utterances, settings, tokenizer=None, source="request", split=None):
    """`encode` in the compact form, also returning what the lengths truncated.

    Args:
        utterances: as for `encode`.
        settings: as for `encode`.
        tokenizer: as for `encode`.
        source: the file the utterances came from, for error messages.
        split: the split they came from, for error messages.

    Returns:
        (arrays, truncated): the compact arrays (see the module doc), and
        bool [N], True where T (or T_a, T_v) cut the utterance.

    Example:

    ```python
    arrays, truncated = encode_arrays(split.utterances, settings, tokenizer)
    expand(arrays)["acoustic"].shape   # (N, T, d_a)
    ```
    """
    utterances = [_as_utterance(utterance) for utterance in utterances]
    checker = Checker(source)
    checker.dims = {k: v for k, v in settings.stored_dims.items() if v is not None}
    checker.at(split)
    if settings.format in ("mag", "hkt"):
        if tokenizer is None:
            tokenizer = settings.make_tokenizer()
        return _encode_words(utterances, settings, as_tokenizer(tokenizer), checker)
    if settings.format == "mmsa":
        return _encode_mmsa(utterances, settings, checker)
    return _encode_cherma(utterances, settings, checker)


def expand(arrays):
    """The model input dict of compact arrays (a copy of the dict otherwise).

    Example:

    ```python
    inputs = expand(split.arrays)   # acoustic/visual [N, T, d] from the tables
    ```
    """
    inputs = {name: array for name, array in arrays.items() if name not in TABLE_KEYS}
    if "feature_rows" in arrays:
        for modality in ("acoustic", "visual"):
            inputs[modality] = arrays[f"{modality}_table"][arrays["feature_rows"]]
    return inputs


def encode_labels(utterances, settings):
    """The labels of utterances: int32 [N] class indices, or float32 [N] (NaN if unknown).

    Args:
        utterances: `Utterance` objects.
        settings: the `PreprocessingSettings` (its `task` picks the dtype).

    Example:

    ```python
    encode_labels(split.utterances, settings)   # array([ 1.2, -0.4], dtype=float32)
    ```
    """
    if settings.task == CLASSIFICATION:
        return np.asarray([u.label for u in utterances], np.int32).reshape(-1)
    return np.asarray(
        [np.nan if u.label is None else u.label for u in utterances], np.float32
    ).reshape(-1)


def _as_utterance(utterance):
    if isinstance(utterance, Utterance):
        return utterance
    if isinstance(utterance, dict):
        try:
            return Utterance(**utterance)
        except TypeError as error:
            raise DataFormatError(f"not an utterance: {error}", source="request")
    raise DataFormatError(f"expected an Utterance or a dict, found a {type(utterance).__name__}",
                          source="request")


def _checked_words(utterances, checker):
    """The utterances with their words and context checked as lists of str."""
    checked = []
    for i, utterance in enumerate(utterances):
        checker.index = i
        if utterance.words is None:
            raise checker.error("the utterance has no words", "words")
        checked.append(dataclasses.replace(
            utterance,
            words=checker.words(utterance.words, "words"),
            context=[checker.words(sentence, "context") for sentence in utterance.context or ()],
        ))
    return checked


def _encode_words(utterances, settings, tokenizer, checker):
    utterances = _checked_words(utterances, checker)
    table = WordPieceTable(tokenizer)
    words = [word for u in utterances for word in u.all_words()]
    table.add(words + ["."] if settings.format == "hkt" else words)
    n, steps = len(utterances), settings.max_length
    arrays = {
        "token_ids": np.full((n, steps), table.pad_id, np.int32),
        "padding_mask": np.zeros((n, steps), np.int32),
        "segment_ids": np.zeros((n, steps), np.int32),
        "feature_rows": np.zeros((n, steps), np.int32),
    }
    stored = settings.stored_dims
    tables = {m: [np.zeros((1, stored[m]), np.float32)] for m in ("acoustic", "visual")}
    offset = 1
    truncated = np.zeros(n, bool)
    for i, utterance in enumerate(utterances):
        checker.index = i
        n_words = len(utterance.all_words())
        for modality in ("acoustic", "visual"):
            tables[modality].append(checker.features(
                getattr(utterance, modality), modality, modality, rows=n_words))
        if settings.format == "hkt":
            aligned = align_pair(utterance.context, utterance.words, table, steps)
        else:
            aligned = align_words(utterance.words, table, steps)
        arrays["token_ids"][i] = aligned.token_ids
        arrays["segment_ids"][i] = aligned.segment_ids
        arrays["padding_mask"][i, : aligned.n_tokens] = 1
        has_row = aligned.rows >= 0
        arrays["feature_rows"][i, has_row] = aligned.rows[has_row] + offset
        offset += n_words
        truncated[i] = aligned.length > steps
    for modality in ("acoustic", "visual"):
        rows = np.concatenate(tables[modality])
        columns = getattr(settings, f"{modality}_columns")
        arrays[f"{modality}_table"] = rows if columns is None else rows[:, columns]
        arrays[f"{modality}_mask"] = (arrays["feature_rows"] > 0).astype(np.int32)
    return arrays, truncated


def _pad(array, steps, columns):
    """Cuts or zero-pads [t, d] to [steps, d']; returns it and the real length."""
    if columns is not None:
        array = array[:, columns]
    padded = np.zeros((steps, array.shape[1]), np.float32)
    length = min(len(array), steps)
    padded[:length] = array[:length]
    return padded, length


def _sequences(utterances, settings, checker, modality, steps):
    columns = getattr(settings, f"{modality}_columns", None)
    arrays, lengths, truncated = [], [], []
    for i, utterance in enumerate(utterances):
        checker.index = i
        attribute = "text_features" if modality == "text" else modality
        array = checker.features(getattr(utterance, attribute), attribute, modality)
        padded, length = _pad(array, steps, columns)
        arrays.append(padded)
        lengths.append(length)
        truncated.append(len(array) > steps)
    return np.stack(arrays), np.asarray(lengths), np.asarray(truncated)


def _mask(lengths, steps):
    return (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(np.int32)


def _encode_mmsa(utterances, settings, checker):
    steps = settings.max_length
    text_bert = []
    for i, utterance in enumerate(utterances):
        checker.index = i
        ids = np.asarray(utterance.text_bert)
        if ids.shape != (3, steps):
            raise checker.error(
                f"expected token ids, mask and segment ids (3, {steps}), found shape {ids.shape}",
                "text_bert",
            )
        text_bert.append(ids)
    text_bert = np.stack(text_bert).astype(np.int32)
    inputs = {
        "token_ids": text_bert[:, 0],
        "padding_mask": text_bert[:, 1],
        "segment_ids": text_bert[:, 2],
    }
    truncated = np.zeros(len(utterances), bool)
    for modality in ("acoustic", "visual"):
        length_steps = getattr(settings, f"{modality}_length")
        array, _, cut = _sequences(utterances, settings, checker, modality, length_steps)
        stored = [getattr(u, f"{modality}_length") for u in utterances]
        if any(length is None for length in stored) and length_steps != steps:
            raise checker.error(
                f"{modality} without lengths shares the text mask, so it needs "
                f"{steps} frames, not {length_steps}",
                modality,
            )
        lengths = [0 if length is None else min(length, length_steps) for length in stored]
        mask = _mask(lengths, length_steps)
        shared = [i for i, length in enumerate(stored) if length is None]
        if shared:
            mask[shared] = inputs["padding_mask"][shared]
        inputs[modality] = array
        inputs[f"{modality}_mask"] = mask
        truncated |= cut
    return inputs, truncated


def _encode_cherma(utterances, settings, checker):
    inputs = {}
    truncated = np.zeros(len(utterances), bool)
    for modality, name, steps in (
        ("text", "text_features", settings.max_length),
        ("acoustic", "acoustic", settings.acoustic_length),
        ("visual", "visual", settings.visual_length),
    ):
        array, lengths, cut = _sequences(utterances, settings, checker, modality, steps)
        inputs[name] = array
        inputs["text_mask" if modality == "text" else f"{modality}_mask"] = _mask(lengths, steps)
        truncated |= cut
    return inputs, truncated
