"""Binary cross-entropy: the element-wise formula and `SafeBCE`."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_binary import _runtime
from keras_binary.losses._base import ContractLoss, _check_axis, _check_number


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
