"""Contract fuzzing: arbitrary inputs either give the right number or a coded error.

Hypothesis draws `(y_true, y_pred)` pairs that a user could pass by mistake:
ranks 0 to 5, sizes including 0 and class axes larger than 2, every dtype
Keras accepts plus strings, bytes, complex numbers and Python objects, NaN,
infinities and out-of-range values. `SafeBCE`, `SafeFocal` and every metric
of `keras_binary.metrics`, called eagerly, must then either

- return a finite value equal to a float64 reference computed on the
  canonical form, where an independent oracle (below, written from
  DESIGN.md's rules, not from `_contract.py`) says the input is valid
  (NaN where the metric is undefined on the canonical data, by the rule of
  docs/keras-compatibility.md: one class, no positive predictions, ...), or
- raise one of the package's coded errors (`BinaryError`).

Any other exception (a backend's own shape or type error), a value for an
input the oracle rejects, or a value that differs from the reference is a
failure of the contract.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest
from helpers import bce_reference, focal_reference, to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary
from keras_binary import metrics as kbm
from keras_binary.errors import BinaryError


@pytest.fixture(autouse=True)
def _clear_keras_session():
    # Overrides conftest's fixture: its gc.collect() costs 0.6-0.9 s per test with TensorFlow loaded.
    yield
    keras.backend.clear_session(free_memory=False)


# ---------------------------------------------------------------------------
# Arbitrary inputs.

NAN, INF = float("nan"), float("inf")
# Each dtype with the values it can hold. Probabilities and labels are on a
# grid far from every threshold of the metrics (0.5, i / 199, bin edges i / 15).
GOOD = [0.0, 1.0, 0.25, 0.75, 0.1, 0.9, 0.5]
BAD = [-1.0, 2.0, 255.0, 1.5, -0.5, 1e4, -1e4, 3.0, NAN, INF, -INF]
VALUES = {
    "float16": GOOD + BAD,
    "bfloat16": GOOD + BAD,
    "float32": GOOD + BAD,
    "float64": GOOD + BAD,
    "int8": [0, 1, -1, 2],
    "int32": [0, 1, -1, 2, 255],
    "int64": [0, 1, 2, 255],
    "uint8": [0, 1, 2, 255],
    "bool": [False, True],
    "complex64": [0.0, 1.0, 0.5 + 1j],
    "str": ["0", "1", "yes"],
    "bytes": [b"0", b"1"],
    "object": [0, 1, "1", None, 0.5],
}
DIMS = st.sampled_from([0, 1, 2, 3])


def _dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return {"str": np.str_, "bytes": np.bytes_, "object": object}.get(name, name)


# Numeric dtypes are drawn more often: most mistakes are in shapes and values.
NUMERIC = ["float32", "float64", "float16", "bfloat16", "int32", "int64", "int8", "uint8", "bool"]
DTYPE_NAMES = st.one_of(st.sampled_from(NUMERIC), st.sampled_from(NUMERIC), st.sampled_from(sorted(VALUES)))


@st.composite
def arrays(draw, shape):
    name = draw(DTYPE_NAMES)
    values = VALUES[name]
    if name in ("float16", "bfloat16", "float32", "float64") and draw(st.booleans()):
        values = GOOD  # half of the float arrays hold only valid values
    index = draw(hnp.arrays("int8", shape, elements=st.integers(0, len(values) - 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf and NaN cast to low-precision floats
        array = np.asarray(np.array(values, dtype=object)[index]).astype(_dtype(name))
    if name in ("str", "object") and array.ndim and draw(st.booleans()):
        return array.tolist()  # a Python list, as a user might pass
    return array


@st.composite
def pairs(draw):
    plausible = draw(st.integers(0, 3)) > 0  # 3 in 4: shapes a binary model could produce
    if plausible:
        leading = tuple(draw(st.lists(DIMS, min_size=1, max_size=3)))
        pred_shape = leading + draw(st.sampled_from([(), (1,), (2,)]))
        if len(pred_shape) == 1:
            leading = pred_shape
        true_shape = leading + draw(st.sampled_from([(), (1,), (2,), (1, 1)]))
    else:
        pred_shape = tuple(draw(st.lists(DIMS, min_size=0, max_size=5)))
        true_shape = tuple(draw(st.lists(DIMS, min_size=0, max_size=5)))
        if draw(st.booleans()):  # class axes of a multi-class model: K > 2
            pred_shape = pred_shape[:-1] + (draw(st.sampled_from([3, 5, 1000])),) if pred_shape else (3,)
    y_true, y_pred = draw(arrays(true_shape)), draw(arrays(pred_shape))
    if (
        isinstance(y_pred, np.ndarray)
        and y_pred.ndim >= 2
        and y_pred.shape[-1] == 2
        and y_pred.dtype.kind == "f"
    ):
        if draw(st.booleans()):  # a softmax pair of probabilities: [1 - p, p]
            y_pred = y_pred.copy()
            y_pred[..., 0] = 1 - y_pred[..., 1]
    return y_true, y_pred, draw(st.booleans())


# ---------------------------------------------------------------------------
# The oracle: DESIGN.md's shape contract, written independently.


def oracle(y_true, y_pred, from_logits):
    """Canonical float64 `(labels, scores)`, or None when the input must be refused."""
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    t_kind, p_kind = np.asarray(y_true).dtype, np.asarray(y_pred).dtype
    numeric = [d.kind in "biuf" or d.name == "bfloat16" for d in (t_kind, p_kind)]
    if not all(numeric) or t.ndim == 0 or p.ndim == 0:
        return None
    t, p = np.asarray(y_true, "float64"), np.asarray(y_pred, "float64")
    if p.ndim == 1:
        leading, scores = p.shape, p
    elif p.shape[-1] == 1:
        leading, scores = p.shape[:-1], p[..., 0]
    elif p.shape[-1] == 2:
        leading = p.shape[:-1]
        scores = p[..., 1] - p[..., 0] if from_logits else p[..., 1]
        if not from_logits and np.any(np.abs(p.sum(axis=-1) - 1.0) > 5e-3):
            return None  # a pair of probabilities that does not sum to 1
    else:
        return None  # K == 0 or K > 2
    while t.ndim > len(leading) and t.shape[-1] == 1:
        t = t[..., 0]
    if t.ndim == len(leading) + 1 and t.shape[-1] == 2:
        sums = t[..., 0] + t[..., 1]
        if np.any(np.abs(np.where(np.isnan(sums), 1.0, sums) - 1.0) > 5e-3):
            return None  # (N, 2) labels that are not one-hot (KB208)
        t = t[..., 1]
    if t.ndim > len(leading) or t.shape != leading[: t.ndim] or any(d != 1 for d in leading[t.ndim :]):
        return None
    labels, scores = t.ravel(), scores.ravel()
    if np.any(np.isnan(labels)) or np.any((labels < 0) | (labels > 1)) or not np.all(np.isfinite(scores)):
        return None  # NaN or infinite predictions are refused (KB207)
    if not from_logits and np.any((scores < 0) | (scores > 1)):
        return None
    return labels, scores


# ---------------------------------------------------------------------------
# References on the canonical form.


def _mean(values):
    return float(np.mean(values)) if np.size(values) else 0.0


def _div(a, b):
    return a / b if b else 0.0


def _confusion(y, p, threshold=0.5):
    pred = p > threshold
    return (
        np.sum(y * pred),  # tp
        np.sum((1 - y) * pred),  # fp
        np.sum((1 - y) * ~pred),  # tn
        np.sum(y * ~pred),  # fn
    )


def _mcc(y, p):
    tp, fp, tn, fn = (v / max(len(y), 1) for v in _confusion(y, p))
    return _div(tp * tn - fp * fn, math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


def _balanced(y, p):
    tp, fp, tn, fn = _confusion(y, p)
    recalls = [r for r, n in ((_div(tp, tp + fn), tp + fn), (_div(tn, tn + fp), tn + fp)) if n > 0]
    return float(np.mean(recalls)) if recalls else 0.0


def _fbeta(y, p, beta=1.0):
    tp, fp, _, fn = _confusion(y, p)
    b2 = beta * beta
    return _div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


def _ece(y, p, bins=15):
    index = np.minimum(np.floor(p * bins).astype(int), bins - 1)
    gap = sum(abs(np.sum(y[index == b]) - np.sum(p[index == b])) for b in range(bins))
    return _div(gap, len(y))


def _keras_reference(make):
    """Keras's own metric on the canonical form; soft labels as expected counts."""

    def reference(y, p):
        metric = make()
        labels = np.concatenate([np.ones_like(y), np.zeros_like(y)])[:, None].astype("float32")
        weights = np.concatenate([y, 1 - y])[:, None].astype("float32")
        metric.update_state(labels, np.concatenate([p, p])[:, None].astype("float32"), sample_weight=weights)
        return float(to_numpy(metric.result()))

    return reference


