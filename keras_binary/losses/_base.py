"""The base class of the package's losses: the shape contract, the value check, then the math."""

from __future__ import annotations

import functools
import math
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
from keras_binary._masks import flat_mask, keras_mask, mask_labels
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
        keras_axis = False
        if sample_weight is not None:
            keras_axis = self.reduction in (None, "none") and _adds_an_axis(sample_weight)
            sample_weight = self._example_weights(y_true, y_pred, sample_weight)
        check = _FoldedCheck(self) if self.validate else None
        with _folding(check), _masked_call(self, keras_mask(y_pred), getattr(y_pred, "dtype", None)):
            result = super().__call__(y_true, y_pred, sample_weight=sample_weight)
        if self.reduction not in (None, "none") and tuple(result.shape) == (0,):
            # Keras returns an empty tensor for an empty batch; a loss is a number.
            return ops.zeros((), dtype=result.dtype)
        if check is not None and check.summary is not None:
            result = check.raise_if_failed(result)
        if keras_axis and len(tuple(result.shape)) == 1:
            # Keras's rule (squeeze_or_expand_to_same_rank): one loss per
            # example times (N, 1) weights is (N, 1).
            result = ops.expand_dims(result, axis=-1)
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
        # Masked steps (a Keras mask on y_pred): their labels are read by
        # nothing, as in Keras's losses, which weight them by 0.
        mask, pred_dtype = _call_context(self, y_pred)
        canonical = mask_labels(canonical, flat_mask(mask, canonical, y_pred))
        ok = summary = None
        check = _folded_check_of(self)
        folded = check is not None and _runtime.is_traced(canonical.y_pred)
        if self.validate and _has_elements(canonical):
            check_logits = not (folded and self._non_finite_logits_propagate)
            ok, summary = value_mask(canonical, y_pred, check_logits=check_logits, pred_dtype=pred_dtype)
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


class _masked_call:  # noqa: N801 - used as a function: `with _masked_call(loss, mask, dtype):`
    """Hands `call` the Keras mask and the dtype of `y_pred` as `__call__` received it.

    Keras converts `y_pred` to the loss's dtype in between: a bfloat16
    softmax pair arrives as float32, with a bfloat16 rounding error.
    """

    def __init__(self, loss: ContractLoss, mask: Any, dtype: Any):
        self.entry = (loss, mask, dtype)

    def __enter__(self) -> None:
        stack = getattr(_FOLDING, "masks", None)
        if stack is None:
            stack = _FOLDING.masks = []
        stack.append(self.entry)

    def __exit__(self, *exc: object) -> None:
        _FOLDING.masks.pop()


def _call_context(loss: ContractLoss, y_pred: Any) -> tuple[Any, Any]:
    """The Keras mask and `y_pred`'s dtype of the call in progress (`call` called on its own: `y_pred`'s)."""
    stack = getattr(_FOLDING, "masks", None)
    if stack and stack[-1][0] is loss:
        return stack[-1][1], stack[-1][2]
    return keras_mask(y_pred), None


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


def _adds_an_axis(sample_weight: Any) -> bool:
    """Whether `sample_weight` is `(N, 1)`: Keras then returns unreduced losses as `(N, 1)`."""
    shape = _shape_of(sample_weight)
    return len(shape) == 2 and shape[-1] == 1


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
