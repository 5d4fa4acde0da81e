"""Value checks that run with the model: labels, probabilities, softmax pairs.

Shapes are checked at trace time (`_contract`); values can only be seen while
running. `value_mask` checks a canonical batch element by element with
`keras.ops` (comparisons, no reduction, no host transfer): a loss folds the
mask into its own values, a metric reduces it (`value_stats`). The summary
that the message needs, a dozen numbers (`STATS`), is computed only when a
check may have failed, on the host with NumPy from the batch handed to the
callback, or in the step under TensorFlow's XLA (`_runtime.HostSummary`,
one definition for both, `_summary`); `_runtime.raise_if` turns it into a
`BinaryLabelError` on every backend, and `error_from_stats` writes the
message, so the text is the same everywhere.
"""

from __future__ import annotations

from types import SimpleNamespace
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
    "labels_integer",
    "labels_0_255",
    "labels_0_1_255",
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


# The fixes of two labelling conventions: 255 for void pixels of a
# segmentation mask, -1 for padded steps of a sequence.
VOID_FIX = "sample_weight = (y != 255).astype('float32'); y = np.where(y == 255, 0, y)  # void pixels weigh 0"
PADDING_FIX = (
    "sample_weight = (y != -1).astype('float32'); y = np.where(y == -1, 0, y)  # padded steps weigh 0"
)


# A softmax pair may miss 1 by rounding: float16 probabilities, cast to
# float32, sum to 1 within a few 1e-4. The tolerance of a narrower dtype is
# sized to it (`pair_sum_tolerance`).
PAIR_SUM_TOLERANCE = 5e-3


def pair_sum_tolerance(dtype: Any) -> float:
    """How far a genuine softmax pair of `dtype` may sum from 1.

    Each probability is rounded once to `dtype` (half an ulp of 1 at most),
    and the softmax itself, computed in `dtype`, adds a few ulps: 8 ulps of
    1, and never less than `PAIR_SUM_TOLERANCE`. bfloat16 (an ulp of
    2**-7): 0.0625; float16 and wider: 5e-3. Two independent sigmoids miss
    1 by far more, except on rows whose two scores happen to sum to 1.

    Args:
        dtype: the dtype of the predictions as the model returned them.

    Returns:
        A float.

    Example:

    >>> pair_sum_tolerance("float32"), pair_sum_tolerance("bfloat16")
    (0.005, 0.0625)
    """
    try:
        name = keras.backend.standardize_dtype(dtype)
    except Exception:  # noqa: BLE001 - an unknown dtype: the float32 tolerance
        return PAIR_SUM_TOLERANCE
    eps = {"bfloat16": 2.0**-7, "float16": 2.0**-10}.get(name)
    return PAIR_SUM_TOLERANCE if eps is None else max(PAIR_SUM_TOLERANCE, 8 * eps)


def value_stats(canonical: Canonical, raw_pred: Any, check_probabilities: bool = True):
    """Checks the values of a canonical batch, and says how to summarise them.

    A healthy step pays for one fused pass (a few comparisons and one
    `all`); the summary of a dozen reductions that the message needs is
    computed only when a check failed, on the host from the batch handed to
    the callback (`_runtime.HostSummary`): a large failing branch made
    every compiled JAX step slower on CPU, taken or not.

    Args:
        canonical: the result of `_contract.canonical_pair`.
        raw_pred: `y_pred` as passed in (before the pair was reduced).
        check_probabilities: whether scores must be probabilities in [0, 1].

    Returns:
        A tuple `(bad, stats)`: a scalar bool tensor, true when a check
        failed, and the summary for the message (see `value_mask`).
    """
    ok, summary = value_mask(canonical, raw_pred, check_probabilities)
    return ops.logical_not(ops.all(ok)), summary


