"""The common form every reader produces: utterances, splits, a report, a loaded dataset."""

import dataclasses

import numpy as np

from glomo_keras.datasets import get_dataset

SPLITS = ("train", "valid", "test")
FORMATS = ("mag", "hkt", "mmsa", "cherma")
REGRESSION = "regression"
CLASSIFICATION = "classification"

# The fields of one utterance of each format (an `Utterance` dict, a
# request's instance); all but `OPTIONAL_FIELDS` are required.
UTTERANCE_FIELDS = {
    "mag": ("words", "acoustic", "visual"),
    "hkt": ("words", "context", "acoustic", "visual"),
    "mmsa": ("text_bert", "acoustic", "visual", "acoustic_length", "visual_length"),
    "cherma": ("text_features", "acoustic", "visual"),
}
OPTIONAL_FIELDS = ("context", "acoustic_length", "visual_length")
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

    Each format fills its `UTTERANCE_FIELDS`. Row `i` of a word-aligned
    `acoustic`/`visual` (MAG, HKT) belongs to word `i` of `all_words()`:
    HKT's context rows come first, then the punchline's (`words`).

    Args:
        id: the segment id, e.g. `"WKA50ygbEKI[0]"`.
        label: a float (regression), an int class index (classification),
            or None when unknown (a request to predict).
        acoustic: float32 [T_a, d_a].
        visual: float32 [T_v, d_v].
        words: the words (MAG) or the punchline words (HKT).
        context: HKT context sentences, each a list of words.
        text_bert: MMSA int32 [3, L]: token ids, attention mask, segment ids.
        acoustic_length: MMSA real length of `acoustic` (None: the text's mask).
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
        nonfinite_replaced: per modality, how many `nan`/`inf` values became 0.
        label_min: the smallest label (None without labels).
        label_max: the largest label.
        labels_out_of_range: how many labels lie outside the dataset's range.
        truncated: how many utterances T cut (None until encoded).

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
        notes: remarks (guessed dataset, chosen lengths, ...).
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


@dataclasses.dataclass
class Split:
    """One split: ids, labels, and the utterances and/or the encoded arrays.

    Args:
        name: `"train"`, `"valid"` or `"test"`.
        ids: the segment ids, in order.
        labels: float32 [N] (regression; NaN when unknown) or int32 [N].
        task: `"regression"` or `"classification"`.
        utterances: the common form (None when the arrays came from the cache).
        arrays: the model input dict [N, ...] (None until encoded).

    Example:

    ```python
    split = dataset.train
    len(split), split.ids[0], split.inputs["acoustic"].shape   # 600, '...', (600, 80, 74)
    ```
    """

    name: str
    ids: list
    labels: np.ndarray
    task: str
    utterances: list = None
    arrays: dict = None

    def __len__(self):
        return len(self.ids)

    @property
    def inputs(self):
        """The model input dict [N, ...] (`arrays`), or None (not encoded)."""
        return self.arrays

    def by_length(self):
        """A copy of the split ordered by utterance length, shortest first (ties keep the order).

        Bucketed evaluation batches of a sorted split hold similar lengths.

        Example:

        ```python
        valid = dataset.valid.by_length()
        make_dataset(valid, 32, bucketing=True)
        ```
        """
        from glomo_keras.data.pipeline import sequence_extents  # pipeline imports this module

        extents = sequence_extents(self.arrays)
        order = np.argsort(sum(extents.values()), kind="stable")
        return dataclasses.replace(
            self,
            ids=[self.ids[index] for index in order],
            labels=np.asarray(self.labels)[order],
            utterances=None if self.utterances is None else [
                self.utterances[index] for index in order],
            arrays={name: array[order] for name, array in self.arrays.items()},
        )


@dataclasses.dataclass
class LoadedDataset:
    """A loaded benchmark file.

    What the data is (format, dataset, T, widths, task, classes) is its
    preprocessor's; the properties below read it from there.

    Args:
        source: the file or folder.
        preprocessor: the data's `GLoMoPreprocessor`.
        splits: dict name -> `Split`.
        report: the `LoadReport`.
        config: the `GLoMoConfig` fitted to the data (`load(..., config=...)`), or None.
        config_notes: one-line notes of what the data changed in `config`.

    Example:

    ```python
    dataset = load("mosi.pkl", tokenizer=tokenizer)
    dataset.format, dataset.dims, dataset.task   # 'mag', {...}, 'regression'
    print(dataset.report)
    ```
    """

    source: str
    preprocessor: object
    splits: dict
    report: LoadReport
    config: object = None
    config_notes: list = dataclasses.field(default_factory=list)

    @property
    def train(self):
        """The `train` split (None for a single unlabelled utterance file)."""
        return self.splits.get("train")

    @property
    def valid(self):
        """The `valid` split (a file's `dev`)."""
        return self.splits.get("valid")

    @property
    def test(self):
        """The `test` split."""
        return self.splits.get("test")

    @property
    def format(self):
        """`"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`."""
        return self.preprocessor.format

    @property
    def dataset(self):
        """The dataset table's name when known from the path or the dims, or None."""
        return self.preprocessor.dataset

    @property
    def dims(self):
        """The feature dims of the model inputs (after the column selection)."""
        return self.preprocessor.input_dims

    @property
    def stored_dims(self):
        """The feature dims as stored in the file."""
        return self.preprocessor.stored_dims

    @property
    def task(self):
        """`"regression"` or `"classification"`."""
        return self.preprocessor.task

    @property
    def class_names(self):
        """The class names in label order, or None for regression."""
        return self.preprocessor.class_names
