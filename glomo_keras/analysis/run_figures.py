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
from glomo_keras.analysis.images import write_images
from glomo_keras.analysis.plotting import require_matplotlib
from glomo_keras.analysis.projector import write_projector


def plot_run(run_dir, data=None, output_dir=None, split="test", seed=None, max_points=1000,
             projector_dir=None, use_cache=True):
    """Writes the paper's analysis figures of a run, in files and in TensorBoard.

    Files (in `output_dir`, default `<run>/figures`):
    - `unimodal_tsne.png` (Fig. 2: G_t, L_t, G_a, L_a, G_v, L_v in one t-SNE);
    - `fused_tsne.png` (Fig. 4: [Z1; Z2] coloured by label sign or class);
    - `modality_weights.png` (global and local weights per modality);
    - `expert_load.png` (each expert's share of the routing slots; MoE only);
    - a `.csv` beside each t-SNE PNG with every point, and `figures.json`.
    The same figures go to the Images tab of the seed's TensorBoard run
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
    figures = {}
    unimodal_points, _ = unimodal_figure(found, output / "unimodal_tsne.png")
    figures["unimodal_tsne"] = str(output / "unimodal_tsne.png")
    fused_figure(found, output / "fused_tsne.png")
    figures["fused_tsne"] = str(output / "fused_tsne.png")
    figures["modality_weights"] = str(weights_figure(found, output / "modality_weights.png"))
    load = expert_load_figure(found, output / "expert_load.png")
    if load is not None:
        figures["expert_load"] = str(load)
    best_epoch = found["results"]["per_seed"][str(found["seed"])]["best_epoch"]
    write_images(log_dir, figures, split, step=best_epoch or 0)
    write_projector(projector_dir, _embeddings(found))
    written = {
        "run": str(run), "seed": found["seed"], "split": split,
        "utterances": int(len(found["ids"])), "unimodal_points": int(len(unimodal_points)),
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
