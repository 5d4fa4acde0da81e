"""keras_binary.metrics: scikit-learn agreement, edge cases, serialization, training.

- Streaming: every metric is updated over several batches of generated data
  (with sample weights) and compared with scikit-learn (or a float64 NumPy
  reference where scikit-learn has no such metric) within 1e-4.
  Probabilities lie on a grid of odd multiples of 1/80: no probability sits
  on a threshold (i/199), a bin edge (j/15) or 0.5, and every pair of
  distinct values is separated by one of the default 200 thresholds, so
  curve metrics are exact there. One test checks the documented AUC bound
  on continuous scores.
- Edge cases: one class, all predictions equal, zero samples, all weights
  zero give the documented values: NaN with a `KB290` warning where the
  metric is undefined, never a plausible-looking 0.
- Serialization: config round trip and a saved `.keras` model.
- Training: `model.compile(metrics=...)` and a custom loop (tf.function on
  TensorFlow, `jax.jit` with the stateless API on JAX).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import BACKEND, config_round_trip, saved_model_round_trip, to_numpy
from sklearn import metrics as skm

import keras_binary
from keras_binary import metrics as kbm
from keras_binary.errors import BinaryConfigError, BinaryLabelError, BinaryShapeError

# Every batch has B elements: under JAX's eager mode each new shape compiles
# every op again, so the tests share one batch shape.
B = 32


def _grid_data(seed: int, n: int = 3 * B):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # Informative but imperfect scores, on the grid (2k + 1) / 80.
    k = np.clip(np.round(rng.normal(20 + 10 * (2 * y - 1), 10)), 0, 39).astype(int)
    p = ((2 * k + 1) / 80).astype("float32")
    w = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=n).astype("float32")
    return y, p, w


def _rate_at_rate(y, p, w, dependent: str, constrained: str, value: float) -> float:
    """Exact float64 reference of Keras's `XAtY`: max dependent over cuts with constrained >= value."""
    y, p, w = np.asarray(y, "float64"), np.asarray(p, "float64"), np.asarray(w, "float64")
    best = 0.0
    for t in np.concatenate([[-np.inf], np.unique(p)]):
        pred = p > t
        tp, fp = np.sum(w * y * pred), np.sum(w * (1 - y) * pred)
        fn, tn = np.sum(w * y * ~pred), np.sum(w * (1 - y) * ~pred)
        rates = {
            "sensitivity": tp / (tp + fn) if tp + fn else 0.0,
            "specificity": tn / (tn + fp) if tn + fp else 0.0,
            "precision": tp / (tp + fp) if tp + fp else 0.0,
        }
        if rates[constrained] >= value:
            best = max(best, rates[dependent])
    return best


def _ece(y, p, w, bins: int) -> float:
    y, p, w = (np.asarray(a, "float64") for a in (y, p, w))
    idx = np.minimum(np.floor(p * bins).astype(int), bins - 1)
    gap = sum(abs(np.sum((w * y)[idx == b]) - np.sum((w * p)[idx == b])) for b in range(bins))
    return gap / np.sum(w) if np.sum(w) else 0.0


def _hard(p, t=0.5):
    return (np.asarray(p) > t).astype(int)


