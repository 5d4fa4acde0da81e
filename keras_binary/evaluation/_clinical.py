"""Clinical statistics in pure NumPy/SciPy: proportion bounds, net benefit, calibration, paired rates.

Each function is float64, works on weighted counts (weights are frequency
weights), and names its reference:

- `wilson_interval`: Wilson (1927), as `scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`;
- `exact_lower_bound`, `positives_needed`: the one-sided Clopper-Pearson
  (1934) lower bound, as `scipy.stats.binomtest(k, n, alternative="greater").proportion_ci(method="exact")`;
- `net_benefit`: decision curve analysis, Vickers and Elkin (2006);
- `calibration_slope`, `calibration_intercept`: logistic recalibration,
  Cox (1958), Van Calster et al. (2016), Steyerberg (2019, ch. 15);
- `mcnemar_exact`: the exact (conditional binomial) McNemar test;
- `newcombe_paired_difference`: Newcombe (1998), method 10.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval of a proportion `k / n`.

    Reference: Wilson (1927), JASA 22:209; equal to SciPy's
    `binomtest(k, n).proportion_ci(confidence, method="wilson")` for integer
    counts. Real (weighted) counts are allowed. `n == 0` gives NaN.

    Example:

    >>> [round(v, 4) for v in wilson_interval(20, 20)]
    [0.8389, 1.0]
    """
    k, n = float(k), float(n)
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(confidence)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0))
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def exact_lower_bound(k: float, n: float, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson lower confidence bound of a proportion `k / n`.

    The `alpha = 1 - confidence` quantile of `Beta(k, n - k + 1)` (0 when
    `k == 0`): the true rate is at least this with probability
    `confidence`, whatever the rate (the bound never undercovers).
    Reference: Clopper and Pearson (1934), Biometrika 26:404; SciPy's
    `binomtest(k, n, alternative="greater").proportion_ci(confidence, method="exact").low`.

    Example:

    >>> round(exact_lower_bound(20, 20), 4)
    0.8609
    """
    k, n = float(k), float(n)
    if n <= 0:
        return math.nan
    if k <= 0:
        return 0.0
    return float(stats.beta.ppf(1.0 - confidence, k, n - k + 1.0))


def positives_needed(target: float, confidence: float = 0.95) -> float:
    """The fewest examples `n` whose perfect result `n / n` has an exact lower bound >= `target`.

    The one-sided Clopper-Pearson bound of `n / n` is `alpha ** (1 / n)`, so
    `n = ceil(log(alpha) / log(target))` (infinite for `target == 1`).

    Example:

    >>> positives_needed(0.95), positives_needed(0.9)
    (59, 29)
    """
    if target <= 0:
        return 1
    if target >= 1:
        return math.inf
    n = math.ceil(math.log(1.0 - confidence) / math.log(target))
    while n > 1 and exact_lower_bound(n - 1, n - 1, confidence) >= target:  # guard the rounding
        n -= 1
    while exact_lower_bound(n, n, confidence) < target:
        n += 1
    return n


def net_benefit(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    thresholds: np.ndarray,
    confidence: float = 0.95,
    groups: np.ndarray | None = None,
    prevalence: float | None = None,
) -> dict[str, np.ndarray]:
    """Net benefit of the model, of "treat all" and of "treat none" at each threshold probability.

    `NB(pt) = TP / n - FP / n * pt / (1 - pt)`, where an example is treated
    when its probability is at least `pt` (Vickers and Elkin 2006, Med Decis
    Making 26:565; the `dcurves` package's definition). "Treat all" is
    `prevalence - (1 - prevalence) * pt / (1 - pt)`, "treat none" is 0.
    Net benefit is the mean of one contribution per example (1 for a true
    positive, `-pt / (1 - pt)` for a false positive, 0 otherwise), so its
    interval is the Wald interval of that mean, `NB +- z * sd / sqrt(n)`
    (the test set a random sample of the population). With `groups` (the
    patient of each example) the variance is the cluster-robust one of a
    ratio of cluster totals, `k / (k - 1) * sum_k (sum_{i in k} w_i (c_i - NB))^2 / W^2`
    (Obuchowski 1998), so several examples per patient do not count as
    independent.

    With a stated `prevalence` (a case-control or enriched test set, whose
    own prevalence is not the population's), net benefit is computed at it
    from the sensitivity and specificity at each threshold (Vickers, Van
    Calster and Steyerberg 2016, BMJ 352:i6; Pfeiffer and Gail 2020):
    `NB(pt) = sens * prev - (1 - spec) * (1 - prev) * pt / (1 - pt)`. Its
    interval is the Wald interval with `var = prev^2 var(sens) +
    ((1 - prev) pt / (1 - pt))^2 var(1 - spec)` (positives and negatives
    independent samples, `var(sens) = sens (1 - sens) / (P - 1)`), or with
    `groups` the cluster-robust (linearisation) variance of that function
    of totals (Binder 1983). "Treat all" is then
    `prev - (1 - prev) * pt / (1 - pt)`, a known number (its interval has
    no width). At the test set's own prevalence (unweighted) the net
    benefit equals the unadjusted one.

    Args:
        y: labels 0/1, float64, rank 1.
        p: probabilities, rank 1 (an example is treated when `p >= pt`).
        w: frequency weights or `None`.
        thresholds: threshold probabilities in (0, 1).
        confidence: the level of the intervals.
        groups: the patient of each example, or `None`.
        prevalence: the population's prevalence in (0, 1), or `None` for
            the test set's own.

    Returns:
        A dict of arrays, one value per threshold: `threshold`,
        `net_benefit`, `low`, `high`, `treat_all`, `treat_all_low`,
        `treat_all_high`, `treat_none`.

    Example:

    >>> y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    >>> p = np.array([0.1, 0.4, 0.6, 0.7, 0.3, 0.2])
    >>> nb = net_benefit(y, p, None, np.array([0.5]), prevalence=0.1)
    >>> round(float(nb["net_benefit"][0]), 4), round(float(nb["treat_all"][0]), 4)
    (-0.175, -0.8)
    """
    t = np.asarray(thresholds, dtype="float64").reshape(-1)
    w = np.ones_like(p) if w is None else w
    total = float(np.sum(w))
    odds = t / (1.0 - t)
    z = _z(confidence)
    if prevalence is not None:
        return _net_benefit_at_prevalence(y, p, w, t, odds, z, float(prevalence), groups)

    order = np.argsort(p)
    nb, low, high = _chunked_nb(y[order], p[order], w[order], t, odds, total, z)
    # treat all: prevalence - (1 - prevalence) * odds, one contribution per example as above
    prev = float(np.sum(w * y)) / total
    all_mean = prev - (1.0 - prev) * odds
    c_var = _treat_all_variance(y, w, odds, total)
    half = z * np.sqrt(c_var / total)
    all_low, all_high = all_mean - half, all_mean + half
    if groups is not None:
        ids = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1]
        k = int(ids.max()) + 1
        treated = p[None, :] >= t[:, None] if t.size * p.size <= 4_000_000 else None
        for j in range(t.size):
            row = treated[j] if treated is not None else p >= t[j]
            gain = np.where(y == 1, 1.0, -odds[j])
            for mean, contribution, out in (
                (nb[j], row * gain, (low, high)),
                (all_mean[j], gain, (all_low, all_high)),
            ):
                half = z * _cluster_sd(w * (contribution - mean), ids, k, total)
                out[0][j], out[1][j] = mean - half, mean + half
    return {
        "threshold": t,
        "net_benefit": nb,
        "low": low,
        "high": high,
        "treat_all": all_mean,
        "treat_all_low": all_low,
        "treat_all_high": all_high,
        "treat_none": np.zeros_like(t),
    }


def _net_benefit_at_prevalence(y, p, w, t, odds, z, prev, groups):
    """`net_benefit` at a stated prevalence: `sens * prev - (1 - spec) * (1 - prev) * odds`."""
    order = np.argsort(p)
    ys, ps, ws = y[order], p[order], w[order]
    start = np.searchsorted(ps, t, side="left")  # treated: p >= t
    tp = np.concatenate([np.cumsum((ws * ys)[::-1])[::-1], [0.0]])[start]
    fp = np.concatenate([np.cumsum((ws * (1 - ys))[::-1])[::-1], [0.0]])[start]
    big_p, big_n = float(np.sum(w * y)), float(np.sum(w * (1 - y)))
    with np.errstate(divide="ignore", invalid="ignore"):
        sens, fpr = tp / big_p, fp / big_n
        nb = prev * sens - (1.0 - prev) * odds * fpr
        if groups is None:
            var = prev**2 * sens * (1 - sens) / max(big_p - 1.0, 1.0) + ((1.0 - prev) * odds) ** 2 * fpr * (
                1 - fpr
            ) / max(big_n - 1.0, 1.0)
            half = z * np.sqrt(np.maximum(var, 0.0))
        else:
            ids = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1]
            k = int(ids.max()) + 1
            half = np.empty_like(t)
            for j in range(t.size):
                hit = p >= t[j]
                influence = w * (
                    prev * y * (hit - sens[j]) / big_p
                    - (1.0 - prev) * odds[j] * (1 - y) * (hit - fpr[j]) / big_n
                )
                sums = np.bincount(ids, weights=influence, minlength=k)
                half[j] = z * math.sqrt(k / (k - 1) * float(np.sum(sums**2))) if k > 1 else math.nan
    treat_all = prev - (1.0 - prev) * odds
    return {
        "threshold": t,
        "net_benefit": nb,
        "low": nb - half,
        "high": nb + half,
        "treat_all": treat_all,
        "treat_all_low": treat_all.copy(),
        "treat_all_high": treat_all.copy(),
        "treat_none": np.zeros_like(t),
    }


def _chunked_nb(y, ps, w, t, odds, total, z):
    """Net benefit and its Wald interval from cumulative sums over the sorted scores (O(n + m))."""
    # treated: p >= t, i.e. the examples from searchsorted(ps, t, "left") on
    start = np.searchsorted(ps, t, side="left")
    tp_cum = np.concatenate([[0.0], np.cumsum((w * y)[::-1])])[::-1]  # sum from index i to the end
    fp_cum = np.concatenate([[0.0], np.cumsum((w * (1 - y))[::-1])])[::-1]
    tp, fp = tp_cum[start], fp_cum[start]
    nb = tp / total - fp / total * odds
    # sum of w * c^2: 1 per true positive, odds^2 per false positive
    second = (tp + fp * odds**2) / total
    var = (second - nb**2) * total / max(total - 1.0, 1.0)
    half = z * np.sqrt(np.maximum(var, 0.0) / total)
    return nb, nb - half, nb + half


def _cluster_sd(residual_w: np.ndarray, ids: np.ndarray, k: int, total: float) -> float:
    """Cluster-robust standard error of a weighted mean from its weighted residuals."""
    if k < 2:
        return math.nan
    sums = np.bincount(ids, weights=residual_w, minlength=k)
    return math.sqrt(k / (k - 1) * float(np.sum(sums**2))) / total


def _treat_all_variance(y, w, odds, total):
    prev = float(np.sum(w * y)) / total
    mean = prev - (1.0 - prev) * odds
    second = prev + (1.0 - prev) * odds**2
    return np.maximum(second - mean**2, 0.0) * total / max(total - 1.0, 1.0)


def logit(p: np.ndarray, eps: float = 1e-15) -> np.ndarray:
    """`log(p / (1 - p))` in float64, `p` clipped to `[eps, 1 - eps]` (a probability of 0 or 1 has no logit)."""
    p = np.clip(np.asarray(p, dtype="float64"), eps, 1.0 - eps)
    return special.logit(p)


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton's method: coefficients and their covariance.

    The covariance is the inverse Fisher information; with `groups`, the
    cluster-robust sandwich `H^-1 (sum_k s_k s_k') H^-1 * k / (k - 1)` with
    `s_k` the score of cluster `k` (Liang and Zeger 1986). NaN when the fit
    does not converge (e.g. complete separation).
    """
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        eta = offset + x @ beta
        mu = special.expit(eta)
        grad = x.T @ (w * (y - mu))
        info = x.T @ (x * (w * mu * (1 - mu))[:, None])
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 1e6:
            break
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(beta))):
            mu = special.expit(offset + x @ beta)
            info = x.T @ (x * (w * mu * (1 - mu))[:, None])
            inverse = np.linalg.inv(info)
            if groups is None:
                return beta, inverse
            ids = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1]
            k = int(ids.max()) + 1
            if k < 2:
                return beta, np.full_like(inverse, np.nan)
            score = np.stack(
                [np.bincount(ids, weights=w * (y - mu) * x[:, j], minlength=k) for j in range(x.shape[1])]
            )
            meat = score @ score.T * k / (k - 1)
            return beta, inverse @ meat @ inverse
    nan = np.full(x.shape[1], np.nan)
    return nan, np.full((x.shape[1], x.shape[1]), np.nan)


