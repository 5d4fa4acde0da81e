"""Binary losses that follow the shape contract.

The math lives in plain functions of canonical, rank-1 tensors
(`binary_crossentropy_values`); the classes hold configuration, bring their
inputs to canonical form (`keras_binary._contract`), run the value checks and
hand per-example values to Keras's own reduction, so sample weights, masks,
reductions and distribution strategies behave exactly as in Keras.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import threading
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import (
    Canonical,
    canonical_pair,
    check_numeric,
    check_sample_weight,
    plan_layout,
    static_shape,
)
from keras_binary._value_checks import error_from_stats, error_if_failed, source_of, stats_failed, value_mask
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
            fix=f"{name}={high if high < 10 else 1.0}"
            if name != "label_smoothing"
            else "label_smoothing=0.1",
        )
    return float(value)


def smooth_labels(y_true: Any, label_smoothing: float) -> Any:
    """Squeezes labels towards 0.5 exactly as Keras does.

    Args:
        y_true: canonical labels in [0, 1].
        label_smoothing: a float in [0, 1].

    Returns:
        `y_true * (1 - label_smoothing) + 0.5 * label_smoothing`.

    Example:

    >>> import numpy as np
    >>> smoothed = smooth_labels(np.array([0.0, 1.0]), 0.2)
    >>> [round(float(v), 2) for v in keras.ops.convert_to_numpy(smoothed)]
    [0.1, 0.9]
    """
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing


def binary_crossentropy_values(
    y_true: Any, y_pred: Any, from_logits: bool = False, pos_weight: float | None = None
) -> Any:
    """Element-wise binary cross-entropy of canonical tensors.

    The logit path computes `w * y * softplus(-z) + (1 - y) * softplus(z)`
    as `(1 + (w - 1) * y) * log1p(exp(-|z|)) + |z| * c`, with `c = 1 - y`
    where `z >= 0` and `c = w * y` elsewhere: every term is non-negative, so
    it is finite and accurate (no cancellation, also for soft labels near 0
    or 1) for any finite logit. It costs what the shortest stable form,
    `relu(z) - z * y + log1p(exp(-|z|))`, costs (benchmarks/loss_overhead.py),
    and its gradient is exactly `sigmoid(z) - y` (times the weights), also at
    `z = 0`, where the slopes of `|z|` and `relu(z)` are one-sided: on
    TensorFlow and JAX it is given by `keras.ops.custom_gradient`, which XLA
    fuses like the rest; elsewhere the branch at `z = 0` is chosen so that
    autodiff finds it. The probability path clips to `[epsilon, 1 - epsilon]`
    as Keras does.

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
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    if from_logits:
        if _runtime.fused_custom_gradient():
            return _bce_logits_custom_gradient(y_true, y_pred, pos_weight)
        return _bce_logits_autodiff(y_true, y_pred, pos_weight)
    epsilon = keras.config.epsilon()
    p = ops.clip(y_pred, epsilon, 1.0 - epsilon)
    positive = y_true * ops.log(p)
    if pos_weight is not None:
        positive = pos_weight * positive
    return -(positive + (1.0 - y_true) * ops.log(1.0 - p))


def _bce_logits_custom_gradient(y_true: Any, z: Any, pos_weight: float | None) -> Any:
    """The logit path with its exact gradient given by hand (TensorFlow, JAX)."""

    @ops.custom_gradient
    def bce(y, z):
        magnitude = ops.abs(z)
        log1p_exp = ops.log1p(ops.exp(-magnitude))
        nonneg = ops.greater_equal(z, 0.0)
        if pos_weight is None:
            value = log1p_exp + magnitude * ops.where(nonneg, 1.0 - y, y)
        else:
            value = (1.0 + (pos_weight - 1.0) * y) * log1p_exp + magnitude * ops.where(
                nonneg, 1.0 - y, pos_weight * y
            )

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            sigmoid = ops.sigmoid(z)
            if pos_weight is None:
                d_z, d_y = sigmoid - y, -z
            else:
                # d/dz and d/dy of w * y * softplus(-z) + (1 - y) * softplus(z).
                d_z = sigmoid * (1.0 + (pos_weight - 1.0) * y) - pos_weight * y
                d_y = (pos_weight - 1.0) * log1p_exp + pos_weight * ops.relu(-z) - ops.relu(z)
            return upstream * d_y, upstream * d_z

        return value, grad

    return bce(y_true, z)


