"""`run_study`: train every point of a study, resumably, with the public `train`.

The study directory holds `study.json` (the base config, seeds, backbone and
points), one `glomo-keras train` run folder per point and `parameters.json`
(parameter counts per point). A finished point is skipped; an unfinished
one resumes where `train` left it.
"""

import json
import pathlib
import shutil
import time

import keras

from glomo_keras.artifacts import write_json_atomically
from glomo_keras.backbones import load_backbone
from glomo_keras.config import GLoMoConfig
from glomo_keras.errors import GLoMoError
from glomo_keras.model import GLoMo
from glomo_keras.studies.data import load_for_config
from glomo_keras.summary import parameter_counts
from glomo_keras.training import trainer
from glomo_keras.training.options import TrainingOptions

# What must match for a rerun to continue a study's results.
IDENTITY_KEYS = ("kind", "base_config", "training", "seeds", "backbone")


class StudyMismatchError(GLoMoError, RuntimeError):
    """The study directory holds a study with other settings."""


def log(message):
    """Prints one progress line of a study to stderr (`trainer.log`)."""
    trainer.log(message, "study")


def run_study(kind, points, base_config, data, output_dir, options=None, backbone="minilm",
              seeds=None, overwrite=False, use_cache=True, **train_options):
    """Trains every point of a study (skipping finished ones); returns the results.

    Args:
        kind: the study's name ("ablations", "experts", "windows").
        points, base_config: the `StudyPoint`s and the `GLoMoConfig` they override.
        data, output_dir: the data (as `train` takes it) and the study directory.
        options: the `TrainingOptions` of every point; default the dataset's.
        backbone, seeds, use_cache, **train_options: as `train`'s (no export).
        overwrite: discard a previous study in `output_dir` first.

    Returns:
        `{point name: results dict}` (each `train`'s `results.json`).

    Raises:
        StudyMismatchError: `output_dir` holds a study with other
            `IDENTITY_KEYS` (and not `overwrite`).

    Example:

    ```python
    results = run_study("ablations", ablation_points(["sum"]), config,
                        "datasets/mosi.pkl", "studies/mosi", seeds=[1, 2])
    results["sum"]["mean"]["test"]["mae"]
    ```
    """
    output = pathlib.Path(output_dir)
    if overwrite and output.exists():
        shutil.rmtree(output)
    options = options or TrainingOptions.for_dataset(base_config.dataset)
    seeds = list(seeds or [options.seed])
    record = {
        "kind": kind,
        "base_config": base_config.to_dict(),
        "training": options.to_dict(),
        "seeds": seeds,
        "backbone": backbone,
        "data": str(getattr(data, "source", data)),
        "points": [vars(point) for point in points],
    }
    record = _check_identity(output / "study.json", record)
    output.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output / "study.json", record)
    results, trained, started, dataset = {}, 0, time.time(), None
    for index, point in enumerate(points):
        run_dir = output / point.name
        if (run_dir / "results.json").exists():
            log(f"[{index + 1}/{len(points)}] {point.label}: finished, skipped")
            results[point.name] = json.loads((run_dir / "results.json").read_text())
            continue
        config = base_config.replace(**point.overrides)
        log(f"[{index + 1}/{len(points)}] {point.label}: training {len(seeds)} seed(s) "
            f"in {run_dir}")
        if dataset is None:
            dataset = load_for_config(base_config, data, backbone, use_cache)
        keras.backend.clear_session()
        results[point.name] = trainer.train(config, dataset, run_dir, options, backbone=backbone,
                                            seeds=seeds, export=False, **train_options)
        trained += 1
        remaining = sum(not (output / later.name / "results.json").exists() for later in points)
        eta = (time.time() - started) / trained * remaining
        log(f"{point.label} done; {remaining} point(s) left, ETA {eta / 60:.1f} min")
    _count_parameters(output, points, results, backbone)
    return results


def read_parameters(output_dir):
    """The parameter counts of a study's points (`parameters.json`)."""
    path = pathlib.Path(output_dir) / "parameters.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _count_parameters(output, points, results, backbone_spec):
    """Counts each point's trainable parameters once (`parameters.json`)."""
    counts = read_parameters(output)
    missing = [point for point in points if point.name not in counts]
    if not missing:
        return
    backbone = None
    for point in missing:
        config = GLoMoConfig.from_dict(results[point.name]["config"])
        uses_bert = "t" in config.modalities and config.text_encoder == "bert"
        if uses_bert and backbone is None:
            backbone = load_backbone(backbone_spec)[0]
        model = GLoMo(config, backbone if uses_bert else None)
        counts[point.name] = parameter_counts(model)["total_params"]
    write_json_atomically(output / "parameters.json", counts)


def _check_identity(path, record):
    """`record` with the points of an earlier run kept; a study with other settings is refused."""
    if not path.exists():
        return record
    previous = json.loads(path.read_text())
    details = []
    for key in (key for key in IDENTITY_KEYS if previous.get(key) != record[key]):
        if key in ("base_config", "training"):
            fields = sorted(name for name in record[key]
                            if (previous.get(key) or {}).get(name) != record[key][name])
            details.append(f"{key.replace('_', ' ')} fields {fields}")
        else:
            details.append(f"{key} {previous.get(key)!r} → {record[key]!r}")
    if details:
        raise StudyMismatchError(
            f"{path.parent} holds a {previous.get('kind')} study with other settings "
            f"({'; '.join(details)}); rerun with the same flags to continue it, "
            "choose another --output or pass --overwrite to start again.")
    points = record.get("points", [])
    names = {point["name"] for point in points}
    return {**record, "points": [p for p in previous.get("points", []) if p["name"] not in names]
            + points}
