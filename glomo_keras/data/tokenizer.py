"""The WordPiece tokenizer of word-level data: a KerasHub `BertTokenizer` from a vocabulary."""

import os

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocabulary(vocabulary):
    """A WordPiece vocabulary as a list of tokens.

    Args:
        vocabulary: a `vocab.txt` path (one token a line), or a list of tokens.

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
        tokenizer: a KerasHub WordPiece tokenizer (returned as it is), or a
            `vocab.txt` path or token list (for a lowercasing `BertTokenizer`).

    Example:

    ```python
    tokenizer = as_tokenizer("vocab.txt")
    ```
    """
    if isinstance(tokenizer, (str, os.PathLike, list, tuple)):
        return make_tokenizer(tokenizer)
    return tokenizer