def value_mask(
    canonical: Canonical,
    raw_pred: Any,
    check_probabilities: bool = True,
    check_logits: bool = True,
    pred_dtype: Any = None,
):
    """Checks the values of a canonical batch element by element.

    The mask costs a few comparisons per element and no reduction: a loss
    folds it into its own values (`ops.where(ok, losses, nan)`), so that the
    reduction Keras runs anyway also says whether every element passed, and
    a healthy step reads its inputs once (`ContractLoss`).

    Args:
        canonical: the result of `_contract.canonical_pair`.
        raw_pred: `y_pred` as passed in (before the pair was reduced).
        check_probabilities: whether scores must be probabilities in [0, 1].
        check_logits: whether logits must be finite. A loss folds the mask
            into values that a non-finite logit makes non-finite anyway.
        pred_dtype: the dtype the model returned `y_pred` in, when it was
            cast since (Keras's losses cast it to their own dtype); `None`
            for `raw_pred`'s. It sizes the softmax pair's tolerance.

    Returns:
        A tuple `(ok, stats)`: a rank-1 bool tensor shaped like
        `canonical.y_pred`, false where a check failed, and the summary for
        the message, a `_runtime.HostSummary` of the float32 vector with the
        entries named in `STATS` (see `value_stats`).
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
    tolerance = PAIR_SUM_TOLERANCE
    if check_pair:
        tolerance = pair_sum_tolerance(pred_dtype or getattr(raw_pred, "dtype", "float32"))
        raw = ops.stop_gradient(ops.cast(raw_pred, "float32"))
        pair_sum = ops.reshape(ops.take(raw, 0, axis=-1) + ops.take(raw, 1, axis=-1), (-1,))

    # Comparisons with NaN are false, so NaN (and, for probabilities, inf)
    # fails every range test below.
    ok = ops.logical_and(y >= 0.0, y <= 1.0)
    if probabilities:
        ok = ops.logical_and(ok, ops.logical_and(s >= 0.0, s <= 1.0))
    elif check_logits:
        # An infinite logit makes the loss NaN as surely as a NaN.
        ok = ops.logical_and(ok, ops.isfinite(s))
    if check_pair:
        ok = ops.logical_and(ok, ops.logical_not(ops.abs(pair_sum - 1.0) > tolerance))
    if onehot_sum is not None:
        # One-hot rows sum to 1 (soft one-hot rows too); NaN fails.
        ok = ops.logical_and(ok, ops.abs(onehot_sum - 1.0) <= PAIR_SUM_TOLERANCE)

    present = [t for t in (onehot, pair_sum) if t is not None]
    layout = (probabilities, onehot is not None, pair_sum is not None)

    def on_host(y, s, *rest):
        return _summary(_HOST_OPS, y, s, *_unpack(layout, rest)).astype("float32")

    def on_device():
        return _summary(_DEVICE_OPS, y, s, probabilities, onehot, pair_sum)

    summary = _runtime.HostSummary((y, s, *present), on_host, on_device, len(STATS))
    return ok, summary


def _unpack(layout: tuple, rest: tuple) -> tuple:
    probabilities, has_onehot, has_pair = layout
    rest = list(rest)
    onehot = rest.pop(0) if has_onehot else None
    pair_sum = rest.pop(0) if has_pair else None
    return probabilities, onehot, pair_sum


def _np_count(mask: Any) -> np.ndarray:
    return np.float32(np.count_nonzero(mask))


# The operations `_summary` uses: `keras.ops` in the step (TensorFlow's XLA
# path, which cannot call the host), NumPy on the host (everywhere else).
_DEVICE_OPS = SimpleNamespace(
    isnan=ops.isnan,
    isfinite=ops.isfinite,
    logical_or=ops.logical_or,
    logical_not=ops.logical_not,
    where=ops.where,
    equal=ops.equal,
    round=ops.round,
    abs=ops.abs,
    all=ops.all,
    take=ops.take,
    reshape=ops.reshape,
    stack=ops.stack,
    count=lambda mask: ops.sum(ops.cast(mask, "float32")),
    as_float=lambda x: ops.cast(x, "float32"),
    size=ops.size,
    reduce_min=_runtime.reduce_min,
    reduce_max=_runtime.reduce_max,
)
_HOST_OPS = SimpleNamespace(
    isnan=np.isnan,
    isfinite=np.isfinite,
    logical_or=np.logical_or,
    logical_not=np.logical_not,
    where=np.where,
    equal=np.equal,
    round=np.round,
    abs=np.abs,
    all=np.all,
    take=np.take,
    reshape=np.reshape,
    stack=np.stack,
    count=_np_count,
    as_float=np.float32,
    size=np.size,
    reduce_min=lambda x, initial: np.min(x, initial=initial),
    reduce_max=lambda x, initial: np.max(x, initial=initial),
)


def _summary(xp: Any, y: Any, s: Any, probabilities: bool, onehot: Any, pair_sum: Any) -> Any:
    """The `STATS` vector of a canonical batch, with the operations of `xp`.

    Args:
        xp: `_DEVICE_OPS` or `_HOST_OPS`.
        y, s: float32 labels and scores, rank 1.
        probabilities: whether the scores must lie in [0, 1].
        onehot: the `(N, 2)` one-hot labels, or `None`.
        pair_sum: the sums of the softmax pairs, rank 1, or `None`.
    """
    inf = float("inf")
    onehot_sum = None
    if onehot is not None:
        onehot_sum = xp.reshape(xp.take(onehot, 0, axis=-1) + xp.take(onehot, 1, axis=-1), (-1,))
    y_nan = xp.isnan(y)
    if onehot_sum is not None:  # a NaN in column 0 is a NaN label too
        y_nan = xp.logical_or(y_nan, xp.isnan(onehot_sum))
    y_clean = xp.where(y_nan, 0.0, y)
    label_out = xp.logical_or(y_clean < 0.0, y_clean > 1.0)
    is_1_2 = xp.logical_or(xp.equal(y, 1.0), xp.equal(y, 2.0))
    is_m1_1 = xp.logical_or(xp.equal(y, -1.0), xp.equal(y, 1.0))
    s_nan = xp.logical_not(xp.isfinite(s))
    s_clean = xp.where(s_nan, 0.0, s)
    zero = xp.as_float(0.0)
    pred_out = xp.count(xp.logical_or(s_clean < 0.0, s_clean > 1.0)) if probabilities else zero
    if pair_sum is not None:
        pair_error = xp.reduce_max(xp.abs(xp.where(xp.isnan(pair_sum), 1.0, pair_sum) - 1.0), 0.0)
    else:
        pair_error = zero
    n = xp.as_float(xp.size(y))
    is_0_255 = xp.logical_or(xp.equal(y, 0.0), xp.equal(y, 255.0))
    label_kinds = [
        xp.as_float(xp.all(xp.equal(y_clean, xp.round(y_clean)))),
        xp.as_float(xp.equal(xp.count(is_0_255), n)),
        xp.as_float(xp.equal(xp.count(xp.logical_or(is_0_255, xp.equal(y, 1.0))), n)),
    ]
    if onehot_sum is not None:
        sums = xp.where(xp.isnan(onehot_sum), 1.0, onehot_sum)
        onehot_stats = [
            xp.count(xp.abs(sums - 1.0) > PAIR_SUM_TOLERANCE),
            xp.as_float(xp.all(xp.logical_or(xp.equal(onehot, 0.0), xp.equal(onehot, 1.0)))),
            xp.reduce_min(sums, inf),
            xp.reduce_max(sums, -inf),
        ]
    else:
        onehot_stats = [zero, zero, zero, zero]
    return xp.stack(
        [
            xp.as_float(x)
            for x in (
                n,
                xp.count(y_nan),
                xp.reduce_min(y_clean, inf),
                xp.reduce_max(y_clean, -inf),
                xp.count(label_out),
                xp.as_float(xp.equal(xp.count(is_1_2), n)),
                xp.as_float(xp.equal(xp.count(is_m1_1), n)),
                xp.count(s_nan),
                xp.reduce_min(s_clean, inf),
                xp.reduce_max(s_clean, -inf),
                pred_out,
                pair_error,
                *onehot_stats,
                *label_kinds,
            )
        ]
    )


def stats_failed(stats: Any) -> Any:
    """Whether a summary of `value_stats` shows a failed check.

    A loss that folds its mask into its values learns only that its result
    is not finite, which a NaN sample weight, an overflow or a wrapped loss
    can also cause; the summary, computed then, says whether a check failed.

    Args:
        stats: the float vector of `value_stats`: NumPy, or a tensor (then
            the result is a scalar bool tensor).

    Returns:
        A bool.

    Example:

    >>> import numpy as np
    >>> stats = np.zeros(len(STATS))
    >>> stats_failed(stats), stats_failed(np.where(np.arange(len(STATS)) == 1, 1.0, stats))
    (False, True)
    """
    if isinstance(stats, np.ndarray):
        s = dict(zip(STATS, np.asarray(stats, dtype="float64").tolist(), strict=True))
        return any(s[k] > 0 for k in _FAILURE_COUNTS) or s["pair_error"] > PAIR_SUM_TOLERANCE
    failed = ops.take(stats, STATS.index("pair_error")) > PAIR_SUM_TOLERANCE
    for name in _FAILURE_COUNTS:
        failed = ops.logical_or(failed, ops.take(stats, STATS.index(name)) > 0)
    return failed


# The counts of the summary that a failed check makes positive.
_FAILURE_COUNTS = ("label_nan", "label_out", "pred_nan", "pred_out", "onehot_bad")


def error_if_failed(stats: Any, source: Source | None = None) -> BinaryLabelError | None:
    """`error_from_stats`, or `None` when the summary shows no failed check.

    Args:
        stats: the float vector of `value_stats`, as NumPy.
        source: as in `error_from_stats`.

    Returns:
        The error to raise, or `None`.
    """
    return error_from_stats(stats, source) if stats_failed(np.asarray(stats)) else None


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
            fix=(
                "drop or impute the missing labels: y = np.asarray(y, dtype='float32'); "
                "keep = ~np.isnan(y); x, y = x[keep], y[keep]"
            ),
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
        why = ""
        integer = bool(s["labels_integer"])
        if s["label_min"] >= 0 and s["label_max"] == 255 and not s["labels_0_255"] and s["labels_0_1_255"]:
            why = " 255 marks void pixels (the VOC and Cityscapes convention): they are no class."
            hint = VOID_FIX
        elif s["label_min"] >= 0 and s["label_max"] == 255 and (s["labels_0_255"] or not integer):
            hint = "y = y / 255  # labels on the 0-255 pixel scale"
        elif integer and s["label_min"] == -1 and s["label_max"] <= 1:
            why = " If -1 marks padded steps, weight them 0 (or mask them: Embedding(mask_zero=True))."
            hint = PADDING_FIX
        elif integer and s["label_min"] >= 0 and s["label_max"] >= 2:
            why = (
                f" Integer labels up to {_num(s['label_max'])}: {_num(s['label_max'])} is a class of its own, "
                "which y > 0 would merge with class 1."
            )
            hint = (
                f"y = (y == 1).astype('float32')  # one class against the rest; {whole}; for K classes use "
                "Dense(K, 'softmax') with 'sparse_categorical_crossentropy'"
            )
        return BinaryLabelError(
            "KB201",
            f"{where}{int(s['label_out'])} of {n} labels are outside [0, 1].{why}",
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
