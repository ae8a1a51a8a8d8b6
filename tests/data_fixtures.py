"""Writers of every published data layout, for the data tests.

Feature values encode where they come from, so that alignment can be checked
value by value: row `r`, column `c` of a word-aligned array holds
`base + r + c / 1000` (`base` separates the punchline from the context in
HKT items).
"""

import json
import pickle

import numpy as np

# A hand-made WordPiece vocabulary: special tokens, words, `##` pieces.
TINY_VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ".", ",", "!", "?", "'",
    "the", "a", "movie", "was", "is", "good", "bad", "great", "not", "so",
    "i", "know", "right", "it", "fun", "love", "don", "t", "caf", "é",
    "play", "##ing", "##ed", "##s", "un", "##believ", "##able", "日", "本",
    "word", "yes", "no", "oh", "really",
]


def tiny_tokenizer():
    """A lowercasing KerasHub BertTokenizer over `TINY_VOCABULARY`."""
    from glomo_keras.data import make_tokenizer

    return make_tokenizer(TINY_VOCABULARY)


def rows(n, dim, base=0.0):
    """float32 [n, dim] with row r, column c = base + r + c / 1000."""
    return (base + np.arange(n)[:, None] + np.arange(dim)[None, :] / 1000).astype(np.float32)


def write_pickle(path, obj, protocol=4):
    """Pickles `obj` to `path` (what the other projects did); returns `path`."""
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=protocol)
    return path


def mag_item(words, label=0.5, segment="vid[0]", acoustic_dim=74, visual_dim=47):
    """One MAG item `((words, visual, acoustic), label, segment)`."""
    n = len(words)
    return ((list(words), rows(n, visual_dim), rows(n, acoustic_dim)), label, segment)


def mag_data(sizes=(3, 2, 2), acoustic_dim=74, visual_dim=47):
    """A small MAG dataset: `{"train", "dev", "test"}` of varied items."""
    sentences = [
        ["the", "movie", "was", "good"],
        ["I", "don't", "know", "!"],
        ["playing", "it", "was", "unbelievable", "fun"],
        ["so", "bad"],
        ["great"],
    ]
    data = {}
    count = 0
    for split, size in zip(("train", "dev", "test"), sizes):
        items = []
        for _ in range(size):
            words = sentences[count % len(sentences)]
            label = float(count % 7 - 3)
            items.append(
                mag_item(words, label, f"vid{count}[0]", acoustic_dim, visual_dim)
            )
            count += 1
        data[split] = items
    return data


def hkt_item(punchline, context, label=1, hid=7, acoustic_dim=81, visual_dim=91):
    """One HKT item; punchline rows start at 100, context rows at 0."""
    n_p = len(punchline.split())
    n_c = sum(len(sentence.split()) for sentence in context)
    hcf = np.zeros((n_p, 4), np.float32)
    return (
        (punchline, rows(n_p, visual_dim, 100), rows(n_p, acoustic_dim, 100), hcf),
        (list(context), rows(n_c, visual_dim), rows(n_c, acoustic_dim), np.zeros((n_c, 4))),
        hid,
        label,
    )


def hkt_data(sizes=(3, 2, 2)):
    """A small HKT dataset with contexts of 0-2 sentences."""
    examples = [
        ("so good", ["i know", "right"]),
        ("oh no", ["the movie was bad"]),
        ("yes", []),
    ]
    data = {}
    count = 0
    for split, size in zip(("train", "dev", "test"), sizes):
        data[split] = []
        for _ in range(size):
            punchline, context = examples[count % len(examples)]
            data[split].append(hkt_item(punchline, context, count % 2, hid=count))
            count += 1
    return data


def mmsa_split(n, length=50, audio=(50, 5), vision=(50, 20), lengths=False, seed=0):
    """One MMSA split dict of arrays (aligned when the A/V steps equal `length`)."""
    rng = np.random.default_rng(seed)
    real = rng.integers(3, length - 2, n)
    ids = np.zeros((n, length), np.float64)
    mask = (np.arange(length)[None, :] < real[:, None]).astype(np.float64)
    ids[:, :] = mask * rng.integers(5, 30000, (n, length))
    ids[:, 0] = 101
    ids[np.arange(n), real - 1] = 102
    split = {
        "raw_text": np.asarray([f"text {i}" for i in range(n)], dtype=object),
        "id": np.asarray([f"video{i}$_${i % 3}" for i in range(n)], dtype=object),
        "text": rng.standard_normal((n, length, 768)).astype(np.float32),
        "text_bert": np.stack([ids, mask, np.zeros_like(ids)], axis=1),
        "audio": rng.standard_normal((n, *audio)).astype(np.float32),
        "vision": rng.standard_normal((n, *vision)).astype(np.float32),
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
        "classification_labels": np.zeros(n, np.float32),
    }
    if lengths:
        split["audio_lengths"] = rng.integers(1, audio[0] + 1, n)
        split["vision_lengths"] = rng.integers(1, vision[0] + 1, n)
    return split


def mmsa_data(sizes=(4, 2, 3), **kwargs):
    """`{"train", "valid", "test"}` MMSA splits."""
    return {
        split: mmsa_split(size, seed=i, **kwargs)
        for i, (split, size) in enumerate(zip(("train", "valid", "test"), sizes))
    }


CHERMA_LABELS = ["愤怒", "厌恶", "恐惧", "高兴", "平静", "悲伤", "惊奇"]


def write_cherma(folder, sizes=(4, 2, 3), lengths=(10, 60, 50), dims=(1024, 1024, 2048)):
    """Writes a CHERMA folder; utterance i has `lengths[i % 3]` steps per modality."""
    count = 0
    for split, size in zip(("train", "valid", "test"), sizes):
        records = []
        for _ in range(size):
            name = f"utt_{count:04d}"
            steps = lengths[count % len(lengths)]
            label = CHERMA_LABELS[count % len(CHERMA_LABELS)]
            records.append({
                "audio_file": f"{name}.wav", "video_file": f"{name}.mp4",
                "txt_label": label, "audio_label": label,
                "visual_label": label, "video_label": label,
            })
            for sub, suffix, dim in zip(("text", "audio", "visual"), (".npy", ".npy", ".mp4.npy"),
                                        dims):
                path = folder / sub / split / f"{name}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, rows(steps, dim, count))
            count += 1
        (folder / f"{split}.json").write_text(
            json.dumps(records, ensure_ascii=False), encoding="utf-8"
        )
    return folder
