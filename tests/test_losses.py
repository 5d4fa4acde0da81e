"""Tests of keras_binary.losses: SafeBCE against Keras and NumPy references."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary.losses import ContractLoss, SafeBCE, binary_crossentropy_values
from tests.helpers import BACKEND, config_round_trip, saved_model_round_trip, to_numpy

REDUCTIONS = [None, "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight"]
RNG = np.random.default_rng(1234)


def make_inputs(label_shape, pred_shape, from_logits, soft=False, seed=0):
    rng = np.random.default_rng(seed)
    if soft:
        y = rng.random(label_shape).astype("float32")
    else:
        y = rng.integers(0, 2, label_shape).astype("float32")
    if from_logits:
        p = rng.uniform(-6, 6, pred_shape).astype("float32")
    else:
        p = rng.random(pred_shape).astype("float32")
        p.flat[:2] = [0.0, 1.0]  # clipped as Keras clips
    return y, p


TINY = float(np.finfo("float32").tiny)  # float32 cannot hold smaller positive normals


def ref_bce(y, z, from_logits, pos_weight=1.0, label_smoothing=0.0):
    """Element-wise binary cross-entropy in float64 (NumPy).

    Probabilities are clipped to `[eps, 1 - eps]` in float32, and `1 - p` is
    rounded to float32, as Keras does; the logarithms are float64.
    """
    y = np.asarray(y, "float64") * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        z = np.asarray(z, "float64")
        return pos_weight * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    eps = np.float32(keras.config.epsilon())
    p = np.clip(np.asarray(z, "float32"), eps, np.float32(1) - eps)
    q = np.float32(1) - p
    return -(pos_weight * y * np.log(p.astype("float64")) + (1 - y) * np.log(q.astype("float64")))


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


# (label shape, prediction shape, sample weight shape): canonical forms Keras accepts.
CANONICAL = [
    ((16,), (16, 1), (16,)),
    ((16, 1), (16, 1), (16,)),
    ((16,), (16,), (16,)),
    ((2, 2, 4, 1), (2, 2, 4, 1), (2, 2, 4)),
]

# Every test uses 16 elements: JAX compiles each eager op once per shape.


@pytest.mark.parametrize("shapes", CANONICAL, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
def test_matches_keras(shapes, reduction, from_logits):
    label_shape, pred_shape, weight_shape = shapes
    y, p = make_inputs(label_shape, pred_shape, from_logits)
    w = np.random.default_rng(5).random(weight_shape).astype("float32")
    ours = SafeBCE(from_logits=from_logits, reduction=reduction)
    theirs = keras.losses.BinaryCrossentropy(from_logits=from_logits, reduction=reduction)
    # Keras reads a rank-1 y_pred as ONE example with N outputs; the contract
    # reads it as one score per example, which is Keras's (N, 1).
    p_keras = p[:, None] if p.ndim == 1 else p
    for sample_weight in (None, w):
        expected = to_numpy(theirs(y, p_keras, sample_weight=sample_weight))
        got = to_numpy(ours(y, p, sample_weight=sample_weight))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("label_smoothing", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("from_logits", [False, True])
def test_label_smoothing_matches_keras(label_smoothing, from_logits):
    y, p = make_inputs((16, 1), (16, 1), from_logits, seed=3)
    ours = SafeBCE(from_logits=from_logits, label_smoothing=label_smoothing, reduction=None)
    theirs = keras.losses.BinaryCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction=None
    )
    # Keras's logit formula max(z, 0) - y z + log1p(exp(-|z|)) cancels for soft
    # labels: an absolute error of a few float32 ulps of |z| <= 6.
    np.testing.assert_allclose(to_numpy(ours(y, p)), to_numpy(theirs(y, p)), rtol=1e-6, atol=2e-6)
    np.testing.assert_allclose(
        to_numpy(ours(y, p)), ref_bce(y, p, from_logits, label_smoothing=label_smoothing)[:, 0], rtol=1e-6
    )


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("pos_weight", [0.25, 1.0, 7.5])
def test_pos_weight_against_numpy(from_logits, pos_weight):
    y, p = make_inputs((16,), (16, 1), from_logits, soft=True, seed=7)
    loss = SafeBCE(from_logits=from_logits, pos_weight=pos_weight, reduction=None)
    expected = ref_bce(y, p[:, 0], from_logits, pos_weight)
    np.testing.assert_allclose(to_numpy(loss(y, p)), expected, rtol=1e-6, atol=1e-7)
    mean = SafeBCE(from_logits=from_logits, pos_weight=pos_weight)(y, p)
    np.testing.assert_allclose(to_numpy(mean), expected.mean(), rtol=1e-6)


def test_pos_weight_one_equals_none():
    y, p = make_inputs((16,), (16, 1), True, seed=8)
    np.testing.assert_allclose(
        to_numpy(SafeBCE(from_logits=True, pos_weight=1.0)(y, p)),
        to_numpy(SafeBCE(from_logits=True)(y, p)),
        rtol=1e-7,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
def test_multi_label_matches_keras(reduction, from_logits):
    y, p = make_inputs((4, 4), (4, 4), from_logits, seed=11)
    w = np.random.default_rng(3).random(4).astype("float32")
    ours = SafeBCE(from_logits=from_logits, multi_label=True, reduction=reduction)
    theirs = keras.losses.BinaryCrossentropy(from_logits=from_logits, reduction=reduction)
    for sample_weight in (None, w):
        np.testing.assert_allclose(
            to_numpy(ours(y, p, sample_weight=sample_weight)),
            to_numpy(theirs(y, p, sample_weight=sample_weight)),
            rtol=1e-6,
            atol=1e-7,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "label_shape, pred_shape, weight_shape",
    [((0,), (0, 1), (0,)), ((0,), (0,), (0,)), ((0, 2), (0, 2), (0,)), ((0, 3, 3), (0, 3, 3, 1), (0, 3, 3))],
)
@pytest.mark.parametrize("from_logits", [False, True])
def test_empty_batch_is_finite_zero(label_shape, pred_shape, weight_shape, reduction, from_logits):
    loss = SafeBCE(from_logits=from_logits, reduction=reduction)
    y, p = np.zeros(label_shape, "float32"), np.zeros(pred_shape, "float32")
    for sample_weight in (None, np.zeros(weight_shape, "float32")):
        value = to_numpy(loss(y, p, sample_weight=sample_weight))
        if reduction in (None, "none"):
            assert value.size == 0
        else:
            assert value.shape == () and value == 0.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_low_precision_inputs_are_computed_in_float32(dtype, from_logits):
    y, p = make_inputs((16,), (16, 1), from_logits, seed=13)
    p_low = keras.ops.cast(p, dtype)
    p_exact = to_numpy(p_low)  # the low-precision values, exactly
    value = SafeBCE(from_logits=from_logits, reduction=None)(y, p_low)
    assert dtype_of(value) == "float32"
    np.testing.assert_allclose(to_numpy(value), ref_bce(y, p_exact[:, 0], from_logits), rtol=1e-6, atol=1e-7)


def test_loss_dtype_argument():
    y, p = make_inputs((16,), (16, 1), True)
    value = SafeBCE(from_logits=True, dtype="float16")(y, p)
    assert dtype_of(value) == "float16"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"from_logits": True, "label_smoothing": 0.2, "pos_weight": 3.0, "reduction": "sum"},
        {"multi_label": True, "validate": False, "reduction": None, "name": "bce2"},
    ],
)
def test_config_round_trip(kwargs):
    loss = SafeBCE(**kwargs)
    config = loss.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    for copy in (SafeBCE.from_config(config), config_round_trip(loss)):
        assert type(copy) is SafeBCE
        assert copy.get_config() == config
    y, p = make_inputs((16, 1), (16, 1), kwargs.get("from_logits", False))
    if kwargs.get("multi_label"):
        y, p = y.reshape(4, 4), p.reshape(4, 4)
    np.testing.assert_array_equal(to_numpy(copy(y, p)), to_numpy(loss(y, p)))


def test_saved_model_with_compiled_safebce_loads_without_custom_objects():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    loss = SafeBCE(from_logits=True, pos_weight=2.0, label_smoothing=0.1)
    model.compile(optimizer="sgd", loss=loss)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.array([0, 1] * 8)
    loaded = saved_model_round_trip(model)
    assert isinstance(loaded.loss, SafeBCE)
    assert loaded.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_public_and_registered():
    assert keras_binary.SafeBCE is SafeBCE
    assert keras.saving.get_registered_name(SafeBCE) == "keras_binary>SafeBCE"
    assert issubclass(SafeBCE, ContractLoss) and issubclass(SafeBCE, keras.losses.Loss)


def test_keras_argument_names_and_defaults():
    loss = SafeBCE()
    assert (loss.from_logits, loss.label_smoothing, loss.pos_weight, loss.multi_label, loss.validate) == (
        False,
        0.0,
        None,
        False,
        True,
    )
    assert loss.reduction == "sum_over_batch_size" and loss.name == "safe_bce"


def test_values_function_is_stable_for_huge_logits():
    z = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], "float32")
    for y in (0.0, 1.0):
        values = to_numpy(binary_crossentropy_values(np.full(5, y, "float32"), z, True))
        assert np.all(np.isfinite(values))
        # exp(-100) = 3.7e-44 is below float32's normal range: zero there.
        np.testing.assert_allclose(values, ref_bce(np.full(5, y), z, True), rtol=1e-6, atol=TINY)


class CountingBCE(SafeBCE):
    """SafeBCE that counts how often its graph is built (Python runs once per trace)."""

    traces = 0

    def call(self, y_true, y_pred):
        type(self).traces += 1
        return super().call(y_true, y_pred)


class CountingKerasBCE(keras.losses.BinaryCrossentropy):
    traces = 0

    def call(self, y_true, y_pred):
        type(self).traces += 1
        return super().call(y_true, y_pred)


def fit_and_count(loss_cls, **fit_kwargs):
    loss_cls.traces = 0
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss_cls())
    x = np.random.default_rng(0).normal(size=(70, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, **fit_kwargs)  # batches 32, 32, 6
    return loss_cls.traces


def test_no_retracing_for_smaller_last_batch():
    traces = fit_and_count(CountingBCE)
    if BACKEND == "tensorflow":
        # One trace for every batch size, both epochs (the batch axis is None).
        assert traces == 1
    # Never more traces than plain Keras's own loss in the same fit.
    assert traces <= fit_and_count(CountingKerasBCE)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function traces")
def test_no_retracing_in_tf_function_with_unknown_batch():
    import tensorflow as tf

    CountingBCE.traces = 0
    loss = CountingBCE(from_logits=True)
    step = tf.function(loss.__call__, reduce_retracing=True)
    for n in (32, 32, 5, 17):
        y, p = make_inputs((n,), (n, 2), True, seed=n)
        expected = ref_bce(y, p[:, 1] - p[:, 0], True).mean()
        np.testing.assert_allclose(step(tf.constant(y), tf.constant(p)).numpy(), expected, rtol=1e-6)
    assert CountingBCE.traces <= 2  # the first shape, then one relaxed to (None, 2)


@pytest.mark.skipif(BACKEND != "jax", reason="the compiled XLA program of JAX")
@pytest.mark.parametrize("from_logits", [False, True])
def test_jax_computes_on_rank1_layout_for_column_predictions(from_logits):
    """The element-wise math runs on (N,), never on the (N, 1) column (10x slower on CPU XLA)."""
    import re

    import jax

    n = 8192
    loss = SafeBCE(from_logits=from_logits, validate=False)
    text = (
        jax.jit(lambda y, p: loss(y, p))
        .lower(np.zeros(n, "float32"), np.full((n, 1), 0.5, "float32"))
        .compile()
        .as_text()
    )
    assert not re.search(
        rf"f32\[{n},1\]\{{[^}}]*\}} (log|log-plus-one|exponential|multiply|subtract|clamp)\(", text
    )
    assert re.search(rf"f32\[{n}\]\{{0\}} (log|log-plus-one|exponential)\(", text)


# --- sample_weight shapes (KB120, as the metrics) ------------------------------------------


@pytest.mark.parametrize(
    "label_shape, pred_shape, weight_shape",
    [
        ((8,), (8, 1), (5,)),
        ((8,), (8, 1), (8, 2)),
        ((8,), (8, 2), (8, 3)),
        ((2, 4, 4), (2, 4, 4, 1), (4,)),
        ((2, 4, 4), (2, 4, 4, 1), (2, 3)),
        ((8, 3), (8, 3), (8, 3)),  # multi_label: the losses are averaged over the 3 labels
    ],
)
def test_mis_shaped_sample_weight_is_kb120(label_shape, pred_shape, weight_shape):
    y, p = make_inputs(label_shape, pred_shape, False, seed=21)
    loss = SafeBCE(multi_label=label_shape == pred_shape)
    with pytest.raises(keras_binary.BinaryShapeError) as info:
        loss(y, p, sample_weight=np.ones(weight_shape, "float32"))
    assert info.value.code == "KB120"
    assert f"sample_weight.shape={weight_shape}" in info.value.received


@pytest.mark.parametrize("weight_shape", [(8,), (8, 1), (1,), ()])
@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "mean_with_sample_weight", None])
def test_well_shaped_sample_weight_matches_keras(weight_shape, reduction):
    y, p = make_inputs((8,), (8, 1), False, seed=22)
    w = np.random.default_rng(5).random(weight_shape).astype("float32") + 0.1
    ours = to_numpy(SafeBCE(reduction=reduction)(y, p, sample_weight=w))
    theirs = to_numpy(keras.losses.BinaryCrossentropy(reduction=reduction)(y[:, None], p, sample_weight=w))
    assert ours.shape == theirs.shape  # (8, 1) weights and reduction=None: (8, 1), as Keras
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_per_image_weights_of_a_per_pixel_output():
    # One weight per image: Keras would align (N,) with the last (width) axis.
    y, p = make_inputs((2, 4, 4), (2, 4, 4, 1), False, seed=23)
    w = np.array([2.0, 0.0], "float32")
    got = to_numpy(SafeBCE(reduction="sum")(y, p, sample_weight=w))
    expected = 2.0 * ref_bce(y[0].ravel(), p[0].ravel(), False).sum()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_mis_shaped_sample_weight_fails_at_trace_time_in_fit():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=SafeBCE())
    x = np.zeros((8, 3), "float32")
    with pytest.raises(keras_binary.BinaryShapeError) as info:
        model.fit(x, np.zeros(8), sample_weight=np.ones((8, 2), "float32"), batch_size=8, verbose=0)
    assert info.value.code == "KB120"


@pytest.mark.parametrize("class_name", ["SafeBCE", "SafeFocal"])
def test_configs_saved_before_losses_became_a_package_load(class_name):
    """0.1.0 wrote `"module": "keras_binary.losses"` into `.keras` files; they still load."""
    saved = {
        "module": "keras_binary.losses",
        "class_name": class_name,
        "config": {"name": "old", "from_logits": True, "label_smoothing": 0.1},
        "registered_name": f"keras_binary>{class_name}",
    }
    loss = keras.saving.deserialize_keras_object(saved)
    assert type(loss) is getattr(keras_binary, class_name)
    assert (loss.name, loss.from_logits, loss.label_smoothing) == ("old", True, 0.1)
