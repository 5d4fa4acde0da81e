"""Metrics from one weighted 2x2 confusion matrix at one threshold."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.metrics._base import (
    ContractMetric,
    _check_threshold,
    _register,
)

_AVERAGES = (None, "micro", "macro", "weighted")

# ---------------------------------------------------------------------------
# Metrics from one weighted confusion matrix.


class ConfusionMatrixMetric(ContractMetric, keras.metrics.Metric):
    """Base of the metrics computed from one weighted 2x2 confusion matrix.

    Keeps four scalar sums at `threshold`: `true_positives`,
    `false_positives`, `true_negatives`, `false_negatives` (a soft label `y`
    counts `y` towards the positives and `1 - y` towards the negatives);
    with `_per_label = True` (the F-scores' `average` other than `"micro"`
    on multi-label outputs), one sum per label, created at the first
    update. Subclasses implement `result()` from them, NaN (with a `KB290`
    warning) where the formula is undefined.

    Args:
        threshold: float in [0, 1]; a probability above it is a positive
            prediction (with `from_logits=True`, strictly inside (0, 1):
            `KB328`).
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> class PositiveRate(ConfusionMatrixMetric):
    ...     def result(self):
    ...         predicted = self.true_positives + self.false_positives
    ...         total = predicted + self.true_negatives + self.false_negatives
    ...         return keras.ops.divide_no_nan(predicted, total)
    >>> m = PositiveRate(name="positive_rate")
    >>> m.update_state(np.array([1, 0, 0, 1]), np.array([0.9, 0.7, 0.2, 0.4]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str | None = None,
        dtype: Any = None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.threshold = _check_threshold("threshold", threshold, from_logits)
        self._init_contract(from_logits, multi_label, validate)
        self._direction = "up"
        self._built_shape = None
        if not self._per_label:
            self._build_sums(())

    _per_label = False

    def _build_sums(self, shape: tuple) -> None:
        self._built_shape = shape
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, name, self.add_variable(shape=shape, initializer="zeros", name=name))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self._per_label:
            y, p, w = self._prepare_columns(y_true, y_pred, sample_weight)
            if self._built_shape is None:
                self._build_sums((int(p.shape[-1]),))
            axis = 0
        else:
            y, p, w = self._prepare(y_true, y_pred, sample_weight)
            axis = None
        predicted = ops.cast(ops.greater(p, self.threshold), self.dtype)
        positive = y if w is None else w * y
        negative = (1.0 - y) if w is None else w * (1.0 - y)
        self.true_positives.assign_add(ops.sum(positive * predicted, axis=axis))
        self.false_negatives.assign_add(ops.sum(positive * (1.0 - predicted), axis=axis))
        self.false_positives.assign_add(ops.sum(negative * predicted, axis=axis))
        self.true_negatives.assign_add(ops.sum(negative * (1.0 - predicted), axis=axis))

    def reset_state(self) -> None:
        if self._built_shape is None:
            return
        for variable in (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        ):
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def result(self) -> Any:
        raise NotImplementedError

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


def _check_float(name: str, value: Any, fix: str) -> float:
    """A Python float, as `keras.metrics.FBetaScore` requires of `beta` and `threshold`."""
    if not isinstance(value, float) or not math.isfinite(value):
        raise BinaryConfigError(
            "KB321",
            f"`{name}` must be a Python float, as keras.metrics.FBetaScore requires.",
            received=f"{name}={value!r} of type {type(value).__name__}",
            expected="a finite Python float",
            fix=fix,
        )
    return value


@_register
class FBetaScore(ConfusionMatrixMetric):
    """The F-beta score, `(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)`.

    Weighs recall `beta` times as much as precision. Computed from a
    weighted confusion matrix with the arguments of `keras.metrics.FBetaScore`
    (see docs/keras-compatibility.md), which needs a `(N, num_classes)`
    layout where this takes every binary encoding. On a binary output the
    result is a scalar (Keras's is of shape `(1,)` with `average=None`).
    Undefined, NaN with a `KB290` warning, when there are neither positives
    nor positive predictions (Keras and scikit-learn give 0).

    Multi-label outputs `(N, K)` (`multi_label=True`) follow Keras's
    `average`: `None` gives one score per label (shape `(K,)`), `"micro"`
    one score of the pooled `N * K` outputs, `"macro"` the mean of the
    per-label scores (NaN if one is undefined), `"weighted"` their mean
    weighted by each label's (weighted) count of positives.

    Args:
        average: `None`, `"micro"`, `"macro"` or `"weighted"`, as in Keras;
            it only matters with `multi_label=True`.
        beta: a Python float `> 0` (an `int` is refused, as by Keras).
        threshold: a Python float in [0, 1]; a probability above it is a
            positive prediction. Keras's `threshold=None` (the top score of
            each row is positive) has no binary meaning (`KB330`).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to read `(N, K)` predictions as K labels.
        validate: check label and prediction values (`KB2xx` errors).

    Example:

    >>> m = FBetaScore(beta=2.0)
    >>> m.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> round(float(m.result()), 4)
    0.5
    >>> m = FBetaScore(average="macro", multi_label=True)
    >>> m.update_state(np.array([[1, 0], [0, 1], [1, 1]]),
    ...                np.array([[0.9, 0.2], [0.4, 0.3], [0.7, 0.8]]))
    >>> round(float(m.result()), 4)
    0.8333
    """

    _undefined_reason = "no positive labels and no positive predictions (tp + fp + fn = 0)"

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float = 0.5,
        name: str = "fbeta_score",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        if average not in _AVERAGES:
            raise BinaryConfigError(
                "KB332",
                "unknown `average`: it says how the scores of the K labels of a multi-label output combine.",
                received=f"average={average!r}",
                expected="None (one score per label), 'micro', 'macro' or 'weighted'",
                fix="average='macro'",
            )
        if threshold is None:
            raise BinaryConfigError(
                "KB330",
                "`threshold=None` (Keras: the top score of each row is the positive prediction) "
                "has no binary meaning: a binary output has one score per example.",
                received="threshold=None",
                expected="a probability threshold",
                fix="threshold=0.5",
            )
        beta = _check_float("beta", beta, "beta=1.0  # F1; beta=2.0 favours recall, beta=0.5 precision")
        if not beta > 0:
            raise BinaryConfigError(
                "KB321",
                "`beta` must be a positive number: recall counts beta times as much as precision.",
                received=f"beta={beta!r}",
                expected="a finite number > 0",
                fix="beta=1.0  # F1; beta=2.0 favours recall, beta=0.5 precision",
            )
        threshold = _check_float("threshold", threshold, "threshold=0.5")
        self.average = average
        self._per_label = bool(multi_label) and average != "micro"
        super().__init__(threshold, from_logits, multi_label, validate, name, dtype)
        self.beta = beta

    def result(self) -> Any:
        b2 = self.beta * self.beta
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        denominator = (1.0 + b2) * tp + b2 * fn + fp
        score = ops.divide_no_nan((1.0 + b2) * tp, denominator)
        undefined = denominator <= 0
        if self._per_label and self.average == "macro":
            score, undefined = ops.mean(score), ops.any(undefined)
        elif self._per_label and self.average == "weighted":
            support = tp + fn
            score = ops.divide_no_nan(ops.sum(score * support), ops.sum(support))
            # A label without positives weighs 0; undefined only with no positives at all.
            undefined = ops.logical_or(
                ops.sum(support) <= 0, ops.any(ops.logical_and(undefined, support > 0))
            )
        return self._nan_where_undefined(score, undefined)

    def _settings(self) -> dict:
        return {"average": self.average, "beta": self.beta, "threshold": self.threshold}


@_register
class F1Score(FBetaScore):
    """The F1 score, the harmonic mean of precision and recall.

    `FBetaScore` with `beta=1.0`, with the arguments of
    `keras.metrics.F1Score`; NaN (with a `KB290` warning) when there are
    neither positives nor positive predictions.

    Args:
        average: `None`, `"micro"`, `"macro"` or `"weighted"`, as in
            `FBetaScore` (for multi-label outputs).
        threshold: a Python float in [0, 1]; a probability above it is a
            positive prediction.
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to read `(N, K)` predictions as K labels.
        validate: check label and prediction values (`KB2xx` errors).

    Example:

    >>> m = F1Score()
    >>> m.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self,
        average: str | None = None,
        threshold: float = 0.5,
        name: str = "f1_score",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        super().__init__(average, 1.0, threshold, name, dtype, from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {"average": self.average, "threshold": self.threshold}


@_register
class MatthewsCorrelation(ConfusionMatrixMetric):
    """The Matthews correlation coefficient (phi coefficient), in [-1, 1].

    `(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))`,
    computed on the confusion matrix divided by its total (no overflow, no
    cancellation of large counts). Undefined, NaN with a `KB290` warning,
    when a factor of the denominator is zero (one class only, or one
    predicted class only), where scikit-learn's `matthews_corrcoef` gives 0.

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

    >>> m = MatthewsCorrelation()
    >>> m.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> float(m.result())
    0.0
    """

    _undefined_reason = "one class only among the labels or among the predictions"

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "matthews_correlation",
        dtype: Any = None,
    ):
        super().__init__(threshold, from_logits, multi_label, validate, name, dtype)

    def result(self) -> Any:
        total = self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
        tp, fp, tn, fn = (
            ops.divide_no_nan(v, total)
            for v in (self.true_positives, self.false_positives, self.true_negatives, self.false_negatives)
        )
        product = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        value = ops.divide_no_nan(tp * tn - fp * fn, ops.sqrt(product))
        return self._nan_where_undefined(value, product <= 0)


@_register
class BalancedAccuracy(ConfusionMatrixMetric):
    """The mean of sensitivity and specificity (the mean recall of the two classes).

    Undefined, NaN with a `KB290` warning, with one class only among the
    labels (scikit-learn's `balanced_accuracy_score` then gives the recall
    of the one class present, with a warning; keras_binary 0.1 did too).

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

    >>> m = BalancedAccuracy()
    >>> m.update_state(np.array([1, 0, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> round(float(m.result()), 4)
    0.8333
    """

    _undefined_reason = "one class only among the labels"

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "balanced_accuracy",
        dtype: Any = None,
    ):
        super().__init__(threshold, from_logits, multi_label, validate, name, dtype)

    def result(self) -> Any:
        positives = self.true_positives + self.false_negatives
        negatives = self.true_negatives + self.false_positives
        value = 0.5 * (
            ops.divide_no_nan(self.true_positives, positives)
            + ops.divide_no_nan(self.true_negatives, negatives)
        )
        return self._nan_where_undefined(value, ops.logical_or(positives <= 0, negatives <= 0))


@_register
class Specificity(ConfusionMatrixMetric):
    """The fraction of negatives predicted negative, `tn / (tn + fp)`.

    The true negative rate (the recall of class 0); undefined, NaN with a
    `KB290` warning, when there are no negatives.

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

    >>> m = Specificity()
    >>> m.update_state(np.array([1, 0, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> round(float(m.result()), 4)
    0.6667
    """

    _undefined_reason = "no negative labels (tn + fp = 0)"

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "specificity",
        dtype: Any = None,
    ):
        super().__init__(threshold, from_logits, multi_label, validate, name, dtype)

    def result(self) -> Any:
        negatives = self.true_negatives + self.false_positives
        return self._nan_where_undefined(ops.divide_no_nan(self.true_negatives, negatives), negatives <= 0)