def _bce_logits_autodiff(y_true: Any, z: Any, pos_weight: float | None) -> Any:
    """The logit path with autodiff's gradient: the branch at `z = 0` makes it exact."""
    nonneg = ops.greater_equal(z, 0.0)
    # log1p(exp(-|z|)), with the branch at z = 0 chosen like `c` below so
    # that the two one-sided slopes add up to the true gradient.
    log1p_exp = ops.log1p(ops.exp(ops.where(nonneg, -z, z)))
    if pos_weight is None:
        return log1p_exp + ops.where(nonneg, 1.0 - y_true, -y_true) * z
    weight = 1.0 + (pos_weight - 1.0) * y_true
    return weight * log1p_exp + ops.where(nonneg, 1.0 - y_true, -pos_weight * y_true) * z


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

    Example:

    >>> import numpy as np
    >>> class SafeMSE(ContractLoss):
    ...     def values(self, y_true, y_pred, from_logits):
    ...         return keras.ops.square(y_pred - y_true)
    >>> loss = SafeMSE()
    >>> round(float(loss(np.array([0, 1]), np.array([[0.9, 0.1], [0.4, 0.6]]))), 3)
    0.085
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

    # Whether `values` is non-finite wherever a logit is: then a folded
    # check need not test the logits (SafeBCE and SafeFocal; tested).
    _non_finite_logits_propagate = False

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        # Before Keras converts them: strings or ragged inputs would otherwise
        # fail inside the backend with a message that says nothing useful.
        check_numeric(y_true, "y_true")
        check_numeric(y_pred, "y_pred")
        if sample_weight is not None:
            sample_weight = self._example_weights(y_true, y_pred, sample_weight)
        check = _FoldedCheck(self) if self.validate else None
        with _folding(check):
            result = super().__call__(y_true, y_pred, sample_weight=sample_weight)
        if self.reduction not in (None, "none") and tuple(result.shape) == (0,):
            # Keras returns an empty tensor for an empty batch; a loss is a number.
            return ops.zeros((), dtype=result.dtype)
        if check is not None and check.summary is not None:
            result = check.raise_if_failed(result)
        return result

    def _example_weights(self, y_true: Any, y_pred: Any, sample_weight: Any) -> Any:
        """`sample_weight` checked (`KB120`) and shaped like the per-example losses.

        Keras multiplies the losses by the weights with NumPy broadcasting
        (after squeezing or adding one last axis): weights that fit no
        example fail there uncoded, or broadcast silently along the wrong
        axis. The check uses static shapes, at trace time.
        """
        check_numeric(sample_weight, "sample_weight")
        weights = ops.convert_to_tensor(sample_weight)
        layout = plan_layout(_shape_of(y_true), _shape_of(y_pred), self.multi_label)
        # The per-example losses: the leading axes of y_pred, without the
        # label axis that multi_label=True averages over.
        example = layout.leading[:-1] if layout.pred == "elementwise" else layout.leading
        shape = check_sample_weight(static_shape(weights), example)
        for _ in range(len(static_shape(weights)) - len(shape)):
            weights = ops.squeeze(weights, axis=-1)
        # Fewer axes than the losses (one weight per image of a per-pixel
        # output): Keras would align them with the last axes instead.
        if 0 < len(shape) < len(example):
            for _ in range(len(example) - len(shape)):
                weights = ops.expand_dims(weights, axis=-1)
        return weights

    def call(self, y_true: Any, y_pred: Any) -> Any:
        canonical = canonical_pair(y_true, y_pred, self.from_logits, self.multi_label, use_keras_logits=True)
        ok = summary = None
        check = _folded_check_of(self)
        folded = check is not None and _runtime.is_traced(canonical.y_pred)
        if self.validate and _has_elements(canonical):
            check_logits = not (folded and self._non_finite_logits_propagate)
            ok, summary = value_mask(canonical, y_pred, check_logits=check_logits)
        folded = folded and ok is not None
        poisoned = None
        if ok is not None and not folded:
            # Run eagerly, or `call` called on its own: check first, since an
            # eager backend or a wrapped loss may reject bad values with an
            # uncoded error.
            poisoned = _runtime.raise_if(
                ops.logical_not(ops.all(ok)),
                summary,
                functools.partial(error_from_stats, source=source_of(self)),
            )
        labels = smooth_labels(canonical.y_true, self.label_smoothing)
        losses = self.values(labels, canonical.y_pred, canonical.from_logits)
        if folded:
            losses = ops.where(ok, losses, float("nan"))
            check.summary = summary
        elif poisoned is not None:
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


