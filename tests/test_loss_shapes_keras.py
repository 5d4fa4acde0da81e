"""`SafeBCE` and `SafeFocal` return what Keras returns, shape included, on Keras's canonical inputs.

Issue 20 item 13: with `reduction=None` and `(N, 1)` weights Keras returns
`(N, 1)` (its `squeeze_or_expand_to_same_rank`), and so must the package.
"""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from tests.helpers import to_numpy

REDUCTIONS = [None, "none", "sum", "sum_over_batch_size", "mean", "mean_with_sample_weight"]
PAIRS = {
    "bce": (keras_binary.SafeBCE, keras.losses.BinaryCrossentropy),
    "focal": (keras_binary.SafeFocal, keras.losses.BinaryFocalCrossentropy),
}


@given(
    n=st.sampled_from([4, 8]),
    label_rank=st.sampled_from([1, 2]),
    weight_shape=st.sampled_from([None, "n", "n1"]),
    reduction=st.sampled_from(REDUCTIONS),
    loss=st.sampled_from(sorted(PAIRS)),
    from_logits=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matches_keras_with_n1_predictions(n, label_rank, weight_shape, reduction, loss, from_logits, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (n, 1)).astype("float32")
    p = (rng.uniform(-6, 6, (n, 1)) if from_logits else rng.uniform(0.01, 0.99, (n, 1))).astype("float32")
    w = None
    if weight_shape is not None:
        w = (rng.random((n, 1)) + 0.1).astype("float32")
        w = w[:, 0] if weight_shape == "n" else w
    ours_class, keras_class = PAIRS[loss]
    labels = y[:, 0] if label_rank == 1 else y
    ours = to_numpy(ours_class(from_logits=from_logits, reduction=reduction)(labels, p, sample_weight=w))
    theirs = to_numpy(keras_class(from_logits=from_logits, reduction=reduction)(y, p, sample_weight=w))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6)