# name -> (factory, reference(y, p, w)).
SKLEARN_CASES = {
    "BinaryAccuracy": (kbm.BinaryAccuracy, lambda y, p, w: skm.accuracy_score(y, _hard(p), sample_weight=w)),
    "BinaryAccuracy_t0.3": (
        lambda: kbm.BinaryAccuracy(threshold=0.3),
        lambda y, p, w: skm.accuracy_score(y, _hard(p, 0.3), sample_weight=w),
    ),
    "Precision": (
        kbm.Precision,
        lambda y, p, w: skm.precision_score(y, _hard(p), sample_weight=w, zero_division=0),
    ),
    "Recall": (kbm.Recall, lambda y, p, w: skm.recall_score(y, _hard(p), sample_weight=w, zero_division=0)),
    "Recall_t0.7": (
        lambda: kbm.Recall(threshold=0.7),
        lambda y, p, w: skm.recall_score(y, _hard(p, 0.7), sample_weight=w, zero_division=0),
    ),
    "F1Score": (kbm.F1Score, lambda y, p, w: skm.f1_score(y, _hard(p), sample_weight=w, zero_division=0)),
    "FBetaScore": (
        lambda: kbm.FBetaScore(beta=2.0),
        lambda y, p, w: skm.fbeta_score(y, _hard(p), beta=2.0, sample_weight=w, zero_division=0),
    ),
    "AUC_ROC": (kbm.AUC, lambda y, p, w: skm.roc_auc_score(y, p, sample_weight=w)),
    "AUC_PR_step": (
        lambda: kbm.AUC(curve="PR", summation_method="step"),
        lambda y, p, w: skm.average_precision_score(y, p, sample_weight=w),
    ),
    "MatthewsCorrelation": (
        kbm.MatthewsCorrelation,
        lambda y, p, w: skm.matthews_corrcoef(y, _hard(p), sample_weight=w),
    ),
    "BalancedAccuracy": (
        kbm.BalancedAccuracy,
        lambda y, p, w: skm.balanced_accuracy_score(y, _hard(p), sample_weight=w),
    ),
    "Specificity": (
        kbm.Specificity,
        lambda y, p, w: skm.recall_score(y, _hard(p), pos_label=0, sample_weight=w, zero_division=0),
    ),
    "BinaryCrossentropy": (
        kbm.BinaryCrossentropy,
        lambda y, p, w: skm.log_loss(y, np.asarray(p, "float64"), sample_weight=w, labels=[0, 1]),
    ),
    "SensitivityAtSpecificity": (
        lambda: kbm.SensitivityAtSpecificity(0.7),
        lambda y, p, w: _rate_at_rate(y, p, w, "sensitivity", "specificity", 0.7),
    ),
    "SpecificityAtSensitivity": (
        lambda: kbm.SpecificityAtSensitivity(0.8),
        lambda y, p, w: _rate_at_rate(y, p, w, "specificity", "sensitivity", 0.8),
    ),
    "PrecisionAtRecall": (
        lambda: kbm.PrecisionAtRecall(0.6),
        lambda y, p, w: _rate_at_rate(y, p, w, "precision", "sensitivity", 0.6),
    ),
    "RecallAtPrecision": (
        lambda: kbm.RecallAtPrecision(0.75),
        lambda y, p, w: _rate_at_rate(y, p, w, "sensitivity", "precision", 0.75),
    ),
    "ECE": (kbm.ECE, lambda y, p, w: _ece(y, p, w, 15)),
}


