"""WordPiece tokenisation and word-level alignment of acoustic/visual rows.

Word-aligned files (MAG, HKT) store one acoustic and one visual row per
word. The model reads one row per WordPiece token, so each word's row is
repeated for every piece of the word and `[CLS]`, `[SEP]` and padding get no
row (the encoder writes zeros there).

Every word is tokenised on its own with the backbone's KerasHub tokenizer,
so every piece it yields belongs to it: its first piece, its `##`
continuation pieces, and also pieces the basic tokenizer splits off at
punctuation (`"don't"` -> `don ' t`). This is the `##` rule of the spec
(a `##` piece belongs to the previous word) made exact: tokenising the
joined text and counting non-`##` pieces as new words would shift the rows
after every word with punctuation inside. Tokenising word by word gives the
same pieces as tokenising the joined text, because the basic tokenizer
splits at whitespace first.

Each unique word is tokenised once (`WordPieceTable`), then the utterances
are assembled with numpy.
"""

import dataclasses
import os

import numpy as np

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocabulary(vocabulary):
    """A WordPiece vocabulary as a list of tokens.

    Args:
        vocabulary: a `vocab.txt` path (one token a line), or a list of tokens.

    Returns:
        list of str.

    Example:

    ```python
    read_vocabulary("vocab.txt")[:3]   # ["[PAD]", "[unused0]", "[unused1]"]
    ```
    """
    if isinstance(vocabulary, (str, os.PathLike)):
        with open(vocabulary, encoding="utf-8") as file:
            return [line.rstrip("\r\n") for line in file if line.rstrip("\r\n")]
    return [str(token) for token in vocabulary]


def make_tokenizer(vocabulary, lowercase=True, strip_accents=False):
    """A KerasHub `BertTokenizer` for a vocabulary.

    Args:
        vocabulary: a `vocab.txt` path or a list of tokens; it must hold
            `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]`.
        lowercase: lowercase the text first (uncased backbones).
        strip_accents: remove accents first.

    Returns:
        `keras_hub.tokenizers.BertTokenizer`.

    Example:

    ```python
    tokenizer = make_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good"])
    ```
    """
    import keras_hub

    vocabulary = read_vocabulary(vocabulary)
    missing = [token for token in SPECIAL_TOKENS if token not in vocabulary]
    if missing:
        raise ValueError(f"the vocabulary lacks the special tokens {missing}")
    return keras_hub.tokenizers.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase, strip_accents=strip_accents
    )


def as_tokenizer(tokenizer):
    """A tokenizer object from a tokenizer, a `vocab.txt` path or a token list.

    Args:
        tokenizer: a KerasHub WordPiece tokenizer (returned as it is), a
            `vocab.txt` path or a list of tokens (a lowercasing
            `BertTokenizer` is made).

    Example:

    ```python
    tokenizer = as_tokenizer("vocab.txt")
    ```
    """
    if isinstance(tokenizer, (str, os.PathLike, list, tuple)):
        return make_tokenizer(tokenizer)
    return tokenizer


class WordPieceTable:
    """The piece ids of words, each unique word tokenised once.

    The ids of `[CLS]`, `[SEP]` and `[PAD]` are looked up in the tokenizer's
    vocabulary. A tokenizer with a `sequence_length` pads its output; the
    padding ids are dropped (no word yields a `[PAD]` piece).

    Args:
        tokenizer: a KerasHub WordPiece tokenizer (e.g. `BertTokenizer`).

    Example:

    ```python
    table = WordPieceTable(tokenizer)
    table.add(["playing", "ok"])       # one tokenizer call for both
    table.pieces("playing")            # array([7, 8], dtype=int32): play ##ing
    ```
    """

    CHUNK = 10000

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cls_id = self._special_id("[CLS]")
        self.sep_id = self._special_id("[SEP]")
        self.pad_id = self._special_id("[PAD]")
        self._pieces = {}

    def _special_id(self, token):
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"the tokenizer's vocabulary lacks {token}")
        return int(token_id)

    def add(self, words):
        """Tokenises the words not seen yet, in batched tokenizer calls."""
        new = [word for word in dict.fromkeys(words) if word not in self._pieces]
        for start in range(0, len(new), self.CHUNK):
            chunk = new[start : start + self.CHUNK]
            ids = self.tokenizer(chunk)
            if hasattr(ids, "to_list"):
                ids = ids.to_list()
            elif hasattr(ids, "tolist"):
                ids = ids.tolist()
            for word, piece_ids in zip(chunk, ids):
                pieces = np.asarray(piece_ids, np.int32).reshape(-1)
                self._pieces[word] = pieces[pieces != self.pad_id]

    def pieces(self, word):
        """The piece ids of one word (tokenising it if it was not added)."""
        if word not in self._pieces:
            self.add([word])
        return self._pieces[word]


