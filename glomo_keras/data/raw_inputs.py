"""Raw utterances → the dense batch `GLoMoPreprocessor` and `analyze` take.

`raw_batch` checks a list of utterances (the common form, or request dicts
with the same fields) and pads them into the dense arrays of the
preprocessor's layout: the words as strings padded with `""`, the word rows
padded with zeros, HKT context words with their sentence ids, MMSA/CHERMA
sequences with their lengths. These are the inputs of the SavedModel's
`analyze` signature too, so Python and any TensorFlow runtime feed the same
arrays.

Example:

```python
batch = raw_batch([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}],
                  "words", {"acoustic": 74, "visual": 35})
batch["words"]   # array([['so', 'good']], dtype=object)
```
"""

import dataclasses

import numpy as np

from glomo_keras.data.checks import Checker
from glomo_keras.data.common import Utterance
from glomo_keras.data.errors import DataFormatError

MODALITIES = ("acoustic", "visual")


def _as_utterance(value, checker):
    if isinstance(value, Utterance):
        return value
    if isinstance(value, dict):
        known = {field.name for field in dataclasses.fields(Utterance)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise checker.error(f"unknown fields {unknown}; an utterance has {sorted(known)}")
        return Utterance(**value)
    raise checker.error(f"expected an utterance object, found a {type(value).__name__}")


def _pad_rows(arrays, dim, length=None):
    """[n_i, dim] arrays → [B, max n_i (at least 1), dim] float32, zero-padded."""
    length = max([len(a) for a in arrays] + [1]) if length is None else length
    batch = np.zeros((len(arrays), length, dim), np.float32)
    for i, array in enumerate(arrays):
        batch[i, : len(array)] = array[:length]
    return batch


def _pad_words(lists):
    width = max([len(words) for words in lists] + [1])
    batch = np.full((len(lists), width), "", dtype=object)
    for i, words in enumerate(lists):
        batch[i, : len(words)] = words
    return batch


def _word_batch(utterances, layout, stored_dims, checker):
    words, context_words, sentence_ids, sentences = [], [], [], []
    rows = {m: [] for m in MODALITIES}
    context_rows = {m: [] for m in MODALITIES}
    for index, utterance in enumerate(utterances):
        checker.index = index
        if utterance.words is None:
            raise checker.error("the utterance has no words", "words")
        punchline = checker.words(utterance.words, "words")
        context = [checker.words(s, "context") for s in utterance.context or ()]
        if context and layout != "words_with_context":
            raise checker.error("this model takes no context", "context")
        flat = [word for sentence in context for word in sentence]
        for modality in MODALITIES:
            array = checker.features(getattr(utterance, modality), modality, modality,
                                     rows=len(flat) + len(punchline))
            context_rows[modality].append(array[: len(flat)])
            rows[modality].append(array[len(flat):])
        words.append(punchline)
        context_words.append(flat)
        sentence_ids.append([i for i, s in enumerate(context) for _ in s])
        sentences.append(len(context))
    batch = {"words": _pad_words(words)}
    for modality in MODALITIES:
        batch[modality] = _pad_rows(rows[modality], stored_dims[modality], batch["words"].shape[1])
    if layout == "words_with_context":
        batch["context_words"] = _pad_words(context_words)
        width = batch["context_words"].shape[1]
        ids = np.zeros((len(utterances), width), np.int32)
        for i, values in enumerate(sentence_ids):
            ids[i, : len(values)] = values
        batch["context_sentence_ids"] = ids
        batch["context_sentences"] = np.asarray(sentences, np.int32)
        for modality in MODALITIES:
            batch[f"context_{modality}"] = _pad_rows(
                context_rows[modality], stored_dims[modality], width)
    return batch


def _sequence_batch(utterances, layout, stored_dims, checker):
    batch = {}
    names = [("acoustic", "acoustic"), ("visual", "visual")]
    if layout == "features":
        names.insert(0, ("text_features", "text"))
    else:
        ids = []
        for index, utterance in enumerate(utterances):
            checker.index = index
            array = np.asarray(utterance.text_bert)
            if array.ndim != 2 or array.shape[0] != 3 or array.dtype.kind not in "biuf":
                raise checker.error(
                    f"expected token ids, mask and segment ids [3, T], found shape {array.shape}",
                    "text_bert")
            ids.append(array)
        if len({a.shape for a in ids}) > 1:
            raise checker.error("the utterances' text_bert have different lengths", "text_bert")
        ids = np.stack(ids).astype(np.int32)
        batch.update(token_ids=ids[:, 0], padding_mask=ids[:, 1], segment_ids=ids[:, 2])
    for field, modality in names:
        arrays = []
        for index, utterance in enumerate(utterances):
            checker.index = index
            arrays.append(checker.features(getattr(utterance, field), field, modality))
        batch[field] = _pad_rows(arrays, stored_dims[modality])
        length_name = "text_length" if modality == "text" else f"{modality}_length"
        stored = [len(a) for a in arrays]
        if layout == "token_ids":
            stored = [getattr(u, length_name) for u in utterances]
            if any(length is None for length in stored):
                if not all(length is None for length in stored):
                    raise checker.error(
                        f"give {length_name} for every utterance of a batch or for none",
                        length_name)
                continue
        batch[length_name] = np.asarray(stored, np.int32)
    return batch


def raw_batch(utterances, layout, stored_dims, source="request"):
    """The dense raw inputs of a batch of utterances, checked.

    Args:
        utterances: `Utterance` objects or dicts with their fields: word
            layouts `words` and, for HKT, `context` (a list of sentences,
            each a list of words), with `acoustic`/`visual` rows for the
            context words first, then the words; MMSA `text_bert` [3, T] with
            `acoustic`/`visual` frames (and `acoustic_length`/
            `visual_length`); CHERMA `text_features`, `acoustic`, `visual`.
        layout: the preprocessor's layout: `"words"`, `"words_with_context"`,
            `"token_ids"` or `"features"`.
        stored_dims: the stored feature dims `{"acoustic", "visual"[, "text"]}`.
        source: what the utterances came from, for error messages.

    Returns:
        dict of numpy arrays, batch axis first (strings as object arrays).

    Raises:
        DataFormatError: an utterance does not fit; the message names the
            utterance index and the field.

    Example:

    ```python
    preprocessor(raw_batch(utterances, preprocessor.layout, dims))
    ```
    """
    checker = Checker(source)
    checker.dims = {k: int(v) for k, v in stored_dims.items() if v is not None}
    checker.at(None)
    if not isinstance(utterances, (list, tuple)) or not utterances:
        raise DataFormatError("expected a non-empty list of utterances", source=source)
    checked = []
    for index, value in enumerate(utterances):
        checker.index = index
        checked.append(_as_utterance(value, checker))
    if layout in ("words", "words_with_context"):
        return _word_batch(checked, layout, checker.dims, checker)
    return _sequence_batch(checked, layout, checker.dims, checker)
