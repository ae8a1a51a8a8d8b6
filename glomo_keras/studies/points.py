"""The configurations of the paper's studies: Table 4 and the Fig. 3 sweeps.

A study is a list of `StudyPoint`s, each a named set of `GLoMoConfig`
overrides on top of one base configuration.
"""

import dataclasses
import itertools

from glomo_keras.config import MODALITIES


@dataclasses.dataclass(frozen=True)
class StudyPoint:
    """One configuration of a study.

    Args:
        name: the run folder name (letters, digits, `_`).
        label: the row label of the tables (the paper's name).
        overrides: `GLoMoConfig` fields set on top of the base config.

    Example:

    ```python
    StudyPoint("sum", "SUM", {"fusion": "sum"})
    ```
    """

    name: str
    label: str
    overrides: dict


# The full model and every row of the paper's Table 4, in the table's order:
# name, label, overrides.
TABLE_4 = (
    ("full", "GLoMo", {}),
    ("no_text", "−T (A+V)", {"modalities": ["a", "v"]}),
    ("no_acoustic", "−A (T+V)", {"modalities": ["t", "v"]}),
    ("no_visual", "−V (T+A)", {"modalities": ["t", "a"]}),
    ("mlp_m", "MLP_M", {"local_mixer": "mlp"}),
    ("global", "Global", {"representations": "global"}),
    ("local", "Local", {"representations": "local", "guidance": "local_weights"}),
    ("sum", "SUM", {"fusion": "sum"}),
    ("con", "CON", {"fusion": "concat"}),
    ("attn_f", "ATTN_F", {"fusion": "attention"}),
    ("mul", "MUL", {"fusion": "product"}),
    ("attn_g", "ATTN_G", {"guidance": "attention"}),
    ("mlp_g", "MLP_G", {"guidance": "mlp"}),
    ("reat_g", "ReAt_G", {"guidance": "local_weights"}),
)
ABLATIONS = {name: StudyPoint(name, label, overrides) for name, label, overrides in TABLE_4}
REFERENCE = "full"


def ablation_points(names=None):
    """The Table 4 study points, the full model first.

    Args:
        names: variants by folder name (`sum`) or label (`SUM`, any case);
            None for all. The full model is always included.

    Raises:
        ValueError: an unknown variant, with the known ones.

    Example:

    ```python
    [p.name for p in ablation_points(["SUM", "mlp_m"])]  # ["full", "mlp_m", "sum"]
    ```
    """
    if names is None:
        return list(ABLATIONS.values())
    by_key = {}
    for point in ABLATIONS.values():
        by_key[point.name.lower()] = point.name
        by_key[point.label.lower()] = point.name
        by_key[point.label.split(" ")[0].lower().replace("−", "-")] = point.name
    chosen = {REFERENCE}
    for name in names:
        key = name.lower().replace("−", "-")
        if key not in by_key:
            raise ValueError(
                f"Unknown ablation variant {name!r}; known: "
                + ", ".join(f"{p.name} ({p.label})" for p in ABLATIONS.values())
            )
        chosen.add(by_key[key])
    return [point for point in ABLATIONS.values() if point.name in chosen]


def expert_points(base, grid):
    """The Fig. 3b grid: experts per modality (`top_k` at most the experts).

    Args:
        base: the base `GLoMoConfig`.
        grid: `{"t": [1, 2, 3, 4], "a": [...], "v": [...]}`.

    Returns:
        A `StudyPoint` per combination (text slowest), named `experts_t1_a2_v3`.

    Example:

    ```python
    len(expert_points(config, {m: [1, 2] for m in "tav"}))  # 8
    ```
    """
    top_k = base.per_modality("top_k")
    points = []
    for values in itertools.product(*(grid[m] for m in MODALITIES)):
        experts = dict(zip(MODALITIES, values))
        overrides = {
            "num_experts": experts,
            "top_k": {m: min(top_k[m], experts[m]) for m in MODALITIES},
        }
        points.append(StudyPoint(_grid_name("experts", experts),
                                 _grid_label(experts), overrides))
    return points


def window_points(base, windows, vary=MODALITIES):
    """The Fig. 3a sweep: local windows of one modality at a time (the others keep the base's).

    Args:
        base: the base `GLoMoConfig`.
        windows: the counts `n` to try, e.g. `[1, 2, 3, 4, 5, 6]`.
        vary: which lines to draw: modalities and/or `"all"` (every modality at once).

    Returns:
        A list of `StudyPoint` named `windows_t1_a3_v3`, each configuration once.

    Example:

    ```python
    len(window_points(config, [1, 2, 3], vary=["t"]))  # 3
    ```
    """
    start = base.per_modality("num_windows")
    points = {}
    for line in vary:
        for count in windows:
            counts = dict(start)
            for modality in (MODALITIES if line == "all" else (line,)):
                counts[modality] = count
            point = StudyPoint(_grid_name("windows", counts), _grid_label(counts),
                               {"num_windows": counts})
            points.setdefault(point.name, point)
    return list(points.values())


def _grid_name(kind, values):
    return f"{kind}_" + "_".join(f"{m}{values[m]}" for m in MODALITIES)


def _grid_label(values):
    return ", ".join(f"{m}={values[m]}" for m in MODALITIES)
