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

from typing import Any, NamedTuple

import keras
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
    "onehot_bad",
    "onehot_binary",
    "onehot_min_sum",
    "onehot_max_sum",
)

class Source(NamedTuple):
    """What ran a value check, for its message (see `source_of`).

    Attributes:
        kind: `"loss"` or `"metric"`.
        name: the loss's or metric's `name`.
        with_logits: how to build it with `from_logits=True`, e.g.
            `"keras_binary.metrics.AUC(from_logits=True)"`.
    """

    kind: str
    name: str
    with_logits: str


# A loss with no source named is the package's main loss.
DEFAULT_SOURCE = Source("loss", "safe_bce", "loss=keras_binary.SafeBCE(from_logits=True)")


def source_of(obj: Any) -> Source:
    """Describes a loss or metric of the package for the messages of its checks.

    Args:
        obj: a `keras.losses.Loss` or `keras.metrics.Metric`.

    Returns:
        A `Source`.

    Example:

    >>> import keras_binary
    >>> source_of(keras_binary.metrics.AUC()).with_logits
    'keras_binary.metrics.AUC(from_logits=True)'
    """
    cls = type(obj)
    kind = "metric" if isinstance(obj, keras.metrics.Metric) else "loss"
    module = cls.__module__
    if module.startswith("keras_binary.metrics"):
        path = f"keras_binary.metrics.{cls.__name__}"
    elif module.startswith("keras_binary"):
        path = f"keras_binary.{cls.__name__}"
    else:
        path = cls.__name__
    with_logits = f"{path}(from_logits=True)"
    if cls.__name__ == "SafeLossWrapper":
        with_logits = "keras_binary.safe_loss(..., from_logits=True)"
    if kind == "loss":
        with_logits = "loss=" + with_logits
    return Source(kind, str(getattr(obj, "name", cls.__name__)), with_logits)


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
    onehot = canonical.onehot
    onehot_sum = None
    if onehot is not None:
        onehot = ops.stop_gradient(ops.cast(onehot, "float32"))
        onehot_sum = ops.reshape(ops.take(onehot, 0, axis=-1) + ops.take(onehot, 1, axis=-1), (-1,))
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
    if onehot_sum is not None:
        # One-hot rows sum to 1 (soft one-hot rows too); NaN fails.
        ok = ops.logical_and(ok, ops.abs(onehot_sum - 1.0) <= PAIR_SUM_TOLERANCE)
    bad = ops.logical_not(ops.all(ok))

    def summary():
        inf = float("inf")
        y_nan = ops.isnan(y)
        if onehot_sum is not None:  # a NaN in column 0 is a NaN label too
            y_nan = ops.logical_or(y_nan, ops.isnan(onehot_sum))
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
        if onehot_sum is not None:
            sums = ops.where(ops.isnan(onehot_sum), 1.0, onehot_sum)
            onehot_stats = [
                count(ops.abs(sums - 1.0) > PAIR_SUM_TOLERANCE),
                ops.cast(
                    ops.all(ops.logical_or(ops.equal(onehot, 0.0), ops.equal(onehot, 1.0))), "float32"
                ),
                _runtime.reduce_min(sums, inf),
                _runtime.reduce_max(sums, -inf),
            ]
        else:
            onehot_stats = [zero, zero, zero, zero]
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
                *onehot_stats,
            ]
        )

    return bad, summary


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"


