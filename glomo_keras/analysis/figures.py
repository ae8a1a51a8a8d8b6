"""The paper's analysis figures of one run: Fig. 2, Fig. 4, modality weights, expert load.

Each scatter figure also writes `<name>.csv` with every plotted point: its
t-SNE coordinates, its group and its pixel (column, row) in the PNG, so the
image can be checked against the data it shows.
"""

import csv

import numpy as np

from glomo_keras.analysis.plotting import PALETTE
from glomo_keras.analysis.plotting import new_figure
from glomo_keras.analysis.plotting import pixel_positions
from glomo_keras.analysis.plotting import save_png
from glomo_keras.config import MODALITIES
from glomo_keras.model import MODALITY_NAMES

# The unimodal representations of Fig. 2, in legend order.
UNIMODAL_KEYS = tuple(f"{kind}_{m}" for m in MODALITIES for kind in ("G", "L"))


def _tsne_2d(vectors, seed=0, perplexity=30.0):
    """2-D t-SNE (scikit-learn, PCA start), perplexity at most `(N - 1) / 3`."""
    from sklearn.manifold import TSNE

    vectors = np.asarray(vectors, dtype="float64")
    perplexity = max(1.0, min(perplexity, (len(vectors) - 1) / 3.0))
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                learning_rate="auto", random_state=seed).fit_transform(vectors)


def label_groups(labels, task, class_names=None):
    """Group names for colouring: the label sign (regression) or class.

    Returns:
        `(groups [N] of str, names in legend order)`.

    Example:

    ```python
    label_groups(np.array([-1.2, 0.0, 2.0]), "regression")
    # (array(["negative", "neutral", "positive"]), ["negative", "neutral", "positive"])
    ```
    """
    labels = np.asarray(labels)
    if task == "regression":
        groups = np.where(labels < 0, "negative", np.where(labels > 0, "positive", "neutral"))
        order = ["negative", "neutral", "positive"]
    else:
        order = list(class_names)
        groups = np.array([order[int(label)] for label in labels])
    return groups, [name for name in order if name in set(groups)]


def _scatter_figure(points, groups, order, title, path):
    """A scatter plot of [N, 2] points, one exact colour per group; PNG + CSV of the pixels."""
    figure = new_figure(7.0, 5.6)
    axes = figure.add_subplot()
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(order)}
    for name in order:
        chosen = groups == name
        axes.scatter(points[chosen, 0], points[chosen, 1], s=14, c=colours[name],
                     label=f"{name} ({int(chosen.sum())})", linewidths=0,
                     antialiased=False)
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.subplots_adjust(left=0.04, right=0.74, top=0.92, bottom=0.04)
    figure.canvas.draw()
    columns, rows = pixel_positions(axes, points[:, 0], points[:, 1])
    png = save_png(figure, path)
    with open(png.with_suffix(".csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["x", "y", "group", "colour", "pixel_column", "pixel_row"])
        for (x, y), group, column, row in zip(points, groups, columns, rows):
            writer.writerow([f"{x:.5f}", f"{y:.5f}", group, colours[group], column, row])
    return png


def unimodal_figure(found, path, seed=0):
    """Fig. 2: one t-SNE of G_t, L_t, G_a, L_a, G_v, L_v together."""
    keys = [key for key in UNIMODAL_KEYS if key in found]
    vectors = np.concatenate([found[key] for key in keys])
    groups = np.concatenate([np.full(len(found[key]), key) for key in keys])
    return _scatter_figure(_tsne_2d(vectors, seed), groups, keys,
                          f"Unimodal representations ({found['split']} split, t-SNE)", path)


def fused_figure(found, path, seed=0):
    """Fig. 4: t-SNE of the fused [Z1; Z2], coloured by label sign or class."""
    groups, order = label_groups(found["labels"], found["task"], found["config"].class_names)
    return _scatter_figure(_tsne_2d(found["fused"], seed), groups, order,
                          f"Fused representation [Z1; Z2] ({found['split']} split, t-SNE)", path)


def weights_figure(found, path):
    """The distribution of the global and local modality weights per modality."""
    figure = new_figure(9.0, 3.6)
    kept = found["config"].modalities
    for index, kind in enumerate(("global", "local")):
        axes = figure.add_subplot(1, 2, index + 1)
        weights = found[f"{kind}_weights"]
        bins = np.linspace(0.0, 1.0, 41)
        for modality in kept:
            column = MODALITIES.index(modality)
            axes.hist(weights[:, column], bins=bins, histtype="step", linewidth=2,
                      color=PALETTE[column], label=MODALITY_NAMES[modality])
        axes.set_xlabel(f"{kind} modality weight")
        axes.set_ylabel("utterances" if index == 0 else "")
        axes.legend(fontsize=8)
    figure.suptitle(f"Modality weights ({found['split']} split)")
    figure.subplots_adjust(bottom=0.16, wspace=0.25)
    return save_png(figure, path)


def expert_load_figure(found, path):
    """The expert load per modality: each expert's share of the routing slots.

    Each utterance fills top-k routing slots of a modality's MoE; an
    expert's load is the share of those slots it gets (the shares sum to 1,
    a balanced layer gives 1/E each, the dashed line), the unit TensorBoard's
    `moe/<modality>/load_eval/expert_<i>` scalars use. The gates are the
    evaluation ones (no gate noise).

    Returns:
        The PNG path, or None when the model has no MoE gates.
    """
    gated = [m for m in MODALITIES if f"gates_{m}" in found]
    if not gated:
        return None
    figure = new_figure(3.2 * len(gated) + 0.8, 3.6)
    for index, modality in enumerate(gated):
        routed = (found[f"gates_{modality}"] > 0).sum(0)
        share = routed / max(routed.sum(), 1)
        axes = figure.add_subplot(1, len(gated), index + 1)
        axes.bar(range(len(share)), share, color=PALETTE[MODALITIES.index(modality)])
        axes.axhline(1.0 / len(share), color="#555555", linestyle="--", linewidth=1)
        axes.set_xticks(range(len(share)), [str(i) for i in range(len(share))])
        axes.set_ylim(0, 1)
        axes.set_xlabel("expert")
        axes.set_ylabel("share of routing slots" if index == 0 else "")
        axes.set_title(MODALITY_NAMES[modality])
    figure.suptitle(f"Expert load: share of routing slots, evaluation routing "
                    f"({found['split']} split; dashed: balanced)", fontsize=10)
    figure.subplots_adjust(bottom=0.16, top=0.8, wspace=0.35)
    return save_png(figure, path)
