"""The equivalence suite: every identity the package relies on, against float64 references.

- sigmoid/softmax: `softmax([z0, z1])[1] == sigmoid(z1 - z0)`, and the shape
  contract reduces every representation to the same canonical form;
- the losses equal their float64 references in every representation, with
  `label_smoothing` acting identically everywhere;
- `pos_weight` on a sigmoid equals a class weight on the softmax pair;
- the score conversions are inverses where exact;
- `convert_head` round trips;
- the metrics are invariant under conversion.

The data comes from `keras_binary.testing`'s strategies and the invariance
checks from its `assert_loss_invariant`, as a user's tests would use them.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
from helpers import bce_reference, focal_reference, to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary
from keras_binary import convert
from keras_binary import metrics as kbm
from keras_binary import testing as kbt


@pytest.fixture(autouse=True)
def _clear_keras_session():
    # Overrides conftest's fixture: its gc.collect() costs 0.6-0.9 s per test with TensorFlow loaded.
    yield
    keras.backend.clear_session(free_memory=False)


SMOOTHING = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0)
POS_WEIGHT = st.floats(0.05, 20.0)


def sigmoid64(z):
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, "float64")))


# ---------------------------------------------------------------------------
# sigmoid/softmax and the canonical form.


@given(kbt.binary_predictions("logit_pair", leading_shape=(8,), max_logit=30.0))
def test_softmax_of_a_pair_is_the_sigmoid_of_the_difference(pair):
    z = pair.astype("float64")
    expected = sigmoid64(z[:, 1] - z[:, 0])
    np.testing.assert_allclose(
        to_numpy(keras.ops.softmax(pair, axis=-1))[:, 1], expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(keras.ops.sigmoid(pair[:, 1] - pair[:, 0])), expected, rtol=1e-5, atol=1e-6
    )


@given(kbt.binary_batches(leading_shape=st.sampled_from([(8,), (2, 3, 2)])))
def test_every_representation_has_the_same_canonical_probability(batch):
    """p1, sigmoid(z) and sigmoid(z1 - z0) agree with the float64 canonical probability."""
    _, scores = keras_binary.canonicalize(batch.y_true, batch.y_pred, from_logits=batch.from_logits)
    scores = to_numpy(scores)
    probabilities = to_numpy(keras.ops.sigmoid(scores)) if batch.from_logits else scores
    np.testing.assert_allclose(probabilities, batch.probabilities, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# Losses: float64 references, representation invariance, label smoothing.


# A fixed batch size: JAX compiles each operation once per shape.
@given(kbt.binary_batches(leading_shape=(8,)), SMOOTHING, st.none() | POS_WEIGHT)
def test_safe_bce_equals_the_float64_reference(batch, smoothing, pos_weight):
    loss = keras_binary.SafeBCE(
        from_logits=batch.from_logits, label_smoothing=smoothing, pos_weight=pos_weight
    )
    labels = batch.labels * (1 - smoothing) + 0.5 * smoothing
    expected = np.mean(bce_reference(labels, batch.scores, batch.from_logits, pos_weight))
    assert float(to_numpy(loss(batch.y_true, batch.y_pred))) == pytest.approx(expected, rel=1e-5, abs=1e-6)


@given(kbt.binary_batches(leading_shape=(8,)), st.sampled_from([0.0, 1.0, 2.0, 3.5]), st.booleans())
def test_safe_focal_equals_the_float64_reference(batch, gamma, balancing):
    loss = keras_binary.SafeFocal(gamma=gamma, apply_class_balancing=balancing, from_logits=batch.from_logits)
    expected = np.mean(focal_reference(batch.labels, batch.scores, batch.from_logits, gamma, 0.25, balancing))
    assert float(to_numpy(loss(batch.y_true, batch.y_pred))) == pytest.approx(expected, rel=1e-5, abs=1e-6)


@given(kbt.binary_batches(leading_shape=(6,)), SMOOTHING)
def test_label_smoothing_acts_identically_in_every_representation(batch, smoothing):
    loss = keras_binary.SafeBCE(from_logits=batch.from_logits, label_smoothing=smoothing)
    value = kbt.assert_loss_invariant(loss, batch.y_true, batch.y_pred, from_logits=batch.from_logits)
    labels = batch.labels * (1 - smoothing) + 0.5 * smoothing
    assert float(value) == pytest.approx(
        np.mean(bce_reference(labels, batch.scores, batch.from_logits)), rel=1e-5
    )


@given(kbt.binary_batches(leading_shape=(6,)), SMOOTHING, st.sampled_from([0.0, 2.0]))
def test_focal_loss_is_invariant_across_representations(batch, smoothing, gamma):
    loss = keras_binary.SafeFocal(gamma=gamma, label_smoothing=smoothing, from_logits=batch.from_logits)
    kbt.assert_loss_invariant(
        loss, batch.y_true, batch.y_pred, from_logits=batch.from_logits, encoding=("float", "onehot")
    )


# ---------------------------------------------------------------------------
# pos_weight on a sigmoid == class weight on the softmax pair.


@given(
    kbt.binary_batches(encoding="int", representation=("probability", "logit"), leading_shape=(8,)),
    POS_WEIGHT,
)
def test_pos_weight_on_a_sigmoid_equals_a_class_weight_on_the_softmax_pair(batch, w):
    y = batch.labels
    class_weight = np.where(y == 1, w, 1.0)  # what model.fit(class_weight={0: 1, 1: w}) gives
    onehot = np.stack([1 - y, y], axis=-1).astype("float32")
    if batch.from_logits:
        pair = to_numpy(convert.logit_to_logit_pair(batch.y_pred)).astype("float32")
    else:
        pair = to_numpy(convert.probability_to_probability_pair(batch.y_pred)).astype("float32")
    sigmoid = keras_binary.SafeBCE(pos_weight=w, from_logits=batch.from_logits)(batch.y_true, batch.y_pred)
    safe_pair = keras_binary.SafeBCE(from_logits=batch.from_logits)(
        batch.y_true, pair, sample_weight=class_weight
    )
    keras_cce = keras.losses.CategoricalCrossentropy(from_logits=batch.from_logits)(
        onehot, pair, sample_weight=class_weight
    )
    expected = np.mean(bce_reference(y, batch.scores, batch.from_logits, pos_weight=w))
    for value in (sigmoid, safe_pair, keras_cce):
        assert float(to_numpy(value)) == pytest.approx(expected, rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------------------
# Score conversions: inverses where exact.

PROBABILITIES = hnp.arrays("float32", (8, 1), elements=st.floats(2**-10, 1 - 2**-10, width=32))
LOGITS = hnp.arrays("float32", (8, 1), elements=st.floats(-8.0, 8.0, width=32, allow_subnormal=False))


@given(PROBABILITIES)
def test_logit_then_probability_gives_p_back(p):
    back = to_numpy(convert.logit_to_probability(convert.probability_to_logit(p)))
    np.testing.assert_allclose(back, p, rtol=2e-6)


@given(LOGITS)
def test_probability_then_logit_gives_z_back_up_to_the_rounding_of_p(z):
    p = to_numpy(convert.logit_to_probability(z)).astype("float32")
    back = to_numpy(convert.probability_to_logit(p))
    # Exact in float64 from the float32 probability; z itself comes back within
    # the error of the float32 sigmoid (a few ulps): |dz| = |dp| / (p (1 - p)).
    np.testing.assert_allclose(
        back, np.log(p.astype("float64")) - np.log1p(-p.astype("float64")), rtol=1e-5, atol=1e-5
    )
    p64 = sigmoid64(z)
    bound = 4 * 2.0**-24 / (p64 * (1 - p64)) + 1e-6
    assert np.all(np.abs(back - z) <= bound)


@given(PROBABILITIES, LOGITS)
def test_pair_conversions_are_exact_inverses(p, z):
    np.testing.assert_array_equal(
        to_numpy(convert.probability_pair_to_probability(convert.probability_to_probability_pair(p))), p
    )
    np.testing.assert_array_equal(to_numpy(convert.logit_pair_to_logit(convert.logit_to_logit_pair(z))), z)


# ---------------------------------------------------------------------------
# convert_head round trips, over random weights.


@functools.cache
def _softmax_model():
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


@given(st.data())
def test_convert_head_round_trips(data):
    model = _softmax_model()
    model.set_weights(
        [
            data.draw(hnp.arrays("float32", w.shape, elements=st.floats(-1, 1, width=32)))
            for w in model.get_weights()
        ]
    )
    x = data.draw(hnp.arrays("float32", (5, 3), elements=st.floats(-2, 2, width=32)))
    to = data.draw(st.sampled_from(["sigmoid", "logits"]))
    back = keras_binary.convert_head(keras_binary.convert_head(model, to=to), to="softmax")
    kbt.assert_same_binary_predictions(model, back, x)
    # (sigmoid -> logits -> sigmoid changes no weight at all: tests/test_convert.py.)


# ---------------------------------------------------------------------------
# Metrics are invariant under conversion.

METRICS = {
    "BinaryAccuracy": kbm.BinaryAccuracy,
    "Precision": kbm.Precision,
    "Recall": kbm.Recall,
    "AUC": kbm.AUC,
    "AUC_PR_step": lambda **kw: kbm.AUC(curve="PR", summation_method="step", **kw),
    "SensitivityAtSpecificity": lambda **kw: kbm.SensitivityAtSpecificity(0.5, **kw),
    "SpecificityAtSensitivity": lambda **kw: kbm.SpecificityAtSensitivity(0.5, **kw),
    "PrecisionAtRecall": lambda **kw: kbm.PrecisionAtRecall(0.5, **kw),
    "RecallAtPrecision": lambda **kw: kbm.RecallAtPrecision(0.5, **kw),
    "BinaryCrossentropy": kbm.BinaryCrossentropy,
    "F1Score": kbm.F1Score,
    "FBetaScore": lambda **kw: kbm.FBetaScore(beta=0.5, **kw),
    "MatthewsCorrelation": kbm.MatthewsCorrelation,
    "BalancedAccuracy": kbm.BalancedAccuracy,
    "Specificity": kbm.Specificity,
    "ECE": kbm.ECE,
}


def test_every_metric_is_checked():
    assert set(kbm.__all__) <= {name.split("_")[0] for name in METRICS}


@functools.cache
def _metric(name, from_logits):
    return METRICS[name](from_logits=from_logits)


def _metric_value(name, y_true, y_pred, from_logits):
    metric = _metric(name, from_logits)
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    return float(to_numpy(metric.result()))


# Probabilities on the grid (2k + 1) / 80: never on 0.5, on an AUC threshold
# i / 199 or on an ECE bin edge b / 15, so the float32 rounding of a
# conversion cannot move a prediction across one.
GRID = hnp.arrays("int32", (16,), elements=st.integers(0, 39)).map(
    lambda k: ((2 * k + 1) / 80).astype("float32")
)


def _representations(p):
    """The same predictions as probabilities, pairs, logits and pairs of logits (via keras_binary.convert)."""
    column = p[:, None]
    z = convert.probability_to_logit(column)
    return {
        "probability": (column, False),
        "probability_pair": (convert.probability_to_probability_pair(column), False),
        "logit": (z, True),
        "logit_pair": (convert.logit_to_logit_pair(z), True),
    }


def _check_invariance(name, y, p):
    values = {key: _metric_value(name, y, pred, fl) for key, (pred, fl) in _representations(p).items()}
    first = values["probability"]
    for key, value in values.items():
        assert value == pytest.approx(first, rel=1e-5, abs=1e-5, nan_ok=True), (  # NaN: undefined in both
            f"{name}: {key} gives {value}, probability {first}"
        )


@given(st.sampled_from(sorted(METRICS)), hnp.arrays("int32", (16,), elements=st.integers(0, 1)), GRID)
def test_a_metric_is_invariant_under_conversion(name, y, p):
    _check_invariance(name, y, p)


def test_every_metric_is_invariant_under_conversion_on_fixed_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 16)
    p = ((2 * rng.integers(0, 40, 16) + 1) / 80).astype("float32")
    for name in METRICS:
        _check_invariance(name, y, p)
