"""Coverage of keras_binary.report's bootstrap interval for the ROC AUC, in a simulation.

Binormal data with a known AUC: positive scores ~ N(delta, 1), negative
scores ~ N(0, 1), so the true AUC is Phi(delta / sqrt(2)). For each setting
(numbers of positives and negatives, delta), `--datasets` data sets are
drawn, each gets `keras_binary.report(..., n_bootstrap=--resamples)` (a 95%
stratified percentile interval), and the script counts how often the
interval holds the true AUC. Nominal: 95%.

Run:

    python benchmarks/bootstrap_coverage.py            # 200 data sets per setting
    python benchmarks/bootstrap_coverage.py --quick    # 60 data sets, 300 resamples

For `benchmarks/run_all.py` it prints one line per setting

    RESULT name=auc_ci_miss_... ratio=<observed miss rate / nominal miss rate> target=1.5

(1.0: exactly nominal; below 1: conservative; 1.5: the interval misses 7.5%
of the time instead of 5%).
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

SETTINGS = [(30, 70, 1.0), (100, 200, 1.0), (100, 200, 2.0), (300, 700, 1.5)]
CONFIDENCE = 0.95
TARGET = 1.5


def coverage(
    n_pos: int, n_neg: int, delta: float, datasets: int, resamples: int, seed: int
) -> tuple[float, float]:
    true_auc = float(norm.cdf(delta / math.sqrt(2)))
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    hits, widths = 0, []
    for i in range(datasets):
        scores = np.concatenate([rng.normal(delta, 1.0, n_pos), rng.normal(0.0, 1.0, n_neg)])
        r = keras_binary.report(
            y, scores, from_logits=True, n_bootstrap=resamples, seed=i, confidence=CONFIDENCE
        )
        low, high = r.auc_ci
        hits += low <= true_auc <= high
        widths.append(high - low)
    return hits / datasets, float(np.mean(widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 data sets and 300 resamples per setting")
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    datasets, resamples = (60, 300) if args.quick else (args.datasets, args.resamples)
    print(f"{datasets} data sets per setting, {resamples} resamples, {CONFIDENCE:.0%} intervals")
    print(f"{'positives':>9} {'negatives':>9} {'true AUC':>9} {'coverage':>9} {'mean width':>11}")
    for n_pos, n_neg, delta in SETTINGS:
        start = time.perf_counter()
        covered, width = coverage(
            n_pos, n_neg, delta, datasets, resamples, seed=SETTINGS.index((n_pos, n_neg, delta))
        )
        true_auc = norm.cdf(delta / math.sqrt(2))
        print(
            f"{n_pos:>9} {n_neg:>9} {true_auc:>9.3f} {covered:>9.3f} {width:>11.3f}   ({time.perf_counter() - start:.0f} s)"
        )
        miss = (1 - covered) / (1 - CONFIDENCE)
        print(
            f"RESULT name=auc_ci_miss_{n_pos}_{n_neg}_d{delta:g} ratio={miss:.3f} target={TARGET} coverage={covered:.3f}"
        )


if __name__ == "__main__":
    main()