def _stream(metric, y, p, w):
    """Updates `metric` batch by batch, each batch in a different label encoding."""
    encodings = [
        lambda a: a,  # int (N,)
        lambda a: a.reshape(-1, 1).astype("float32"),  # float (N, 1)
        lambda a: np.eye(2, dtype="int32")[a],  # one-hot
    ]
    for i in range(0, len(y), B):
        batch = slice(i, i + B)
        metric.update_state(
            encodings[(i // B) % 3](y[batch]), p[batch].reshape(-1, 1), sample_weight=w[batch]
        )
    return float(to_numpy(metric.result()))


@pytest.mark.parametrize("name", sorted(SKLEARN_CASES))
def test_streaming_matches_sklearn(name):
    make, reference = SKLEARN_CASES[name]
    metric = make()
    for seed in (0, 1):
        y, p, w = _grid_data(seed)
        metric.reset_state()  # reset_state really resets: seed 1 starts from nothing
        got = _stream(metric, y, p, w)
        np.testing.assert_allclose(got, reference(y, p, w), atol=1e-4, rtol=0, err_msg=f"{name}, seed {seed}")


def test_auc_on_continuous_scores_is_within_its_documented_bound():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 12 * B)
    p = np.clip(rng.normal(0.5 + 0.15 * (2 * y - 1), 0.2), 0, 1).astype("float32")
    n = 200  # the default; the bound scales as 1 / n
    metric = kbm.AUC(num_thresholds=n)
    for i in range(0, len(y), B):
        metric.update_state(y[i : i + B], p[i : i + B])
    exact = skm.roc_auc_score(y, p)
    bucket = np.ceil(p.astype("float64") * (n - 1))
    same = np.mean(bucket[y == 1][:, None] == bucket[y == 0][None, :])
    bound = 0.5 * same + 1e-5
    assert bound < 1e-2  # the bound itself is small: the test is not vacuous
    assert abs(float(to_numpy(metric.result())) - exact) <= bound


def test_soft_labels_count_as_expected_confusion_matrix():
    rng = np.random.default_rng(4)
    y = rng.choice([0.0, 0.2, 0.5, 0.9, 1.0], B).astype("float32")
    _, p, _ = _grid_data(4, B)
    # Reference: every example duplicated as a positive of weight y and a negative of weight 1 - y.
    y2 = np.concatenate([np.ones(B), np.zeros(B)]).astype(int)
    p2 = np.concatenate([p, p])
    w2 = np.concatenate([y, 1 - y])
    for name in (
        "Precision",
        "Recall",
        "F1Score",
        "MatthewsCorrelation",
        "BalancedAccuracy",
        "AUC_ROC",
        "ECE",
    ):
        make, reference = SKLEARN_CASES[name]
        metric = make()
        metric.update_state(y, p)
        expected = reference(y2, p2, w2) if name != "ECE" else _ece(y, p, np.ones(B), 15)
        assert float(to_numpy(metric.result())) == pytest.approx(expected, abs=1e-5), name


# ---------------------------------------------------------------------------
# Edge cases: the documented value, NaN (with a KB290 warning) where undefined.

ALL_METRICS = {
    "BinaryAccuracy": kbm.BinaryAccuracy,
    "Precision": kbm.Precision,
    "Recall": kbm.Recall,
    "AUC": kbm.AUC,
    "AUC_PR": lambda: kbm.AUC(curve="PR"),
    "AUC_PR_step": lambda: kbm.AUC(curve="PR", summation_method="step"),
    "F1Score": kbm.F1Score,
    "FBetaScore": lambda: kbm.FBetaScore(beta=0.5),
    "SensitivityAtSpecificity": lambda: kbm.SensitivityAtSpecificity(0.5),
    "SpecificityAtSensitivity": lambda: kbm.SpecificityAtSensitivity(0.5),
    "PrecisionAtRecall": lambda: kbm.PrecisionAtRecall(0.5),
    "RecallAtPrecision": lambda: kbm.RecallAtPrecision(0.5),
    "BinaryCrossentropy": kbm.BinaryCrossentropy,
    "MatthewsCorrelation": kbm.MatthewsCorrelation,
    "BalancedAccuracy": kbm.BalancedAccuracy,
    "Specificity": kbm.Specificity,
    "ECE": kbm.ECE,
}

# The value each metric reports when it has seen no (weighted) example:
# undefined (NaN) but for accuracy, cross-entropy and ECE (0, as Keras).
EMPTY = {
    name: (0.0 if name in ("BinaryAccuracy", "BinaryCrossentropy", "ECE") else np.nan) for name in ALL_METRICS
}


def _result(metric) -> float:
    """The metric's float result; a NaN result must come with one KB290 warning."""
    import warnings

    from keras_binary.errors import UndefinedMetricWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(to_numpy(metric.result()))
    codes = [str(w.message)[:5] for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    already = getattr(metric, "_warned_undefined", False) and not codes
    assert (codes == ["KB290"] or already) if np.isnan(value) else not codes, (value, codes)
    return value


def _same(got: float, expected: float) -> bool:
    return bool(np.isnan(got)) if np.isnan(expected) else got == pytest.approx(expected, abs=1e-5)


_, P, _ = _grid_data(7, B)  # B grid probabilities, some above 0.5, some below
P = P.reshape(-1, 1)


@pytest.mark.parametrize("name", sorted(ALL_METRICS))
def test_no_samples_and_zero_weights(name):
    metric = ALL_METRICS[name]()
    assert _same(_result(metric), EMPTY[name])
    metric.update_state(np.zeros((0,), "float32"), np.zeros((0, 1), "float32"))
    assert _same(_result(metric), EMPTY[name])
    metric.update_state(np.ones(B), P, sample_weight=np.zeros(B, "float32"))
    assert _same(_result(metric), EMPTY[name])


def _one_class_expected(p):
    """Float64 values of every metric when all B labels are positive."""
    p = p.astype("float64").ravel()
    tp = float(np.sum(p > 0.5))
    fn = len(p) - tp
    return {
        "BinaryAccuracy": tp / len(p),
        "Precision": 1.0,
        "Recall": tp / len(p),
        "AUC": np.nan,  # no negatives: undefined (Keras gives 0, sklearn raises)
        "AUC_PR": 1.0,
        "AUC_PR_step": 1.0,
        "F1Score": 2 * tp / (2 * tp + fn),
        "FBetaScore": 1.25 * tp / (1.25 * tp + 0.25 * fn),
        "SensitivityAtSpecificity": np.nan,  # specificity is 0/0: undefined (Keras gives 0)
        "SpecificityAtSensitivity": np.nan,
        "PrecisionAtRecall": 1.0,
        "RecallAtPrecision": 1.0,
        "BinaryCrossentropy": float(np.mean(-np.log(p))),
        "MatthewsCorrelation": np.nan,  # sklearn gives 0
        "BalancedAccuracy": np.nan,  # sklearn gives the recall of the only class, with a warning
        "Specificity": np.nan,
        "ECE": float(np.mean(1 - p)),
    }


@pytest.mark.parametrize("name", sorted(ALL_METRICS))
def test_one_class_only(name):
    assert 0 < np.sum(P > 0.5) < B  # the predictions themselves are mixed
    metric = ALL_METRICS[name]()
    metric.update_state(np.ones(B), P)
    assert _same(_result(metric), _one_class_expected(P)[name])


@pytest.mark.parametrize("name", sorted(ALL_METRICS))
def test_all_predictions_equal(name):
    metric = ALL_METRICS[name]()
    positives = 12
    y = (np.arange(B) < positives).astype("int32")
    metric.update_state(y, np.full((B, 1), 0.5, "float32"))
    got = _result(metric)
    # Every prediction is negative at 0.5 (strictly greater), all in one AUC bucket.
    expected = {
        "BinaryAccuracy": (B - positives) / B,
        "Precision": np.nan,  # no positive predictions (Keras gives 0)
        "Recall": 0.0,
        "F1Score": 0.0,
        "FBetaScore": 0.0,
        "MatthewsCorrelation": np.nan,  # one predicted class only (sklearn gives 0)
        "BalancedAccuracy": 0.5,
        "Specificity": 1.0,
        "AUC": 0.5,
        "ECE": abs(positives - 0.5 * B) / B,
        "BinaryCrossentropy": float(np.log(2.0)),
    }
    if name in expected:
        assert _same(got, expected[name])
    else:
        assert np.isfinite(got)


def test_one_class_balanced_accuracy_is_undefined_where_sklearn_warns():
    y = np.zeros(5, int)
    p = np.array([0.1, 0.7, 0.2, 0.3, 0.9], "float32")
    metric = kbm.BalancedAccuracy()
    metric.update_state(y, p)
    with pytest.warns(UserWarning):
        plausible = skm.balanced_accuracy_score(y, _hard(p))  # 0.6, the recall of class 0
    assert plausible == pytest.approx(0.6)
    with pytest.warns(keras_binary.errors.UndefinedMetricWarning, match="KB290: BalancedAccuracy"):
        assert np.isnan(float(to_numpy(metric.result())))


# ---------------------------------------------------------------------------
# Shapes, weights, options.


def test_per_pixel_outputs_with_per_image_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (2, 4, 4))  # 2 images of 4x4 pixels: B elements
    p = rng.choice((2 * np.arange(40) + 1) / 80, (2, 4, 4, 1)).astype("float32")
    w = np.array([2.0, 0.5], "float32")
    metric = kbm.F1Score()
    metric.update_state(y, p, sample_weight=w)
    flat_w = np.repeat(w, 16)
    expected = skm.f1_score(y.ravel(), _hard(p.ravel()), sample_weight=flat_w)
    assert float(to_numpy(metric.result())) == pytest.approx(expected, abs=1e-5)


def test_multi_label_pools_all_outputs():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (8, 4))
    p = rng.uniform(0, 1, (8, 4)).astype("float32")
    w = rng.uniform(0, 1, 8).astype("float32")
    for make in (kbm.Recall, kbm.MatthewsCorrelation, kbm.ECE):
        pooled, flat = make(multi_label=True), make()
        pooled.update_state(y, p, sample_weight=w)
        flat.update_state(y.ravel(), p.ravel(), sample_weight=np.repeat(w, 4))
        assert float(to_numpy(pooled.result())) == pytest.approx(float(to_numpy(flat.result())), abs=1e-6)


