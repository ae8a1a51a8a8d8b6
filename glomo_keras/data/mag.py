"""Reader of the MAG-BERT / MIB pickles of MOSI and MOSEI (`mosi.pkl`, `mosei.pkl`).

Layout: `{"train": [...], "dev": [...], "test": [...]}`, each item
`((words, visual, acoustic), label, segment)`; `visual` [n_words, 47 or 35]
and `acoustic` [n_words, 74] are word-aligned; `label` is a float or an array
of shape (1,) or (1, 1) with the sentiment in [-3, 3].
"""

from glomo_keras.data.checks import Checker, read_items, split_table
from glomo_keras.data.common import REGRESSION, SENTIMENT_RANGE, Utterance

TASK = REGRESSION
CLASS_NAMES = None
LABEL_RANGE = SENTIMENT_RANGE
ACOUSTIC_COLUMNS = None
VISUAL_COLUMNS = None
LAYOUT = 'a dict {"train", "dev", "test"} of lists of ((words, visual, acoustic), label, segment)'


def looks_like(item):
    """True if one item has the MAG shape `((words, visual, acoustic), label, segment)`."""
    return (
        isinstance(item, (tuple, list))
        and len(item) == 3
        and isinstance(item[0], (tuple, list))
        and len(item[0]) == 3
    )


def read(obj, source):
    """Reads an unpickled MAG file into the common form: `(splits, checker)`.

    Args:
        obj, source: the unpickled top level, and the file for error messages.

    Example:

    ```python
    splits, checker = read(load_pickle("mosi.pkl"), "mosi.pkl")
    splits["train"][0].words, checker.dims  # [...], {"visual": 47, "acoustic": 74}
    ```
    """
    checker = Checker(source)

    def read_item(item):
        (words, visual, acoustic), label, segment = item
        words = checker.words(words, "words")
        return Utterance(
            id=checker.identifier(segment, "segment"),
            label=checker.number(label, "label"),
            words=words,
            visual=checker.features(visual, "visual", "visual", rows=len(words)),
            acoustic=checker.features(acoustic, "acoustic", "acoustic", rows=len(words)),
        )

    table = split_table(obj, checker, LAYOUT)
    return read_items(checker, table, "((words, visual, acoustic), label, segment)",
                      looks_like, read_item), checker
