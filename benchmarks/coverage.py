"""Coverage of keras_binary.report's intervals (and the paired DeLong test) in simulations.

Binormal data with known truth: a positive's score (a logit) is
``delta + noise``, a negative's ``noise``, with noise ~ N(0, 1), shifted by
``-delta / 2`` so that the threshold 0.5 (logit 0) sits half-way. The true
AUC is ``Phi(delta / sqrt(2))``, the true sensitivity ``Phi(delta / 2)`` and
so on. For each setting, `--datasets` data sets are drawn and the script
counts how often each 95 % interval holds the truth; the target is 95 % +-
1.5 points.

Settings (positives / negatives, AUC):

- ``balanced``: 100 / 100, AUC 0.92;
- ``few_pos``: 20 / 180, AUC 0.96;
- ``high_auc``: 50 / 450, AUC 0.98;
- ``random_p10`` / ``random_p30``: 500 patients sampled at random from a
  population of prevalence 0.1 / 0.3 (the numbers of positives vary), AUC
  0.92: PPV and NPV of a random sample;
- ``enriched``: 100 / 100 (case-control), AUC 0.92, `prevalence=0.1`: PPV
  and NPV at the population's prevalence;
- ``patients``: 200 patients x 4 images, noise correlation 0.7 within a
  patient, 40 % of patients diseased and 75 % of their images positive, AUC
  0.92, with `groups` (and, for comparison, without).

Each setting also draws a second model (AUC 0.90, noise correlation 0.5
with the first) for the paired AUC difference (`_delong.delong_paired`, or
`clustered_paired` with patients).

Run (the table in docs/statistics.md; about 8 minutes on one core):

    python benchmarks/coverage.py --datasets 1000 --resamples 1000

``--quick``: 100 data sets, 200 resamples. For `benchmarks/run_all.py` it
prints ``RESULT name=coverage_<setting>_<statistic> ratio=<coverage / 0.95>
target=...`` lines for the default intervals.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

import keras_binary  # noqa: E402
from keras_binary.evaluation import _delong  # noqa: E402

CONFIDENCE = 0.95
STATS = ("auc", "sensitivity", "specificity", "ppv", "npv")


def _delta(auc: float) -> float:
    return float(math.sqrt(2) * norm.ppf(auc))


def truth(delta: float, prevalence: float) -> dict[str, float]:
    """Population values for scores delta*y + N(0, 1) - delta/2 and threshold 0."""
    sens = float(norm.cdf(delta / 2))
    spec = float(norm.cdf(delta / 2))
    ppv = prevalence * sens / (prevalence * sens + (1 - prevalence) * (1 - spec))
    npv = (1 - prevalence) * spec / ((1 - prevalence) * spec + prevalence * (1 - sens))
    return {
        "auc": float(norm.cdf(delta / math.sqrt(2))),
        "sensitivity": sens,
        "specificity": spec,
        "ppv": ppv,
        "npv": npv,
    }


def draw(setting: dict, rng: np.random.Generator):
    """One data set: labels, scores of model a and b (logits), groups or None."""
    da, db = _delta(setting["auc"]), _delta(setting["auc_b"])
    if setting.get("patients"):
        n_pat, per = setting["patients"], setting["per"]
        sick = rng.random(n_pat) < 0.4
        y = (np.repeat(sick, per) & (rng.random(n_pat * per) < 0.75)).astype(float)
        rho = setting["rho"]
        ua, ub = rng.standard_normal((2, n_pat))
        ub = 0.5 * ua + math.sqrt(0.75) * ub
        ea, eb = rng.standard_normal((2, n_pat * per))
        eb = 0.5 * ea + math.sqrt(0.75) * eb
        na = math.sqrt(rho) * np.repeat(ua, per) + math.sqrt(1 - rho) * ea
        nb = math.sqrt(rho) * np.repeat(ub, per) + math.sqrt(1 - rho) * eb
        groups = np.repeat(np.arange(n_pat), per)
    else:
        if "n" in setting:
            n = setting["n"]
            y = (rng.random(n) < setting["prevalence"]).astype(float)
        else:
            y = np.r_[np.ones(setting["pos"]), np.zeros(setting["neg"])]
        na, nb = rng.standard_normal((2, y.size))
        nb = 0.5 * na + math.sqrt(0.75) * nb
        groups = None
    return y, da * y + na - da / 2, db * y + nb - db / 2, groups


SETTINGS = {
    "balanced": {"pos": 100, "neg": 100, "auc": 0.92, "auc_b": 0.90, "prevalence": 0.5},
    "few_pos": {"pos": 20, "neg": 180, "auc": 0.96, "auc_b": 0.94, "prevalence": 0.1},
    "high_auc": {"pos": 50, "neg": 450, "auc": 0.98, "auc_b": 0.96, "prevalence": 0.1},
    "random_p10": {"n": 500, "prevalence": 0.1, "auc": 0.92, "auc_b": 0.90},
    "random_p30": {"n": 500, "prevalence": 0.3, "auc": 0.92, "auc_b": 0.90},
    "enriched": {"pos": 100, "neg": 100, "auc": 0.92, "auc_b": 0.90, "prevalence": 0.1, "stated": 0.1},
    "patients": {"patients": 200, "per": 4, "rho": 0.7, "auc": 0.92, "auc_b": 0.90, "prevalence": 0.3},
}


def _covers(ci, value) -> bool:
    lo, hi = ci
    return bool(lo <= value <= hi)


def run_setting(name: str, setting: dict, datasets: int, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    da = _delta(setting["auc"])
    # PPV/NPV truth: at the stated prevalence (enriched), the population's (random samples, patients)
    # or the design's (fixed numbers of positives and negatives).
    truth_a = truth(da, setting.get("stated", setting["prevalence"]))
    if setting.get("patients"):
        # Image-level prevalence: 0.4 * 0.75.
        truth_a = truth(da, 0.3)
    elif "pos" in setting and "stated" not in setting:
        truth_a = truth(da, setting["pos"] / (setting["pos"] + setting["neg"]))
    diff_truth = truth_a["auc"] - truth(_delta(setting["auc_b"]), 0.5)["auc"]
    hits: dict[str, list] = {}

    def add(key, ok):
        hits.setdefault(key, []).append(ok)

    for _ in range(datasets):
        y, a, b, groups = draw(setting, rng)
        if y.sum() < 2 or y.sum() > y.size - 2:
            continue
        kwargs = {"from_logits": True, "n_bootstrap": 0}
        if "stated" in setting:
            kwargs["prevalence"] = setting["stated"]
        r = keras_binary.report(y, a, groups=groups, **kwargs)
        for key in STATS:
            add(f"{key} default", _covers(r.intervals[key], truth_a[key]))
        r = keras_binary.report(
            y, a, groups=groups, auc_interval="delong", proportion_interval="exact", **kwargs
        )
        add("auc delong", _covers(r.intervals["auc"], truth_a["auc"]))
        for key in STATS[1:]:
            add(f"{key} exact", _covers(r.intervals[key], truth_a[key]))
        if resamples:
            boot = dict(kwargs, n_bootstrap=resamples)
            r = keras_binary.report(
                y, a, groups=groups, auc_interval="bootstrap", proportion_interval="bootstrap", **boot
            )
            for key in STATS:
                add(f"{key} bootstrap", _covers(r.intervals[key], truth_a[key]))
        if groups is not None:
            r = keras_binary.report(y, a, **kwargs)
            for key in STATS:
                add(f"{key} default, groups ignored", _covers(r.intervals[key], truth_a[key]))
            pair = _delong.clustered_paired(y, a, b, groups)
            naive = _delong.delong_paired(y, a, b)
            add(
                "auc_difference DeLong, groups ignored",
                _covers(_delong.difference_ci(naive.difference, naive.variance), diff_truth),
            )
        else:
            pair = _delong.delong_paired(y, a, b)
        add(
            "auc_difference default",
            _covers(_delong.difference_ci(pair.difference, pair.variance), diff_truth),
        )
    return {key: (float(np.mean(v)), len(v)) for key, v in hits.items()}


def exact_proportion_coverage(n: int, p: float, method: str) -> float:
    """The exact coverage of a proportion interval for Binomial(n, p): sum_k P(k) [p in CI(k)].

    No Monte Carlo error: for sensitivity and specificity in the fixed-size
    settings the count is exactly binomial (the threshold is fixed, not
    chosen on the data), so the coverage is a finite sum.
    """
    from keras_binary.evaluation import _intervals

    k = np.arange(n + 1, dtype="float64")
    lo, hi = _intervals.proportion_interval(k, float(n), method, CONFIDENCE)
    from scipy.stats import binom

    return float(np.sum(binom.pmf(k, n, p) * ((lo <= p) & (p <= hi))))


def print_exact_proportions() -> None:
    """Exact coverage of Wilson and Clopper-Pearson for sensitivity and specificity (fixed sizes)."""
    print("| setting | statistic | n | true value | Wilson (default) | Clopper-Pearson |")
    print("|---|---|---|---|---|---|")
    for name, setting in SETTINGS.items():
        if "pos" not in setting:
            continue
        t = truth(_delta(setting["auc"]), 0.5)
        for stat, n in (("sensitivity", setting["pos"]), ("specificity", setting["neg"])):
            w, e = (exact_proportion_coverage(n, t[stat], m) for m in ("wilson", "exact"))
            print(f"| {name} | {stat} | {n} | {t[stat]:.4f} | {w:.4f} | {e:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (0: skip the bootstrap)"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--exact-proportions",
        action="store_true",
        help="print the exact (binomial) coverage of the proportion intervals and stop",
    )
    args = parser.parse_args()
    if args.exact_proportions:
        print_exact_proportions()
        return
    datasets, resamples = (100, 200) if args.quick else (args.datasets, args.resamples)
    print(f"{datasets} data sets per setting, {resamples} bootstrap resamples, nominal {CONFIDENCE:.0%}")
    print("| setting | statistic | interval | coverage | data sets |")
    print("|---|---|---|---|---|")
    for i, (name, setting) in enumerate(SETTINGS.items()):
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        result = run_setting(name, setting, datasets, resamples, args.seed + i)
        for key, (coverage, count) in sorted(result.items()):
            stat, _, method = key.partition(" ")
            flag = "" if abs(coverage - CONFIDENCE) <= 0.015 else " (!)"
            print(f"| {name} | {stat} | {method or 'default'} | {coverage:.3f}{flag} | {count} |", flush=True)
        print(f"<!-- {name}: {time.perf_counter() - start:.0f} s -->", flush=True)
        for key, (coverage, _) in sorted(result.items()):
            if key.endswith(" default"):
                tag = key.replace(" default", "")
                print(f"RESULT name=coverage_{name}_{tag} ratio={coverage / CONFIDENCE:.3f} target=0.984")


if __name__ == "__main__":
    main()
