"""SafeFocal: agreement with Keras, float64 references, stability, errors, serialization.

- Keras's own test and docstring examples (`keras/src/losses/losses_test.py`,
  `BinaryFocalCrossentropy`'s docstring) give the same values as Keras, and
  as the literal values those tests assert.
- Hypothesis against `keras.losses.BinaryFocalCrossentropy` on canonical
  inputs, within 1e-6 relative: every probability, and logits in [-4, 4].
  Beyond that Keras's own logit path loses accuracy (a float32 sigmoid, then
  a clipped log): at |z| = 10 its elements are off by orders of magnitude on
  JAX. There SafeFocal is compared with a float64 reference instead, up to
  |z| = 1e4, loss and gradient.
- `multi_label=True`: `SafeBCE` and `SafeFocal` equal Keras on `(N, K)`.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import BACKEND, config_round_trip, saved_model_round_trip, to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary
from keras_binary.errors import BinaryConfigError, BinaryLabelError

N = 32  # one batch shape throughout: JAX compiles each op once per shape
EPSILON = 1e-7  # keras.config.epsilon()


def focal_reference(y, s, from_logits, gamma=2.0, alpha=0.25, balance=False, smoothing=0.0, pos_weight=None):
    """Element-wise binary focal cross-entropy in float64 (Keras's formula)."""
    y = np.asarray(y, "float64")
    s = np.asarray(s, "float64")
    y = y * (1 - smoothing) + 0.5 * smoothing
    w = 1.0 if pos_weight is None else pos_weight
    if from_logits:
        log_p, log_1mp = -np.logaddexp(0, -s), -np.logaddexp(0, s)
        p, one_minus_p = np.exp(log_p), np.exp(log_1mp)
    else:
        # The clip bounds as float32 holds them: 1 - 1e-7 rounds to 1 - 1.19e-7.
        low, high = np.float32(EPSILON), np.float32(1) - np.float32(EPSILON)
        clipped = np.clip(s, float(low), float(high))
        log_p, log_1mp = np.log(clipped), np.log(1 - clipped)
        p, one_minus_p = s, 1 - s
    bce = -(w * y * log_p + (1 - y) * log_1mp)
    loss = (y * one_minus_p + (1 - y) * p) ** gamma * bce
    if balance:
        loss = (y * alpha + (1 - y) * (1 - alpha)) * loss
    return loss


def _value(loss, *args, **kwargs):
    return to_numpy(loss(*args, **kwargs))


# ---------------------------------------------------------------------------
# Keras's own examples.

Y22 = np.asarray([1, 0, 1, 0]).reshape([2, 2])
P22 = np.asarray([0.9, 0.8, 0.7, 0.2], dtype=np.float32).reshape([2, 2])
Y23 = np.array([[1, 1, 0], [0, 1, 0]], dtype="float32")
Z23 = np.array([[1.5, -2.7, 2.9], [-3.8, 1.2, -4.5]])
W21 = np.array([1.2, 3.4]).reshape((2, 1))
Y4 = np.array([0, 1, 0, 0])
Z4 = np.array([-18.6, 0.51, 2.94, -12.8])
Y2x2 = np.array([[0, 1], [0, 0]])
Z2x2 = np.array([[-18.6, 0.51], [2.94, -12.8]])

# (Keras's arguments, y_true, y_pred, sample_weight, the value Keras's test or docstring asserts, decimals)
KERAS_EXAMPLES = [
    ({"gamma": 2.0}, Y22, P22, None, 0.268, 3),
    ({"gamma": 3.0, "from_logits": True}, Y23, Z23, None, 0.799, 3),
    ({"gamma": 2.0}, Y22, P22, 1.23, 0.3296, 3),
    ({"gamma": 3.0, "from_logits": True}, Y23, Z23, 3.21, 2.565, 3),
    ({"gamma": 2.0}, Y22, P22, W21, 0.34415, 3),
    ({"gamma": 3.0, "from_logits": True}, Y23, Z23, W21, 0.95977, 3),
    ({"gamma": 2.0, "reduction": None}, Y22, P22, None, (0.515547, 0.020513), 5),
    ({"gamma": 1.5}, np.eye(3, dtype="float32"), np.eye(3, dtype="float32"), None, 0.0, 3),
    ({"gamma": 2.0, "from_logits": True}, np.eye(3, dtype="float32"), 200 * np.eye(3) - 100, None, 0.0, 3),
    ({"gamma": 2, "from_logits": True}, Y4, Z4, None, 0.691, 3),
    ({"apply_class_balancing": True, "gamma": 2, "from_logits": True}, Y4, Z4, None, 0.51, 2),
    ({"gamma": 3, "from_logits": True}, Y2x2, Z2x2, None, 0.647, 3),
    ({"apply_class_balancing": True, "gamma": 3, "from_logits": True}, Y2x2, Z2x2, None, 0.482, 3),
    ({"gamma": 3, "from_logits": True}, Y2x2, Z2x2, [0.8, 0.2], 0.133, 3),
    ({"apply_class_balancing": True, "gamma": 3, "from_logits": True}, Y2x2, Z2x2, [0.8, 0.2], 0.097, 3),
    ({"gamma": 4, "from_logits": True, "reduction": "sum"}, Y2x2, Z2x2, None, 1.222, 3),
    (
        {"apply_class_balancing": True, "gamma": 4, "from_logits": True, "reduction": "sum"},
        Y2x2,
        Z2x2,
        None,
        0.914,
        3,
    ),
    ({"gamma": 5, "from_logits": True, "reduction": None}, Y2x2, Z2x2, None, (0.0017, 1.1561), 4),
    (
        {"apply_class_balancing": True, "gamma": 5, "from_logits": True, "reduction": None},
        Y2x2,
        Z2x2,
        None,
        (0.0004, 0.8670),
        4,
    ),
]


@pytest.mark.parametrize("index", range(len(KERAS_EXAMPLES)))
def test_keras_examples(index):
    kwargs, y_true, y_pred, sample_weight, asserted, decimals = KERAS_EXAMPLES[index]
    # (2, 2) and (2, 3) predictions are K independent outputs, not softmax pairs.
    multi_label = np.ndim(y_pred) == 2
    ours = _value(
        keras_binary.SafeFocal(multi_label=multi_label, **kwargs), y_true, y_pred, sample_weight=sample_weight
    )
    theirs = _value(
        keras.losses.BinaryFocalCrossentropy(**kwargs), y_true, y_pred, sample_weight=sample_weight
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours, np.asarray(asserted, "float64"), atol=1.5 * 10.0**-decimals)


# ---------------------------------------------------------------------------
# Hypothesis: Keras and float64 references.

settings_options = st.fixed_dictionaries(
    {
        "gamma": st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.7]),
        "alpha": st.sampled_from([0.0, 0.25, 0.6, 1.0]),
        "apply_class_balancing": st.booleans(),
        "label_smoothing": st.sampled_from([0.0, 0.1]),
    }
).map(  # alpha does something only with class balancing (without it: KB348)
    lambda options: options if options["apply_class_balancing"] else {**options, "alpha": 0.25}
)
hard_or_soft_labels = st.one_of(
    hnp.arrays(np.float32, (N, 1), elements=st.sampled_from([0.0, 1.0])),
    hnp.arrays(np.float32, (N, 1), elements=st.floats(0, 1, width=32)),
)
probabilities = hnp.arrays(np.float32, (N, 1), elements=st.floats(0, 1, width=32))
moderate_logits = hnp.arrays(np.float32, (N, 1), elements=st.floats(-4, 4, width=32))
any_logits = hnp.arrays(
    np.float32,
    (N, 1),
    elements=st.one_of(st.floats(-60, 60, width=32), st.sampled_from([-1e4, -1e3, 1e3, 1e4])),
)


