"""keras_binary.report: exact scores against scikit-learn, the bootstrap, the model forms."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

import keras_binary
from keras_binary.evaluation import _data as host_data
from keras_binary.evaluation import _stats
from keras_binary.evaluation._data import sigmoid
from keras_binary.evaluation.report import BinaryReport

BACKEND = keras.backend.backend()

REPRESENTATIONS = ("prob", "prob_col", "prob_pair", "logit_col", "logit_pair", "logit_flat")
ENCODINGS = ("int", "col", "onehot", "bool", "float", "list")


def encode_predictions(p: np.ndarray, representation: str, rng: np.random.Generator):
    """Predictions whose canonical probability is `p`, and the from_logits flag."""
    z = np.log(p) - np.log1p(-p)
    if representation == "prob":
        return p, False
    if representation == "prob_col":
        return p[:, None], False
    if representation == "prob_pair":
        return np.stack([1 - p, p], axis=1), False
    if representation == "logit_col":
        return z[:, None], True
    if representation == "logit_flat":
        return z, True
    shift = rng.normal(size=p.shape)  # softmax is invariant to a common shift
    return np.stack([shift, shift + z], axis=1), True


def encode_labels_as(y: np.ndarray, encoding: str):
    if encoding == "int":
        return y.astype("int64")
    if encoding == "col":
        return y[:, None].astype("float32")
    if encoding == "onehot":
        return np.stack([1 - y, y], axis=1).astype("int32")
    if encoding == "bool":
        return y.astype(bool)
    if encoding == "list":
        return [int(v) for v in y]
    return y.astype("float64")


@st.composite
def binary_data(draw, min_size=2, max_size=60):
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < draw(st.floats(0.1, 0.9))).astype("float64")
    y[0], y[1] = 0.0, 1.0  # both classes
    decimals = draw(st.sampled_from([1, 2, 6]))  # 1 decimal: many ties
    p = np.clip(np.round(rng.random(n), decimals), 0.05, 0.95)
    weighted = draw(st.booleans())
    w = rng.uniform(0.1, 3.0, n) if weighted else None
    return y, p, w, rng


@given(binary_data(), st.sampled_from(REPRESENTATIONS), st.sampled_from(ENCODINGS))
def test_exact_scores_equal_scikit_learn(data, representation, encoding):
    y, p, w, rng = data
    y_pred, from_logits = encode_predictions(p, representation, rng)
    r = keras_binary.report(
        encode_labels_as(y, encoding), y_pred, from_logits=from_logits, sample_weight=w, n_bootstrap=0
    )
    np.testing.assert_allclose(r.y_score, p, rtol=1e-12)
    np.testing.assert_array_equal(r.y_true, y)
    # The ranking uses the raw scores: the logits when given (z1 - z0 of a pair may break a tie of p).
    ranking = host_data.canonical_numpy(y, y_pred, from_logits=from_logits).score
    assert math.isclose(r.auc, skm.roc_auc_score(y, ranking, sample_weight=w), rel_tol=1e-9, abs_tol=1e-12)
    ap = skm.average_precision_score(y, ranking, sample_weight=w)
    assert math.isclose(r.average_precision, ap, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(r.brier, skm.brier_score_loss(y, p, sample_weight=w), rel_tol=1e-9)
    assert math.isclose(r.log_loss, skm.log_loss(y, p, sample_weight=w), rel_tol=1e-9)


@given(binary_data(), st.floats(0.0, 1.0))
def test_rates_equal_scikit_learn(data, threshold):
    y, p, w, _ = data
    r = keras_binary.report(y, p, threshold=threshold, sample_weight=w, n_bootstrap=0)
    pred = (p > threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, sample_weight=w, labels=[0, 1]).ravel()
    np.testing.assert_allclose([r.tp, r.fp, r.tn, r.fn], [tp, fp, tn, fn], rtol=1e-12)
    assert math.isclose(r.sensitivity, skm.recall_score(y, pred, sample_weight=w), rel_tol=1e-9)
    assert math.isclose(r.specificity, skm.recall_score(1 - y, 1 - pred, sample_weight=w), rel_tol=1e-9)
    assert math.isclose(
        r.balanced_accuracy, skm.balanced_accuracy_score(y, pred, sample_weight=w), rel_tol=1e-9
    )
    if pred.any():
        assert math.isclose(r.ppv, skm.precision_score(y, pred, sample_weight=w), rel_tol=1e-9)
        assert math.isclose(r.f1, skm.f1_score(y, pred, sample_weight=w), rel_tol=1e-9)
    else:
        assert math.isnan(r.ppv)
    if 0 < pred.sum() < len(pred):
        mcc = skm.matthews_corrcoef(y, pred, sample_weight=w)
        assert math.isclose(r.mcc, mcc, rel_tol=1e-9, abs_tol=1e-12)
    else:
        assert math.isnan(r.mcc)
    if (pred == 0).any():
        assert math.isclose(r.npv, skm.precision_score(1 - y, 1 - pred, sample_weight=w), rel_tol=1e-9)


@given(binary_data(max_size=40))
def test_ece_is_the_ece_metric(data):
    y, p, w, _ = data
    r = keras_binary.report(y, p, sample_weight=w, n_bootstrap=0, num_bins=10)
    metric = keras_binary.metrics.ECE(num_bins=10)
    metric.update_state(y.astype("float32"), p.astype("float32"), sample_weight=w)
    assert math.isclose(r.ece, float(metric.result()), abs_tol=1e-5)


@given(binary_data(), st.floats(0.0, 1.0))
def test_bootstrap_formulas_at_unit_counts_equal_the_point_estimates(data, threshold):
    y, p, w, _ = data
    point = _stats.point_estimates(y, p, w, threshold)
    same = _stats.identity_stats(y, p, w, threshold)
    for name, value in same.items():
        assert (math.isnan(value) and math.isnan(point[name])) or math.isclose(
            value, point[name], rel_tol=1e-9, abs_tol=1e-12
        ), name


@given(binary_data(max_size=30), st.integers(0, 2**16))
def test_a_resample_equals_the_statistics_of_the_resampled_data(data, seed):
    # The vectorised statistics of a count vector are those of the data repeated by the counts.
    y, p, w, _ = data
    sorted_data = _stats._Sorted(y, p, w, 0.5, 15)
    rng = np.random.default_rng(seed)
    counts = np.zeros((1, y.size))
    counts[:, sorted_data.pos] = _stats._counts(rng, 1, sorted_data.pos.size)
    counts[:, sorted_data.neg] = _stats._counts(rng, 1, sorted_data.neg.size)
    got = {k: float(v[0]) for k, v in sorted_data.stats(counts).items()}
    reps = counts[0].astype(int)
    ws = sorted_data.w
    want = _stats.point_estimates(
        np.repeat(sorted_data.y, reps), np.repeat(sorted_data.p, reps), np.repeat(ws, reps), 0.5
    )
    for name in _stats.WITH_INTERVAL:
        assert (math.isnan(got[name]) and math.isnan(want[name])) or math.isclose(
            got[name], want[name], rel_tol=1e-9, abs_tol=1e-12
        ), name


def test_resamples_are_stratified():
    rng = np.random.default_rng(0)
    counts = _stats._counts(rng, 50, 7)
    assert counts.shape == (50, 7)
    np.testing.assert_array_equal(counts.sum(axis=1), 7)
    assert (counts != 1).any()  # not the identity


def test_bootstrap_is_seeded_and_the_interval_brackets_the_estimate():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = y + rng.normal(size=300)
    a = keras_binary.report(y, s, from_logits=True, n_bootstrap=300, seed=7)
    b = keras_binary.report(y, s, from_logits=True, n_bootstrap=300, seed=7)
    c = keras_binary.report(y, s, from_logits=True, n_bootstrap=300, seed=8)
    assert a.intervals == b.intervals
    assert a.mcc_ci != c.mcc_ci  # bootstrapped
    assert a.auc_ci == c.auc_ci  # DeLong: no resampling
    for name in _stats.WITH_INTERVAL:
        low, high = a.intervals[name]
        assert low <= a.values[name] <= high, name
    wider = keras_binary.report(y, s, from_logits=True, n_bootstrap=300, seed=7, confidence=0.99)
    assert wider.auc_ci[0] <= a.auc_ci[0] and wider.auc_ci[1] >= a.auc_ci[1]


def test_bootstrap_interval_covers_the_true_auc():
    # A cheap version of benchmarks/bootstrap_coverage.py: binormal scores with a known AUC.
    from scipy.stats import norm

    delta = 1.0
    true_auc = norm.cdf(delta / math.sqrt(2))
    rng = np.random.default_rng(2024)
    covered = 0
    trials = 60
    for i in range(trials):
        n1, n0 = 60, 90
        s = np.concatenate([rng.normal(delta, 1, n1), rng.normal(0, 1, n0)])
        y = np.concatenate([np.ones(n1), np.zeros(n0)])
        r = keras_binary.report(y, s, from_logits=True, n_bootstrap=300, seed=i)
        covered += r.auc_ci[0] <= true_auc <= r.auc_ci[1]
    # Nominal 95%: 60 trials give 57 on average; fewer than 50 would be far off.
    assert covered >= 50, covered


def test_undefined_values_are_nan_never_a_number():
    one_class = keras_binary.report([1, 1, 1], [0.2, 0.6, 0.9], n_bootstrap=100)
    for name in ("auc", "specificity", "mcc", "balanced_accuracy"):
        assert math.isnan(one_class.values[name]), name
        assert all(math.isnan(v) for v in one_class.intervals[name]), name
    assert one_class.sensitivity == pytest.approx(2 / 3)
    none_predicted = keras_binary.report([0, 1, 1], [0.2, 0.6, 0.9], threshold=1.0, n_bootstrap=50)
    assert math.isnan(none_predicted.ppv) and math.isnan(none_predicted.mcc)
    assert none_predicted.sensitivity == 0.0 and none_predicted.f1 == 0.0
    negatives_only = keras_binary.report([0, 0], [0.2, 0.6], n_bootstrap=0)
    assert math.isnan(negatives_only.average_precision) and math.isnan(negatives_only.sensitivity)


def test_to_dict_is_json_ready_with_the_documented_keys():
    r = keras_binary.report([0, 0, 1, 1, 1], [0.1, 0.7, 0.4, 0.8, 0.9], n_bootstrap=50)
    d = r.to_dict()
    for key in (
        "auc",
        "auc_ci",
        "average_precision",
        "brier",
        "ece",
        "threshold",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "tp",
        "fp",
        "tn",
        "fn",
        "log_loss",
        "prevalence",
        "mcc",
        "f1",
        "balanced_accuracy",
    ):
        assert key in d, key
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["tp"] == 2.0 and d["fp"] == 1.0 and d["tn"] == 1.0 and d["fn"] == 1.0
    assert isinstance(d["auc_ci"], list) and len(d["auc_ci"]) == 2
    nan_dict = keras_binary.report([1, 1], [0.2, 0.6], n_bootstrap=10).to_dict()
    assert nan_dict["auc"] is None and nan_dict["auc_ci"] == [None, None]
    json.dumps(nan_dict, allow_nan=False)


def test_to_dict_names_each_interval_method_once():
    # The old single `interval_method` ("stratified percentile bootstrap") was stale:
    # the AUC is logit DeLong and the proportions Wilson by default.
    r = keras_binary.report([0, 0, 1, 1, 1, 0], [0.1, 0.7, 0.4, 0.8, 0.9, 0.2], n_bootstrap=20)
    d = r.to_dict()
    assert "interval_method" not in d
    assert d["interval_methods"] == r.methods
    assert d["interval_methods"]["auc"] == "logit DeLong"
    assert d["interval_methods"]["sensitivity"] == "Wilson"
    assert d["interval_methods"]["brier"] == "stratified bootstrap, percentile"
    assert d["auc_interval"] == "logit-delong" and d["proportion_interval"] == "wilson"
    boot = keras_binary.report(
        [0, 0, 1, 1, 1, 0], [0.1, 0.7, 0.4, 0.8, 0.9, 0.2], n_bootstrap=20, auc_interval="bootstrap"
    ).to_dict()
    assert boot["interval_methods"]["auc"] == "stratified bootstrap, percentile"


def test_str_is_readable():
    r = keras_binary.report([0, 0, 1, 1, 1], [0.1, 0.7, 0.4, 0.8, 0.9], n_bootstrap=50, name="resnet")
    text = str(r)
    assert text.splitlines()[0].startswith("BinaryReport 'resnet': 5 examples, 3 positive, 2 negative")
    assert "ROC AUC" in text and "tp=2  fp=1  tn=1  fn=1" in text and "95%" in text
    assert "0.6667" in text  # the AUC
    assert "logit DeLong for the AUC" in text and "Wilson for the proportions" in text
    assert "resnet" in repr(r)


def test_report_keeps_the_interface_of_the_plots():
    r = keras_binary.report([0, 1, 1], [0.2, 0.7, 0.4], threshold=0.3, n_bootstrap=0, name="a")
    assert isinstance(r, BinaryReport)
    assert r.y_true.dtype == np.float64 and r.y_true.ndim == 1
    assert r.y_score.dtype == np.float64 and r.y_score.ndim == 1
    assert r.sample_weight is None and r.threshold == 0.3 and r.name == "a"
    with pytest.raises(AttributeError):
        r.threshold = 0.5  # frozen
    with pytest.raises(AttributeError):
        _ = r.no_such_statistic


def test_logits_are_probabilities_through_the_sigmoid():
    z = np.array([-3.0, 0.5, 2.0, -0.1])
    r = keras_binary.report([0, 1, 1, 0], z[:, None], from_logits=True, n_bootstrap=0)
    np.testing.assert_allclose(r.y_score, sigmoid(z))


def test_report_errors():
    with pytest.raises(keras_binary.BinaryLabelError, match="KB214"):
        keras_binary.report([0.0, 0.3, 1.0], [0.2, 0.5, 0.6])
    with pytest.raises(keras_binary.BinaryLabelError, match="KB202"):
        keras_binary.report([1, 2, 2], [0.2, 0.5, 0.6])
    with pytest.raises(keras_binary.BinaryLabelError, match="KB205"):
        keras_binary.report([0, 1, 1], [-2.0, 0.5, 3.0])
    with pytest.raises(keras_binary.BinaryLabelError, match="KB208") as not_one_hot:
        keras_binary.report(np.array([[1, 0], [1, 1], [0, 1]]), [0.2, 0.5, 0.6])
    assert "to_categorical" in not_one_hot.value.fix
    with pytest.raises(keras_binary.BinaryLabelError, match="KB208") as scores:
        keras_binary.report(np.array([[0.7, 0.9], [0.2, 0.1]]), [0.2, 0.5])
    assert "argmax" in scores.value.fix
    with pytest.raises(keras_binary.BinaryShapeError, match="KB102"):
        keras_binary.report([0, 1], np.zeros((2, 1000)))
    with pytest.raises(keras_binary.BinaryShapeError, match="KB104"):
        keras_binary.report([0, 1, 1], [0.2, 0.5])
    with pytest.raises(keras_binary.BinaryShapeError, match="KB120"):
        keras_binary.report([0, 1], [0.2, 0.5], sample_weight=[1.0, 2.0, 3.0])
    for kwargs in ({"n_bootstrap": -1}, {"n_bootstrap": 1.5}, {"confidence": 1.0}, {"num_bins": 0}):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB363"):
            keras_binary.report([0, 1], [0.2, 0.5], **kwargs)
    for threshold in (1.5, -0.1, float("nan"), True):
        with pytest.raises(keras_binary.BinaryConfigError, match="KB361"):
            keras_binary.report([0, 1], [0.2, 0.5], threshold=threshold)


# ---------------------------------------------------------------------------
# report(model, x, y) and report(model, dataset).


def _model(activation="auto", units=1, threshold=None):
    inputs = keras.Input((3,))
    head = keras_binary.BinaryHead(units=units, activation=activation, threshold=threshold, name="head")
    return keras.Model(inputs, head(inputs), name="tiny")


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype("float32")
    return x, y


@pytest.mark.parametrize(
    ("activation", "units"),
    [("auto", 1), (None, 1), ("auto", 2), (None, 2)],
    ids=["sigmoid", "logit", "softmax", "logit_pair"],
)
def test_model_report_equals_the_report_of_its_predictions(activation, units):
    model = _model(activation, units)
    x, y = _data()
    got = keras_binary.report(model, x, y, batch_size=16, verbose=0, n_bootstrap=100)
    want = keras_binary.report(
        y, model.predict(x, verbose=0), from_logits=activation is None, n_bootstrap=100
    )
    np.testing.assert_allclose(got.y_score, want.y_score, rtol=1e-6)
    assert got.auc == pytest.approx(want.auc) and got.name == "tiny"
    assert got.intervals.keys() == want.intervals.keys()


def test_model_report_from_batches_and_pydataset():
    model = _model()
    x, y = _data(40)
    w = np.linspace(0.5, 2.0, 40)
    batches = [(x[i : i + 16], y[i : i + 16], w[i : i + 16]) for i in range(0, 40, 16)]
    got = keras_binary.report(model, batches, verbose=0, n_bootstrap=0)
    want = keras_binary.report(y, model.predict(x, verbose=0), sample_weight=w, n_bootstrap=0)
    assert got.auc == pytest.approx(want.auc) and got.tp == pytest.approx(want.tp)
    np.testing.assert_allclose(got.sample_weight, w)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]

    from_pydataset = keras_binary.report(model, Batches(), verbose=0, n_bootstrap=0)
    unweighted = keras_binary.report(y, model.predict(x, verbose=0), n_bootstrap=0)
    assert from_pydataset.auc == pytest.approx(unweighted.auc) and from_pydataset.sample_weight is None


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.data batches: the TensorFlow backend")
def test_model_report_from_tf_data():
    import tensorflow as tf

    model = _model()
    x, y = _data(40)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    got = keras_binary.report(model, dataset, verbose=0, n_bootstrap=0)
    want = keras_binary.report(y, model.predict(x, verbose=0), n_bootstrap=0)
    assert got.auc == pytest.approx(want.auc) and got.values["n"] == 40


def test_model_report_progress_bar(capsys):
    model = _model()
    x, y = _data(40)
    keras_binary.report(model, x, y, batch_size=10, verbose=0, n_bootstrap=0)
    assert capsys.readouterr().out == ""
    keras_binary.report(model, x, y, batch_size=10, verbose=1, n_bootstrap=0)
    assert "4/4" in capsys.readouterr().out


def test_model_report_uses_the_stored_threshold():
    model = _model(threshold=0.7)
    x, y = _data()
    r = keras_binary.report(model, x, y, verbose=0, n_bootstrap=0)
    assert r.threshold == 0.7
    p = model.predict(x, verbose=0)[:, 0]
    assert r.tp == float(np.sum((p > 0.7) & (y == 1)))
    assert keras_binary.report(model, x, y, threshold=0.2, verbose=0, n_bootstrap=0).threshold == 0.2
    assert keras_binary.report(_model(), x, y, verbose=0, n_bootstrap=0).threshold == 0.5


def test_model_report_errors():
    model = _model()
    x, y = _data(8)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB365"):
        keras_binary.report(model, x)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB365"):
        keras_binary.report(model, [x[:4], x[4:]], verbose=0)  # batches without labels
    inputs = keras.Input((3,))
    two = keras.Model(inputs, [keras_binary.BinaryHead()(inputs), keras_binary.BinaryHead()(inputs)])
    with pytest.raises(keras_binary.BinaryConfigError, match="KB366"):
        keras_binary.report(two, x, y)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB301"):
        keras_binary.report(y, y, y)
    with pytest.raises(keras_binary.BinaryConfigError, match="KB301"):
        keras_binary.report(model, [(x, y)], sample_weight=np.ones(8), verbose=0)
