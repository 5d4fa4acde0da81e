"""calibrate and TemperatureScaling: exact in logit space, lower log loss, same ranking, saved as .keras."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

import keras_binary
from keras_binary.evaluation import _stats
from keras_binary.evaluation.calibration import _log_loss, fit_temperature
from tests.helpers import config_round_trip, saved_model_round_trip


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    z = 1.5 * x[:, 0] - 0.5 * x[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("float32")
    return x, y


def _model(scale=1.0, activation="auto", units=1, threshold=None):
    """A well-specified logistic model whose logits are multiplied by `scale`."""
    kernel = scale * np.array([[1.5], [-0.5]], dtype="float32")
    if units == 2:  # softmax([0, z]) == sigmoid(z)
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
    inputs = keras.Input((2,))
    head = keras_binary.BinaryHead(units=units, activation=activation, threshold=threshold, name="head")
    model = keras.Model(inputs, head(inputs), name="logistic")
    head.output_dense.set_weights([kernel, np.zeros(units, "float32")])
    return model


def _positive_logit(out, activation, units):
    out = np.asarray(out, dtype="float64")
    if activation is None:
        return out[:, 1] - out[:, 0] if units == 2 else out[:, 0]
    if units == 2:
        logp = np.log(np.clip(out, 1e-7, 1.0))
        return logp[:, 1] - logp[:, 0]
    p = np.clip(out[:, 0], 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


CASES = [("auto", 1), (None, 1), ("auto", 2), (None, 2)]
IDS = ["sigmoid", "logit", "softmax", "logit_pair"]


@pytest.mark.parametrize(("activation", "units"), CASES, ids=IDS)
def test_calibrate_overconfident_model(activation, units):
    x, y = _data()
    model = _model(scale=5.0, activation=activation, units=units)
    calibrated = keras_binary.calibrate(model, x, y, verbose=0)
    info = calibrated.calibration
    assert 3.5 < info.temperature < 7.0  # the logits were made 5x too confident
    before = model.predict(x, verbose=0)
    after = calibrated.predict(x, verbose=0)
    assert after.shape == before.shape  # same representation
    z_before = _positive_logit(before, activation, units)
    z_after = _positive_logit(after, activation, units)
    # Exact in logit space: the positive-class logit divided by T (float32 probabilities
    # above 1 - 1e-6 are rounded, and clipped, by the model itself: their logit is not known).
    known = np.abs(z_before) < 9 if activation is not None else np.ones_like(z_before, bool)
    assert known.mean() > 0.75
    np.testing.assert_allclose(z_after[known], z_before[known] / info.temperature, rtol=1e-4, atol=1e-4)
    p_before, p_after = 1 / (1 + np.exp(-z_before)), 1 / (1 + np.exp(-z_after))
    assert skm.log_loss(y, p_after) < skm.log_loss(y, p_before)
    # Ranking unchanged: the same AUC, up to the rounding of its sum.
    assert skm.roc_auc_score(y, p_after) == pytest.approx(skm.roc_auc_score(y, p_before), abs=1e-12)
    assert _stats.ece(y, p_after) < _stats.ece(y, p_before)
    assert info.ece_after < info.ece_before and info.brier_after < info.brier_before
    assert info.log_loss_after < info.log_loss_before
    p_model = p_before if activation is None else np.asarray(before, "float64")[:, -1]
    assert info.log_loss_before == pytest.approx(skm.log_loss(y, p_model), rel=1e-9)


@pytest.mark.parametrize(("activation", "units"), CASES, ids=IDS)
def test_calibrated_model_saves_and_loads_as_keras(activation, units):
    x, y = _data(200)
    calibrated = keras_binary.calibrate(_model(3.0, activation, units), x, y, verbose=0)
    loaded = saved_model_round_trip(calibrated)
    layer = loaded.layers[-1]
    assert isinstance(layer, keras_binary.TemperatureScaling)
    assert layer.temperature == calibrated.layers[-1].temperature
    assert layer.from_logits == (activation is None)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), calibrated.predict(x, verbose=0), rtol=1e-6)


def test_calibrate_returns_a_copy_and_carries_the_decisions():
    x, y = _data(300)
    model = _model(4.0, threshold=0.8)
    calibrated = keras_binary.calibrate(model, x, y, verbose=0)
    assert calibrated is not model and calibrated.name == "logistic_calibrated"
    assert calibrated.get_layer("head") is not model.get_layer("head")
    # The stored threshold is mapped, so the calibrated model makes the same decisions.
    t = calibrated.layers[-1].threshold
    assert t < 0.8
    np.testing.assert_array_equal(
        keras_binary.predict_classes(calibrated, x), keras_binary.predict_classes(model, x)
    )
    before = model.predict(x, verbose=0)
    calibrated.get_layer("head").output_dense.kernel.assign(np.zeros((2, 1), "float32"))
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)  # the original is untouched


def test_calibrate_from_batches_and_a_sequential_model():
    x, y = _data(120)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation=None, name="logit")])
    model.get_layer("logit").set_weights([np.array([[6.0], [-2.0]], "float32"), np.zeros(1, "float32")])
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 120, 32)]
    calibrated = keras_binary.calibrate(model, batches, verbose=0)
    assert calibrated.layers[-1].from_logits  # a linear Dense outputs logits
    assert calibrated.calibration.temperature > 1.5
    direct = keras_binary.calibrate(model, x, y, verbose=0)
    assert direct.calibration.temperature == pytest.approx(calibrated.calibration.temperature, rel=1e-6)


@given(
    st.integers(0, 2**32 - 1),
    st.floats(0.2, 8.0),
    st.integers(20, 300),
)
def test_fitted_temperature_minimises_the_log_loss(seed, scale, n):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * 2
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("float64")
    y[0], y[1] = 0.0, 1.0
    w = rng.uniform(0.5, 2.0, n)
    t = fit_temperature(scale * z, y, w)
    best = _log_loss(scale * z / t, y, w)
    assert best <= _log_loss(scale * z, y, w) + 1e-12  # never rises
    for other in np.exp(np.linspace(math.log(0.011), math.log(99.0), 41)):
        assert best <= _log_loss(scale * z / other, y, w) + 1e-9
    # A temperature rescales: the ranking of sigmoid(z / t) is that of z.
    p = 1 / (1 + np.exp(-scale * z / t))
    assert skm.roc_auc_score(y, p) == pytest.approx(skm.roc_auc_score(y, scale * z), abs=1e-12)


def test_temperature_scaling_layer():
    layer = keras_binary.TemperatureScaling(temperature=2.0, from_logits=True, threshold=0.4)
    restored = config_round_trip(layer)
    assert (restored.temperature, restored.from_logits, restored.threshold) == (2.0, True, 0.4)
    pair = keras_binary.TemperatureScaling(temperature=2.0)(np.array([[0.2, 0.8]], "float32"))
    got = keras.ops.convert_to_numpy(pair)
    q = 1 / (1 + np.exp(-math.log(4.0) / 2))  # logit(0.8) = log 4
    np.testing.assert_allclose(got, [[1 - q, q]], rtol=1e-5)
    for bad in (0.0, -1.0, float("inf"), float("nan"), True, "2"):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB364"):
            keras_binary.TemperatureScaling(temperature=bad)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
        keras_binary.TemperatureScaling(threshold=3.0)
    with pytest.raises(keras_binary.BinaryShapeError, match="KB102"):
        keras_binary.TemperatureScaling()(np.zeros((2, 5), "float32"))


def test_calibrate_errors():
    x, y = _data(20)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB215"):
        keras_binary.calibrate(_model(), x, np.ones(20, "float32"), verbose=0)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB365"):
        keras_binary.calibrate(_model(), x, verbose=0)
