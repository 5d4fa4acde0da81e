"""Speed of keras_binary.report's vectorised bootstrap against a loop of scikit-learn calls.

1000 stratified resamples of 10^5 examples: `keras_binary.report(...)`
(every statistic of the report, with intervals) against the obvious loop,
which resamples and calls scikit-learn's `roc_auc_score`,
`average_precision_score`, `brier_score_loss` and `log_loss` per resample
(only these four; timed on `--loop` resamples and scaled to 1000).

Run:

    python benchmarks/bootstrap_speed.py
    python benchmarks/bootstrap_speed.py --quick   # 2 * 10^4 examples

For `benchmarks/run_all.py`: `RESULT name=bootstrap_1000 ratio=<report / loop> target=0.2`.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn import metrics  # noqa: E402

import keras_binary  # noqa: E402

TARGET = 0.2


def loop(y, p, resamples, rng):
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    for _ in range(resamples):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        yy, pp = y[idx], p[idx]
        metrics.roc_auc_score(yy, pp)
        metrics.average_precision_score(yy, pp)
        metrics.brier_score_loss(yy, pp)
        metrics.log_loss(yy, pp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--loop", type=int, default=20, help="resamples of the loop actually timed")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.3).astype("float64")
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    keras_binary.report(y[:1000], p[:1000], n_bootstrap=10)  # warm-up: imports
    start, cpu = time.perf_counter(), time.process_time()
    r = keras_binary.report(y, p, n_bootstrap=1000)
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    loop(y, p, args.loop, rng)
    theirs = (time.perf_counter() - start) * 1000 / args.loop
    print(
        f"{n} examples, 1000 resamples: report {ours:.1f} s wall, {ours_cpu:.1f} s CPU (AUC {r.auc:.4f}, CI {r.auc_ci[0]:.4f}-{r.auc_ci[1]:.4f})"
    )
    print(f"loop of scikit-learn calls (4 statistics): {theirs:.1f} s (timed on {args.loop} resamples)")
    print(f"RESULT name=bootstrap_1000_n{n} ratio={ours / theirs:.3f} target={TARGET} reference=sklearn_loop")


if __name__ == "__main__":
    main()
