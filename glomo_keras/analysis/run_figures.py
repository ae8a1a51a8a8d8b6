"""`plot_run`: every analysis figure of a finished run, plus Projector embeddings."""

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


def plot_run(run_dir, data, output_dir=None, split="test", seed=None, max_points=1000,
             projector_dir=None, use_cache=True):
    """Writes the paper's analysis figures of a run and its Projector embeddings.

    Files (in `output_dir`, default `<run>/figures`):
    - `unimodal_tsne.png` (Fig. 2: G_t, L_t, G_a, L_a, G_v, L_v in one t-SNE);
    - `fused_tsne.png` (Fig. 4: [Z1; Z2] coloured by label sign or class);
    - `modality_weights.png` (global and local weights per modality);
    - `expert_load.png` (share of utterances per expert and modality; MoE only);
    - a `.csv` beside each t-SNE PNG with every point, and `figures.json`.
    The Projector files go to `projector_dir` (default `<run>/logs/projector`,
    so `tensorboard --logdir <run>/logs` shows them): embeddings `unimodal`
    and `fused` with label, prediction and group metadata.

    Args:
        run_dir: a finished `glomo-keras train` run directory.
        data: the data file or folder the run trained on.
        output_dir: where the PNGs go.
        split: "test" (default), "valid" or "train".
        seed: the seed's model (default the run's selected seed).
        max_points: at most this many utterances (a fixed random subset).
        projector_dir: where the Projector files go.
        use_cache: use the tokenised-data cache.

    Returns:
        dict of what was written (`figures.json`).

    Example:

    ```python
    written = plot_run("runs/mosi", "datasets/mosi.pkl")
    written["figures"]["fused_tsne"]  # "runs/mosi/figures/fused_tsne.png"
    ```
    """
    require_matplotlib()
    run = pathlib.Path(run_dir)
    output = pathlib.Path(output_dir or run / "figures")
    projector_dir = pathlib.Path(projector_dir or run / "logs" / "projector")
    found = collect_representations(run, data, split, seed, max_points, use_cache)
    figures = {}
    unimodal_points, _ = unimodal_figure(found, output / "unimodal_tsne.png")
    figures["unimodal_tsne"] = str(output / "unimodal_tsne.png")
    fused_figure(found, output / "fused_tsne.png")
    figures["fused_tsne"] = str(output / "fused_tsne.png")
    figures["modality_weights"] = str(weights_figure(found, output / "modality_weights.png"))
    load = expert_load_figure(found, output / "expert_load.png")
    if load is not None:
        figures["expert_load"] = str(load)
    write_projector(projector_dir, _embeddings(found))
    written = {
        "run": str(run), "seed": found["seed"], "split": split,
        "utterances": int(len(found["ids"])), "unimodal_points": int(len(unimodal_points)),
        "figures": figures, "projector": str(projector_dir),
    }
    (output / "figures.json").write_text(json.dumps(written, indent=1))
    return written


def _embeddings(found):
    """The Projector embeddings: unimodal (one row per representation and utterance) and fused."""
    groups, _ = label_groups(found["labels"], found["task"], found["config"].class_names)
    per_utterance = {"id": found["ids"], "label": found["labels"],
                     "prediction": _predictions(found), "group": groups}
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
