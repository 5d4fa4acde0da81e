"""Keras masks in the losses and metrics: padded steps are not data.

A model whose output carries a Keras mask (`Embedding(mask_zero=True)` in
front of a sequence layer with `return_sequences=True`) hands its losses and
metrics a `y_pred` with a `_keras_mask` attribute. Keras's losses and its
`MeanMetricWrapper` metrics (`BinaryAccuracy`) then weight the masked steps
by 0; the labels there are read by nothing, so padding them with any value
(`-1`, the usual "ignore" value, or `0`) is correct.

The package follows the same rule, in every loss and metric: at a masked
step the label is replaced by `0` before the value checks and the math (so
that `-1` is neither refused nor turned into a NaN by a logarithm), and the
step's weight is 0. Keras's own `AUC`, `Precision`, `Recall` and other
confusion-matrix metrics ignore masks and count the padded steps: the
package's do not.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_binary._contract import Canonical, check_sample_weight, static_shape
from keras_binary.errors import BinaryShapeError

# Attribute the fit guard sets on the package's metrics of a model whose
# output carries a mask: the label value that marks masked steps (-1).
PADDING_ATTRIBUTE = "_keras_binary_padding_label"

try:  # the accessor Keras's own losses use (attribute, or a table for JAX arrays)
    from keras.src.backend.common.masking import get_keras_mask as _get_keras_mask
except ImportError:  # pragma: no cover - a Keras without it: the attribute alone

    def _get_keras_mask(x: Any) -> Any:
        return getattr(x, "_keras_mask", None)


def keras_mask(y_pred: Any) -> Any:
    """The Keras mask `y_pred` carries, or `None`.

    Args:
        y_pred: a model's output, as handed to a loss or metric.

    Returns:
        The boolean mask tensor, shaped like the per-step output without its
        last axis, or `None`.

    Example:

    >>> import numpy as np
    >>> keras_mask(np.zeros((2, 3, 1))) is None
    True
    """
    if y_pred is None or isinstance(y_pred, (list, tuple, dict)):
        return None
    try:
        return _get_keras_mask(y_pred)
    except Exception:  # noqa: BLE001 - no mask readable: as Keras, none
        return None


def flat_mask(mask: Any, canonical: Canonical, y_pred: Any) -> Any:
    """`mask` broadcast to the canonical elements and flattened like them, or `None`.

    Args:
        mask: the Keras mask of `y_pred` (`keras_mask`), or `None`.
        canonical: the canonical pair of the call.
        y_pred: `y_pred` as passed in.

    Returns:
        A rank-1 bool tensor, `True` at the elements to read; `None` when
        there is no mask, or one that fits no per-example shape (then Keras
        applies it, or fails, as it would without the package).
    """
    if mask is None:
        return None
    leading = canonical.layout.leading
    try:
        shape = check_sample_weight(static_shape(mask), leading)
    except BinaryShapeError:
        return None
    mask = ops.cast(mask, "bool")
    for _ in range(len(static_shape(mask)) - len(shape)):
        mask = ops.squeeze(mask, axis=-1)
    for _ in range(len(leading) - len(shape)):
        mask = ops.expand_dims(mask, axis=-1)
    if shape != leading or None in leading:
        run_shape = ops.shape(y_pred)
        mask = ops.broadcast_to(
            mask, tuple(run_shape[:-1]) if canonical.layout.drop_class_axis else tuple(run_shape)
        )
    return ops.reshape(mask, (-1,))


def mask_labels(canonical: Canonical, mask: Any) -> Canonical:
    """`canonical` with the labels of masked elements replaced by 0 (and one-hot rows by `[1, 0]`).

    The masked elements then pass every value check and give a finite loss,
    which Keras's mask weights by 0.

    Args:
        canonical: the canonical pair of the call.
        mask: `flat_mask`'s result, or `None` (then `canonical` is returned).

    Returns:
        A `Canonical`.
    """
    if mask is None:
        return canonical
    y = canonical.y_true
    y = ops.where(mask, y, ops.zeros_like(y))
    onehot = canonical.onehot
    if onehot is not None:
        rows = ops.reshape(onehot, (-1, 2))
        negative = ops.cast(ops.convert_to_tensor([1.0, 0.0]), rows.dtype)
        onehot = ops.where(ops.expand_dims(mask, -1), rows, ops.broadcast_to(negative, ops.shape(rows)))
    return canonical._replace(y_true=y, onehot=onehot)
