"""`safe_loss`: any binary loss behind the shape contract (`SafeLossWrapper`)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import keras
from keras import ops

from keras_binary.errors import BinaryConfigError
from keras_binary.losses._base import ContractLoss

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
