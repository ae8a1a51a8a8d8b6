"""The Fig. 3 figures of the sweeps: an experts heat-map and window lines."""

import numpy as np

from glomo_keras.analysis.plotting import PALETTE
from glomo_keras.analysis.plotting import new_figure
from glomo_keras.analysis.plotting import save_png
from glomo_keras.config import MODALITIES
from glomo_keras.model import MODALITY_NAMES
from glomo_keras.studies.tables import PERCENT_METRICS


def _scaled(metric, value):
    return value * 100.0 if metric in PERCENT_METRICS else value


def experts_heatmap(scores, metric, path):
    """Fig. 3b: one panel per text expert count, audio × video experts.

    Args:
        scores: `{(t, a, v): score}` (test mean over seeds).
        metric: the metric's name (title; percentages for Acc/F1).
        path: the PNG file (returned).

    Example:

    ```python
    experts_heatmap({(1, 1, 1): 0.7, (1, 1, 2): 0.72}, "acc2_non0", "experts.png")
    ```
    """
    text, audio, video = (sorted({key[i] for key in scores}) for i in range(3))
    figure = new_figure(width=2.0 + 2.6 * len(text), height=3.2)
    values = [_scaled(metric, v) for v in scores.values()]
    low, high = min(values), max(values)
    for index, t in enumerate(text):
        axes = figure.add_subplot(1, len(text), index + 1)
        grid = np.full((len(audio), len(video)), np.nan)
        for (tt, a, v), score in scores.items():
            if tt == t:
                grid[audio.index(a), video.index(v)] = _scaled(metric, score)
        image = axes.imshow(grid, cmap="viridis", vmin=low, vmax=high, origin="lower")
        for (row, column), value in np.ndenumerate(grid):
            if np.isfinite(value):
                bright = (value - low) > 0.6 * (high - low)  # viridis turns yellow
                axes.text(column, row, f"{value:.1f}", ha="center", va="center",
                          color="black" if bright else "white", fontsize=8)
        axes.set_xticks(range(len(video)), [str(v) for v in video])
        axes.set_yticks(range(len(audio)), [str(a) for a in audio])
        axes.set_xlabel("visual experts")
        axes.set_ylabel("acoustic experts" if index == 0 else "")
        axes.set_title(f"text experts = {t}")
    figure.colorbar(image, ax=figure.axes, label=metric)
    figure.suptitle(f"Experts per modality: test {metric}")
    return save_png(figure, path)


def windows_lines(lines, metric, path):
    """Fig. 3a: the score against the number of local windows, one line per modality.

    Args:
        lines: `{modality or "all": {n: score}}`.
        metric: the metric's name.
        path: the PNG file (returned).

    Example:

    ```python
    windows_lines({"t": {1: 0.7, 2: 0.74}}, "acc2_non0", "windows.png")
    ```
    """
    figure = new_figure()
    axes = figure.add_subplot()
    for line, points in lines.items():
        counts = sorted(points)
        label = "all modalities" if line == "all" else MODALITY_NAMES[line]
        # The modalities keep their colours of the other figures.
        colour = PALETTE[len(MODALITIES) if line == "all" else MODALITIES.index(line)]
        axes.plot(counts, [_scaled(metric, points[n]) for n in counts], marker="o",
                  color=colour, label=label)
    axes.set_xlabel("local windows n")
    axes.set_ylabel(metric)
    axes.legend()
    axes.grid(alpha=0.3)
    axes.set_title(f"Local windows per modality: test {metric}")
    return save_png(figure, path)


def window_lines_from_points(points, results, vary, base_windows, metric):
    """`{line: {n: score}}` for `windows_lines` from a windows study's results.

    A point is on line `m` when no modality but `m` differs from the base,
    on line `"all"` when every modality has `n`.
    """
    lines = {line: {} for line in vary}
    for point in points:
        if point.name not in results:
            continue
        counts = point.overrides["num_windows"]
        score = results[point.name]["mean"]["test"][metric]
        changed = [m for m in MODALITIES if counts[m] != base_windows[m]]
        for line in vary:
            if line == "all" and len(set(counts.values())) == 1:
                lines[line][counts["t"]] = score
            elif line != "all" and set(changed) <= {line}:
                lines[line][counts[line]] = score
    return lines