@given(options=settings_options, y=hard_or_soft_labels, p=probabilities)
def test_equals_keras_on_probabilities(options, y, p):
    ours = _value(keras_binary.SafeFocal(**options), y, p)
    theirs = _value(keras.losses.BinaryFocalCrossentropy(**options), y, p)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@given(options=settings_options, y=hard_or_soft_labels, z=moderate_logits)
def test_equals_keras_on_moderate_logits(options, y, z):
    ours = _value(keras_binary.SafeFocal(from_logits=True, **options), y, z)
    theirs = _value(keras.losses.BinaryFocalCrossentropy(from_logits=True, **options), y, z)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@given(
    options=settings_options,
    y=hard_or_soft_labels,
    z=any_logits,
    pos_weight=st.sampled_from([None, 0.3, 4.0]),
)
def test_elements_match_float64_reference_for_logits_up_to_1e4(options, y, z, pos_weight):
    loss = keras_binary.SafeFocal(from_logits=True, pos_weight=pos_weight, reduction=None, **options)
    got = _value(loss, y, z)
    expected = focal_reference(
        y[:, 0],
        z[:, 0],
        True,
        options["gamma"],
        options["alpha"],
        options["apply_class_balancing"],
        options["label_smoothing"],
        pos_weight,
    )
    assert np.all(np.isfinite(got))
    # atol: values below 1e-30 underflow float32 and do not matter.
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-30)


