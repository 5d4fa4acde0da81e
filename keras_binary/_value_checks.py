"""Value checks that run with the model: labels, probabilities, softmax pairs.

Shapes are checked at trace time (`_contract`); values can only be seen while
running. `value_stats` checks a canonical batch with `keras.ops` in one
fused pass (comparisons and one `all`, no host transfer) and describes how to
summarise it in a dozen numbers; `_runtime.raise_if` computes that summary
only when a check failed and turns it into a `BinaryLabelError` on the host,
on every backend, and `error_from_stats` writes the message, so the text is
the same everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from keras_binary import _runtime
from keras_binary._contract import Canonical
from keras_binary.errors import BinaryLabelError

# Names of the entries of the summary vector, in order.
STATS = (
    "count",
    "label_nan",
    "label_min",
    "label_max",
    "label_out",
    "labels_1_2",
    "labels_minus1_1",
    "pred_nan",
    "pred_min",
    "pred_max",
    "pred_out",
    "pair_error",
)

# A softmax pair may miss 1 by rounding: float16 probabilities, cast to
# float32, sum to 1 within a few 1e-4.
PAIR_SUM_TOLERANCE = 5e-3


def value_stats(canonical: Canonical, raw_pred: Any, check_probabilities: bool = True):
    """Checks the values of a canonical batch, and says how to summarise them.

    A healthy step pays for one fused pass (a few comparisons and one
    `all`); the summary of a dozen reductions that the message needs is a
    function, which `_runtime.raise_if` traces only into the failing branch.

    Args:
        canonical: the result of `_contract.canonical_pair`.
        raw_pred: `y_pred` as passed in (before the pair was reduced).
        check_probabilities: whether scores must be probabilities in [0, 1].

    Returns:
        A tuple `(bad, stats)`: a scalar bool tensor, true when a check
        failed, and a function of no arguments that returns a float32 vector
        with the entries named in `STATS`.
    """
    # The checks read values only: no gradient flows through them, and under
    # JAX's eager autodiff the summary stays a concrete array.
    y = ops.stop_gradient(ops.cast(canonical.y_true, "float32"))
    s = ops.stop_gradient(ops.cast(canonical.y_pred, "float32"))
    probabilities = check_probabilities and not canonical.from_logits
    # A pair of probabilities must sum to 1, also when TensorFlow handed over
    # the logits of its activation: those of two sigmoids are no softmax pair.
    raw_probabilities = not canonical.from_logits or canonical.keras_logits
    check_pair = canonical.layout.pred == "pair" and raw_probabilities
    pair_sum = None
    if check_pair:
        raw = ops.stop_gradient(ops.cast(raw_pred, "float32"))
        pair_sum = ops.reshape(ops.take(raw, 0, axis=-1) + ops.take(raw, 1, axis=-1), (-1,))

    # Comparisons with NaN are false, so NaN (and, for probabilities, inf)
    # fails every range test below.
    ok = ops.logical_and(y >= 0.0, y <= 1.0)
    if probabilities:
        ok = ops.logical_and(ok, ops.logical_and(s >= 0.0, s <= 1.0))
    else:
        # An infinite logit makes the loss NaN as surely as a NaN.
        ok = ops.logical_and(ok, ops.isfinite(s))
    if check_pair:
        ok = ops.logical_and(ok, ops.logical_not(ops.abs(pair_sum - 1.0) > PAIR_SUM_TOLERANCE))
    bad = ops.logical_not(ops.all(ok))

    def summary():
        inf = float("inf")
        y_nan = ops.isnan(y)
        y_clean = ops.where(y_nan, ops.zeros_like(y), y)
        label_out = ops.logical_or(y_clean < 0.0, y_clean > 1.0)
        is_1_2 = ops.logical_or(ops.equal(y, 1.0), ops.equal(y, 2.0))
        is_m1_1 = ops.logical_or(ops.equal(y, -1.0), ops.equal(y, 1.0))
        s_nan = ops.logical_not(ops.isfinite(s))
        s_clean = ops.where(s_nan, ops.zeros_like(s), s)
        zero = ops.zeros((), "float32")

        def count(mask):
            return ops.sum(ops.cast(mask, "float32"))

        pred_out = count(ops.logical_or(s_clean < 0.0, s_clean > 1.0)) if probabilities else zero
        if check_pair:
            pair_error = _runtime.reduce_max(
                ops.abs(ops.where(ops.isnan(pair_sum), 1.0, pair_sum) - 1.0), 0.0
            )
        else:
            pair_error = zero
        n = ops.cast(ops.size(y), "float32")
        return ops.stack(
            [
                n,
                count(y_nan),
                _runtime.reduce_min(y_clean, inf),
                _runtime.reduce_max(y_clean, -inf),
                count(label_out),
                ops.cast(ops.equal(count(is_1_2), n), "float32"),
                ops.cast(ops.equal(count(is_m1_1), n), "float32"),
                count(s_nan),
                _runtime.reduce_min(s_clean, inf),
                _runtime.reduce_max(s_clean, -inf),
                pred_out,
                pair_error,
            ]
        )

    return bad, summary


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"


def error_from_stats(stats: Any) -> BinaryLabelError:
    """Writes the `BinaryLabelError` that a bad summary calls for.

    Args:
        stats: the float vector of `value_stats`, as NumPy.

    Returns:
        The error to raise; the most specific code wins.
    """
    s = dict(zip(STATS, np.asarray(stats, dtype="float64").tolist(), strict=True))
    n = int(s["count"])
    labels_range = f"labels from {_num(s['label_min'])} to {_num(s['label_max'])}"
    if s["label_nan"] > 0:
        return BinaryLabelError(
            "KB204",
            f"{int(s['label_nan'])} of {n} labels are NaN.",
            received=f"{int(s['label_nan'])} NaN labels; the others range from {_num(s['label_min'])} to {_num(s['label_max'])}",
            expected="labels in [0, 1], no NaN",
            fix="drop or impute the missing labels: keep = ~np.isnan(y); x, y = x[keep], y[keep]",
        )
    if s["label_out"] > 0:
        if s["labels_1_2"]:
            return BinaryLabelError(
                "KB202",
                "the labels are encoded as {1, 2}; a binary loss needs {0, 1}.",
                received=f"{labels_range}, all in {{1, 2}} ({n} labels)",
                expected="labels in {0, 1} (or soft labels in [0, 1])",
                fix="y = y - 1",
            )
        if s["labels_minus1_1"]:
            return BinaryLabelError(
                "KB203",
                "the labels are encoded as {-1, 1}; a binary loss needs {0, 1}.",
                received=f"{labels_range}, all in {{-1, 1}} ({n} labels)",
                expected="labels in {0, 1} (or soft labels in [0, 1])",
                fix="y = (y + 1) / 2",
            )
        hint = "y = (y > 0).astype('float32')  # or map your two classes to 0 and 1"
        if s["label_min"] >= 0 and s["label_max"] == 255:
            hint = "y = y / 255  # labels on the 0-255 pixel scale"
        return BinaryLabelError(
            "KB201",
            f"{int(s['label_out'])} of {n} labels are outside [0, 1].",
            received=labels_range,
            expected="labels in {0, 1} (or soft labels in [0, 1])",
            fix=hint,
        )
    if s["pred_nan"] > 0:
        return BinaryLabelError(
            "KB207",
            f"{int(s['pred_nan'])} of {n} predictions are NaN or infinite: the model "
            "diverged or its input holds NaN.",
            received=f"{int(s['pred_nan'])} NaN or infinite predictions",
            expected="finite predictions",
            fix="check the inputs with np.isnan(x).any() and lower the learning rate",
        )
    if s["pred_out"] > 0:
        return BinaryLabelError(
            "KB205",
            f"{int(s['pred_out'])} of {n} predictions are outside [0, 1]: these look "
            "like logits, but the loss was told they are probabilities.",
            received=f"predictions from {_num(s['pred_min'])} to {_num(s['pred_max'])} with from_logits=False",
            expected="probabilities in [0, 1], or from_logits=True",
            fix="loss=keras_binary.SafeBCE(from_logits=True)",
        )
    return BinaryLabelError(
        "KB206",
        "a softmax pair does not sum to 1: these look like two independent "
        "scores (sigmoids or logits), not softmax probabilities.",
        received=f"pair sums off by up to {_num(s['pair_error'])}",
        expected=f"y_pred[..., 0] + y_pred[..., 1] == 1 within {PAIR_SUM_TOLERANCE}",
        fix="end the model with keras_binary.BinaryHead(units=2, activation='softmax'), or pass from_logits=True for logits",
    )
