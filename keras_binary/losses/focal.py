"""Binary focal cross-entropy: the element-wise formula and `SafeFocal`."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.losses._base import ContractLoss, _check_axis, _check_number
from keras_binary.losses.bce import binary_crossentropy_values

# Keras's default class-1 weight of class balancing.
_DEFAULT_ALPHA = 0.25


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
        if not self.apply_class_balancing and self.alpha != _DEFAULT_ALPHA:
            # As in Keras, alpha weights the classes only with class balancing.
            raise BinaryConfigError(
                "KB348",
                "`alpha` weights the two classes only with apply_class_balancing=True; without it, "
                "it has no effect (as in Keras's BinaryFocalCrossentropy).",
                received=f"alpha={alpha!r}, apply_class_balancing=False",
                expected="apply_class_balancing=True with alpha, or no alpha",
                fix=f"keras_binary.SafeFocal(apply_class_balancing=True, alpha={alpha!r})",
            )
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

    @classmethod
    def from_config(cls, config: dict) -> SafeFocal:
        config = dict(config)
        if not config.get("apply_class_balancing", False):
            # Files saved before KB348 may hold an alpha that had no effect.
            config["alpha"] = _DEFAULT_ALPHA
        return cls(**config)

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
