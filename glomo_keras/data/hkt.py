"""Reader of the HKT pickles of UR-FUNNY and MUStARD (`ur_funny.pkl`, `mustard.pkl`).

Layout: `{"train": [...], "dev": [...], "test": [...]}`, each item
`((p_words, p_visual, p_acoustic, p_hcf), (c_words, c_visual, c_acoustic, c_hcf), hid, label)`:
the punchline (a string of words separated by spaces) and the context (a
list of sentences), each with word-aligned visual [n, 91], acoustic [n, 81]
and hcf [n, 4] rows; the context rows run over the words of all sentences in
order. `label` is 0 or 1. The hcf features are not used by GLoMo and are not
checked.
"""

from glomo_keras.data.checks import Checker, describe, read_items, split_table
from glomo_keras.data.common import BINARY_CLASS_NAMES, CLASSIFICATION, Utterance
from glomo_keras.datasets import get_dataset

TASK = CLASSIFICATION
# Generic names for an HKT file of unknown dataset; UR-FUNNY and MUStARD files
# get their own names from the dataset table.
CLASS_NAMES = BINARY_CLASS_NAMES
LABEL_RANGE = None
# The columns the released GLoMo/HKT code keeps (spec §5), shared by the HKT
# datasets of the dataset table.
ACOUSTIC_COLUMNS = tuple(range(*get_dataset("urfunny").acoustic_columns))
VISUAL_COLUMNS = tuple(range(*get_dataset("urfunny").visual_columns))
LAYOUT = (
    'a dict {"train", "dev", "test"} of lists of ((p_words, p_visual, p_acoustic, p_hcf), '
    "(c_words, c_visual, c_acoustic, c_hcf), hid, label)"
)


def looks_like(item):
    """True if one item has the HKT shape `(punchline, context, hid, label)`."""
    return (
        isinstance(item, (tuple, list))
        and len(item) == 4
        and isinstance(item[0], (tuple, list))
        and len(item[0]) == 4
        and isinstance(item[1], (tuple, list))
        and len(item[1]) == 4
    )


def _punchline_words(checker, value):
    if isinstance(value, (str, bytes)):
        return checker.text(value, "p_words").split()
    return checker.words(value, "p_words")


def _context_sentences(checker, value):
    if isinstance(value, (str, bytes)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise checker.error(f"expected a list of sentences, found {describe(value)}", "c_words")
    return [checker.text(sentence, "c_words").split() for sentence in value]


def read(obj, source):
    """Reads an unpickled HKT file into the common form: `(splits, checker)`.

    The punchline words go to `words`, the context sentences to `context`,
    the context rows then the punchline rows to `acoustic`/`visual`.

    Args:
        obj, source: the unpickled top level, and the file for error messages.

    Example:

    ```python
    splits, checker = read(load_pickle("mustard.pkl"), "mustard.pkl")
    splits["test"][0].context   # [["i", "know"], ["right"]]
    ```
    """
    checker = Checker(source)

    def read_item(item):
        (p_words, p_visual, p_acoustic, _), (c_words, c_visual, c_acoustic, _), hid, label = item
        words = _punchline_words(checker, p_words)
        context = _context_sentences(checker, c_words)
        n_context = sum(len(sentence) for sentence in context)
        # The context rows, then the punchline rows: stacked by `read_items`.
        visual = (checker.features(c_visual, "c_visual", "visual", rows=n_context),
                  checker.features(p_visual, "p_visual", "visual", rows=len(words)))
        acoustic = (checker.features(c_acoustic, "c_acoustic", "acoustic", rows=n_context),
                    checker.features(p_acoustic, "p_acoustic", "acoustic", rows=len(words)))
        return Utterance(id=checker.identifier(hid, "hid"),
                         label=checker.class_index(label, "label", CLASS_NAMES),
                         words=words, context=context, acoustic=acoustic, visual=visual)

    table = split_table(obj, checker, LAYOUT)
    return read_items(checker, table, "((p_words, p_visual, p_acoustic, p_hcf), "
                      "(c_words, c_visual, c_acoustic, c_hcf), hid, label)",
                      looks_like, read_item), checker
