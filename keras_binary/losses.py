"""Binary losses that follow the shape contract.

The math lives in plain functions of canonical, rank-1 tensors
(`binary_crossentropy_values`); the classes hold configuration, bring their
inputs to canonical form (`keras_binary._contract`), run the value checks and
hand per-example values to Keras's own reduction, so sample weights, masks,
reductions and distribution strategies behave exactly as in Keras.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import Canonical, canonical_pair, check_numeric, static_shape
from keras_binary._value_checks import error_from_stats, value_stats
from keras_binary.errors import BinaryConfigError


def _check_number(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise BinaryConfigError(
            "KB301",
            f"`{name}` must be a number in {bound}.",
            received=f"{name}={value!r}",
            expected=f"a finite number in {bound}",
            fix=f"{name}={high if high < 10 else 1.0}" if name != "label_smoothing" else "label_smoothing=0.1",
        )
    return float(value)


def smooth_labels(y_true: Any, label_smoothing: float) -> Any:
    """Squeezes labels towards 0.5 exactly as Keras does.

    Args:
        y_true: canonical labels in [0, 1].
        label_smoothing: a float in [0, 1].

    Returns:
        `y_true * (1 - label_smoothing) + 0.5 * label_smoothing`.
    """
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing


def binary_crossentropy_values(
    y_true: Any, y_pred: Any, from_logits: bool = False, pos_weight: float | None = None
) -> Any:
    """Element-wise binary cross-entropy of canonical tensors.

    The logit path uses `(1 - y) * z + (1 + (w - 1) * y) * softplus(-z)`, with
    `softplus(-z) = log1p(exp(-|z|)) + max(-z, 0)`: finite and exact for any
    finite logit. The probability path clips to `[epsilon, 1 - epsilon]` as
    Keras does.

    Args:
        y_true: labels in [0, 1], any shape.
        y_pred: probabilities, or logits when `from_logits=True`, same shape.
        from_logits: whether `y_pred` holds logits.
        pos_weight: the weight of the positive term, or `None` for 1.

    Returns:
        The loss of each element, shaped like `y_pred`.

    Example:

    >>> import numpy as np
    >>> loss = binary_crossentropy_values(np.array([1.0, 0.0]),
    ...                                   np.array([0.0, 10000.0]), True)
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(loss)]
    [0.6931, 10000.0]
    """
    if from_logits:
        log1p_exp = ops.log1p(ops.exp(-ops.abs(y_pred))) + ops.relu(-y_pred)
        weight = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y_true
        return (1.0 - y_true) * y_pred + weight * log1p_exp
    epsilon = keras.config.epsilon()
    p = ops.clip(y_pred, epsilon, 1.0 - epsilon)
    positive = y_true * ops.log(p)
    if pos_weight is not None:
        positive = pos_weight * positive
    return -(positive + (1.0 - y_true) * ops.log(1.0 - p))


class ContractLoss(keras.losses.Loss):
    """Base class of the package's losses: the shape contract, then the math.

    Subclasses implement `values(y_true, y_pred, from_logits)` on canonical
    rank-1 tensors (labels already smoothed) and return one loss per element.

    Args:
        from_logits: whether `y_pred` holds logits.
        label_smoothing: float in [0, 1]; labels become
            `y * (1 - label_smoothing) + 0.5 * label_smoothing`.
        multi_label: `True` for Keras's element-wise semantics on `(N, K)`
            predictions (K independent binary outputs, averaged per example).
        validate: check label and prediction values while running.
        reduction: as in `keras.losses.Loss`.
        name: the loss's name.
        dtype: the dtype of the computation; `None` for `keras.config.floatx()`.
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        multi_label: bool = False,
        validate: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_number("label_smoothing", label_smoothing, 0.0, 1.0)
        self.multi_label = bool(multi_label)
        self.validate = bool(validate)

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        # Before Keras converts them: strings or ragged inputs would otherwise
        # fail inside the backend with a message that says nothing useful.
        check_numeric(y_true, "y_true")
        check_numeric(y_pred, "y_pred")
        result = super().__call__(y_true, y_pred, sample_weight=sample_weight)
        if self.reduction not in (None, "none") and tuple(result.shape) == (0,):
            # Keras returns an empty tensor for an empty batch; a loss is a number.
            return ops.zeros((), dtype=result.dtype)
        return result

    def call(self, y_true: Any, y_pred: Any) -> Any:
        canonical = canonical_pair(
            y_true, y_pred, self.from_logits, self.multi_label, use_keras_logits=True
        )
        labels = smooth_labels(canonical.y_true, self.label_smoothing)
        losses = self.values(labels, canonical.y_pred, canonical.from_logits)
        if self.validate and _has_elements(canonical):
            bad, stats = value_stats(canonical, y_pred)
            poisoned = _runtime.raise_if(bad, stats, error_from_stats)
            if poisoned is not None:
                losses = ops.where(poisoned, float("nan"), losses)
        return _to_example_shape(losses, canonical, y_pred)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing,
                "multi_label": self.multi_label,
                "validate": self.validate,
            }
        )
        return config