@given(
    options=settings_options, y=hard_or_soft_labels, p=probabilities, pos_weight=st.sampled_from([None, 2.5])
)
def test_elements_match_float64_reference_for_probabilities(options, y, p, pos_weight):
    loss = keras_binary.SafeFocal(pos_weight=pos_weight, reduction=None, **options)
    got = _value(loss, y, p)
    expected = focal_reference(
        y[:, 0],
        p[:, 0],
        False,
        options["gamma"],
        options["alpha"],
        options["apply_class_balancing"],
        options["label_smoothing"],
        pos_weight,
    )
    # atol: the float32 clip (1 - 1e-7 is 1 - 1.19e-7 in float32) and logs of
    # O(1) values carry absolute errors of about 1e-7.
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-7)


@given(
    y=hnp.arrays(np.int32, (N,), elements=st.integers(0, 1)),
    z=hnp.arrays(np.float32, (N,), elements=st.floats(-8, 8, width=32)),
    gamma=st.sampled_from([0.0, 2.0]),
)
def test_same_value_for_every_representation(y, z, gamma):
    p = np.asarray(keras.ops.convert_to_numpy(keras.ops.sigmoid(z)), "float32")
    reference = _value(
        keras_binary.SafeFocal(gamma=gamma, from_logits=True), y.reshape(-1, 1), z.reshape(-1, 1)
    )
    cases = [
        (False, np.eye(2, dtype="int32")[y], np.stack([1 - p, p], axis=-1)),  # one-hot, softmax pair
        (True, y.astype(bool), np.stack([np.zeros_like(z), z], axis=-1)),  # bool, pair of logits
        (False, y.astype("float32"), p),  # float (N,), probabilities (N,)
    ]
    for from_logits, y_true, y_pred in cases:
        got = _value(keras_binary.SafeFocal(gamma=gamma, from_logits=from_logits), y_true, y_pred)
        np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-7)


@given(
    y=hnp.arrays(np.float32, (8, 4), elements=st.sampled_from([0.0, 1.0])),
    p=hnp.arrays(np.float32, (8, 4), elements=st.floats(0, 1, width=32)),
    w=hnp.arrays(np.float32, (8,), elements=st.floats(0, 2, width=32)),
    gamma=st.sampled_from([0.0, 1.0, 2.0]),
    smoothing=st.sampled_from([0.0, 0.2]),
)
def test_multi_label_equals_keras_on_n_by_k(y, p, w, gamma, smoothing):
    pairs = [
        (
            keras_binary.SafeFocal(gamma=gamma, label_smoothing=smoothing, multi_label=True),
            keras.losses.BinaryFocalCrossentropy(gamma=gamma, label_smoothing=smoothing),
        ),
        (
            keras_binary.SafeBCE(label_smoothing=smoothing, multi_label=True),
            keras.losses.BinaryCrossentropy(label_smoothing=smoothing),
        ),
    ]
    for ours, theirs in pairs:
        for sample_weight in (None, w):
            np.testing.assert_allclose(
                _value(ours, y, p, sample_weight=sample_weight),
                _value(theirs, y, p, sample_weight=sample_weight),
                rtol=1e-6,
                atol=1e-7,
            )


# ---------------------------------------------------------------------------
# Stability, special cases, errors, serialization.