# The checks of the `__call__`s in progress on this thread (Keras may run
# replicas in threads), innermost last.
_FOLDING = threading.local()


class _FoldedCheck:
    """The value check of one compiled loss call, folded into its reduction.

    A separate check reads the labels and predictions a second time and, on
    XLA's CPU backend, is not fused with the loss (measured:
    benchmarks/loss_overhead.py). Folded, the loss's own values become NaN
    where a check failed, the reduction that Keras runs anyway makes the
    result NaN, and the step pays for one scalar test; the summary for the
    message, which says whether a check failed, is computed only when the
    result is not finite, since a NaN sample weight, an overflow or a
    wrapped loss can make it so too.
    """

    __slots__ = ("loss", "summary")

    def __init__(self, loss: ContractLoss):
        self.loss = loss
        self.summary: Any = None

    def raise_if_failed(self, result: Any) -> Any:
        """Raises the coded error of a failed check; a failed step's result is NaN with no gradient."""
        # Not finite: a failed check made it NaN, or a non-finite logit (the
        # folded mask leaves those to the loss's own value) made it so.
        finite = ops.isfinite(result)
        found = ops.logical_not(finite if len(tuple(result.shape)) == 0 else ops.all(finite))
        poisoned = _runtime.raise_if(
            found,
            self.summary,
            functools.partial(error_if_failed, source=source_of(self.loss)),
            confirm=stats_failed,
        )
        if poisoned is None:
            return result
        # A failed check under XLA: NaN with a zero gradient, so that with SGD
        # a bad batch leaves the weights as they were. (A result that is not
        # finite for another reason stays as Keras would give it.)
        return ops.where(poisoned, float("nan"), result)


class _folding:  # noqa: N801 - used as a function: `with _folding(check):`
    """Makes `check` the one that `ContractLoss.call` fills, for the `with` block."""

    def __init__(self, check: _FoldedCheck | None):
        self.check = check

    def __enter__(self) -> None:
        if self.check is not None:
            stack = getattr(_FOLDING, "stack", None)
            if stack is None:
                stack = _FOLDING.stack = []
            stack.append(self.check)

    def __exit__(self, *exc: object) -> None:
        if self.check is not None:
            _FOLDING.stack.pop()


def _folded_check_of(loss: ContractLoss) -> _FoldedCheck | None:
    stack = getattr(_FOLDING, "stack", None)
    if stack and stack[-1].loss is loss:
        return stack[-1]
    return None


def _shape_of(x: Any) -> tuple:
    return static_shape(x) if hasattr(x, "shape") else tuple(np.shape(x))


def _check_axis(axis: Any) -> int:
    """Keras's `axis`, the axis the element losses are averaged over: the class axis, -1."""
    if axis != -1 or isinstance(axis, bool):
        raise BinaryConfigError(
            "KB333",
            "the loss reads the last axis of y_pred as its class axis (size 1 or 2, or K labels "
            "with multi_label=True) and averages over it, as Keras's default axis=-1.",
            received=f"axis={axis!r}",
            expected="axis=-1",
            fix="axis=-1  # move the class axis last, e.g. y_pred = keras.ops.moveaxis(y_pred, 1, -1)",
        )
    return -1


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
        axis: Keras's argument, the axis the element losses are averaged
            over: the class axis, `-1` (another axis: `KB333`).

    Example:

    >>> import numpy as np
    >>> loss = SafeBCE()
    >>> y_true = np.array([0, 1, 1, 0])                 # int labels, (N,)
    >>> y_pair = np.array([[0.9, 0.1], [0.2, 0.8],      # 2-unit softmax
    ...                    [0.4, 0.6], [0.7, 0.3]])
    >>> round(float(loss(y_true, y_pair)), 4)
    0.299
    >>> round(float(loss(y_true, y_pair[:, 1:])), 4)    # 1-unit sigmoid
    0.299
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
        axis: int = -1,
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
            None
            if pos_weight is None
            else _check_number("pos_weight", pos_weight, 0.0, math.inf, open_low=True)
        )
        self.axis = _check_axis(axis)

    _non_finite_logits_propagate = True

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        return binary_crossentropy_values(y_true, y_pred, from_logits, self.pos_weight)

    def get_config(self) -> dict:
        config = super().get_config()
        config["pos_weight"] = self.pos_weight
        config["axis"] = self.axis
        return config


