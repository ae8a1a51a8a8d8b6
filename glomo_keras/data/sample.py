"""A deterministic built-in dataset in the MAG-BERT MOSEI layout.

600 / 100 / 200 (train / dev / test) English utterances about films, made of
clauses with real sentiment words ("the plot was really boring", "i loved
the music"). Each sentiment word has a score; an intensifier multiplies it
by 1.25-1.5 and a negation by -0.5; the label is the clipped sum, in [-3, 3].
Features follow the MOSEI MAG layout: acoustic [n_words, 74] and visual
[n_words, 35], word-aligned. They are noise, plus a short local event on the
sentiment word and the next one: acoustic columns 0-5 and visual columns
0-3 move along a fixed pattern, scaled by the word's signed score. So the
label can be learned from any modality and local windows matter. Like the
real files, a few values are -inf (acoustic) or nan (visual).

Example:

```python
from glomo_keras.data import sample
path = sample.write("sample.pkl")      # the pickle, read back by `load`
data = sample.build()                 # the same content in memory
data["train"][0]                      # ((words, visual, acoustic), label, segment)
```
"""

import pathlib
import pickle

import numpy as np

from glomo_keras.artifacts import write_atomically

SEED = 5576
SIZES = {"train": 600, "dev": 100, "test": 200}
ACOUSTIC_DIM = 74
VISUAL_DIM = 35
ACOUSTIC_PATTERN = np.array([1.0, 0.8, -0.6, 0.5, 0.7, -0.4], np.float32)
VISUAL_PATTERN = np.array([1.0, 0.9, -0.7, 0.6], np.float32)
EVENT_ROWS = 2
NOISE = 0.5

ADJECTIVES = {
    "good": 1.0, "nice": 1.0, "fun": 1.0, "funny": 1.0, "great": 2.0, "beautiful": 2.0,
    "amazing": 2.5, "excellent": 2.5, "wonderful": 2.5, "brilliant": 2.5, "perfect": 3.0,
    "bad": -1.0, "dull": -1.0, "poor": -1.0, "boring": -1.5, "annoying": -1.5,
    "disappointing": -2.0, "stupid": -2.0, "awful": -2.5, "terrible": -2.5, "horrible": -2.5,
}
NEUTRAL_ADJECTIVES = ("long", "short", "loud", "quiet", "typical", "different", "slow")
# past tense -> (score, the form after "did not")
VERBS = {
    "liked": (1.0, "like"), "enjoyed": (1.5, "enjoy"), "loved": (2.5, "love"),
    "disliked": (-1.0, "dislike"), "hated": (-2.5, "hate"),
}
INTENSIFIERS = {"really": 1.5, "very": 1.5, "so": 1.5, "quite": 1.25, "pretty": 1.25}
SUBJECTS = (
    "the movie", "this film", "the acting", "the story", "the ending", "the music",
    "the plot", "the characters", "the dialogue", "the director", "the camera work",
    "the soundtrack", "the special effects", "the main actor",
)
LINKING_VERBS = ("was", "is", "felt", "seemed", "looked")
OPENERS = ("honestly", "well", "um", "i think", "i mean", "overall", "to be fair", "you know")
JOINERS = ("and", "but", "and also", "although")
FILLERS = (
    "if you ask me", "from start to finish", "for the most part", "in my opinion",
    "and that is about it", "when i watched it last weekend with my friends",
    "at the theater downtown", "compared to the first one", "for a movie like this",
)


