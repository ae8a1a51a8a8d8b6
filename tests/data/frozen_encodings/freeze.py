"""Writes the frozen encodings of the five file layouts (run once, then commit).

The inputs (`inputs/`: a MAG, HKT and MMSA pickle, a CHERMA folder, a cut of
the built-in sample, and `vocab.txt`) are tiny files built from
`tests/data_fixtures.py` and `glomo_keras.data.sample`. Each layout's
encoding is what `glomo_keras.data.load` gives for them (every split, the
model inputs and the labels), stored as `<layout>.npz`. The first freeze ran
the numpy encoder of b735619 (`data/encoding.py`, since deleted);
`tests/test_one_encoder.py` checks that the one encoder still gives the same
arrays. Rerunning this script refreezes the current encoder: do it only on
purpose.

Example:

```
PYTHONPATH=. python tests/data/frozen_encodings/freeze.py
```
"""

import pathlib
import shutil
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for data_fixtures

from data_fixtures import (  # noqa: E402
    TINY_VOCABULARY,
    hkt_data,
    mag_data,
    mmsa_data,
    write_cherma,
    write_pickle,
)

from glomo_keras.data import sample  # noqa: E402

INPUTS = HERE / "inputs"
# The loading options of each layout: T small enough that some utterances are cut.
LAYOUTS = {
    "mag": ("mag.pkl", {"max_length": 8}),
    "hkt": ("hkt.pkl", {"max_length": 10}),
    "mmsa": ("mmsa.pkl", {}),
    "cherma": ("cherma", {"max_length": 6}),
    "sample": ("sample.pkl", {"max_length": 12}),
}
# Words of the sample cut that get pieces of their own in the tiny vocabulary.
SAMPLE_PIECES = ["bor", "##ing", "act", "##ed", "music", "plot", "really", "was", "i",
                 "loved", "movie", "film", "this", "but", "and", "well", "honestly"]


def sample_cut(size=3):
    """The first `size` utterances of each split of the built-in sample."""
    return {split: items[:size] for split, items in sample.build().items()}


def write_inputs():
    """Writes the tiny input files and the vocabulary under `inputs/`."""
    if INPUTS.exists():
        shutil.rmtree(INPUTS)
    INPUTS.mkdir(parents=True)
    vocabulary = list(TINY_VOCABULARY) + [p for p in SAMPLE_PIECES if p not in TINY_VOCABULARY]
    (INPUTS / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    write_pickle(INPUTS / "mag.pkl", mag_data(sizes=(3, 2, 2), acoustic_dim=5, visual_dim=4))
    write_pickle(INPUTS / "hkt.pkl", hkt_data(sizes=(3, 2, 2)))
    mmsa = mmsa_data(sizes=(3, 2, 2), length=8, audio=(6, 3), vision=(8, 4), lengths=True)
    for split in mmsa.values():
        del split["text"]  # the 768-wide text features: unused by the encoder, and large
    write_pickle(INPUTS / "mmsa.pkl", mmsa)
    write_cherma(INPUTS / "cherma", sizes=(2, 2, 2), lengths=(3, 9, 5), dims=(6, 5, 7))
    write_pickle(INPUTS / "sample.pkl", sample_cut())


def encode_layout(name):
    """The arrays `load` gives for one layout's input: `<split>/<input>` and `<split>/labels`."""
    from glomo_keras.data import load, make_tokenizer

    file, options = LAYOUTS[name]
    tokenizer = make_tokenizer(str(INPUTS / "vocab.txt"))
    dataset = load(INPUTS / file, tokenizer=tokenizer, use_cache=False, **options)
    arrays = {}
    for split_name, split in dataset.splits.items():
        for key, array in split.inputs.items():
            arrays[f"{split_name}/{key}"] = np.asarray(array)
        arrays[f"{split_name}/labels"] = np.asarray(split.labels)
    return arrays


def main():
    write_inputs()
    for name in LAYOUTS:
        arrays = encode_layout(name)
        np.savez_compressed(HERE / f"{name}.npz", **arrays)
        print(name, {key: value.shape for key, value in arrays.items() if key.startswith("train/")})


if __name__ == "__main__":
    main()
