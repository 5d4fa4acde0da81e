"""DeLong's AUC variance (single, paired, clustered) against pROC 1.18 and O(n^2) references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

import keras_binary
from keras_binary.evaluation import _delong

# Fixed data sets (labels, scores of model a, scores of model b): many ties, few positives.
DATA = {
    "ties": (
        [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0],
        [
            5.0,
            4.0,
            3.0,
            2.0,
            3.0,
            4.0,
            5.0,
            3.0,
            5.0,
            2.0,
            3.0,
            5.0,
            2.0,
            3.0,
            4.0,
            4.0,
            3.0,
            3.0,
            2.0,
            4.0,
            4.0,
            4.0,
            4.0,
            3.0,
            4.0,
            2.0,
            3.0,
            3.0,
            4.0,
            3.0,
        ],
        [
            4.0,
            3.0,
            4.0,
            4.0,
            2.0,
            5.0,
            2.0,
            2.0,
            3.0,
            3.0,
            2.0,
            3.0,
            3.0,
            3.0,
            2.0,
            4.0,
            4.0,
            3.0,
            3.0,
            4.0,
            3.0,
            3.0,
            2.0,
            4.0,
            3.0,
            3.0,
            3.0,
            4.0,
            5.0,
            3.0,
        ],
    ),
    "few_pos": (
        [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [
            -1.4,
            1.4,
            -0.3,
            1.0,
            -1.9,
            -0.4,
            -0.1,
            2.9,
            0.4,
            -2.9,
            -1.4,
            0.3,
            0.8,
            1.7,
            0.4,
            0.7,
            0.9,
            -0.0,
            -0.2,
            0.0,
            1.3,
            -0.9,
            -1.0,
            -0.1,
            -0.1,
        ],
        [
            -2.0,
            0.8,
            -0.0,
            1.9,
            -1.4,
            0.1,
            0.8,
            1.5,
            -0.7,
            -3.4,
            -2.2,
            -0.4,
            0.8,
            0.8,
            0.1,
            -0.7,
            0.2,
            0.9,
            -0.6,
            0.2,
            1.8,
            -1.2,
            -0.6,
            0.1,
            0.4,
        ],
    ),
    "mixed": (
        [
            1,
            0,
            1,
            0,
            1,
            1,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            1,
            0,
            1,
            0,
            0,
            1,
            1,
            1,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            0,
            1,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            0,
        ],
        [
            2.46,
            0.43,
            3.1,
            -0.27,
            0.52,
            1.51,
            0.2,
            0.02,
            2.58,
            0.81,
            -0.12,
            -0.11,
            -0.99,
            3.03,
            -0.26,
            0.92,
            -1.11,
            -0.41,
            3.56,
            2.77,
            0.31,
            -0.12,
            0.26,
            0.63,
            0.34,
            -0.64,
            2.41,
            -0.55,
            -2.24,
            1.29,
            -0.69,
            2.95,
            1.06,
            0.95,
            0.17,
            0.09,
            -1.44,
            -0.05,
            -0.09,
            0.14,
        ],
        [
            1.84,
            -2.5,
            2.72,
            -0.71,
            0.57,
            1.63,
            -1.03,
            0.57,
            2.5,
            -0.15,
            0.22,
            -0.09,
            -2.01,
            2.57,
            -0.59,
            -0.08,
            -1.21,
            0.22,
            2.36,
            3.99,
            3.05,
            -0.37,
            0.68,
            2.31,
            -0.16,
            -1.22,
            1.98,
            -1.65,
            -2.47,
            2.05,
            -0.76,
            2.92,
            1.02,
            0.91,
            -0.11,
            -0.22,
            -1.39,
            0.34,
            0.27,
            -0.07,
        ],
    ),
}

# pROC 1.18.0, R: roc(y, s, direction="<", levels=c(0, 1)); ci.auc(r, method="delong");
# var(r, method="delong"); roc.test(ra, rb, paired=TRUE, method="delong"); cov(ra, rb, method="delong").
PROC = {
    "ties": dict(
        auc_a=0.8000000000, ci_a=(0.6469200848, 0.9530799152), var_a=0.006100146199,
        auc_b=0.6750000000, ci_b=(0.4712759697, 0.8787240303), var_b=0.010804093567,
        z=0.8934871727, p=0.3715963384, ci_diff=(-0.1492014721, 0.3992014721), cov=-0.001334064327,
    ),
    "few_pos": dict(
        auc_a=0.8630952381, ci_a=(0.6967647385, 1.0000000000), var_a=0.007201908541,
        auc_b=0.5416666667, ci_b=(0.1716052798, 0.9117280535), var_b=0.035649329176,
        z=2.5575476140, p=0.0105413126, ci_diff=(0.0751033730, 0.5677537699), cov=0.013528084845,
    ),
    "mixed": dict(
        auc_a=0.9440000000, ci_a=(0.8743248370, 1.0000000000), var_a=0.001263746032,
        auc_b=0.9426666667, ci_b=(0.8768621172, 1.0000000000), var_b=0.001127238095,
        z=0.0358117566, p=0.9714324587, ci_diff=(-0.0716394992, 0.0743061658), cov=0.000502391534,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DATA))
def test_single_auc_equals_proc(name):
    y, a, b = DATA[name]
    ref = PROC[name]
    for scores, tag in ((a, "a"), (b, "b")):
        auc, var = _delong.delong_auc(y, scores)
        assert auc == pytest.approx(ref[f"auc_{tag}"], abs=1e-4)
        assert var == pytest.approx(ref[f"var_{tag}"], abs=1e-6)
        assert _delong.delong_ci(auc, var) == pytest.approx(ref[f"ci_{tag}"], abs=1e-4)


@pytest.mark.parametrize("name", sorted(DATA))
def test_paired_test_equals_proc(name):
    y, a, b = DATA[name]
    ref = PROC[name]
    r = _delong.delong_paired(y, a, b)
    assert (r.auc_a, r.auc_b) == pytest.approx((ref["auc_a"], ref["auc_b"]), abs=1e-4)
    assert r.covariance == pytest.approx(ref["cov"], abs=1e-6)
    assert r.difference / np.sqrt(r.variance) == pytest.approx(ref["z"], abs=1e-4)
    assert _delong.difference_p_value(r.difference, r.variance) == pytest.approx(ref["p"], abs=1e-4)
    assert _delong.difference_ci(r.difference, r.variance) == pytest.approx(ref["ci_diff"], abs=1e-4)


def _direct(y, s):
    """O(n^2) structural components (DeLong et al. 1988), float64."""
    y = np.asarray(y, bool)
    s = np.asarray(s, "float64")
    x, z = s[y], s[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


@st.composite
def scored(draw, max_size=40):
    n = draw(st.integers(4, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = (rng.random(n) < draw(st.floats(0.1, 0.9))).astype(int)
    y[:2] = (0, 1)
    y[2:4] = (0, 1)
    scale = draw(st.sampled_from([1.0, 100.0, 1e4]))
    decimals = draw(st.sampled_from([0, 1, 6]))  # 0 decimals: heavy ties
    a = np.round(rng.normal(size=n) * 3 + y, decimals) * scale
    b = np.round(a / scale + rng.normal(size=n), decimals) * scale
    groups = rng.integers(0, max(2, n // 3), n)
    return y, a, b, groups


@given(scored())
def test_variance_equals_the_direct_structural_components(data):
    y, a, b, _ = data
    v10, v01 = _direct(y, a)
    auc, var = _delong.delong_auc(y, a)
    assert auc == pytest.approx(skm.roc_auc_score(y, a), abs=1e-12)
    assert var == pytest.approx(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size, abs=1e-12)
    w10, w01 = _direct(y, b)
    r = _delong.delong_paired(y, a, b)
    cov = np.cov(v10, w10)[0, 1] / v10.size + np.cov(v01, w01)[0, 1] / v01.size
    assert r.covariance == pytest.approx(cov, abs=1e-12)
    vb = np.var(w10, ddof=1) / w10.size + np.var(w01, ddof=1) / w01.size
    assert r.variance == pytest.approx(max(var + vb - 2 * cov, 0.0), abs=1e-12)


@given(scored())
def test_clustered_variance_equals_obuchowski_direct(data):
    y, a, b, g = data
    pos = np.asarray(y, bool)
    ids = np.unique(g, return_inverse=True)[1].reshape(-1)
    k = ids.max() + 1

    def parts(s):
        v10, v01 = _direct(y, s)
        auc = v10.mean()
        d10 = np.array([v10[ids[pos] == i].sum() - (ids[pos] == i).sum() * auc for i in range(k)])
        d01 = np.array([v01[ids[~pos] == i].sum() - (ids[~pos] == i).sum() * auc for i in range(k)])
        return d10, d01

    m, n = pos.sum(), (~pos).sum()
    k10, k01 = len(set(ids[pos])), len(set(ids[~pos]))
    da, ea = parts(a)
    db, eb = parts(b)

    def cov(d1, e1, d2, e2):
        s10 = k10 / (k10 - 1) / m * np.sum(d1 * d2) if k10 > 1 else np.nan
        s01 = k01 / (k01 - 1) / n * np.sum(e1 * e2) if k01 > 1 else np.nan
        s11 = k / (k - 1) * (np.sum(d1 * e2) + np.sum(d2 * e1)) if k > 1 else np.nan
        return s10 / m + s01 / n + s11 / (m * n)

    _, var = _delong.clustered_auc(y, a, g)
    np.testing.assert_allclose(var, cov(da, ea, da, ea), atol=1e-12)
    r = _delong.clustered_paired(y, a, b, g)
    want = cov(da, ea, da, ea) + cov(db, eb, db, eb) - 2 * cov(da, ea, db, eb)
    np.testing.assert_allclose(r.variance, max(want, 0.0) if np.isfinite(want) else want, atol=1e-12)


@given(scored())
def test_one_example_per_cluster_is_delong(data):
    y, a, b, _ = data
    ids = np.arange(len(y))
    assert _delong.clustered_auc(y, a, ids)[1] == pytest.approx(_delong.delong_auc(y, a)[1], abs=1e-12)
    assert tuple(_delong.clustered_paired(y, a, b, ids)) == pytest.approx(
        tuple(_delong.delong_paired(y, a, b)), abs=1e-12
    )


@given(st.floats(0.01, 0.99), st.floats(1e-6, 0.05), st.floats(0.5, 0.99))
def test_intervals_hold_the_estimate_inside_unit_interval(auc, var, confidence):
    for lo, hi in (_delong.delong_ci(auc, var, confidence), _delong.logit_delong_ci(auc, var, confidence)):
        assert 0.0 <= lo <= auc <= hi <= 1.0
    lo, hi = _delong.logit_delong_ci(auc, var, confidence)
    z = np.log(auc / (1 - auc))
    assert np.log(hi / (1 - hi)) - z == pytest.approx(z - np.log(lo / (1 - lo)), rel=1e-6)


def test_perfect_separation_gets_a_logit_interval_of_nonzero_width():
    lo, hi = _delong.logit_delong_ci(1.0, 0.0, m=20, n=180)
    assert 0.9 < lo < 1.0 and hi == 1.0
    assert _delong.delong_ci(1.0, 0.0) == (1.0, 1.0)


# --- Newcombe (2006) method 4 -----------------------------------------------------


@given(
    st.integers(2, 300),
    st.integers(2, 300),
    st.floats(0.0, 1.0),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_newcombe_ci_is_the_hanley_mcneil_wald_at_n_star(m, n, auc, confidence):
    # Hanley and McNeil (1982) with Q1 = A / (2 - A), Q2 = 2 A^2 / (1 + A), and m - 1, n - 1 both
    # replaced by N* - 1, N* = (m + n) / 2 (Newcombe 2006, method 4), written out in float64.
    a = min(max(auc, 0.5 / (m * n)), 1 - 0.5 / (m * n))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    k = (m + n) / 2 - 1
    var = (a * (1 - a) + k * (q1 - a * a) + k * (q2 - a * a)) / (m * n)
    z = stats.norm.ppf(0.5 + confidence / 2)
    lo, hi = _delong.newcombe_ci(auc, m, n, confidence)
    assert lo == pytest.approx(max(auc - z * math.sqrt(var), 0.0), abs=1e-12)
    assert hi == pytest.approx(min(auc + z * math.sqrt(var), 1.0), abs=1e-12)
    assert 0.0 <= lo <= auc <= hi <= 1.0
    if 0 < auc < 1:
        assert _delong.newcombe_variance(auc, m, n) == pytest.approx(
            (auc * (1 - auc) + k * (auc / (2 - auc) - auc**2) + k * (2 * auc**2 / (1 + auc) - auc**2))
            / (m * n),
            rel=1e-12,
        )


def test_report_newcombe_interval_and_its_error_with_groups():
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(20), np.zeros(180)]
    s = 2.5 * y + rng.normal(size=200)
    r = keras_binary.report(y, s, from_logits=True, n_bootstrap=0, auc_interval="newcombe")
    assert r.auc_ci == pytest.approx(_delong.newcombe_ci(r.auc, 20, 180))
    assert r.methods["auc"].startswith("Newcombe (2006)")
    assert r.to_dict()["auc_interval"] == "newcombe"
    with pytest.raises(keras_binary.BinaryConfigError, match="KB376"):
        keras_binary.report(y, s, from_logits=True, groups=np.arange(200) // 2, auc_interval="newcombe")
