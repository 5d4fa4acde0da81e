"""`encode_labels`: two-valued labels to 0/1, with an explicit positive class."""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_binary.errors import BinaryLabelError
from keras_binary.evaluation._data import to_numpy


def _decode(values: np.ndarray) -> np.ndarray:
    """Bytes (e.g. from a `tf.string` tensor) as str, so that `pos_label="cancer"` matches."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    if values.dtype == object and any(isinstance(v, bytes) for v in values.ravel()[:100]):
        return np.array(
            [v.decode("utf-8") if isinstance(v, bytes) else v for v in values.ravel()], dtype=object
        ).reshape(values.shape)
    return values


def _show(values: Any, limit: int = 8) -> str:
    values = list(values)
    text = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return "{" + text + (", ..." if len(values) > limit else "") + "}"


def encode_labels(y: Any, pos_label: Any = None) -> np.ndarray:
    """Encodes two-valued labels as 0/1, with `pos_label` as class 1 (scikit-learn's name).

    Any two values work: strings (`"cancer"` / `"normal"`), `{1, 2}`,
    `{-1, 1}`, `{0, 255}` masks, booleans. `pos_label` says which one is the
    positive class; it may be left out only when the answer is unambiguous:
    booleans (`True`), `{0, 1}` and `{-1, 1}` (then `1`). Bytes, as read
    from a `tf.string` tensor, are compared as UTF-8 text.

    Args:
        y: the labels: an array, a list or a tensor, of any shape.
        pos_label: the value of the positive class.

    Returns:
        An int32 NumPy array of 0 and 1, of the shape of `y`.

    Raises:
        BinaryLabelError: `KB211` for more than two distinct values, `KB212`
            for a `pos_label` that does not occur, `KB213` when `pos_label`
            is needed but missing, `KB204` for NaN labels.

    Example:

    >>> encode_labels(["normal", "cancer", "cancer"], pos_label="cancer").tolist()
    [0, 1, 1]
    >>> encode_labels(np.array([1, 2, 2, 1]), pos_label=2).tolist()
    [0, 1, 1, 0]
    >>> encode_labels(np.array([-1, 1, 1])).tolist()
    [0, 1, 1]
    """
    values = _decode(np.asarray(to_numpy(y)))
    if isinstance(pos_label, bytes):
        pos_label = pos_label.decode("utf-8")
    if values.dtype.kind == "f" and np.isnan(values).any():
        nan = int(np.isnan(values).sum())
        raise BinaryLabelError(
            "KB204",
            f"{nan} of {values.size} labels are NaN.",
            received=f"{nan} NaN labels",
            expected="two distinct label values, no NaN",
            fix="drop the missing labels first: keep = ~np.isnan(y); x, y = x[keep], y[keep]",
        )
    try:
        distinct = np.unique(values)
    except TypeError:  # mixed types, e.g. 1 and "1"
        distinct = np.array(sorted({repr(v) for v in values.ravel()}), dtype=object)
        raise BinaryLabelError(
            "KB211",
            "the labels mix values of different types, which cannot be two classes.",
            received=f"labels {_show(distinct)}",
            expected="two distinct values of one type",
            fix="convert them to one type first, e.g. y = np.asarray(y).astype(str)",
        ) from None
    if distinct.size > 2:
        raise BinaryLabelError(
            "KB211",
            f"the labels have {distinct.size} distinct values; binary labels have two.",
            received=f"labels {_show(distinct)}",
            expected="two distinct values, e.g. {'normal', 'cancer'}",
            fix="merge the positive values: y = keras_binary.encode_labels(np.isin(y, ['cancer', 'benign']))",
        )
    if pos_label is None:
        if values.dtype.kind == "b":
            pos_label = True
        elif values.dtype.kind in "iuf" and set(distinct.tolist()) <= {0, 1}:
            pos_label = 1
        elif values.dtype.kind in "iuf" and set(distinct.tolist()) <= {-1, 1} and -1 in distinct:
            pos_label = 1
        else:
            example = distinct[-1].item() if hasattr(distinct[-1], "item") else distinct[-1]
            raise BinaryLabelError(
                "KB213",
                "these labels do not say which value is the positive class; pass it as pos_label.",
                received=f"labels {_show(distinct)} and pos_label=None",
                expected="pos_label, one of the two values (implicit only for booleans, {0, 1} and {-1, 1})",
                fix=f"y = keras_binary.encode_labels(y, pos_label={example!r})",
            )
    elif not np.any(values == pos_label):
        raise BinaryLabelError(
            "KB212",
            f"pos_label={pos_label!r} does not occur in the labels.",
            received=f"labels {_show(distinct)} and pos_label={pos_label!r}",
            expected=f"pos_label, one of {_show(distinct)}",
            fix=f"y = keras_binary.encode_labels(y, pos_label={(distinct[-1].item() if hasattr(distinct[-1], 'item') else distinct[-1])!r})",
        )
    return (values == pos_label).astype("int32")
