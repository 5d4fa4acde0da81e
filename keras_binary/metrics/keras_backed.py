"""Metrics that Keras has: thin subclasses fed canonical `(M, 1)` probabilities."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.losses import _check_number
from keras_binary.metrics._base import (
    ContractMetric,
    _check_count,
    _check_rate,
    _KerasConfusionMetric,
    _register,
)

# ---------------------------------------------------------------------------
# Thin wrappers around Keras's metrics.


@_register
class BinaryAccuracy(_KerasConfusionMetric, keras.metrics.BinaryAccuracy):
    """How often the thresholded predictions match binary labels.

    `keras.metrics.BinaryAccuracy` behind the shape contract (see the module
    docstring): sigmoid, softmax pair, logits and every label encoding.

    Args:
        threshold: float in [0, 1]; a probability above it is a positive
            prediction (with `from_logits=True`, `sigmoid(logit)` is compared).
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` for `(N, K)` outputs of K independent binary
            labels; the metric pools all `N * K` of them (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = BinaryAccuracy()
    >>> m.update_state(np.array([0, 1, 1, 0]),
    ...                np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]]))
    >>> float(m.result())
    0.75
    """

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "binary_accuracy",
        dtype: Any = None,
    ):
        threshold = _check_rate("threshold", threshold, 0.5)
        super().__init__(name=name, dtype=dtype, threshold=threshold)
        self._init_contract(from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


@_register
class Precision(_KerasConfusionMetric, keras.metrics.Precision):
    """The fraction of positive predictions that are positive, `tp / (tp + fp)`.

    `keras.metrics.Precision` at one threshold, behind the shape contract;
    `0` when nothing was predicted positive.

    Args:
        threshold: float in [0, 1]; a probability above it is a positive
            prediction.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = Precision(from_logits=True)
    >>> m.update_state(np.array([[0], [1], [1], [0]]), np.array([[-2.0], [1.5], [-0.5], [0.5]]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "precision",
        dtype: Any = None,
    ):
        threshold = _check_rate("threshold", threshold, 0.5)
        super().__init__(thresholds=threshold, name=name, dtype=dtype)
        self.threshold = threshold
        self._init_contract(from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


@_register
class Recall(_KerasConfusionMetric, keras.metrics.Recall):
    """The fraction of positives predicted positive (sensitivity), `tp / (tp + fn)`.

    `keras.metrics.Recall` at one threshold, behind the shape contract; `0`
    when there are no positives.

    Args:
        threshold: float in [0, 1]; a probability above it is a positive
            prediction.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = Recall()
    >>> m.update_state(np.array([[0, 1], [0, 1], [1, 0]]),   # one-hot labels
    ...                np.array([0.9, 0.2, 0.7]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "recall",
        dtype: Any = None,
    ):
        threshold = _check_rate("threshold", threshold, 0.5)
        super().__init__(thresholds=threshold, name=name, dtype=dtype)
        self.threshold = threshold
        self._init_contract(from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring", "step")


@_register
class AUC(_KerasConfusionMetric, keras.metrics.AUC):
    """Area under the ROC or precision-recall curve, from bucketed thresholds.

    `keras.metrics.AUC` behind the shape contract, plus
    `summation_method="step"` for the precision-recall curve, which is
    scikit-learn's `average_precision_score`:
    `sum_i (R_i - R_(i+1)) * P_i` over the thresholds.

    Accuracy (what the thresholds allow): the curve is known at
    `num_thresholds` evenly spaced thresholds in [0, 1]. When every pair of
    distinct probabilities is separated by a threshold (probabilities on a
    grid coarser than the spacing `1 / (num_thresholds - 1)`), the ROC area
    with `"interpolation"` equals `roc_auc_score` and the PR area with
    `"step"` equals `average_precision_score`, up to float32 rounding. On
    continuous scores, the ROC area differs from `roc_auc_score` by at most
    half the fraction of (positive, negative) pairs whose probabilities fall
    in the same bucket of width `1 / (num_thresholds - 1)`: for scores
    spread over [0, 1], about `0.5 / num_thresholds` (5e-4 with 1000
    thresholds); raise `num_thresholds` for a tighter value. The default PR
    summation (`"interpolation"`, Davis and Goadrich) is Keras's and is not
    `average_precision_score`.

    With one class only (no positives, or no negatives), the ROC area is
    `0` and the PR area `0` (Keras's convention; scikit-learn raises).

    Args:
        num_thresholds: int `>= 2`, the number of thresholds.
        curve: `"ROC"`, `"PR"` or `"PRGAIN"`.
        summation_method: `"interpolation"` (trapezoids; Davis-Goadrich for
            PR), `"minoring"`, `"majoring"`, or `"step"` (PR only: average
            precision).
        thresholds: optional list of thresholds in [0, 1], instead of
            `num_thresholds` evenly spaced ones.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions into one curve (micro-average, as Keras's
            `AUC(multi_label=False)`).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = AUC(num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([[0.1], [0.4], [0.35], [0.8]]))
    >>> round(float(m.result()), 4)
    0.75
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        thresholds: list[float] | None = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "auc",
        dtype: Any = None,
    ):
        curve_name = str(curve).upper()
        method = str(summation_method).lower()
        if (
            curve_name not in _CURVES
            or method not in _SUMMATIONS
            or (method == "step" and curve_name != "PR")
        ):
            raise BinaryConfigError(
                "KB326",
                "invalid AUC curve or summation method"
                + (
                    " (summation_method='step' is average precision: curve='PR' only)."
                    if method == "step"
                    else "."
                ),
                received=f"curve={curve!r}, summation_method={summation_method!r}",
                expected=f"curve in {_CURVES}, summation_method in {_SUMMATIONS}",
                fix="keras_binary.metrics.AUC(curve='PR', summation_method='step')  # average precision",
            )
        if thresholds is None:
            num_thresholds = _check_count("num_thresholds", num_thresholds, 2, 200)
        else:
            thresholds = [_check_rate("thresholds", float(t), 0.5) for t in thresholds]
        self._step = method == "step"
        super().__init__(
            num_thresholds=num_thresholds,
            curve=curve_name,
            summation_method="interpolation" if self._step else method,
            thresholds=thresholds,
            name=name,
            dtype=dtype,
        )
        self._init_contract(from_logits, multi_label, validate)
        self._given_thresholds = thresholds
        self._given_num_thresholds = num_thresholds

    def result(self) -> Any:
        if not self._step:
            return super().result()
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = ops.divide_no_nan(tp, tp + fp)
        recall = ops.divide_no_nan(tp, tp + fn)
        return ops.sum((recall[:-1] - recall[1:]) * precision[:-1])

    def _settings(self) -> dict:
        settings = {
            "num_thresholds": self._given_num_thresholds,
            "curve": self.curve.value,
            "summation_method": "step" if self._step else self.summation_method.value,
        }
        if self._given_thresholds is not None:
            settings["thresholds"] = list(self._given_thresholds)
        return settings


class _KerasRateAtRate(_KerasConfusionMetric):
    """Shared constructor of the four `XAtY` metrics: `value`, `num_thresholds`."""

    _value_name = ""

    def __init__(
        self,
        value: float,
        num_thresholds: int,
        from_logits: bool,
        multi_label: bool,
        validate: bool,
        name: str,
        dtype: Any,
    ):
        value = _check_rate(self._value_name, value, 0.5)
        num_thresholds = _check_count("num_thresholds", num_thresholds, 1, 200)
        super().__init__(value, num_thresholds=num_thresholds, name=name, dtype=dtype)
        self._init_contract(from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {self._value_name: float(self.value), "num_thresholds": self.num_thresholds}


@_register
class SensitivityAtSpecificity(_KerasRateAtRate, keras.metrics.SensitivityAtSpecificity):
    """The best sensitivity (recall) over thresholds whose specificity is `>= specificity`.

    `keras.metrics.SensitivityAtSpecificity` behind the shape contract. The
    thresholds are `num_thresholds` evenly spaced values in [0, 1]; the
    result is exact when they separate all distinct probabilities.

    Args:
        specificity: float in [0, 1], the specificity to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = SensitivityAtSpecificity(0.5, num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.45, 0.3, 0.8]))
    >>> float(m.result())
    1.0
    """

    _value_name = "specificity"

    def __init__(
        self,
        specificity: float,
        num_thresholds: int = 200,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "sensitivity_at_specificity",
        dtype: Any = None,
    ):
        super().__init__(specificity, num_thresholds, from_logits, multi_label, validate, name, dtype)


@_register
class SpecificityAtSensitivity(_KerasRateAtRate, keras.metrics.SpecificityAtSensitivity):
    """The best specificity over thresholds whose sensitivity is `>= sensitivity`.

    `keras.metrics.SpecificityAtSensitivity` behind the shape contract;
    thresholds as in `SensitivityAtSpecificity`.

    Args:
        sensitivity: float in [0, 1], the sensitivity (recall) to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = SpecificityAtSensitivity(1.0, num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.45, 0.3, 0.8]))
    >>> float(m.result())
    0.5
    """

    _value_name = "sensitivity"

    def __init__(
        self,
        sensitivity: float,
        num_thresholds: int = 200,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "specificity_at_sensitivity",
        dtype: Any = None,
    ):
        super().__init__(sensitivity, num_thresholds, from_logits, multi_label, validate, name, dtype)


@_register
class PrecisionAtRecall(_KerasRateAtRate, keras.metrics.PrecisionAtRecall):
    """The best precision over thresholds whose recall is `>= recall`.

    `keras.metrics.PrecisionAtRecall` behind the shape contract; thresholds
    as in `SensitivityAtSpecificity`.

    Args:
        recall: float in [0, 1], the recall to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = PrecisionAtRecall(1.0, num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.45, 0.3, 0.8]))
    >>> round(float(m.result()), 4)
    0.6667
    """

    _value_name = "recall"

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "precision_at_recall",
        dtype: Any = None,
    ):
        super().__init__(recall, num_thresholds, from_logits, multi_label, validate, name, dtype)


@_register
class RecallAtPrecision(_KerasRateAtRate, keras.metrics.RecallAtPrecision):
    """The best recall over thresholds whose precision is `>= precision`.

    `keras.metrics.RecallAtPrecision` behind the shape contract; thresholds
    as in `SensitivityAtSpecificity`.

    Args:
        precision: float in [0, 1], the precision to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = RecallAtPrecision(1.0, num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.45, 0.3, 0.8]))
    >>> float(m.result())
    0.5
    """

    _value_name = "precision"

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "recall_at_precision",
        dtype: Any = None,
    ):
        super().__init__(precision, num_thresholds, from_logits, multi_label, validate, name, dtype)


@_register
class BinaryCrossentropy(ContractMetric, keras.metrics.BinaryCrossentropy):
    """The mean binary cross-entropy, as a metric.

    `keras.metrics.BinaryCrossentropy` behind the shape contract. With
    `from_logits=True` the canonical logit (`z1 - z0` for a pair) goes to
    Keras's stable logit formula, so the value is finite for any logit.

    Args:
        from_logits: whether `y_pred` holds logits.
        label_smoothing: float in [0, 1], as in the loss.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions.
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = BinaryCrossentropy()
    >>> m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> round(float(m.result()), 4)
    0.1643
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ):
        label_smoothing = _check_number("label_smoothing", label_smoothing, 0.0, 1.0)
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)
        self._init_contract(from_logits, multi_label, validate)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        # Cross-entropy is linear in the label: soft labels need no splitting.
        y, s, w = self._prepare(y_true, y_pred, sample_weight, logits=True)
        super().update_state(ops.expand_dims(y, -1), ops.expand_dims(s, -1), sample_weight=w)

    def _settings(self) -> dict:
        return {"label_smoothing": self.label_smoothing}
