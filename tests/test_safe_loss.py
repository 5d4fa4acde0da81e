"""safe_loss: any binary loss behind the shape contract.

- `safe_loss(keras.losses.X())` equals `keras.losses.X()` on canonical
  inputs `(N, 1)`, within 1e-6 relative: Keras's own test values
  (`keras/src/losses/losses_test.py`, flattened to one score per example)
  and Hypothesis-generated inputs, with sample weights and reductions.
- What the wrapped loss receives: `(M, 1)` float labels and one score per
  example, `p1` of a softmax pair (`from_logits=False`) or `z1 - z0` of a
  pair of logits (`from_logits=True`).
- Errors, serialization (config and a saved `.keras` model).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import config_round_trip, saved_model_round_trip, to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary
from keras_binary.errors import BinaryConfigError, BinaryLabelError, BinaryShapeError
from keras_binary.losses import SafeLossWrapper

N = 32  # one batch shape for the generated tests: JAX compiles each op once per shape


@keras.saving.register_keras_serializable(package="keras_binary_tests")
def squared_error(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def _value(loss, *args, **kwargs):
    return to_numpy(loss(*args, **kwargs))


# ---------------------------------------------------------------------------
# Agreement with Keras.

# Keras's test inputs, as one score per example: (factory, from_logits, y_true, y_pred, sample_weight, asserted).
KERAS_EXAMPLES = [
    (keras.losses.BinaryCrossentropy, False, [1, 0, 1, 0], [1, 1, 1, 0], None, 3.98559),
    (keras.losses.BinaryCrossentropy, False, [1, 0, 1, 0], [1, 1, 1, 0], 2.3, 9.1668),
    (
        lambda: keras.losses.BinaryCrossentropy(from_logits=True),
        True,
        [1, 0, 1, 0, 1, 1],
        [10.0, -10.0, 10.0, 10.0, 10.0, -10.0],
        None,
        3.3333,
    ),
    (
        lambda: keras.losses.BinaryCrossentropy(from_logits=True),
        True,
        [1, 0, 1, 0, 1, 1],
        [10.0, -10.0, 10.0, 10.0, 10.0, -10.0],
        2.3,
        7.666,
    ),
    (keras.losses.Hinge, False, [0.0, 1.0, 0.0, 0.0], [0.6, 0.4, 0.4, 0.6], None, 1.3),
    (keras.losses.Hinge, False, [0.0, 1.0, 0.0, 0.0], [0.6, 0.4, 0.4, 0.6], [1, 1, 0, 0], None),
    (keras.losses.SquaredHinge, False, [0.0, 1.0, 0.0, 0.0], [0.6, 0.4, 0.4, 0.6], None, 1.86),
    (
        lambda: keras.losses.Hinge(reduction="sum"),
        True,
        [0.0, 1.0, 0.0, 1.0],
        [-0.3, 0.2, -0.1, 1.6],
        None,
        None,
    ),
    (
        lambda: keras.losses.BinaryFocalCrossentropy(gamma=2.0),
        False,
        [1, 0, 1, 0],
        [0.9, 0.8, 0.7, 0.2],
        None,
        0.268,
    ),
    (
        lambda: keras.losses.MeanSquaredError(reduction=None),
        False,
        [1, 0, 1, 0],
        [0.9, 0.8, 0.7, 0.2],
        [2, 1, 0, 1],
        None,
    ),
]


@pytest.mark.parametrize("index", range(len(KERAS_EXAMPLES)))
def test_keras_examples(index):
    make, from_logits, y_true, y_pred, sample_weight, asserted = KERAS_EXAMPLES[index]
    y = np.asarray(y_true, "float32").reshape(-1, 1)
    s = np.asarray(y_pred, "float32").reshape(-1, 1)
    ours = _value(keras_binary.safe_loss(make(), from_logits=from_logits), y, s, sample_weight=sample_weight)
    theirs = _value(make(), y, s, sample_weight=sample_weight)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    if asserted is not None:
        np.testing.assert_allclose(ours, asserted, atol=1e-3)


PROBABILITY_LOSSES = {
    "BinaryCrossentropy": keras.losses.BinaryCrossentropy,
    "BinaryCrossentropy_smoothed": lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.2),
    "BinaryFocalCrossentropy": lambda: keras.losses.BinaryFocalCrossentropy(
        gamma=1.5, apply_class_balancing=True
    ),
    "MeanSquaredError_sum": lambda: keras.losses.MeanSquaredError(reduction="sum"),
    "MeanAbsoluteError": keras.losses.MeanAbsoluteError,
    "Huber": lambda: keras.losses.Huber(delta=0.3),
    "LogCosh": keras.losses.LogCosh,
    "Poisson_none": lambda: keras.losses.Poisson(reduction=None),
    "binary_crossentropy_function": lambda: keras.losses.binary_crossentropy,
}
LOGIT_LOSSES = {
    "BinaryCrossentropy_logits": lambda: keras.losses.BinaryCrossentropy(from_logits=True),
    "Hinge": keras.losses.Hinge,
    "SquaredHinge": keras.losses.SquaredHinge,
}


def _keras(fn, y, s, sample_weight):
    if isinstance(fn, keras.losses.Loss):
        return _value(fn, y, s, sample_weight=sample_weight)
    return to_numpy(keras.ops.mean(fn(y, s)))  # a function: per-example values, mean as Keras reduces


labels = hnp.arrays(np.float32, (N, 1), elements=st.sampled_from([0.0, 1.0]))
weights = st.none() | hnp.arrays(np.float32, (N,), elements=st.floats(0, 2, width=32))


@pytest.mark.parametrize("name", sorted(PROBABILITY_LOSSES))
@given(y=labels, p=hnp.arrays(np.float32, (N, 1), elements=st.floats(0, 1, width=32)), w=weights)
def test_equals_keras_on_canonical_probabilities(name, y, p, w):
    make = PROBABILITY_LOSSES[name]
    sample_weight = w if isinstance(make(), keras.losses.Loss) else None
    got = _value(keras_binary.safe_loss(make()), y, p, sample_weight=sample_weight)
    np.testing.assert_allclose(got, _keras(make(), y, p, sample_weight), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(LOGIT_LOSSES))
@given(y=labels, z=hnp.arrays(np.float32, (N, 1), elements=st.floats(-20, 20, width=32)), w=weights)
def test_equals_keras_on_canonical_logits(name, y, z, w):
    make = LOGIT_LOSSES[name]
    got = _value(keras_binary.safe_loss(make(), from_logits=True), y, z, sample_weight=w)
    np.testing.assert_allclose(got, _keras(make(), y, z, w), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# What the wrapped loss receives.


class Spy:
    """A loss function that records what it receives."""

    __name__ = "spy"

    def __init__(self):
        self.calls = []

    def __call__(self, y_true, y_pred):
        self.calls.append((to_numpy(y_true), to_numpy(y_pred)))
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


@pytest.mark.parametrize(
    "case",
    [
        "probabilities (N, 1)",
        "softmax pair",
        "logits (N, 1)",
        "pair of logits",
        "one-hot labels",
        "per-pixel",
    ],
)
def test_the_wrapped_loss_receives_canonical_inputs(case):
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    z = np.array([-2.0, 1.5, 0.25, -0.5, 3.0, 0.0, -1.0, 2.0], "float32")
    p = 1 / (1 + np.exp(-z.astype("float64")))
    inputs = {
        "probabilities (N, 1)": (False, y, p.reshape(-1, 1), p),
        "softmax pair": (False, y.reshape(-1, 1), np.stack([1 - p, p], -1), p),
        "logits (N, 1)": (True, y, z.reshape(-1, 1), z),
        "pair of logits": (True, y, np.stack([np.full(8, 0.5), 0.5 + z], -1), z),
        "one-hot labels": (False, np.eye(2)[y], p.reshape(-1, 1), p),
        "per-pixel": (False, y.reshape(2, 2, 2), p.reshape(2, 2, 2, 1), p),
    }
    from_logits, y_true, y_pred, expected_score = inputs[case]
    spy = Spy()
    loss = keras_binary.safe_loss(spy, from_logits=from_logits)
    value = float(to_numpy(loss(y_true, y_pred)))
    (received_y, received_score), *_ = spy.calls
    assert received_y.shape == (8, 1) and received_score.shape == (8, 1)
    np.testing.assert_allclose(received_y[:, 0], y, atol=0)
    np.testing.assert_allclose(received_score[:, 0], expected_score, rtol=1e-6, atol=1e-7)
    assert value == pytest.approx(float(np.mean((y - expected_score) ** 2)), rel=1e-5)


def test_a_function_with_from_logits_gets_the_wrappers_setting():
    y = np.array([[0.0], [1.0], [1.0]])
    z = np.array([[-30.0], [2.0], [40.0]], "float32")
    got = float(to_numpy(keras_binary.safe_loss(keras.losses.binary_crossentropy, from_logits=True)(y, z)))
    expected = float(to_numpy(keras.losses.BinaryCrossentropy(from_logits=True)(y, z)))
    assert got == pytest.approx(expected, rel=1e-6)


def test_sigmoid_outputs_keep_kerass_logit_shortcut():
    # On TensorFlow keras.ops.sigmoid attaches the logits to its result and
    # Keras's cross-entropy uses them (exact where the probability saturates);
    # the wrapper must give the same value. On other backends both clip.
    y = np.array([[0.0], [1.0], [1.0], [0.0]], "float32")
    p = keras.ops.sigmoid(np.array([[30.0], [-30.0], [3.0], [-40.0]], "float32"))
    got = float(to_numpy(keras_binary.safe_loss(keras.losses.BinaryCrossentropy())(y, p)))
    expected = float(to_numpy(keras.losses.BinaryCrossentropy()(y, p)))
    assert got == pytest.approx(expected, rel=1e-6)


def test_reduction_and_name_follow_the_wrapped_loss():
    loss = keras_binary.safe_loss(keras.losses.BinaryCrossentropy(reduction="sum", name="bce"))
    assert loss.reduction == "sum" and loss.name == "safe_bce"
    assert keras_binary.safe_loss(keras.losses.binary_crossentropy).name == "safe_binary_crossentropy"
    assert keras_binary.safe_loss("binary_crossentropy", reduction=None).reduction is None


def test_from_logits_defaults_to_the_wrapped_losss():
    assert keras_binary.safe_loss(keras.losses.BinaryCrossentropy(from_logits=True)).from_logits is True
    assert keras_binary.safe_loss(keras.losses.Hinge()).from_logits is False


def test_empty_batch_is_zero():
    value = keras_binary.safe_loss(keras.losses.BinaryCrossentropy())(np.zeros((0,)), np.zeros((0, 1)))
    assert float(to_numpy(value)) == 0.0


# ---------------------------------------------------------------------------
# Errors.


@pytest.mark.parametrize(
    "call,code,fix",
    [
        (lambda: keras_binary.safe_loss(keras.losses.BinaryCrossentropy), "KB323", "BinaryCrossentropy()"),
        (lambda: keras_binary.safe_loss(3), "KB323", "safe_loss(keras.losses.BinaryCrossentropy())"),
        (
            lambda: keras_binary.safe_loss(
                keras.losses.BinaryCrossentropy(from_logits=True), from_logits=False
            ),
            "KB324",
            "BinaryCrossentropy(from_logits=False)",
        ),
        (lambda: keras_binary.safe_loss(keras.losses.CategoricalCrossentropy()), "KB325", "SafeBCE()"),
        (lambda: keras_binary.safe_loss("sparse_categorical_crossentropy"), "KB325", "SafeBCE()"),
        (lambda: keras_binary.safe_loss("categorical_hinge"), "KB325", "SafeBCE()"),
    ],
)
def test_config_errors(call, code, fix):
    with pytest.raises(BinaryConfigError) as info:
        call()
    assert info.value.code == code
    assert fix in str(info.value)


def test_shape_and_label_errors_of_the_contract():
    loss = keras_binary.safe_loss(keras.losses.BinaryCrossentropy())
    with pytest.raises(BinaryShapeError) as info:
        loss(np.array([0, 1]), np.zeros((2, 1000), "float32"))
    assert info.value.code == "KB102"
    with pytest.raises(BinaryLabelError) as info:
        loss(np.array([1, 2, 2, 1]), np.array([[0.1], [0.8], [0.7], [0.3]]))
    assert info.value.code == "KB202" and "y = y - 1" in str(info.value)


# ---------------------------------------------------------------------------
# Serialization.


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras_binary.safe_loss(keras.losses.BinaryFocalCrossentropy(gamma=3.0, from_logits=True)),
        lambda: keras_binary.safe_loss("binary_crossentropy", validate=False, name="wrapped"),
        lambda: keras_binary.safe_loss(squared_error, reduction="sum"),
        lambda: keras_binary.safe_loss(keras.losses.Hinge(), from_logits=True),
    ],
    ids=["Loss", "name", "registered function", "Hinge"],
)
def test_config_round_trip(make):
    loss = make()
    clone = config_round_trip(loss)
    assert type(clone) is SafeLossWrapper
    assert clone.get_config() == loss.get_config()
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, N), rng.uniform(0, 1, N).astype("float32")
    s = np.stack([1 - p, p], axis=-1)  # a softmax pair
    assert float(to_numpy(clone(y, s))) == pytest.approx(float(to_numpy(loss(y, s))), rel=1e-7)


def test_saved_model_with_a_wrapped_loss_loads_without_custom_objects():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(N, 3)).astype("float32"), rng.integers(0, 2, N)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])  # a pair of logits
    model.compile(
        optimizer="sgd", loss=keras_binary.safe_loss(keras.losses.BinaryCrossentropy(from_logits=True))
    )
    loaded = saved_model_round_trip(model)
    assert isinstance(loaded.loss, SafeLossWrapper) and loaded.loss.from_logits
    logits = model.predict(x, verbose=0)
    expected = float(
        to_numpy(
            keras.losses.BinaryCrossentropy(from_logits=True)(y.reshape(-1, 1), logits[:, 1:] - logits[:, :1])
        )
    )
    assert loaded.evaluate(x, y, batch_size=N, verbose=0) == pytest.approx(expected, rel=1e-5)
