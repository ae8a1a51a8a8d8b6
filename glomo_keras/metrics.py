"""Evaluation metrics under the MMSA conventions (spec data-formats.md, "Metrics").

Regression (MOSI, MOSEI sentiment in [-3, 3]) and classification (humour,
sarcasm, CHERMA emotions) metrics, named exactly as the results tables name
them. Every value is a plain Python float or int, ready for `json.dumps`.
"""

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

REGRESSION_KEYS = (
    "mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0",
)


def regression_metrics(y_true, y_pred):
    """MMSA regression metrics of sentiment predictions.

    - `mae`: mean |p - t|.
    - `corr`: Pearson correlation of p and t; 0.0 when it is undefined
      (constant labels or constant predictions) rather than nan, so that the
      result stays valid JSON.
    - `acc7`: accuracy of round(clip(p, -3, 3)) vs round(clip(t, -3, 3)) with
      numpy rounding (half to even: 0.5 -> 0, 1.5 -> 2); `acc5` the same with
      the clip to [-2, 2].
    - `acc2_has0`, `f1_has0`: p >= 0 vs t >= 0 over all samples.
    - `acc2_non0`, `f1_non0`: p > 0 vs t > 0 over the samples with t != 0;
      0.0 when every label is 0.
    - every F1 is scikit-learn's weighted F1 (an ill-defined precision or
      recall counts as 0, scikit-learn's default, without the warning).

    Args:
        y_true: the labels, any shape with N values (e.g. [N] or [N, 1]).
        y_pred: the predictions, N values.

    Returns:
        dict with exactly the keys of `REGRESSION_KEYS`, plain floats.

    Raises:
        ValueError: empty inputs, different sizes or non-finite values.

    Example:

    ```python
    metrics = regression_metrics(labels, model.predict(inputs)["prediction"])
    metrics["acc2_non0"], metrics["f1_non0"]
    ```
    """
    t = _finite_vector(y_true, "y_true")
    p = _finite_vector(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true has {t.size} values but y_pred has {p.size}; they must match"
        )
    non0 = t != 0
    metrics = {
        "mae": float(np.mean(np.abs(p - t))),
        "corr": _pearson(t, p),
        "acc7": _rounded_accuracy(t, p, 3.0),
        "acc5": _rounded_accuracy(t, p, 2.0),
        "acc2_has0": float(accuracy_score(t >= 0, p >= 0)),
        "f1_has0": _weighted_f1(t >= 0, p >= 0),
        "acc2_non0": 0.0,
        "f1_non0": 0.0,
    }
    if non0.any():
        metrics["acc2_non0"] = float(accuracy_score(t[non0] > 0, p[non0] > 0))
        metrics["f1_non0"] = _weighted_f1(t[non0] > 0, p[non0] > 0)
    return metrics


def classification_metrics(y_true, y_pred_labels, class_names):
    """Accuracy, weighted F1, per-class F1 and the confusion matrix.

    Args:
        y_true: int class indices, N values.
        y_pred_labels: predicted int class indices (e.g. the argmax of the
            logits), N values.
        class_names: the class names in index order.

    Returns:
        dict with `accuracy` (float), `f1` (weighted F1, float),
        `per_class_f1` ({class name: float}) and `confusion_matrix` (a list
        of lists of ints, rows = true class, columns = predicted class, in
        the order of `class_names`).

    Raises:
        ValueError: empty inputs, different sizes, or an index that is not a
            class.

    Example:

    ```python
    logits = model.predict(inputs)["prediction"]
    classification_metrics(labels, logits.argmax(-1), ["negative", "positive"])
    # {"accuracy": 0.75, "f1": 0.73, "per_class_f1": {...}, "confusion_matrix": [[3, 1], [1, 3]]}
    ```
    """
    names = [str(name) for name in class_names]
    t = _class_vector(y_true, "y_true", len(names))
    p = _class_vector(y_pred_labels, "y_pred_labels", len(names))
    if t.shape != p.shape:
        raise ValueError(
            f"y_true has {t.size} values but y_pred_labels has {p.size}; they must match"
        )
    labels = list(range(len(names)))
    per_class = f1_score(t, p, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(t, p)),
        "f1": float(f1_score(t, p, labels=labels, average="weighted", zero_division=0)),
        "per_class_f1": {name: float(f1) for name, f1 in zip(names, per_class)},
        "confusion_matrix": confusion_matrix(t, p, labels=labels).tolist(),
    }


def _finite_vector(values, name):
    vector = np.asarray(values, dtype=np.float64).reshape(-1)
    if vector.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(vector).all():
        raise ValueError(f"{name} holds non-finite values (nan or inf)")
    return vector


def _class_vector(values, name, num_classes):
    vector = np.asarray(values).reshape(-1)
    if vector.size == 0:
        raise ValueError(f"{name} is empty")
    if vector.dtype.kind not in "iu" or not ((vector >= 0) & (vector < num_classes)).all():
        raise ValueError(
            f"{name} must hold integer class indices in 0..{num_classes - 1}, "
            f"found {np.unique(vector)[:10].tolist()}"
        )
    return vector.astype(np.int64)


def _pearson(t, p):
    if np.ptp(t) == 0 or np.ptp(p) == 0:
        return 0.0
    return float(np.corrcoef(t, p)[0, 1])


def _rounded_accuracy(t, p, bound):
    t_class = np.round(np.clip(t, -bound, bound))
    p_class = np.round(np.clip(p, -bound, bound))
    return float(np.mean(t_class == p_class))


def _weighted_f1(t, p):
    return float(f1_score(t, p, average="weighted", zero_division=0))
