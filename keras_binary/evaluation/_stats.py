"""The report's statistics and their stratified bootstrap, vectorised in NumPy.

Point estimates of the ranking and probability scores come from
scikit-learn (`roc_auc_score`, `average_precision_score`, `brier_score_loss`,
`log_loss`); the ECE has the definition of `keras_binary.metrics.ECE`; the
rates at the threshold come from the weighted confusion matrix (a probability
above the threshold is a positive, as in the metrics).

The bootstrap resamples the positives and the negatives separately, each with
replacement and to its own size (a stratified bootstrap: every resample has
the data's prevalence), and takes percentile intervals. A resample is a
vector of counts, one per example, so every statistic of a resample is a
weighted sum over the examples, sorted once: the confusion matrix, Brier, log
loss and ECE bins are one matrix product, and the ROC AUC and average
precision come from cumulative sums over the distinct scores. Resamples are
processed in chunks of about two million counts, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np

from keras_binary.evaluation._deps import require

# The statistics that get an interval, in the order of the report.
SCORES = ("auc", "average_precision", "brier", "ece", "log_loss")
RATES = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "mcc", "balanced_accuracy")
RATIOS = ("lr_positive", "lr_negative")
WITH_INTERVAL = SCORES + RATES + RATIOS
# The proportions whose interval is on their counts (Wilson, Clopper-Pearson).
PROPORTIONS = ("sensitivity", "specificity", "ppv", "npv", "accuracy")

# Above this many examples the bootstrap uses its large-sample form (`_large_sample`).
EXACT_MAX_N = 200_000

# Counts per chunk of resamples (each a float64 matrix of this many entries).
_CHUNK_ENTRIES = 2_000_000


def _div(a: Any, b: Any) -> Any:
    """a / b, NaN where b == 0: an undefined rate is never a plausible number."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def rates(tp: Any, fp: Any, tn: Any, fn: Any) -> dict[str, Any]:
    """Sensitivity, specificity, PPV, NPV, accuracy, F1, MCC, balanced accuracy and likelihood ratios.

    Works element-wise on arrays (one confusion matrix per resample). A rate
    whose denominator is zero is NaN (e.g. the PPV with no predicted
    positive, or the MCC when a row or column of the matrix is empty).

    Example:

    >>> r = rates(8, 2, 6, 4)
    >>> round(float(r["sensitivity"]), 3), round(float(r["ppv"]), 3), round(float(r["mcc"]), 3)
    (0.667, 0.8, 0.408)
    >>> float(rates(0, 0, 5, 5)["ppv"])
    nan
    """
    tp, fp, tn, fn = (np.asarray(v, dtype="float64") for v in (tp, fp, tn, fn))
    sensitivity = _div(tp, tp + fn)
    specificity = _div(tn, tn + fp)
    with np.errstate(invalid="ignore"):
        mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "sensitivity": sensitivity,
        "specificity": specificity,
        "ppv": _div(tp, tp + fp),
        "npv": _div(tn, tn + fn),
        "accuracy": _div(tp + tn, tp + fp + tn + fn),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        "mcc": _div(tp * tn - fp * fn, mcc_den),
        "balanced_accuracy": (sensitivity + specificity) / 2,
        "lr_positive": _div(sensitivity, 1 - specificity),
        "lr_negative": _div(1 - sensitivity, specificity),
    }


def ece(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, num_bins: int = 15) -> float:
    """Expected calibration error, as `keras_binary.metrics.ECE` defines it, in float64.

    `sum_b |sum of labels in b - sum of p in b| / total weight` over
    `num_bins` equal-width bins (the last one also holds `p = 1`).

    Example:

    >>> round(ece(np.array([0, 1, 1, 1]), np.array([0.2, 0.3, 0.7, 0.9]), num_bins=2), 6)
    0.225
    """
    w = np.ones_like(p, dtype="float64") if w is None else w
    bins = np.clip(np.floor(p * num_bins).astype("int64"), 0, num_bins - 1)
    gap = np.bincount(bins, weights=w * (y - p), minlength=num_bins)
    total = float(np.sum(w))
    return float(np.sum(np.abs(gap)) / total) if total > 0 else float("nan")


