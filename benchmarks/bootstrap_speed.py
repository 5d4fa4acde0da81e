"""Speed of keras_binary.report's vectorised bootstrap against a loop of scikit-learn calls.

1000 stratified resamples of 10^5 examples: `keras_binary.report(...)`
(every statistic of the report, with intervals) against the obvious loop,
which resamples and calls scikit-learn's `roc_auc_score`,
`average_precision_score`, `brier_score_loss` and `log_loss` per resample
(only these four; timed on `--loop` resamples and scaled to 1000).

Then (issue 21, item 8) `keras_binary.report(y, p)` with its default
intervals on 10^6 examples against one `sklearn.metrics.roc_auc_score` on the
same data (interleaved, median of `--repeats`), and the report's peak memory
(tracemalloc) against the size of the inputs `y` and `p`.

Run:

    python benchmarks/bootstrap_speed.py
    python benchmarks/bootstrap_speed.py --quick   # 2 * 10^4 examples

For `benchmarks/run_all.py`: `RESULT name=bootstrap_1000 ratio=<report / loop> target=0.2`,
`RESULT name=report_1e6_time ratio=<report / roc_auc_score> target=10` and
`RESULT name=report_1e6_memory ratio=<peak / inputs> target=4`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

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


def large(n: int, repeats: int) -> None:
    """report(y, p) on n examples against one roc_auc_score, and its peak memory."""
    rng = np.random.default_rng(1)
    y = (rng.random(n) < 0.3).astype("float64")
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    ours, theirs = [], []
    for _ in range(repeats):  # interleaved
        start = time.perf_counter()
        metrics.roc_auc_score(y, p)
        theirs.append(time.perf_counter() - start)
        start = time.perf_counter()
        r = keras_binary.report(y, p)
        ours.append(time.perf_counter() - start)
    tracemalloc.start()
    keras_binary.report(y, p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    inputs = y.nbytes + p.nbytes
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    print(
        f"report on {n} examples (default intervals, AUC {r.auc:.4f} [{r.auc_ci[0]:.4f}, {r.auc_ci[1]:.4f}]): "
        f"{t_ours:.2f} s; roc_auc_score {t_theirs:.2f} s (median of {repeats}, interleaved); "
        f"peak memory {peak / 2**20:.1f} MiB for inputs of {inputs / 2**20:.1f} MiB"
    )
    print(f"RESULT name=report_{n}_time ratio={t_ours / t_theirs:.3f} target=10 reference=roc_auc_score")
    print(f"RESULT name=report_{n}_memory ratio={peak / inputs:.3f} target=4 reference=inputs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--loop", type=int, default=20, help="resamples of the loop actually timed")
    parser.add_argument(
        "--large", type=int, default=1_000_000, help="examples of the report-vs-AUC run (0: skip)"
    )
    parser.add_argument("--repeats", type=int, default=3)
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
    if args.large:
        large(args.large // 10 if args.quick else args.large, args.repeats)


if __name__ == "__main__":
    main()
