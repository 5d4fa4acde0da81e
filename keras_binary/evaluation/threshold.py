"""Operating points: choosing, storing and applying a decision threshold."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from keras_binary.errors import BinaryConfigError, BinaryLabelError
from keras_binary.evaluation import _data
from keras_binary.evaluation._deps import require
from keras_binary.layers import _check_threshold

METHODS = ("youden", "sensitivity", "specificity", "f1", "cost")


def json_value(v: Any) -> Any:
    """`v` as JSON reads it: NaN as `None`, a tuple (an interval) as a list.

    Example:

    >>> json_value((0.25, float("nan")))
    [0.25, None]
    """
    if isinstance(v, tuple):
        return [json_value(x) for x in v]
    return None if isinstance(v, float) and math.isnan(v) else v


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold and what it achieves on the data it was chosen on.

    A probability above `threshold` is a positive, as in the package's
    metrics and `keras_binary.report`.

    Attributes:
        threshold: the decision threshold, a probability in [0, 1].
        sensitivity: the true positive rate it achieves on its data.
        specificity: the true negative rate it achieves on its data.
        ppv: the precision it achieves (NaN with no predicted positive).
        npv: the negative predictive value (NaN with no predicted negative).
        method: how it was chosen, e.g. `"sensitivity"`.
        value: the target rate of `"sensitivity"` and `"specificity"`, else `None`.
        cost_fp: the cost of a false positive (method `"cost"`).
        cost_fn: the cost of a false negative (method `"cost"`).
        sensitivity_ci: the two-sided Wilson interval of the sensitivity, on
            the data the threshold was chosen on (so optimistic, like the rate).
        specificity_ci: the same for the specificity.
        confidence: the level of the one-sided bound the threshold was chosen
            with (`select_threshold(..., confidence=...)`), else `None`; the
            intervals have this level, or 0.95.

    Example:

    >>> point = keras_binary.select_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], method="youden")
    >>> point.threshold, point.sensitivity, point.specificity
    (0.75, 0.5, 1.0)
    """

    threshold: float
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    method: str
    value: float | None = None
    cost_fp: float = 1.0
    cost_fn: float = 1.0
    sensitivity_ci: tuple[float, float] = (math.nan, math.nan)
    specificity_ci: tuple[float, float] = (math.nan, math.nan)
    confidence: float | None = None

    def to_dict(self) -> dict:
        """The operating point as plain Python values (NaN as `None`, intervals as lists), ready for JSON."""
        return {k: json_value(v) for k, v in dataclasses.asdict(self).items()}

    def __repr__(self) -> str:
        target = "" if self.value is None else f", value={self.value:g}"
        costs = f", cost_fp={self.cost_fp:g}, cost_fn={self.cost_fn:g}" if self.method == "cost" else ""
        return (
            f"OperatingPoint(method={self.method!r}{target}{costs}, threshold={self.threshold:.6g}, "
            f"sensitivity={self.sensitivity:.4f}, specificity={self.specificity:.4f}"
            + (f", confidence={self.confidence:g})" if self.confidence is not None else ")")
        )


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def check_confidence(confidence: Any, where: str, fix: str) -> None:
    """Raises `KB373` unless `confidence` is a level in (0, 1).

    Example:

    >>> check_confidence(0.95, "compare", "keras_binary.compare(y, p_a, p_b, confidence=0.95)")
    >>> check_confidence(95, "compare", "...")
    Traceback (most recent call last):
    ...
    keras_binary.errors.BinaryConfigError: KB373: compare needs a confidence level in (0, 1).
    ...
    """
    if not _is_real(confidence) or not 0.0 < float(confidence) < 1.0:
        raise BinaryConfigError(
            "KB373",
            f"{where} needs a confidence level in (0, 1).",
            received=f"confidence={confidence!r}",
            expected="a level in (0, 1), e.g. 0.95",
            fix=fix,
        )


def _check_confidence(method: Any, confidence: Any) -> None:
    if confidence is None:
        return
    check_confidence(
        confidence,
        "select_threshold",
        "keras_binary.select_threshold(y_val, p_val, method='sensitivity', value=0.95, confidence=0.95)",
    )
    if method not in ("sensitivity", "specificity"):
        raise BinaryConfigError(
            "KB374",
            f"method={method!r} has no target rate to bound; confidence applies to 'sensitivity' and "
            "'specificity' only.",
            received=f"method={method!r}, confidence={confidence!r}",
            expected="confidence=None, or method='sensitivity' or 'specificity' with a value",
            fix="keras_binary.select_threshold(y_val, p_val, method='sensitivity', value=0.95, confidence=0.95)",
        )


