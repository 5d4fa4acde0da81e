"""report's analytic intervals: Wilson, Clopper-Pearson, likelihood ratios, prevalence, patients."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

import keras_binary
from keras_binary.evaluation import _delong, _intervals


@given(st.integers(1, 400), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_and_exact_equal_scipy(n, data, confidence):
    k = data.draw(st.integers(0, n))
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo, hi = _intervals.wilson(k, n, confidence)
    assert (float(lo), float(hi)) == pytest.approx((ref.low, ref.high), abs=1e-10)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    lo, hi = _intervals.clopper_pearson(k, n, confidence)
    assert (float(lo), float(hi)) == pytest.approx((ref.low, ref.high), abs=1e-10)


@given(st.integers(1, 80), st.integers(0, 80), st.integers(0, 80), st.integers(1, 80))
def test_log_lr_is_simel(tp, fn, fp, tn):
    est, var = _intervals.log_lr(tp, fn, fp, tn)
    if fp > 0:
        sens, spec = tp / (tp + fn), tn / (tn + fp)
        assert est == pytest.approx(math.log(sens / (1 - spec)), rel=1e-12, abs=1e-12)
        assert var == pytest.approx(1 / tp - 1 / (tp + fn) + 1 / fp - 1 / (fp + tn), rel=1e-12)
    lo, hi = _intervals.lr_interval(est, var)
    assert lo <= math.exp(est) <= hi and math.isfinite(hi)


@given(st.floats(0.01, 0.99), st.integers(5, 80), st.integers(0, 5), st.integers(0, 5), st.integers(5, 80))
def test_predictive_values_at_prevalence_are_bayes(prevalence, tp, fn, fp, tn):
    pos, neg = _intervals.log_lr(tp, fn, fp, tn), _intervals.log_lr(tp, fn, fp, tn, False)
    d = _intervals.predictive_values_at_prevalence(prevalence, pos, neg)
    sens, spec = math.exp(pos[0]) * 0 + tp / (tp + fn), tn / (tn + fp)
    if fn > 0 and fp > 0:  # no correction of a zero cell
        ppv = prevalence * sens / (prevalence * sens + (1 - prevalence) * (1 - spec))
        npv = (1 - prevalence) * spec / ((1 - prevalence) * spec + prevalence * (1 - sens))
        assert (d["ppv"], d["npv"]) == pytest.approx((ppv, npv), rel=1e-9)
    for key in ("ppv", "npv"):
        lo, hi = d[f"{key}_ci"]
        assert 0 < lo <= d[key] <= hi < 1


def _counts(y, pred):
    return [int(np.sum((y == a) & (pred == b))) for a, b in ((1, 1), (1, 0), (0, 1), (0, 0))]


@given(st.integers(0, 2**32 - 1), st.sampled_from(["wilson", "exact"]))
def test_report_proportions_are_intervals_on_their_counts(seed, method):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 120))
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = (0, 1)
    z = 1.5 * y + rng.normal(size=n)
    r = keras_binary.report(y, z, from_logits=True, n_bootstrap=0, proportion_interval=method)
    tp, fn, fp, tn = _counts(y, (z > 0).astype(int))
    for key, k, total in (
        ("sensitivity", tp, tp + fn),
        ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp),
        ("npv", tn, tn + fn),
        ("accuracy", tp + tn, n),
    ):
        if total == 0:
            continue
        ref = stats.binomtest(k, total).proportion_ci(method=method)
        assert r.intervals[key] == pytest.approx((ref.low, ref.high), abs=1e-10), key
    est, var = _intervals.log_lr(tp, fn, fp, tn)
    assert r.lr_positive_ci == pytest.approx(_intervals.lr_interval(est, var), rel=1e-10)


def test_every_positive_found_still_gets_an_interval():
    y = np.r_[np.ones(20), np.zeros(180)]
    z = np.r_[np.full(20, 3.0), np.linspace(-4, 1, 180)]
    r = keras_binary.report(y, z, from_logits=True, n_bootstrap=0)
    assert r.sensitivity == 1.0
    lo, hi = r.sensitivity_ci
    assert hi == 1.0 and lo == pytest.approx(stats.binomtest(20, 20).proportion_ci(method="wilson").low)


@given(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 40.0, 1e4]))
def test_auc_ranks_the_raw_logits(seed, scale):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    y[:2] = (0, 1)
    z = scale * (y + rng.normal(size=60))
    r = keras_binary.report(y, z, from_logits=True, n_bootstrap=0)
    assert r.auc == pytest.approx(skm.roc_auc_score(y, z), abs=1e-12)
    auc, var = _delong.delong_auc(y, z)
    assert r.auc_ci == pytest.approx(_delong.logit_delong_ci(auc, var, m=int(y.sum()), n=int(60 - y.sum())))


def test_large_logits_do_not_tie():
    # sigmoid(z) is 1.0 in float64 for z beyond ~37: ranking probabilities would tie these.
    y = np.array([1, 0, 1, 0, 1, 0])
    z = np.array([40.0, 38.0, 50.0, 45.0, 60.0, -1.0])
    r = keras_binary.report(y, z, from_logits=True, n_bootstrap=0)
    assert r.auc == pytest.approx(skm.roc_auc_score(y, z)) and r.auc == pytest.approx(8 / 9)
    assert skm.roc_auc_score(y, 1 / (1 + np.exp(-z))) != pytest.approx(8 / 9)


def test_prevalence_gives_bayes_ppv_npv():
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(100), np.zeros(100)]
    z = 2 * y - 1 + rng.normal(size=200)
    r = keras_binary.report(y, z, from_logits=True, n_bootstrap=0, prevalence=0.05)
    plain = keras_binary.report(y, z, from_logits=True, n_bootstrap=0)
    sens, spec = plain.sensitivity, plain.specificity
    assert r.ppv == pytest.approx(0.05 * sens / (0.05 * sens + 0.95 * (1 - spec)))
    assert r.npv == pytest.approx(0.95 * spec / (0.95 * spec + 0.05 * (1 - sens)))
    assert r.ppv < plain.ppv and r.ppv_ci[0] < r.ppv < r.ppv_ci[1]
    assert r.sensitivity_ci == plain.sensitivity_ci and r.target_prevalence == 0.05
    assert "0.05" in str(r) and r.to_dict()["target_prevalence"] == 0.05


@given(st.integers(0, 2**32 - 1))
def test_copies_of_an_image_add_no_information_with_groups(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 50))
    y = (rng.random(n) < 0.4).astype(int)
    y[:4] = (0, 1, 0, 1)
    z = np.round(y + rng.normal(size=n), 1)
    copies = 3
    yy, zz, g = np.repeat(y, copies), np.repeat(z, copies), np.repeat(np.arange(n), copies)
    auc, var = _delong.delong_auc(y, z)
    assert _delong.clustered_auc(yy, zz, g)[1] == pytest.approx(var, rel=1e-9, abs=1e-15)
    r = keras_binary.report(yy, zz, from_logits=True, n_bootstrap=0, groups=g, auc_interval="delong")
    assert r.auc_ci == pytest.approx(_delong.delong_ci(auc, var), abs=1e-12)
    naive = keras_binary.report(yy, zz, from_logits=True, n_bootstrap=0, auc_interval="delong")
    assert naive.auc_ci[1] - naive.auc_ci[0] < r.auc_ci[1] - r.auc_ci[0] or r.auc_ci[1] == 1.0
    # Proportions: the effective sample size is that of one image per patient (times (k-1)/k).
    tp, fn, _, _ = _counts(y, (z > 0).astype(int))
    n_eff = (tp + fn) * (tp + fn - 1) / (tp + fn)
    if 0 < tp < tp + fn:
        want = _intervals.wilson(tp / (tp + fn) * n_eff, n_eff)
        assert r.sensitivity_ci == pytest.approx((float(want[0]), float(want[1])), abs=1e-9)


def test_cluster_bootstrap_resamples_whole_patients():
    from keras_binary.evaluation import _stats

    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(30), 4)
    y = np.repeat(rng.random(30) < 0.5, 4).astype(float)
    p = np.clip(0.3 * y + 0.6 * rng.random(120), 0.01, 0.99)
    out = _stats.bootstrap(y, p, None, 0.5, 200, 0, groups=(g, 30))
    tied = _stats.bootstrap(np.repeat(y[::4], 1), p[::4], None, 0.5, 5, 0)
    assert set(out) == set(tied)
    # Every resample is made of whole patients: the sensitivity's denominator is a multiple of 4,
    # so it takes values k / (4 j) only; check through the accuracy of an all-or-nothing patient.
    same = np.repeat(p[::4], 4)
    out = _stats.bootstrap(y, same, None, 0.5, 200, 0, groups=(g, 30))
    naive = _stats.bootstrap(y, same, None, 0.5, 200, 0)
    assert np.std(out["accuracy"]) > 1.4 * np.std(naive["accuracy"])


def test_interval_errors():
    y, p = [0, 1, 1, 0], [0.2, 0.6, 0.9, 0.4]
    with pytest.raises(keras_binary.BinaryConfigError, match="KB367"):
        keras_binary.report(y, p, groups=[1, 1, 2])
    with pytest.raises(keras_binary.BinaryConfigError, match="KB367"):
        keras_binary.report(y, p, groups=[1.0, np.nan, 2.0, 2.0])
    for prevalence in (0.0, 1.0, 10, -0.1, True, "0.1"):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB368"):
            keras_binary.report(y, p, prevalence=prevalence)
    for kwargs in ({"auc_interval": "wald"}, {"proportion_interval": "clopper"}, {"auc_interval": None}):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB369"):
            keras_binary.report(y, p, **kwargs)


@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 6]))
def test_average_precision_equals_scikit_learn(seed, decimals):
    from keras_binary.evaluation import _stats

    rng = np.random.default_rng(seed)
    y = rng.random(50) < 0.3
    y[0] = True
    s = np.round(y + rng.normal(size=50), decimals)
    assert _stats.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_large_data_path_equals_the_exact_point_estimates(monkeypatch):
    from keras_binary.evaluation import _stats

    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.3).astype(float)
    p = np.clip(0.3 * y + 0.7 * rng.random(3000), 0.001, 0.999)
    exact = keras_binary.report(y, p, n_bootstrap=400)
    monkeypatch.setattr(_stats, "EXACT_MAX_N", 100)
    large = keras_binary.report(y, p, n_bootstrap=400)
    for key in _stats.WITH_INTERVAL:
        assert large.values[key] == pytest.approx(exact.values[key], rel=1e-9), key
        # The large-sample resamples give intervals close to the exact bootstrap's.
        lo, hi = exact.intervals[key]
        assert large.intervals[key] == pytest.approx((lo, hi), rel=0.1, abs=0.01 * (hi - lo) + 1e-3), key


@pytest.mark.parametrize(
    "n, p",
    [(100, 0.8398), (20, 0.8921), (180, 0.8921), (50, 0.9268), (450, 0.9268)],
)
def test_wilson_exact_coverage_in_the_coverage_table_settings(n, p):
    # docs/statistics.md: the sensitivity and specificity of the fixed-size settings are exactly
    # binomial (fixed threshold), so Wilson's coverage is a finite sum, without Monte Carlo error.
    # The 0.933 once measured for the specificity at high_auc (n=450) was Monte Carlo noise: 0.9435.
    k = np.arange(n + 1, dtype="float64")
    lo, hi = _intervals.wilson(k, n)
    coverage = float(np.sum(stats.binom.pmf(k, n, p) * ((lo <= p) & (p <= hi))))
    assert 0.935 <= coverage <= 0.965
    lo, hi = _intervals.clopper_pearson(k, n)
    assert float(np.sum(stats.binom.pmf(k, n, p) * ((lo <= p) & (p <= hi)))) >= 0.95  # exact: never below


def test_default_auc_interval_covers_in_a_tiny_simulation():
    # A 100-data-set version of benchmarks/coverage.py's "balanced" setting (100 / 100 binormal,
    # AUC 0.92; docs/statistics.md): the default logit-DeLong interval and the paired DeLong
    # interval of the difference hold the truth about 95 % of the time. Loose bounds: the Monte
    # Carlo standard error of 100 data sets is 2.2 points.
    rng = np.random.default_rng(7)
    delta_a, delta_b = (math.sqrt(2) * stats.norm.ppf(a) for a in (0.92, 0.90))
    y = np.r_[np.ones(100), np.zeros(100)]
    hits, diff_hits = [], []
    for _ in range(100):
        na, nb = rng.standard_normal((2, 200))
        nb = 0.5 * na + math.sqrt(0.75) * nb
        a, b = delta_a * y + na, delta_b * y + nb
        low, high = keras_binary.report(y, a, from_logits=True, n_bootstrap=0).auc_ci
        hits.append(low <= 0.92 <= high)
        low, high = keras_binary.compare(y, a, b, from_logits=True).auc_difference_ci
        diff_hits.append(low <= 0.02 <= high)
    assert 0.87 <= np.mean(hits) <= 1.0, np.mean(hits)
    assert 0.87 <= np.mean(diff_hits) <= 1.0, np.mean(diff_hits)


def _auc_interval_study(monkeypatch):
    """benchmarks/auc_interval_study.py as a module (it imports benchmarks/coverage.py as `coverage`)."""
    import importlib.util
    import pathlib
    import sys

    here = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
    modules = {}
    for name in ("coverage", "auc_interval_study"):
        spec = importlib.util.spec_from_file_location(name, here / f"{name}.py")
        modules[name] = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, modules[name])
        spec.loader.exec_module(modules[name])
    return modules["auc_interval_study"]


@given(
    st.integers(2, 30),
    st.integers(1, 10),
    st.floats(0.0, 6.0),
    st.integers(0, 2**32 - 1),
)
def test_auc_study_grid_formulas_equal_the_library(m, ratio, delta, seed):
    # The coverage grid of docs/statistics.md computes DeLong's variance and the intervals
    # vectorised; they must be the library's (float64) functions, perfect separation included.
    monkeypatch = pytest.MonkeyPatch()  # per example: Hypothesis runs the body many times
    try:
        study = _auc_interval_study(monkeypatch)
        n = ratio * m
        rng = np.random.default_rng(seed)
        s = rng.standard_normal((3, m + n))
        s[:, :m] += delta
        auc, var = study.grid_delong(s, m)
        got = study.grid_intervals(m, n, auc, var)
        ns = (m + n) / 2 - 1
        y = np.r_[np.ones(m), np.zeros(n)]
        for i in range(3):
            a0, v0 = _delong.delong_auc(y, s[i])
            assert auc[i] == pytest.approx(a0, abs=1e-12)
            assert var[i] == pytest.approx(v0, abs=1e-12)
            expected = {
                "logit-delong": _delong.logit_delong_ci(a0, v0, m=m, n=n),
                "delong": _delong.delong_ci(a0, v0),
                "newcombe-wald": _delong.newcombe_ci(a0, m, n),
                "newcombe-score": study.score_interval(a0, ns, ns, m, n),
            }
            for name, ci in expected.items():
                lo, hi = got[name]
                assert (lo[i], hi[i]) == pytest.approx(ci, abs=1e-9), name
            lo, hi = got["logit-newcombe"]
            assert 0.0 <= lo[i] <= a0 <= hi[i] <= 1.0
    finally:
        monkeypatch.undo()
