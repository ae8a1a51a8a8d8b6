"""The paper's studies end to end: train every point, then write tables and figures.

- `ablation_study`: Table 4 → `ablations.csv`, `ablations.md`;
- `experts_study`: Fig. 3b → `experts.csv`, `experts.png`;
- `windows_study`: Fig. 3a → `windows.csv`, `windows.png`.

Each takes the base `GLoMoConfig`, the data, a study directory and the
`run_study` options (`options`, `backbone`, `seeds`, `overwrite`, ...).
"""

import pathlib

from glomo_keras.config import MODALITIES
from glomo_keras.studies.figures import experts_heatmap
from glomo_keras.studies.figures import window_lines_from_points
from glomo_keras.studies.figures import windows_lines
from glomo_keras.studies.points import REFERENCE
from glomo_keras.studies.points import ablation_points
from glomo_keras.studies.points import expert_points
from glomo_keras.studies.points import window_points
from glomo_keras.studies.runner import log
from glomo_keras.studies.runner import read_parameters
from glomo_keras.studies.runner import run_study
from glomo_keras.studies.tables import DEFAULT_SCORE
from glomo_keras.studies.tables import markdown_table
from glomo_keras.studies.tables import study_rows
from glomo_keras.studies.tables import task_of
from glomo_keras.studies.tables import write_csv


def ablation_study(base_config, data, output_dir, variants=None, **options):
    """Table 4: the full model and each ablation, with the same seeds and data.

    Args:
        base_config: the `GLoMoConfig` of the full model.
        data: the data file or folder.
        output_dir: the study directory (one run folder per variant).
        variants: variant names or labels (`ablation_points`); None for all.
        **options: `run_study` options.

    Returns:
        The rows (`study_rows`), also in `ablations.csv` and `ablations.md`.

    Example:

    ```python
    rows = ablation_study(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl",
                          "studies/mosi_ablations", seeds=[1, 2, 3])
    ```
    """
    output = pathlib.Path(output_dir)
    points = ablation_points(variants)
    results = run_study("ablations", points, base_config, data, output, **options)
    rows = study_rows(points, results, read_parameters(output), reference=REFERENCE)
    write_csv(rows, output / "ablations.csv")
    seeds = len(results[REFERENCE]["per_seed"])
    title = f"Table 4 ablations ({base_config.dataset}, {seeds} seed{'s' * (seeds != 1)})"
    table = markdown_table(rows, task_of(results[REFERENCE]), title)
    (output / "ablations.md").write_text(table)
    log(f"wrote {output / 'ablations.csv'} and {output / 'ablations.md'}")
    print(table)
    return rows


def experts_study(base_config, data, output_dir, grid=None, metric=None, **options):
    """Fig. 3b: the experts of text, audio and video varied separately.

    Args:
        base_config: the base `GLoMoConfig`.
        data: the data file or folder.
        output_dir: the study directory.
        grid: `{"t": [...], "a": [...], "v": [...]}`; default 1–4 each (64 points).
        metric: the figure's score (default Acc2 non0 or weighted F1).
        **options: `run_study` options.

    Returns:
        The rows, also in `experts.csv`; the figure is `experts.png`.

    Example:

    ```python
    experts_study(config, "datasets/mosi.pkl", "studies/experts",
                  grid={"t": [1, 2], "a": [1, 2], "v": [1, 2]})
    ```
    """
    points = expert_points(base_config, grid or {m: [1, 2, 3, 4] for m in MODALITIES})

    def figure(results, metric, path):
        scores = {tuple(point.overrides["num_experts"][m] for m in MODALITIES):
                  results[point.name]["mean"]["test"][metric] for point in points}
        experts_heatmap(scores, metric, path)

    return _sweep("experts", "num_experts", points, base_config, data, output_dir, metric,
                  figure, options)


def windows_study(base_config, data, output_dir, windows=None, vary=MODALITIES,
                  metric=None, **options):
    """Fig. 3a: the number of local windows of each modality.

    Args:
        base_config: the base `GLoMoConfig`.
        data: the data file or folder.
        output_dir: the study directory.
        windows: the counts `n` (default 1–6).
        vary: the lines: modalities ("t", "a", "v") and/or "all".
        metric: the figure's score (default Acc2 non0 or weighted F1).
        **options: `run_study` options.

    Returns:
        The rows, also in `windows.csv`; the figure is `windows.png`.

    Example:

    ```python
    windows_study(config, "datasets/mosi.pkl", "studies/windows", windows=[1, 3, 6])
    ```
    """
    points = window_points(base_config, windows or [1, 2, 3, 4, 5, 6], vary)

    def figure(results, metric, path):
        windows_lines(window_lines_from_points(
            points, results, vary, base_config.per_modality("num_windows"), metric), metric, path)

    return _sweep("windows", "num_windows", points, base_config, data, output_dir, metric,
                  figure, options)


def _sweep(kind, field, points, base_config, data, output_dir, metric, figure, options):
    """Trains a sweep; writes `<kind>.csv` (the swept values leading) and `<kind>.png`."""
    output = pathlib.Path(output_dir)
    results = run_study(kind, points, base_config, data, output, **options)
    metric = metric or DEFAULT_SCORE[task_of(next(iter(results.values())))]
    by_name = {point.name: point for point in points}
    rows = []
    for row in study_rows(points, results, read_parameters(output)):
        overrides = by_name[row["name"]].overrides
        values = {f"{kind}_{m}": overrides[field][m] for m in MODALITIES}
        values.update({f"top_k_{m}": overrides["top_k"][m]
                       for m in MODALITIES if "top_k" in overrides})
        rows.append({**values, **row})
    write_csv(rows, output / f"{kind}.csv")
    figure(results, metric, output / f"{kind}.png")
    log(f"wrote {output / f'{kind}.csv'} and {output / f'{kind}.png'}")
    return rows
