"""Study results as the paper lays them out: CSV and Markdown tables.

Each row is one study point: the test-split metrics as mean ± std over the
seeds (population std, as `results.json`), the difference of each mean to a
reference row (the full model in Table 4) and the number of trainable
parameters. Regression data report Acc2 and F1 with and without zero labels
(`has0`/`non0`), MAE and Corr; classification data accuracy and weighted F1.
"""

import csv

# The metrics of each task, in the column order of the tables.
TABLE_METRICS = {
    "regression": ("acc2_has0", "acc2_non0", "f1_has0", "f1_non0", "mae", "corr"),
    "classification": ("accuracy", "f1"),
}
# Metrics printed as percentages (the paper's convention).
PERCENT_METRICS = {"acc2_has0", "acc2_non0", "f1_has0", "f1_non0", "acc7", "acc5",
                   "accuracy", "f1"}
# The default score of a sweep figure per task.
DEFAULT_SCORE = {"regression": "acc2_non0", "classification": "f1"}


def task_of(results):
    """"regression" or "classification", from a `results.json` dict."""
    return results["config"]["task"]


def study_rows(points, results, parameters, reference=None, split="test"):
    """One row per finished point: label, metric means, stds, deltas, params.

    Args:
        points: the `StudyPoint`s, in row order.
        results: `{name: results.json dict}`.
        parameters: `{name: trainable parameter count}`.
        reference: the point name whose means the deltas subtract, or None.
        split: "test" or "valid".

    Returns:
        A list of dicts with `name`, `label`, `params`, and `<metric>_mean`,
        `<metric>_std`, `<metric>_delta` per metric of the task.

    Example:

    ```python
    rows = study_rows(points, results, read_parameters("studies/mosi"), "full")
    rows[1]["mae_delta"]
    ```
    """
    finished = [point for point in points if point.name in results]
    task = task_of(results[finished[0].name])
    base = results.get(reference, {}).get("mean", {}).get(split)
    rows = []
    for point in finished:
        run = results[point.name]
        row = {"name": point.name, "label": point.label,
               "params": parameters.get(point.name)}
        for metric in TABLE_METRICS[task]:
            mean = run["mean"][split][metric]
            row[f"{metric}_mean"] = mean
            row[f"{metric}_std"] = run["std"][split][metric]
            row[f"{metric}_delta"] = None if base is None else mean - base[metric]
        rows.append(row)
    return rows


def write_csv(rows, path, leading=()):
    """Writes rows as CSV (`leading` columns first, then the rest in order)."""
    columns = list(leading) + [key for key in rows[0] if key not in leading]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_value(row[key]) for key in columns})


def markdown_table(rows, task, title):
    """The rows as a Markdown table: `mean ± std (Δ)` per metric, params last.

    Example:

    ```python
    print(markdown_table(rows, "regression", "Table 4 on MOSI"))
    ```
    """
    metrics = TABLE_METRICS[task]
    header = ["Variant", *(_metric_title(m) for m in metrics), "Params"]
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


def _metric_title(metric):
    names = {"acc2_has0": "Acc2 has0", "acc2_non0": "Acc2 non0", "f1_has0": "F1 has0",
             "f1_non0": "F1 non0", "mae": "MAE", "corr": "Corr",
             "accuracy": "Acc", "f1": "F1 (weighted)"}
    return names.get(metric, metric)


def _cell(metric, mean, std, delta):
    scale, digits = (100.0, 2) if metric in PERCENT_METRICS else (1.0, 4)
    text = f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
    if delta is not None and delta != 0.0:
        text += f" ({delta * scale:+.{digits}f})"
    return text


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return value