def _check_method(method: Any, value: Any, cost_fp: Any, cost_fn: Any) -> None:
    def bad(summary: str, received: str, expected: str, fix: str) -> BinaryConfigError:
        return BinaryConfigError("KB362", summary, received=received, expected=expected, fix=fix)

    if method not in METHODS:
        raise bad(
            f"unknown operating-point method {method!r}.",
            f"method={method!r}",
            "one of " + ", ".join(repr(m) for m in METHODS),
            "keras_binary.select_threshold(y_val, p_val, method='sensitivity', value=0.95)",
        )
    if method in ("sensitivity", "specificity"):
        if not _is_real(value) or not 0.0 <= float(value) <= 1.0:
            raise bad(
                f"method={method!r} needs a target rate in [0, 1] as value.",
                f"method={method!r}, value={value!r}",
                f"value in [0, 1], the {method} to reach",
                f"keras_binary.select_threshold(y_val, p_val, method={method!r}, value=0.95)",
            )
    elif value is not None:
        raise bad(
            f"method={method!r} takes no value; only 'sensitivity' and 'specificity' have a target.",
            f"method={method!r}, value={value!r}",
            "value=None",
            f"keras_binary.select_threshold(y_val, p_val, method={method!r})",
        )
    for name, cost in (("cost_fp", cost_fp), ("cost_fn", cost_fn)):
        if not _is_real(cost) or cost < 0:
            raise bad(
                f"{name} is the cost of one error, a finite number >= 0.",
                f"{name}={cost!r}",
                f"{name} >= 0",
                "keras_binary.select_threshold(y_val, p_val, method='cost', cost_fp=1.0, cost_fn=5.0)",
            )
    if method == "cost" and cost_fp == 0 and cost_fn == 0:
        raise bad(
            "with cost_fp=0 and cost_fn=0 every threshold costs nothing.",
            "cost_fp=0, cost_fn=0",
            "at least one positive cost",
            "keras_binary.select_threshold(y_val, p_val, method='cost', cost_fp=1.0, cost_fn=5.0)",
        )


def candidates(p: np.ndarray) -> np.ndarray:
    """Every distinct decision the probabilities allow, as thresholds in [0, 1].

    Candidate `k` makes the scores `>= u_k` positive (`u` the sorted distinct
    scores): a threshold between `u_{k-1}` and `u_k` (their midpoint); the
    last candidate makes none positive. "All positive" needs a threshold
    below the lowest score, which does not exist when that score is 0.

    Example:

    >>> candidates(np.array([0.2, 0.6, 0.6, 1.0])).tolist()
    [0.1, 0.4, 0.8, 1.0]
    """
    u = np.unique(p)
    mid = u[:-1] + (u[1:] - u[:-1]) / 2
    mid = np.where(mid < u[1:], mid, u[:-1])  # adjacent floats: u_{k-1} itself separates them
    first = [u[0] / 2] if u[0] > 0 else []
    top = u[-1] + (1.0 - u[-1]) / 2
    last = top if u[-1] < top < 1.0 else 1.0
    return np.concatenate([first, mid, [last]])


def _confusion(y, p, w, thresholds):
    """Weighted tp, fp, tn, fn at each threshold (a probability above it is a positive)."""
    order = np.argsort(p)
    ps, ys, ws = p[order], y[order], w[order]
    # Number of scores <= t: the examples below the threshold.
    below = np.searchsorted(ps, thresholds, side="right")
    pos_cum = np.concatenate([[0.0], np.cumsum(ws * ys)])
    neg_cum = np.concatenate([[0.0], np.cumsum(ws * (1 - ys))])
    fn, tn = pos_cum[below], neg_cum[below]
    return pos_cum[-1] - fn, neg_cum[-1] - tn, tn, fn