def calibration_slope(
    y: np.ndarray,
    lp: np.ndarray,
    w: np.ndarray | None = None,
    confidence: float = 0.95,
    groups: np.ndarray | None = None,
) -> tuple[float, tuple[float, float]]:
    """The calibration slope `b` of `logit P(y=1) = a + b * lp`, with its Wald interval.

    `lp` is the model's logit. 1 is perfect; below 1 the predictions are too
    extreme (overfitting). Reference: Cox (1958); Van Calster et al. (2016),
    J Clin Epidemiol 74:167. Equal to statsmodels' `Logit(y, [1, lp]).fit()`
    `params[1]` and `conf_int()`; with `groups`, the cluster-robust
    (sandwich) interval, statsmodels' `cov_type="cluster"` without its
    `(n - 1) / (n - p)` factor. NaN when the fit has no finite maximum.

    Example:

    >>> y = np.array([0, 0, 1, 0, 1, 1]); lp = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    >>> round(calibration_slope(y, lp)[0], 4)
    1.3511
    """
    w = np.ones_like(lp) if w is None else w
    x = np.stack([np.ones_like(lp), lp], axis=1)
    beta, cov = _fit_logistic(x, y, w, np.zeros_like(lp), groups)
    half = _z(confidence) * math.sqrt(cov[1, 1]) if np.isfinite(cov[1, 1]) else math.nan
    return float(beta[1]), (float(beta[1] - half), float(beta[1] + half))


