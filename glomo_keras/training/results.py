"""Aggregating per-seed results into `results.json` and a printed table."""

import pathlib
import platform

import keras
import numpy as np

from glomo_keras import artifacts


def _scalars(metrics):
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def _mean_std(per_seed, split):
    keys = _scalars(next(iter(per_seed.values()))[split])
    values = {k: [result[split][k] for result in per_seed.values()] for k in keys}
    mean = {k: float(np.mean(v)) for k, v in values.items()}
    std = {k: float(np.std(v, ddof=0)) for k, v in values.items()}
    return mean, std


def versions():
    """Versions of the libraries a run depends on."""
    import keras_hub
    import tensorflow as tf

    import glomo_keras

    return {"glomo_keras": glomo_keras.__version__, "keras": keras.__version__,
            "keras_hub": keras_hub.__version__, "tensorflow": tf.__version__,
            "backend": keras.backend.backend(), "python": platform.python_version()}


def summarise(per_seed, config, options, distribution, backbone, dataset):
    """The results dict of a run.

    Args:
        per_seed: {seed: result} (`test`, `valid`, `best_epoch`, `best_val_loss`).
        config, options: the resolved `GLoMoConfig` and the `TrainingOptions`.
        distribution, backbone, dataset: the `Distribution`, the backbone
            spec and the `LoadedDataset` trained on.

    Returns:
        dict with `per_seed`, `mean` and `std` (ddof 0), `selected_seed`
        (lowest validation loss), `num_replicas`, `strategy`, `backbone`,
        `data`, `split_sizes`, `config`, `training` and `versions`.

    Example:

    ```python
    results = summarise({1111: result}, config, options, distribution, "minilm", dataset)
    results["mean"]["test"]["mae"]
    ```
    """
    per_seed = {str(seed): result for seed, result in per_seed.items()}
    mean, std = {}, {}
    for split in ("test", "valid"):
        mean[split], std[split] = _mean_std(per_seed, split)
    selected = min(per_seed, key=lambda seed: _or_inf(per_seed[seed]["best_val_loss"]))
    return {
        "per_seed": per_seed, "mean": mean, "std": std, "selected_seed": int(selected),
        "num_replicas": distribution.num_replicas, "strategy": distribution.name,
        "backbone": backbone, "data": _absolute(dataset.source),
        "split_sizes": {name: len(split) for name, split in dataset.splits.items()},
        "config": config.to_dict(), "training": options.to_dict(), "versions": versions(),
    }


def _or_inf(value):
    return float("inf") if value is None else value


def _absolute(source):
    path = pathlib.Path(source)
    return str(path.resolve()) if path.exists() else str(source)


def results_text(results):
    """The Markdown table of a run's test metrics: every seed, then mean ± std.

    It is `results.txt`, the printed table and the Text dashboard's `run/results`.

    Args:
        results: the run's results dict (`summarise`).

    Example:

    ```python
    print(results_text(results))  # "| seed | best epoch | mae | corr | ... |"
    ```
    """
    keys = list(results["mean"]["test"])
    rows = [
        "Test metrics of each seed's selected epoch; mean ± std over "
        f"{len(results['per_seed'])} seed(s) (std with ddof 0). Selected seed: "
        f"{results['selected_seed']} (lowest validation loss).",
        "",
        "| seed | best epoch | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for seed, result in results["per_seed"].items():
        rows.append(f"| {seed} | {result['best_epoch']} | "
                    + " | ".join(f"{result['test'][k]:.4f}" for k in keys) + " |")
    rows.append("| **mean ± std** | | " + " | ".join(
        f"{results['mean']['test'][k]:.4f} ± {results['std']['test'][k]:.4f}" for k in keys
    ) + " |")
    return "\n".join(rows)


def write_results(results, output):
    """Writes `results.json` (last, atomically) and `results.txt`; prints the table."""
    table = results_text(results)
    artifacts.write_text_atomically(output / artifacts.RESULTS_TABLE_FILE, table + "\n")
    artifacts.write_json_atomically(output / artifacts.RESULTS_FILE, results)
    print(table)
