"""The checks of diagnose added with the graph module: metrics, final activation, class names, graph_errors.

Each check catches the broken model and spares the correct one next to it.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import keras_binary
from keras_binary.diagnostics import diagnose, graph_errors


def model_with(units=1, activation=None, loss="binary_crossentropy", metrics=None):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(units, activation=activation, name="output")])
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    return model


def only(report, code):
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, f"expected one {code}, got {report.codes}:\n{report}"
    return found[0]


LOGITS = keras.losses.BinaryCrossentropy(from_logits=True)

# ---------------------------------------------------------------------------
# KBD021: a metric that thresholds at 0.5 (or sweeps [0, 1]) on a logit output.


THRESHOLD_METRICS = [
    ("accuracy", "keras_binary.metrics.BinaryAccuracy(from_logits=True)"),
    (keras.metrics.BinaryAccuracy(), "keras_binary.metrics.BinaryAccuracy(from_logits=True)"),
    (keras.metrics.Precision(), "keras_binary.metrics.Precision(from_logits=True)"),
    (keras.metrics.Recall(), "keras_binary.metrics.Recall(from_logits=True)"),
    (keras.metrics.AUC(), "keras_binary.metrics.AUC(from_logits=True)"),
    (keras.metrics.TruePositives(), "keras.metrics.TruePositives(thresholds=0.0)"),
    (keras.metrics.FalseNegatives(), "keras.metrics.FalseNegatives(thresholds=0.0)"),
    (keras.metrics.PrecisionAtRecall(0.8), "keras_binary.metrics.PrecisionAtRecall(from_logits=True)"),
]


@pytest.mark.parametrize("metric, fix", THRESHOLD_METRICS, ids=lambda m: getattr(m, "name", str(m))[:30])
def test_kbd021_threshold_metric_on_logits(metric, fix):
    report = diagnose(model_with(loss=LOGITS, metrics=[metric]))
    finding = only(report, "KBD021")
    assert finding.severity == "error" and finding.fix.startswith(f"metrics=[{fix}")
    assert "logit" in finding.summary and "from_logits=True" in finding.summary
    assert "KBD021" in [f.code for f in graph_errors(model_with(loss=LOGITS, metrics=[metric]))]


def test_kbd021_suggested_metric_is_a_real_class():
    for _, fix in THRESHOLD_METRICS:
        code = fix.split("(")[0]
        assert callable(eval(code, {"keras": keras, "keras_binary": keras_binary})), code  # noqa: S307


@pytest.mark.parametrize(
    "metric",
    [
        keras.metrics.AUC(from_logits=True),
        keras.metrics.BinaryAccuracy(threshold=0.0),
        keras.metrics.Precision(thresholds=0.0),
        keras_binary.metrics.BinaryAccuracy(from_logits=True),
        keras_binary.metrics.AUC(from_logits=True),
        "mae",
    ],
    ids=lambda m: getattr(m, "name", str(m)),
)
def test_kbd021_not_on_logit_safe_metrics(metric):
    assert diagnose(model_with(loss=LOGITS, metrics=[metric])).findings == []


def test_kbd021_not_on_probabilities():
    metrics = ["accuracy", keras.metrics.AUC(), keras.metrics.Precision(), keras.metrics.BinaryAccuracy()]
    assert diagnose(model_with(activation="sigmoid", metrics=metrics)).findings == []


# ---------------------------------------------------------------------------
# KBD022: a single-score metric on a softmax pair.


@pytest.mark.parametrize(
    "metric, fix",
    [
        (keras.metrics.BinaryAccuracy(), "keras_binary.metrics.BinaryAccuracy()"),
        (keras.metrics.AUC(), "keras_binary.metrics.AUC()"),
        (keras.metrics.Precision(), "keras_binary.metrics.Precision()"),
        (keras.metrics.TruePositives(), "keras_binary.convert_head"),
    ],
    ids=lambda m: getattr(m, "name", str(m))[:30],
)
def test_kbd022_score_metric_on_softmax_pair(metric, fix):
    model = model_with(2, "softmax", "sparse_categorical_crossentropy", metrics=[metric])
    finding = only(diagnose(model), "KBD022")
    assert finding.severity == "error" and fix in finding.fix
    assert "'accuracy' is fine" in finding.explanation


def test_kbd022_not_on_accuracy_or_our_metrics():
    metrics = ["accuracy", keras_binary.metrics.AUC(), keras_binary.metrics.BinaryAccuracy()]
    model = model_with(2, "softmax", keras_binary.SafeBCE(), metrics=metrics)
    assert diagnose(model).findings == []


# ---------------------------------------------------------------------------
# KBD023: keras.metrics.Accuracy on scores.


def test_kbd023_accuracy_class_on_probabilities():
    """The premise, measured: Accuracy on probabilities reports 0 for a perfect classifier."""
    accuracy = keras.metrics.Accuracy()
    accuracy.update_state(np.array([[1.0], [0.0]]), np.array([[0.73], [0.2]]))
    assert float(accuracy.result()) == 0.0
    for activation, units in (("sigmoid", 1), (None, 1), ("softmax", 2)):
        loss = (
            "binary_crossentropy"
            if units == 1 and activation
            else LOGITS
            if units == 1
            else "categorical_crossentropy"
        )
        model = model_with(units, activation, loss, metrics=[keras.metrics.Accuracy()])
        finding = only(diagnose(model), "KBD023")
        assert "keras_binary.metrics.BinaryAccuracy()" in finding.fix, activation


# ---------------------------------------------------------------------------
# KBD024: a final activation that is neither a probability nor a logit.


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", "elu", "exponential"])
def test_kbd024_activation_neither_probability_nor_logit(activation):
    finding = only(diagnose(model_with(activation=activation)), "KBD024")
    assert finding.severity == "error" and activation in finding.summary
    assert "sigmoid" in finding.fix and "BinaryHead" in finding.fix
    # Which cause applies: with from_logits=False, this (not from_logits) is the cause of KB205.
    assert "KB205" in finding.explanation and "not a missing from_logits=True" in finding.explanation


def test_kbd024_says_why_from_logits_does_not_help():
    finding = only(diagnose(model_with(activation="relu", loss=LOGITS)), "KBD024")
    assert (
        "at least 0.5" in finding.explanation
        and "Setting from_logits does not fix this" in finding.explanation
    )
    activation_layer = keras.Sequential(
        [keras.Input((4,)), layers.Dense(1), layers.Activation("tanh", name="act")]
    )
    activation_layer.compile(loss=keras_binary.SafeBCE())
    assert only(diagnose(activation_layer), "KBD024").where == "layer 'act'"


def test_kbd024_not_on_regression_or_scores():
    assert diagnose(model_with(activation="relu", loss="mse")).findings == []  # a regression
    assert diagnose(model_with(activation="sigmoid")).findings == []
    assert diagnose(model_with(activation=None, loss=LOGITS)).findings == []


# ---------------------------------------------------------------------------
# KBD025: which class name is class 1.


def _image_folders(root, names, n=2):
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(n):
            keras.utils.save_img(folder / f"{i}.png", np.full((8, 8, 3), 40 * i, dtype="uint8"))
    return root


def test_kbd025_class_names_of_a_dataset(tmp_path):
    root = _image_folders(tmp_path / "data", ["normal", "cancer"])
    dataset = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, verbose=False)
    assert dataset.class_names == ["cancer", "normal"]  # alphabetical: 'normal' is label 1
    model = keras.Sequential([keras.Input((8, 8, 3)), keras_binary.BinaryHead()])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model, dataset)
    finding = only(report, "KBD025")
    assert finding.severity == "info" and report.ok
    assert "label 1, the positive class" in finding.summary and "'normal'" in finding.summary
    assert "class_names=['normal', 'cancer']" in finding.fix and "'cancer' becomes label 1" in finding.fix
    assert report.checked["labels"] and report.checked["inputs"]  # one batch of the dataset was read
    fixed = keras.utils.image_dataset_from_directory(
        root, image_size=(8, 8), batch_size=4, class_names=["normal", "cancer"], verbose=False
    )
    assert "KBD025" not in diagnose(model, fixed).codes  # an order chosen by the user: nothing to say


# ---------------------------------------------------------------------------
# graph_errors: the checks the fit guard runs.


def test_graph_errors_keeps_only_errors_and_needs_no_data():
    backbone = keras.Sequential([keras.Input((4,)), layers.Dense(10, activation="softmax")], name="clf")
    model = keras.Sequential([backbone, layers.Dense(1, dtype="mixed_float16", activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert [f.code for f in graph_errors(model)] == ["KBD001"]  # KBD015 is a warning
    assert set(diagnose(model).codes) == {"KBD001", "KBD015"}
    healthy = keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead()])
    healthy.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert graph_errors(healthy) == []
    assert (
        graph_errors(keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead()])) == []
    )  # not compiled


class Subclassed(keras.Model):
    def call(self, x):
        return x


def test_graph_errors_never_raises(monkeypatch):
    assert graph_errors(Subclassed()) == []
    model = model_with(loss=LOGITS, metrics=["accuracy"])
    assert [f.code for f in graph_errors(model)] == ["KBD021"]

    def broken(ctx):
        raise RuntimeError("a check that cannot read this model")
        yield

    from keras_binary.diagnostics import _diagnose

    checks = list(_diagnose._GRAPH_CHECKS)
    checks[0] = broken
    monkeypatch.setattr(_diagnose, "_GRAPH_CHECKS", tuple(checks))
    assert [f.code for f in graph_errors(model)] == ["KBD021"]  # the other checks still ran
