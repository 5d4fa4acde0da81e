"""Issue 21 items 5 and 6: proportion bounds, the operating point's uncertainty, net benefit, calibration.

References are float64 NumPy/SciPy computations written here, and literals
computed once with dcurves 1.1 and statsmodels 0.14 (see each test).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, special, stats

import keras_binary
from keras_binary.evaluation import _clinical

# A deterministic data set (no RNG stream): 60 examples, 27 positives.
_I = np.arange(60)
P60 = ((_I * 37) % 97 + 1) / 99.0
Y60 = ((((_I * 53) % 101) / 101.0) < P60).astype("float64")
NB_THRESHOLDS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]
# dcurves.dca(data=pd.DataFrame({"y": Y60, "m": P60}), outcome="y", modelnames=["m"], thresholds=NB_THRESHOLDS)
DCURVES_MODEL = [
    0.38859649122807016,
    0.362962962962963,
    0.3208333333333333,
    0.27142857142857135,
    0.24999999999999994,
    0.11666666666666668,
]
DCURVES_ALL = [
    0.4210526315789474,
    0.3888888888888889,
    0.3125,
    0.21428571428571427,
    -0.10000000000000003,
    -0.8333333333333333,
]
# statsmodels: Logit(Y60, [1, logit(P60)]).fit(); GLM(Y60, 1, Binomial(), offset=logit(P60)).fit()
SM_SLOPE = (0.7201654225895847, (0.2759635078423782, 1.1643673373367913))
SM_INTERCEPT = (-0.21419301617223582, (-0.8308638451665531, 0.4024778128220814))


# --- proportions -------------------------------------------------------------


@given(st.integers(1, 300), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_equals_scipy(n, data, confidence):
    k = data.draw(st.integers(0, n))
    ci = stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
    np.testing.assert_allclose(_clinical.wilson_interval(k, n, confidence), (ci.low, ci.high), atol=1e-12)


@given(st.integers(1, 300), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_exact_lower_bound_equals_scipy_one_sided_clopper_pearson(n, data, confidence):
    k = data.draw(st.integers(0, n))
    ci = stats.binomtest(k, n, alternative="greater").proportion_ci(confidence, method="exact")
    assert _clinical.exact_lower_bound(k, n, confidence) == pytest.approx(ci.low, abs=1e-10)


def test_twenty_of_twenty_does_not_show_95_percent():
    assert _clinical.exact_lower_bound(20, 20, 0.95) == pytest.approx(0.05 ** (1 / 20), abs=1e-12)
    assert round(_clinical.exact_lower_bound(20, 20, 0.95), 3) == 0.861
    assert _clinical.positives_needed(0.95, 0.95) == 59


@given(st.floats(0.5, 0.995), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_positives_needed_is_the_smallest_n(target, confidence):
    n = _clinical.positives_needed(target, confidence)
    low = stats.binomtest(n, n, alternative="greater").proportion_ci(confidence, method="exact").low
    assert low >= target - 1e-12
    if n > 1:
        before = (
            stats.binomtest(n - 1, n - 1, alternative="greater").proportion_ci(confidence, method="exact").low
        )
        assert before < target


# --- select_threshold with a confidence bound ----------------------------------


@st.composite
def screening(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_pos = draw(st.integers(40, 200))
    n_neg = draw(st.integers(5, 60))
    p = np.round(np.r_[rng.beta(5, 1.5, n_pos), rng.beta(1.5, 3, n_neg)], draw(st.sampled_from([2, 3])))
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    return y, p


@given(screening(), st.sampled_from([0.8, 0.85, 0.9]), st.sampled_from([0.9, 0.95]))
def test_sensitivity_bound_reaches_the_target_at_the_most_specific_threshold(data, value, confidence):
    y, p = data
    n_pos = int(y.sum())

    def lower(t):
        # Clopper-Pearson's one-sided bound (equal to SciPy's binomtest: test above)
        k = int(np.sum((p > t) & (y == 1)))
        return 0.0 if k == 0 else float(stats.beta.ppf(1 - confidence, k, n_pos - k + 1))

    # Every classification: p > t for t in {0} U scores.
    ts = np.r_[0.0, np.unique(p)]
    ok = [t for t in ts if lower(t) >= value]
    if not ok:
        with pytest.raises(keras_binary.BinaryLabelError, match="KB235"):
            keras_binary.select_threshold(y, p, method="sensitivity", value=value, confidence=confidence)
        return
    point = keras_binary.select_threshold(y, p, method="sensitivity", value=value, confidence=confidence)
    assert lower(point.threshold) >= value
    best_spec = max(np.mean(p[y == 0] <= t) for t in ok)
    assert point.specificity == pytest.approx(best_spec)
    assert point.confidence == confidence


def test_specificity_bound_mirrors_sensitivity():
    y = np.r_[np.zeros(100), np.ones(30)]
    p = np.r_[np.linspace(0.0, 0.5, 100), np.linspace(0.3, 1.0, 30)]
    point = keras_binary.select_threshold(y, p, method="specificity", value=0.9, confidence=0.95)
    k = round(point.specificity * 100)
    assert _clinical.exact_lower_bound(k, 100, 0.95) >= 0.9
    # brute force: the highest sensitivity among the thresholds whose bound qualifies
    ok = [
        t for t in np.r_[0.0, np.unique(p)] if _clinical.exact_lower_bound(np.sum(p[:100] <= t), 100) >= 0.9
    ]
    assert point.sensitivity == pytest.approx(max(np.mean(p[100:] > t) for t in ok))
    plain = keras_binary.select_threshold(y, p, method="specificity", value=0.9)
    assert point.sensitivity <= plain.sensitivity and point.threshold >= plain.threshold


def test_kb235_says_how_many_positives_are_needed():
    y = np.r_[np.ones(20), np.zeros(80)]
    p = np.r_[np.linspace(0.6, 0.99, 20), np.linspace(0.01, 0.7, 80)]
    with pytest.raises(keras_binary.BinaryLabelError, match="KB235") as info:
        keras_binary.select_threshold(y, p, method="sensitivity", value=0.95, confidence=0.95)
    assert "at least 59 positives" in str(info.value) and "0.8609" in str(info.value)
    with pytest.raises(keras_binary.BinaryLabelError, match="no number of negatives"):
        keras_binary.select_threshold(1 - y, 1 - p, method="specificity", value=1.0, confidence=0.9)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95, -0.1, float("nan"), True, "0.95"])
def test_kb373_confidence_outside_unit_interval(confidence):
    with pytest.raises(keras_binary.BinaryConfigError, match="KB373"):
        keras_binary.select_threshold([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], method="sensitivity", value=0.5,
                                      confidence=confidence)  # fmt: skip


def test_kb374_confidence_without_a_target():
    with pytest.raises(keras_binary.BinaryConfigError, match="KB374"):
        keras_binary.select_threshold([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], method="f1", confidence=0.95)


@given(st.data())
def test_operating_point_intervals_are_wilson_on_its_data(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(4, 80))
    y = (rng.random(n) < 0.4).astype("float64")
    y[:2] = [0, 1]
    p = np.round(rng.random(n), 2)
    method = data.draw(st.sampled_from(["youden", "f1", "cost"]))
    point = keras_binary.select_threshold(y, p, method=method)
    tp = int(np.sum((p > point.threshold) & (y == 1)))
    tn = int(np.sum((p <= point.threshold) & (y == 0)))
    sens = stats.binomtest(tp, int(y.sum())).proportion_ci(0.95, method="wilson")
    spec = stats.binomtest(tn, int(n - y.sum())).proportion_ci(0.95, method="wilson")
    np.testing.assert_allclose(point.sensitivity_ci, (sens.low, sens.high), atol=1e-12)
    np.testing.assert_allclose(point.specificity_ci, (spec.low, spec.high), atol=1e-12)
    assert point.to_dict()["sensitivity_ci"] == list(point.sensitivity_ci)


# --- net benefit --------------------------------------------------------------


def _net_benefit_reference(y, p, t):
    n = y.size
    treated = p >= t
    tp, fp = np.sum(treated & (y == 1)), np.sum(treated & (y == 0))
    nb = tp / n - fp / n * t / (1 - t)
    c = np.where(treated, np.where(y == 1, 1.0, -t / (1 - t)), 0.0)
    half = stats.norm.ppf(0.975) * np.std(c, ddof=1) / math.sqrt(n)
    return nb, nb - half, nb + half


def test_net_benefit_equals_dcurves():
    r = keras_binary.report(Y60, P60, n_bootstrap=0)
    nb = r.net_benefit(NB_THRESHOLDS)
    np.testing.assert_allclose(nb["net_benefit"], DCURVES_MODEL, atol=1e-12)
    np.testing.assert_allclose(nb["treat_all"], DCURVES_ALL, atol=1e-12)
    np.testing.assert_array_equal(nb["treat_none"], 0.0)
    assert np.all(nb["low"] < nb["net_benefit"]) and np.all(nb["net_benefit"] < nb["high"])


@given(st.data())
def test_net_benefit_and_interval_equal_a_float64_reference(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(3, 200))
    y = (rng.random(n) < data.draw(st.floats(0.05, 0.95))).astype("float64")
    p = np.round(rng.random(n), data.draw(st.sampled_from([1, 2, 8])))  # ties at the thresholds
    t = np.round(rng.uniform(0.01, 0.99, 5), 1)
    t = np.clip(t, 0.05, 0.95)
    out = _clinical.net_benefit(y, p, None, t)
    for i, ti in enumerate(t):
        nb, low, high = _net_benefit_reference(y, p, ti)
        assert out["net_benefit"][i] == pytest.approx(nb, abs=1e-12)
        assert out["low"][i] == pytest.approx(low, abs=1e-9)
        assert out["high"][i] == pytest.approx(high, abs=1e-9)
        all_nb, all_low, all_high = _net_benefit_reference(y, np.ones_like(p), ti)
        assert out["treat_all"][i] == pytest.approx(all_nb, abs=1e-12)
        assert out["treat_all_low"][i] == pytest.approx(all_low, abs=1e-9)


def test_net_benefit_frequency_weights_equal_repeated_examples():
    w = (_I % 3 + 1).astype("float64")
    weighted = _clinical.net_benefit(Y60, P60, w, np.array(NB_THRESHOLDS))
    repeated = _clinical.net_benefit(np.repeat(Y60, w.astype(int)), np.repeat(P60, w.astype(int)), None,
                                     np.array(NB_THRESHOLDS))  # fmt: skip
    for key in weighted:
        np.testing.assert_allclose(weighted[key], repeated[key], atol=1e-12)


def _net_benefit_at_prevalence_reference(y, p, w, t, prev):
    """Vickers: NB = sens * prev - (1 - spec) * (1 - prev) * pt / (1 - pt), float64, by definition."""
    pos, neg = y == 1, y == 0
    treated = p >= t
    sens = np.sum(w[pos] * treated[pos]) / np.sum(w[pos])
    fpr = np.sum(w[neg] * treated[neg]) / np.sum(w[neg])
    odds = t / (1 - t)
    nb = sens * prev - fpr * (1 - prev) * odds
    var = prev**2 * sens * (1 - sens) / max(np.sum(w[pos]) - 1, 1) + ((1 - prev) * odds) ** 2 * fpr * (
        1 - fpr
    ) / max(np.sum(w[neg]) - 1, 1)
    half = stats.norm.ppf(0.975) * math.sqrt(var)
    return nb, nb - half, nb + half, prev - (1 - prev) * odds


@given(st.data())
def test_net_benefit_at_a_stated_prevalence_equals_a_float64_reference(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(4, 150))
    y = (rng.random(n) < data.draw(st.floats(0.1, 0.9))).astype("float64")
    y[:2] = [0.0, 1.0]  # both classes
    p = np.round(rng.random(n), data.draw(st.sampled_from([1, 2, 8])))  # ties at the thresholds
    w = rng.integers(1, 4, n).astype("float64") if data.draw(st.booleans()) else None
    prev = data.draw(st.floats(0.001, 0.999))
    t = np.clip(np.round(rng.uniform(0.01, 0.99, 4), 2), 0.01, 0.99)
    out = _clinical.net_benefit(y, p, w, t, prevalence=prev)
    for i, ti in enumerate(t):
        nb, low, high, treat_all = _net_benefit_at_prevalence_reference(
            y, p, np.ones(n) if w is None else w, ti, prev
        )
        assert out["net_benefit"][i] == pytest.approx(nb, abs=1e-12)
        assert out["low"][i] == pytest.approx(low, abs=1e-9)
        assert out["high"][i] == pytest.approx(high, abs=1e-9)
        assert out["treat_all"][i] == pytest.approx(treat_all, abs=1e-12)
        assert out["treat_all_low"][i] == out["treat_all_high"][i] == out["treat_all"][i]
    # at the test set's own prevalence the adjustment changes nothing (TP / n = sens * prev)
    if w is None:
        own = _clinical.net_benefit(y, p, None, t, prevalence=float(y.mean()))
        plain = _clinical.net_benefit(y, p, None, t)
        np.testing.assert_allclose(own["net_benefit"], plain["net_benefit"], atol=1e-12)
        np.testing.assert_allclose(own["treat_all"], plain["treat_all"], atol=1e-12)


@given(st.data())
def test_net_benefit_at_a_prevalence_with_groups_is_cluster_robust(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    k = data.draw(st.integers(3, 20))
    groups = np.repeat(np.arange(k), rng.integers(1, 5, k))
    n = groups.size
    y = (rng.random(n) < 0.4).astype("float64")
    y[:2] = [0.0, 1.0]
    p = np.round(rng.random(n), 2)
    t, prev = np.array([0.1, 0.3]), 0.05
    out = _clinical.net_benefit(y, p, None, t, groups=groups, prevalence=prev)
    for i, ti in enumerate(t):
        hit = p >= ti
        sens, fpr = hit[y == 1].mean(), hit[y == 0].mean()
        odds = ti / (1 - ti)
        # the linearisation of prev * TP / P - (1 - prev) * odds * FP / N, summed per patient
        infl = prev * y * (hit - sens) / y.sum() - (1 - prev) * odds * (1 - y) * (hit - fpr) / (1 - y).sum()
        sums = np.array([infl[groups == g].sum() for g in range(k)])
        half = stats.norm.ppf(0.975) * math.sqrt(k / (k - 1) * np.sum(sums**2))
        assert out["net_benefit"][i] == pytest.approx(sens * prev - fpr * (1 - prev) * odds, abs=1e-12)
        assert out["high"][i] - out["low"][i] == pytest.approx(2 * half, abs=1e-9)


def test_report_net_benefit_uses_the_stated_prevalence():
    # an enriched (case-control) test set, 27 of 60 positive, for a population with 5 % prevalence
    r = keras_binary.report(Y60, P60, n_bootstrap=0, prevalence=0.05)
    nb = r.net_benefit(NB_THRESHOLDS)
    for i, t in enumerate(NB_THRESHOLDS):
        expected = _net_benefit_at_prevalence_reference(Y60, P60, np.ones(60), t, 0.05)
        assert nb["net_benefit"][i] == pytest.approx(expected[0], abs=1e-12)
        assert nb["treat_all"][i] == pytest.approx(0.05 - 0.95 * t / (1 - t), abs=1e-12)
    # unadjusted, the enriched set's 45 % prevalence would make every net benefit far larger
    plain = keras_binary.report(Y60, P60, n_bootstrap=0).net_benefit(NB_THRESHOLDS)
    assert np.all(plain["net_benefit"] > nb["net_benefit"])


@pytest.mark.parametrize("thresholds", [[0.0, 0.1], [0.5, 1.0], [], [float("nan")], "high", [[0.1, 1.2]]])
def test_kb375_net_benefit_thresholds_outside_unit_interval(thresholds):
    r = keras_binary.report([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bootstrap=0)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB375"):
        r.net_benefit(thresholds)


def test_net_benefit_default_thresholds():
    r = keras_binary.report([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], n_bootstrap=0)
    t = r.net_benefit()["threshold"]
    assert t[0] == 0.01 and t[-1] == 0.99 and t.size == 99


# --- calibration slope and intercept -------------------------------------------


def test_calibration_equals_statsmodels():
    r = keras_binary.report(Y60, P60, n_bootstrap=0)
    assert r.calibration_slope == pytest.approx(SM_SLOPE[0], abs=1e-8)
    np.testing.assert_allclose(r.calibration_slope_ci, SM_SLOPE[1], atol=1e-8)
    assert r.calibration_intercept == pytest.approx(SM_INTERCEPT[0], abs=1e-8)
    np.testing.assert_allclose(r.calibration_intercept_ci, SM_INTERCEPT[1], atol=1e-8)


def _nll(beta, x, y, offset):
    eta = offset + x @ beta
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


@given(st.data())
def test_calibration_fits_maximise_the_likelihood(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(30, 150))
    lp = rng.normal(0, 1.5, n)
    truth = data.draw(st.floats(0.3, 2.0)) * lp + data.draw(st.floats(-1.0, 1.0))
    y = (rng.random(n) < special.expit(truth)).astype("float64")
    if y.min() == y.max():
        return
    x = np.stack([np.ones(n), lp], axis=1)
    ref = optimize.minimize(
        _nll, np.zeros(2), args=(x, y, np.zeros(n)), method="BFGS", options={"gtol": 1e-10}
    )
    slope, (low, high) = _clinical.calibration_slope(y, lp)
    if not ref.success or not math.isfinite(slope):
        return
    assert slope == pytest.approx(ref.x[1], abs=1e-4)
    mu = special.expit(x @ ref.x)
    se = math.sqrt(np.linalg.inv(x.T @ (x * (mu * (1 - mu))[:, None]))[1, 1])
    assert (high - low) / 2 == pytest.approx(stats.norm.ppf(0.975) * se, rel=1e-3)
    ref_a = optimize.minimize_scalar(lambda a: _nll(np.array([a]), np.ones((n, 1)), y, lp))
    intercept, _ = _clinical.calibration_intercept(y, lp)
    assert intercept == pytest.approx(ref_a.x, abs=1e-4)


def test_calibration_of_a_calibrated_model_is_near_perfect():
    rng = np.random.default_rng(3)
    lp = rng.normal(0, 2, 20000)
    y = (rng.random(20000) < special.expit(lp)).astype("float64")
    r = keras_binary.report(y, lp, from_logits=True, n_bootstrap=0)
    low, high = r.calibration_slope_ci
    assert low < 1.0 < high and abs(r.calibration_slope - 1) < 0.05
    low, high = r.calibration_intercept_ci
    assert low < 0.0 < high


def test_calibration_with_complete_separation_is_nan():
    r = keras_binary.report([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bootstrap=0)
    assert math.isnan(r.calibration_slope) and all(math.isnan(v) for v in r.calibration_slope_ci)


def test_decision_curve_figure_draws_the_net_benefit_and_references():
    from keras_binary.evaluation import plots

    r = keras_binary.report(Y60, P60, n_bootstrap=0, name="m")
    other = keras_binary.report(Y60, 1 - P60, n_bootstrap=0, name="reversed")
    (ax,) = plots.decision_curve_figure(r, compare=other, thresholds=NB_THRESHOLDS).axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["treat all"].get_ydata(), DCURVES_ALL, atol=1e-12)
    np.testing.assert_array_equal(lines["treat none"].get_ydata(), 0.0)
    np.testing.assert_allclose(lines["m (95% interval shaded)"].get_ydata(), DCURVES_MODEL, atol=1e-12)
    assert "reversed (95% interval shaded)" in lines
    assert plots.FILES["decision_curve"] == "decision_curve.png"  # written by plot() (tests/test_plots.py)


# --- several examples per patient ----------------------------------------------

# statsmodels: Logit(...).fit(cov_type="cluster", cov_kwds={"groups": _I // 3, "use_correction": False}).bse
SM_CLUSTER_SE = {"slope": 0.30608836705506287, "intercept": 0.27571509080572715}


def test_calibration_with_groups_is_statsmodels_cluster_robust():
    r = keras_binary.report(Y60, P60, n_bootstrap=0, groups=_I // 3)
    z, factor = stats.norm.ppf(0.975), math.sqrt(20 / 19)  # ours has the k / (k - 1) small-sample factor
    assert r.calibration_slope == pytest.approx(SM_SLOPE[0], abs=1e-8)
    low, high = r.calibration_slope_ci
    assert (high - low) / 2 == pytest.approx(z * SM_CLUSTER_SE["slope"] * factor, abs=1e-8)
    low, high = r.calibration_intercept_ci
    assert (high - low) / 2 == pytest.approx(z * SM_CLUSTER_SE["intercept"] * factor, abs=1e-8)


@given(st.data())
def test_net_benefit_with_groups_equals_a_cluster_robust_reference(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    k = data.draw(st.integers(2, 25))
    groups = np.repeat(np.arange(k), rng.integers(1, 5, k))
    n = groups.size
    y = (rng.random(n) < 0.4).astype("float64")
    p = np.round(rng.random(n), 2)
    t = np.array([0.1, 0.25, 0.5])
    out = _clinical.net_benefit(y, p, None, t, groups=groups)
    for i, ti in enumerate(t):
        c = np.where(p >= ti, np.where(y == 1, 1.0, -ti / (1 - ti)), 0.0)
        sums = np.array([np.sum(c[groups == g] - c.mean()) for g in range(k)])
        half = stats.norm.ppf(0.975) * math.sqrt(k / (k - 1) * np.sum(sums**2)) / n
        assert out["net_benefit"][i] == pytest.approx(c.mean(), abs=1e-12)
        assert out["high"][i] - out["low"][i] == pytest.approx(2 * half, abs=1e-9)
    # one example per group: the plain interval
    single = _clinical.net_benefit(y, p, None, t, groups=np.arange(n))
    plain = _clinical.net_benefit(y, p, None, t)
    for key in plain:
        np.testing.assert_allclose(single[key], plain[key], atol=1e-12)
