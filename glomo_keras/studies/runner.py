"""`run_study`: train every point of a study, resumably, with the public `train`.

The study directory holds `study.json` (the base config, seeds, backbone and
points), one run folder per point (`<point>/`, a `glomo-keras train` run
directory) and `parameters.json` (parameter counts per point). A point whose
`results.json` exists is finished and skipped; an unfinished one resumes
where `train` left it (finished seeds skipped, the current seed from its last
epoch).
"""

import json
import pathlib
import shutil
import sys
import time

import keras

from glomo_keras.artifacts import write_json_atomically
from glomo_keras.backbones import load_backbone
from glomo_keras.config import GLoMoConfig
from glomo_keras.errors import GLoMoError
from glomo_keras.model import GLoMo
from glomo_keras.studies.data import load_for_config
from glomo_keras.summary import parameter_counts
from glomo_keras.training import train
from glomo_keras.training.options import TrainingOptions

# What must match for a rerun to continue a study's results.
IDENTITY_KEYS = ("kind", "base_config", "training", "seeds", "backbone")


class StudyMismatchError(GLoMoError, RuntimeError):
    """The study directory holds a study with other settings."""


def log(message, source="study"):
    """Prints one progress line of `source` ("study", "tune") to stderr, flushed."""
    print(f"[glomo-keras {source} {time.strftime('%H:%M:%S')}] {message}",
          file=sys.stderr, flush=True)


def run_study(kind, points, base_config, data, output_dir, options=None, backbone="minilm",
              seeds=None, overwrite=False, use_cache=True, **train_options):
    """Trains every point of a study (skipping finished ones); returns the results.

    Args:
        kind: the study's name ("ablations", "experts", "windows").
        points: a list of `StudyPoint`.
        base_config: the `GLoMoConfig` every point overrides.
        data: the data file or folder (as `train` takes it).
        output_dir: the study directory.
        options: the `TrainingOptions` of every point; default the
            dataset's (`TrainingOptions.for_dataset`).
        backbone: the backbone spec.
        seeds: the seeds of every point; default `[options.seed]`.
        overwrite: discard a previous study in `output_dir` first.
        use_cache: use the tokenised-data cache (the data is loaded once
            for every point, `load_for_config`).
        **train_options: other `train` arguments (`jit_compile`,
            `verbose`); points never export.

    Returns:
        `{point name: results dict}` (each `train`'s `results.json`).

    Raises:
        StudyMismatchError: `output_dir` holds a study with another kind,
            base configuration, training options, seeds or backbone (and
            not `overwrite`).

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
    _check_identity(output / "study.json", record)
    output.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output / "study.json", _merged_points(output / "study.json", record))
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
        results[point.name] = train(config, dataset, run_dir, options, backbone=backbone,
                                    seeds=seeds, export=False, **train_options)
        trained += 1
        remaining = sum(
            not (output / later.name / "results.json").exists() for later in points
        )
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
        counts[point.name] = parameter_counts(
            GLoMo(config, backbone if uses_bert else None)
        )["total_params"]
    write_json_atomically(output / "parameters.json", counts)


def _check_identity(path, record):
    if not path.exists():
        return
    previous = json.loads(path.read_text())
    differences = [key for key in IDENTITY_KEYS if previous.get(key) != record[key]]
    if not differences:
        return
    details = []
    for key in differences:
        if key in ("base_config", "training"):
            fields = sorted(
                name for name in record[key]
                if (previous.get(key) or {}).get(name) != record[key][name]
            )
            details.append(f"{key.replace('_', ' ')} fields {fields}")
        else:
            details.append(f"{key} {previous.get(key)!r} → {record[key]!r}")
    raise StudyMismatchError(
        f"{path.parent} holds a {previous.get('kind')} study with other settings "
        f"({'; '.join(details)}); rerun with the same flags to continue it, "
        "choose another --output or pass --overwrite to start again."
    )


def _merged_points(path, record):
    """The record with the points of an earlier run of the study kept too."""
    if not path.exists():
        return record
    names = {point["name"] for point in record["points"]}
    earlier = [point for point in json.loads(path.read_text())["points"]
               if point["name"] not in names]
    return {**record, "points": earlier + record["points"]}
