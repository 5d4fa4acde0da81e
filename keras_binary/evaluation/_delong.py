"""DeLong's variance of the ROC AUC: single, paired, clustered, and its intervals.

Pure NumPy/SciPy, float64. The AUC is the Mann-Whitney statistic with ties
counted one half; its variance is DeLong's from the structural components
(the "placement values"), computed with the midrank algorithm of Sun and Xu
in O(n log n), exact with ties. A higher score means "more positive"
(pROC's ``direction="<"``); scores may be logits of any size, the ranking is
on the raw numbers.

References:

- E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson (1988). Comparing the
  areas under two or more correlated receiver operating characteristic
  curves: a nonparametric approach. Biometrics 44(3):837-845.
- X. Sun, W. Xu (2014). Fast implementation of DeLong's algorithm for
  comparing the areas under correlated receiver operating characteristic
  curves. IEEE Signal Processing Letters 21(11):1389-1393.
- N. A. Obuchowski (1997). Nonparametric analysis of clustered ROC curve
  data. Biometrics 53(2):567-578.
- X. Robin et al. (2011). pROC: an open-source package for R and S+ to
  analyze and compare ROC curves. BMC Bioinformatics 12:77 (``ci.auc(method=
  "delong")``, ``roc.test(paired=TRUE, method="delong")``; the values here
  match pROC 1.18 to 1e-4, see tests/test_delong.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

__all__ = [
    "PairedDeLong",
    "auc_interval",
    "clustered_auc",
    "clustered_paired",
    "delong_auc",
    "delong_ci",
    "delong_paired",
    "difference_ci",
    "difference_p_value",
    "logit_delong_ci",
    "newcombe_ci",
    "newcombe_variance",
    "placements",
]


class PairedDeLong(NamedTuple):
    """The result of `delong_paired` and `clustered_paired`."""

    auc_a: float
    auc_b: float
    difference: float  # auc_a - auc_b
    variance: float  # of the difference
    covariance: float  # of auc_a and auc_b


def _labels(y_true: Any) -> np.ndarray:
    y = np.asarray(y_true).reshape(-1)
    if y.dtype == bool:
        return y
    return y.astype("float64") > 0.5


def placements(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """DeLong's structural components (placement values) by midranks.

    For the m positives ``x_i`` and the n negatives ``y_j``, with
    ``psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise``:
    ``V10_i = mean_j psi(x_i, y_j)`` and ``V01_j = mean_i psi(x_i, y_j)``.
    Sun and Xu (2014) compute them from midranks,
    ``V10_i = (T_z(x_i) - T_x(x_i)) / n``; the same numbers come from one
    sort of the pooled scores: per group of tied scores, the negatives below
    it plus half of those in it (over n), and the positives above it plus
    half of those in it (over m). O(n log n), one argsort.

    Args:
        y_true: labels, 1 (or True, or > 0.5) for a positive.
        scores: one score per example, higher is more positive.

    Returns:
        ``(v10, v01, auc)``: the placements of the positives (in their
        order in the data), of the negatives, and the AUC ``mean(v10)``.

    Example:

    >>> v10, v01, auc = placements([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> v10.tolist(), v01.tolist(), auc
    ([0.5, 1.0], [1.0, 0.5], 0.75)
    """
    pos = _labels(y_true)
    s = np.asarray(scores, dtype="float64").reshape(-1)
    if s.shape != pos.shape:
        raise ValueError(f"y_true has {pos.size} entries but scores has {s.size}")
    m = int(np.count_nonzero(pos))
    n = pos.size - m
    if m == 0 or n == 0:
        raise ValueError(f"the AUC needs positives and negatives, got {m} and {n}")
    # One sort: tie groups of the pooled scores, and per group the positives and negatives in it.
    order = np.argsort(s, kind="stable")
    ordered = s[order]
    group = np.empty(s.size, dtype="int32" if s.size < 2**31 else "int64")  # half the memory
    group[0] = 0
    np.cumsum(ordered[1:] != ordered[:-1], out=group[1:])
    del ordered
    group_of = np.empty_like(group)
    group_of[order] = group
    del order, group
    pos_in = np.bincount(group_of, weights=pos)
    neg_in = np.bincount(group_of, weights=~pos)
    # V10 of a positive: negatives below its group plus half those tied with it, over n.
    v10_g = (np.cumsum(neg_in) - 0.5 * neg_in) / n
    # V01 of a negative: positives above its group plus half those tied with it, over m.
    v01_g = (m - np.cumsum(pos_in) + 0.5 * pos_in) / m
    del pos_in, neg_in
    v10 = v10_g[group_of[pos]]
    v01 = v01_g[group_of[~pos]]
    return v10, v01, float(np.mean(v10))


def delong_auc(y_true: Any, scores: Any) -> tuple[float, float]:
    """The ROC AUC and DeLong's variance of it.

    ``var = s10 / m + s01 / n`` with ``s10``, ``s01`` the sample variances
    (ddof 1) of the placements (DeLong et al. 1988, eq. 4-5; Sun and Xu
    2014). Equal to pROC's ``var(roc, method="delong")``. The variance is 0
    when the classes are perfectly separated, and NaN with a single positive
    or a single negative (a sample variance of one number).

    Args:
        y_true: labels, 1 for a positive.
        scores: one score per example (probabilities or logits).

    Returns:
        ``(auc, variance)`` as Python floats.

    Example:

    >>> auc, var = delong_auc([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.3, 0.6, 0.4, 0.9])
    >>> round(auc, 4), round(var, 4)
    (0.8889, 0.0247)
    """
    v10, v01, auc = placements(y_true, scores)
    m, n = v10.size, v01.size
    s10 = np.var(v10, ddof=1) if m > 1 else np.nan
    s01 = np.var(v01, ddof=1) if n > 1 else np.nan
    return auc, float(s10 / m + s01 / n)


def delong_paired(y_true: Any, scores_a: Any, scores_b: Any) -> PairedDeLong:
    """Paired DeLong comparison of two AUCs on the same examples.

    The covariance matrix of the two AUCs is ``S10 / m + S01 / n`` with
    ``S10``, ``S01`` the 2x2 sample covariances (ddof 1) of the placements
    of each model (DeLong et al. 1988, eq. 6; Sun and Xu 2014). The test
    statistic is ``difference / sqrt(variance)``: pROC's
    ``roc.test(paired=TRUE, method="delong")``. See `difference_p_value`
    and `difference_ci`.

    Args:
        y_true: labels, 1 for a positive.
        scores_a: model A's scores.
        scores_b: model B's scores, for the same examples.

    Returns:
        A `PairedDeLong` ``(auc_a, auc_b, difference, variance, covariance)``.

    Example:

    >>> r = delong_paired([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.3, 0.6, 0.4, 0.9],
    ...                   [0.2, 0.1, 0.3, 0.6, 0.7, 0.9])
    >>> round(r.difference, 4), round(r.variance, 4)
    (-0.1111, 0.0247)
    """
    va10, va01, auc_a = placements(y_true, scores_a)
    vb10, vb01, auc_b = placements(y_true, scores_b)
    m, n = va10.size, va01.size
    s10 = np.cov(np.stack([va10, vb10]), ddof=1) if m > 1 else np.full((2, 2), np.nan)
    s01 = np.cov(np.stack([va01, vb01]), ddof=1) if n > 1 else np.full((2, 2), np.nan)
    s = s10 / m + s01 / n
    var = float(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    return PairedDeLong(auc_a, auc_b, auc_a - auc_b, max(var, 0.0), float(s[0, 1]))


def _cluster_ids(groups: Any, size: int) -> tuple[np.ndarray, int]:
    g = np.asarray(groups).reshape(-1)
    if g.size != size:
        raise ValueError(f"groups has {g.size} entries but y_true has {size}")
    _, ids = np.unique(g, return_inverse=True)
    ids = ids.reshape(-1)
    return ids, int(ids.max()) + 1


def _cluster_sums(y_true: Any, scores: Any, ids: np.ndarray, k: int):
    pos = _labels(y_true)
    v10, v01, auc = placements(pos, scores)
    v10_i = np.bincount(ids[pos], weights=v10, minlength=k)
    v01_i = np.bincount(ids[~pos], weights=v01, minlength=k)
    return v10_i, v01_i, auc


def _clustered_cov(pos, ids, k, comps):
    """Obuchowski's (1997, eq. 3-5) covariance matrix of several AUCs."""
    m_i = np.bincount(ids[pos], minlength=k).astype("float64")
    n_i = np.bincount(ids[~pos], minlength=k).astype("float64")
    big_m, big_n = m_i.sum(), n_i.sum()
    k10, k01 = int(np.count_nonzero(m_i)), int(np.count_nonzero(n_i))
    d10 = np.stack([v10 - m_i * auc for v10, _, auc in comps])  # (models, clusters)
    d01 = np.stack([v01 - n_i * auc for _, v01, auc in comps])
    with np.errstate(divide="ignore", invalid="ignore"):
        s10 = k10 / ((k10 - 1) * big_m) * (d10 @ d10.T) if k10 > 1 else np.nan * (d10 @ d10.T)
        s01 = k01 / ((k01 - 1) * big_n) * (d01 @ d01.T) if k01 > 1 else np.nan * (d01 @ d01.T)
        s11 = k / (k - 1) * (d10 @ d01.T) if k > 1 else np.nan * (d10 @ d01.T)
    return s10 / big_m + s01 / big_n + (s11 + s11.T) / (big_m * big_n)


def clustered_auc(y_true: Any, scores: Any, groups: Any) -> tuple[float, float]:
    """The ROC AUC and its variance when examples come in clusters (patients).

    Obuchowski (1997): with ``V10_i``, ``V01_i`` the sums over cluster ``i``
    of the DeLong placements (computed against all examples), ``m_i``,
    ``n_i`` its positives and negatives, ``M``, ``N`` the totals, ``I10``,
    ``I01`` the clusters with at least one positive / negative and ``I`` all
    clusters::

        S10 = I10 / ((I10 - 1) M) * sum_i (V10_i - m_i A)^2
        S01 = I01 / ((I01 - 1) N) * sum_i (V01_i - n_i A)^2
        S11 = I / (I - 1) * sum_i (V10_i - m_i A)(V01_i - n_i A)
        var = S10 / M + S01 / N + 2 S11 / (M N)

    With one example per cluster this is DeLong's variance exactly (the
    cross term vanishes). Chosen over the cluster bootstrap because it is
    analytic, O(n log n) and reduces to pROC's DeLong without clusters.

    Args:
        y_true: labels, 1 for a positive.
        scores: one score per example.
        groups: the cluster (patient) of each example, any hashable values.

    Returns:
        ``(auc, variance)``.

    Example:

    >>> y = [0, 1, 0, 1, 0, 1]
    >>> s = [0.2, 0.7, 0.4, 0.3, 0.1, 0.9]
    >>> a, v = clustered_auc(y, s, [0, 1, 2, 3, 4, 5])
    >>> abs(v - delong_auc(y, s)[1]) < 1e-12
    True
    """
    pos = _labels(y_true)
    ids, k = _cluster_ids(groups, pos.size)
    comp = _cluster_sums(pos, scores, ids, k)
    cov = _clustered_cov(pos, ids, k, [comp])
    return comp[2], float(cov[0, 0])


def clustered_paired(y_true: Any, scores_a: Any, scores_b: Any, groups: Any) -> PairedDeLong:
    """Paired comparison of two AUCs with clustered examples (Obuchowski 1997).

    The 2x2 covariance matrix of the two AUCs from the clustered structural
    components (as in `clustered_auc`, with cross products between the two
    models: Obuchowski 1997, section 3); it equals `delong_paired` with one
    example per cluster.

    Args:
        y_true: labels, 1 for a positive.
        scores_a: model A's scores.
        scores_b: model B's scores, for the same examples.
        groups: the cluster (patient) of each example.

    Returns:
        A `PairedDeLong`.

    Example:

    >>> y = [0, 1, 0, 1, 0, 1]
    >>> a = [0.2, 0.7, 0.4, 0.3, 0.1, 0.9]
    >>> b = [0.3, 0.6, 0.1, 0.5, 0.2, 0.8]
    >>> r = clustered_paired(y, a, b, range(6))
    >>> abs(r.variance - delong_paired(y, a, b).variance) < 1e-12
    True
    """
    pos = _labels(y_true)
    ids, k = _cluster_ids(groups, pos.size)
    ca = _cluster_sums(pos, scores_a, ids, k)
    cb = _cluster_sums(pos, scores_b, ids, k)
    s = _clustered_cov(pos, ids, k, [ca, cb])
    var = float(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    return PairedDeLong(ca[2], cb[2], ca[2] - cb[2], max(var, 0.0), float(s[0, 1]))


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def delong_ci(auc: float, variance: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wald interval ``auc +- z sqrt(variance)``, clipped to [0, 1].

    pROC's ``ci.auc(method="delong")`` (Robin et al. 2011; DeLong et al.
    1988).

    Example:

    >>> lo, hi = delong_ci(0.9, 0.0025)
    >>> round(lo, 4), round(hi, 4)
    (0.802, 0.998)
    """
    half = _z(confidence) * np.sqrt(variance)
    return float(max(auc - half, 0.0)), float(min(auc + half, 1.0))


def logit_delong_ci(
    auc: float, variance: float, confidence: float = 0.95, *, m: int | None = None, n: int | None = None
) -> tuple[float, float]:
    """Interval on the logit of the AUC with DeLong's variance (delta method).

    ``logit(auc) +- z sqrt(variance) / (auc (1 - auc))``, mapped back with
    the logistic function: it stays inside (0, 1) and is asymmetric near 1,
    where the Wald interval under-covers (Pepe 2003, "The Statistical
    Evaluation of Medical Tests", section 5.2.2; Qin and Hotilovac 2008,
    Stat Methods Med Res 17:207). At an AUC of exactly 0 or 1 the logit is
    infinite: when ``m`` and ``n`` (positives, negatives) are given the AUC is
    pulled in by half a pair, ``1 - 0.5 / (m n)`` (and the variance floored
    at that of one discordant half pair), so the interval has a width;
    otherwise it is ``[auc, auc]``.

    Example:

    >>> lo, hi = logit_delong_ci(0.9, 0.0025)
    >>> round(lo, 4), round(hi, 4)
    (0.7518, 0.9639)
    """
    a, v = float(auc), float(variance)
    if not np.isfinite(v):
        return float("nan"), float("nan")
    if a <= 0.0 or a >= 1.0:
        if m is None or n is None:
            return a, a
        eps = 0.5 / (m * n)
        a = min(max(a, eps), 1.0 - eps)
    if v <= 0.0 and m is not None and n is not None:
        v = a * (1.0 - a) / (m * n)
    lg = np.log(a / (1.0 - a))
    half = _z(confidence) * np.sqrt(v) / (a * (1.0 - a))
    lo, hi = 1.0 / (1.0 + np.exp(-(lg - half))), 1.0 / (1.0 + np.exp(-(lg + half)))
    if auc >= 1.0:
        hi = 1.0
    if auc <= 0.0:
        lo = 0.0
    return float(lo), float(hi)


def newcombe_variance(auc: float, m: int, n: int) -> float:
    """Hanley and McNeil's variance of the AUC with Newcombe's ``N*`` in place of both sample sizes.

    Hanley and McNeil (1982, Radiology 143:29) give
    ``A (1 - A) [1 + (m - 1)(1 - A) / (2 - A) + (n - 1) A / (1 + A)] / (m n)``
    for ``m`` positives and ``n`` negatives (``Q1 = A / (2 - A)`` and
    ``Q2 = 2 A^2 / (1 + A)`` of the exponential model written out). Newcombe
    (2006, Stat Med 25:559, method 4; Kottas, Kuss and Zapf 2014, BMC Med Res
    Methodol 14:26, the "modified Wald") replaces both ``m - 1`` and
    ``n - 1`` with ``N* - 1``, ``N* = (m + n) / 2``.

    Example:

    >>> round(newcombe_variance(0.9, 20, 180), 6)
    0.001422
    """
    a = float(auc)
    k = (m + n) / 2.0 - 1.0
    return a * (1.0 - a) * (1.0 + k * (1.0 - a) / (2.0 - a) + k * a / (1.0 + a)) / (m * n)


def newcombe_ci(auc: float, m: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's (2006, method 4) Wald interval of the AUC, ``A +- z sqrt(newcombe_variance)``, in [0, 1].

    The variance is a function of the AUC and the sample sizes only (not of
    the sample's placement values), so it does not shrink when a sample of
    few positives happens to miss the low-scoring ones, the reason DeLong's
    intervals under-cover with few positives (docs/statistics.md). At an AUC
    of exactly 0 or 1 the variance is taken at the AUC pulled in by half a
    pair, ``1 - 0.5 / (m n)``, so the interval has a width.

    Args:
        auc: the AUC.
        m: the number of positives.
        n: the number of negatives.
        confidence: the level.

    Returns:
        ``(low, high)``.

    Example:

    >>> lo, hi = newcombe_ci(0.9, 20, 180)
    >>> round(lo, 4), round(hi, 4)
    (0.8261, 0.9739)
    """
    a = float(auc)
    eps = 0.5 / (m * n)
    var = newcombe_variance(min(max(a, eps), 1.0 - eps), m, n)
    half = _z(confidence) * np.sqrt(var)
    return float(max(a - half, 0.0)), float(min(a + half, 1.0))


def auc_interval(
    auc: float, variance: float, method: str = "delong", confidence: float = 0.95, **kwargs: Any
) -> tuple[float, float]:
    """`delong_ci` (``"delong"``), `logit_delong_ci` (``"logit-delong"``) or `newcombe_ci` (``"newcombe"``).

    ``"newcombe"`` needs ``m`` and ``n`` (positives, negatives) and ignores
    `variance`.
    """
    if method == "delong":
        return delong_ci(auc, variance, confidence)
    if method == "logit-delong":
        return logit_delong_ci(auc, variance, confidence, **kwargs)
    if method == "newcombe":
        return newcombe_ci(auc, kwargs["m"], kwargs["n"], confidence)
    raise ValueError(f"method must be 'delong', 'logit-delong' or 'newcombe', got {method!r}")


def difference_ci(difference: float, variance: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wald interval of a paired AUC difference, ``d +- z sqrt(var)``, not clipped.

    pROC's ``roc.test(paired=TRUE, method="delong")$conf.int`` (DeLong et al.
    1988).

    Example:

    >>> lo, hi = difference_ci(0.05, 0.0004)
    >>> round(lo, 4), round(hi, 4)
    (0.0108, 0.0892)
    """
    half = _z(confidence) * np.sqrt(variance)
    return float(difference - half), float(difference + half)


def difference_p_value(difference: float, variance: float) -> float:
    """Two-sided p-value of DeLong's test ``z = d / sqrt(var)`` (DeLong et al. 1988).

    pROC's ``roc.test(paired=TRUE, method="delong")$p.value``. 1.0 when the
    difference and its variance are both 0 (identical rankings).

    Example:

    >>> round(difference_p_value(0.05, 0.0004), 4)
    0.0124
    """
    if variance <= 0.0:
        return 1.0 if difference == 0.0 else 0.0
    z = difference / np.sqrt(variance)
    return float(2.0 * stats.norm.sf(abs(z)))
