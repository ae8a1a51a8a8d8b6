"""`inspect`: what a data file holds, before any training (`glomo-keras data inspect`)."""

import numpy as np

from glomo_keras.data.common import CLASSIFICATION
from glomo_keras.data.loading import read
from glomo_keras.data.preprocessor import SPECIAL_TOKEN_COUNTS

PERCENTILES = (50, 90, 95, 99)


def _stats(values, unit):
    values = np.asarray(values, np.float64)
    stats = {"unit": unit, "min": int(values.min()), "mean": round(float(values.mean()), 2)}
    for q in PERCENTILES:
        stats[f"p{q}"] = round(float(np.percentile(values, q)), 2)
    stats["max"] = int(values.max())
    return stats


def _word_lengths(utterances, preprocessor):
    """Text tokens before truncation, special tokens included (words if no tokenizer)."""
    if preprocessor.tokenizer is not None:
        outputs = preprocessor.call_with_lengths(preprocessor.raw_inputs(utterances))
        return outputs["text_length"].numpy()
    special = SPECIAL_TOKEN_COUNTS[preprocessor.layout]
    # HKT: a "." between context sentences and one after the punchline.
    dots = [max(len(u.context or ()) - 1, 0) + 1 if preprocessor.format == "hkt" else 0
            for u in utterances]
    return np.asarray([len(u.all_words()) + special + d for u, d in zip(utterances, dots)])


def _lengths(utterances, preprocessor):
    """dict modality -> (lengths before truncation, unit, the length T cuts at)."""
    steps = {"text": preprocessor.sequence_length, "acoustic": preprocessor.acoustic_length,
             "visual": preprocessor.visual_length}
    if preprocessor.format in ("mag", "hkt"):
        unit = "wordpieces" if preprocessor.tokenizer is not None else "words"
        return {"text": (_word_lengths(utterances, preprocessor), unit, steps["text"])}
    if preprocessor.format == "mmsa":
        text = np.asarray([int(u.text_bert[1].sum()) for u in utterances])
        values = {"text": text, **{m: np.asarray([
            t if getattr(u, f"{m}_length") is None else getattr(u, f"{m}_length")
            for t, u in zip(text, utterances)]) for m in ("acoustic", "visual")}}
    else:
        values = {m: np.asarray([len(getattr(u, field)) for u in utterances]) for m, field in (
            ("text", "text_features"), ("acoustic", "acoustic"), ("visual", "visual"))}
    return {m: (v, "wordpieces" if m == "text" and preprocessor.format == "mmsa" else "frames",
                steps[m]) for m, v in values.items()}


def _labels(split, preprocessor, report):
    labels = split.labels
    if labels.dtype.kind == "f":
        labels = labels[~np.isnan(labels)]
    if not len(labels):
        return None
    result = {
        "min": float(labels.min()),
        "max": float(labels.max()),
        "mean": round(float(labels.mean()), 4),
        "out_of_range": report.labels_out_of_range,
    }
    if preprocessor.task == CLASSIFICATION:
        counts = np.bincount(labels, minlength=len(preprocessor.class_names))
        result["histogram"] = dict(zip(preprocessor.class_names, counts.tolist()))
    else:
        rounded = np.round(np.clip(labels, -3, 3)).astype(int)
        result["histogram"] = {str(k): int(np.sum(rounded == k)) for k in range(-3, 4)}
    return result


def inspect(path, format="auto", tokenizer=None, max_length=None):
    """Format, sizes, labels, lengths, dims and dirt of a data file.

    Args:
        path: the pickle or the CHERMA folder.
        format: `"auto"` or a format name.
        tokenizer: a tokenizer, `vocab.txt` path or token list; with one, MAG
            and HKT lengths count WordPieces, without one words.
        max_length: T for the truncation count; None for the dataset's.

    Returns:
        JSON-ready dict with `format`, `dims` (as stored), `input_dims`,
        `nonfinite_replaced`, `splits.<name>` (`size`, `labels`, `lengths`,
        `truncated`, `nonfinite_replaced`), and more.

    Example:

    ```python
    inspect("mosi.pkl")["splits"]["train"]["size"]   # 1281
    ```
    """
    dataset = read(path, format, default_max_length=max_length, tokenizer=tokenizer)
    preprocessor = dataset.preprocessor
    splits = {}
    totals = {}
    for name, split in dataset.splits.items():
        report = dataset.report.splits[name]
        lengths = _lengths(split.utterances, preprocessor)
        cut = np.zeros(len(split), bool)
        for values, _, limit in lengths.values():
            cut |= values > limit
        splits[name] = {
            "size": len(split),
            "labels": _labels(split, preprocessor, report),
            "lengths": {m: _stats(v, unit) for m, (v, unit, _) in lengths.items()},
            "truncated": int(cut.sum()),
            "nonfinite_replaced": report.nonfinite_replaced,
        }
        for modality, count in report.nonfinite_replaced.items():
            totals[modality] = totals.get(modality, 0) + count
    return {
        "path": str(path),
        "format": preprocessor.format,
        "dataset": preprocessor.dataset,
        "task": preprocessor.task,
        "class_names": preprocessor.class_names,
        "max_length": preprocessor.sequence_length,
        "acoustic_length": preprocessor.acoustic_length,
        "visual_length": preprocessor.visual_length,
        "dims": preprocessor.stored_dims,
        "input_dims": preprocessor.input_dims,
        "nonfinite_replaced": totals,
        "splits": splits,
        "notes": dataset.report.notes + _length_notes(preprocessor.format),
    }


def _length_notes(data_format):
    if data_format == "cherma":
        return []
    return ["text lengths count the special tokens ([CLS], [SEP]; HKT also its '.' pieces)"]


def format_inspection(result):
    """A readable table of an `inspect` result.

    Example:

    ```python
    print(format_inspection(inspect("sample.pkl")))
    ```
    """
    dims = result["dims"]
    lines = [
        f"{result['path']}: format {result['format']}"
        + (f" ({result['dataset']})" if result["dataset"] else "")
        + f", {result['task']}",
        "dims as stored: "
        + ", ".join(f"{k} {'-' if v is None else v}" for k, v in dims.items()),
        "model input dims: "
        + ", ".join(f"{k} {v}" for k, v in result["input_dims"].items() if v is not None),
        f"T = {result['max_length']} (acoustic {result['acoustic_length']}, "
        f"visual {result['visual_length']})",
        "non-finite values replaced by 0: "
        + ", ".join(f"{k} {v}" for k, v in result["nonfinite_replaced"].items()),
        "",
        f"{'split':<7}{'size':>7}  {'labels [min, max]':<19}{'out of range':>13}  "
        f"{'text length p50/p95/max':<26}{'truncated':>10}",
    ]
    for name, split in result["splits"].items():
        labels = split["labels"]
        label_range = "-" if labels is None else f"[{labels['min']:g}, {labels['max']:g}]"
        out = "-" if labels is None else str(labels["out_of_range"])
        text = split["lengths"]["text"]
        length = f"{text['p50']:g}/{text['p95']:g}/{text['max']} {text['unit']}"
        lines.append(
            f"{name:<7}{split['size']:>7}  {label_range:<19}{out:>13}  {length:<26}"
            f"{split['truncated']:>10}"
        )
    for name, split in result["splits"].items():
        if split["labels"] is not None:
            histogram = ", ".join(f"{k}: {v}" for k, v in split["labels"]["histogram"].items())
            lines.append(f"labels of {name}: {histogram}")
    lines.extend(f"note: {note}" for note in result["notes"])
    return "\n".join(lines)
