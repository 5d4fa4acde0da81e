"""Drop-in compatibility with keras.metrics and keras.losses, checked against Keras itself.

1. Same arguments, same numbers: for every metric and loss with a Keras
   counterpart, the Keras object and the keras_binary object are built from
   one argument dictionary and fed the same canonical data (binary `(N, 1)`
   and multi-label `(N, K)`, with sample weights); the results are equal.
   keras_binary reads `(N, K)` as K labels only when told (`multi_label=True`,
   added to the keras_binary arguments of the multi-label cases): that, and
   every other deliberate difference, is one row of docs/keras-compatibility.md.
2. Every argument of every Keras constructor (`inspect.signature`) is
   either supported by the keras_binary class (it is in its signature, with
   Keras's default unless listed) or listed as refused, with the coded error
   the refusal raises; the test fails on any other.
3. The undefined cases where keras_binary deliberately differs from Keras
   (Keras's 0, keras_binary's NaN with a KB290 warning).
"""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import to_numpy
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary import metrics as kbm
from keras_binary.errors import BinaryConfigError, UndefinedMetricWarning

N, K = 48, 3
PAGE = Path(__file__).resolve().parents[1] / "docs" / "keras-compatibility.md"

# keras_binary class -> its Keras counterpart.
COUNTERPARTS = {
    kbm.BinaryAccuracy: keras.metrics.BinaryAccuracy,
    kbm.Precision: keras.metrics.Precision,
    kbm.Recall: keras.metrics.Recall,
    kbm.AUC: keras.metrics.AUC,
    kbm.SensitivityAtSpecificity: keras.metrics.SensitivityAtSpecificity,
    kbm.SpecificityAtSensitivity: keras.metrics.SpecificityAtSensitivity,
    kbm.PrecisionAtRecall: keras.metrics.PrecisionAtRecall,
    kbm.RecallAtPrecision: keras.metrics.RecallAtPrecision,
    kbm.BinaryCrossentropy: keras.metrics.BinaryCrossentropy,
    kbm.F1Score: keras.metrics.F1Score,
    kbm.FBetaScore: keras.metrics.FBetaScore,
    keras_binary.SafeBCE: keras.losses.BinaryCrossentropy,
    keras_binary.SafeFocal: keras.losses.BinaryFocalCrossentropy,
}


def _data(kind: str, seed: int = 0):
    """Canonical labels, scores and per-example weights (no score on a threshold)."""
    rng = np.random.default_rng(seed)
    shape = (N, 1) if kind in ("binary", "logits") else (N, K)
    y = rng.integers(0, 2, shape)
    # Informative scores on a grid of odd multiples of 1/998: none on the
    # thresholds used below (multiples of 0.05 and i / 199, i / 49).
    p = np.clip(rng.normal(0.5 + 0.2 * (2 * y - 1), 0.25), 0.001, 0.999)
    p = ((2 * np.round(p * 499 - 0.5) + 1) / 998).astype("float32")
    w = rng.choice([0.0, 0.5, 1.0, 2.0], size=N).astype("float32")
    if kind == "logits":
        p = np.log(p / (1 - p)).astype("float32")
    return y.astype("float32"), p, w