@dataclasses.dataclass
class AlignedText:
    """One utterance's tokens and, per token, the feature row it repeats.

    Args:
        token_ids: int32 [T]: `[CLS] ... [SEP]` (or `[CLS] a [SEP] b [SEP]`)
            then `[PAD]`.
        segment_ids: int32 [T]: 0 for the first segment, 1 for the second.
        rows: int32 [T]: the word (feature row) of each token; -1 at
            `[CLS]`, `[SEP]`, padding and pieces with no word.
        n_tokens: real tokens, special tokens included (<= T).
        length: tokens before truncation, special tokens included.

    Example:

    ```python
    aligned = align_words(["so", "playing"], table, max_length=8)
    aligned.rows   # [-1, 0, 1, 1, -1, -1, -1, -1]
    ```
    """

    token_ids: np.ndarray
    segment_ids: np.ndarray
    rows: np.ndarray
    n_tokens: int
    length: int


def _word_pieces(words, table, first_row):
    pieces = [table.pieces(word) for word in words]
    if not pieces:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    counts = [len(piece) for piece in pieces]
    rows = np.repeat(np.arange(first_row, first_row + len(words), dtype=np.int32), counts)
    return np.concatenate(pieces), rows


def _assemble(segments, table, max_length):
    token_ids = np.full(max_length, table.pad_id, np.int32)
    segment_ids = np.zeros(max_length, np.int32)
    rows = np.full(max_length, -1, np.int32)
    token_ids[0] = table.cls_id
    position = 1
    for segment, (ids, segment_rows) in enumerate(segments):
        end = position + len(ids)
        token_ids[position:end] = ids
        rows[position:end] = segment_rows
        token_ids[end] = table.sep_id
        segment_ids[position : end + 1] = segment
        position = end + 1
    return token_ids, segment_ids, rows, position


def align_words(words, table, max_length):
    """`[CLS] pieces [SEP] [PAD]...` for one utterance, with each piece's row.

    Truncation keeps the first `max_length - 2` pieces.

    Args:
        words: the words; word `i` owns feature row `i`.
        table: a `WordPieceTable`.
        max_length: T, at least 2.

    Returns:
        `AlignedText`.

    Example:

    ```python
    align_words(["good", "playing"], table, 6).token_ids
    # [CLS] good play ##ing [SEP] [PAD]
    ```
    """
    ids, rows = _word_pieces(words, table, 0)
    length = len(ids) + 2
    keep = max_length - 2
    token_ids, segment_ids, token_rows, n_tokens = _assemble(
        [(ids[:keep], rows[:keep])], table, max_length
    )
    return AlignedText(token_ids, segment_ids, token_rows, n_tokens, length)


def align_pair(context, words, table, max_length):
    """`[CLS] context [SEP] punchline . [SEP]` for one HKT utterance.

    Segment a is the context sentences joined with ". ", segment b the
    punchline followed by "." (the HKT text pair). The rows run over the
    context words, sentence by sentence, then the punchline words; a "."
    piece repeats the row of the word before it in its segment (HKT gave
    such a piece to the previous word), or gets none. When the pair is too
    long, pieces are dropped from the start of the context first, then from
    the end of the punchline.

    Args:
        context: the context sentences, each a list of words (may be empty).
        words: the punchline words.
        table: a `WordPieceTable`.
        max_length: T, at least 3.

    Returns:
        `AlignedText`.

    Example:

    ```python
    align_pair([["i", "know"]], ["right"], table, 8).token_ids
    # [CLS] i know [SEP] right . [SEP] [PAD]
    ```
    """
    dot = table.pieces(".")
    a_ids, a_rows = [], []
    row = 0
    for index, sentence in enumerate(context):
        if index > 0:
            a_ids.append(dot)
            a_rows.append(np.full(len(dot), row - 1, np.int32))
        ids, rows = _word_pieces(sentence, table, row)
        a_ids.append(ids)
        a_rows.append(rows)
        row += len(sentence)
    b_ids, b_rows = _word_pieces(words, table, row)
    last = row + len(words) - 1 if words else -1
    b_ids = np.concatenate([b_ids, dot])
    b_rows = np.concatenate([b_rows, np.full(len(dot), last, np.int32)])
    a_ids = np.concatenate(a_ids) if a_ids else np.zeros(0, np.int32)
    a_rows = np.concatenate(a_rows) if a_rows else np.zeros(0, np.int32)
    length = len(a_ids) + len(b_ids) + 3
    budget = max_length - 3
    drop = min(max(len(a_ids) + len(b_ids) - budget, 0), len(a_ids))
    a_ids, a_rows = a_ids[drop:], a_rows[drop:]
    keep = budget - len(a_ids)
    token_ids, segment_ids, token_rows, n_tokens = _assemble(
        [(a_ids, a_rows), (b_ids[:keep], b_rows[:keep])], table, max_length
    )
    return AlignedText(token_ids, segment_ids, token_rows, n_tokens, length)
