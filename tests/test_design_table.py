"""The table of DESIGN.md, row by row, with keras_binary.

Each row is a mistake that plain Keras lets through silently or reports
opaquely. With `keras_binary.SafeBCE` each either trains correctly (the loss
falls and accuracy beats chance clearly on an easy task) or stops at once with
the coded error whose message holds the fix. Rows about the head itself are
written here with plain Keras layers (`BinaryHead` has tests of its own).

Two rows are out of a loss's reach: `Dense(1, "softmax")` outputs valid
probabilities (all 1.0; on TensorFlow the loss even receives the softmax's
logits, as Keras's own loss does), and `Dense(1, "sigmoid")` stacked on a
1000-way softmax outputs valid scores. Neither shape nor values tell the loss
that anything is wrong. `keras_binary.diagnose(model)` finds both in the
model's graph before training (tested here), and `BinaryHead` refuses to be
built that way (`KB302`, `KB110`, tested with the layer).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary import BinaryLabelError, BinaryShapeError, SafeBCE
from tests.helpers import to_numpy

# An easy task: the label is the side of a line.
RNG = np.random.default_rng(42)
X = RNG.normal(size=(256, 4)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int32")  # labels 0/1, shape (N,)


def mlp(units, activation, input_shape=(4,)):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )


def fit(model, loss, y, x=X, epochs=3):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss)
    return model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)


def accuracy(scores):
    """Accuracy of one score per example (threshold 0.5) or of a pair (argmax)."""
    scores = to_numpy(scores)
    pred = scores.argmax(-1) if scores.shape[-1] == 2 else (scores.reshape(-1) > 0.5)
    return float(np.mean(pred.astype("int32") == Y))


def assert_trains(model, loss, y):
    before = float(to_numpy(loss(y, model(X))))
    history = fit(model, loss, y)
    after = float(to_numpy(loss(y, model(X))))
    assert after < 0.5 * before, (before, after, history.history["loss"])
    assert accuracy(model(X)) > 0.9


# Row: 1000-way output + binary_crossentropy -> "must have the same rank".
def test_imagenet_top_raises_kb102_with_include_top_fix():
    model = mlp(1000, "softmax")  # stands in for a backbone with include_top=True
    with pytest.raises(BinaryShapeError) as info:
        fit(model, SafeBCE(), Y, epochs=1)
    assert info.value.code == "KB102"
    assert "include_top=True" in str(info.value)
    assert "include_top=False" in info.value.fix and "keras_binary.BinaryHead()" in info.value.fix


# Row: unpooled feature map (N, 2, 2, C) + Dense(1) -> same-rank error, no hint.
def test_unpooled_feature_map_raises_kb103_pool():
    x = RNG.normal(size=(256, 2, 2, 8)).astype("float32")
    model = keras.Sequential([keras.Input((2, 2, 8)), keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(BinaryShapeError) as info:
        fit(model, SafeBCE(), Y, x=x, epochs=1)
    assert info.value.code == "KB103"
    assert "pool" in info.value.fix and "BinaryHead()" in info.value.fix
    assert "y_pred.shape=(None, 2, 2, 1)" in str(info.value) or "y_pred.shape=(32, 2, 2, 1)" in str(
        info.value
    )


# Row: the feature map itself as output (N, 2, 2, 1280) -> KB102 "unpooled feature map".
def test_feature_map_as_output_raises_kb102_pool():
    model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Dense(1280)])
    with pytest.raises(BinaryShapeError) as info:
        fit(model, SafeBCE(), Y, x=RNG.normal(size=(256, 2, 2, 3)).astype("float32"), epochs=1)
    assert info.value.code == "KB102" and "unpooled feature map" in str(info.value)
    assert "BinaryHead()" in info.value.fix


# Row: Dense(1, "sigmoid") + categorical_crossentropy -> loss 0, nothing learned.
# Row: Dense(1, "sigmoid") + sparse_categorical_crossentropy -> opaque graph error.
# With SafeBCE, the same head and the same integer labels train.
def test_one_sigmoid_unit_with_integer_labels_trains():
    assert_trains(mlp(1, "sigmoid"), SafeBCE(), Y)


# Row: Dense(2, "softmax") + binary_crossentropy, integer labels -> rank error.
def test_softmax_pair_with_integer_labels_trains():
    assert_trains(mlp(2, "softmax"), SafeBCE(), Y)


def test_softmax_pair_of_logits_with_integer_labels_trains():
    model = mlp(2, None)
    loss = SafeBCE(from_logits=True)
    before = float(to_numpy(loss(Y, model(X))))
    fit(model, loss, Y)
    assert float(to_numpy(loss(Y, model(X)))) < 0.5 * before
    assert accuracy(model(X)) > 0.9  # argmax of the logits


# Row: Dense(1, "sigmoid") + one-hot (N, 2) labels -> shape error.
def test_one_sigmoid_unit_with_onehot_labels_trains():
    assert_trains(mlp(1, "sigmoid"), SafeBCE(), np.eye(2, dtype="float32")[Y])


# Row: labels in {1, 2} -> trains on wrong targets, no error.
def test_labels_one_two_stop_fit_with_kb202():
    with pytest.raises(Exception) as info:
        fit(mlp(1, "sigmoid"), SafeBCE(), Y + 1, epochs=1)
    assert "KB202" in str(info.value) and "y = y - 1" in str(info.value)
    with pytest.raises(BinaryLabelError) as eager:
        SafeBCE()(Y + 1, mlp(1, "sigmoid")(X))
    # Judged from one call, the fix is conditional: a {0, 1, 2} batch would need another one.
    assert eager.value.code == "KB202" and eager.value.fix.startswith("y = y - 1  # if every label is 1 or 2")


# Row: Dense(1, activation="softmax") -> a warning; output always 1.0, nothing learned.
def test_one_unit_softmax_found_by_diagnose():
    report = keras_binary.diagnose(mlp(1, "softmax"), loss=SafeBCE())
    assert not report.ok
    assert [finding.code for finding in report.findings] == ["KBD002"]
    assert "Dense(1, activation='sigmoid')" in str(report)


# Row: Dense(1, "sigmoid") stacked on include_top=True (a 1000-way softmax) -> a useless model.
def test_binary_unit_on_imagenet_softmax_found_by_diagnose():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1000, activation="softmax"), keras.layers.Dense(1, "sigmoid")]
    )
    report = keras_binary.diagnose(model, loss=SafeBCE())
    assert not report.ok
    assert [finding.code for finding in report.findings] == ["KBD001"]
    assert "include_top=False" in str(report) and "keras_binary.BinaryHead()" in str(report)