def point_estimates(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    threshold: float,
    num_bins: int = 15,
    score: np.ndarray | None = None,
    delong: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Every statistic of the report on the data itself.

    The AUC and average precision rank `score` (the raw logits, when given),
    so they are exact for any logit; the rest uses the probabilities `p`.
    Above `EXACT_MAX_N` unweighted examples they are computed here (one sort
    each, equal to scikit-learn's) rather than by scikit-learn; `delong`, an
    `(auc, variance)` already computed, is then reused.

    Returns:
        A dict with `n`, `n_positive`, `n_negative`, `prevalence`, `tp`,
        `fp`, `tn`, `fn` (weighted counts), the `SCORES` and the `RATES`;
        NaN where a statistic is undefined (one class only, ...).
    """
    metrics = require("sklearn.metrics")
    positive = y == 1
    predicted = p > threshold
    if w is None:
        weights = None
        tp = float(np.count_nonzero(positive & predicted))
        fn = float(np.count_nonzero(positive)) - tp
        fp = float(np.count_nonzero(predicted)) - tp
        tn = float(y.size) - tp - fn - fp
    else:
        weights = w
        tp = float(np.sum(weights[positive & predicted]))
        fn = float(np.sum(weights[positive & ~predicted]))
        fp = float(np.sum(weights[~positive & predicted]))
        tn = float(np.sum(weights[~positive & ~predicted]))
    both = tp + fn > 0 and fp + tn > 0
    out: dict[str, float] = {
        "n": int(y.size),
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
        "prevalence": float(_div(tp + fn, tp + fn + fp + tn)),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }
    nan = float("nan")
    s = p if score is None else score
    if w is None and y.size > EXACT_MAX_N:  # one sort each, no scikit-learn validation copies
        from keras_binary.evaluation import _delong

        out["auc"] = (delong if delong is not None else _delong.delong_auc(positive, s))[0] if both else nan
        out["average_precision"] = average_precision(positive, s) if tp + fn > 0 else nan
        out["brier"] = float(np.mean(np.square(y - p)))
        eps = np.finfo("float64").eps
        pc = np.clip(p, eps, 1 - eps)
        out["log_loss"] = -float(np.sum(np.log(pc[positive])) + np.sum(np.log1p(-pc[~positive]))) / y.size
        del pc
    else:
        out["auc"] = float(metrics.roc_auc_score(y, s, sample_weight=w)) if both else nan
        out["average_precision"] = (
            float(metrics.average_precision_score(y, s, sample_weight=w)) if tp + fn > 0 else nan
        )
    if "brier" in out:
        pass
    elif y.size and (weights is None or np.sum(weights) > 0):
        out["brier"] = float(metrics.brier_score_loss(y, p, sample_weight=w))
        out["log_loss"] = float(metrics.log_loss(y, p, sample_weight=w, labels=[0, 1]))
    else:
        out["brier"] = out["log_loss"] = nan
    out["ece"] = ece(y, p, w, num_bins)
    out.update({k: float(v) for k, v in rates(tp, fp, tn, fn).items()})
    return out


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """Unweighted average precision, as scikit-learn's `average_precision_score`.

    ``sum_k (R_k - R_{k-1}) P_k`` over the distinct scores in decreasing
    order (tied scores form one step), in one sort.

    Example:

    >>> average_precision(np.array([True, False, True, False]), np.array([0.9, 0.8, 0.4, 0.1]))
    0.8333333333333333
    """
    order = np.argsort(-score, kind="stable")
    ordered = score[order]
    ends = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    del ordered
    tps = np.cumsum(positive[order])[ends].astype("float64")
    del order
    total = tps[-1]
    precision = tps / (ends + 1)
    return float(np.sum(np.diff(tps, prepend=0.0) * precision) / total)


def _counts(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    """`rows` resamples with replacement of `size` items, as counts (rows, size)."""
    if size == 0:
        return np.zeros((rows, 0))
    draws = rng.integers(0, size, size=(rows, size))
    draws += np.arange(rows)[:, None] * size
    return np.bincount(draws.ravel(), minlength=rows * size).reshape(rows, size).astype("float64")


class _Sorted:
    """The data sorted by decreasing score, with everything a resample needs."""

    def __init__(self, y, p, w, threshold, num_bins, score=None, ids=None):
        s = p if score is None else score
        order = np.argsort(-s, kind="stable")
        self.order = order
        self.y = y[order]
        self.p = p[order]
        s = s[order]
        self.ids = None if ids is None else ids[order]
        self.w = np.ones_like(self.p) if w is None else w[order]
        self.pos = np.flatnonzero(self.y == 1)
        self.neg = np.flatnonzero(self.y == 0)
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if p.size else np.zeros(0, "int64")
        predicted = (self.p > threshold).astype("float64")
        y_, p_, w_ = self.y, self.p, self.w
        eps = np.finfo("float64").eps
        pc = np.clip(p_, eps, 1 - eps)
        bins = np.clip(np.floor(p_ * num_bins).astype("int64"), 0, num_bins - 1)
        ece_columns = np.zeros((p_.size, num_bins))
        ece_columns[np.arange(p_.size), bins] = w_ * (y_ - p_)
        # One column per linear statistic: tp, fn, fp, tn, total weight, Brier and log-loss sums, ECE bins.
        self.linear = np.column_stack(
            [
                w_ * y_ * predicted,
                w_ * y_ * (1 - predicted),
                w_ * (1 - y_) * predicted,
                w_ * (1 - y_) * (1 - predicted),
                w_,
                w_ * (y_ - p_) ** 2,
                -w_ * (y_ * np.log(pc) + (1 - y_) * np.log1p(-pc)),
                ece_columns,
            ]
        )

    def stats(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """The statistics of resamples given as counts, shape (rows, n) in sorted order."""
        lin = counts @ self.linear
        tp, fn, fp, tn, total = (lin[:, i] for i in range(5))
        out = {
            "brier": _div(lin[:, 5], total),
            "log_loss": _div(lin[:, 6], total),
            "ece": _div(np.abs(lin[:, 7:]).sum(axis=1), total),
        }
        weighted = counts * self.w
        if self.starts.size:
            d_tp = np.add.reduceat(weighted * self.y, self.starts, axis=1)
            d_fp = np.add.reduceat(weighted * (1 - self.y), self.starts, axis=1)
        else:
            d_tp = d_fp = np.zeros((counts.shape[0], 1))
        c_tp = np.cumsum(d_tp, axis=1)
        c_fp = np.cumsum(d_fp, axis=1)
        all_tp, all_fp = c_tp[:, -1], c_fp[:, -1]
        # Positives of a group rank above the negatives of later groups, and tie with their own.
        above = np.sum(d_tp * (all_fp[:, None] - c_fp + 0.5 * d_fp), axis=1)
        out["auc"] = _div(above, all_tp * all_fp)
        precision = _div(c_tp, c_tp + c_fp)
        out["average_precision"] = _div(np.sum(d_tp * np.nan_to_num(precision), axis=1), all_tp)
        out.update(rates(tp, fp, tn, fn))
        return out


def bootstrap(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    threshold: float,
    n_bootstrap: int,
    seed: int | None,
    num_bins: int = 15,
    *,
    score: np.ndarray | None = None,
    groups: tuple[np.ndarray, int] | None = None,
    known: dict | None = None,
) -> dict[str, np.ndarray]:
    """The statistics of `n_bootstrap` stratified resamples.

    Without `groups`, the positives and the negatives are resampled
    separately. With `groups` (a cluster index per example and the number of
    clusters), whole clusters (patients) are resampled, separately among
    the clusters that hold a positive and those that do not (a stratified
    cluster bootstrap: Field and Welsh 2007, JRSS B 69:369; Davison and
    Hinkley 1997, section 3.8). Above `EXACT_MAX_N` examples (and without
    groups) the resamples come from `_large_sample`, the bootstrap's
    large-sample form, in time independent of the number of examples.

    Args:
        y: 0/1 labels, float64, rank 1.
        p: probabilities, float64, rank 1.
        w: weights or `None`.
        threshold: the decision threshold.
        n_bootstrap: the number of resamples.
        seed: the seed of `numpy.random.default_rng`.
        num_bins: the ECE bins.
        score: the raw scores that rank (logits), default `p`.
        groups: `(ids, k)`: the cluster of each example in `0..k-1`.
        known: `{"delong": (auc, variance), "average_precision": ap}`
            already computed, reused by the large-sample form.

    Returns:
        A dict of arrays of shape `(n_bootstrap,)`, one per name of `WITH_INTERVAL`.

    Example:

    >>> y = np.array([0.0, 0.0, 1.0, 1.0]); p = np.array([0.1, 0.6, 0.4, 0.9])
    >>> sorted(bootstrap(y, p, None, 0.5, 10, seed=0)) == sorted(WITH_INTERVAL)
    True
    """
    if groups is None and p.size > EXACT_MAX_N:
        return _large_sample(y, p, w, threshold, n_bootstrap, seed, num_bins, score, known or {})
    try:  # a dependency of scikit-learn; several BLAS threads only fight over small products
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        limits: Any = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1, user_api="blas")
    with limits:
        return _bootstrap(y, p, w, threshold, n_bootstrap, seed, num_bins, score, groups)


def _bootstrap(y, p, w, threshold, n_bootstrap, seed, num_bins, score=None, groups=None):
    ids = None if groups is None else groups[0]
    data = _Sorted(y, p, w, threshold, num_bins, score, ids)
    n = p.size
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_ENTRIES // max(n, 1))
    parts: dict[str, list] = {name: [] for name in WITH_INTERVAL}
    if groups is not None:
        k = groups[1]
        has_pos = np.bincount(data.ids, weights=data.y, minlength=k) > 0
        strata = [np.flatnonzero(has_pos), np.flatnonzero(~has_pos)]
    done = 0
    while done < n_bootstrap:
        r = min(rows, n_bootstrap - done)
        if groups is None:
            counts = np.zeros((r, n))
            counts[:, data.pos] = _counts(rng, r, data.pos.size)
            counts[:, data.neg] = _counts(rng, r, data.neg.size)
        else:
            cluster_counts = np.zeros((r, k))
            for stratum in strata:
                cluster_counts[:, stratum] = _counts(rng, r, stratum.size)
            counts = cluster_counts[:, data.ids]
        for name, values in data.stats(counts).items():
            parts[name].append(values)
        done += r
    return {name: np.concatenate(values) if values else np.zeros(0) for name, values in parts.items()}


def _large_sample(y, p, w, threshold, n_bootstrap, seed, num_bins, score=None, known=None):
    """Resamples of a large data set in O(n + n_bootstrap * num_bins) time.

    The stratified bootstrap's statistics from sufficient statistics:

    - the confusion matrix: ``tp* ~ Binomial(P, tp / P)`` and ``fp* ~
      Binomial(N, fp / N)`` (exactly the bootstrap's distribution of the
      counts; weighted counts are scaled by the mean weight of the class), so
      every rate, F1, MCC and likelihood ratio is the bootstrap's own;
    - Brier, log loss and each (ECE bin, class) sum: the count per bin is
      multinomial (exact) and the sum of the drawn terms normal with the
      group's mean and variance (central limit theorem);
    - the AUC: normal with DeLong's variance; the average precision: normal
      on the logit with variance ``1 / (P AP (1 - AP))`` (Boyd, Eng and Page
      2013, ECML PKDD, the "logit" interval), the large-sample limits of
      their bootstrap distributions.
    """
    from keras_binary.evaluation import _delong

    rng = np.random.default_rng(seed)
    b = n_bootstrap
    pos = y == 1
    predicted = p > threshold
    out: dict[str, np.ndarray] = {}
    draws = {}
    for cls, mask in ((True, pos), (False, ~pos)):
        count = int(mask.sum())
        hit = float(np.count_nonzero(mask & predicted) if w is None else np.sum(w[mask & predicted]))
        total = float(count if w is None else np.sum(w[mask]))
        frac = hit / total if total > 0 else 0.0
        scale = total / count if count else 0.0
        k = rng.binomial(count, frac, size=b) * scale
        draws[cls] = (k, total - k)
    tp, fn = draws[True]
    fp, tn = draws[False]
    out.update(rates(tp, fp, tn, fn))
    eps = np.finfo("float64").eps
    total_w = float(y.size) if w is None else float(np.sum(w))
    sums = {"brier": np.zeros(b), "log_loss": np.zeros(b)}
    gaps = np.zeros((b, num_bins))
    for label, mask in ((1.0, pos), (0.0, ~pos)):
        count = int(mask.sum())
        if count == 0:
            continue
        pm = p[mask]
        wm = None if w is None else w[mask]
        gap = label - pm
        pc = np.clip(pm, eps, 1 - eps)
        loss = -np.log(pc) if label else -np.log1p(-pc)
        del pc
        for name, terms in (("brier", gap**2), ("log_loss", loss)):
            terms = terms if wm is None else wm * terms
            sd = float(np.std(terms)) if count > 1 else 0.0
            sums[name] += float(np.sum(terms)) + np.sqrt(count) * sd * rng.standard_normal(b)
        del loss
        cb = np.clip(np.floor(pm * num_bins).astype("int64"), 0, num_bins - 1)
        gap = gap if wm is None else wm * gap
        n_g = np.bincount(cb, minlength=num_bins).astype("float64")
        s1 = np.bincount(cb, weights=gap, minlength=num_bins)
        s2 = np.bincount(cb, weights=gap**2, minlength=num_bins)
        del cb, gap, pm
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n_g > 0, s1 / np.where(n_g > 0, n_g, 1), 0.0)
            sd = np.sqrt(np.maximum(np.where(n_g > 0, s2 / np.where(n_g > 0, n_g, 1), 0.0) - mean**2, 0.0))
        c = rng.multinomial(count, n_g / count, size=b).astype("float64")
        gaps += c * mean + np.sqrt(c) * sd * rng.standard_normal((b, num_bins))
    out["brier"] = _div(sums["brier"], total_w)
    out["log_loss"] = _div(sums["log_loss"], total_w)
    out["ece"] = _div(np.abs(gaps).sum(axis=1), total_w)
    s = p if score is None else score
    nan = np.full(b, np.nan)
    if pos.any() and (~pos).any():
        known = known or {}
        auc, var = known["delong"] if "delong" in known else _delong.delong_auc(pos, s)
        out["auc"] = auc + np.sqrt(var) * rng.standard_normal(b)
        if "average_precision" in known:
            ap = known["average_precision"]
        else:
            metrics = require("sklearn.metrics")
            ap = float(metrics.average_precision_score(y, s, sample_weight=w))
        if 0 < ap < 1:
            lg = np.log(ap / (1 - ap)) + rng.standard_normal(b) / np.sqrt(pos.sum() * ap * (1 - ap))
            out["average_precision"] = 1 / (1 + np.exp(-lg))
        else:
            out["average_precision"] = np.full(b, ap)
    else:
        out["auc"] = out["average_precision"] = nan
    return out


def identity_stats(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None, threshold: float, num_bins: int = 15, score=None
):
    """The resampling formulas applied to the data itself (every count 1); a check of `bootstrap`."""
    data = _Sorted(y, p, w, threshold, num_bins, score)
    return {k: float(v[0]) for k, v in data.stats(np.ones((1, p.size))).items()}


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the defined (non-NaN) resampled values; NaN if none.

    Example:

    >>> [round(v, 6) for v in percentile_interval(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    """
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.quantile(finite, [alpha, 1 - alpha])
    return (float(low), float(high))
