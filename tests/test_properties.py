"""Hypothesis properties of the shape contract and SafeBCE, against float64 NumPy.

The backends compute in float32; the references are float64 evaluations at
the same (float32-rounded) inputs. Where a tolerance is looser than 1e-6
relative, the comment beside it says which float32 rounding it allows for.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_binary import SafeBCE
from tests.helpers import BACKEND, to_numpy

TINY = float(np.finfo("float32").tiny)  # below it float32 flushes to zero
# A few sizes only: JAX compiles every eager op once per shape.
sizes = st.sampled_from([1, 16])


def floats32(low, high):
    """float32 values in [low, high] (bounds rounded inwards to float32)."""
    lo, hi = np.float32(low), np.float32(high)
    lo = lo if lo >= low else np.nextafter(lo, np.float32(np.inf))
    hi = hi if hi <= high else np.nextafter(hi, np.float32(-np.inf))
    return st.floats(float(lo), float(hi), width=32, allow_nan=False, allow_infinity=False)


def vectors(n, low, high):
    return hnp.arrays("float32", (n,), elements=floats32(low, high))


@st.composite
def batches(draw, low=-1e4, high=1e4, soft=False):
    """(labels, logits) of one size: hard 0/1 labels, or soft ones in [0, 1]."""
    n = draw(sizes)
    z = draw(vectors(n, low, high))
    if soft:
        y = draw(vectors(n, 0.0, 1.0))
    else:
        y = draw(hnp.arrays("float32", (n,), elements=st.sampled_from([0.0, 1.0])))
    return y, z


def softplus64(x):
    return np.logaddexp(0.0, np.asarray(x, "float64"))


def sigmoid64(x):
    x = np.asarray(x, "float64")
    return np.exp(-np.logaddexp(0.0, -x))


def ref_bce_logits(y, z, pos_weight=1.0):
    y = np.asarray(y, "float64")
    return pos_weight * y * softplus64(-z) + (1.0 - y) * softplus64(z)


def elementwise(**kwargs):
    return SafeBCE(reduction=None, **kwargs)


# --- sigmoid / softmax equivalence -------------------------------------------------------


@given(vectors(16, -30.0, 30.0), vectors(16, -30.0, 30.0))
def test_softmax_pair_is_sigmoid_of_difference(a, b):
    pair = np.stack([a, b], axis=-1)
    expected = sigmoid64(b.astype("float64") - a.astype("float64"))
    softmax_1 = to_numpy(keras.ops.softmax(pair, axis=-1))[:, 1]
    sigmoid_d = to_numpy(keras.ops.sigmoid(keras.ops.convert_to_tensor(b - a)))
    # float32 rounds b - a (|b - a| <= 60) by up to 4e-6 absolute, which moves
    # sigmoid by that much relative in its tail: 4e-6 + a few ulps.
    np.testing.assert_allclose(softmax_1, expected, rtol=1e-5, atol=TINY)
    np.testing.assert_allclose(sigmoid_d, expected, rtol=1e-5, atol=TINY)


@given(batches(-50.0, 50.0), st.data())
def test_pair_logits_equal_difference_logit_and_keras_cce(batch, data):
    y, b = batch
    a = data.draw(vectors(len(y), -50.0, 50.0))
    pair = np.stack([a, b], axis=-1)
    d = b - a  # float32, as SafeBCE computes it
    loss = elementwise(from_logits=True)
    on_pair = to_numpy(loss(y, pair))
    on_diff = to_numpy(loss(y, d[:, None]))
    np.testing.assert_allclose(on_pair, on_diff, rtol=1e-6, atol=TINY)
    np.testing.assert_allclose(on_pair, ref_bce_logits(y, d), rtol=1e-6, atol=TINY)
    onehot = np.stack([1 - y, y], axis=-1)
    cce = to_numpy(keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)(onehot, pair))
    # Keras's CCE computes logsumexp(pair) - pair[y] in float32: a loss below
    # ~1e-6 of the logits' size is lost there (it returns 0 for 1e-20).
    scale = np.maximum(np.abs(a), np.abs(b)).astype("float64")
    np.testing.assert_allclose(on_pair, cce, rtol=1e-6, atol=float(1e-6 * max(1.0, scale.max())))


@given(batches(1e-6, 1.0 - 1e-6))
def test_pair_probabilities_equal_p1_and_keras_cce(batch):
    y, p1 = batch
    p0 = (np.float32(1) - p1).astype("float32")
    pair = np.stack([p0, p1], axis=-1)
    loss = elementwise()
    on_pair = to_numpy(loss(y, pair))
    on_p1 = to_numpy(loss(y, p1[:, None]))
    np.testing.assert_array_equal(on_pair, on_p1)
    expected = -(y * np.log(p1.astype("float64")) + (1 - y) * np.log(p0.astype("float64")))
    np.testing.assert_allclose(on_pair, expected, rtol=1e-6, atol=TINY)
    onehot = np.stack([1 - y, y], axis=-1)
    cce = to_numpy(keras.losses.CategoricalCrossentropy(reduction=None)(onehot, pair))
    # CCE renormalises the pair by its float32 sum (1 within an ulp): 2e-7
    # absolute in the log.
    np.testing.assert_allclose(on_pair, cce, rtol=1e-6, atol=2.5e-7)


# --- label encodings ----------------------------------------------------------------------


@given(batches(-20.0, 20.0), st.booleans())
def test_label_encodings_give_identical_loss(batch, from_logits):
    y, z = batch
    pred = z[:, None] if from_logits else to_numpy(keras.ops.sigmoid(z[:, None])).astype("float32")
    loss = SafeBCE(from_logits=from_logits)
    y_int = y.astype("int32")
    encodings = {
        "(N,)": y,
        "(N, 1)": y[:, None],
        "(N, 1, 1)": y[:, None, None],
        "one-hot (N, 2)": np.eye(2, dtype="float32")[y_int],
        "bool": y.astype(bool),
        "int": y_int,
        "int (N, 1)": y_int[:, None],
        "int64 one-hot": np.eye(2, dtype="int64")[y_int],
    }
    reference = to_numpy(loss(y, pred))
    for name, labels in encodings.items():
        np.testing.assert_array_equal(to_numpy(loss(labels, pred)), reference, err_msg=name)


# --- probability and logit paths ----------------------------------------------------------


@given(batches(1e-6, 1.0 - 1e-6, soft=True))
def test_probability_and_logit_paths_agree_where_not_clipped(batch):
    y, p = batch
    z = np.log(p.astype("float64")) - np.log1p(-p.astype("float64"))  # logit(p), exact
    z = z.astype("float32")
    on_p = to_numpy(elementwise()(y, p[:, None]))
    on_z = to_numpy(elementwise(from_logits=True)(y, z[:, None]))
    # Both evaluate the same function at the same point up to float32 rounding:
    # of z (relative 6e-8, times |z| <= 14 in the loss' relative slope) and of
    # 1 - p on the probability path, as Keras computes it (2 ulps of 1, absolute).
    np.testing.assert_allclose(on_p, on_z, rtol=1e-6, atol=2.5e-7)


# --- accuracy and stability against float64 ---------------------------------------------


@given(batches(soft=True), st.one_of(st.none(), st.floats(0.1, 10.0)))
def test_logit_path_matches_float64_reference(batch, pos_weight):
    y, z = batch
    loss = elementwise(from_logits=True, pos_weight=pos_weight)
    got = to_numpy(loss(y, z[:, None]))
    expected = ref_bce_logits(y, z, 1.0 if pos_weight is None else pos_weight)
    assert np.all(np.isfinite(got))
    # Within 1e-6 relative; values below float32's smallest normal are zero.
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=TINY)
    mean = to_numpy(SafeBCE(from_logits=True, pos_weight=pos_weight)(y, z[:, None]))
    np.testing.assert_allclose(mean, expected.mean(), rtol=1e-6, atol=TINY)


@given(batches(-1e4, 1e4), st.sampled_from(["float16", "bfloat16"]))
def test_low_precision_logits_computed_in_float32(batch, dtype):
    y, z = batch
    z_low = keras.ops.cast(z[:, None], dtype)
    z_exact = to_numpy(z_low)[:, 0]  # the float16 / bfloat16 values, exactly
    got = elementwise(from_logits=True)(y, z_low)
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    got = to_numpy(got)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref_bce_logits(y, z_exact), rtol=1e-6, atol=TINY)


@given(batches(0.0, 1.0, soft=True), st.sampled_from(["float16", "bfloat16"]))
def test_low_precision_probabilities_computed_in_float32(batch, dtype):
    y, p = batch
    p_low = keras.ops.cast(p[:, None], dtype)
    p_exact = to_numpy(p_low)[:, 0].astype("float32")
    got = to_numpy(elementwise()(y, p_low))
    eps = np.float32(keras.config.epsilon())
    pc = np.clip(p_exact, eps, np.float32(1) - eps)
    expected = -(y * np.log(pc.astype("float64")) + (1 - y) * np.log((np.float32(1) - pc).astype("float64")))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=TINY)


# --- gradients ----------------------------------------------------------------------------


def logit_gradient(y, z):
    """d mean(SafeBCE) / dz with the backend's own autodiff."""
    loss = SafeBCE(from_logits=True)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        z = tf.constant(z)
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = loss(y, z)
        return to_numpy(tape.gradient(value, z))
    if BACKEND == "jax":
        import jax

        # Compiled, as in a training step (and one compilation per shape, not per op).
        return to_numpy(jax.jit(jax.grad(lambda v, t: loss(t, v)))(z, y))
    if BACKEND == "torch":
        import torch

        z = torch.tensor(z, requires_grad=True)
        loss(y, z).backward()
        return to_numpy(z.grad)
    pytest.skip(f"no autodiff test for the {BACKEND} backend")