# name -> (factory(from_logits), reference(labels, probabilities, scores, from_logits)).
METRICS = {
    "BinaryAccuracy": (kbm.BinaryAccuracy, _keras_reference(keras.metrics.BinaryAccuracy)),
    "Precision": (kbm.Precision, _keras_reference(lambda: keras.metrics.Precision(thresholds=0.5))),
    "Recall": (kbm.Recall, _keras_reference(lambda: keras.metrics.Recall(thresholds=0.5))),
    "AUC": (kbm.AUC, _keras_reference(keras.metrics.AUC)),
    "AUC_PR": (
        lambda **kw: kbm.AUC(curve="PR", **kw),
        _keras_reference(lambda: keras.metrics.AUC(curve="PR")),
    ),
    "SensitivityAtSpecificity": (
        lambda **kw: kbm.SensitivityAtSpecificity(0.5, **kw),
        _keras_reference(lambda: keras.metrics.SensitivityAtSpecificity(0.5)),
    ),
    "SpecificityAtSensitivity": (
        lambda **kw: kbm.SpecificityAtSensitivity(0.5, **kw),
        _keras_reference(lambda: keras.metrics.SpecificityAtSensitivity(0.5)),
    ),
    "PrecisionAtRecall": (
        lambda **kw: kbm.PrecisionAtRecall(0.5, **kw),
        _keras_reference(lambda: keras.metrics.PrecisionAtRecall(0.5)),
    ),
    "RecallAtPrecision": (
        lambda **kw: kbm.RecallAtPrecision(0.5, **kw),
        _keras_reference(lambda: keras.metrics.RecallAtPrecision(0.5)),
    ),
    "F1Score": (kbm.F1Score, _fbeta),
    "FBetaScore": (lambda **kw: kbm.FBetaScore(beta=2.0, **kw), lambda y, p: _fbeta(y, p, 2.0)),
    "MatthewsCorrelation": (kbm.MatthewsCorrelation, _mcc),
    "BalancedAccuracy": (kbm.BalancedAccuracy, _balanced),
    "Specificity": (
        kbm.Specificity,
        lambda y, p: _div(_confusion(y, p)[2], _confusion(y, p)[2] + _confusion(y, p)[1]),
    ),
    "ECE": (kbm.ECE, _ece),
}
LOSSES = {
    "SafeBCE": (keras_binary.SafeBCE, lambda y, s, fl: _mean(bce_reference(y, s, fl))),
    "SafeFocal": (keras_binary.SafeFocal, lambda y, s, fl: _mean(focal_reference(y, s, fl))),
}