def _clause(rng):
    """Words and, per word, its signed sentiment score (0 for most words)."""
    intensifier = str(rng.choice(list(INTENSIFIERS))) if rng.random() < 0.35 else None
    negated = rng.random() < 0.2
    subject = str(rng.choice(SUBJECTS)).split()
    kind = rng.random()
    if kind < 0.15:
        words = subject + [str(rng.choice(LINKING_VERBS)), str(rng.choice(NEUTRAL_ADJECTIVES))]
        return words, [0.0] * len(words)
    if kind < 0.4:
        verb = str(rng.choice(list(VERBS)))
        score, base = VERBS[verb]
        intensifier = "really" if intensifier else None
        head = ["i"] + (["did", "not"] if negated else []) + ([intensifier] if intensifier else [])
        word = base if negated else verb
    else:
        word = str(rng.choice(list(ADJECTIVES)))
        score = ADJECTIVES[word]
        linking = str(rng.choice(("was", "is") if negated else LINKING_VERBS))
        head = subject + [linking] + (["not"] if negated else [])
        head += [intensifier] if intensifier else []
    score *= (INTENSIFIERS[intensifier] if intensifier else 1.0) * (-0.5 if negated else 1.0)
    tail = subject if kind < 0.4 else []
    return head + [word] + tail, [0.0] * len(head) + [score] + [0.0] * len(tail)


def _utterance(rng):
    """Words, per-word scores and the label of one utterance."""
    words, scores = [], []
    if rng.random() < 0.4:
        opener = str(rng.choice(OPENERS)).split()
        words, scores = opener, [0.0] * len(opener)
    for index in range(int(rng.integers(1, 4))):
        if index:
            joiner = str(rng.choice(JOINERS)).split()
            words, scores = words + joiner, scores + [0.0] * len(joiner)
        clause, clause_scores = _clause(rng)
        words, scores = words + clause, scores + clause_scores
    for _ in range(int(rng.integers(0, 4)) if rng.random() < 0.3 else 0):
        filler = str(rng.choice(FILLERS)).split()
        words, scores = words + filler, scores + [0.0] * len(filler)
    label = round(float(np.clip(sum(scores), -3.0, 3.0)), 4)
    return words, np.asarray(scores, np.float32), label


def _features(rng, scores):
    """Word-aligned noise with a local event at every sentiment word."""
    n = len(scores)
    acoustic = rng.normal(0.0, NOISE, (n, ACOUSTIC_DIM)).astype(np.float32)
    visual = rng.normal(0.0, NOISE, (n, VISUAL_DIM)).astype(np.float32)
    for position in np.flatnonzero(scores):
        rows = slice(position, min(position + EVENT_ROWS, n))
        acoustic[rows, : len(ACOUSTIC_PATTERN)] += scores[position] * ACOUSTIC_PATTERN
        visual[rows, : len(VISUAL_PATTERN)] += scores[position] * VISUAL_PATTERN
    return acoustic, visual


def build(seed=SEED):
    """The sample in the MAG layout: `{"train", "dev", "test"}` lists of items.

    Each item is `((words, visual, acoustic), label, segment)`, the label a
    float32 array (1, 1) as in the MOSEI MAG pickle.

    Args:
        seed: the random seed; the default gives the documented sample.

    Example:

    ```python
    data = build()
    [len(data[s]) for s in ("train", "dev", "test")]   # [600, 100, 200]
    ```
    """
    rng = np.random.default_rng(seed)
    data = {}
    count = 0
    for split, size in SIZES.items():
        items = []
        for _ in range(size):
            words, scores, label = _utterance(rng)
            acoustic, visual = _features(rng, scores)
            if count % 37 == 5:
                acoustic[0, ACOUSTIC_DIM - 1] = -np.inf
            if count % 53 == 7:
                visual[-1, VISUAL_DIM - 1] = np.nan
            segment = f"sample{count // 4:03d}[{count % 4}]"
            items.append(((words, visual, acoustic), np.array([[label]], np.float32), segment))
            count += 1
        data[split] = items
    return data


def write(path, seed=SEED):
    """Writes the sample as a MAG pickle and returns its path (`glomo-keras data sample`).

    Args:
        path: the output file; its folder is created.
        seed: as for `build`.

    Example:

    ```python
    dataset = load(write("sample.pkl"), tokenizer=tokenizer)
    ```
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = build(seed)

    def dump(partial):
        with open(partial, "wb") as file:
            pickle.dump(data, file, protocol=4)

    return write_atomically(path, dump)