def test_sample_weight_of_the_wrong_shape_is_kb120():
    with pytest.raises(BinaryShapeError) as info:
        kbm.Recall().update_state(
            np.array([0, 1, 1]), np.array([[0.2], [0.7], [0.9]]), sample_weight=np.ones(4)
        )
    assert info.value.code == "KB120"
    assert "sample_weight=np.ones(len(y_true))" in str(info.value)


def test_shape_errors_of_the_contract():
    with pytest.raises(BinaryShapeError) as info:
        kbm.AUC().update_state(np.array([0, 1]), np.zeros((2, 1000), "float32"))
    assert info.value.code == "KB102"
    assert "include_top=False" in str(info.value)


def test_labels_in_1_2_are_kb202_and_validate_false_skips_the_check():
    y, p = np.array([1, 2, 2, 1]), np.array([[0.1], [0.8], [0.7], [0.3]])
    with pytest.raises(BinaryLabelError) as info:
        kbm.BinaryAccuracy().update_state(y, p)
    assert info.value.code == "KB202"
    assert "y = y - 1" in str(info.value)
    kbm.BinaryAccuracy(validate=False).update_state(y, p)  # no check, no error


def test_logits_passed_as_probabilities_are_kb205():
    with pytest.raises(BinaryLabelError) as info:
        kbm.Precision().update_state(np.array([0, 1]), np.array([[-2.0], [3.0]]))
    assert info.value.code == "KB205"


