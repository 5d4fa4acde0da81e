"""Tests of the shape contract (keras_binary._contract), rule by rule of DESIGN.md."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary._contract import Layout, canonical_pair, canonicalize, plan_layout, static_shape
from keras_binary.errors import ERROR_CODES, BinaryShapeError
from tests.helpers import BACKEND, to_numpy

N = None  # an unknown dimension, as in a traced step


# (y_true shape, y_pred shape, multi_label) -> the expected Layout.
VALID = [
    # One score per example: (N, 1) or rank 1, labels (N,), (N, 1), (N, 1, 1).
    ((8,), (8, 1), False, Layout("score", True, "plain", (8,))),
    ((8, 1), (8, 1), False, Layout("score", True, "plain", (8,))),
    ((8, 1, 1), (8, 1), False, Layout("score", True, "plain", (8,))),
    ((8,), (8,), False, Layout("score", False, "plain", (8,))),
    ((8, 1), (8,), False, Layout("score", False, "plain", (8,))),
    # One-hot labels, reduced to column 1.
    ((8, 2), (8, 1), False, Layout("score", True, "onehot", (8,))),
    ((8, 2), (8,), False, Layout("score", False, "onehot", (8,))),
    ((8, 2, 1), (8, 1), False, Layout("score", True, "onehot", (8,))),
    # A softmax pair on the last axis.
    ((8,), (8, 2), False, Layout("pair", True, "plain", (8,))),
    ((8, 1), (8, 2), False, Layout("pair", True, "plain", (8,))),
    ((8, 2), (8, 2), False, Layout("pair", True, "onehot", (8,))),
    # Unknown (None) dimensions: decided from the known ones.
    ((N,), (N, 1), False, Layout("score", True, "plain", (N,))),
    ((N, 1), (N, 2), False, Layout("pair", True, "plain", (N,))),
    ((N, 2), (N, 2), False, Layout("pair", True, "onehot", (N,))),
    ((N,), (8, 1), False, Layout("score", True, "plain", (8,))),
    ((8,), (N, 1), False, Layout("score", True, "plain", (N,))),
    ((N,), (N,), False, Layout("score", False, "plain", (N,))),
    # Per-pixel outputs (segmentation): leading axes beyond the batch.
    ((4, 5, 6), (4, 5, 6, 1), False, Layout("score", True, "plain", (4, 5, 6))),
    ((4, 5, 6, 1), (4, 5, 6, 1), False, Layout("score", True, "plain", (4, 5, 6))),
    ((4, 5, 6, 2), (4, 5, 6, 1), False, Layout("score", True, "onehot", (4, 5, 6))),
    ((4, 5, 6), (4, 5, 6, 2), False, Layout("pair", True, "plain", (4, 5, 6))),
    ((N, N, N), (N, N, N, 1), False, Layout("score", True, "plain", (N, N, N))),
    ((N, 5, 6), (N, N, N, 1), False, Layout("score", True, "plain", (N, N, N))),
    # Singleton spatial axes are not "unpooled": (N, 1, 1, 1) against (N,).
    ((8,), (8, 1, 1, 1), False, Layout("score", True, "plain", (8, 1, 1))),
    # multi_label=True: Keras's element-wise semantics.
    ((8, 3), (8, 3), True, Layout("elementwise", False, "plain", (8, 3))),
    ((8, 3, 1), (8, 3), True, Layout("elementwise", False, "plain", (8, 3))),
    ((N, 3), (N, 3), True, Layout("elementwise", False, "plain", (N, 3))),
    ((8,), (8,), True, Layout("elementwise", False, "plain", (8,))),
    # A last axis TensorFlow relaxed (one-hot (8, 2), then (8, 1) labels): read while running.
    ((8, N), (8, 1), False, Layout("score", True, "runtime", (8,))),
    ((N, N), (N, 2), False, Layout("pair", True, "runtime", (N,))),
]


@pytest.mark.parametrize("true_shape, pred_shape, multi_label, expected", VALID)
def test_plan_layout_valid(true_shape, pred_shape, multi_label, expected):
    assert plan_layout(true_shape, pred_shape, multi_label) == expected


# (y_true shape, y_pred shape, multi_label) -> the error code.
INVALID = [
    ((), (8, 1), False, "KB101"),
    ((8,), (), False, "KB101"),
    ((), (), False, "KB101"),
    ((8,), (8, 1000), False, "KB102"),
    ((8,), (8, 5), False, "KB102"),
    ((8, 5), (8, 5), False, "KB102"),
    ((8,), (8, 2, 2, 1280), False, "KB102"),
    ((8,), (8, 4, 4, 1), False, "KB103"),
    ((N,), (N, N, N, 1), False, "KB103"),
    ((8,), (8, 7, 2), False, "KB103"),
    ((8,), (4, 1), False, "KB104"),
    ((8, 1), (4, 2), False, "KB104"),
    ((4, 5, 6), (3, 5, 6, 1), False, "KB104"),
    ((8, 3), (8, 1), False, "KB105"),
    ((8, 2, 2), (8, 1), False, "KB105"),
    ((4, 5, 7), (4, 5, 6, 1), False, "KB105"),
    ((8,), (8, N), False, "KB106"),
    ((8,), (8, 0), False, "KB107"),
    ((8,), (8, 3), True, "KB105"),
    ((8, 4), (8, 3), True, "KB105"),
    ((4, 3), (8, 3), True, "KB104"),
]


@pytest.mark.parametrize("true_shape, pred_shape, multi_label, code", INVALID)
def test_plan_layout_invalid(true_shape, pred_shape, multi_label, code):
    with pytest.raises(BinaryShapeError) as info:
        plan_layout(true_shape, pred_shape, multi_label)
    assert info.value.code == code
    # Every shape error names both shapes it received.
    assert "y_true.shape=" in str(info.value) and "y_pred.shape=" in str(info.value)


# --- Hypothesis: plan_layout over random shapes --------------------------------------------

dims = st.integers(1, 6)


@st.composite
def encodings(draw):
    """A valid (true_shape, pred_shape) pair and the layout it must give."""
    leading = (draw(dims),) + tuple(draw(st.lists(dims, max_size=2)))
    pred_kind = draw(st.sampled_from(["rank1", "score", "pair"]))
    if pred_kind == "rank1":
        leading = leading[:1]
        pred_shape, expected_pred, drop = leading, "score", False
    elif pred_kind == "score":
        pred_shape, expected_pred, drop = leading + (1,), "score", True
    else:
        pred_shape, expected_pred, drop = leading + (2,), "pair", True
    label_kind = draw(st.sampled_from(["plain", "column", "column2", "onehot"]))
    extra = {"plain": (), "column": (1,), "column2": (1, 1), "onehot": (2,)}[label_kind]

    def forget(shape):
        # Unknown dimensions, as in a traced step (never the class axis).
        mask = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        return tuple(None if m else d for m, d in zip(mask, shape, strict=True))

    pred_leading = forget(leading)
    true_shape = forget(leading) + extra
    pred_shape = pred_leading + pred_shape[len(leading) :]
    label = "onehot" if label_kind == "onehot" else "plain"
    return true_shape, pred_shape, Layout(expected_pred, drop, label, pred_leading)


@given(encodings())
def test_plan_layout_property_valid_encodings(case):
    """Every valid encoding, with any dimensions unknown, gives the right plan."""
    true_shape, pred_shape, expected = case
    assert plan_layout(true_shape, pred_shape) == expected


maybe_dim = st.one_of(st.none(), st.integers(0, 1001))
any_shape = st.lists(maybe_dim, max_size=4).map(tuple)


@given(any_shape, any_shape, st.booleans())
def test_plan_layout_property_total(true_shape, pred_shape, multi_label):
    """Any pair of shapes gives a plan or a registered shape error, nothing else."""
    try:
        layout = plan_layout(true_shape, pred_shape, multi_label)
    except BinaryShapeError as err:
        assert err.code in ERROR_CODES and err.code.startswith("KB1")
        return
    # A plan's leading axes are those of the predictions, without the class axis.
    assert layout.leading == (pred_shape[:-1] if layout.drop_class_axis else pred_shape)
    if not multi_label and len(pred_shape) > 1:
        assert pred_shape[-1] in (1, 2)


@given(st.integers(1, 64), st.integers(1, 64), st.sampled_from([(1,), (2,), ()]))
def test_plan_layout_property_batch_mismatch(n_true, n_pred, class_axis):
    """Two known, different batch sizes are always KB104, naming both."""
    if n_true == n_pred:
        assert plan_layout((n_true,), (n_pred,) + class_axis).leading == (n_pred,)
        return
    with pytest.raises(BinaryShapeError) as info:
        plan_layout((n_true,), (n_pred,) + class_axis)
    assert info.value.code == "KB104"
    assert str(n_true) in info.value.summary and str(n_pred) in info.value.summary


@given(st.integers(3, 5000))
def test_plan_layout_property_class_axis(k):
    """A class axis of size K > 2 is KB102 and names K, unless multi_label=True."""
    with pytest.raises(BinaryShapeError) as info:
        plan_layout((4,), (4, k))
    assert info.value.code == "KB102" and str(k) in str(info.value)
    assert plan_layout((4, k), (4, k), multi_label=True).pred == "elementwise"


# --- canonicalize on tensors -----------------------------------------------------------


def test_canonicalize_pair_of_probabilities_is_p1():
    y_pred = np.array([[0.9, 0.1], [0.25, 0.75], [0.5, 0.5]], "float32")
    y_true, score = canonicalize(np.array([0, 1, 1]), y_pred)
    np.testing.assert_array_equal(to_numpy(score), y_pred[:, 1])
    np.testing.assert_array_equal(to_numpy(y_true), [0.0, 1.0, 1.0])


def test_canonicalize_pair_of_logits_is_difference():
    y_pred = np.array([[2.0, -1.0], [0.5, 3.0], [-7.0, -7.0]], "float32")
    _, score = canonicalize(np.array([0, 1, 1]), y_pred, from_logits=True)
    np.testing.assert_array_equal(to_numpy(score), y_pred[:, 1] - y_pred[:, 0])


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 1, 0]),
        np.array([[0], [1], [1], [0]]),
        np.array([[[0]], [[1]], [[1]], [[0]]]),
        np.array([[1, 0], [0, 1], [0, 1], [1, 0]]),
        np.array([False, True, True, False]),
        np.array([0.0, 1.0, 1.0, 0.0], "float64"),
    ],
    ids=["int", "column", "column2", "onehot", "bool", "float64"],
)
@pytest.mark.parametrize("pred_shape", [(4,), (4, 1), (4, 2)])
def test_canonicalize_label_encodings(labels, pred_shape):
    y_pred = np.full(pred_shape, 0.5, "float32")
    y_true, score = canonicalize(labels, y_pred)
    assert tuple(y_true.shape) == (4,) and tuple(score.shape) == (4,)
    assert "float" in str(y_true.dtype)
    np.testing.assert_array_equal(to_numpy(y_true), [0.0, 1.0, 1.0, 0.0])


def test_canonicalize_per_pixel_flattens_to_rank1():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 2, (2, 3, 4))
    y_pred = rng.random((2, 3, 4, 1)).astype("float32")
    y_true, score = canonicalize(masks, y_pred)
    assert tuple(score.shape) == (24,)
    np.testing.assert_array_equal(to_numpy(score), y_pred.reshape(-1))
    np.testing.assert_array_equal(to_numpy(y_true), masks.reshape(-1))


def test_canonicalize_soft_labels_kept():
    y_true, _ = canonicalize(np.array([0.1, 0.9], "float32"), np.array([[0.3], [0.6]], "float32"))
    np.testing.assert_allclose(to_numpy(y_true), [0.1, 0.9], rtol=1e-7)


def test_canonicalize_integer_predictions_become_float():
    _, score = canonicalize(np.array([0, 1]), np.array([[0], [1]]))
    assert "float" in str(score.dtype)


def test_canonicalize_multi_label_is_elementwise():
    y_pred = np.arange(6, dtype="float32").reshape(2, 3) / 10
    y_true, score = canonicalize(np.ones((2, 3)), y_pred, multi_label=True)
    np.testing.assert_array_equal(to_numpy(score), y_pred.reshape(-1))
    assert tuple(y_true.shape) == (6,)


def test_canonicalize_is_public():
    assert keras_binary.canonicalize is canonicalize


def test_canonicalize_raises_shape_errors():
    with pytest.raises(BinaryShapeError) as info:
        canonicalize(np.zeros(8), np.zeros((8, 1000), "float32"))
    assert info.value.code == "KB102"


def test_canonicalize_symbolic_unknown_dims():
    """Symbolic tensors with unknown batch (as in model building) work on every backend."""
    y_true = keras.Input(shape=(), dtype="int32")
    y_pred = keras.Input(shape=(2,))
    labels, score = canonicalize(y_true, y_pred, from_logits=True)
    assert tuple(score.shape) == (None,) and tuple(labels.shape) == (None,)
    per_pixel = canonicalize(keras.Input(shape=(None, None)), keras.Input(shape=(None, None, 1)))
    assert tuple(per_pixel[1].shape) == (None,)
    with pytest.raises(BinaryShapeError) as info:
        canonicalize(keras.Input(shape=()), keras.Input(shape=(4, 4, 1)))
    assert info.value.code == "KB103"


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function with unknown dimensions")
def test_canonicalize_in_tf_function_with_unknown_dims():
    import tensorflow as tf

    traces = []
    y_true_spec = tf.TensorSpec((None, None), tf.int32)

    @tf.function(input_signature=[y_true_spec, tf.TensorSpec((None, None, 2), tf.float32)])
    def per_step(y_true, y_pred):
        traces.append(1)
        return canonicalize(y_true, y_pred, from_logits=True)

    for n in (3, 5):
        y_pred = np.random.default_rng(n).normal(size=(n, 4, 2)).astype("float32")
        y_true = np.random.default_rng(n).integers(0, 2, (n, 4)).astype("int32")
        labels, score = per_step(y_true, y_pred)
        np.testing.assert_allclose(score.numpy(), (y_pred[..., 1] - y_pred[..., 0]).reshape(-1), rtol=1e-6)
        np.testing.assert_array_equal(labels.numpy(), y_true.reshape(-1))
    assert len(traces) == 1  # decided once, for every batch size


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit")
def test_canonicalize_under_jax_jit():
    import jax

    @jax.jit
    def fn(y_true, y_pred):
        return canonicalize(y_true, y_pred, from_logits=True)

    y_pred = np.random.default_rng(1).normal(size=(6, 2)).astype("float32")
    y_true = np.eye(2, dtype="int32")[[0, 1, 1, 0, 1, 0]]
    labels, score = fn(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(score), y_pred[:, 1] - y_pred[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(labels), [0, 1, 1, 0, 1, 0])


def test_canonical_pair_uses_keras_logits_only_when_asked():
    y_pred = keras.ops.convert_to_tensor(np.array([[0.3], [0.8]], "float32"))
    result = canonical_pair(np.array([0, 1]), y_pred)
    assert result.from_logits is False and result.keras_logits is False


def test_static_shape():
    assert static_shape(np.zeros((3, 1))) == (3, 1)
    assert static_shape(keras.Input((4,))) == (None, 4)