def calibration_intercept(
    y: np.ndarray,
    lp: np.ndarray,
    w: np.ndarray | None = None,
    confidence: float = 0.95,
    groups: np.ndarray | None = None,
) -> tuple[float, tuple[float, float]]:
    """Calibration-in-the-large: `a` of `logit P(y=1) = a + lp` (the logit as an offset), with its Wald interval.

    0 is perfect; above 0 the model underestimates the risk on average.
    Reference: Van Calster et al. (2016); Steyerberg (2019), ch. 15. Equal
    to statsmodels' `GLM(y, ones, family=Binomial(), offset=lp).fit()`.

    Example:

    >>> y = np.array([0, 0, 1, 0, 1, 1]); lp = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    >>> round(calibration_intercept(y, lp - 1.0)[0], 4)  # a model one logit too low
    1.0
    """
    w = np.ones_like(lp) if w is None else w
    beta, cov = _fit_logistic(np.ones((lp.size, 1)), y, w, lp, groups)
    half = _z(confidence) * math.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0]) else math.nan
    return float(beta[0]), (float(beta[0] - half), float(beta[0] + half))


def mcnemar_exact(b: float, c: float) -> float:
    """The two-sided exact McNemar p-value of the discordant counts `b` and `c`.

    Conditional on `b + c`, `b ~ Binomial(b + c, 1/2)` under equal rates;
    the p-value is SciPy's `binomtest(b, b + c, 0.5).pvalue` (1 with no
    discordant pair). Exact at every sample size, so no rule for when the
    chi-square approximation holds. Real (weighted) counts are rounded.

    Example:

    >>> round(mcnemar_exact(2, 10), 4)
    0.0386
    """
    b, c = int(round(b)), int(round(c))
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def newcombe_paired_difference(
    a: float, b: float, c: float, d: float, confidence: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """The difference of two paired proportions, `(a + b) / n - (a + c) / n`, with Newcombe's interval.

    `a`: both correct, `b`: only the first, `c`: only the second, `d`:
    neither. Newcombe (1998), Stat Med 17:2635, method 10: Wilson intervals
    of the two proportions, combined with the phi correlation of the pairs.
    Chosen over the Wald interval, which undercovers near 0 and 1 (the range
    of sensitivities), and over Tango's score interval, which needs an
    iterative solve; its coverage is close to nominal (Newcombe 1998, Fagerland
    et al. 2014).

    Example:

    >>> d, (low, high) = newcombe_paired_difference(10, 5, 1, 4)
    >>> round(d, 4), round(low, 4), round(high, 4)
    (0.2, -0.0248, 0.3974)
    """
    a, b, c, d = (float(v) for v in (a, b, c, d))
    n = a + b + c + d
    if n <= 0:
        return math.nan, (math.nan, math.nan)
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, confidence)
    l2, u2 = wilson_interval(a + c, n, confidence)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(den) if den > 0 else 0.0
    delta = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    eps = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    diff = p1 - p2
    return diff, (max(diff - delta, -1.0), min(diff + eps, 1.0))