def select_threshold(
    y_true: Any,
    y_pred: Any,
    *,
    method: str = "youden",
    value: float | None = None,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    from_logits: bool = False,
    sample_weight: Any = None,
    confidence: float | None = None,
) -> OperatingPoint:
    """Chooses a decision threshold on validation data.

    Every distinct decision the scores allow is considered (a threshold
    between each pair of consecutive distinct probabilities), and the best
    for the method is returned, with what it achieves on these data:

    - `"youden"`: the largest `sensitivity + specificity - 1`;
    - `"sensitivity"`: the highest specificity among the thresholds whose
      sensitivity is at least `value` (e.g. `0.95` for a screening test);
    - `"specificity"`: the highest sensitivity with specificity at least `value`;
      with `confidence` (e.g. `0.95`), "at least `value`" means the rate's
      one-sided exact (Clopper-Pearson) lower confidence bound reaches
      `value`: what a screening protocol states ("sensitivity >= 0.95 with
      95 % confidence"). The exact bound never covers less than its level,
      which the Wilson bound does for rates near 1, where these targets are;
      a perfect `n / n` reaches `value` only with
      `n >= log(1 - confidence) / log(value)` positives (59 for 0.95/0.95);
    - `"f1"`: the largest F1 score;
    - `"cost"`: the smallest `cost_fp * FP + cost_fn * FN`.

    Ties go to the highest threshold. The rates are weighted by
    `sample_weight`. Choose the threshold on validation data and measure it
    on held-out data (`keras_binary.report(y_test, p_test,
    threshold=point.threshold)`): on the data it was chosen on the rates are
    optimistic. Store it in the model with `BinaryHead(threshold=...)`.

    Args:
        y_true: labels in any encoding of the shape contract.
        y_pred: probabilities or logits, one score or a softmax pair.
        method: `"youden"`, `"sensitivity"`, `"specificity"`, `"f1"` or `"cost"`.
        value: the target rate, for `"sensitivity"` and `"specificity"` only.
        cost_fp: the cost of a false positive, for `"cost"`.
        cost_fn: the cost of a false negative, for `"cost"`.
        from_logits: whether `y_pred` holds logits (the threshold returned is
            still a probability).
        sample_weight: optional weights, one per example (frequency weights
            in the intervals and bounds).
        confidence: for `"sensitivity"` and `"specificity"`, the level of the
            one-sided lower bound that must reach `value`; `None` (default)
            compares the rate itself.

    Returns:
        An `OperatingPoint` with `.threshold`, `.sensitivity`, `.specificity`,
        and their Wilson intervals `.sensitivity_ci`, `.specificity_ci` (on
        the data the threshold was chosen on, at level `confidence` or 0.95).

    Raises:
        BinaryConfigError: `KB362` for an unknown method or a bad target,
            `KB373` for a confidence outside (0, 1), `KB374` for a confidence
            with a method without a target.
        BinaryLabelError: `KB215` with one class only, `KB216` when no
            threshold reaches the target, `KB235` when no threshold's lower
            bound reaches it (the message says how many examples would be needed).

    Example:

    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> p = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    >>> point = keras_binary.select_threshold(y, p, method="sensitivity", value=1.0)
    >>> point.threshold, point.sensitivity, point.specificity
    (0.35, 1.0, 0.75)
    """
    _check_method(method, value, cost_fp, cost_fn)
    _check_confidence(method, confidence)
    require("scipy.stats", "keras_binary.select_threshold")
    from keras_binary.evaluation import _clinical  # SciPy, imported when needed

    data = _data.canonical_numpy(y_true, y_pred, from_logits=from_logits, sample_weight=sample_weight)
    y, p = data.y_true, data.probability
    w = np.ones_like(p) if data.sample_weight is None else data.sample_weight
    positives, negatives = float(np.sum(w * y)), float(np.sum(w * (1 - y)))
    _data.require_both_classes(y, w, "choosing a threshold")
    t = candidates(p)
    tp, fp, tn, fn = _confusion(y, p, w, t)
    sens, spec = tp / positives, tn / negatives
    if method == "youden":
        score = sens + spec - 1
    elif method == "f1":
        score = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-300), 0.0)
    elif method == "cost":
        score = -(cost_fp * fp + cost_fn * fn)
    elif confidence is not None:
        count, total = (tp, positives) if method == "sensitivity" else (tn, negatives)
        bound = np.where(
            count > 0,
            _clinical.stats.beta.ppf(1.0 - confidence, np.maximum(count, 1e-300), total - count + 1),
            0.0,
        )
        score = np.where(bound >= value, spec if method == "sensitivity" else sens, -np.inf)
        if not np.isfinite(score).any():
            raise _bound_unreachable(method, value, confidence, total, float(np.max(bound)))
    elif method == "sensitivity":
        score = np.where(sens >= value, spec, -np.inf)
    else:
        score = np.where(spec >= value, sens, -np.inf)
    if not np.isfinite(score).any():
        best_sens = float(sens.max())
        raise BinaryLabelError(
            "KB216",
            f"no threshold reaches a sensitivity of {value:g} on these data: "
            "some positives have a probability of exactly 0, below any threshold.",
            received=f"the highest reachable sensitivity is {best_sens:.4g}",
            expected=f"a threshold with sensitivity >= {value:g}",
            fix="lower the target (value=...), or use logits (from_logits=True) so that scores do not saturate at 0",
        )
    best = len(score) - 1 - int(np.argmax(score[::-1]))  # ties: the highest threshold
    threshold = float(t[best])
    tp_, fp_, tn_, fn_ = (float(a[0]) for a in _confusion(y, p, w, np.array([threshold])))
    level = 0.95 if confidence is None else float(confidence)
    return OperatingPoint(
        threshold=threshold,
        sensitivity=tp_ / positives,
        specificity=tn_ / negatives,
        ppv=tp_ / (tp_ + fp_) if tp_ + fp_ > 0 else math.nan,
        npv=tn_ / (tn_ + fn_) if tn_ + fn_ > 0 else math.nan,
        method=method,
        value=None if value is None else float(value),
        cost_fp=float(cost_fp),
        cost_fn=float(cost_fn),
        sensitivity_ci=_clinical.wilson_interval(tp_, positives, level),
        specificity_ci=_clinical.wilson_interval(tn_, negatives, level),
        confidence=None if confidence is None else float(confidence),
    )