def _has_elements(canonical: Canonical) -> bool:
    return 0 not in static_shape(canonical.y_true)


def _to_example_shape(losses: Any, canonical: Canonical, y_pred: Any) -> Any:
    """Gives rank-1 element losses the per-example shape Keras reduces."""
    layout = canonical.layout
    if layout.pred == "elementwise":
        shape = ops.shape(y_pred)
        if len(shape) > 1:
            losses = ops.reshape(losses, shape)
        return ops.mean(losses, axis=-1)
    if len(layout.leading) == 1:
        return losses
    return ops.reshape(losses, ops.shape(y_pred)[:-1] if layout.drop_class_axis else ops.shape(y_pred))


@keras.saving.register_keras_serializable(package="keras_binary")
class SafeBCE(ContractLoss):
    """Binary cross-entropy that accepts every binary encoding, or says why not.

    Predictions may be one probability or logit per example (`(N, 1)` or
    `(N,)`) or a 2-unit softmax pair (`(N, 2)`, reduced exactly to one score);
    labels may be `(N,)`, `(N, 1)`, one-hot `(N, 2)`, int, bool or float.
    Shapes that no binary encoding explains raise a coded
    `BinaryShapeError` while the model is built; with `validate=True`,
    labels outside [0, 1] (e.g. `{1, 2}`), NaN, and probabilities outside
    [0, 1] stop training with a coded `BinaryLabelError`.

    On inputs that `keras.losses.BinaryCrossentropy` accepts in canonical
    form, the value is the same.

    Args:
        from_logits: whether `y_pred` holds logits (no sigmoid or softmax).
        label_smoothing: float in [0, 1]; labels are squeezed towards 0.5.
        pos_weight: weight of the positive class, e.g. `n_negative /
            n_positive` for imbalanced data; `None` for 1.
        multi_label: `True` for Keras's element-wise semantics on `(N, K)`.
        validate: check label and prediction values while running; `False`
            saves a few reductions per step.
        reduction: as in `keras.losses.Loss`, default
            `"sum_over_batch_size"`.
        name: the loss's name.
        dtype: the dtype of the computation; `None` for `keras.config.floatx()`.

    Example:

    >>> import numpy as np
    >>> loss = SafeBCE()
    >>> y_true = np.array([0, 1, 1, 0])                 # int labels, (N,)
    >>> y_pair = np.array([[0.9, 0.1], [0.2, 0.8],      # 2-unit softmax
    ...                    [0.4, 0.6], [0.7, 0.3]])
    >>> round(float(loss(y_true, y_pair)), 4)
    0.2990
    >>> round(float(loss(y_true, y_pair[:, 1:])), 4)    # 1-unit sigmoid
    0.2990
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        pos_weight: float | None = None,
        multi_label: bool = False,
        validate: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str = "safe_bce",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            multi_label=multi_label,
            validate=validate,
            reduction=reduction,
            name=name,
            dtype=dtype,
        )
        self.pos_weight = (
            None if pos_weight is None else _check_number("pos_weight", pos_weight, 0.0, math.inf, open_low=True)
        )

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        return binary_crossentropy_values(y_true, y_pred, from_logits, self.pos_weight)

    def get_config(self) -> dict:
        config = super().get_config()
        config["pos_weight"] = self.pos_weight
        return config
