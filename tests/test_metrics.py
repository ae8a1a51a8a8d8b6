"""Tests for `glomo_keras.metrics` against hand-computed values."""

import json

import numpy as np
import pytest

from glomo_keras.metrics import REGRESSION_KEYS
from glomo_keras.metrics import classification_metrics
from glomo_keras.metrics import regression_metrics

# Layer and model tests run on every Keras backend (scripts/test.sh).
pytestmark = pytest.mark.backends

# Labels and predictions worked through by hand below.
LABELS = [2.5, -0.5, 0.0, 1.5, -2.6, 2.6]
PREDICTIONS = [2.4, 0.5, 0.3, -1.0, -3.5, 2.2]


def test_regression_keys_are_exactly_the_mmsa_names():
    metrics = regression_metrics(LABELS, PREDICTIONS)
    assert tuple(metrics) == REGRESSION_KEYS == (
        "mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0",
    )
    assert all(type(value) is float for value in metrics.values())
    json.dumps(metrics)


def test_regression_values_by_hand():
    metrics = regression_metrics(np.array(LABELS)[:, None], PREDICTIONS)
    # |errors| = 0.1, 1.0, 0.3, 2.5, 0.9, 0.4.
    assert metrics["mae"] == pytest.approx(5.2 / 6)
    # acc7, clip to [-3, 3] then round half to even:
    # t -> 2, -0, 0, 2, -3, 3 ; p -> 2, 0, 0, -1, -3, 2 : 4 of 6 agree.
    assert metrics["acc7"] == pytest.approx(4 / 6)
    # acc5, clip to [-2, 2]: t -> 2, -0, 0, 2, -2, 2 ; p -> 2, 0, 0, -1, -2, 2.
    # (-0.5 and 0.5 both round to 0 with half to even.)
    assert metrics["acc5"] == pytest.approx(5 / 6)
    # has0: t >= 0 = T F T T F T ; p >= 0 = T T T F F T.
    assert metrics["acc2_has0"] == pytest.approx(4 / 6)
    # F1(T) = 3/4 (support 4), F1(F) = 1/2 (support 2).
    assert metrics["f1_has0"] == pytest.approx((4 * 0.75 + 2 * 0.5) / 6)
    # non0 drops t = 0: t > 0 = T F T F T ; p > 0 = T T F F T.
    assert metrics["acc2_non0"] == pytest.approx(3 / 5)
    # F1(T) = 2/3 (support 3), F1(F) = 1/2 (support 2).
    assert metrics["f1_non0"] == pytest.approx((3 * 2 / 3 + 2 * 0.5) / 5)


def test_pearson_correlation_by_hand():
    # Deviations (-1, 0, 1) and (-1, 1, 0): covariance 1, variances 2 and 2.
    assert regression_metrics([1, 2, 3], [1, 3, 2])["corr"] == pytest.approx(0.5)
    assert regression_metrics([1, 2, 3], [-3, -5, -7])["corr"] == pytest.approx(-1.0)


def test_undefined_values_are_zero_not_nan():
    constant = regression_metrics([1.0, -2.0, 0.5], [0.7, 0.7, 0.7])
    assert constant["corr"] == 0.0
    all_zero = regression_metrics([0.0, 0.0], [0.4, -0.1])
    assert all_zero["acc2_non0"] == 0.0 and all_zero["f1_non0"] == 0.0
    assert all_zero["acc2_has0"] == pytest.approx(0.5)


def test_regression_rejects_bad_inputs():
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        regression_metrics([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        regression_metrics([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        regression_metrics([], [])


def test_classification_by_hand():
    metrics = classification_metrics(
        [0, 0, 1, 1, 2, 2], np.array([0, 1, 1, 1, 2, 0]), ["a", "b", "c"]
    )
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # a: TP 1, FP 1, FN 1 ; b: TP 2, FP 1, FN 0 ; c: TP 1, FP 0, FN 1.
    expected = {"a": 0.5, "b": 0.8, "c": 2 / 3}
    assert metrics["per_class_f1"] == pytest.approx(expected)
    assert metrics["f1"] == pytest.approx(sum(expected.values()) / 3)
    assert type(metrics["accuracy"]) is float
    assert all(type(count) is int for row in metrics["confusion_matrix"] for count in row)
    json.dumps(metrics)


def test_classification_keeps_absent_classes():
    metrics = classification_metrics([1, 1], [1, 1], ["no", "yes", "maybe"])
    assert metrics["per_class_f1"] == {"no": 0.0, "yes": 1.0, "maybe": 0.0}
    assert metrics["confusion_matrix"] == [[0, 0, 0], [0, 2, 0], [0, 0, 0]]


def test_classification_rejects_unknown_classes():
    with pytest.raises(ValueError, match="class indices in 0..1"):
        classification_metrics([0, 2], [0, 1], ["no", "yes"])