def _undefined(name, y, p):
    """Whether the metric is undefined (NaN) on canonical labels and probabilities."""
    pred = p > 0.5
    pos, neg = np.sum(y), np.sum(1 - y)
    tp_fp, tn_fn = np.sum(pred), np.sum(~pred)
    fn = np.sum(y * ~pred)
    one_class = pos <= 0 or neg <= 0
    return {
        "Precision": tp_fp <= 0,
        "Recall": pos <= 0,
        "AUC": one_class,
        "AUC_PR": pos <= 0,
        "SensitivityAtSpecificity": one_class,
        "SpecificityAtSensitivity": one_class,
        "PrecisionAtRecall": pos <= 0,
        "RecallAtPrecision": pos <= 0,
        "F1Score": tp_fp + fn <= 0,
        "FBetaScore": tp_fp + fn <= 0,
        "MatthewsCorrelation": one_class or tp_fp <= 0 or tn_fn <= 0,
        "BalancedAccuracy": one_class,
        "Specificity": neg <= 0,
    }.get(name, False)


def test_every_metric_is_fuzzed():
    assert set(kbm.__all__) <= {name.split("_")[0] for name in METRICS} | {"BinaryCrossentropy"}


_INSTANCES: dict = {}


def _instance(kind, name, from_logits):
    """One instance per metric and from_logits, reset before each use (fast)."""
    key = (kind, name, from_logits)
    if key not in _INSTANCES:
        table = METRICS if kind == "metric" else LOSSES
        if name == "BinaryCrossentropy":
            _INSTANCES[key] = kbm.BinaryCrossentropy(from_logits=from_logits)
        else:
            _INSTANCES[key] = table[name][0](from_logits=from_logits)
    return _INSTANCES[key]


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _expected(kind, name, canonical, from_logits):
    """The float64 reference value, or None when no finite value is right."""
    if canonical is None:
        return None
    y, s = canonical
    with np.errstate(all="ignore"):
        if kind == "loss":
            value = LOSSES[name][1](y, s, from_logits)
        elif name == "BinaryCrossentropy":
            value = _mean(bce_reference(y, s, from_logits))
        else:
            value = METRICS[name][1](y, _sigmoid(s) if from_logits else s)
    return value if np.isfinite(value) else None


