"""`write_images`: a run's figures in TensorBoard's Images tab."""

import pathlib

# What each figure shows (the description of its image summary).
DESCRIPTIONS = {
    "unimodal_tsne": "Fig. 2: one t-SNE of the global (G) and local (L) unimodal "
                     "representations of text, acoustic and visual.",
    "fused_tsne": "Fig. 4: t-SNE of the fused representation [Z1; Z2], coloured by the "
                  "label's sign (regression) or class.",
    "modality_weights": "Distribution of the global and local modality weights per "
                        "modality.",
    "expert_load": "Each expert's share of its modality's routing slots (evaluation "
                   "routing, no gate noise); balanced is 1/E, the dashed line.",
}


def write_images(log_dir, figures, split, step):
    """Writes PNG figures as image summaries `figures/<name>` into a TensorBoard run.

    Args:
        log_dir: the run folder (a seed's `logs/seed_<S>`).
        figures: `{name: PNG path}`.
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
                f"{DESCRIPTIONS[name]} {split.capitalize()} split; the selected seed's "
                "model at its selected epoch."))
    writer.close()
