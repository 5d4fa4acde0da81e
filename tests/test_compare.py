"""Issue 21 item 4: `keras_binary.compare`, two models on one test set with paired tests.

pROC 1.18.0 values (roc.test(paired=TRUE, method="delong")) were computed with
Rscript by i21stats (/work/notes/proc_reference.md); the tests need no R.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import keras_binary
from keras_binary.evaluation import _clinical

DATA = {
    "ties": (
        [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0],
        [5, 4, 3, 2, 3, 4, 5, 3, 5, 2, 3, 5, 2, 3, 4, 4, 3, 3, 2, 4, 4, 4, 4, 3, 4, 2, 3, 3, 4, 3],
        [4, 3, 4, 4, 2, 5, 2, 2, 3, 3, 2, 3, 3, 3, 2, 4, 4, 3, 3, 4, 3, 3, 2, 4, 3, 3, 3, 4, 5, 3],
    ),
    "few_pos": (
        [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [-1.4, 1.4, -0.3, 1.0, -1.9, -0.4, -0.1, 2.9, 0.4, -2.9, -1.4, 0.3, 0.8, 1.7, 0.4, 0.7, 0.9, -0.0, -0.2,
         0.0, 1.3, -0.9, -1.0, -0.1, -0.1],
        [-2.0, 0.8, -0.0, 1.9, -1.4, 0.1, 0.8, 1.5, -0.7, -3.4, -2.2, -0.4, 0.8, 0.8, 0.1, -0.7, 0.2, 0.9, -0.6,
         0.2, 1.8, -1.2, -0.6, 0.1, 0.4],
    ),
    "mixed": (
        [1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0,
         0, 1, 0, 0],
        [2.46, 0.43, 3.1, -0.27, 0.52, 1.51, 0.2, 0.02, 2.58, 0.81, -0.12, -0.11, -0.99, 3.03, -0.26, 0.92, -1.11,
         -0.41, 3.56, 2.77, 0.31, -0.12, 0.26, 0.63, 0.34, -0.64, 2.41, -0.55, -2.24, 1.29, -0.69, 2.95, 1.06, 0.95,
         0.17, 0.09, -1.44, -0.05, -0.09, 0.14],
        [1.84, -2.5, 2.72, -0.71, 0.57, 1.63, -1.03, 0.57, 2.5, -0.15, 0.22, -0.09, -2.01, 2.57, -0.59, -0.08, -1.21,
         0.22, 2.36, 3.99, 3.05, -0.37, 0.68, 2.31, -0.16, -1.22, 1.98, -1.65, -2.47, 2.05, -0.76, 2.92, 1.02, 0.91,
         -0.11, -0.22, -1.39, 0.34, 0.27, -0.07],
    ),
}  # fmt: skip
# pROC: auc_a, auc_b, Z, p-value, conf.int of the difference
PROC = {
    "ties": (0.8000000000, 0.6750000000, 0.8934871727, 0.3715963384, (-0.1492014721, 0.3992014721)),
    "few_pos": (0.8630952381, 0.5416666667, 2.5575476140, 0.0105413126, (0.0751033730, 0.5677537699)),
    "mixed": (0.9440000000, 0.9426666667, 0.0358117566, 0.9714324587, (-0.0716394992, 0.0743061658)),
}


@pytest.mark.parametrize("name", sorted(DATA))
def test_auc_difference_equals_proc_roc_test(name):
    y, a, b = (np.asarray(v, dtype="float64") for v in DATA[name])
    c = keras_binary.compare(y, a, b, from_logits=True)
    auc_a, auc_b, z, p, ci = PROC[name]
    assert c.auc_a == pytest.approx(auc_a, abs=1e-8) and c.auc_b == pytest.approx(auc_b, abs=1e-8)
    assert c.auc_difference == pytest.approx(auc_a - auc_b, abs=1e-8)
    assert c.auc_z == pytest.approx(z, abs=1e-4)
    assert c.auc_p_value == pytest.approx(p, abs=1e-4)
    np.testing.assert_allclose(c.auc_difference_ci, ci, atol=1e-4)


def test_huge_logits_rank_exactly():
    # Beyond about 37 the float64 sigmoid is 1.0: the ranking must use the logits.
    y = np.array([0, 1, 0, 1, 1, 0])
    a = np.array([40.0, 41.0, 42.0, 43.0, 44.0, -1.0])
    c = keras_binary.compare(y, a, -a, from_logits=True)
    assert c.auc_a == pytest.approx(8 / 9) and c.auc_b == pytest.approx(1 / 9)


def _paired_table(hit_a, hit_b):
    return (
        int(np.sum(hit_a & hit_b)),
        int(np.sum(hit_a & ~hit_b)),
        int(np.sum(~hit_a & hit_b)),
        int(np.sum(~hit_a & ~hit_b)),
    )


def _newcombe_reference(a, b, c, d, confidence=0.95):
    # Newcombe (1998) method 10, written from the paper with SciPy's Wilson intervals.
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    w1 = stats.binomtest(a + b, n).proportion_ci(confidence, method="wilson")
    w2 = stats.binomtest(a + c, n).proportion_ci(confidence, method="wilson")
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(den) if den else 0.0
    dl = math.sqrt(
        max((p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2, 0)
    )
    du = math.sqrt(
        max((w1.high - p1) ** 2 - 2 * phi * (w1.high - p1) * (p2 - w2.low) + (p2 - w2.low) ** 2, 0)
    )
    return p1 - p2, max(p1 - p2 - dl, -1), min(p1 - p2 + du, 1)


@given(st.data())
def test_rate_differences_equal_newcombe_and_exact_mcnemar(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(6, 120))
    y = (rng.random(n) < 0.5).astype("float64")
    y[:2] = [0, 1]
    pa, pb = np.round(rng.random(n), 1), np.round(rng.random(n), 1)
    ta, tb = data.draw(st.sampled_from([0.3, 0.5, 0.7])), data.draw(st.sampled_from([0.3, 0.5, 0.7]))
    c = keras_binary.compare(y, pa, pb, threshold_a=ta, threshold_b=tb)
    for key, mask, flip in (("sensitivity", y == 1, False), ("specificity", y == 0, True)):
        hit_a, hit_b = (pa[mask] > ta) ^ flip, (pb[mask] > tb) ^ flip
        a, b, cc, d = _paired_table(hit_a, hit_b)
        diff, low, high = _newcombe_reference(a, b, cc, d)
        assert getattr(c, f"{key}_a") == pytest.approx(np.mean(hit_a))
        assert getattr(c, f"{key}_difference") == pytest.approx(diff, abs=1e-12)
        np.testing.assert_allclose(getattr(c, f"{key}_difference_ci"), (low, high), atol=1e-12)
        # exact McNemar: twice the smaller binomial tail of the discordant pairs, at most 1
        m = b + cc
        p_ref = 1.0 if m == 0 else min(1.0, 2 * stats.binom.cdf(min(b, cc), m, 0.5))
        assert getattr(c, f"{key}_p_value") == pytest.approx(p_ref, abs=1e-12)


def test_newcombe_literal():
    # Newcombe (1998) method 10 for a = 10, b = 5, c = 1, d = 4 (computed with the reference above).
    diff, (low, high) = _clinical.newcombe_paired_difference(10, 5, 1, 4)
    assert diff == pytest.approx(0.2)
    assert (low, high) == pytest.approx((-0.024814877259783902, 0.3974306275059706), abs=1e-12)


def test_groups_of_one_example_each_equal_the_unclustered_auc_test():
    y, a, b = (np.asarray(v, dtype="float64") for v in DATA["mixed"])
    plain = keras_binary.compare(y, a, b, from_logits=True)
    single = keras_binary.compare(y, a, b, from_logits=True, groups=np.arange(y.size)[::-1])
    assert single.auc_p_value == pytest.approx(plain.auc_p_value, abs=1e-12)
    np.testing.assert_allclose(single.auc_difference_ci, plain.auc_difference_ci, atol=1e-12)
    assert single.n_groups == y.size and plain.n_groups is None


@given(st.data())
def test_clustered_rate_difference_equals_a_ratio_estimator_reference(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    k = data.draw(st.integers(3, 30))
    sizes = rng.integers(1, 5, k)
    groups = np.repeat(np.arange(k), sizes)
    first = (rng.random(groups.size) < 0.7).astype("float64")
    second = (rng.random(groups.size) < 0.6).astype("float64")
    diff, (low, high), p = _clinical.clustered_paired_difference(first, second, groups)
    d_k = np.array([np.sum(first[groups == g] - second[groups == g]) for g in range(k)])
    n_k = sizes.astype("float64")
    ref = d_k.sum() / n_k.sum()
    var = k / (k - 1) * np.sum((d_k - ref * n_k) ** 2) / n_k.sum() ** 2
    assert diff == pytest.approx(ref, abs=1e-12)
    assert high - low == pytest.approx(
        min(ref + 1.959963984540054 * math.sqrt(var), 1) - max(ref - 1.959963984540054 * math.sqrt(var), -1),
        abs=1e-9,
    )  # noqa: E501
    p_ref = 1.0 if np.sum(d_k**2) == 0 else stats.chi2.sf(d_k.sum() ** 2 / np.sum(d_k**2), 1)
    assert p == pytest.approx(p_ref, abs=1e-12)


def test_patients_widen_the_auc_interval():
    rng = np.random.default_rng(1)
    patients = np.repeat(np.arange(60), 4)
    y = np.repeat(rng.random(60) < 0.4, 4).astype("float64")
    # each model errs the same way on all images of a patient: the images are not independent
    a = 1.2 * y + np.repeat(rng.normal(size=60), 4) + 0.3 * rng.normal(size=240)
    b = 0.8 * y + np.repeat(rng.normal(size=60), 4) + 0.3 * rng.normal(size=240)
    plain = keras_binary.compare(y, a, b, from_logits=True)
    clustered = keras_binary.compare(y, a, b, from_logits=True, groups=patients)
    assert np.diff(clustered.auc_difference_ci)[0] > np.diff(plain.auc_difference_ci)[0]
    assert clustered.n_groups == 60


def test_str_and_to_dict():
    y, a, b = (np.asarray(v, dtype="float64") for v in DATA["few_pos"])
    c = keras_binary.compare(y, a, b, from_logits=True, names=("new", "old"))
    text = str(c)
    assert "'new' - 'old'" in text and "+0.3214" in text and "0.01054" in text
    d = c.to_dict()
    assert d["auc_difference_ci"] == list(c.auc_difference_ci) and d["names"] == ["new", "old"]


def test_kb143_predictions_of_different_lengths():
    with pytest.raises(keras_binary.BinaryShapeError, match="KB143"):
        keras_binary.compare([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], [0.1, 0.9, 0.4])
    with pytest.raises(keras_binary.BinaryShapeError, match="KB143") as info:
        keras_binary.compare([0, 1, 0], [0.2, 0.8, 0.3, 0.6], [0.1, 0.9, 0.4, 0.5])
    assert "3 labels" in str(info.value)


def test_kb144_groups_of_another_length():
    with pytest.raises(keras_binary.BinaryShapeError, match="KB144"):
        keras_binary.compare([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], [0.1, 0.9, 0.4, 0.7], groups=[1, 1, 2])


@pytest.mark.parametrize("confidence", [0, 1, 1.5, float("nan")])
def test_kb373_compare_confidence(confidence):
    with pytest.raises(keras_binary.BinaryConfigError, match="KB373"):
        keras_binary.compare([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], [0.1, 0.9, 0.4, 0.7], confidence=confidence)


def test_one_class_only_is_kb215():
    with pytest.raises(keras_binary.BinaryLabelError, match="KB215"):
        keras_binary.compare([1, 1, 1], [0.2, 0.8, 0.3], [0.1, 0.9, 0.4])


def test_bad_threshold_is_kb361_and_none_is_one_half():
    y, a, b = [0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], [0.1, 0.9, 0.4, 0.7]
    with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
        keras_binary.compare(y, a, b, threshold_a=1.5)
    assert keras_binary.compare(y, a, b, threshold_b=None).threshold_b == 0.5
