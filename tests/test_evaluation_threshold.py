"""select_threshold, BinaryHead(threshold=...) and predict_classes."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary.evaluation.threshold import candidates
from tests.helpers import saved_model_round_trip


@st.composite
def scored(draw):
    n = draw(st.integers(2, 50))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = (rng.random(n) < draw(st.floats(0.1, 0.9))).astype("float64")
    y[0], y[1] = 0.0, 1.0
    decimals = draw(st.sampled_from([1, 2, 8]))
    p = np.round(rng.random(n), decimals)  # ties, and exact 0 and 1
    w = rng.uniform(0.2, 2.0, n) if draw(st.booleans()) else None
    return y, p, w


def _rates(y, p, w, t):
    w = np.ones_like(p) if w is None else w
    pred = p > t
    tp, fn = w[(y == 1) & pred].sum(), w[(y == 1) & ~pred].sum()
    fp, tn = w[(y == 0) & pred].sum(), w[(y == 0) & ~pred].sum()
    return tp, fp, tn, fn


def _brute_force(y, p, w):
    # Every classification a threshold in [0, 1] can make: p > t for t in {0} U scores U {1}.
    out = []
    for t in np.unique(np.concatenate([[0.0, 1.0], p])):
        tp, fp, tn, fn = _rates(y, p, w, t)
        out.append((tp, fp, tn, fn, tp / (tp + fn), tn / (tn + fp)))
    return out


def _objective(method, value, cost_fp, cost_fn, tp, fp, tn, fn, sens, spec):
    if method == "youden":
        return sens + spec - 1
    if method == "f1":
        return 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    if method == "cost":
        return -(cost_fp * fp + cost_fn * fn)
    if method == "sensitivity":
        return spec if sens >= value else -math.inf
    return sens if spec >= value else -math.inf


@given(
    scored(),
    st.sampled_from(["youden", "f1", "cost", "sensitivity", "specificity"]),
    st.floats(0.0, 1.0),
    st.floats(0.0, 10.0),
    st.floats(0.1, 10.0),
)
def test_each_method_is_optimal_against_brute_force(data, method, value, cost_fp, cost_fn):
    y, p, w = data
    target = value if method in ("sensitivity", "specificity") else None
    every = _brute_force(y, p, w)
    best = max(_objective(method, target, cost_fp, cost_fn, *row) for row in every)
    if method == "sensitivity" and best == -math.inf:  # positives at exactly 0
        with pytest.raises(keras_binary.BinaryLabelError, match="KB216"):
            keras_binary.select_threshold(y, p, method=method, value=target, sample_weight=w)
        return
    point = keras_binary.select_threshold(
        y, p, method=method, value=target, cost_fp=cost_fp, cost_fn=cost_fn, sample_weight=w
    )
    assert 0.0 <= point.threshold <= 1.0
    tp, fp, tn, fn = _rates(y, p, w, point.threshold)
    sens, spec = tp / (tp + fn), tn / (tn + fp)
    # What it reports is what the threshold achieves on the data.
    assert point.sensitivity == pytest.approx(sens, abs=1e-12)
    assert point.specificity == pytest.approx(spec, abs=1e-12)
    got = _objective(method, target, cost_fp, cost_fn, tp, fp, tn, fn, sens, spec)
    assert got == pytest.approx(best, rel=1e-9, abs=1e-12)
    if method == "sensitivity":
        assert sens >= target
    if method == "specificity":
        assert spec >= target


@given(scored())
def test_target_sensitivity_095_is_reached_with_ties(data):
    y, p, w = data
    p = np.clip(p, 0.01, 1.0)  # no score at exactly 0: every target is reachable
    point = keras_binary.select_threshold(y, p, method="sensitivity", value=0.95, sample_weight=w)
    tp, _, _, fn = _rates(y, p, w, point.threshold)
    assert tp / (tp + fn) >= 0.95
    assert point.sensitivity >= 0.95


def test_candidates_separate_every_pair_of_adjacent_scores():
    a = 0.3
    b = np.nextafter(a, 1.0)
    t = candidates(np.array([a, b]))
    assert (np.array([a, b])[None, :] > t[:, None]).sum(axis=1).tolist() == [2, 1, 0]


def test_logits_give_the_same_threshold_as_probabilities():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    z = 1.5 * (y - 0.5) + rng.normal(size=200)
    from_logits = keras_binary.select_threshold(y, z, method="youden", from_logits=True)
    p = 1 / (1 + np.exp(-z))
    from_probs = keras_binary.select_threshold(y, p, method="youden")
    assert from_logits.threshold == pytest.approx(from_probs.threshold)
    pair = keras_binary.select_threshold(np.stack([1 - y, y], 1), np.stack([1 - p, p], 1), method="youden")
    assert pair.threshold == pytest.approx(from_probs.threshold)


def test_operating_point_repr_and_dict():
    point = keras_binary.select_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], method="sensitivity", value=0.9)
    assert repr(point).startswith("OperatingPoint(method='sensitivity', value=0.9, threshold=")
    d = point.to_dict()
    assert d["method"] == "sensitivity" and d["sensitivity"] == 1.0 and d["threshold"] == point.threshold
    assert isinstance(point, keras_binary.OperatingPoint)


def test_select_threshold_errors():
    y, p = [0, 1, 1], [0.2, 0.6, 0.9]
    for kwargs in (
        {"method": "accuracy"},
        {"method": "sensitivity"},
        {"method": "sensitivity", "value": 1.2},
        {"method": "specificity", "value": "high"},
        {"method": "youden", "value": 0.9},
        {"method": "cost", "cost_fp": -1.0},
        {"method": "cost", "cost_fp": 0.0, "cost_fn": 0.0},
        {"method": "cost", "cost_fn": float("inf")},
    ):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB362"):
            keras_binary.select_threshold(y, p, **kwargs)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB215"):
        keras_binary.select_threshold([1, 1, 1], p)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB216"):
        keras_binary.select_threshold([0, 1, 1], [0.5, 0.0, 0.9], method="sensitivity", value=1.0)


# ---------------------------------------------------------------------------
# The threshold travels with the model.


def _model(threshold=None, activation="auto", units=1):
    inputs = keras.Input((1,))
    head = keras_binary.BinaryHead(
        units=units, activation=activation, threshold=threshold, kernel_initializer="ones", name="head"
    )
    return keras.Model(inputs, head(inputs))


X = np.array([[-2.0], [-0.5], [0.3], [1.0], [3.0]], dtype="float32")  # sigmoid: .12 .38 .57 .73 .95


def test_binary_head_threshold_config_and_validation():
    head = keras_binary.BinaryHead(threshold=0.25)
    assert head.get_config()["threshold"] == 0.25
    assert keras_binary.BinaryHead.from_config(head.get_config()).threshold == 0.25
    assert keras_binary.BinaryHead().threshold is None
    for bad in (1.5, -0.01, float("nan"), True, "0.5"):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
            keras_binary.BinaryHead(threshold=bad)


def test_threshold_survives_a_keras_round_trip():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1)).astype("float32")
    y = (x[:, 0] + rng.normal(size=200) > 0).astype("float32")
    model = _model()
    point = keras_binary.select_threshold(y, model.predict(x, verbose=0), method="sensitivity", value=0.95)
    model.get_layer("head").threshold = point.threshold
    loaded = saved_model_round_trip(model)
    assert loaded.get_layer("head").threshold == point.threshold
    np.testing.assert_array_equal(
        keras_binary.predict_classes(loaded, x), keras_binary.predict_classes(model, x)
    )
    classes = keras_binary.predict_classes(loaded, x)
    sensitivity = classes[y == 1].mean()
    assert sensitivity >= 0.95  # reached on the data it was chosen on
    built = saved_model_round_trip(_model(threshold=point.threshold))
    assert built.get_layer("head").threshold == point.threshold


@pytest.mark.parametrize(
    ("activation", "units"),
    [("auto", 1), (None, 1), ("auto", 2), (None, 2)],
    ids=["sigmoid", "logit", "softmax", "logit_pair"],
)
def test_predict_classes_uses_the_stored_threshold(activation, units):
    model = _model(threshold=0.6, activation=activation, units=units)
    out = np.asarray(model.predict(X, verbose=0), dtype="float64")
    if units == 2:
        z = out[:, 1] - out[:, 0] if activation is None else None
        p = 1 / (1 + np.exp(-z)) if activation is None else out[:, 1]
    else:
        p = 1 / (1 + np.exp(-out[:, 0])) if activation is None else out[:, 0]
    classes = keras_binary.predict_classes(model, X)
    assert classes.dtype == np.int32 and classes.shape == (5,)
    np.testing.assert_array_equal(classes, (p > 0.6).astype(int))
    np.testing.assert_array_equal(
        keras_binary.predict_classes(model, X, threshold=0.2), (p > 0.2).astype(int)
    )
    default = keras_binary.predict_classes(_model(activation=activation, units=units), X)
    np.testing.assert_array_equal(default, (p > 0.5).astype(int))
    with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
        keras_binary.predict_classes(model, X, threshold=2.0)


def test_predict_classes_on_a_plain_keras_model():
    inputs = keras.Input((1,))
    dense = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")
    model = keras.Model(inputs, dense(inputs))
    np.testing.assert_array_equal(keras_binary.predict_classes(model, X), [0, 0, 1, 1, 1])
    logits = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones")(inputs))
    np.testing.assert_array_equal(keras_binary.predict_classes(logits, X, threshold=0.7), [0, 0, 0, 1, 1])


def test_binary_head_threshold_is_validated_when_set():
    head = keras_binary.BinaryHead()
    head.threshold = 0.3
    assert head.get_config()["threshold"] == 0.3
    with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
        head.threshold = 7.0
    assert head.threshold == 0.3