def _gradient(loss, y, z):
    """d loss / d z, on the active backend."""
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: loss(y, v))(z))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        v = tf.Variable(z)
        with tf.GradientTape() as tape:
            value = loss(y, v)
        return tape.gradient(value, v).numpy()
    import torch

    v = torch.tensor(z, requires_grad=True)
    loss(y, v).backward()
    return v.grad.numpy()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_extreme_logits_give_finite_exact_loss_and_gradient(gamma):
    z = np.array(([-1e4, -100, -5, 0, 5, 100, 1e4] * 2 + [0.0, 1e4]) * 2, "float32").reshape(-1, 1)
    y = np.array(([0.0] * 7 + [1.0] * 7 + [0.3, 0.3]) * 2, "float32").reshape(-1, 1)
    assert len(z) == N
    loss = keras_binary.SafeFocal(gamma=gamma, from_logits=True)
    value = float(to_numpy(loss(y, z)))
    assert value == pytest.approx(float(np.mean(focal_reference(y, z, True, gamma))), rel=1e-5)
    gradient = _gradient(loss, y, z)
    assert np.all(np.isfinite(gradient))
    # Far from the boundary the loss is |z| (wrong side) or 0 (right side): slopes -1/N, 1/N, 0.
    assert gradient[0, 0] == 0.0 and gradient[7, 0] == pytest.approx(-1.0 / N, rel=1e-5)
    assert gradient[6, 0] == pytest.approx(1.0 / N, rel=1e-5) and gradient[13, 0] == 0.0


def test_gamma_zero_is_safe_bce():
    rng = np.random.default_rng(0)
    y, z = rng.integers(0, 2, (N, 1)), rng.normal(0, 5, (N, 1)).astype("float32")
    for from_logits, scores in ((True, z), (False, 1 / (1 + np.exp(-z)))):
        focal = keras_binary.SafeFocal(gamma=0.0, from_logits=from_logits)(y, scores)
        bce = keras_binary.SafeBCE(from_logits=from_logits)(y, scores)
        np.testing.assert_allclose(to_numpy(focal), to_numpy(bce), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,fix",
    [
        ({"gamma": -1.0}, "SafeFocal(gamma=2.0)"),
        ({"gamma": float("nan")}, "SafeFocal(gamma=2.0)"),
        ({"alpha": 1.5}, "SafeFocal(alpha=0.25)"),
        ({"alpha": "0.5"}, "SafeFocal(alpha=0.25)"),
    ],
)
def test_invalid_focal_parameters_are_kb320(kwargs, fix):
    with pytest.raises(BinaryConfigError) as info:
        keras_binary.SafeFocal(**kwargs)
    assert info.value.code == "KB320"
    assert fix in str(info.value)


def test_labels_in_1_2_are_kb202():
    with pytest.raises(BinaryLabelError) as info:
        keras_binary.SafeFocal()(np.array([1, 2, 2, 1]), np.array([[0.1], [0.8], [0.7], [0.3]]))
    assert info.value.code == "KB202"


def test_config_round_trip():
    loss = keras_binary.SafeFocal(
        apply_class_balancing=True,
        alpha=0.4,
        gamma=1.5,
        from_logits=True,
        label_smoothing=0.1,
        pos_weight=3.0,
        validate=False,
        reduction="sum",
        name="focal",
    )
    clone = config_round_trip(loss)
    assert type(clone) is keras_binary.SafeFocal
    assert clone.get_config() == loss.get_config()
    rng = np.random.default_rng(2)
    y, z = rng.integers(0, 2, N), rng.normal(0, 3, (N, 1)).astype("float32")
    assert float(to_numpy(clone(y, z))) == pytest.approx(float(to_numpy(loss(y, z))), rel=1e-7)


def test_saved_model_with_safe_focal_loads_without_custom_objects():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(N, 3)).astype("float32"), rng.integers(0, 2, N)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer="sgd", loss=keras_binary.SafeFocal(gamma=1.5, alpha=0.3, apply_class_balancing=True)
    )
    loaded = saved_model_round_trip(model)
    assert isinstance(loaded.loss, keras_binary.SafeFocal) and loaded.loss.gamma == 1.5
    expected = float(to_numpy(model.loss(y, model.predict(x, verbose=0))))
    assert loaded.evaluate(x, y, batch_size=N, verbose=0) == pytest.approx(expected, rel=1e-5)
