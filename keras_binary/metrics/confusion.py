"""Metrics from one weighted 2x2 confusion matrix at one threshold."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.metrics._base import (
    ContractMetric,
    _check_rate,
    _register,
)

# ---------------------------------------------------------------------------
# Metrics from one weighted confusion matrix.


class ConfusionMatrixMetric(ContractMetric, keras.metrics.Metric):
    """Base of the metrics computed from one weighted 2x2 confusion matrix.

    Keeps four scalar sums at `threshold`: `true_positives`,
    `false_positives`, `true_negatives`, `false_negatives` (a soft label `y`
    counts `y` towards the positives and `1 - y` towards the negatives).
    Subclasses implement `result()` from them.

    Args:
        threshold: float in [0, 1]; a probability above it is a positive
            prediction.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
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
        self.threshold = _check_rate("threshold", threshold, 0.5)
        self._init_contract(from_logits, multi_label, validate)
        self._direction = "up"
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")
        self.false_positives = self.add_variable(shape=(), initializer="zeros", name="false_positives")
        self.true_negatives = self.add_variable(shape=(), initializer="zeros", name="true_negatives")
        self.false_negatives = self.add_variable(shape=(), initializer="zeros", name="false_negatives")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare(y_true, y_pred, sample_weight)
        predicted = ops.cast(ops.greater(p, self.threshold), self.dtype)
        positive = y if w is None else w * y
        negative = (1.0 - y) if w is None else w * (1.0 - y)
        self.true_positives.assign_add(ops.sum(positive * predicted))
        self.false_negatives.assign_add(ops.sum(positive * (1.0 - predicted)))
        self.false_positives.assign_add(ops.sum(negative * predicted))
        self.true_negatives.assign_add(ops.sum(negative * (1.0 - predicted)))

    def reset_state(self) -> None:
        for variable in (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        ):
            variable.assign(ops.zeros((), dtype=variable.dtype))

    def result(self) -> Any:
        raise NotImplementedError

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


@_register
class FBetaScore(ConfusionMatrixMetric):
    """The F-beta score, `(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)`.

    Weighs recall `beta` times as much as precision. Computed from a
    weighted confusion matrix (Keras's `FBetaScore` needs a
    `(N, num_classes)` layout); `0` when there are neither positives nor
    positive predictions, as scikit-learn's `fbeta_score` (whose
    `zero_division` default gives 0).

    Args:
        beta: float `> 0`.
        threshold: float in [0, 1]; a probability above it is a positive
            prediction.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions (micro-average).
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = FBetaScore(beta=2.0)
    >>> m.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> round(float(m.result()), 4)
    0.5
    """

    def __init__(
        self,
        beta: float = 1.0,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "fbeta_score",
        dtype: Any = None,
    ):
        ok = (
            isinstance(beta, (int, float)) and not isinstance(beta, bool) and math.isfinite(beta) and beta > 0
        )
        if not ok:
            raise BinaryConfigError(
                "KB321",
                "`beta` must be a positive number: recall counts beta times as much as precision.",
                received=f"beta={beta!r}",
                expected="a finite number > 0",
                fix="beta=1.0  # F1; beta=2.0 favours recall, beta=0.5 precision",
            )
        super().__init__(threshold, from_logits, multi_label, validate, name, dtype)
        self.beta = float(beta)

    def result(self) -> Any:
        b2 = self.beta * self.beta
        tp = self.true_positives
        return ops.divide_no_nan(
            (1.0 + b2) * tp, (1.0 + b2) * tp + b2 * self.false_negatives + self.false_positives
        )

    def _settings(self) -> dict:
        return {"beta": self.beta, "threshold": self.threshold}


@_register
class F1Score(FBetaScore):
    """The F1 score, the harmonic mean of precision and recall.

    `FBetaScore` with `beta=1`; `0` when there are neither positives nor
    positive predictions.

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

    >>> m = F1Score()
    >>> m.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.8, 0.1]))
    >>> float(m.result())
    0.5
    """

    def __init__(
        self,
        threshold: float = 0.5,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "f1_score",
        dtype: Any = None,
    ):
        super().__init__(1.0, threshold, from_logits, multi_label, validate, name, dtype)

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


@_register
class MatthewsCorrelation(ConfusionMatrixMetric):
    """The Matthews correlation coefficient (phi coefficient), in [-1, 1].

    `(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))`,
    computed on the confusion matrix divided by its total (no overflow, no
    cancellation of large counts). `0` when a factor of the denominator is
    zero (one class only, or one predicted class only), as scikit-learn's
    `matthews_corrcoef`.

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
        denominator = ops.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return ops.divide_no_nan(tp * tn - fp * fn, denominator)


@_register
class BalancedAccuracy(ConfusionMatrixMetric):
    """The mean of sensitivity and specificity (the mean recall of the two classes).

    As scikit-learn's `balanced_accuracy_score`: a class with no (weighted)
    examples is left out of the mean, so a batch of one class gives that
    class's recall; `0` when there are no examples at all.

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
        has_positives = ops.cast(positives > 0, self.dtype)
        has_negatives = ops.cast(negatives > 0, self.dtype)
        recalls = (
            ops.divide_no_nan(self.true_positives, positives) * has_positives
            + ops.divide_no_nan(self.true_negatives, negatives) * has_negatives
        )
        return ops.divide_no_nan(recalls, has_positives + has_negatives)


@_register
class Specificity(ConfusionMatrixMetric):
    """The fraction of negatives predicted negative, `tn / (tn + fp)`.

    The true negative rate (the recall of class 0); `0` when there are no
    negatives.

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
        return ops.divide_no_nan(self.true_negatives, self.true_negatives + self.false_positives)
