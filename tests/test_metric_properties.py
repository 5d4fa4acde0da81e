"""Property: every metric gives the same value for every representation.

For each metric, Hypothesis draws logits, labels (hard or soft) and sample
weights, and the metric is updated with the same predictions as

- probabilities `(N, 1)` and `(N,)`,
- logits `(N, 1)` (`from_logits=True`),
- a softmax pair of probabilities `(N, 2)`,
- a pair of logits `(N, 2)` (`from_logits=True`),

each with a different label encoding (int `(N,)`, float `(N, 1)`, bool,
one-hot `(N, 2)`, `(N, 1, 1)`). All values must agree.

The logits are multiples of 1/4 in [-6, 6] and the pair of logits is
`[a, a + z]` with `a` also a multiple of 1/4, so `z1 - z0 == z` exactly in
float32; the probabilities are the float32 sigmoid of the logits, computed
by the backend as the metric does internally. So every representation
reaches the metric's arithmetic as the very same canonical probabilities,
and any difference is a bug of the shape contract, not rounding. Where a
metric is undefined on the drawn batch (NaN), it is NaN for every
representation. Only
`BinaryCrossentropy` compares a clipped-log path with a logit path, and gets
a tolerance of 1e-5.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_binary import metrics as kbm

N = 32  # one batch shape for every example: JAX compiles each op once per shape


METRICS = {
    "BinaryAccuracy": lambda **kw: kbm.BinaryAccuracy(threshold=0.4, **kw),
    "Precision": lambda **kw: kbm.Precision(**kw),
    "Recall": lambda **kw: kbm.Recall(threshold=0.6, **kw),
    "AUC_ROC": lambda **kw: kbm.AUC(**kw),
    "AUC_PR": lambda **kw: kbm.AUC(curve="PR", **kw),
    "AUC_PR_step": lambda **kw: kbm.AUC(curve="PR", summation_method="step", **kw),
    "F1Score": lambda **kw: kbm.F1Score(**kw),
    "FBetaScore": lambda **kw: kbm.FBetaScore(beta=2.0, **kw),
    "SensitivityAtSpecificity": lambda **kw: kbm.SensitivityAtSpecificity(0.6, **kw),
    "SpecificityAtSensitivity": lambda **kw: kbm.SpecificityAtSensitivity(0.6, **kw),
    "PrecisionAtRecall": lambda **kw: kbm.PrecisionAtRecall(0.5, **kw),
    "RecallAtPrecision": lambda **kw: kbm.RecallAtPrecision(0.6, **kw),
    "BinaryCrossentropy": lambda **kw: kbm.BinaryCrossentropy(**kw),
    "MatthewsCorrelation": lambda **kw: kbm.MatthewsCorrelation(**kw),
    "BalancedAccuracy": lambda **kw: kbm.BalancedAccuracy(**kw),
    "Specificity": lambda **kw: kbm.Specificity(threshold=0.3, **kw),
    "ECE": lambda **kw: kbm.ECE(num_bins=10, **kw),
}


def test_every_metric_has_a_property():
    assert {name.split("_")[0] for name in METRICS} == set(kbm.__all__)


@st.composite
def batches(draw):
    quarters = draw(hnp.arrays(np.int32, N, elements=st.integers(-24, 24)))
    offsets = draw(hnp.arrays(np.int32, N, elements=st.integers(-8, 8)))
    soft = draw(st.booleans())
    if soft:
        labels = draw(hnp.arrays(np.float32, N, elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])))
    else:
        labels = draw(hnp.arrays(np.int32, N, elements=st.integers(0, 1)))
    weights = draw(st.none() | hnp.arrays(np.float32, N, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])))
    return quarters.astype("float32") / 4, offsets.astype("float32") / 4, labels, soft, weights


def _label_encodings(labels, soft):
    y = np.asarray(labels)
    float_y = y.astype("float32")
    encodings = {
        "float (N, 1)": float_y.reshape(-1, 1),
        "(N, 1, 1)": float_y.reshape(-1, 1, 1),
        "one-hot (N, 2)": np.stack([1 - float_y, float_y], axis=-1),
    }
    if not soft:
        encodings.update({"int (N,)": y.astype("int32"), "bool (N,)": y.astype(bool)})
    else:
        encodings["float (N,)"] = float_y
    return list(encodings.items())


def _value(make, from_logits, y_true, y_pred, weights, validate=False):
    metric = make(from_logits=from_logits, validate=validate)
    metric.update_state(y_true, y_pred, sample_weight=weights)
    return float(to_numpy(metric.result()))


@pytest.mark.parametrize("name", sorted(METRICS))
@given(batch=batches())
def test_same_value_for_every_representation(name, batch):
    z, a, labels, soft, weights = batch
    make = METRICS[name]
    p = np.asarray(keras.ops.convert_to_numpy(keras.ops.sigmoid(z)), "float32")
    representations = [
        ("probability (N,)", False, p),
        ("logit (N, 1)", True, z.reshape(-1, 1)),
        ("softmax pair", False, np.stack([1 - p, p], axis=-1)),
        ("pair of logits", True, np.stack([a, a + z], axis=-1)),
    ]
    encodings = _label_encodings(labels, soft)
    reference = _value(make, False, encodings[0][1], p.reshape(-1, 1), weights)
    # NaN where the metric is undefined (one class, no positive predictions,
    # all weights zero): then NaN for every representation.
    undefined = bool(np.isnan(reference))
    tolerance = 1e-5 if name == "BinaryCrossentropy" else 1e-6
    for i, (rep, from_logits, y_pred) in enumerate(representations):
        enc, y_true = encodings[(i + 1) % len(encodings)]
        # The value checks do not change values; they run once (on the pair,
        # whose sum they check) and are off elsewhere to keep the test fast.
        got = _value(make, from_logits, y_true, y_pred, weights, validate=rep == "softmax pair")
        if undefined:
            assert np.isnan(got), f"{name}: {rep} with {enc} labels"
        else:
            assert got == pytest.approx(reference, abs=tolerance), f"{name}: {rep} with {enc} labels"
