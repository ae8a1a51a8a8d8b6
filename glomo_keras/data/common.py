"""The common form every reader produces: utterances, splits and a report.

After loading and before batching, every format is a list of `Utterance`
per split. Word-aligned formats (MAG, HKT) keep the words and one acoustic
and one visual row per word; MMSA keeps its BERT token ids and A/V sequences;
CHERMA keeps its three feature sequences.
"""

import dataclasses

import numpy as np

from glomo_keras.datasets import get_dataset

SPLITS = ("train", "valid", "test")
FORMATS = ("mag", "hkt", "mmsa", "cherma")
REGRESSION = "regression"
CLASSIFICATION = "classification"

# Sentiment scores of MOSI and MOSEI (MAG and MMSA files).
SENTIMENT_RANGE = (-3.0, 3.0)
# The labels 0/1 of an HKT file whose dataset is unknown (UR-FUNNY and
# MUStARD name theirs in the dataset table).
BINARY_CLASS_NAMES = ("negative", "positive")
# CHERMA's seven emotions, in this order, and the names its files use.
CHERMA_CLASS_NAMES = get_dataset("cherma").class_names
CHERMA_LABEL_NAMES = {
    "愤怒": "anger",
    "厌恶": "disgust",
    "恐惧": "fear",
    "高兴": "happy",
    "平静": "neutral",
    "悲伤": "sad",
    "惊奇": "surprise",
}


@dataclasses.dataclass
class Utterance:
    """One utterance in the common form.

    Word-aligned data (MAG, HKT) fills `words`, `acoustic` and `visual`, and
    row `i` of `acoustic`/`visual` belongs to word `i` of `all_words()`. HKT
    also fills `context`: its rows come first, sentence by sentence, then the
    rows of `words` (the punchline). MMSA fills `text_bert`; CHERMA fills
    `text_features`.

    Args:
        id: the segment id, e.g. `"WKA50ygbEKI[0]"`.
        label: a float (regression), an int class index (classification),
            or None when unknown (a request to predict).
        acoustic: float32 [T_a, d_a].
        visual: float32 [T_v, d_v].
        words: the words (MAG) or the punchline words (HKT).
        context: HKT context sentences, each a list of words.
        text_bert: MMSA int32 [3, L]: token ids, attention mask, segment ids.
        acoustic_length: MMSA real length of `acoustic`; None means "the
            text's mask" (aligned files).
        visual_length: MMSA real length of `visual`, as `acoustic_length`.
        text_features: CHERMA float32 [T_t, d_t].

    Example:

    ```python
    Utterance(id="a[0]", label=1.2, words=["so", "good"],
              acoustic=np.zeros((2, 74), "float32"),
              visual=np.zeros((2, 35), "float32"))
    ```
    """

    id: str = ""
    label: object = None
    acoustic: np.ndarray = None
    visual: np.ndarray = None
    words: list = None
    context: list = None
    text_bert: np.ndarray = None
    acoustic_length: int = None
    visual_length: int = None
    text_features: np.ndarray = None

    def all_words(self):
        """The words in row order: the context words, then `words`."""
        context = [word for sentence in self.context or () for word in sentence]
        return context + list(self.words or ())


@dataclasses.dataclass
class SplitReport:
    """What loading found in one split.

    Args:
        size: number of utterances.
        nonfinite_replaced: per modality, how many feature values were
            `nan`/`inf` and were replaced by 0.
        label_min: the smallest label (None without labels).
        label_max: the largest label.
        labels_out_of_range: how many labels lie outside the dataset's range.
        truncated: how many utterances the max length cut (None until the
            split is tokenised).

    Example:

    ```python
    SplitReport(size=3, nonfinite_replaced={"acoustic": 1, "visual": 0})
    ```
    """

    size: int
    nonfinite_replaced: dict
    label_min: float = None
    label_max: float = None
    labels_out_of_range: int = 0
    truncated: int = None


@dataclasses.dataclass
class LoadReport:
    """The loading report of one file: per split counts and notes.

    Args:
        source: the file or folder.
        format: `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`.
        splits: split name -> `SplitReport`.
        notes: remarks worth reading (guessed dataset, chosen lengths, ...).
        cache: `"off"`, `"hit"`, `"written"`, or `"none"` (not tokenised).

    Example:

    ```python
    print(dataset.report)          # a readable summary
    dataset.report.to_dict()       # the same as JSON-ready data
    ```
    """

    source: str
    format: str
    splits: dict
    notes: list = dataclasses.field(default_factory=list)
    cache: str = "none"

    def to_dict(self):
        """The report as JSON-ready builtins."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report written by `to_dict`."""
        splits = {name: SplitReport(**split) for name, split in data["splits"].items()}
        return cls(**{**data, "splits": splits})

    def __str__(self):
        lines = [f"{self.source}: format {self.format}, cache {self.cache}"]
        for name, split in self.splits.items():
            nonfinite = ", ".join(f"{k} {v}" for k, v in split.nonfinite_replaced.items())
            line = f"  {name}: {split.size} utterances; non-finite replaced: {nonfinite}"
            if split.label_min is not None:
                line += f"; labels [{split.label_min:g}, {split.label_max:g}]"
            if split.labels_out_of_range:
                line += f", {split.labels_out_of_range} outside the range"
            if split.truncated is not None:
                line += f"; truncated {split.truncated}"
            lines.append(line)
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)