# (id, class, Keras arguments, data kind, extra keras_binary arguments)
MULTI = {"multi_label": True}
CASES = [
    ("accuracy", kbm.BinaryAccuracy, {}, "binary", {}),
    ("accuracy_t0.3", kbm.BinaryAccuracy, {"threshold": 0.3}, "binary", {}),
    ("accuracy_multi", kbm.BinaryAccuracy, {"threshold": 0.6}, "multi", MULTI),
    ("precision", kbm.Precision, {}, "binary", {}),
    ("precision_t", kbm.Precision, {"thresholds": 0.35}, "binary", {}),
    ("precision_list", kbm.Precision, {"thresholds": [0.25, 0.5, 0.75]}, "binary", {}),
    ("precision_multi", kbm.Precision, {}, "multi", MULTI),
    ("precision_class_id", kbm.Precision, {"class_id": 2, "thresholds": [0.3, 0.6]}, "multi", MULTI),
    ("precision_top_k", kbm.Precision, {"top_k": 2}, "multi", MULTI),
    ("precision_top_k_class_id", kbm.Precision, {"top_k": 1, "class_id": 1}, "multi", MULTI),
    ("precision_top_k_t", kbm.Precision, {"top_k": 2, "thresholds": 0.55}, "multi", MULTI),
    ("recall", kbm.Recall, {"name": "r", "dtype": "float32"}, "binary", {}),
    ("recall_list", kbm.Recall, {"thresholds": [0.2, 0.45, 0.8]}, "binary", {}),
    ("recall_multi", kbm.Recall, {"thresholds": 0.4}, "multi", MULTI),
    ("recall_class_id", kbm.Recall, {"class_id": 0}, "multi", MULTI),
    ("recall_top_k", kbm.Recall, {"top_k": 2, "class_id": 2}, "multi", MULTI),
    ("auc", kbm.AUC, {}, "binary", {}),
    ("auc_50", kbm.AUC, {"num_thresholds": 50, "summation_method": "minoring"}, "binary", {}),
    ("auc_majoring", kbm.AUC, {"summation_method": "majoring"}, "binary", {}),
    ("auc_pr", kbm.AUC, {"curve": "PR"}, "binary", {}),
    ("auc_prgain", kbm.AUC, {"curve": "PRGAIN", "num_thresholds": 99}, "binary", {}),
    ("auc_thresholds", kbm.AUC, {"thresholds": [0.1, 0.3, 0.5, 0.7, 0.9]}, "binary", {}),
    ("auc_logits", kbm.AUC, {"from_logits": True}, "logits", {}),
    ("auc_multi_label", kbm.AUC, {"multi_label": True}, "multi", {}),
    ("auc_multi_label_pr", kbm.AUC, {"multi_label": True, "curve": "PR", "num_labels": K}, "multi", {}),
    ("auc_label_weights", kbm.AUC, {"multi_label": True, "label_weights": [1.0, 0.0, 3.0]}, "multi", {}),
    ("auc_pooled", kbm.AUC, {}, "multi", {"multi_label": True, "pool_labels": True}),
    (
        "auc_pooled_label_weights",
        kbm.AUC,
        {"label_weights": [0.5, 2.0, 1.0]},
        "multi",
        {"multi_label": True, "pool_labels": True},
    ),
    ("sens_at_spec", kbm.SensitivityAtSpecificity, {"specificity": 0.7}, "binary", {}),
    (
        "sens_at_spec_50",
        kbm.SensitivityAtSpecificity,
        {"specificity": 0.6, "num_thresholds": 50},
        "binary",
        {},
    ),
    (
        "sens_at_spec_class_id",
        kbm.SensitivityAtSpecificity,
        {"specificity": 0.7, "class_id": 1},
        "multi",
        MULTI,
    ),
    ("spec_at_sens", kbm.SpecificityAtSensitivity, {"sensitivity": 0.8}, "binary", {}),
    (
        "spec_at_sens_class_id",
        kbm.SpecificityAtSensitivity,
        {"sensitivity": 0.8, "class_id": 2},
        "multi",
        MULTI,
    ),
    ("prec_at_rec", kbm.PrecisionAtRecall, {"recall": 0.6}, "binary", {}),
    ("prec_at_rec_multi", kbm.PrecisionAtRecall, {"recall": 0.6}, "multi", MULTI),
    ("rec_at_prec", kbm.RecallAtPrecision, {"precision": 0.7, "num_thresholds": 50}, "binary", {}),
    ("rec_at_prec_class_id", kbm.RecallAtPrecision, {"precision": 0.7, "class_id": 0}, "multi", MULTI),
    ("bce_metric", kbm.BinaryCrossentropy, {}, "binary", {}),
    ("bce_metric_smooth", kbm.BinaryCrossentropy, {"label_smoothing": 0.1}, "binary", {}),
    ("bce_metric_logits", kbm.BinaryCrossentropy, {"from_logits": True}, "logits", {}),
    ("bce_metric_multi", kbm.BinaryCrossentropy, {}, "multi", MULTI),
    ("f1", kbm.F1Score, {"threshold": 0.5}, "binary", {}),
    ("f1_micro", kbm.F1Score, {"threshold": 0.4, "average": "micro"}, "binary", {}),
    ("f1_multi_none", kbm.F1Score, {"threshold": 0.5}, "multi", MULTI),
    ("f1_multi_micro", kbm.F1Score, {"threshold": 0.5, "average": "micro"}, "multi", MULTI),
    ("f1_multi_macro", kbm.F1Score, {"threshold": 0.45, "average": "macro"}, "multi", MULTI),
    ("f1_multi_weighted", kbm.F1Score, {"threshold": 0.5, "average": "weighted"}, "multi", MULTI),
    ("fbeta", kbm.FBetaScore, {"beta": 2.0, "threshold": 0.5}, "binary", {}),
    (
        "fbeta_multi_macro",
        kbm.FBetaScore,
        {"beta": 0.5, "threshold": 0.5, "average": "macro"},
        "multi",
        MULTI,
    ),
    ("fbeta_multi_none", kbm.FBetaScore, {"beta": 2.0, "threshold": 0.6}, "multi", MULTI),
    ("bce", keras_binary.SafeBCE, {}, "binary", {}),
    ("bce_logits_smooth", keras_binary.SafeBCE, {"from_logits": True, "label_smoothing": 0.2}, "logits", {}),
    ("bce_sum", keras_binary.SafeBCE, {"reduction": "sum", "axis": -1}, "binary", {}),
    ("bce_none", keras_binary.SafeBCE, {"reduction": None}, "binary", {}),
    ("bce_multi", keras_binary.SafeBCE, {"axis": -1}, "multi", MULTI),
    ("bce_multi_none", keras_binary.SafeBCE, {"reduction": "none"}, "multi", MULTI),
    ("focal", keras_binary.SafeFocal, {}, "binary", {}),
    ("focal_gamma", keras_binary.SafeFocal, {"gamma": 1.0, "label_smoothing": 0.1}, "binary", {}),
    ("focal_balanced", keras_binary.SafeFocal, {"apply_class_balancing": True, "alpha": 0.4}, "binary", {}),
    ("focal_logits", keras_binary.SafeFocal, {"from_logits": True, "reduction": "sum"}, "logits", {}),
    ("focal_multi", keras_binary.SafeFocal, {"gamma": 3.0}, "multi", MULTI),
]


