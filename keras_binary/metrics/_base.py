"""The metric pack's base: argument checks, canonical inputs, the contract mixin."""

from __future__ import annotations

import functools
import math
from typing import Any

import keras
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import Canonical, canonical_pair, check_numeric, check_sample_weight, static_shape
from keras_binary._value_checks import error_from_stats, source_of, value_stats
from keras_binary.errors import BinaryConfigError

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
            poisoned = _runtime.raise_if(bad, stats, functools.partial(error_from_stats, source=source_of(self)))
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