@given(batches(-60.0, 60.0, soft=True))
def test_gradient_is_sigmoid_minus_label_over_n(batch):
    y, z = batch
    n = len(y)
    grad = logit_gradient(y, z[:, None])[:, 0]
    expected = (sigmoid64(z) - y) / n
    # 1e-6 relative; near sigma(z) == y the float32 difference of two numbers
    # of size <= 1 is exact to ~1e-7 absolute.
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1.2e-7 / n)


@given(st.sampled_from([0.0, 1.0]), sizes)
def test_gradient_at_zero_logit(y, n):
    """The kink of |z| must not leak into the gradient: sigmoid(0) - y."""
    grad = logit_gradient(np.full(n, y, "float32"), np.zeros((n, 1), "float32"))
    np.testing.assert_allclose(grad[:, 0], (0.5 - y) / n, rtol=1e-7)


@given(batches(-30.0, 30.0), st.data())
def test_gradient_on_pair_logits(batch, data):
    y, b = batch
    a = data.draw(vectors(len(y), -30.0, 30.0))
    pair = np.stack([a, b], axis=-1)
    grad = logit_gradient(y, pair)
    g = (sigmoid64(b.astype("float64") - a.astype("float64")) - y) / len(y)
    # float32 rounds b - a by up to 2e-6 absolute; sigmoid's slope is <= 1/4.
    np.testing.assert_allclose(grad, np.stack([-g, g], axis=-1), rtol=1e-6, atol=1e-6 / len(y))