# ---------------------------------------------------------------------------
# Focal loss and the any-loss wrapper.


def _check_focal(name: str, value: Any, low: float, high: float, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and low <= value <= high):
        bound = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
        raise BinaryConfigError(
            "KB320",
            f"the focal loss's `{name}` must be a finite number {bound}.",
            received=f"{name}={value!r}",
            expected=f"a finite number {bound}",
            fix=f"keras_binary.SafeFocal({name}={default})",
        )
    return float(value)


def binary_focal_crossentropy_values(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    gamma: float = 2.0,
    alpha: float = 0.25,
    apply_class_balancing: bool = False,
    pos_weight: float | None = None,
) -> Any:
    """Element-wise binary focal cross-entropy of canonical tensors.

    The formula is Keras's (`keras.losses.binary_focal_crossentropy`):
    `loss = (1 - p_t) ** gamma * bce`, with `p_t = y * p + (1 - y) * (1 - p)`,
    times `y * alpha + (1 - y) * (1 - alpha)` when `apply_class_balancing`.
    The probability path computes it exactly as Keras does (the cross-entropy
    clipped to `[epsilon, 1 - epsilon]`, the focal factor unclipped). The
    logit path never forms a probability: the cross-entropy is
    `binary_crossentropy_values` on logits, and the focal factor is
    `exp(gamma * log(1 - p_t))` with
    `log(1 - p_t) = logaddexp(log(y) + log_sigmoid(-z), log(1 - y) + log_sigmoid(z))`,
    so loss and gradient stay finite and accurate for any finite logit
    (Keras's logit path goes through a float32 sigmoid and saturates).

    Args:
        y_true: labels in [0, 1] (already smoothed), any shape.
        y_pred: probabilities, or logits when `from_logits=True`, same shape.
        from_logits: whether `y_pred` holds logits.
        gamma: the focusing parameter, `>= 0`; `0` gives the cross-entropy.
        alpha: the weight of class 1 when `apply_class_balancing`.
        apply_class_balancing: weight class 1 by `alpha`, class 0 by
            `1 - alpha`.
        pos_weight: the weight of the positive term of the cross-entropy, or
            `None` for 1.

    Returns:
        The loss of each element, shaped like `y_pred`.

    Example:

    >>> import numpy as np
    >>> loss = binary_focal_crossentropy_values(
    ...     np.array([1.0, 0.0]), np.array([-10000.0, -10000.0]), True)
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(loss)]
    [10000.0, 0.0]
    """
    bce = binary_crossentropy_values(y_true, y_pred, from_logits, pos_weight)
    if from_logits:
        log_one_minus_pt = ops.logaddexp(
            ops.log(y_true) + ops.log_sigmoid(-y_pred),
            ops.log(1.0 - y_true) + ops.log_sigmoid(y_pred),
        )
        loss = ops.exp(gamma * log_one_minus_pt) * bce if gamma else bce
    else:
        p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
        loss = ops.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        loss = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * loss
    return loss


