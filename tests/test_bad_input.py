"""Bad input: each case gets a coded error or a documented, tested result.

Documented results (no error):

- an empty batch (N = 0) gives a loss of exactly 0.0 (a finite number), also
  inside a compiled step; with `reduction=None` an empty tensor;
- with `validate=False`, NaN labels or predictions give a NaN loss (nothing
  is hidden); with `validate=True` they are `KB204` / `KB207`;
- sample weights are not checked: a NaN weight gives a NaN loss, as in Keras;
- a batch-size mismatch that is invisible in the static shapes (TensorFlow
  with unknown batch sizes, outside `model.fit`, which never pairs batches of
  different sizes) surfaces as TensorFlow's own `InvalidArgumentError`
  ("Incompatible shapes"); every statically visible mismatch is `KB104`.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_binary import BinaryError, BinaryLabelError, BinaryShapeError, SafeBCE
from tests.helpers import BACKEND, to_numpy

P = np.array([[0.2], [0.9]], "float32")
Y = np.array([0, 1])

CODED = {
    # not numbers
    "string labels": (np.array(["cat", "dog"]), P, "KB108"),
    "string label list": (["cat", "dog"], P, "KB108"),
    "bytes labels": (np.array([b"no", b"yes"]), P, "KB108"),
    "one string": ("yes", P, "KB108"),
    "string predictions": (Y, np.array([["0.2"], ["0.9"]]), "KB108"),
    "object labels": (np.array([0, 1], dtype=object), P, "KB108"),
    "object predictions": (Y, np.array([[0.2], [0.9]], dtype=object), "KB108"),
    "ragged nested list": ([[1], [0, 1]], P, "KB108"),
    "complex labels": (np.array([0, 1], "complex64"), P, "KB108"),
    "None labels": (None, P, "KB108"),
    "None predictions": (Y, None, "KB108"),
    "dict labels": ({"y": Y}, P, "KB108"),
    # rank 0
    "scalar labels": (1.0, P, "KB101"),
    "scalar prediction": (Y, 0.7, "KB101"),
    "numpy scalars": (np.float32(1), np.float32(0.5), "KB101"),
    "0-d arrays": (np.array(1.0), np.array(0.5, "float32"), "KB101"),
    # batch sizes
    "more labels": (np.zeros(3), P, "KB104"),
    "fewer labels": (np.zeros(1), P, "KB104"),
    "empty labels": (np.zeros(0), P, "KB104"),
    # values
    "NaN labels": (np.array([np.nan, 1.0]), P, "KB204"),
    "NaN prediction": (Y, np.array([[np.nan], [0.9]], "float32"), "KB207"),
    "infinite prediction": (Y, np.array([[np.inf], [0.9]], "float32"), "KB207"),
    "infinite label": (np.array([np.inf, 1.0]), P, "KB201"),
}


@pytest.mark.parametrize("name", sorted(CODED))
def test_coded_error(name):
    y, p, code = CODED[name]
    with pytest.raises(BinaryError) as info:
        SafeBCE()(y, p)
    assert info.value.code == code
    assert isinstance(info.value, BinaryLabelError if code.startswith("KB2") else BinaryShapeError)
    assert info.value.fix and info.value.fix in str(info.value)


def test_python_lists_of_numbers_work():
    expected = -(np.log(0.8) + np.log(0.9)) / 2
    np.testing.assert_allclose(to_numpy(SafeBCE()([0, 1], [[0.2], [0.9]])), expected, rtol=1e-6)


def test_bool_and_int_predictions_are_cast():
    as_float = to_numpy(SafeBCE()(Y, np.array([[0.0], [1.0]], "float32")))
    assert 0 < as_float < 1e-6  # right answers, clipped as Keras clips
    np.testing.assert_array_equal(to_numpy(SafeBCE()(Y, np.array([[False], [True]]))), as_float)
    np.testing.assert_array_equal(to_numpy(SafeBCE()(Y, np.array([[0], [1]]))), as_float)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow ragged and sparse tensors")
def test_tensorflow_ragged_and_sparse_are_kb108():
    import tensorflow as tf

    ragged = tf.ragged.constant([[1.0], [0.0, 1.0]])
    sparse = tf.sparse.from_dense(tf.constant([[0.0], [1.0]]))
    for y, p, fix in (
        (ragged, P, ".to_tensor()"),
        (Y, ragged, ".to_tensor()"),
        (sparse, P, "tf.sparse.to_dense"),
    ):
        with pytest.raises(BinaryShapeError) as info:
            SafeBCE()(y, p)
        assert info.value.code == "KB108" and fix in info.value.fix


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("pred_shape", [(0, 1), (0, 2), (0,)])
def test_empty_batch_is_zero(pred_shape, validate):
    value = to_numpy(SafeBCE(validate=validate)(np.zeros(0), np.zeros(pred_shape, "float32")))
    assert value.shape == () and value == 0.0


def test_empty_batch_in_compiled_step_is_zero():
    loss = SafeBCE(from_logits=True)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(
            loss.__call__,
            input_signature=[tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None, 1), tf.float32)],
        )
    elif BACKEND == "jax":
        import jax

        step = jax.jit(loss.__call__)
    else:
        pytest.skip("no compiled step")
    value = to_numpy(step(np.zeros(0, "float32"), np.zeros((0, 1), "float32")))
    assert value.shape == () and value == 0.0
    # The same step still computes the loss of a non-empty batch.
    y, z = np.array([0.0, 1.0], "float32"), np.array([[0.0], [0.0]], "float32")
    np.testing.assert_allclose(to_numpy(step(y, z)), np.log(2), rtol=1e-6)


def test_empty_batch_with_reduction_none_is_empty():
    value = to_numpy(SafeBCE(reduction=None)(np.zeros(0), np.zeros((0, 1), "float32")))
    assert value.shape == (0,)


@pytest.mark.parametrize("labels, preds", [([np.nan, 1.0], [[0.2], [0.9]]), ([0.0, 1.0], [[np.nan], [0.9]])])
def test_nan_without_validation_is_nan(labels, preds):
    value = SafeBCE(validate=False)(np.array(labels, "float32"), np.array(preds, "float32"))
    assert np.isnan(to_numpy(value))


def test_nan_sample_weight_is_not_checked():
    value = SafeBCE()(Y, P, sample_weight=np.array([np.nan, 1.0], "float32"))
    assert np.isnan(to_numpy(value))
    keras_value = keras.losses.BinaryCrossentropy()(Y, P, sample_weight=np.array([np.nan, 1.0], "float32"))
    assert np.isnan(to_numpy(keras_value))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="batch sizes unknown at trace time")
def test_tensorflow_mismatch_known_only_at_run_time():
    import tensorflow as tf

    step = tf.function(
        SafeBCE().__call__,
        input_signature=[tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None, 1), tf.float32)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes|must be broadcastable"):
        step(np.zeros(3, "float32"), np.full((2, 1), 0.5, "float32"))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="static shapes in tf.function")
def test_tensorflow_static_mismatch_is_kb104_in_tf_function():
    import tensorflow as tf

    step = tf.function(SafeBCE().__call__)
    with pytest.raises(BinaryShapeError) as info:  # autograph lets the coded error through
        step(tf.zeros(3), tf.fill((2, 1), 0.5))
    assert info.value.code == "KB104"


@pytest.mark.skipif(BACKEND != "jax", reason="JAX traces static shapes")
def test_jax_mismatch_is_kb104_under_jit():
    import jax

    with pytest.raises(BinaryShapeError) as info:
        jax.jit(SafeBCE().__call__)(np.zeros(3, "float32"), np.full((2, 1), 0.5, "float32"))
    assert info.value.code == "KB104"
