"""encode_labels: two-valued labels to 0/1 with an explicit positive class."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_binary

PAIRS = [("normal", "cancer"), (1, 2), (-1, 1), (0, 255), (False, True), (0.0, 1.0), (b"neg", b"pos")]


@given(st.sampled_from(PAIRS), st.lists(st.booleans(), min_size=1, max_size=30))
def test_encode_labels_maps_pos_label_to_one(pair, flags):
    negative, positive = pair
    y = np.array([positive if f else negative for f in flags])
    if not any(flags):
        y = np.concatenate([y, [positive]])
        flags = [*flags, True]
    got = keras_binary.encode_labels(y, pos_label=positive)
    assert got.dtype == np.int32 and got.shape == y.shape
    np.testing.assert_array_equal(got, np.array(flags, dtype=int))
    if any(not f for f in flags):  # the other class as the positive one: the complement
        np.testing.assert_array_equal(keras_binary.encode_labels(y, pos_label=negative), 1 - got)


def test_implicit_positive_class_only_when_unambiguous():
    np.testing.assert_array_equal(keras_binary.encode_labels([0, 1, 1]), [0, 1, 1])
    np.testing.assert_array_equal(keras_binary.encode_labels(np.array([-1, 1, -1])), [0, 1, 0])
    np.testing.assert_array_equal(keras_binary.encode_labels([True, False]), [1, 0])
    np.testing.assert_array_equal(keras_binary.encode_labels(np.zeros(3)), [0, 0, 0])
    for ambiguous in (["a", "b"], [1, 2], [0, 255], [3, 3]):
        with pytest.raises(keras_binary.BinaryLabelError, match="KB213"):
            keras_binary.encode_labels(ambiguous)


def test_encode_labels_keeps_the_shape_and_reads_tensors():
    y = keras.ops.convert_to_tensor(np.array([[2], [1], [2]], dtype="int32"))
    got = keras_binary.encode_labels(y, pos_label=2)
    assert got.shape == (3, 1)
    np.testing.assert_array_equal(got[:, 0], [1, 0, 1])
    # Bytes, as a tf.string tensor gives them, match a str pos_label.
    np.testing.assert_array_equal(
        keras_binary.encode_labels(np.array([b"cat", b"dog"]), pos_label="dog"), [0, 1]
    )


def test_encoded_labels_feed_the_report():
    y = ["cancer", "normal", "cancer", "normal"]
    r = keras_binary.report(
        keras_binary.encode_labels(y, pos_label="cancer"), [0.9, 0.2, 0.6, 0.4], n_bootstrap=0
    )
    assert r.auc == 1.0 and r.values["n_positive"] == 2


def test_encode_labels_errors():
    with pytest.raises(keras_binary.BinaryLabelError, match="KB211") as info:
        keras_binary.encode_labels(["a", "b", "c"], pos_label="a")
    assert "3 distinct values" in str(info.value) and "'c'" in str(info.value)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB211"):
        keras_binary.encode_labels(np.array([1, "1"], dtype=object), pos_label=1)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB212") as info:
        keras_binary.encode_labels(["normal", "cancer"], pos_label="Cancer")
    assert "pos_label='Cancer'" in str(info.value)
    with pytest.raises(keras_binary.BinaryLabelError, match="KB204"):
        keras_binary.encode_labels(np.array([0.0, np.nan, 1.0]))
