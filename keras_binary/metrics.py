"""Binary metrics that follow the shape contract.

Every metric accepts what `SafeBCE` accepts: one probability or logit per
example (`(N, 1)` or `(N,)`), a 2-unit softmax pair of probabilities or of
logits (`(N, 2)`), leading axes beyond the batch (per-pixel outputs), and
labels `(N,)`, `(N, 1)`, one-hot `(N, 2)`, int, bool or float. The inputs go
through `keras_binary._contract.canonical_pair` first, so a metric gives the
same value for every representation of the same predictions.

What happens then:

- Keras has the metric (`BinaryAccuracy`, `Precision`, `Recall`, `AUC`,
  `SensitivityAtSpecificity`, `SpecificityAtSensitivity`,
  `PrecisionAtRecall`, `RecallAtPrecision`, `BinaryCrossentropy`): the class
  here subclasses Keras's and feeds it canonical `(M, 1)` probabilities (the
  sigmoid of the logit when `from_logits=True`), so its variables, its
  `result()` and its behaviour in `compile`, in the stateless JAX API and in
  distribution strategies are Keras's own.
- Keras lacks it, or needs a `(N, num_classes)` layout (`F1Score`,
  `FBetaScore`, `MatthewsCorrelation`, `BalancedAccuracy`, `Specificity`):
  four weighted confusion-matrix sums (`true_positives`, `false_positives`,
  `true_negatives`, `false_negatives`) at one `threshold`.
- `ECE`: three sums per equal-width probability bin.

Soft labels `y` in [0, 1] count as `y` of a positive example and `1 - y` of
a negative one (the expected confusion matrix); for 0/1 labels this is the
usual count. Keras's own confusion metrics would cast a soft label to `True`.

A prediction is positive when its probability is strictly greater than
`threshold`, as in Keras. With `validate=True` (the default), labels outside
[0, 1], NaN, probabilities outside [0, 1] and softmax pairs that do not sum
to 1 raise the coded `BinaryLabelError`s of the losses (`KB201`-`KB207`): a
metric computed from labels in `{1, 2}` or from logits thresholded at 0.5 is
silently wrong. The check costs a dozen reductions per update;
`validate=False` skips it.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import Canonical, _fmt, canonical_pair, check_numeric, static_shape
from keras_binary._value_checks import error_from_stats, value_stats
from keras_binary.errors import BinaryConfigError, BinaryShapeError
from keras_binary.losses import _check_number

__all__ = [
    "AUC",
    "ECE",
    "BalancedAccuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "F1Score",
    "FBetaScore",
    "MatthewsCorrelation",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "Specificity",
    "SpecificityAtSensitivity",
]

_register = keras.saving.register_keras_serializable(package="keras_binary")


# ---------------------------------------------------------------------------
# Argument checks.


def _check_rate(name: str, value: Any, example: float) -> float:
    """A threshold or target rate: a finite number in [0, 1]."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and 0.0 <= value <= 1.0):
        raise BinaryConfigError(
            "KB321",
            f"`{name}` must be a number in [0, 1]: it is compared with probabilities.",
            received=f"{name}={value!r}",
            expected="a finite number in [0, 1] (with from_logits=True it still applies to sigmoid(logit))",
            fix=f"{name}={example}",
        )
    return float(value)