def _bound_unreachable(
    method: str, value: float, confidence: float, total: float, best: float
) -> BinaryLabelError:
    """`KB235`: no threshold's exact lower bound reaches the target; says how many examples would be needed."""
    from keras_binary.evaluation import _clinical

    kind = "positives" if method == "sensitivity" else "negatives"
    needed = _clinical.positives_needed(float(value), float(confidence))
    need = (
        f"no number of {kind} can show a rate of 1 with confidence < 1"
        if math.isinf(needed)
        else f"at least {needed} {kind}, even if every one is classified correctly"
    )
    return BinaryLabelError(
        "KB235",
        f"no threshold has a {method} whose one-sided {100 * confidence:g}% lower confidence bound "
        f"reaches {value:g}: {need}.",
        received=f"{total:g} {kind}; the highest lower bound is {best:.4g}",
        expected=f"a one-sided exact lower bound >= {value:g}",
        fix=f"validate on more {kind} (at least {needed}), or lower value or confidence",
    )


def stored_threshold(model: Any) -> float | None:
    """The decision threshold stored in a model's last layer, or `None`.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras_binary.BinaryHead(threshold=0.3)])
    >>> stored_threshold(model)
    0.3
    """
    return _data.output_info(model).threshold


def predict_classes(
    model: Any,
    x: Any,
    threshold: float | None = None,
    *,
    from_logits: bool | None = None,
    batch_size: int | None = None,
    verbose: Any = 0,
) -> np.ndarray:
    """Predicts 0/1 classes with the model's own decision threshold.

    The threshold is, in order: the argument, the one stored in the model's
    last layer (`BinaryHead(threshold=...)`, or the `TemperatureScaling`
    layer that `keras_binary.calibrate` adds), else `0.5`. A probability
    above it is a positive. Probabilities, logits and softmax pairs are all
    read through the shape contract.

    Args:
        model: a `keras.Model` with one binary output.
        x: its input: arrays, or a dataset (as for `model.predict`).
        threshold: a probability in [0, 1] that overrides the stored one.
        from_logits: whether the model outputs logits; by default read from
            its last layer.
        batch_size: passed to `model.predict`.
        verbose: passed to `model.predict`.

    Returns:
        An int32 NumPy array of 0/1, one per example (shape `(N,)` for an
        output `(N, 1)` or `(N, 2)`).

    Example:

    >>> inputs = keras.Input((1,))
    >>> head = keras_binary.BinaryHead(threshold=0.8, kernel_initializer="ones")
    >>> model = keras.Model(inputs, head(inputs))
    >>> x = np.array([[-1.0], [1.0], [2.0]])  # probabilities 0.27, 0.73, 0.88
    >>> predict_classes(model, x).tolist(), predict_classes(model, x, threshold=0.5).tolist()
    ([0, 0, 1], [0, 1, 1])
    """
    _check_threshold(threshold, "keras_binary.predict_classes")
    info = _data.output_info(model)
    if threshold is None:
        threshold = 0.5 if info.threshold is None else info.threshold
    if from_logits is None:
        from_logits = bool(info.from_logits)
    out = np.asarray(model.predict(x, batch_size=batch_size, verbose=verbose), dtype="float64")
    if out.ndim > 1 and out.shape[-1] == 2:
        score = out[..., 1] - out[..., 0] if from_logits else out[..., 1]
    elif out.ndim > 1 and out.shape[-1] == 1:
        score = out[..., 0]
    else:
        score = out
    probability = _data.sigmoid(score) if from_logits else score
    return (probability > threshold).astype("int32")