@keras.saving.register_keras_serializable(package="keras_binary")
class SafeFocal(ContractLoss):
    """Binary focal cross-entropy that accepts every binary encoding, or says why not.

    The focal loss of [Lin et al., 2018](https://arxiv.org/abs/1708.02002)
    down-weights easy examples: `loss = (1 - p_t) ** gamma * bce`, where
    `p_t` is the probability given to the true class. Inputs follow the same
    shape contract as `SafeBCE`: one probability or logit per example
    (`(N, 1)` or `(N,)`), or a 2-unit softmax pair (`(N, 2)`); labels `(N,)`,
    `(N, 1)`, one-hot `(N, 2)`, int, bool or float.

    On inputs that `keras.losses.BinaryFocalCrossentropy` accepts in
    canonical form the value is Keras's: identical formula on probabilities;
    on logits the same value up to Keras's own float32 rounding, but finite
    and accurate for logits up to `|z| = 1e4`, where Keras saturates.

    Args:
        apply_class_balancing: weight class 1 by `alpha` and class 0 by
            `1 - alpha`.
        alpha: float in [0, 1], the class-1 weight of class balancing.
        gamma: float `>= 0`, the focusing parameter; `0` gives `SafeBCE`.
        from_logits: whether `y_pred` holds logits (no sigmoid or softmax).
        label_smoothing: float in [0, 1]; labels are squeezed towards 0.5
            (before the focal factor and the class weights, as in Keras).
        pos_weight: weight of the positive term of the cross-entropy, or
            `None` for 1.
        multi_label: `True` for Keras's element-wise semantics on `(N, K)`.
        validate: check label and prediction values while running.
        reduction: as in `keras.losses.Loss`, default
            `"sum_over_batch_size"`.
        name: the loss's name.
        dtype: the dtype of the computation; `None` for `keras.config.floatx()`.
        axis: Keras's argument, the axis the element losses are averaged
            over: the class axis, `-1` (another axis: `KB333`).

    Example:

    >>> import numpy as np
    >>> loss = SafeFocal(gamma=2.0)
    >>> y_true = np.array([0, 1, 1, 0])
    >>> y_pair = np.array([[0.9, 0.1], [0.2, 0.8],      # 2-unit softmax
    ...                    [0.4, 0.6], [0.7, 0.3]])
    >>> round(float(loss(y_true, y_pair)), 4)
    0.031
    >>> round(float(loss(y_true, y_pair[:, 1:])), 4)    # 1-unit sigmoid
    0.031
    >>> round(float(SafeFocal(from_logits=True)(np.array([1.0]), np.array([-1e4]))), 1)
    10000.0
    """

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        pos_weight: float | None = None,
        multi_label: bool = False,
        validate: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str = "safe_focal",
        dtype: Any = None,
        axis: int = -1,
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
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = _check_focal("alpha", alpha, 0.0, 1.0, 0.25)
        self.gamma = _check_focal("gamma", gamma, 0.0, math.inf, 2.0)
        self.pos_weight = (
            None
            if pos_weight is None
            else _check_number("pos_weight", pos_weight, 0.0, math.inf, open_low=True)
        )
        self.axis = _check_axis(axis)

    _non_finite_logits_propagate = True

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        return binary_focal_crossentropy_values(
            y_true,
            y_pred,
            from_logits,
            gamma=self.gamma,
            alpha=self.alpha,
            apply_class_balancing=self.apply_class_balancing,
            pos_weight=self.pos_weight,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "apply_class_balancing": self.apply_class_balancing,
                "alpha": self.alpha,
                "gamma": self.gamma,
                "pos_weight": self.pos_weight,
                "axis": self.axis,
            }
        )
        return config


# Losses over a class axis: on one canonical score they compute something
# that is not a binary loss, silently.
_MULTICLASS_LOSSES = frozenset(
    {
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
        "CategoricalFocalCrossentropy",
        "CategoricalHinge",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "categorical_focal_crossentropy",
        "categorical_hinge",
    }
)


def _loss_name(fn: Any) -> str:
    if isinstance(fn, keras.losses.Loss):
        inner = getattr(fn, "fn", None)  # a LossFunctionWrapper, e.g. from keras.losses.get
        if type(fn).__name__ == "LossFunctionWrapper" and hasattr(inner, "__name__"):
            return str(inner.__name__)
        return type(fn).__name__
    return str(getattr(fn, "__name__", type(fn).__name__))


def _default_name(fn: Any) -> str:
    """`"safe_"` + the wrapped loss's name, as a valid name scope (`<lambda>` is not one)."""
    raw = str(getattr(fn, "name", None) or _loss_name(fn))
    return "safe_" + (re.sub(r"[^A-Za-z0-9_.]+", "_", raw).strip("_") or "loss")


def _declared_from_logits(fn: Any) -> bool | None:
    """The `from_logits` a wrapped `Loss` was configured with, if it has one."""
    if not isinstance(fn, keras.losses.Loss):
        return None
    value = getattr(fn, "from_logits", None)
    if value is None:
        try:
            value = fn.get_config().get("from_logits")
        except NotImplementedError:  # a custom Loss without get_config
            value = None
    return None if value is None else bool(value)


def _takes_from_logits(fn: Any) -> bool:
    if isinstance(fn, keras.losses.Loss):
        return False
    try:
        return "from_logits" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


