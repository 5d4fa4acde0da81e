"""The intervals of a `BinaryReport`: which method for which statistic, and patients.

Proportions (sensitivity, specificity, PPV, NPV, accuracy) get Wilson's or
Clopper-Pearson's interval on their counts, the likelihood ratios the log
method, the AUC DeLong's variance (on the logit scale by default), and the
rest (average precision, Brier, ECE, log loss, F1, MCC, balanced accuracy)
the stratified percentile bootstrap of `_stats`. With `groups`, every method
accounts for the clusters: effective sample sizes for proportions,
cluster-robust variances for the log likelihood ratios, Obuchowski's
clustered DeLong for the AUC and a cluster bootstrap for the rest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from keras_binary.evaluation import _delong, _intervals, _stats

PROPORTION_METHODS = ("wilson", "exact", "bootstrap")
AUC_METHODS = ("delong", "logit-delong", "newcombe", "bootstrap")
DEFAULT_AUC_INTERVAL = "logit-delong"

_NAN2 = (math.nan, math.nan)


def _proportion_parts(y, predicted, w):
    pos = y == 1
    return {
        "sensitivity": (w * (pos & predicted), w * pos),
        "specificity": (w * (~pos & ~predicted), w * ~pos),
        "ppv": (w * (pos & predicted), w * predicted),
        "npv": (w * (~pos & ~predicted), w * ~predicted),
        "accuracy": (w * (pos == predicted), w),
    }


def compute(
    data: Any,
    values: dict,
    *,
    threshold: float,
    confidence: float,
    n_bootstrap: int,
    seed: int | None,
    num_bins: int,
    proportion_interval: str,
    auc_interval: str,
    prevalence: float | None,
    groups: tuple[np.ndarray, int] | None,
    delong: tuple[float, float] | None = None,
) -> tuple[dict, dict]:
    """The intervals (and, with `prevalence`, the PPV and NPV at it) of a report.

    Args:
        data: the report's `HostData`.
        values: the point estimates (`_stats.point_estimates`); updated in
            place with the PPV and NPV at `prevalence` when it is given.
        groups: `(ids, k)`, the cluster of each example, or `None`.
        delong: `(auc, variance)` of the data, when already computed.

    Returns:
        ``(intervals, methods)``: ``(low, high)`` by statistic and a short
        description of each interval's method.
    """
    y, p, w0 = data.y_true, data.probability, data.sample_weight
    w = np.ones(1) if w0 is None else w0  # broadcasts
    predicted = p > threshold
    pos = y == 1
    intervals: dict[str, tuple[float, float]] = {}
    methods: dict[str, str] = {}
    patients = "" if groups is None else ", by patient"

    boot_keys = {"average_precision", "brier", "ece", "log_loss", "f1", "mcc", "balanced_accuracy"}
    if proportion_interval == "bootstrap":
        boot_keys |= set(_stats.PROPORTIONS) | set(_stats.RATIOS)
    auc_by_bootstrap = auc_interval == "bootstrap" or w0 is not None
    if auc_by_bootstrap:
        boot_keys.add("auc")
    resampled: dict[str, np.ndarray] = {}
    if n_bootstrap:
        resampled = _stats.bootstrap(
            y,
            p,
            w0,
            threshold,
            n_bootstrap,
            seed,
            num_bins,
            score=data.score,
            groups=groups,
            known={"delong": delong, "average_precision": values["average_precision"]} if delong else None,
        )
    boot_name = "cluster bootstrap" if groups is not None else "stratified bootstrap"
    for key in boot_keys:
        if n_bootstrap and not math.isnan(values[key]):
            intervals[key] = _stats.percentile_interval(resampled[key], confidence)
            methods[key] = f"{boot_name}, percentile"
        else:
            intervals[key] = _NAN2

    # Proportions on their counts.
    if proportion_interval != "bootstrap":
        label = "Wilson" if proportion_interval == "wilson" else "Clopper-Pearson"
        counts = {
            "sensitivity": (values["tp"], values["tp"] + values["fn"]),
            "specificity": (values["tn"], values["tn"] + values["fp"]),
            "ppv": (values["tp"], values["tp"] + values["fp"]),
            "npv": (values["tn"], values["tn"] + values["fn"]),
            "accuracy": (
                values["tp"] + values["tn"],
                values["tp"] + values["tn"] + values["fp"] + values["fn"],
            ),
        }
        parts = _proportion_parts(y, predicted, np.broadcast_to(w, y.shape)) if groups is not None else {}
        for key, (k, n) in counts.items():
            if groups is not None:
                k, n = _intervals.cluster_effective_n(*parts[key], groups[0], groups[1])
            lo, hi = _intervals.proportion_interval(k, n, proportion_interval, confidence)
            intervals[key] = (float(lo), float(hi))
            methods[key] = label + (" on the effective sample size" + patients if groups else "")

    # Likelihood ratios: the log method, cluster-robust with groups.
    tp, fn, fp, tn = (values[c] for c in ("tp", "fn", "fp", "tn"))
    logs = {}
    for key, positive in (("lr_positive", True), ("lr_negative", False)):
        est, var = _intervals.log_lr(tp, fn, fp, tn, positive)
        if groups is not None:
            robust = _intervals.cluster_log_lr_variance(y, predicted, w, groups[0], groups[1], positive)
            if np.isfinite(robust):
                var = robust
        logs[key] = (est, var)
        if proportion_interval != "bootstrap":
            intervals[key] = _intervals.lr_interval(est, var, confidence)
            methods[key] = "log method (Simel 1991)" + patients

    if prevalence is not None:
        at = _intervals.predictive_values_at_prevalence(
            prevalence, logs["lr_positive"], logs["lr_negative"], confidence
        )
        sens, spec = values["sensitivity"], values["specificity"]
        for key in ("ppv", "npv"):
            values[key] = _bayes(key, sens, spec, prevalence)
            if proportion_interval == "bootstrap" and resampled:
                draws = _bayes(key, resampled["sensitivity"], resampled["specificity"], prevalence)
                intervals[key] = _stats.percentile_interval(np.asarray(draws), confidence)
                methods[key] = f"at prevalence {prevalence:g} (Bayes), {boot_name}"
            else:
                intervals[key] = at[f"{key}_ci"]
                methods[key] = f"at prevalence {prevalence:g} (Bayes), logit (Mercaldo 2007)" + patients

    # The AUC.
    if not auc_by_bootstrap:
        if math.isnan(values["auc"]):
            intervals["auc"] = _NAN2
        else:
            if groups is None:
                auc, var = delong if delong is not None else _delong.delong_auc(pos, data.score)
            else:
                auc, var = _delong.clustered_auc(pos, data.score, groups[0])
            m, n = int(pos.sum()), int((~pos).sum())
            intervals["auc"] = _delong.auc_interval(
                auc, var, auc_interval, confidence, **_mn(auc_interval, m, n)
            )
            name = {"delong": "DeLong", "logit-delong": "logit DeLong"}.get(
                auc_interval, "Newcombe (2006) Wald, Hanley-McNeil variance at N*"
            )
            methods["auc"] = name + (", clustered (Obuchowski 1997)" if groups else "")
    for key in _stats.WITH_INTERVAL:
        if math.isnan(values[key]):
            intervals[key] = _NAN2
        intervals.setdefault(key, _NAN2)
    return intervals, methods


def _mn(method: str, m: int, n: int) -> dict:
    return {"m": m, "n": n} if method in ("logit-delong", "newcombe") else {}


def _bayes(key: str, sens: Any, spec: Any, prevalence: float) -> Any:
    """PPV or NPV at `prevalence` from sensitivity and specificity (Bayes' theorem)."""
    sens = np.asarray(sens, dtype="float64")
    spec = np.asarray(spec, dtype="float64")
    if key == "ppv":
        num, other = sens * prevalence, (1 - spec) * (1 - prevalence)
    else:
        num, other = spec * (1 - prevalence), (1 - sens) * prevalence
    out = _stats._div(num, num + other)
    return float(out) if out.ndim == 0 else out