@pytest.mark.parametrize(
    "make,code,fix",
    [
        (lambda: kbm.Precision(threshold=1.5), "KB321", "threshold=0.5"),
        (lambda: kbm.F1Score(threshold=float("nan")), "KB321", "threshold=0.5"),
        (lambda: kbm.SensitivityAtSpecificity(2.0), "KB321", "specificity=0.5"),
        (lambda: kbm.FBetaScore(beta=0.0), "KB321", "beta=1.0"),
        (lambda: kbm.AUC(num_thresholds=1), "KB322", "num_thresholds=200"),
        (lambda: kbm.ECE(num_bins=0), "KB322", "num_bins=15"),
        (lambda: kbm.PrecisionAtRecall(0.5, num_thresholds=0), "KB322", "num_thresholds=200"),
        (lambda: kbm.AUC(curve="DET"), "KB326", "summation_method='step'"),
        (lambda: kbm.AUC(summation_method="step"), "KB326", "curve='PR'"),
    ],
)
def test_config_errors(make, code, fix):
    with pytest.raises(BinaryConfigError) as info:
        make()
    assert info.value.code == code
    assert fix in str(info.value)


# ---------------------------------------------------------------------------
# Serialization.

CONFIGURED = {
    "BinaryAccuracy": lambda: kbm.BinaryAccuracy(threshold=0.3, from_logits=True, name="acc"),
    "Precision": lambda: kbm.Precision(threshold=0.7, validate=False),
    "Recall": lambda: kbm.Recall(threshold=0.2, multi_label=True),
    "AUC": lambda: kbm.AUC(curve="PR", summation_method="step", from_logits=True),
    "AUC_thresholds": lambda: kbm.AUC(thresholds=[0.25, 0.5, 0.75], name="auc_given_thresholds"),
    "F1Score": lambda: kbm.F1Score(threshold=0.4),
    "FBetaScore": lambda: kbm.FBetaScore(beta=2.0, threshold=0.6),
    "SensitivityAtSpecificity": lambda: kbm.SensitivityAtSpecificity(0.8, num_thresholds=50),
    "SpecificityAtSensitivity": lambda: kbm.SpecificityAtSensitivity(0.7),
    "PrecisionAtRecall": lambda: kbm.PrecisionAtRecall(0.6),
    "RecallAtPrecision": lambda: kbm.RecallAtPrecision(0.9),
    "BinaryCrossentropy": lambda: kbm.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    "MatthewsCorrelation": lambda: kbm.MatthewsCorrelation(threshold=0.3),
    "BalancedAccuracy": lambda: kbm.BalancedAccuracy(from_logits=True),
    "Specificity": lambda: kbm.Specificity(threshold=0.55),
    "ECE": lambda: kbm.ECE(num_bins=7),
}


