"""Analytic intervals for proportions, likelihood ratios and predictive values.

Pure NumPy/SciPy, float64, vectorised over arrays of counts. Counts may be
weighted (non-integer). With clustered examples (several images per
patient) a proportion's interval uses the effective sample size of a ratio
estimator (Kish's design effect; Korn and Graubard 1998), and a likelihood
ratio's log the cluster-robust (linearisation) variance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "clopper_pearson",
    "cluster_effective_n",
    "log_lr",
    "lr_interval",
    "predictive_values_at_prevalence",
    "proportion_interval",
    "wilson",
]


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson(k: Any, n: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for a binomial proportion ``k / n``.

    E. B. Wilson (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209-212. Equal to
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` for
    integer counts; accepts non-integer (weighted or effective) counts. NaN
    where ``n == 0``.

    Example:

    >>> lo, hi = wilson(20, 20)
    >>> round(float(lo), 4), float(hi)
    (0.8389, 1.0)
    """
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # Exact ends when k is 0 or n (rounding would otherwise leave 1e-17).
    lo = np.where((n > 0) & (k <= 0), 0.0, lo)
    hi = np.where((n > 0) & (k >= n), 1.0, hi)
    return lo, hi


def clopper_pearson(k: Any, n: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The Clopper-Pearson ("exact") interval for ``k / n`` from beta quantiles.

    C. J. Clopper, E. S. Pearson (1934). The use of confidence or fiducial
    limits illustrated in the case of the binomial. Biometrika 26:404-413.
    Equal to ``scipy.stats.binomtest(k, n).proportion_ci(method="exact")``
    for integer counts. NaN where ``n == 0``.

    Example:

    >>> lo, hi = clopper_pearson(20, 20)
    >>> round(float(lo), 4), float(hi)
    (0.8316, 1.0)
    """
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    a = (1 - confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def cluster_effective_n(
    numerator: np.ndarray, denominator: np.ndarray, ids: np.ndarray, k: int
) -> tuple[float, float]:
    """Effective ``(successes, trials)`` of a ratio ``sum(a) / sum(b)`` over clusters.

    The proportion ``p = A / B`` of examples ``b`` (e.g. the positives)
    with ``a`` (e.g. found by the model) has the cluster-robust
    (linearisation) variance ``k / (k - 1) * sum_i (A_i - p B_i)^2 / B^2``
    over the ``k`` clusters (Cochran 1977, "Sampling Techniques", section
    6.4). The effective sample size is ``p (1 - p) / var`` (Kish's design
    effect), at most ``B`` (a design effect below 1 is taken as 1) and used in
    Wilson's or Clopper-Pearson's formula (Korn and Graubard 1998, Survey
    Methodology 24:193-201). At ``p`` of 0 or 1 the variance is 0 and the
    design effect unknowable: the average cluster size among clusters
    holding a ``b`` is used as the design effect (the most conservative
    value, total within-cluster correlation).

    Args:
        numerator: per-example ``a`` (0/1 or weights), rank 1.
        denominator: per-example ``b``, rank 1.
        ids: the cluster index of each example, ``0..k-1``.
        k: the number of clusters.

    Returns:
        ``(p * n_eff, n_eff)``.
    """
    a_i = np.bincount(ids, weights=numerator, minlength=k)
    b_i = np.bincount(ids, weights=denominator, minlength=k)
    total_a, total_b = float(a_i.sum()), float(b_i.sum())
    if total_b <= 0:
        return float("nan"), 0.0
    p = total_a / total_b
    used = int(np.count_nonzero(b_i))
    if used < 2:
        return p, 1.0
    var = used / (used - 1) * float(np.sum((a_i - p * b_i) ** 2)) / total_b**2
    if p <= 0.0 or p >= 1.0 or var <= 0.0:
        n_eff = used if p <= 0.0 or p >= 1.0 else total_b
    else:
        n_eff = min(total_b, p * (1 - p) / var)
    return p * n_eff, float(n_eff)


def proportion_interval(k: Any, n: Any, method: str = "wilson", confidence: float = 0.95):
    """`wilson` or `clopper_pearson` (``method="exact"``) of ``k / n``."""
    if method == "wilson":
        return wilson(k, n, confidence)
    if method == "exact":
        return clopper_pearson(k, n, confidence)
    raise ValueError(f"method must be 'wilson' or 'exact', got {method!r}")


def log_lr(tp: float, fn: float, fp: float, tn: float, positive: bool = True) -> tuple[float, float]:
    """The log of a likelihood ratio and its large-sample variance (Simel et al. 1991).

    ``LR+ = sens / (1 - spec)`` with ``var(log LR+) = 1/tp - 1/(tp+fn) +
    1/fp - 1/(fp+tn)``; ``LR- = (1 - sens) / spec`` with ``var(log LR-) =
    1/fn - 1/(tp+fn) + 1/tn - 1/(fp+tn)``. D. L. Simel, G. P. Samsa, D. B.
    Matchar (1991). Likelihood ratios with confidence: sample size estimation
    for diagnostic test studies. J Clin Epidemiol 44(8):763-770. When a
    count in the ratio is 0 the log is infinite: then 0.5 is added to all
    four cells (Haldane's correction) for the interval.

    Returns:
        ``(log LR, variance)``; NaN when a class is empty.

    Example:

    >>> est, var = log_lr(45, 5, 10, 90)
    >>> round(float(np.exp(est)), 3), round(var, 4)
    (9.0, 0.0922)
    """
    if tp + fn <= 0 or fp + tn <= 0:
        return float("nan"), float("nan")
    num, den = (tp, fp) if positive else (fn, tn)
    if num <= 0 or den <= 0:
        tp, fn, fp, tn = tp + 0.5, fn + 0.5, fp + 0.5, tn + 0.5
        num, den = (tp, fp) if positive else (fn, tn)
    est = np.log(num / (tp + fn)) - np.log(den / (fp + tn))
    var = 1 / num - 1 / (tp + fn) + 1 / den - 1 / (fp + tn)
    return float(est), float(var)


def cluster_log_lr_variance(
    y: np.ndarray, predicted: np.ndarray, w: np.ndarray, ids: np.ndarray, k: int, positive: bool = True
) -> float:
    """Cluster-robust variance of ``log LR+`` (or ``log LR-``) by linearisation.

    ``log LR+ = log(TP/P) - log(FP/N)``; each example's influence is
    ``tp_e/TP - p_e/P - fp_e/FP + n_e/N`` and the variance is
    ``k / (k - 1) * sum_i (cluster sum of influences)^2`` (Binder 1983,
    Int Stat Rev 51:279, the linearisation of a smooth function of totals).
    With one example per cluster it is Simel's variance times ``k/(k-1)``.
    """
    pos = y == 1
    hit = predicted if positive else ~predicted
    tp_e = w * (pos & hit)
    fp_e = w * (~pos & hit)
    p_e = w * pos
    n_e = w * ~pos
    tp, fp, big_p, big_n = tp_e.sum(), fp_e.sum(), p_e.sum(), n_e.sum()
    if min(tp, fp, big_p, big_n) <= 0 or k < 2:
        return float("nan")
    influence = tp_e / tp - p_e / big_p - fp_e / fp + n_e / big_n
    sums = np.bincount(ids, weights=influence, minlength=k)
    return float(k / (k - 1) * np.sum(sums**2))


def lr_interval(log_estimate: float, variance: float, confidence: float = 0.95) -> tuple[float, float]:
    """``exp(log LR +- z sqrt(var))``: the log method of Simel et al. (1991)."""
    if not (np.isfinite(log_estimate) and np.isfinite(variance)):
        return float("nan"), float("nan")
    half = _z(confidence) * np.sqrt(variance)
    return float(np.exp(log_estimate - half)), float(np.exp(log_estimate + half))


def predictive_values_at_prevalence(
    prevalence: float,
    log_lr_pos: tuple[float, float],
    log_lr_neg: tuple[float, float],
    confidence: float = 0.95,
) -> dict[str, Any]:
    """PPV and NPV at a stated prevalence, by Bayes, with logit intervals.

    ``logit(PPV) = logit(prevalence) + log LR+`` and ``logit(NPV) =
    logit(1 - prevalence) - log LR-``, so the interval on the logit scale is
    the log-LR interval shifted (the delta method on the log odds: L. C.
    Mercaldo, K. F. Lau, X. H. Zhou (2007). Confidence intervals for
    predictive values with an emphasis to case-control designs. Stat Med
    26:2170-2183). It is valid for a case-control (enriched) test set,
    whose observed prevalence says nothing about the target population.

    Args:
        prevalence: the prevalence of the target population, in (0, 1).
        log_lr_pos: ``(log LR+, variance)`` from `log_lr`.
        log_lr_neg: ``(log LR-, variance)``.
        confidence: the level.

    Returns:
        A dict with ``ppv``, ``ppv_ci``, ``npv``, ``npv_ci``.

    Example:

    >>> d = predictive_values_at_prevalence(0.1, log_lr(45, 5, 10, 90), log_lr(45, 5, 10, 90, False))
    >>> round(d["ppv"], 4), round(d["npv"], 4)
    (0.5, 0.9878)
    """
    base = np.log(prevalence / (1 - prevalence))
    z = _z(confidence)

    def expit(x):
        return float(1 / (1 + np.exp(-x)))

    out: dict[str, Any] = {}
    for key, (est, var), sign in (("ppv", log_lr_pos, 1.0), ("npv", log_lr_neg, -1.0)):
        centre = sign * (base + est)
        if not (np.isfinite(centre) and np.isfinite(var)):
            out[key], out[f"{key}_ci"] = float("nan"), (float("nan"), float("nan"))
            continue
        half = z * np.sqrt(var)
        out[key] = expit(centre)
        out[f"{key}_ci"] = (expit(centre - half), expit(centre + half))
    return out