def clustered_paired_difference(
    first: np.ndarray, second: np.ndarray, groups: np.ndarray, confidence: float = 0.95
) -> tuple[float, tuple[float, float], float]:
    """The difference of two paired proportions over clustered examples: estimate, Wald interval, p-value.

    `first`, `second`: 0/1 per example (correct or not). The difference is
    `sum(first - second) / n`, a ratio of cluster totals; its variance is the
    ratio estimator's over clusters (Obuchowski 1998, Stat Med 17:1495), and
    the p-value is the clustered McNemar test of Durkalski et al. (2003), Stat
    Med 22:2417: `(sum_k (b_k - c_k))^2 / sum_k (b_k - c_k)^2 ~ chi2(1)`.
    """
    _, inverse = np.unique(groups, return_inverse=True)
    k = int(inverse.max()) + 1
    diff_k = np.bincount(inverse, weights=first - second, minlength=k)
    n_k = np.bincount(inverse, minlength=k).astype("float64")
    n = float(n_k.sum())
    diff = float(diff_k.sum() / n)
    resid = diff_k - diff * n_k
    var = k / (k - 1) * float(np.sum(resid**2)) / n**2 if k > 1 else math.nan
    half = _z(confidence) * math.sqrt(var) if math.isfinite(var) else math.nan
    den = float(np.sum(diff_k**2))
    p_value = float(stats.chi2.sf(float(diff_k.sum()) ** 2 / den, 1)) if den > 0 else 1.0
    return diff, (max(diff - half, -1.0), min(diff + half, 1.0)), p_value
