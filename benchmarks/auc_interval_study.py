"""Coverage of candidate AUC intervals (and AUC-difference intervals) in the settings of coverage.py.

Why the default AUC intervals of `keras_binary.report` miss 95 % with few
positives, a high AUC and patients, and whether an established method does
better. Same data as `benchmarks/coverage.py` (its `draw` and `SETTINGS`);
every interval is computed here from `_delong` (no `report`), so thousands
of data sets per setting fit in minutes.

Candidates for one AUC (all at 95 %):

- ``delong``: Wald with DeLong's variance (pROC's ``ci.auc(method="delong")``);
- ``logit-delong``: the library's default before this study (Pepe 2003, 5.2.2);
- ``hm-wald``: Wald with Hanley and McNeil's (1982) variance (Newcombe 2006, method 2);
- ``newcombe-wald``: Wald with the Hanley-McNeil variance at ``N* = (m + n) / 2``
  (Newcombe 2006, method 4; Kottas, Kuss and Zapf 2014's "modified Wald");
- ``newcombe-score``: the score-type (implicit) interval with that variance
  (Newcombe 2006, method 5);
- ``percentile`` / ``bca``: stratified bootstrap (``--resamples``), BCa with the
  jackknife acceleration (Efron 1987; DiCiccio and Efron 1996);
- with patients: clustered DeLong / logit-DeLong (Obuchowski 1997), the
  logit interval with the leave-one-patient-out jackknife variance, and the
  stratified cluster bootstrap (percentile and BCa).

For the paired difference: the Wald interval of the paired DeLong test (the
default) and MOVER (Zou and Donner 2008) from the two logit-DeLong (or
Newcombe-Wald) intervals and DeLong's correlation.

Run (the table in docs/statistics.md):

    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --datasets 4000 --resamples 0
    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --datasets 4000 --resamples 1000 \
        --only balanced few_pos high_auc
    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --datasets 2000 --resamples 500 --only patients

The grid of positives (10-200, 5 or 10 negatives each) x true AUC (0.70-0.98)
of docs/statistics.md, vectorised (seconds per cell; ``--positive-sd`` gives
the positives' scores another spread than the negatives'):

    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --grid --datasets 4000 --ratios 5 10
    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --grid --datasets 2000 --ratios 10 --positive-sd 2
    OMP_NUM_THREADS=1 python benchmarks/auc_interval_study.py --grid --datasets 2000 --ratios 10 --positive-sd 0.5

The Monte Carlo standard error of a coverage near 0.95 from 4,000 data sets
is sqrt(0.95 * 0.05 / 4000) = 0.0034 (2,000: 0.0049). ``--quick``: 200 data
sets, no bootstrap; ``RESULT name=auc_study_<setting>_<statistic>_<interval>
ratio=<coverage / 0.95>`` lines for `benchmarks/run_all.py`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy import optimize, stats  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from coverage import SETTINGS, _delta, draw, truth  # noqa: E402

from keras_binary.evaluation import _delong  # noqa: E402

Z = float(stats.norm.ppf(0.975))


def hm_variance(theta: float, m_star: float, n_star: float, m: int, n: int) -> float:
    """Hanley-McNeil variance with multipliers m_star (for m - 1) and n_star (for n - 1)."""
    return (
        theta
        * (1 - theta)
        * (1 + m_star * (1 - theta) / (2 - theta) + n_star * theta / (1 + theta))
        / (m * n)
    )


def wald(a, v):
    h = Z * math.sqrt(max(v, 0.0))
    return max(a - h, 0.0), min(a + h, 1.0)


def score_interval(a, m_star, n_star, m, n):
    """Solve (a - t)^2 = z^2 V(t) on each side of a (Newcombe 2006, the implicit methods)."""

    def f(t):
        return (a - t) ** 2 - Z * Z * hm_variance(t, m_star, n_star, m, n)

    # Inside the interval f < 0; f(0) = a^2 and f(1) = (1 - a)^2. At a = 1 (or 0) f is 0 there
    # too: search from just inside, where f < 0 (the root at the estimate itself is not the bound).
    eps = 1e-12
    lo = 0.0 if a <= 0 else optimize.brentq(f, 0.0, min(a, 1.0 - eps))
    hi = 1.0 if a >= 1 else optimize.brentq(f, max(a, eps), 1.0)
    return lo, hi


def logit_interval(a, v, m, n):
    return _delong.logit_delong_ci(a, v, 0.95, m=m, n=n)


def bca(theta, boot, jack):
    """BCa interval from bootstrap draws and jackknife values (Efron 1987)."""
    b = boot.size
    prop = (np.count_nonzero(boot < theta) + 0.5 * np.count_nonzero(boot == theta)) / b
    prop = min(max(prop, 0.5 / b), 1 - 0.5 / b)
    z0 = stats.norm.ppf(prop)
    d = jack.mean() - jack
    den = 6.0 * float(np.sum(d**2)) ** 1.5
    acc = float(np.sum(d**3)) / den if den > 0 else 0.0
    out = []
    for zq in (-Z, Z):
        x = z0 + zq
        q = stats.norm.cdf(z0 + x / (1 - acc * x))
        out.append(float(np.quantile(boot, q)))
    return tuple(out)


def psi_matrix(sp, sn):
    return (sp[:, None] > sn[None, :]) + 0.5 * (sp[:, None] == sn[None, :])


def boot_iid(sp, sn, resamples, rng):
    m, n = sp.size, sn.size
    psi = psi_matrix(sp, sn)
    c = rng.multinomial(m, np.full(m, 1.0 / m), size=resamples).astype(float)
    d = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)
    boot = np.einsum("bi,ij,bj->b", c, psi, d) / (m * n)
    theta = psi.mean()
    rows, cols = psi.sum(1), psi.sum(0)
    total = psi.sum()
    jack = np.r_[(total - rows) / ((m - 1) * n), (total - cols) / (m * (n - 1))]
    return theta, boot, jack


def cluster_parts(y, s, groups):
    pos = y > 0.5
    ids = np.unique(groups, return_inverse=True)[1]
    k = ids.max() + 1
    psi = psi_matrix(s[pos], s[~pos])
    onehot_p = np.zeros((k, pos.sum()))
    onehot_p[ids[pos], np.arange(pos.sum())] = 1
    onehot_n = np.zeros((k, (~pos).sum()))
    onehot_n[ids[~pos], np.arange((~pos).sum())] = 1
    return psi, onehot_p, onehot_n, k


def cluster_jackknife(psi, op, on, k):
    total = psi.sum()
    r = op @ psi.sum(1)
    c = on @ psi.sum(0)
    x = np.einsum("gi,ij,gj->g", op, psi, on)
    mg, ng = op.sum(1), on.sum(1)
    m, n = psi.shape
    return (total - r - c + x) / ((m - mg) * (n - ng))


def boot_cluster(psi, op, on, k, resamples, rng):
    has_pos = op.sum(1) > 0
    counts = np.zeros((resamples, k))
    for stratum in (np.flatnonzero(has_pos), np.flatnonzero(~has_pos)):
        if stratum.size:
            draws = rng.integers(0, stratum.size, size=(resamples, stratum.size))
            np.add.at(counts, (np.arange(resamples)[:, None], stratum[draws]), 1.0)
    cw = counts @ op
    dw = counts @ on
    return np.einsum("bi,ij,bj->b", cw, psi, dw) / (cw.sum(1) * dw.sum(1))


def mover(d, a1, l1, u1, a2, l2, u2, r):
    lo = d - math.sqrt(max((a1 - l1) ** 2 + (u2 - a2) ** 2 - 2 * r * (a1 - l1) * (u2 - a2), 0.0))
    hi = d + math.sqrt(max((u1 - a1) ** 2 + (a2 - l2) ** 2 - 2 * r * (u1 - a1) * (a2 - l2), 0.0))
    return lo, hi


def run(name, setting, datasets, resamples, seed):
    rng = np.random.default_rng(seed)
    boot_rng = np.random.default_rng(seed + 1000)
    true_auc = truth(_delta(setting["auc"]), 0.5)["auc"]
    true_diff = true_auc - truth(_delta(setting["auc_b"]), 0.5)["auc"]
    hits: dict[str, list] = {}
    widths: dict[str, list] = {}

    def add(key, ci, target):
        hits.setdefault(key, []).append(ci[0] <= target <= ci[1])
        widths.setdefault(key, []).append(ci[1] - ci[0])

    for _ in range(datasets):
        y, a, b, groups = draw(setting, rng)
        pos = y > 0.5
        m, n = int(pos.sum()), int((~pos).sum())
        if m < 2 or n < 2:
            continue
        if groups is None:
            auc, var = _delong.delong_auc(y, a)
            add("auc delong", _delong.delong_ci(auc, var), true_auc)
            add("auc logit-delong", logit_interval(auc, var, m, n), true_auc)
            add("auc hm-wald", wald(auc, hm_variance(auc, m - 1, n - 1, m, n)), true_auc)
            ns = (m + n) / 2 - 1
            add("auc newcombe-wald", wald(auc, hm_variance(auc, ns, ns, m, n)), true_auc)
            add("auc newcombe-score", score_interval(auc, ns, ns, m, n), true_auc)
            if resamples:
                theta, boot, jack = boot_iid(a[pos], a[~pos], resamples, boot_rng)
                add("auc percentile", tuple(np.quantile(boot, [0.025, 0.975])), true_auc)
                add("auc bca", bca(theta, boot, jack), true_auc)
            pair = _delong.delong_paired(y, a, b)
            var_b = _delong.delong_auc(y, b)[1]
        else:
            auc, var = _delong.clustered_auc(y, a, groups)
            add("auc delong", _delong.delong_ci(auc, var), true_auc)
            add("auc logit-delong", logit_interval(auc, var, m, n), true_auc)
            psi, op, on, k = cluster_parts(y, a, groups)
            jack = cluster_jackknife(psi, op, on, k)
            var_j = (k - 1) / k * float(np.sum((jack - jack.mean()) ** 2))
            add("auc logit-jackknife", logit_interval(auc, var_j, m, n), true_auc)
            add("auc jackknife", _delong.delong_ci(auc, var_j), true_auc)
            if resamples:
                boot = boot_cluster(psi, op, on, k, resamples, boot_rng)
                add("auc percentile", tuple(np.quantile(boot, [0.025, 0.975])), true_auc)
                add("auc bca", bca(auc, boot, jack), true_auc)
            pair = _delong.clustered_paired(y, a, b, groups)
            var_b = _delong.clustered_auc(y, b, groups)[1]
        add("auc_difference delong", _delong.difference_ci(pair.difference, pair.variance), true_diff)
        ia = logit_interval(pair.auc_a, var, m, n)
        ib = logit_interval(pair.auc_b, var_b, m, n)
        r = pair.covariance / math.sqrt(var * var_b) if var > 0 and var_b > 0 else 0.0
        add(
            "auc_difference mover-logit",
            mover(pair.difference, pair.auc_a, *ia, pair.auc_b, *ib, r),
            true_diff,
        )
        if groups is None:
            ns = (m + n) / 2 - 1
            na_ = wald(pair.auc_a, hm_variance(pair.auc_a, ns, ns, m, n))
            nb_ = wald(pair.auc_b, hm_variance(pair.auc_b, ns, ns, m, n))
            add(
                "auc_difference mover-newcombe",
                mover(pair.difference, pair.auc_a, *na_, pair.auc_b, *nb_, r),
                true_diff,
            )
    return {k: (float(np.mean(v)), float(np.mean(widths[k])), len(v)) for k, v in hits.items()}


GRID_POSITIVES = (10, 20, 30, 50, 100, 200)
GRID_AUCS = (0.70, 0.85, 0.95, 0.98)
GRID_RATIOS = (5, 10)
GRID_CHUNK = 2_000_000  # scores per vectorised block (memory)


def grid_intervals(m: int, n: int, auc: np.ndarray, var: np.ndarray) -> dict[str, tuple]:
    """The candidate intervals of many AUCs at once (float64, vectorised), by name.

    The same formulas as `_delong.delong_ci`, `logit_delong_ci` (with ``m``
    and ``n``: half a pair in from 0 and 1, variance floored at one half
    pair's) and `newcombe_ci`, and `score_interval` (``newcombe-score``) by
    bisection; ``logit-newcombe`` is Newcombe's variance on the logit scale
    (delta method). `grid_cell` checks them against those functions on its
    first data set, tests/test_evaluation_intervals.py on random ones.
    """
    half_pair = 0.5 / (m * n)
    a = np.clip(auc, half_pair, 1.0 - half_pair)
    v = np.where(var > 0.0, var, a * (1.0 - a) / (m * n))
    lg = np.log(a / (1.0 - a))
    h = Z * np.sqrt(v) / (a * (1.0 - a))
    lo, hi = 1.0 / (1.0 + np.exp(-(lg - h))), 1.0 / (1.0 + np.exp(-(lg + h)))
    hi = np.where(auc >= 1.0, 1.0, hi)
    lo = np.where(auc <= 0.0, 0.0, lo)
    out = {"logit-delong": (lo, hi)}
    hd = Z * np.sqrt(np.maximum(var, 0.0))
    out["delong"] = (np.maximum(auc - hd, 0.0), np.minimum(auc + hd, 1.0))
    ns = (m + n) / 2 - 1
    vn = a * (1 - a) * (1 + ns * (1 - a) / (2 - a) + ns * a / (1 + a)) / (m * n)
    hn = Z * np.sqrt(vn)
    out["newcombe-wald"] = (np.maximum(auc - hn, 0.0), np.minimum(auc + hn, 1.0))
    hl = Z * np.sqrt(vn) / (a * (1.0 - a))
    lo, hi = 1.0 / (1.0 + np.exp(-(lg - hl))), 1.0 / (1.0 + np.exp(-(lg + hl)))
    out["logit-newcombe"] = (np.where(auc <= 0.0, 0.0, lo), np.where(auc >= 1.0, 1.0, hi))
    out["newcombe-score"] = _score_vectorised(auc, ns, m, n)
    return out


def _score_vectorised(auc: np.ndarray, ns: float, m: int, n: int) -> tuple:
    """`score_interval` for many AUCs: bisection on each side of the estimate (60 steps)."""

    def f(t):
        return (auc - t) ** 2 - Z * Z * hm_variance_v(t, ns, ns, m, n)

    out = []
    for lo, hi, inside_low in (
        (np.zeros_like(auc), auc.copy(), False),
        (auc.copy(), np.ones_like(auc), True),
    ):
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            neg = f(mid) < 0  # inside the interval
            if inside_low:
                lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
            else:
                lo, hi = np.where(neg, lo, mid), np.where(neg, mid, hi)
        out.append(0.5 * (lo + hi))
    return out[0], np.where(auc >= 1.0, 1.0, out[1])


def hm_variance_v(t, m_star, n_star, m, n):
    """`hm_variance` for arrays."""
    return t * (1 - t) * (1 + m_star * (1 - t) / (2 - t) + n_star * t / (1 + t)) / (m * n)


def grid_delong(scores: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's AUC and variance of each row of `scores` (positives in the first m columns, no ties).

    Placement values from ranks: a positive's is the number of negatives
    below it over n, a negative's the number of positives above it over m;
    the same numbers as `_delong.placements` when no two scores tie.
    """
    n = scores.shape[1] - m
    rank_all = np.argsort(np.argsort(scores, axis=1), axis=1)
    rank_pos = np.argsort(np.argsort(scores[:, :m], axis=1), axis=1)
    rank_neg = np.argsort(np.argsort(scores[:, m:], axis=1), axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # negatives below each positive
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m  # positives above each negative
    return v10.mean(axis=1), v10.var(axis=1, ddof=1) / m + v01.var(axis=1, ddof=1) / n


def grid_cell(
    m: int, n: int, true_auc: float, datasets: int, rng: np.random.Generator, positive_sd: float = 1.0
) -> dict:
    """Coverage and mean width of the candidates for `datasets` binormal data sets of m / n.

    Negatives' scores N(0, 1), positives' N(delta, positive_sd^2): the true
    AUC is ``Phi(delta / sqrt(1 + positive_sd^2))``.
    """
    delta = float(stats.norm.ppf(true_auc)) * math.sqrt(1.0 + positive_sd**2)
    hits: dict[str, int] = {}
    widths: dict[str, float] = {}
    done = 0
    block = max(1, GRID_CHUNK // (m + n))
    while done < datasets:
        d = min(block, datasets - done)
        s = rng.standard_normal((d, m + n))
        s[:, :m] = positive_sd * s[:, :m] + delta  # positives first; continuous scores: no ties
        auc, var = grid_delong(s, m)
        if done == 0:  # the vectorised formulas are the library's
            y = np.r_[np.ones(m), np.zeros(n)]
            a0, v0 = _delong.delong_auc(y, s[0])
            assert abs(a0 - auc[0]) < 1e-12 and abs(v0 - var[0]) < 1e-12
            ref = grid_intervals(m, n, auc[:1], var[:1])
            assert np.allclose(np.ravel(ref["logit-delong"]), _delong.logit_delong_ci(a0, v0, m=m, n=n))
            assert np.allclose(np.ravel(ref["newcombe-wald"]), _delong.newcombe_ci(a0, m, n))
            assert np.allclose(np.ravel(ref["delong"]), _delong.delong_ci(a0, v0))
            ns = (m + n) / 2 - 1
            assert np.allclose(np.ravel(ref["newcombe-score"]), score_interval(a0, ns, ns, m, n), atol=1e-9)
        for name, (lo, hi) in grid_intervals(m, n, auc, var).items():
            hits[name] = hits.get(name, 0) + int(np.count_nonzero((lo <= true_auc) & (true_auc <= hi)))
            widths[name] = widths.get(name, 0.0) + float(np.sum(hi - lo))
        done += d
    return {k: (hits[k] / datasets, widths[k] / datasets) for k in hits}


def grid(datasets: int, seed: int, ratios=GRID_RATIOS, positive_sd: float = 1.0) -> None:
    """The coverage grid of docs/statistics.md: positives x true AUC x negatives per positive."""
    methods = ("logit-delong", "newcombe-wald", "newcombe-score", "logit-newcombe", "delong")
    print(
        f"{datasets} data sets per cell, binormal (positives' SD {positive_sd:g}), seed {seed} + cell index"
    )
    print("| positives | negatives | true AUC | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    cell = 0
    for ratio in ratios:
        for m in GRID_POSITIVES:
            for auc in GRID_AUCS:
                start = time.perf_counter()
                res = grid_cell(m, ratio * m, auc, datasets, np.random.default_rng(seed + cell), positive_sd)
                cells = " | ".join(f"{res[k][0]:.3f} ({res[k][1]:.4f})" for k in methods)
                print(f"| {m} | {ratio * m} | {auc:.2f} | {cells} |", flush=True)
                print(f"<!-- cell {cell}: {time.perf_counter() - start:.1f} s -->", flush=True)
                cell += 1


def why(datasets: int, seed: int) -> None:
    """Where the default's misses fall, and DeLong's variance against the AUC's sampling variance."""
    print(
        "| setting | AUC: truth below the interval | truth above | corr(AUC, DeLong var) | "
        "mean DeLong var / var(AUC) | difference: truth below | truth above | mean var / var(difference) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in ("balanced", "few_pos", "high_auc"):
        setting = SETTINGS[name]
        rng = np.random.default_rng(seed)
        t = truth(_delta(setting["auc"]), 0.5)["auc"]
        td = t - truth(_delta(setting["auc_b"]), 0.5)["auc"]
        aucs, var_s, diffs, dvars = [], [], [], []
        below = above = dbelow = dabove = 0
        for _ in range(datasets):
            y, a, b, _g = draw(setting, rng)
            m, n = int(y.sum()), int((1 - y).sum())
            auc, var = _delong.delong_auc(y, a)
            lo, hi = _delong.logit_delong_ci(auc, var, m=m, n=n)
            below, above = below + (t < lo), above + (t > hi)
            pair = _delong.delong_paired(y, a, b)
            lo, hi = _delong.difference_ci(pair.difference, pair.variance)
            dbelow, dabove = dbelow + (td < lo), dabove + (td > hi)
            aucs.append(auc), var_s.append(var), diffs.append(pair.difference), dvars.append(pair.variance)
        aucs, var_s = np.array(aucs), np.array(var_s)
        print(
            f"| {name} | {below / datasets:.3f} | {above / datasets:.3f} | {np.corrcoef(aucs, var_s)[0, 1]:.2f} | "
            f"{var_s.mean() / aucs.var(ddof=1):.3f} | {dbelow / datasets:.3f} | {dabove / datasets:.3f} | "
            f"{np.mean(dvars) / np.var(diffs, ddof=1):.3f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--quick", action="store_true", help="200 data sets, no bootstrap")
    parser.add_argument("--why", action="store_true", help="where the default's misses fall (and stop)")
    parser.add_argument(
        "--grid",
        action="store_true",
        help="coverage and width on the grid positives x true AUC x negatives per positive (and stop)",
    )
    parser.add_argument(
        "--ratios", type=int, nargs="*", default=list(GRID_RATIOS), help="--grid: negatives per positive"
    )
    parser.add_argument(
        "--positive-sd", type=float, default=1.0, help="--grid: SD of the positives' scores (negatives' 1)"
    )
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.resamples = 200, 0
    if args.why:
        why(args.datasets, args.seed)
        return
    if args.grid:
        grid(args.datasets, args.seed, args.ratios, args.positive_sd)
        return
    print(f"{args.datasets} data sets per setting, {args.resamples} bootstrap resamples")
    print("| setting | statistic | interval | coverage | mean width | data sets |")
    print("|---|---|---|---|---|---|")
    for i, (name, setting) in enumerate(SETTINGS.items()):
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        result = run(name, setting, args.datasets, args.resamples, args.seed + i)
        for key, (cov, width, count) in result.items():
            stat, _, method = key.partition(" ")
            print(f"| {name} | {stat} | {method} | {cov:.3f} | {width:.4f} | {count} |", flush=True)
        print(f"<!-- {name}: {time.perf_counter() - start:.0f} s -->", flush=True)
        for key, (cov, _, _) in result.items():
            tag = key.replace(" ", "_").replace("-", "_")
            print(f"RESULT name=auc_study_{name}_{tag} ratio={cov / 0.95:.3f} target=0.984")


if __name__ == "__main__":
    main()
