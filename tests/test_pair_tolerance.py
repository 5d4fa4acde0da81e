"""A softmax pair's sum is checked within a tolerance sized to its dtype (issue 20 item 10)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary._value_checks import pair_sum_tolerance
from tests.helpers import to_numpy

DTYPES = ["bfloat16", "float16", "float32", "float64"]


@given(dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16), scale=st.sampled_from([0.1, 3.0, 30.0]))
def test_genuine_softmax_pairs_pass_in_every_dtype(dtype, seed, scale):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, (32, 2)).astype("float32")
    pair = keras.ops.softmax(keras.ops.cast(z, dtype), axis=-1)
    sums = to_numpy(keras.ops.cast(pair, "float32")).sum(axis=-1)
    assert np.max(np.abs(sums - 1.0)) <= pair_sum_tolerance(pair.dtype)
    y = rng.integers(0, 2, 32)
    # The loss and a metric accept the pair (no KB206), eagerly.
    assert np.isfinite(to_numpy(keras_binary.SafeBCE()(y, pair)))
    metric = keras_binary.metrics.BinaryAccuracy()
    metric.update_state(y, pair)
    expected = np.mean((to_numpy(keras.ops.cast(pair, "float32"))[:, 1] > 0.5) == y)
    np.testing.assert_allclose(to_numpy(metric.result()), expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_independent_sigmoids_are_refused_in_every_dtype(dtype):
    scores = keras.ops.cast(np.array([[0.9, 0.8], [0.2, 0.1], [0.6, 0.7]], "float32"), dtype)
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        keras_binary.SafeBCE()(np.array([1, 0, 1]), scores)
    assert info.value.code == "KB206"
