"""The metric pack's base: argument checks, canonical inputs, the contract mixin."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import keras
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import (
    Canonical,
    _fmt,
    canonical_pair,
    check_numeric,
    check_sample_weight,
    static_shape,
)
from keras_binary._masks import PADDING_ATTRIBUTE, flat_mask, keras_mask, mask_labels
from keras_binary._value_checks import error_from_stats, source_of, value_stats
from keras_binary.errors import BinaryConfigError, BinaryShapeError, UndefinedMetricWarning

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_threshold(name: str, value: Any, from_logits: bool) -> float:
    """One threshold: a probability, also with `from_logits=True` (one rule for the pack).

    With `from_logits=True`, `sigmoid(logit)` is compared with the
    threshold, so a threshold of `0` or below, or of `1` or above, can only
    be meant in logit space (Keras's idiom `thresholds=0` for "logit > 0"):
    a coded error whose fix is the probability it stands for.
    """
    if from_logits and _is_number(value) and not 0.0 < value < 1.0:
        probability = 1.0 / (1.0 + math.exp(-max(min(float(value), 700.0), -700.0)))
        raise BinaryConfigError(
            "KB328",
            f"`{name}` is compared with sigmoid(logit), a probability: {value!r} reads as a logit threshold.",
            received=f"{name}={value!r}, from_logits=True",
            expected="a probability strictly between 0 and 1 (logit > 0 is threshold=0.5)",
            fix=f"threshold={probability:.4g}, from_logits=True",
        )
    return _check_rate(name, value, 0.5)


def _check_thresholds(threshold: Any, thresholds: Any, from_logits: bool) -> float | list[float]:
    """`threshold` (the package's spelling) or Keras's `thresholds`; 0.5 when neither."""
    if threshold is not None and thresholds is not None:
        raise BinaryConfigError(
            "KB327",
            "both `threshold` and `thresholds` were given; they are two spellings of one argument.",
            received=f"threshold={threshold!r}, thresholds={thresholds!r}",
            expected="one of them: threshold=0.5 (one value) or thresholds=[0.3, 0.5, 0.7] (one result each)",
            fix=f"thresholds={thresholds!r}",
        )
    if thresholds is None:
        return _check_threshold("threshold", 0.5 if threshold is None else threshold, from_logits)
    if isinstance(thresholds, (list, tuple)):
        if not thresholds:
            _check_rate("thresholds", thresholds, 0.5)
        return [_check_threshold("thresholds", t, from_logits) for t in thresholds]
    return _check_threshold("thresholds", thresholds, from_logits)


def _check_class_id(class_id: Any, multi_label: bool) -> int | None:
    """Keras's `class_id`: one of the K labels of a multi-label output."""
    if class_id is None:
        return None
    if isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0 or not multi_label:
        raise BinaryConfigError(
            "KB329",
            "`class_id` selects one of the K labels of a multi-label (N, K) output"
            + ("; a binary output has one class only." if not multi_label else "."),
            received=f"class_id={class_id!r}, multi_label={multi_label}",
            expected="an integer in [0, K) with multi_label=True, or no class_id for a binary output",
            fix="multi_label=True, class_id=0" if multi_label is False else "class_id=0",
        )
    return class_id


def _check_top_k(top_k: Any, multi_label: bool) -> int | None:
    """Keras's `top_k`: the k highest-scoring labels of each example count as predicted."""
    if top_k is None:
        return None
    if not multi_label:
        raise BinaryConfigError(
            "KB330",
            "`top_k` has no binary meaning: a binary output has one score per example, "
            "and keeping its top k scores keeps all of them.",
            received=f"top_k={top_k!r}, multi_label=False",
            expected="no top_k, or multi_label=True for (N, K) outputs of K labels",
            fix="keras_binary.metrics.Precision(threshold=0.5)",
        )
    return _check_count("top_k", top_k, 1, 1)


def _filter_top_k(scores: Any, k: int) -> Any:
    """Keeps the `k` highest scores of each row, `-inf` elsewhere (as Keras's `top_k`)."""
    _, indices = ops.top_k(scores, k)
    mask = ops.sum(ops.one_hot(indices, ops.shape(scores)[-1], dtype=scores.dtype), axis=-2)
    return ops.where(mask > 0, scores, float("-inf"))


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
    shape = check_sample_weight(static_shape(weights), leading)
    for _ in range(len(static_shape(weights)) - len(shape)):
        weights = ops.squeeze(weights, axis=-1)
    for _ in range(len(leading) - len(shape)):
        weights = ops.expand_dims(weights, axis=-1)
    if shape != leading or None in leading:
        weights = ops.broadcast_to(weights, _leading_shape(canonical, ops.convert_to_tensor(y_pred)))
    return ops.reshape(weights, (-1,))


def _split_soft_labels(y: Any, p: Any, w: Any) -> tuple[Any, Any, Any]:
    """Each example as a positive of weight `w * y` and a negative of weight `w * (1 - y)`.

    Keras's confusion-matrix metrics cast labels to bool; this hands them
    0/1 labels whose weighted counts are the expected confusion matrix of
    soft labels (and the plain counts for 0/1 labels). Shapes `(2M, 1)` for
    rank-1 inputs, `(2M, K)` for columns `(M, K)`.
    """
    ones = ops.ones_like(y)
    w = ones if w is None else w
    labels = ops.concatenate([ones, ops.zeros_like(y)])
    preds = ops.concatenate([p, p])
    weights = ops.concatenate([w * y, w * (1.0 - y)])
    if len(labels.shape) == 2:
        return labels, preds, weights
    return ops.expand_dims(labels, -1), ops.expand_dims(preds, -1), ops.expand_dims(weights, -1)


def _label_count(y_pred: Any, multi_label: bool) -> int:
    """K, the number of labels: the static last axis of a multi-label `y_pred`, else 1."""
    shape = static_shape(y_pred)
    if not multi_label or len(shape) < 2:
        return 1
    if shape[-1] is None:
        raise BinaryShapeError(
            "KB106",
            "the label axis (the last axis of y_pred) has an unknown size.",
            received=f"y_pred.shape={_fmt(shape)}, multi_label=True",
            expected="a last axis of static size K, one per label",
            fix="give the model's output layer a fixed number of units, e.g. keras.layers.Dense(K)",
        )
    return int(shape[-1])


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
        # Masked steps (a Keras mask on y_pred) count for nothing, as in
        # Keras's BinaryAccuracy; their labels are read by nothing.
        mask = flat_mask(keras_mask(y_pred), canonical, y_pred)
        padding = getattr(self, PADDING_ATTRIBUTE, None)
        if mask is None and padding is not None:
            # The model's output is masked, but JAX's train step hands the
            # metrics a y_pred without its mask: the padding label marks it.
            mask = ops.not_equal(canonical.y_true, ops.cast(padding, canonical.y_true.dtype))
        canonical = mask_labels(canonical, mask)
        dtype = self.dtype
        y = ops.cast(canonical.y_true, dtype)
        s = ops.cast(canonical.y_pred, dtype)
        w = _flat_weights(sample_weight, canonical, y_pred, dtype)
        if mask is not None:
            w = ops.cast(mask, dtype) if w is None else w * ops.cast(mask, dtype)
        if self.validate and 0 not in static_shape(canonical.y_true):
            bad, stats = value_stats(canonical, y_pred)
            poisoned = _runtime.raise_if(
                bad, stats, functools.partial(error_from_stats, source=source_of(self))
            )
            if poisoned is not None:  # XLA cannot raise: the metric becomes NaN
                w = ops.where(poisoned, float("nan"), ops.ones_like(y) if w is None else w)
        if canonical.from_logits and not logits:
            s = ops.sigmoid(s)
        return y, s, w

    def _prepare_columns(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """`_prepare`'s labels, probabilities and weights as `(M, K)` columns, one per label.

        K is 1 for a binary output (`multi_label=False`), the size of the
        last axis of `y_pred` for a multi-label one (leading axes beyond the
        batch become rows).
        """
        y, s, w = self._prepare(y_true, y_pred, sample_weight)
        k = _label_count(y_pred, self._pooled_multi_label)
        y, s = ops.reshape(y, (-1, k)), ops.reshape(s, (-1, k))
        return y, s, (None if w is None else ops.reshape(w, (-1, k)))

    def _select(self, y: Any, p: Any, w: Any, top_k: int | None, class_id: int | None):
        """Keras's `top_k` (per row), then `class_id` (one column), on `(M, K)` columns.

        Returns rank-1 labels, probabilities and weights: the chosen column,
        or all elements pooled.
        """
        if top_k is not None:
            p = _filter_top_k(p, top_k)
        if class_id is not None:
            k = int(p.shape[-1])
            if class_id >= k:
                raise BinaryConfigError(
                    "KB329",
                    f"`class_id={class_id}` is outside the label axis, which has {k} labels.",
                    received=f"class_id={class_id}, y_pred with {k} labels",
                    expected=f"an integer in [0, {k})",
                    fix=f"class_id={k - 1}",
                )
            take = lambda x: None if x is None else ops.take(x, class_id, axis=-1)  # noqa: E731
            return take(y), take(p), take(w)
        flat = lambda x: None if x is None else ops.reshape(x, (-1,))  # noqa: E731
        return flat(y), flat(p), flat(w)

    # Undefined results: NaN, and one warning per metric object when read eagerly.
    _undefined_reason = "a denominator of its formula is zero"

    def _nan_where_undefined(self, value: Any, undefined: Any) -> Any:
        """`value`, NaN where `undefined`; warns once (`KB290`) when the result is read eagerly.

        Inside a compiled function (a training step) nothing can be known
        about the value; Keras reads its metrics eagerly at the end of each
        epoch and of `evaluate`, and the warning fires then.
        """
        value = ops.where(undefined, float("nan"), value)
        if not getattr(self, "_warned_undefined", False):
            flag = _runtime.concrete_value(undefined)
            if flag is not None and bool(flag.any()):
                self._warned_undefined = True
                warnings.warn(undefined_warning(self), stacklevel=3)
        return value

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


def undefined_warning(metric: Any) -> UndefinedMetricWarning:
    """The `KB290` warning for `metric`, whose result is undefined."""
    return UndefinedMetricWarning(
        f"KB290: {type(metric).__name__} '{metric.name}' is undefined on the data it has seen: "
        f"{metric._undefined_reason}. Its result is NaN, not a score.\n"
        "  Fix: evaluate on data with both classes (e.g. a stratified split), "
        "or read NaN as 'undefined'\n"
        "  See: keras-binary explain KB290"
    )


class _KerasConfusionMetric(ContractMetric):
    """Feeds a Keras confusion-matrix metric 0/1 labels, probabilities, weights."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare(y_true, y_pred, sample_weight)
        labels, preds, weights = _split_soft_labels(y, p, w)
        super().update_state(labels, preds, sample_weight=weights)
