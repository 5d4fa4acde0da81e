"""The whole-array label check that the fit guard runs on the host before the first step.

A step sees one batch; this sees every label, so the message is judged from
all of them (a three-class folder read unshuffled is not "labels in {1, 2}"),
and it covers TensorFlow's XLA path, where the step cannot raise, for array
inputs. A healthy array costs one pass over its memory: the minimum and the
maximum (NaN propagates through both) of cache-sized chunks, plus the row
sums of `(N, 2)` one-hot pairs. Only an array that fails is looked at again,
to write the message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_binary._value_checks import PADDING_FIX, PAIR_SUM_TOLERANCE, STATS, error_from_stats
from keras_binary.errors import BinaryLabelError

# Elements per chunk: 1 MiB of float32, so that the second reduction of a
# chunk reads it from the cache, not from memory.
_CHUNK = 1 << 18
# Up to this many distinct integer values are listed as class ids (KB209).
_MAX_LISTED = 6


def as_label_array(y: Any) -> np.ndarray | None:
    """`y` as a NumPy array when it is one (NumPy, a backend tensor, a list); else `None`.

    Datasets, generators, `PyDataset`s and dicts of several outputs return
    `None`: their batches are checked by the losses and metrics while running.
    """
    if y is None or isinstance(y, (dict, str, bytes)):
        return None
    if isinstance(y, (list, tuple)):
        if len(y) == 1:
            return as_label_array(y[0])
        return None
    if isinstance(y, np.ndarray):
        return y
    if hasattr(y, "__array__") or hasattr(y, "numpy"):
        try:
            import keras

            return np.asarray(keras.ops.convert_to_numpy(y))
        except Exception:  # noqa: BLE001 - not an array after all: leave it to the steps
            return None
    return None


def check_labels(
    y: Any, *, one_hot_pairs: bool = True, name: str = "y", padding: float | None = None
) -> None:
    """Raises the coded error for labels a binary loss cannot use, judged from all of them.

    Args:
        y: the labels passed to `fit`, `evaluate` or `train_on_batch`.
        one_hot_pairs: whether a last axis of size 2 holds one-hot rows (the
            shape contract's reading; `False` under `multi_label=True`).
        name: what to call the labels in the message.
        padding: a label value that marks masked steps (`-1` where the
            model's output carries a Keras mask), left to the losses and
            metrics, which see the mask; `None` for none.

    Raises:
        BinaryLabelError: `KB210` (strings), `KB217` (an object array of
            numbers), `KB204` (NaN), `KB202`
            (`{1, 2}`), `KB203` (`{-1, 1}`), `KB201` (outside `[0, 1]`, with
            the `/ 255` hint for pixel masks), `KB209` (three or more class
            ids) or `KB208` (`(N, 2)` rows that are not one-hot).

    Example:

    >>> import numpy as np
    >>> check_labels(np.array([0, 1, 1, 0]))
    >>> try:
    ...     check_labels(np.array([0, 1, 2, 1]))
    ... except BinaryLabelError as error:
    ...     print(error.code)
    KB209
    """
    array = as_label_array(y)
    if array is None or array.size == 0:
        return
    kind = array.dtype.kind
    if kind in "USO":
        _check_strings(array, name)
        if kind != "O":
            return
        raise _object_error(array, name)
    if kind == "b":
        return
    if kind not in "iuf":
        return
    pairs = one_hot_pairs and array.ndim >= 2 and array.shape[-1] == 2
    flat = array.reshape(-1)
    if padding is not None and not pairs:
        flat = flat[flat != padding]
        if flat.size == 0:
            return
    row_error = False
    lo, hi = np.inf, -np.inf
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        lo = np.minimum(lo, chunk.min())
        hi = np.maximum(hi, chunk.max())
        if pairs and not row_error:
            sums = chunk[0::2] + chunk[1::2]
            row_error = bool(np.any(np.abs(sums - 1) > PAIR_SUM_TOLERANCE))
    if row_error:  # the specific diagnosis of (N, 2) labels comes first
        raise _pair_error(array, name)
    if np.isnan(lo) or np.isnan(hi) or lo < 0 or hi > 1:
        raise _value_error(flat, name)


def _check_strings(array: np.ndarray, name: str) -> None:
    first = array.reshape(-1)[0]
    if array.dtype.kind in "US" or isinstance(first, (str, bytes)):
        values = sorted({str(v) for v in array.reshape(-1)[:10_000]})
        shown = ", ".join(repr(v) for v in values[:_MAX_LISTED]) + (
            ", ..." if len(values) > _MAX_LISTED else ""
        )
        pos = repr(values[-1]) if values else "'yes'"
        raise BinaryLabelError(
            "KB210",
            f"the labels ({name}) are strings; a binary loss needs the numbers 0 and 1.",
            received=f"{name}.dtype={array.dtype}, values {shown}",
            expected="labels in {0, 1} (integers, floats or booleans)",
            fix=f"y = keras_binary.encode_labels(y, pos_label={pos})",
        )


def _object_error(array: np.ndarray, name: str) -> BinaryLabelError:
    """`KB217`: numbers in an object array (pandas `.values` of a mixed or nullable column)."""
    kinds = sorted({type(v).__name__ for v in array.reshape(-1)[:1000]})
    try:
        array.astype("float32")
        fix = "y = y.astype('float32')"
    except (TypeError, ValueError):
        fix = "y = pd.Series(y).astype('float32').to_numpy()  # NA becomes NaN: drop those rows"
    return BinaryLabelError(
        "KB217",
        f"the labels ({name}) are an array of Python objects (dtype object, e.g. pandas .values of a "
        "mixed or nullable column); Keras cannot convert them to a tensor.",
        received=f"{name}.dtype=object, elements of type {', '.join(kinds)}",
        expected="a numeric array: labels in {0, 1} as integers, floats or booleans",
        fix=fix,
    )


def _value_error(flat: np.ndarray, name: str) -> BinaryLabelError:
    """The message of a failed value check, written from every label."""
    values = flat.astype("float64")
    nan = np.isnan(values)
    clean = values[~nan]
    stats = dict.fromkeys(STATS, 0.0)
    stats["count"] = float(values.size)
    stats["label_nan"] = float(nan.sum())
    if clean.size:
        stats["label_min"], stats["label_max"] = float(clean.min()), float(clean.max())
        stats["label_out"] = float(np.count_nonzero((clean < 0) | (clean > 1)))
        stats["labels_1_2"] = float(np.all((clean == 1) | (clean == 2)) and not nan.any())
        stats["labels_minus1_1"] = float(np.all((clean == -1) | (clean == 1)) and not nan.any())
        stats["labels_integer"] = float(np.all(clean == np.round(clean)))
        stats["labels_0_255"] = float(np.all((clean == 0) | (clean == 255)) and not nan.any())
        stats["labels_0_1_255"] = float(
            np.all((clean == 0) | (clean == 1) | (clean == 255)) and not nan.any()
        )
    if not nan.any() and clean.size and np.all(clean == np.round(clean)) and not stats["label_max"] == 255:
        ids, counts = np.unique(clean, return_counts=True)
        if ids.size >= 3:
            return _classes_error(ids, counts, name)
    error = error_from_stats(np.array([stats[s] for s in STATS], "float32"))
    if name == "y":
        return error
    return BinaryLabelError(
        error.code,
        error.summary,
        received=f"{name}: {error.received}",
        expected=error.expected,
        fix=error.fix,
    )


def _classes_error(ids: np.ndarray, counts: np.ndarray, name: str) -> BinaryLabelError:
    if ids.tolist() == [-1.0, 0.0, 1.0]:
        summary = (
            "the labels hold 3 class ids, -1, 0 and 1; a binary loss needs 0 and 1. If -1 marks padded "
            "steps, weight them 0 (or mask them: Embedding(mask_zero=True), then -1 is read by nothing)."
        )
        fix = PADDING_FIX
    else:
        summary = f"the labels hold {ids.size} class ids; a binary loss needs two classes, 0 and 1."
        fix = (
            f"y = (y == {ids[-1]:g}).astype('float32')  # class {ids[-1]:g} against the rest; "
            "for K classes use Dense(K, 'softmax') with 'sparse_categorical_crossentropy'"
        )
    listed = ", ".join(f"{v:g} ({c})" for v, c in zip(ids[:_MAX_LISTED], counts[:_MAX_LISTED], strict=True))
    more = f", ... ({ids.size} values in all)" if ids.size > _MAX_LISTED else ""
    return BinaryLabelError(
        "KB209",
        summary,
        received=f"{name} values (count): {listed}{more}, {int(counts.sum())} labels",
        expected="labels in {0, 1}: one class against the other",
        fix=fix,
    )


def _pair_error(array: np.ndarray, name: str) -> BinaryLabelError:
    rows = array.reshape(-1, 2).astype("float64")
    wrong = np.abs(rows.sum(axis=1) - 1) > PAIR_SUM_TOLERANCE
    examples = ", ".join(str(r.tolist()) for r in np.unique(rows[wrong], axis=0)[:3])
    binary = bool(np.all((rows == 0) | (rows == 1)))
    fix = (
        "y = keras.utils.to_categorical(y[:, 1], 2)  # column 1 as the label; "
        "multi_label=True if the two columns are independent labels"
        if binary
        else "y = np.argmax(y, axis=-1)  # the class of the larger column"
    )
    return BinaryLabelError(
        "KB208",
        f"{int(wrong.sum())} of {len(rows)} label rows of shape (N, 2) are not one-hot: "
        "they do not sum to 1.",
        received=f"{name}.shape={tuple(array.shape)}, rows such as {examples}",
        expected="one-hot rows [1, 0] or [0, 1] (or soft pairs that sum to 1)",
        fix=fix,
    )
