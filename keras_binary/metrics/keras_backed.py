"""Metrics that Keras has: thin subclasses fed canonical `(M, 1)` probabilities."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.losses._base import _check_number
from keras_binary.metrics._base import (
    ContractMetric,
    _check_class_id,
    _check_count,
    _check_rate,
    _check_threshold,
    _check_thresholds,
    _check_top_k,
    _KerasConfusionMetric,
    _register,
    _split_soft_labels,
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
            prediction (with `from_logits=True`, `sigmoid(logit)` is
            compared, and the threshold must lie strictly inside (0, 1)).
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` for `(N, K)` outputs of K independent binary
            labels; the metric pools all `N * K` of them, as
            `keras.metrics.BinaryAccuracy` on `(N, K)` data.
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
        threshold = _check_threshold("threshold", threshold, from_logits)
        super().__init__(name=name, dtype=dtype, threshold=threshold)
        self._init_contract(from_logits, multi_label, validate)

    def _settings(self) -> dict:
        return {"threshold": self.threshold}


class _KerasPrecisionRecall(_KerasConfusionMetric):
    """Shared constructor of `Precision` and `Recall`: Keras's arguments and `threshold`."""

    _default_name = ""

    def __init__(
        self,
        thresholds: float | list[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        threshold: float | None = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        self._top_k = _check_top_k(top_k, multi_label)
        self._class_id = _check_class_id(class_id, multi_label)
        if self._top_k is not None and threshold is None and thresholds is None:
            # Keras's meaning: the top k scores are the positive predictions.
            self._given = None
            keras_thresholds = None
        else:
            self._given = _check_thresholds(threshold, thresholds, from_logits)
            keras_thresholds = self._given
        self._list_given = isinstance(self._given, list)
        super().__init__(
            thresholds=keras_thresholds, top_k=self._top_k, name=name or self._default_name, dtype=dtype
        )
        # Keras's top_k and class_id are applied by `_select` on the (M, K)
        # columns, before the soft-label split: Keras itself sees one column.
        self.top_k = None
        self.threshold = None if self._given is None or self._list_given else self._given
        self._init_contract(from_logits, multi_label, validate)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare_columns(y_true, y_pred, sample_weight)
        y, p, w = self._select(y, p, w, self._top_k, self._class_id)
        labels, preds, weights = _split_soft_labels(y, p, w)
        super(_KerasConfusionMetric, self).update_state(labels, preds, sample_weight=weights)

    def _denominator(self) -> Any:
        raise NotImplementedError

    def result(self) -> Any:
        value = super().result()
        undefined = self._denominator() <= 0
        if len(self.thresholds) == 1:
            undefined = undefined[0]
        return self._nan_where_undefined(value, undefined)

    def _settings(self) -> dict:
        settings = {"top_k": self._top_k, "class_id": self._class_id}
        if self._list_given:
            settings["thresholds"] = list(self._given)
        elif self._given is not None:
            settings["threshold"] = self._given
        return settings


@_register
class Precision(_KerasPrecisionRecall, keras.metrics.Precision):
    """The fraction of positive predictions that are positive, `tp / (tp + fp)`.

    `keras.metrics.Precision` behind the shape contract, with its arguments
    and their meaning (see docs/keras-compatibility.md). Undefined, NaN with
    a `KB290` warning, when nothing was predicted positive (Keras gives 0).

    Args:
        thresholds: Keras's argument: a probability, or a list of them (the
            result is then one precision per threshold). A probability above
            a threshold is a positive prediction. Default 0.5.
        top_k: with `multi_label=True`, only the k highest scores of each
            example count as positive predictions (Keras's `top_k`); a
            binary output has no top k (`KB330`).
        class_id: with `multi_label=True`, the one label (column) to
            measure, as in Keras.
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
        threshold: the package's spelling of one threshold (not with
            `thresholds`: `KB327`); with `from_logits=True`, a probability
            strictly inside (0, 1) (`KB328`).
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to read `(N, K)` predictions as K labels and
            pool their `N * K` outputs (micro-average), as Keras's
            `Precision` on `(N, K)` data.
        validate: check label and prediction values (`KB2xx` errors).

    Example:

    >>> m = Precision(from_logits=True)
    >>> m.update_state(np.array([[0], [1], [1], [0]]), np.array([[-2.0], [1.5], [-0.5], [0.5]]))
    >>> float(m.result())
    0.5
    >>> m = Precision(thresholds=[0.3, 0.7])
    >>> m.update_state(np.array([0, 1, 1, 0]), np.array([0.4, 0.8, 0.6, 0.1]))
    >>> [round(float(v), 4) for v in m.result()]
    [0.6667, 1.0]
    """

    _default_name = "precision"
    _undefined_reason = "no positive predictions (tp + fp = 0)"

    def _denominator(self) -> Any:
        return self.true_positives + self.false_positives


@_register
class Recall(_KerasPrecisionRecall, keras.metrics.Recall):
    """The fraction of positives predicted positive (sensitivity), `tp / (tp + fn)`.

    `keras.metrics.Recall` behind the shape contract, with its arguments and
    their meaning (see docs/keras-compatibility.md). Undefined, NaN with a
    `KB290` warning, when there are no positives (Keras gives 0).

    Args:
        thresholds: Keras's argument: a probability, or a list of them (the
            result is then one recall per threshold). Default 0.5.
        top_k: with `multi_label=True`, only the k highest scores of each
            example count as positive predictions; not for a binary output
            (`KB330`).
        class_id: with `multi_label=True`, the one label (column) to
            measure.
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
        threshold: the package's spelling of one threshold (not with
            `thresholds`: `KB327`); with `from_logits=True`, a probability
            strictly inside (0, 1) (`KB328`).
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to read `(N, K)` predictions as K labels and
            pool their outputs, as Keras's `Recall` on `(N, K)` data.
        validate: check label and prediction values (`KB2xx` errors).

    Example:

    >>> m = Recall()
    >>> m.update_state(np.array([[0, 1], [0, 1], [1, 0]]),   # one-hot labels
    ...                np.array([0.9, 0.2, 0.7]))
    >>> float(m.result())
    0.5
    """

    _default_name = "recall"
    _undefined_reason = "no positive labels (tp + fn = 0)"

    def _denominator(self) -> Any:
        return self.true_positives + self.false_negatives


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring", "step")


@_register
class AUC(_KerasConfusionMetric, keras.metrics.AUC):
    """Area under the ROC or precision-recall curve, from bucketed thresholds.

    `keras.metrics.AUC` behind the shape contract, with its arguments and
    their meaning (see docs/keras-compatibility.md), plus
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

    Undefined: the ROC (and PR-gain) area with one class only, the PR area
    without positives. The result is then NaN with a `KB290` warning (Keras
    gives 0, which reads as a terrible model; scikit-learn raises).

    Multi-label outputs `(N, K)` (`multi_label=True`): one AUC per label,
    averaged with `label_weights`, as Keras's `AUC(multi_label=True)`; NaN
    when a label is undefined. `pool_labels=True` pools the `N * K` outputs
    into one curve instead (Keras's `AUC(multi_label=False)` on `(N, K)`
    data, and this package's `AUC(multi_label=True)` before 0.2).

    Args:
        num_thresholds: int `>= 2`, the number of thresholds.
        curve: `"ROC"`, `"PR"` or `"PRGAIN"`.
        summation_method: `"interpolation"` (trapezoids; Davis-Goadrich for
            PR), `"minoring"`, `"majoring"`, or `"step"` (PR only: average
            precision).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.
        thresholds: optional list of probability thresholds in [0, 1],
            instead of `num_thresholds` evenly spaced ones (with
            `from_logits=True`, strictly inside (0, 1): `KB328`).
        multi_label: `True` to read `(N, K)` predictions as K labels, one
            AUC each, averaged (Keras's meaning).
        num_labels: with `multi_label=True`, K, to create the state before
            the first batch (as Keras).
        label_weights: with `multi_label=True`, K non-negative weights: of
            each label's AUC in the average, or (with `pool_labels=True`) of
            each label's predictions in the pooled curve (as Keras).
        from_logits: whether `y_pred` holds logits (the sigmoid is applied
            before thresholding, as in Keras).
        pool_labels: with `multi_label=True`, one curve over all labels'
            outputs (micro-average) instead of the mean of per-label AUCs.
        validate: check label and prediction values (`KB2xx` errors).

    Example:

    >>> m = AUC(num_thresholds=101)
    >>> m.update_state(np.array([0, 0, 1, 1]), np.array([[0.1], [0.4], [0.35], [0.8]]))
    >>> round(float(m.result()), 4)
    0.75
    >>> m = AUC(num_thresholds=101, multi_label=True)    # one AUC per label, averaged
    >>> m.update_state(np.array([[0, 1], [1, 0], [1, 1]]),
    ...                np.array([[0.2, 0.9], [0.7, 0.5], [0.6, 0.4]]))
    >>> round(float(m.result()), 4)
    0.75
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str = "auc",
        dtype: Any = None,
        thresholds: list[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
        pool_labels: bool = False,
        validate: bool = True,
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
            thresholds = [_check_threshold("thresholds", t, from_logits) for t in thresholds]
        unused = [
            f"{arg}={value!r}"
            for arg, value in (("num_labels", num_labels), ("label_weights", label_weights))
            if value is not None
        ] + (["pool_labels=True"] if pool_labels else [])
        if unused and not multi_label:
            raise BinaryConfigError(
                "KB331",
                "these AUC arguments describe the K labels of a multi-label (N, K) output; "
                "a binary output has one label.",
                received=", ".join(unused) + ", multi_label=False",
                expected="multi_label=True with them, or none of them for a binary output",
                fix="keras_binary.metrics.AUC(multi_label=True, " + ", ".join(unused) + ")",
            )
        if pool_labels and num_labels is not None:
            raise BinaryConfigError(
                "KB331",
                "`num_labels` sizes per-label AUCs; pooled labels have one curve.",
                received=f"num_labels={num_labels!r}, pool_labels=True",
                expected="no num_labels with pool_labels=True",
                fix="keras_binary.metrics.AUC(multi_label=True, pool_labels=True)",
            )
        if num_labels is not None:
            num_labels = _check_count("num_labels", num_labels, 1, 2)
        self._label_weights_given = None if label_weights is None else [float(v) for v in label_weights]
        if self._label_weights_given is not None and (
            not self._label_weights_given or min(self._label_weights_given) < 0
        ):
            raise BinaryConfigError(
                "KB331",
                "`label_weights` are K non-negative weights, one per label.",
                received=f"label_weights={label_weights!r}",
                expected="a non-empty list of numbers >= 0",
                fix="label_weights=[1.0, 2.0, 1.0]",
            )
        self._step = method == "step"
        self._pool_labels = bool(pool_labels)
        per_label = bool(multi_label) and not self._pool_labels
        super().__init__(
            num_thresholds=num_thresholds,
            curve=curve_name,
            summation_method="interpolation" if self._step else method,
            thresholds=thresholds,
            name=name,
            dtype=dtype,
            multi_label=per_label,
            num_labels=num_labels if per_label else None,
            label_weights=self._label_weights_given if per_label else None,
        )
        self._init_contract(from_logits, multi_label, validate)
        self._given_thresholds = thresholds
        self._given_num_thresholds = num_thresholds
        self._given_num_labels = num_labels

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare_columns(y_true, y_pred, sample_weight)
        if self._label_weights_given is not None:
            k = int(p.shape[-1])
            if len(self._label_weights_given) != k:
                raise BinaryConfigError(
                    "KB331",
                    f"`label_weights` has {len(self._label_weights_given)} weights for {k} labels.",
                    received=f"len(label_weights)={len(self._label_weights_given)}, y_pred with {k} labels",
                    expected=f"{k} weights, one per label",
                    fix=f"label_weights=[1.0] * {k}",
                )
        if self.multi_label:  # Keras's per-label AUCs: it takes (2M, K) columns.
            labels, preds, weights = _split_soft_labels(y, p, w)
        else:
            if self._pool_labels and self._label_weights_given is not None:
                label_weights = ops.convert_to_tensor(self._label_weights_given, dtype=self.dtype)
                w = label_weights * (ops.ones_like(p) if w is None else w)
            y, p, w = self._select(y, p, w, None, None)
            labels, preds, weights = _split_soft_labels(y, p, w)
        keras.metrics.AUC.update_state(self, labels, preds, sample_weight=weights)

    def result(self) -> Any:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        if self._step:
            precision = ops.divide_no_nan(tp, tp + fp)
            recall = ops.divide_no_nan(tp, tp + fn)
            by_label = ops.sum((recall[:-1] - recall[1:]) * precision[:-1], axis=0)
            if self.multi_label:
                if self.label_weights is None:
                    value = ops.mean(by_label)
                else:
                    value = ops.divide_no_nan(
                        ops.sum(by_label * self.label_weights), ops.sum(self.label_weights)
                    )
            else:
                value = by_label
        else:
            value = super().result()
        # At the lowest threshold (below 0) every example is predicted positive.
        positives = tp[0] + fn[0]
        negatives = fp[0] + self.true_negatives[0]
        undefined = positives <= 0
        if self.curve.value != "PR":
            undefined = ops.logical_or(undefined, negatives <= 0)
        if self.multi_label:
            undefined = ops.any(undefined)
        return self._nan_where_undefined(value, undefined)

    @property
    def _undefined_reason(self) -> str:
        needs = "no positive labels" if self.curve.value == "PR" else "no positive or no negative labels"
        return needs + (" for at least one label" if self.multi_label else "")

    def _settings(self) -> dict:
        settings = {
            "num_thresholds": self._given_num_thresholds,
            "curve": self.curve.value,
            "summation_method": "step" if self._step else self.summation_method.value,
            "num_labels": self._given_num_labels,
            "label_weights": self._label_weights_given,
            "pool_labels": self._pool_labels,
        }
        if self._given_thresholds is not None:
            settings["thresholds"] = list(self._given_thresholds)
        return settings


class _KerasRateAtRate(_KerasConfusionMetric):
    """Shared part of the four `XAtY` metrics: Keras's arguments, NaN when undefined, the threshold."""

    _value_name = ""
    _needs_negatives = True

    def __init__(
        self,
        value: float,
        num_thresholds: int,
        class_id: int | None,
        name: str,
        dtype: Any,
        from_logits: bool,
        multi_label: bool,
        validate: bool,
    ):
        value = _check_rate(self._value_name, value, 0.5)
        num_thresholds = _check_count("num_thresholds", num_thresholds, 1, 200)
        self._class_id = _check_class_id(class_id, multi_label)
        super().__init__(value, num_thresholds=num_thresholds, name=name, dtype=dtype)
        self._init_contract(from_logits, multi_label, validate)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare_columns(y_true, y_pred, sample_weight)
        y, p, w = self._select(y, p, w, None, self._class_id)
        labels, preds, weights = _split_soft_labels(y, p, w)
        super(_KerasConfusionMetric, self).update_state(labels, preds, sample_weight=weights)

    @property
    def _undefined_reason(self) -> str:
        return "no positive or no negative labels" if self._needs_negatives else "no positive labels"

    def _rates(self) -> tuple[Any, Any]:
        """`(constrained, dependent)` rates, one per threshold."""
        raise NotImplementedError

    def _undefined(self) -> Any:
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        undefined = (tp[0] + fn[0]) <= 0
        if self._needs_negatives:
            undefined = ops.logical_or(undefined, (tn[0] + fp[0]) <= 0)
        return undefined

    def result(self) -> Any:
        return self._nan_where_undefined(super().result(), self._undefined())

    def threshold_result(self) -> Any:
        """The probability threshold at which `result()` is reached.

        The threshold (one of the `num_thresholds` evenly spaced ones) whose
        rate satisfies the constraint and gives the best result; among ties,
        the one with the best constrained rate, then the lowest. A
        prediction is positive when its probability is strictly greater
        than the threshold (with `from_logits=True`, `sigmoid(logit)`). NaN
        when no threshold satisfies the constraint or the metric is
        undefined.

        Returns:
            A scalar tensor, a probability in [0, 1] or NaN.
        """
        constrained, dependent = self._rates()
        feasible = ops.greater_equal(constrained, self.value)
        best = ops.max(ops.where(feasible, dependent, -1.0))
        candidates = ops.logical_and(feasible, ops.equal(dependent, best))
        index = ops.argmax(ops.where(candidates, constrained, -1.0))
        threshold = ops.take(ops.convert_to_tensor(self.thresholds, dtype=self.dtype), index)
        missing = ops.logical_or(ops.logical_not(ops.any(feasible)), self._undefined())
        return ops.where(missing, float("nan"), threshold)

    def _settings(self) -> dict:
        return {
            self._value_name: float(self.value),
            "num_thresholds": self.num_thresholds,
            "class_id": self._class_id,
        }


def _ratio(a: Any, b: Any) -> Any:
    return ops.divide_no_nan(a, a + b)


@_register
class SensitivityAtSpecificity(_KerasRateAtRate, keras.metrics.SensitivityAtSpecificity):
    """The best sensitivity (recall) over thresholds whose specificity is `>= specificity`.

    `keras.metrics.SensitivityAtSpecificity` behind the shape contract, with
    its arguments (see docs/keras-compatibility.md). The thresholds are
    `num_thresholds` evenly spaced values in [0, 1]; the result is exact
    when they separate all distinct probabilities. `threshold_result()`
    gives the probability threshold at which the result is reached (the
    same holds for the other three `XAtY` metrics). Undefined, NaN with a
    `KB290` warning, with one class only (Keras gives 0); `0` as in Keras
    when no threshold reaches the specificity.

    Args:
        specificity: float in [0, 1], the specificity to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        class_id: with `multi_label=True`, the one label (column) to
            measure, as in Keras.
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
    >>> round(float(m.threshold_result()), 2)   # predict positive above 0.1
    0.1
    """

    _value_name = "specificity"

    def __init__(
        self,
        specificity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str = "sensitivity_at_specificity",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        super().__init__(
            specificity, num_thresholds, class_id, name, dtype, from_logits, multi_label, validate
        )

    def _rates(self) -> tuple[Any, Any]:
        return _ratio(self.true_negatives, self.false_positives), _ratio(
            self.true_positives, self.false_negatives
        )


@_register
class SpecificityAtSensitivity(_KerasRateAtRate, keras.metrics.SpecificityAtSensitivity):
    """The best specificity over thresholds whose sensitivity is `>= sensitivity`.

    `keras.metrics.SpecificityAtSensitivity` behind the shape contract;
    thresholds as in `SensitivityAtSpecificity`.

    Args:
        sensitivity: float in [0, 1], the sensitivity (recall) to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        class_id: with `multi_label=True`, the one label (column) to
            measure, as in Keras.
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
        class_id: int | None = None,
        name: str = "specificity_at_sensitivity",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        super().__init__(
            sensitivity, num_thresholds, class_id, name, dtype, from_logits, multi_label, validate
        )

    def _rates(self) -> tuple[Any, Any]:
        return _ratio(self.true_positives, self.false_negatives), _ratio(
            self.true_negatives, self.false_positives
        )


@_register
class PrecisionAtRecall(_KerasRateAtRate, keras.metrics.PrecisionAtRecall):
    """The best precision over thresholds whose recall is `>= recall`.

    `keras.metrics.PrecisionAtRecall` behind the shape contract; thresholds
    as in `SensitivityAtSpecificity`.

    Args:
        recall: float in [0, 1], the recall to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        class_id: with `multi_label=True`, the one label (column) to
            measure, as in Keras.
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

    _needs_negatives = False

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str = "precision_at_recall",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        super().__init__(recall, num_thresholds, class_id, name, dtype, from_logits, multi_label, validate)

    def _rates(self) -> tuple[Any, Any]:
        return _ratio(self.true_positives, self.false_negatives), _ratio(
            self.true_positives, self.false_positives
        )


@_register
class RecallAtPrecision(_KerasRateAtRate, keras.metrics.RecallAtPrecision):
    """The best recall over thresholds whose precision is `>= precision`.

    `keras.metrics.RecallAtPrecision` behind the shape contract; thresholds
    as in `SensitivityAtSpecificity`.

    Args:
        precision: float in [0, 1], the precision to reach.
        num_thresholds: int `>= 1`, the number of thresholds.
        class_id: with `multi_label=True`, the one label (column) to
            measure, as in Keras.
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

    _needs_negatives = False

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str = "recall_at_precision",
        dtype: Any = None,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
    ):
        super().__init__(precision, num_thresholds, class_id, name, dtype, from_logits, multi_label, validate)

    def _rates(self) -> tuple[Any, Any]:
        return _ratio(self.true_positives, self.false_positives), _ratio(
            self.true_positives, self.false_negatives
        )


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