def _check_count(name: str, value: Any, minimum: int, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BinaryConfigError(
            "KB322",
            f"`{name}` must be an integer >= {minimum}.",
            received=f"{name}={value!r}",
            expected=f"an integer >= {minimum}",
            fix=f"{name}={example}",
        )
    return value


# ---------------------------------------------------------------------------
# Canonical inputs.


def _leading_shape(canonical: Canonical, y_pred: Any) -> Any:
    """The run-time shape of the per-element output (the canonical layout's `leading`)."""
    shape = ops.shape(y_pred)
    return tuple(shape[:-1]) if canonical.layout.drop_class_axis else tuple(shape)


def _flat_weights(sample_weight: Any, canonical: Canonical, y_pred: Any, dtype: str) -> Any:
    """Sample weights broadcast to the canonical elements, flattened like them.

    Weights may have the per-example shape (the leading axes of `y_pred`),
    fewer axes (e.g. `(N,)` for per-pixel outputs: one weight per image),
    trailing singleton axes, or be a scalar.
    """
    if sample_weight is None:
        return None
    check_numeric(sample_weight, "sample_weight")
    weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
    leading = canonical.layout.leading
    shape = static_shape(weights)
    while len(shape) > len(leading) and shape[-1] == 1:
        weights = ops.squeeze(weights, axis=-1)
        shape = shape[:-1]
    mismatch = len(shape) > len(leading) or any(
        a is not None and b is not None and a not in (1, b) for a, b in zip(shape, leading, strict=False)
    )
    if mismatch:
        raise BinaryShapeError(
            "KB120",
            "sample_weight does not match the predictions: it needs one weight per "
            "example (or per element of a per-pixel output).",
            received=f"sample_weight.shape={_fmt(static_shape(ops.convert_to_tensor(sample_weight)))}, "
            f"per-example shape of y_pred={_fmt(leading)}",
            expected=(
                f"sample_weight of shape {_fmt(leading)}"
                + (f", {_fmt(leading[:1])}" if len(leading) > 1 else "")
                + " or a scalar"
            ),
            fix="pass one weight per example, e.g. sample_weight=np.ones(len(y_true))",
        )
    for _ in range(len(leading) - len(shape)):
        weights = ops.expand_dims(weights, axis=-1)
    if shape != leading or None in leading:
        weights = ops.broadcast_to(weights, _leading_shape(canonical, ops.convert_to_tensor(y_pred)))
    return ops.reshape(weights, (-1,))


def _split_soft_labels(y: Any, p: Any, w: Any) -> tuple[Any, Any, Any]:
    """Each example as a positive of weight `w * y` and a negative of weight `w * (1 - y)`.

    Keras's confusion-matrix metrics cast labels to bool; this hands them
    0/1 labels whose weighted counts are the expected confusion matrix of
    soft labels (and the plain counts for 0/1 labels). Shapes `(2M, 1)`.
    """
    ones = ops.ones_like(y)
    w = ones if w is None else w
    labels = ops.concatenate([ones, ops.zeros_like(y)])
    preds = ops.concatenate([p, p])
    weights = ops.concatenate([w * y, w * (1.0 - y)])
    return ops.expand_dims(labels, -1), ops.expand_dims(preds, -1), ops.expand_dims(weights, -1)


class ContractMetric:
    """Mixin of the package's metrics: canonical inputs, value checks, config.

    Put it first among the bases of a `keras.metrics.Metric` subclass, call
    `_init_contract` after `Metric.__init__`, and read the inputs with
    `_prepare`, which returns rank-1 labels, scores and weights (`None` when
    no `sample_weight` was given) of one dtype, the metric's.
    """

    def _init_contract(self, from_logits: bool, multi_label: bool, validate: bool) -> None:
        self.from_logits = bool(from_logits)
        # Not `multi_label`: keras.metrics.AUC uses that name for per-label AUCs.
        self._pooled_multi_label = bool(multi_label)
        self.validate = bool(validate)

    def _prepare(self, y_true: Any, y_pred: Any, sample_weight: Any = None, logits: bool = False):
        """Canonical `(labels, scores, weights)`, rank 1.

        Args:
            y_true, y_pred, sample_weight: as passed to `update_state`.
            logits: return logits when `from_logits=True` (else probabilities).
        """
        canonical = canonical_pair(y_true, y_pred, self.from_logits, self._pooled_multi_label)
        dtype = self.dtype
        y = ops.cast(canonical.y_true, dtype)
        s = ops.cast(canonical.y_pred, dtype)
        w = _flat_weights(sample_weight, canonical, y_pred, dtype)
        if self.validate and 0 not in static_shape(canonical.y_true):
            bad, stats = value_stats(canonical, y_pred)
            poisoned = _runtime.raise_if(bad, stats, error_from_stats)
            if poisoned is not None:  # XLA cannot raise: the metric becomes NaN
                w = ops.where(poisoned, float("nan"), ops.ones_like(y) if w is None else w)
        if canonical.from_logits and not logits:
            s = ops.sigmoid(s)
        return y, s, w

    def _settings(self) -> dict:
        """The metric's own arguments, for `get_config`."""
        return {}

    def get_config(self) -> dict:
        config = keras.metrics.Metric.get_config(self)
        config.update(
            {
                "from_logits": self.from_logits,
                "multi_label": self._pooled_multi_label,
                "validate": self.validate,
            }
        )
        config.update(self._settings())
        return config


class _KerasConfusionMetric(ContractMetric):
    """Feeds a Keras confusion-matrix metric 0/1 labels, probabilities, weights."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare(y_true, y_pred, sample_weight)
        labels, preds, weights = _split_soft_labels(y, p, w)
        super().update_state(labels, preds, sample_weight=weights)


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


# ---------------------------------------------------------------------------
# Calibration.


@_register
class ECE(ContractMetric, keras.metrics.Metric):
    """Expected calibration error of the positive-class probability, equal-width bins.

    The probabilities `p` are put in `num_bins` bins of width
    `1 / num_bins` (bin `b` holds `b / num_bins <= p < (b + 1) / num_bins`,
    the last bin also holds `p = 1`). For each bin the metric keeps the
    weighted count, the sum of `p` and the sum of the labels; then

    `ECE = sum_b |sum of labels in b - sum of p in b| / total weight`,

    that is `sum_b (n_b / n) |mean label_b - mean p_b|`: the calibration
    gap of the positive class, the quantity a reliability diagram shows for
    a binary classifier. `0` with no examples. A perfectly calibrated model
    has an ECE near `0`.

    Args:
        num_bins: int `>= 1`, the number of equal-width bins.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions.
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = ECE(num_bins=2)
    >>> m.update_state(np.array([0, 1, 1, 1]), np.array([0.2, 0.3, 0.7, 0.9]))
    >>> round(float(m.result()), 4)
    0.225
    """

    def __init__(
        self,
        num_bins: int = 15,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "ece",
        dtype: Any = None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.num_bins = _check_count("num_bins", num_bins, 1, 15)
        self._init_contract(from_logits, multi_label, validate)
        self._direction = "down"
        shape = (self.num_bins,)
        self.bin_weights = self.add_variable(shape=shape, initializer="zeros", name="bin_weights")
        self.bin_probabilities = self.add_variable(shape=shape, initializer="zeros", name="bin_probabilities")
        self.bin_labels = self.add_variable(shape=shape, initializer="zeros", name="bin_labels")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare(y_true, y_pred, sample_weight)
        w = ops.ones_like(p) if w is None else w
        bins = ops.clip(ops.cast(ops.floor(p * self.num_bins), "int32"), 0, self.num_bins - 1)
        one_hot = ops.one_hot(bins, self.num_bins, dtype=self.dtype)  # (M, num_bins)
        sums = ops.matmul(ops.stack([w, w * p, w * y]), one_hot)  # (3, num_bins)
        self.bin_weights.assign_add(sums[0])
        self.bin_probabilities.assign_add(sums[1])
        self.bin_labels.assign_add(sums[2])

    def reset_state(self) -> None:
        for variable in (self.bin_weights, self.bin_probabilities, self.bin_labels):
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def result(self) -> Any:
        gap = ops.sum(ops.abs(self.bin_labels - self.bin_probabilities))
        return ops.divide_no_nan(gap, ops.sum(self.bin_weights))

    def _settings(self) -> dict:
        return {"num_bins": self.num_bins}