def error_from_stats(stats: Any, source: Source | None = None) -> BinaryLabelError:
    """Writes the `BinaryLabelError` that a bad summary calls for.

    Args:
        stats: the float vector of `value_stats`, as NumPy.
        source: the loss or metric that ran the check (`source_of`); a
            metric is named in the message and its fixes name its class.
            `None` for `SafeBCE`.

    Returns:
        The error to raise; the most specific code wins.

    Example:

    >>> import numpy as np, keras_binary
    >>> stats = np.zeros(len(STATS))
    >>> stats[[0, 8, 9, 10]] = 4, -2.5, 3.0, 2    # 2 of 4 scores outside [0, 1]
    >>> error = error_from_stats(stats, source_of(keras_binary.metrics.AUC()))
    >>> print(error.summary.split(":")[0], "|", error.fix.split(";")[0])
    in metric 'auc' | keras_binary.metrics.AUC(from_logits=True) if the output layer is linear (logits)
    """
    source = source or DEFAULT_SOURCE
    where = f"in metric '{source.name}': " if source.kind == "metric" else ""
    s = dict(zip(STATS, np.asarray(stats, dtype="float64").tolist(), strict=True))
    n = int(s["count"])
    labels_range = f"labels from {_num(s['label_min'])} to {_num(s['label_max'])}"
    # A check during fit sees one batch: it cannot tell {1, 2} from a third
    # class that this batch happened not to hold.
    whole = "keras_binary.diagnose(model, x, y) checks all the labels"
    if s["label_nan"] > 0:
        return BinaryLabelError(
            "KB204",
            f"{where}{int(s['label_nan'])} of {n} labels are NaN.",
            received=f"{int(s['label_nan'])} NaN labels; the others range from {_num(s['label_min'])} to {_num(s['label_max'])}",
            expected="labels in [0, 1], no NaN",
            fix="drop or impute the missing labels: keep = ~np.isnan(y); x, y = x[keep], y[keep]",
        )
    if s["onehot_bad"] > 0:
        if s["onehot_binary"]:
            fix = (
                "y = keras.utils.to_categorical(y[:, 1], 2)  # column 1 as the label; "
                "multi_label=True if the two columns are independent labels"
            )
        else:
            fix = "y = np.argmax(y, axis=-1)  # the larger column as the class"
        return BinaryLabelError(
            "KB208",
            f"{where}{int(s['onehot_bad'])} of {n} label rows of shape (N, 2) are not one-hot: "
            "their two columns do not sum to 1.",
            received=(
                f"label rows summing to {_num(s['onehot_min_sum'])} to {_num(s['onehot_max_sum'])}"
                + (" (e.g. [0, 0] or [1, 1])" if s["onehot_binary"] else "")
            ),
            expected="one-hot rows [1, 0] or [0, 1] (soft rows summing to 1), or one 0/1 label per example",
            fix=fix,
        )
    if s["label_out"] > 0:
        if s["labels_1_2"]:
            return BinaryLabelError(
                "KB202",
                f"{where}the labels of this call (during fit: of one batch) are all 1 or 2; a binary "
                f"{source.kind} needs {{0, 1}}. If 1 and 2 are your two classes, shift them; a third "
                "class that this batch did not hold (e.g. 0, 1, 2 read in order) needs another fix.",
                received=f"{labels_range}, all in {{1, 2}} ({n} labels)",
                expected="labels in {0, 1} (or soft labels in [0, 1])",
                fix=f"y = y - 1  # if every label is 1 or 2: {whole}",
            )
        if s["labels_minus1_1"]:
            return BinaryLabelError(
                "KB203",
                f"{where}the labels of this call (during fit: of one batch) are all -1 or 1; a binary "
                f"{source.kind} needs {{0, 1}}. If -1 and 1 are your two classes, map them; other "
                "values that this batch did not hold need another fix.",
                received=f"{labels_range}, all in {{-1, 1}} ({n} labels)",
                expected="labels in {0, 1} (or soft labels in [0, 1])",
                fix=f"y = (y + 1) / 2  # if every label is -1 or 1: {whole}",
            )
        hint = "y = (y > 0).astype('float32')  # or map your two classes to 0 and 1"
        if s["label_min"] >= 0 and s["label_max"] == 255:
            hint = "y = y / 255  # labels on the 0-255 pixel scale"
        return BinaryLabelError(
            "KB201",
            f"{where}{int(s['label_out'])} of {n} labels are outside [0, 1].",
            received=labels_range,
            expected="labels in {0, 1} (or soft labels in [0, 1])",
            fix=hint,
        )
    if s["pred_nan"] > 0:
        return BinaryLabelError(
            "KB207",
            f"{where}{int(s['pred_nan'])} of {n} predictions are NaN or infinite: the model "
            "diverged or its input holds NaN.",
            received=f"{int(s['pred_nan'])} NaN or infinite predictions",
            expected="finite predictions",
            fix="check the inputs with np.isnan(x).any() and lower the learning rate",
        )
    if s["pred_out"] > 0:
        received = f"predictions from {_num(s['pred_min'])} to {_num(s['pred_max'])} with from_logits=False"
        expected = "probabilities in [0, 1] (a sigmoid or softmax output), or logits with from_logits=True"
        if s["pred_min"] >= 0:
            # What a relu or softplus output gives: from_logits=True would be
            # silently wrong there (the sigmoid of a relu output is >= 0.5).
            received += "; none negative, as from a relu or softplus output"
        return BinaryLabelError(
            "KB205",
            f"{where}{int(s['pred_out'])} of {n} predictions are outside [0, 1], but the "
            f"{source.kind} was told they are probabilities: the model outputs logits, "
            "or its output layer is not a sigmoid.",
            received=received,
            expected=expected,
            fix=(
                f"{source.with_logits} if the output layer is linear (logits); else end the model "
                "with a sigmoid or keras_binary.BinaryHead() (from_logits=True on a relu output is silently wrong)"
            ),
        )
    return BinaryLabelError(
        "KB206",
        f"{where}a softmax pair does not sum to 1: these look like two independent "
        "scores (sigmoids or logits), not softmax probabilities.",
        received=f"pair sums off by up to {_num(s['pair_error'])}",
        expected=f"y_pred[..., 0] + y_pred[..., 1] == 1 within {PAIR_SUM_TOLERANCE}",
        fix=(
            "end the model with keras_binary.BinaryHead(units=2, activation='softmax'), or pass "
            + ("from_logits=True for logits" if source.kind == "loss" else f"{source.with_logits} for logits")
        ),
    )