def _run(obj, y, p, w):
    if isinstance(obj, keras.losses.Loss):
        return to_numpy(obj(y, p, sample_weight=w))
    obj.update_state(y[: N // 2], p[: N // 2], sample_weight=w[: N // 2])
    obj.update_state(y[N // 2 :], p[N // 2 :], sample_weight=w[N // 2 :])
    return to_numpy(obj.result())


@pytest.mark.parametrize(("cls", "args", "kind", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_arguments_same_result(cls, args, kind, extra):
    y, p, w = _data(kind)
    expected = _run(COUNTERPARTS[cls](**args), y, p, w)
    got = _run(cls(**args, **extra), y, p, w)
    assert np.all(np.isfinite(expected))
    # Keras's F-scores are of shape (1,) on a binary output; keras_binary's a scalar.
    np.testing.assert_allclose(got.ravel(), expected.ravel(), rtol=1e-5, atol=1e-5)


def test_every_class_with_a_counterpart_has_cases():
    assert {c[1] for c in CASES} == set(COUNTERPARTS)
    assert {"binary", "multi"} <= {c[3] for c in CASES}


@given(seed=st.integers(0, 2**16))
def test_same_result_on_random_data(seed):
    """A few configurations, on data drawn by Hypothesis (fixed shapes: one trace per backend)."""
    for kind, cls, args, extra in (
        ("multi", kbm.AUC, {"multi_label": True, "num_thresholds": 37}, {}),
        ("multi", kbm.Precision, {"top_k": 2, "class_id": 1}, MULTI),
        ("multi", kbm.F1Score, {"threshold": 0.5, "average": "weighted"}, MULTI),
        ("binary", kbm.Recall, {"thresholds": [0.3, 0.6]}, {}),
    ):
        y, p, w = _data(kind, seed)
        expected = _run(COUNTERPARTS[cls](**args), y, p, w)
        if not np.all(np.isfinite(expected)) or np.any(expected == 0.0):
            continue  # a Keras 0 may be an undefined value (keras_binary: NaN), tested below
        got = _run(cls(**args, **extra), y, p, w)
        np.testing.assert_allclose(got.ravel(), expected.ravel(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# Every Keras argument: supported, or refused with a coded error.

# (class, Keras argument) -> (arguments that are refused, the code).
REFUSED = {
    (kbm.Precision, "top_k"): ({"top_k": 1}, "KB330"),  # on a binary output
    (kbm.Recall, "top_k"): ({"top_k": 1}, "KB330"),
    (kbm.F1Score, "threshold"): ({"threshold": None}, "KB330"),  # Keras's argmax default
    (kbm.FBetaScore, "threshold"): ({"threshold": None}, "KB330"),
    (kbm.AUC, "num_labels"): ({"num_labels": 3}, "KB331"),  # without multi_label=True
    (kbm.AUC, "label_weights"): ({"label_weights": [1.0]}, "KB331"),
    (keras_binary.SafeBCE, "axis"): ({"axis": 1}, "KB333"),  # not the last axis
    (keras_binary.SafeFocal, "axis"): ({"axis": 0}, "KB333"),
}
for _cls in (kbm.Precision, kbm.Recall, kbm.SensitivityAtSpecificity, kbm.SpecificityAtSensitivity):
    REFUSED[(_cls, "class_id")] = ({"class_id": 0}, "KB329")  # without multi_label=True
for _cls in (kbm.PrecisionAtRecall, kbm.RecallAtPrecision):
    REFUSED[(_cls, "class_id")] = ({"class_id": 0}, "KB329")

# (class, argument) -> why keras_binary's default differs from Keras's.
DEFAULTS_DIFFER = {
    (kbm.F1Score, "threshold"): "Keras's None is the argmax of a multi-class row: no binary meaning",
    (kbm.FBetaScore, "threshold"): "Keras's None is the argmax of a multi-class row: no binary meaning",
    (kbm.AUC, "name"): "the same name: Keras's None becomes 'auc'",
    (keras_binary.SafeBCE, "name"): "the loss's own name, safe_bce",
    (keras_binary.SafeFocal, "name"): "the loss's own name, safe_focal",
}
for _cls, _name in (
    (kbm.SensitivityAtSpecificity, "sensitivity_at_specificity"),
    (kbm.SpecificityAtSensitivity, "specificity_at_sensitivity"),
    (kbm.PrecisionAtRecall, "precision_at_recall"),
    (kbm.RecallAtPrecision, "recall_at_precision"),
):
    DEFAULTS_DIFFER[(_cls, "name")] = f"the same name: Keras's None becomes {_name!r}"


def _parameters(cls):
    return {
        name: p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


ARGUMENTS = [(cls, name) for cls, keras_cls in COUNTERPARTS.items() for name in _parameters(keras_cls)]


@pytest.mark.parametrize(("cls", "name"), ARGUMENTS, ids=[f"{c.__name__}-{n}" for c, n in ARGUMENTS])
def test_every_keras_argument_is_supported_or_refused_with_a_code(cls, name):
    keras_param = _parameters(COUNTERPARTS[cls])[name]
    ours = _parameters(cls)
    if (cls, name) in REFUSED:
        refused, code = REFUSED[(cls, name)]
        required = {p: 0.5 for p, q in ours.items() if q.default is q.empty}
        with pytest.raises(BinaryConfigError) as info:
            cls(**required, **refused)
        assert info.value.code == code
    assert name in ours or (cls, name) in REFUSED, (
        f"{cls.__name__} neither supports nor refuses Keras's {name!r}"
    )
    if name in ours and (cls, name) not in DEFAULTS_DIFFER:
        assert ours[name].default == keras_param.default or (
            keras_param.default is None and name == "thresholds"  # None: 0.5, as Keras
        ), f"{cls.__name__}({name}=...): default {ours[name].default!r}, Keras {keras_param.default!r}"


def test_keras_positional_order_is_kept():
    """`keras.metrics.Precision(0.3)` and `kb.metrics.Precision(0.3)` mean the same."""
    for cls, keras_cls in COUNTERPARTS.items():
        theirs = [n for n, p in _parameters(keras_cls).items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        ours = [n for n, p in _parameters(cls).items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        if cls in (keras_binary.SafeBCE, keras_binary.SafeFocal) or theirs[0] == "name":
            continue  # keras_binary's first arguments are Keras's keywords (docs table)
        assert ours[: len(theirs)] == theirs, cls.__name__


def test_the_compatibility_page_lists_every_refusal_and_default():
    text = PAGE.read_text(encoding="utf-8")
    for (cls, name), (_, code) in REFUSED.items():
        assert code in text and f"`{name}`" in text, (cls.__name__, name)
    for code in ("KB327", "KB328", "KB290"):
        assert code in text


# ---------------------------------------------------------------------------
# Where keras_binary deliberately differs: undefined values and the threshold rule.


def _nan_with_warning(metric):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = to_numpy(metric.result())
        again = to_numpy(metric.result())
    codes = [str(w.message).split(":")[0] for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    return value, again, codes


UNDEFINED = [
    (kbm.Precision, {}, "binary", "no positive predictions"),
    (kbm.Recall, {}, "binary", "no positive labels"),
    (kbm.AUC, {}, "binary", "no positive or no negative labels"),
    (kbm.AUC, {"multi_label": True}, "multi", "for at least one label"),
    (kbm.F1Score, {"threshold": 0.5}, "binary", "no positive labels and no positive predictions"),
    (kbm.SensitivityAtSpecificity, {"specificity": 0.5}, "binary", "no positive"),
]


@pytest.mark.parametrize(
    ("cls", "args", "kind", "reason"), UNDEFINED, ids=lambda v: getattr(v, "__name__", None)
)
def test_undefined_is_nan_and_one_warning_where_keras_gives_zero(cls, args, kind, reason):
    y, p, w = _data(kind)
    y = np.zeros_like(y)  # one class only: no positives
    p = np.minimum(p, 0.4).astype("float32")  # and no positive predictions
    keras_metric = COUNTERPARTS[cls](**args)
    keras_metric.update_state(y, p, sample_weight=w)
    assert np.all(to_numpy(keras_metric.result()) == 0.0)  # Keras: a plausible-looking 0
    extra = MULTI if kind == "multi" and cls is not kbm.AUC else {}
    metric = cls(**args, **extra)
    metric.update_state(y, p, sample_weight=w)
    value, again, codes = _nan_with_warning(metric)
    assert np.all(np.isnan(value)) and np.all(np.isnan(again))
    assert codes == ["KB290"]  # once per metric object, not once per read
    other = cls(**args, **extra)
    other.update_state(y, p, sample_weight=w)
    with pytest.warns(UndefinedMetricWarning, match=rf"KB290: {cls.__name__} '{other.name}'.*{reason}"):
        other.result()


def test_undefined_in_a_compiled_step_is_nan_in_the_logs_and_warns_at_the_end():
    """A one-class validation split: `evaluate` shows nan and warns once, with the code."""
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(loss=keras_binary.SafeBCE(), metrics=[kbm.AUC(name="auc"), kbm.Precision(name="p")])
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs = model.evaluate(x, np.zeros(32, "float32"), batch_size=8, verbose=0, return_dict=True)
    assert np.isnan(logs["auc"])
    messages = [str(w.message) for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    assert any(m.startswith("KB290: AUC 'auc'") for m in messages), messages


def test_defined_results_never_warn():
    y, p, w = _data("binary")
    metric = kbm.F1Score()
    metric.update_state(y, p, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        assert np.isfinite(to_numpy(metric.result()))


@pytest.mark.parametrize(
    "make",
    [
        lambda: kbm.Precision(threshold=0.0, from_logits=True),
        lambda: kbm.Recall(thresholds=[0.0, 0.5], from_logits=True),
        lambda: kbm.BinaryAccuracy(threshold=1.0, from_logits=True),
        lambda: kbm.F1Score(threshold=-1.0, from_logits=True),
        lambda: kbm.MatthewsCorrelation(threshold=0.0, from_logits=True),
        lambda: kbm.BalancedAccuracy(threshold=2.0, from_logits=True),
        lambda: kbm.Specificity(threshold=0.0, from_logits=True),
        lambda: kbm.AUC(thresholds=[-1.0, 0.0, 1.0], from_logits=True),
    ],
)
def test_a_logit_space_threshold_is_kb328(make):
    with pytest.raises(BinaryConfigError) as info:
        make()
    assert info.value.code == "KB328"
    assert re.search(r"Fix: threshold=0\.\d+, from_logits=True", str(info.value))


def test_threshold_is_a_probability_also_with_logits():
    """Keras's `Precision(thresholds=0)` on logits is `threshold=0.5, from_logits=True` here."""
    y, z, w = _data("logits")
    expected = _run(keras.metrics.Precision(thresholds=0.0), y, z, w)  # "logit > 0"
    got = _run(kbm.Precision(threshold=0.5, from_logits=True), y, z, w)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert "threshold=0.2689, from_logits=True" in _kb328_fix(-1.0)


def _kb328_fix(threshold):
    with pytest.raises(BinaryConfigError) as info:
        kbm.Precision(threshold=threshold, from_logits=True)
    return str(info.value)


def test_both_threshold_spellings_is_kb327():
    with pytest.raises(BinaryConfigError) as info:
        kbm.Precision(threshold=0.5, thresholds=[0.3, 0.7])
    assert info.value.code == "KB327"


@pytest.mark.parametrize("args", [{"beta": 1}, {"threshold": 1}, {"beta": 1.0, "threshold": 1}])
def test_fbeta_validates_types_as_keras(args):
    with pytest.raises(ValueError):
        keras.metrics.FBetaScore(**{"threshold": 0.5, **args})
    with pytest.raises(BinaryConfigError) as info:
        kbm.FBetaScore(**args)
    assert info.value.code == "KB321"
    assert "Python float" in str(info.value)


def test_unknown_average_is_kb332():
    with pytest.raises(ValueError):
        keras.metrics.F1Score(average="samples")
    with pytest.raises(BinaryConfigError) as info:
        kbm.F1Score(average="samples")
    assert info.value.code == "KB332"


def test_class_id_outside_the_labels_is_kb329():
    y, p, w = _data("multi")
    with pytest.raises(BinaryConfigError) as info:
        kbm.Recall(class_id=K, multi_label=True).update_state(y, p)
    assert info.value.code == "KB329"


@pytest.mark.parametrize(
    "make",
    [
        lambda: kbm.Precision(thresholds=[0.3, 0.6], name="p"),
        lambda: kbm.Recall(top_k=2, class_id=1, multi_label=True),
        lambda: kbm.AUC(multi_label=True, num_labels=K, label_weights=[1.0, 2.0, 0.5]),
        lambda: kbm.AUC(multi_label=True, pool_labels=True, label_weights=[1.0, 2.0, 0.5]),
        lambda: kbm.F1Score(average="weighted", multi_label=True),
        lambda: kbm.FBetaScore(beta=2.0, average="macro", multi_label=True),
        lambda: kbm.RecallAtPrecision(0.7, class_id=2, multi_label=True),
        lambda: keras_binary.SafeBCE(axis=-1),
        lambda: keras_binary.SafeFocal(gamma=1.0, axis=-1),
    ],
)
def test_new_arguments_survive_a_config_round_trip(make):
    obj = make()
    clone = type(obj).from_config(obj.get_config())
    assert clone.get_config() == obj.get_config()
    y, p, w = _data("multi")
    if not isinstance(obj, keras.losses.Loss) and (obj.get_config().get("multi_label")):
        np.testing.assert_allclose(_run(clone, y, p, w), _run(obj, y, p, w), rtol=1e-6)


def test_threshold_result_reaches_the_result():
    """The threshold that `threshold_result()` gives reproduces `result()` on the data."""
    y, p, w = _data("binary")
    for metric, rates in (
        (kbm.SensitivityAtSpecificity(0.7), ("sens", "spec")),
        (kbm.SpecificityAtSensitivity(0.8), ("spec", "sens")),
        (kbm.PrecisionAtRecall(0.6), ("prec", "sens")),
        (kbm.RecallAtPrecision(0.7), ("sens", "prec")),
    ):
        metric.update_state(y, p, sample_weight=w)
        t = float(to_numpy(metric.threshold_result()))
        pred = p.ravel() > t
        yy, ww = y.ravel(), w
        tp, fp = np.sum(ww * yy * pred), np.sum(ww * (1 - yy) * pred)
        fn, tn = np.sum(ww * yy * ~pred), np.sum(ww * (1 - yy) * ~pred)
        values = {"sens": tp / (tp + fn), "spec": tn / (tn + fp), "prec": tp / (tp + fp)}
        assert values[rates[0]] == pytest.approx(float(to_numpy(metric.result())), abs=1e-5)
        assert values[rates[1]] >= metric.value - 1e-6


def test_the_same_numbers_in_compile_fit_and_evaluate():
    """Multi-label metrics with state built at the first batch, inside Keras's compiled steps."""
    y, p, w = _data("multi")
    x = np.random.default_rng(3).normal(size=(N, 4)).astype("float32")
    x[:, :K] += 2.0 * (y - 0.5)

    def model(metrics):
        inputs = keras.Input((4,))
        outputs = keras.layers.Dense(K, activation="sigmoid", kernel_initializer="ones")(inputs)
        m = keras.Model(inputs, outputs)
        m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=metrics)
        return m

    args = [
        (kbm.AUC, {"multi_label": True, "num_thresholds": 50}, {}),
        (kbm.AUC, {"multi_label": False}, {"multi_label": True, "pool_labels": True}),
        (kbm.F1Score, {"threshold": 0.5, "average": "macro"}, MULTI),
        (kbm.F1Score, {"threshold": 0.5}, MULTI),
        (kbm.Precision, {"top_k": 2, "class_id": 1}, MULTI),
        (kbm.RecallAtPrecision, {"precision": 0.6, "class_id": 0}, MULTI),
    ]
    ours = model([cls(**{**a, **extra}, name=f"m{i}") for i, (cls, a, extra) in enumerate(args)])
    theirs = model([COUNTERPARTS[cls](**a, name=f"m{i}") for i, (cls, a, _) in enumerate(args)])
    for m in (ours, theirs):
        m.fit(x, y, sample_weight=w, batch_size=16, epochs=1, verbose=0, shuffle=False)
    got = ours.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    expected = theirs.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    for i in range(len(args)):
        np.testing.assert_allclose(np.ravel(got[f"m{i}"]), np.ravel(expected[f"m{i}"]), rtol=1e-5, atol=1e-5)