# --- the logit formula's hand-written gradient (TensorFlow, JAX) and autodiff (PyTorch) -----


def gradients_of_values(y, z, pos_weight):
    """d sum(binary_crossentropy_values) / d(y, z) with the backend's own autodiff."""
    from keras_binary.losses import binary_crossentropy_values

    def total(t, v):
        return keras.ops.sum(binary_crossentropy_values(t, v, True, pos_weight))

    if BACKEND == "tensorflow":
        import tensorflow as tf

        t, v = tf.constant(y), tf.constant(z)
        with tf.GradientTape() as tape:
            tape.watch([t, v])
            value = total(t, v)
        return [to_numpy(g) for g in tape.gradient(value, [t, v])]
    if BACKEND == "jax":
        import jax

        # Eagerly: JAX caches each op per shape, where a jit would compile per example.
        return [to_numpy(g) for g in jax.grad(total, argnums=(0, 1))(y, z)]
    if BACKEND == "torch":
        import torch

        t, v = torch.tensor(y, requires_grad=True), torch.tensor(z, requires_grad=True)
        total(t, v).backward()
        return [to_numpy(t.grad), to_numpy(v.grad)]
    pytest.skip(f"no autodiff test for the {BACKEND} backend")


@given(batches(-60.0, 60.0, soft=True), st.one_of(st.none(), st.floats(0.1, 10.0)))
def test_logit_formula_and_both_gradients_match_float64(batch, pos_weight):
    """Value, d/dz and d/dy (soft labels, e.g. a teacher's) of the logit formula."""
    y, z = batch
    w = 1.0 if pos_weight is None else pos_weight
    from keras_binary.losses import binary_crossentropy_values

    value = to_numpy(binary_crossentropy_values(y, z, True, pos_weight))
    np.testing.assert_allclose(value, ref_bce_logits(y, z, w), rtol=1e-6, atol=TINY)
    d_y, d_z = gradients_of_values(y, z, pos_weight)
    y64, z64 = y.astype("float64"), z.astype("float64")
    # d/dz of w * y * softplus(-z) + (1 - y) * softplus(z), and d/dy.
    expected_z = (1.0 - y64) * sigmoid64(z64) - w * y64 * sigmoid64(-z64)
    expected_y = w * softplus64(-z64) - softplus64(z64)
    # Near the optimum d/dz is a difference of numbers of size <= max(1, w):
    # float32 rounds it to ~1e-7 * max(1, w) absolute.
    np.testing.assert_allclose(d_z, expected_z, rtol=1e-6, atol=2.5e-7 * max(1.0, w))
    # d/dy is a difference of two softplus values of size <= |z| + 1.
    np.testing.assert_allclose(
        d_y, expected_y, rtol=1e-6, atol=2.5e-7 * max(1.0, w) * (1.0 + np.abs(z64).max())
    )


@given(st.sampled_from([0.0, 0.25, 1.0]), st.one_of(st.none(), st.floats(0.1, 10.0)))
def test_logit_formula_gradient_at_zero_is_exact(y, pos_weight):
    w = 1.0 if pos_weight is None else pos_weight
    _, d_z = gradients_of_values(np.full(4, y, "float32"), np.zeros(4, "float32"), pos_weight)
    np.testing.assert_allclose(d_z, np.full(4, 0.5 * (1.0 - y) - 0.5 * w * y), rtol=1e-6, atol=1e-7)
