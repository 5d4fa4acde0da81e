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

    lo = 0.0 if f(0.0) <= 0 or a <= 0 else optimize.brentq(f, 0.0, a) if a > 0 else 0.0
    hi = 1.0 if a >= 1 or f(1.0) <= 0 else optimize.brentq(f, a, 1.0)
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
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.resamples = 200, 0
    if args.why:
        why(args.datasets, args.seed)
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