def _call(kind, name, y_true, y_pred, from_logits):
    obj = _instance(kind, name, from_logits)
    if kind == "loss":
        return obj(y_true, y_pred)
    obj.reset_state()
    obj.update_state(y_true, y_pred)
    return obj.result()


METRIC_NAMES = [*METRICS, "BinaryCrossentropy"]


def _check(kind, name, y_true, y_pred, from_logits):
    canonical = oracle(y_true, y_pred, from_logits)
    expected = _expected(kind, name, canonical, from_logits)
    try:
        value = _call(kind, name, y_true, y_pred, from_logits)
    except BinaryError as error:
        assert str(error).startswith(error.code), f"{name}: a coded error without its code first: {error}"
        assert expected is None, (
            f"{name}(from_logits={from_logits}) refused a valid input with {error.code} "
            f"(reference value {expected}): {str(error).splitlines()[0]}"
        )
        return
    except Exception as error:  # noqa: BLE001 - any other exception breaks the contract
        raise AssertionError(
            f"{name}(from_logits={from_logits}) raised an uncoded {type(error).__name__}: {error}"
        ) from error
    value = float(to_numpy(value))
    if kind == "metric" and canonical is not None and np.all(np.isfinite(canonical[1])):
        y, s = canonical
        with np.errstate(all="ignore"):
            if _undefined(name, np.asarray(y, "float64"), _sigmoid(s) if from_logits else np.asarray(s)):
                assert math.isnan(value), f"{name}: {value} where the metric is undefined (expected NaN)"
                return
    assert expected is not None, (
        f"{name}(from_logits={from_logits}) returned {value} for an input the contract refuses "
        f"(oracle: {'invalid shapes or values' if canonical is None else 'no finite value'})"
    )
    assert math.isfinite(value), f"{name} returned {value}"
    tolerance = 1e-5
    assert value == pytest.approx(expected, rel=tolerance, abs=tolerance), (
        f"{name}: {value} != reference {expected}"
    )


def _describe(x):
    array = np.asarray(x, dtype=object) if isinstance(x, list) else x
    return f"{type(x).__name__} shape={np.shape(array)} dtype={getattr(x, 'dtype', 'list')} values={np.ravel(array)[:6]}"


@given(pairs(), st.sampled_from(METRIC_NAMES))
def test_losses_and_metrics_return_the_reference_or_a_coded_error(pair, metric):
    """Both losses and one metric (drawn) see every input: each input costs a compilation on JAX."""
    y_true, y_pred, from_logits = pair
    note = f"y_true: {_describe(y_true)}\ny_pred: {_describe(y_pred)}"
    try:
        for kind, name in [("loss", "SafeBCE"), ("loss", "SafeFocal"), ("metric", metric)]:
            _check(kind, name, y_true, y_pred, from_logits)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{note}") from error


# ---------------------------------------------------------------------------
# Contract bugs the fuzzing found once, kept as regression tests.


@pytest.mark.parametrize(
    "true_shape,pred_shape",
    [((1, 2, 1), (1, 2)), ((4, 2, 1), (4, 1)), ((2, 2, 1, 1), (2, 2)), ((2, 3, 2, 1), (2, 3, 2))],
)
def test_onehot_labels_with_trailing_singleton_axes(true_shape, pred_shape):
    leading = pred_shape[:-1]
    labels = np.stack([np.zeros(leading), np.ones(leading)], axis=-1).reshape(true_shape)  # all positive
    y_pred = np.full(pred_shape, 0.5, "float32")
    assert float(to_numpy(keras_binary.SafeBCE()(labels, y_pred))) == pytest.approx(math.log(2.0), rel=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_soft_labels_keep_their_precision_with_low_precision_predictions(dtype):
    y_pred = np.array([[0.0], [1.0]]).astype(_dtype(dtype))
    metric = kbm.BinaryAccuracy()
    metric.update_state(np.array([0.1, 0.9]), y_pred)
    assert float(to_numpy(metric.result())) == pytest.approx(0.9, rel=1e-6)