@keras.saving.register_keras_serializable(package="keras_binary")
class SafeLossWrapper(ContractLoss):
    """Any binary loss, behind the shape contract; made by `safe_loss`.

    The wrapped loss receives canonical inputs: `y_true` and `y_pred` both of
    shape `(M, 1)` (M examples, or M elements when the predictions have
    leading axes beyond the batch, e.g. pixels), float labels in [0, 1], and
    one score per example:

    - `from_logits=False`: a probability. A softmax pair gives `p1`.
    - `from_logits=True`: a logit. A pair of logits gives `z1 - z0`, the
      logit of `p1` (`softmax([z0, z1])[1] == sigmoid(z1 - z0)`).

    So a loss written for a 1-unit sigmoid (or 1-unit logit) model works
    unchanged on a 2-unit softmax model and with any label encoding. Its
    per-example values are reduced by this wrapper (sample weights,
    `reduction`) exactly as Keras reduces its own losses, so
    `safe_loss(keras.losses.X())` equals `keras.losses.X()` on canonical
    inputs.

    Args:
        fn: a `keras.losses.Loss` instance, or a function
            `fn(y_true, y_pred)` returning one loss per example (as Keras's
            loss functions do). A function that takes a `from_logits`
            argument gets the wrapper's `from_logits`.
        from_logits: whether the model emits logits. `None` takes the
            wrapped loss's own `from_logits` (e.g. of
            `keras.losses.BinaryCrossentropy(from_logits=True)`), else
            `False`.
        validate: check label and prediction values while running.
        reduction: as in `keras.losses.Loss`; `"auto"` takes the wrapped
            `Loss`'s reduction, else `"sum_over_batch_size"`.
        name: the loss's name; `None` gives `"safe_"` + the wrapped name.
        dtype: the dtype of the computation; `None` for `keras.config.floatx()`.

    Example:

    >>> import numpy as np
    >>> loss = SafeLossWrapper(keras.losses.Hinge())
    >>> y_pair = np.array([[0.9, 0.1], [0.2, 0.8]])    # a softmax pair
    >>> float(loss(np.array([0, 1]), y_pair)) == float(
    ...     keras.losses.Hinge()(np.array([[0], [1]]), y_pair[:, 1:]))
    True
    """

    def __init__(
        self,
        fn: Any,
        from_logits: bool | None = None,
        validate: bool = True,
        reduction: str | None = "auto",
        name: str | None = None,
        dtype: Any = None,
    ):
        fn = _resolve_wrapped_loss(fn)
        declared = _declared_from_logits(fn)
        if from_logits is None:
            from_logits = bool(declared)
        elif declared is not None and bool(from_logits) != declared:
            raise BinaryConfigError(
                "KB324",
                f"safe_loss was told from_logits={bool(from_logits)}, but the wrapped "
                f"{_loss_name(fn)} was built with from_logits={declared}.",
                received=f"safe_loss(..., from_logits={bool(from_logits)}) around {_loss_name(fn)}(from_logits={declared})",
                expected="one from_logits, saying what the model emits",
                fix=(
                    f"keras_binary.safe_loss(keras.losses.{_loss_name(fn)}(from_logits={bool(from_logits)}))"
                    "  # or leave safe_loss's from_logits unset"
                ),
            )
        if reduction == "auto":
            reduction = fn.reduction if isinstance(fn, keras.losses.Loss) else "sum_over_batch_size"
        super().__init__(
            from_logits=from_logits,
            validate=validate,
            reduction=reduction,
            name=name or _default_name(fn),
            dtype=dtype,
        )
        self.fn = fn
        self._pass_from_logits = _takes_from_logits(fn)

    def values(self, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
        y_true = ops.reshape(y_true, (-1, 1))
        y_pred = ops.reshape(y_pred, (-1, 1))
        if self._pass_from_logits:
            losses = self.fn(y_true, y_pred, from_logits=from_logits)
        else:
            if from_logits and not self.from_logits:
                # TensorFlow handed over the logits behind a sigmoid or softmax
                # output; the wrapped loss expects probabilities (and Keras's own
                # losses find these logits again on the sigmoid's result).
                y_pred = ops.sigmoid(y_pred)
            call = self.fn.call if isinstance(self.fn, keras.losses.Loss) else self.fn
            losses = call(y_true, y_pred)
        losses = ops.convert_to_tensor(losses)
        if len(losses.shape) == 0:
            return losses
        return ops.reshape(losses, (-1,))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("label_smoothing", None)
        config.pop("multi_label", None)
        config.update(
            {
                "fn": keras.saving.serialize_keras_object(self.fn),
                "from_logits": self.from_logits,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> SafeLossWrapper:
        config = dict(config)
        config["fn"] = keras.saving.deserialize_keras_object(config["fn"])
        return cls(**config)


def _resolve_wrapped_loss(fn: Any) -> Any:
    if isinstance(fn, str):
        fn = keras.losses.get(fn)
    if isinstance(fn, type):
        name = fn.__name__
        if fn.__module__.startswith("keras"):
            name = f"keras.losses.{name}"
        raise BinaryConfigError(
            "KB323",
            f"safe_loss received the class {name}, not a loss: instantiate it first.",
            received=f"fn={name} (a class)",
            expected="a keras.losses.Loss instance or a function (y_true, y_pred) -> losses",
            fix=f"keras_binary.safe_loss({name}())",
        )
    if not callable(fn):
        raise BinaryConfigError(
            "KB323",
            f"safe_loss received a {type(fn).__name__}, which is not a loss.",
            received=f"fn={fn!r}",
            expected="a keras.losses.Loss instance, a function (y_true, y_pred) -> losses, or a loss name",
            fix='keras_binary.safe_loss(keras.losses.BinaryCrossentropy())  # or safe_loss("binary_crossentropy")',
        )
    name = _loss_name(fn)
    if name in _MULTICLASS_LOSSES:
        raise BinaryConfigError(
            "KB325",
            f"safe_loss received {name}, a multi-class loss: on one binary score "
            "it computes something that is not a binary loss.",
            received=f"fn={name}",
            expected="a binary loss, e.g. keras.losses.BinaryCrossentropy()",
            fix="keras_binary.safe_loss(keras.losses.BinaryCrossentropy())  # or keras_binary.SafeBCE()",
        )
    return fn


def safe_loss(
    fn_or_loss: Any,
    from_logits: bool | None = None,
    validate: bool = True,
    reduction: str | None = "auto",
    name: str | None = None,
    dtype: Any = None,
) -> SafeLossWrapper:
    """Wraps any binary loss so that it receives canonical inputs.

    The wrapped loss sees `(y_true, y_pred)` of shape `(M, 1)`: float labels
    and one score per example, a probability (`from_logits=False`; `p1` of a
    softmax pair) or a logit (`from_logits=True`; `z1 - z0` of a pair of
    logits). Shapes that no binary encoding explains raise a coded
    `BinaryShapeError`; with `validate=True` bad label values raise a coded
    `BinaryLabelError`. The result is serializable (`get_config`, `.keras`
    files) when the wrapped loss is: a Keras loss, or a function registered
    with `keras.saving.register_keras_serializable`.

    Args:
        fn_or_loss: a `keras.losses.Loss` instance, a loss name such as
            `"binary_crossentropy"`, or a function `fn(y_true, y_pred)`
            returning one loss per example.
        from_logits: whether the model emits logits; `None` takes the
            wrapped loss's own `from_logits`, else `False`.
        validate: check label and prediction values while running.
        reduction: as in `keras.losses.Loss`; `"auto"` takes the wrapped
            `Loss`'s reduction, else `"sum_over_batch_size"`.
        name: the loss's name; `None` gives `"safe_"` + the wrapped name.
        dtype: the dtype of the computation.

    Returns:
        A `SafeLossWrapper`, a `keras.losses.Loss`.

    Raises:
        BinaryConfigError: `KB323` for something that is not a loss, `KB324`
            when `from_logits` contradicts the wrapped loss, `KB325` for a
            multi-class loss.

    Example:

    >>> import numpy as np
    >>> loss = safe_loss(keras.losses.BinaryCrossentropy(from_logits=True))
    >>> pair_logits = np.array([[1.0, -1.0], [-0.5, 2.0]])     # (N, 2) logits
    >>> value = float(loss(np.array([0, 1]), pair_logits))
    >>> expected = float(keras.losses.BinaryCrossentropy(from_logits=True)(
    ...     np.array([[0.0], [1.0]]), np.array([[-2.0], [2.5]])))  # z1 - z0
    >>> abs(value - expected) < 1e-6
    True
    """
    return SafeLossWrapper(
        fn_or_loss, from_logits=from_logits, validate=validate, reduction=reduction, name=name, dtype=dtype
    )
