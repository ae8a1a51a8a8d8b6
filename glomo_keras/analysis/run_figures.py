"""`plot_run`: every analysis figure of a finished run, in files and TensorBoard."""

import json
import pathlib

import numpy as np

from glomo_keras.analysis.collect import collect_representations
from glomo_keras.analysis.figures import expert_load_figure
from glomo_keras.analysis.figures import fused_figure
from glomo_keras.analysis.figures import UNIMODAL_KEYS
from glomo_keras.analysis.figures import label_groups
from glomo_keras.analysis.figures import unimodal_figure
from glomo_keras.analysis.figures import weights_figure
from glomo_keras.analysis.plotting import require_matplotlib
from glomo_keras.analysis.projector import write_projector

# Each figure: its file name (no .png), the function that draws it (returns the PNG,
# or None: nothing to draw) and what it shows (its TensorBoard image description).
FIGURES = {
    "unimodal_tsne": (unimodal_figure, "Fig. 2: one t-SNE of the global (G) and local (L) "
                      "unimodal representations of text, acoustic and visual."),
    "fused_tsne": (fused_figure, "Fig. 4: t-SNE of the fused representation [Z1; Z2], "
                   "coloured by the label's sign (regression) or class."),
    "modality_weights": (weights_figure, "Distribution of the global and local modality "
                         "weights per modality."),
    "expert_load": (expert_load_figure, "Each expert's share of its modality's routing slots "
                    "(evaluation routing, no gate noise); balanced is 1/E, the dashed line."),
}


def plot_run(run_dir, data=None, output_dir=None, split="test", seed=None, max_points=1000,
             projector_dir=None, use_cache=True):
    """Writes the paper's analysis figures of a run, in files and in TensorBoard.

    Files (in `output_dir`, default `<run>/figures`): `<name>.png` for each
    of `FIGURES` (which says what each shows; `expert_load` for MoE models
    only), a `.csv` beside each t-SNE PNG with every point,
    and `figures.json`. The same figures go to the Images tab of the seed's TensorBoard run
    (`<run>/logs/seed_<S>`, tags `figures/<name>`, at the selected epoch),
    and the Projector embeddings `unimodal` and `fused` (metadata: id,
    split, label, predicted sentiment, label group; `unimodal` also the
    representation) to `projector_dir` (default that run's folder), so
    `tensorboard --logdir <run>/logs` shows everything.

    Args:
        run_dir: a finished `glomo-keras train` run directory.
        data: the data file or folder; default the one the run trained on.
        output_dir: where the PNGs go.
        split: "test" (default), "valid" or "train".
        seed: the seed's model (default the run's selected seed).
        max_points: at most this many utterances (a fixed random subset).
        projector_dir: where the Projector files go.
        use_cache: use the tokenised-data cache.

    Returns:
        dict of what was written (`figures.json`).

    Raises:
        RunNotFinishedError, UsageError, MissingFileError: see
            `collect_representations`.

    Example:

    ```python
    written = plot_run("runs/mosi")
    written["figures"]["fused_tsne"]  # "runs/mosi/figures/fused_tsne.png"
    ```
    """
    require_matplotlib()
    run = pathlib.Path(run_dir)
    output = pathlib.Path(output_dir or run / "figures")
    found = collect_representations(run, data, split, seed, max_points, use_cache)
    log_dir = run / "logs" / f"seed_{found['seed']}"
    projector_dir = pathlib.Path(projector_dir or log_dir)
    drawn = {name: draw(found, output / f"{name}.png") for name, (draw, _) in FIGURES.items()}
    figures = {name: str(path) for name, path in drawn.items() if path is not None}
    best_epoch = found["results"]["per_seed"][str(found["seed"])]["best_epoch"]
    write_images(log_dir, figures, split, step=best_epoch or 0)
    embeddings = _embeddings(found)
    write_projector(projector_dir, embeddings)
    written = {
        "run": str(run), "seed": found["seed"], "split": split,
        "utterances": int(len(found["ids"])),
        "unimodal_points": int(len(embeddings["unimodal"][0])),
        "figures": figures, "tensorboard": str(log_dir), "projector": str(projector_dir),
    }
    (output / "figures.json").write_text(json.dumps(written, indent=1))
    return written


def _embeddings(found):
    """The Projector embeddings: unimodal (one row per representation and utterance) and fused."""
    groups, _ = label_groups(found["labels"], found["task"], found["config"].class_names)
    per_utterance = {"id": found["ids"], "split": np.full(len(found["ids"]), found["split"]),
                     "label": found["labels"], "prediction": _predictions(found),
                     "group": groups}
    keys = [key for key in UNIMODAL_KEYS if key in found]
    unimodal = np.concatenate([found[key] for key in keys])
    unimodal_metadata = {
        "representation": np.repeat(keys, len(found["ids"])),
        **{name: np.tile(values, len(keys)) for name, values in per_utterance.items()},
    }
    return {"unimodal": (unimodal, unimodal_metadata),
            "fused": (found["fused"], per_utterance)}


def _predictions(found):
    prediction = found["prediction"]
    if found["task"] == "regression":
        return prediction[:, 0]
    return np.asarray(found["config"].class_names)[np.argmax(prediction, -1)]


def write_images(log_dir, figures, split, step):
    """Writes PNG figures as image summaries `figures/<name>` into a TensorBoard run.

    Args:
        log_dir: the run folder (a seed's `logs/seed_<S>`).
        figures: `{name: PNG path}`, names of `FIGURES`.
        split: the data split the figures show (said in the description).
        step: the step to show them at (the selected epoch).

    Example:

    ```python
    write_images("runs/mosi/logs/seed_1", {"fused_tsne": "runs/mosi/figures/fused_tsne.png"},
                 "test", step=12)
    ```
    """
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default(step=step):
        for name, path in figures.items():
            image = tf.io.decode_png(pathlib.Path(path).read_bytes(), channels=4)
            tf.summary.image(f"figures/{name}", image[None], description=(
                f"{FIGURES[name][1]} {split.capitalize()} split; the selected seed's "
                "model at its selected epoch."))
    writer.close()
