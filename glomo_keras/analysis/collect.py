"""`collect_representations`: a finished run's model applied to one data split.

It reads the run's `results.json` (configuration, backbone, data file,
selected seed), loads that seed's `model.keras`, loads the data as training
did, and returns `GLoMo.analyze` on the split with its labels and ids.
"""

import json
import pathlib

import numpy as np

from glomo_keras.errors import MissingFileError
from glomo_keras.errors import UsageError
from glomo_keras.studies.data import load_for_config


class RunNotFinishedError(MissingFileError):
    """The run directory has no `results.json` or no model of the seed."""


def _load_run_model(run_dir, seed=None):
    """`(model, results, seed)`: a finished run's seed (default the selected one)."""
    import keras

    import glomo_keras  # noqa: F401  (registers the GLoMo classes)

    run = pathlib.Path(run_dir)
    if not (run / "results.json").exists():
        raise RunNotFinishedError(
            f"{run} has no results.json: plot needs a finished glomo-keras train run"
        )
    results = json.loads((run / "results.json").read_text())
    seed = results["selected_seed"] if seed is None else seed
    path = run / f"seed_{seed}" / "model.keras"
    if not path.exists():
        seeds = sorted(results["per_seed"])
        raise RunNotFinishedError(f"{path} does not exist; the run's seeds are {seeds}")
    return keras.saving.load_model(path, compile=False), results, seed


def collect_representations(run_dir, data=None, split="test", seed=None, max_points=None,
                            use_cache=True, batch_size=64):
    """The representations of a run's model on a split of its data.

    Args:
        run_dir: a finished run directory.
        data: the data file or folder; default the one the run trained on
            (its `results.json` names it).
        split: "train", "valid" or "test".
        seed: the seed's model (default the run's selected seed).
        max_points: keep at most this many utterances (a fixed random
            subset, in split order), or None for all.
        use_cache: use the tokenised-data cache.
        batch_size: the prediction batch size.

    Returns:
        dict: the `GLoMo.analyze` outputs plus `labels` [N], `ids` [N],
        `config` (the `GLoMoConfig`), `seed`, `split`, `task`, `results`
        (the run's results dict).

    Raises:
        RunNotFinishedError, MissingFileError: the run is not finished, its data is gone.
        UsageError: the run does not name its data file and `data` is None.

    Example:

    ```python
    found = collect_representations("runs/mosi")
    found["fused"].shape  # (N, 2d)
    ```
    """
    model, results, seed = _load_run_model(run_dir, seed)
    config = model.config
    data = data or results.get("data")
    if data is None:
        raise UsageError(f"{run_dir}/results.json does not name its data file (a run "
                         "trained before it was recorded): pass --data")
    if not pathlib.Path(data).exists():
        raise MissingFileError(f"the run's data {data} does not exist; pass --data to "
                               "name where it is now")
    dataset = load_for_config(config, data, results["backbone"], use_cache)
    if split not in dataset.splits:
        raise UsageError(f"{data} has no {split!r} split; it has {sorted(dataset.splits)}")
    chosen = dataset.splits[split]
    inputs, labels, ids = chosen.inputs, np.asarray(chosen.labels), np.asarray(chosen.ids)
    if max_points is not None and len(ids) > max_points:
        keep = np.sort(np.random.default_rng(0).choice(len(ids), max_points, replace=False))
        inputs = {name: array[keep] for name, array in inputs.items()}
        labels, ids = labels[keep], ids[keep]
    outputs = model.analyze(inputs, batch_size=batch_size)
    return {**outputs, "labels": labels.reshape(len(ids), -1)[:, 0], "ids": ids,
            "config": config, "seed": seed, "split": split, "task": config.task,
            "results": results}
