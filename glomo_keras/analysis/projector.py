"""Embeddings for TensorBoard's Projector: vector and metadata TSVs and a config.

The files go into an existing TensorBoard run folder (a run's
`logs/seed_<S>`), so `tensorboard --logdir <run>/logs` shows them in the
Projector tab under that run, and no extra run appears. Each embedding is
named as given (`unimodal`, `fused`); its metadata columns colour and
search the points.
"""

import pathlib

import numpy as np


def write_projector(log_dir, embeddings):
    """Writes named embeddings with per-point metadata for the Projector.

    Args:
        log_dir: the folder (a TensorBoard run folder; created if needed).
        embeddings: `{name: (vectors [N, D], {column: values [N]})}`; names
            are letters, digits and `_`.

    Returns:
        The folder path.

    Example:

    ```python
    write_projector("runs/mosi/logs/seed_1",
                    {"fused": (vectors, {"label": labels, "prediction": predictions})})
    ```
    """
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    folder = pathlib.Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config = projector.ProjectorConfig()
    for name, (vectors, metadata) in embeddings.items():
        vectors = np.asarray(vectors, dtype="float32")
        np.savetxt(folder / f"{name}_tensors.tsv", vectors, delimiter="\t", fmt="%.6g")
        _write_metadata(folder / f"{name}_metadata.tsv", metadata, len(vectors))
        embedding = config.embeddings.add()
        embedding.tensor_name = name
        embedding.tensor_path = f"{name}_tensors.tsv"
        embedding.tensor_shape.extend(vectors.shape)
        embedding.metadata_path = f"{name}_metadata.tsv"
    (folder / "projector_config.pbtxt").write_text(text_format.MessageToString(config))
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
