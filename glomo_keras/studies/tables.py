"""Study results as the paper lays them out: CSV and Markdown tables.

Each row is one study point: the test metrics as mean ± std over the seeds,
each mean's difference to a reference row (Table 4's full model) and the
number of trainable parameters.
"""

import csv

# The metrics of each task and their column titles, in the order of the tables.
TABLE_METRICS = {
    "regression": {"acc2_has0": "Acc2 has0", "acc2_non0": "Acc2 non0", "f1_has0": "F1 has0",
                   "f1_non0": "F1 non0", "mae": "MAE", "corr": "Corr"},
    "classification": {"accuracy": "Acc", "f1": "F1 (weighted)"},
}
# Metrics printed as percentages (the paper's convention).
PERCENT_METRICS = {"acc2_has0", "acc2_non0", "f1_has0", "f1_non0", "acc7", "acc5",
                   "accuracy", "f1"}
# The default score of a sweep figure per task.
DEFAULT_SCORE = {"regression": "acc2_non0", "classification": "f1"}


def task_of(results):
    """"regression" or "classification", from a `results.json` dict."""
    return results["config"]["task"]


def study_rows(points, results, parameters, reference=None):
    """One row per finished point: label, test metric means, stds, deltas, params.

    Args:
        points: the `StudyPoint`s, in row order.
        results: `{name: results.json dict}`.
        parameters: `{name: trainable parameter count}`.
        reference: the point name whose means the deltas subtract, or None.

    Returns:
        Dicts with `name`, `label`, `params` and, per metric, `<metric>_mean`,
        `_std` and `_delta`.

    Example:

    ```python
    rows = study_rows(points, results, read_parameters("studies/mosi"), "full")
    rows[1]["mae_delta"]
    ```
    """
    finished = [point for point in points if point.name in results]
    task = task_of(results[finished[0].name])
    base = results.get(reference, {}).get("mean", {}).get("test")
    rows = []
    for point in finished:
        run = results[point.name]
        row = {"name": point.name, "label": point.label,
               "params": parameters.get(point.name)}
        for metric in TABLE_METRICS[task]:
            mean = run["mean"]["test"][metric]
            row[f"{metric}_mean"] = mean
            row[f"{metric}_std"] = run["std"]["test"][metric]
            row[f"{metric}_delta"] = None if base is None else mean - base[metric]
        rows.append(row)
    return rows


def write_csv(rows, path):
    """Writes dict rows as CSV: every key a column, floats in full, None empty."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows, task, title):
    """The rows as a Markdown table: `mean ± std (Δ)` per metric, params last.

    Example:

    ```python
    print(markdown_table(rows, "regression", "Table 4 on MOSI"))
    ```
    """
    metrics = TABLE_METRICS[task]
    header = ["Variant", *metrics.values(), "Params"]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["label"]]
        for metric in metrics:
            cells.append(_cell(metric, row[f"{metric}_mean"], row[f"{metric}_std"],
                               row[f"{metric}_delta"]))
        params = row["params"]
        cells.append("" if params is None else f"{params:,}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Test split, mean ± std over seeds; (Δ) = difference to the "
              "first row; Acc/F1 in %."]
    return "\n".join(lines) + "\n"


def _cell(metric, mean, std, delta):
    scale, digits = (100.0, 2) if metric in PERCENT_METRICS else (1.0, 4)
    text = f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
    if delta is not None and delta != 0.0:
        text += f" ({delta * scale:+.{digits}f})"
    return text

