"""Embeddings for TensorBoard's Projector: a checkpoint, metadata TSVs, a config.

`tensorboard --logdir DIR` (with the files under `DIR` or a sub-folder)
shows them in the Projector tab, where points can be coloured and searched
by their metadata columns. The folder also gets an (empty) event file:
TensorBoard lists only folders with event files as runs, and the Projector
reads the configuration of its runs.
"""

import pathlib

import numpy as np


def write_projector(log_dir, embeddings):
    """Writes named embeddings with per-point metadata for the Projector.

    Args:
        log_dir: the folder (created if needed).
        embeddings: `{name: (vectors [N, D], {column: values [N]})}`; names
            are letters, digits and `_`.

    Returns:
        The folder path.

    Example:

    ```python
    write_projector("runs/mosi/logs/projector",
                    {"fused": (vectors, {"label": labels, "prediction": predictions})})
    ```
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    folder = pathlib.Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    variables = {name: tf.Variable(vectors, dtype=tf.float32, name=name)
                 for name, (vectors, _) in embeddings.items()}
    tf.train.Checkpoint(**variables).save(str(folder / "embeddings.ckpt"))
    config = projector.ProjectorConfig()
    for name, (vectors, metadata) in embeddings.items():
        metadata_file = f"{name}_metadata.tsv"
        _write_metadata(folder / metadata_file, metadata, len(vectors))
        embedding = config.embeddings.add()
        embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
        embedding.metadata_path = metadata_file
    projector.visualize_embeddings(str(folder), config)
    tf.summary.create_file_writer(str(folder)).close()
    return folder


def _write_metadata(path, metadata, rows):
    columns = list(metadata)
    for column in columns:
        if len(metadata[column]) != rows:
            raise ValueError(f"metadata column {column!r} has {len(metadata[column])} "
                             f"values for {rows} points")
    with open(path, "w") as file:
        file.write("\t".join(columns) + "\n")
        for index in range(rows):
            file.write("\t".join(_cell(metadata[c][index]) for c in columns) + "\n")


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}"
    return str(value).replace("\t", " ").replace("\n", " ")