def test_every_public_metric_is_covered():
    assert {n.split("_")[0] for n in CONFIGURED} == set(kbm.__all__)


@pytest.mark.parametrize("name", sorted(CONFIGURED))
def test_config_round_trip(name):
    metric = CONFIGURED[name]()
    clone = config_round_trip(metric)
    assert type(clone) is type(metric)
    assert clone.get_config() == metric.get_config()
    y, p, w = _grid_data(5, B)
    z = np.log(p / (1 - p)).reshape(-1, 1)
    scores = z if metric.from_logits else p.reshape(-1, 1)
    if metric.get_config()["multi_label"]:
        y, scores, w = y.reshape(-1, 4), scores.reshape(-1, 4), w.reshape(-1, 4)[:, 0]
    metric.update_state(y, scores, sample_weight=w)
    clone.update_state(y, scores, sample_weight=w)
    assert float(to_numpy(clone.result())) == pytest.approx(float(to_numpy(metric.result())), abs=1e-7)


# ---------------------------------------------------------------------------
# Training: compile (and a saved .keras model), custom loops.


def _toy(n=2 * B, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype("int32")
    return x, y


def test_compile_fit_and_saved_model_with_every_metric():
    x, y = _toy()
    # Recall is configured with multi_label=True, which (N, 2) outputs do not fit.
    factories = [make for name, make in sorted(CONFIGURED.items()) if name != "Recall"] + [kbm.Recall]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    # An informative start (p1 = sigmoid(4 x0)): a random one may predict no
    # probability above Precision's 0.7 in an epoch, and Precision is then
    # undefined (NaN, tested elsewhere).
    model.layers[0].set_weights(
        [np.array([[-2.0, 2.0], [0.0, 0.0], [0.0, 0.0]], "float32"), np.zeros(2, "float32")]
    )
    # `metrics` ignore sample weights in Keras, `weighted_metrics` use them.
    unweighted = [
        lambda: kbm.AUC(name="auc_unweighted"),
        lambda: kbm.F1Score(name="f1_unweighted"),
        lambda: kbm.ECE(name="ece_unweighted"),
    ]
    model.compile(
        optimizer="adam",
        loss=keras_binary.SafeBCE(),
        metrics=[make() for make in unweighted],
        weighted_metrics=[make() for make in factories],
    )
    w = np.random.default_rng(1).choice([0.0, 0.5, 2.0], len(y)).astype("float32")
    history = model.fit(x, y, sample_weight=w, batch_size=B, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in history.values()), {
        k: v for k, v in history.items() if not np.isfinite(v[-1])
    }
    assert len(history) == len(CONFIGURED) + len(unweighted) + 1
    predictions = model.predict(x, batch_size=B, verbose=0)
    reference = {
        m.name: float(to_numpy(m.result())) for m in _reference_metrics(factories, y, predictions, w)
    }
    reference.update(
        {m.name: float(to_numpy(m.result())) for m in _reference_metrics(unweighted, y, predictions)}
    )
    assert len(reference) == len(CONFIGURED) + len(unweighted)
    loaded = saved_model_round_trip(model)
    after = loaded.evaluate(x, y, sample_weight=w, batch_size=B, verbose=0, return_dict=True)
    for name, value in reference.items():
        assert after[name] == pytest.approx(value, abs=1e-5), name


def _reference_metrics(factories, y, outputs, weights=None):
    metrics = [make() for make in factories]
    for metric in metrics:
        for i in range(0, len(y), B):
            w = None if weights is None else weights[i : i + B]
            metric.update_state(y[i : i + B], outputs[i : i + B], sample_weight=w)
    return metrics


def _reference_values(factories, y, outputs):
    return [float(to_numpy(m.result())) for m in _reference_metrics(factories, y, outputs)]


# A 1-unit logit model here (the compile test above has a softmax pair).
CUSTOM_LOOP_METRICS = [
    lambda: kbm.BinaryAccuracy(from_logits=True),
    lambda: kbm.AUC(from_logits=True),
    lambda: kbm.BalancedAccuracy(from_logits=True),
    lambda: kbm.ECE(from_logits=True),
    lambda: kbm.BinaryCrossentropy(from_logits=True),
]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function training loop")
def test_custom_training_loop_tensorflow():
    import tensorflow as tf

    x, y = _toy()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    loss_fn = keras_binary.SafeBCE(from_logits=True)
    optimizer = keras.optimizers.SGD(0.1)
    metrics = [make() for make in CUSTOM_LOOP_METRICS]

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            out = model(xb, training=True)
            loss = loss_fn(yb, out)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        for metric in metrics:
            metric.update_state(yb, out)
        return loss

    outputs = []
    for i in range(0, len(y), B):
        before = model(x[i : i + B])
        train_step(tf.constant(x[i : i + B]), tf.constant(y[i : i + B]))
        outputs.append(np.asarray(before))
    assert train_step.experimental_get_tracing_count() == 1
    expected = _reference_values(CUSTOM_LOOP_METRICS, y, np.concatenate(outputs))
    got = [float(to_numpy(m.result())) for m in metrics]
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit training loop with the stateless API")
def test_custom_training_loop_jax():
    import jax

    x, y = _toy()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    loss_fn = keras_binary.SafeBCE(from_logits=True)
    metrics = [make() for make in CUSTOM_LOOP_METRICS]

    def compute_loss(trainable, non_trainable, xb, yb):
        out, non_trainable = model.stateless_call(trainable, non_trainable, xb, training=True)
        return loss_fn(yb, out), (out, non_trainable)

    grad_fn = jax.value_and_grad(compute_loss, has_aux=True)

    @jax.jit
    def train_step(state, xb, yb):
        trainable, non_trainable, metric_vars = state
        (_, (out, non_trainable)), grads = grad_fn(trainable, non_trainable, xb, yb)
        trainable = [v - 0.1 * g for v, g in zip(trainable, grads, strict=True)]
        metric_vars = [
            m.stateless_update_state(mv, yb, out) for m, mv in zip(metrics, metric_vars, strict=True)
        ]
        return trainable, non_trainable, metric_vars

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [[v.value for v in m.variables] for m in metrics],
    )
    outputs = []
    for i in range(0, len(y), B):
        trainable, non_trainable, _ = state
        outputs.append(np.asarray(model.stateless_call(trainable, non_trainable, x[i : i + B])[0]))
        state = train_step(state, x[i : i + B], y[i : i + B])
    expected = _reference_values(CUSTOM_LOOP_METRICS, y, np.concatenate(outputs))
    got = [float(to_numpy(m.stateless_result(mv))) for m, mv in zip(metrics, state[2], strict=True)]
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.skipif(BACKEND != "jax", reason="a coded error raised from inside jax.jit")
def test_bad_labels_inside_jit_raise_the_coded_error():
    import jax

    metric = kbm.Recall()

    @jax.jit
    def update(metric_vars, yb, pb):
        return metric.stateless_update_state(metric_vars, yb, pb)

    variables = [v.value for v in metric.variables]
    with pytest.raises(Exception, match="KB202"):
        out = update(variables, np.array([1.0, 2.0]), np.array([[0.2], [0.7]], "float32"))
        jax.block_until_ready(out)
