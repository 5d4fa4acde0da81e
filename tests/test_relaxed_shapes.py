"""Labels whose shape TensorFlow relaxed between calls of one step function.

Keras's trainer wraps its steps in `tf.function(reduce_retracing=True)`: when
the labels' shape changes between calls (`y` of shape `(N,)` in `fit`,
`(N, 1)` in `validation_data`; one-hot `(N, 2)` then `(N, 1)`), TensorFlow
traces once more with a relaxed label spec, of unknown rank or with an
unknown last axis. The contract then reads the labels' width (1, or 2 for
one-hot) while running. JAX and PyTorch never relax a shape: there the
model-level tests check that every encoding still gives the same value, and
the `tf.function` tests are skipped.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import BACKEND, bce_reference, to_numpy
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary import _contract
from keras_binary import metrics as kbm
from keras_binary.errors import BinaryShapeError

pytestmark = pytest.mark.filterwarnings("ignore:.*KB290")

tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="only TensorFlow relaxes traced shapes")


@pytest.fixture(autouse=True)
def _clear_keras_session():
    keras.backend.clear_session()
    yield


# ---------------------------------------------------------------------------
# The reproductions, through model.fit / model.evaluate (every backend).


def test_evaluate_after_validation_labels_of_another_shape():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss=keras_binary.SafeBCE(), optimizer="adam", metrics=[keras_binary.metrics.AUC()])
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    y = np.array([0, 1] * 4)
    model.fit(x, y, validation_data=(x, y.reshape(-1, 1)), epochs=1, verbose=0)
    as_vector = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]  # KB109 on TF
    as_column = model.evaluate(x, y.reshape(-1, 1), verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(as_vector, as_column, rtol=1e-6)


def test_evaluate_one_hot_then_plain_labels():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss=keras_binary.SafeBCE(), optimizer="adam")
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    y = np.array([0, 1] * 4)
    one_hot = model.evaluate(x, np.eye(2)[y], verbose=0)
    plain = model.evaluate(x, y.reshape(-1, 1).astype("float32"), verbose=0)  # KB105 on TF
    np.testing.assert_allclose(one_hot, plain, rtol=1e-6)


def _model(units: int, activation: str) -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])


def _data(n: int = 12):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 2, n)


ENCODINGS = {
    "vector": lambda y: y,
    "column": lambda y: y.reshape(-1, 1),
    "onehot": lambda y: np.eye(2, dtype="float32")[y],
    "column_1_1": lambda y: y.reshape(-1, 1, 1),
    "onehot_column": lambda y: np.eye(2, dtype="float32")[y].reshape(-1, 2, 1),
    "bool": lambda y: y.astype(bool),
}

HEADS = {"sigmoid": (1, "sigmoid"), "softmax_pair": (2, "softmax"), "logit": (1, None)}


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("loss_class", [keras_binary.SafeBCE, keras_binary.SafeFocal])
def test_every_encoding_in_turn_gives_the_known_shape_values(head, loss_class):
    units, activation = HEADS[head]
    from_logits = activation is None
    model = _model(units, activation)
    metrics = [
        kbm.AUC(from_logits=from_logits),
        kbm.BinaryAccuracy(from_logits=from_logits),
        kbm.Precision(from_logits=from_logits),
        kbm.BinaryCrossentropy(from_logits=from_logits),
    ]
    model.compile(loss=loss_class(from_logits=from_logits), optimizer="sgd", metrics=metrics)
    x, y = _data()
    scores = to_numpy(model(x))
    reference = (scores[:, 1] if units == 2 else scores[:, 0]).astype("float64")
    if from_logits:
        reference = 1.0 / (1.0 + np.exp(-reference))
    results = {
        name: model.evaluate(x, encode(y), verbose=0, return_dict=True) for name, encode in ENCODINGS.items()
    }
    # Once more in the first encoding: the relaxed trace serves it too.
    results["vector_again"] = model.evaluate(x, y, verbose=0, return_dict=True)
    first = results["vector"]
    for name, logs in results.items():
        for key, value in logs.items():
            np.testing.assert_allclose(value, first[key], rtol=1e-5, atol=1e-6, err_msg=f"{name}: {key}")
    accuracy = float(np.mean((reference > 0.5) == (y == 1)))
    np.testing.assert_allclose(first["binary_accuracy"], accuracy, rtol=1e-6)
    if loss_class is keras_binary.SafeBCE:
        np.testing.assert_allclose(first["loss"], bce_reference(y, reference).mean(), rtol=1e-4)


@tf_only
def test_fit_with_jit_compile_after_relaxed_labels():
    model = _model(1, "sigmoid")
    model.compile(loss=keras_binary.SafeBCE(), optimizer="sgd", jit_compile=True)
    x, y = _data()
    model.fit(x, y, validation_data=(x, np.eye(2)[y]), epochs=1, verbose=0)
    relaxed = model.evaluate(x, y.reshape(-1, 1), verbose=0)
    scores = to_numpy(model(x))[:, 0]
    np.testing.assert_allclose(relaxed, bce_reference(y, scores).mean(), rtol=1e-4)


# ---------------------------------------------------------------------------
# Straight through tf.function with a label spec of unknown rank.


def _step(fn, pred_shape, label_spec=None):
    import tensorflow as tf

    signature = [tf.TensorSpec(label_spec, tf.float32), tf.TensorSpec((None, *pred_shape[1:]), tf.float32)]
    return tf.function(fn, input_signature=signature)


PRED_SHAPES = {"score": lambda n: (n, 1), "vector": lambda n: (n,), "pair": lambda n: (n, 2)}


def _predictions(rng, layout, n, from_logits):
    shape = PRED_SHAPES[layout](n)
    if from_logits:
        return rng.normal(size=shape).astype("float32") * 3
    if layout == "pair":
        p1 = rng.random(n).astype("float32")
        return np.stack([1 - p1, p1], axis=-1)
    return rng.random(shape).astype("float32")


@tf_only
@given(
    n=st.integers(1, 9),
    layout=st.sampled_from(sorted(PRED_SHAPES)),
    encoding=st.sampled_from(["vector", "column", "onehot", "column_1_1", "onehot_column"]),
    from_logits=st.booleans(),
    soft=st.booleans(),
    focal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_loss_with_labels_of_unknown_rank_equals_the_float64_reference(
    n, layout, encoding, from_logits, soft, focal, seed
):
    rng = np.random.default_rng(seed)
    y = rng.random(n).astype("float32") if soft else rng.integers(0, 2, n).astype("float32")
    labels = {
        "vector": y,
        "column": y.reshape(-1, 1),
        "onehot": np.stack([1 - y, y], axis=-1),
        "column_1_1": y.reshape(-1, 1, 1),
        "onehot_column": np.stack([1 - y, y], axis=-1).reshape(-1, 2, 1),
    }[encoding]
    pred = _predictions(rng, layout, n, from_logits)
    loss = (keras_binary.SafeFocal if focal else keras_binary.SafeBCE)(from_logits=from_logits)
    known = to_numpy(loss(labels, pred))
    relaxed = to_numpy(_step(loss, pred.shape)(labels, pred))
    np.testing.assert_allclose(relaxed, known, rtol=1e-6, atol=1e-7)
    if not focal:
        if layout == "pair":
            score = pred[:, 1] - pred[:, 0] if from_logits else pred[:, 1]
        else:
            score = pred.reshape(-1)
        np.testing.assert_allclose(relaxed, bce_reference(y, score, from_logits).mean(), rtol=1e-4, atol=1e-6)


METRICS = {
    "AUC": lambda: kbm.AUC(),
    "BinaryAccuracy": lambda: kbm.BinaryAccuracy(),
    "BinaryCrossentropy": lambda: kbm.BinaryCrossentropy(),
    "Precision": lambda: kbm.Precision(),
    "Recall": lambda: kbm.Recall(),
    "F1Score": lambda: kbm.F1Score(),
    "MatthewsCorrelation": lambda: kbm.MatthewsCorrelation(),
    "BalancedAccuracy": lambda: kbm.BalancedAccuracy(),
    "ECE": lambda: kbm.ECE(),
}


@tf_only
@pytest.mark.parametrize("name", sorted(METRICS))
@given(
    n=st.integers(2, 12),
    layout=st.sampled_from(sorted(PRED_SHAPES)),
    encoding=st.sampled_from(["vector", "column", "onehot"]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_metric_with_labels_of_unknown_rank_equals_known_shapes(name, n, layout, encoding, weighted, seed):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n)[:n].astype("float32")  # both classes: every metric defined
    rng.shuffle(y)
    labels = {"vector": y, "column": y.reshape(-1, 1), "onehot": np.eye(2, dtype="float32")[y.astype(int)]}[
        encoding
    ]
    pred = _predictions(rng, layout, n, from_logits=False)
    weights = rng.random(n).astype("float32") if weighted else np.ones(n, "float32")
    known = METRICS[name]()
    known.update_state(labels, pred, sample_weight=weights)
    relaxed = METRICS[name]()
    signature = [
        tf.TensorSpec(None, tf.float32),
        tf.TensorSpec((None, *pred.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    ]
    update = tf.function(relaxed.update_state, input_signature=signature)
    # Twice, as batches of one epoch: the variables add up.
    update(labels, pred, weights)
    update(labels, pred, weights)
    known.update_state(labels, pred, sample_weight=weights)
    np.testing.assert_allclose(to_numpy(relaxed.result()), to_numpy(known.result()), rtol=1e-5, atol=1e-6)


@tf_only
def test_relaxing_traces_once_more_and_never_again():
    import tensorflow as tf

    loss = keras_binary.SafeBCE()
    step = tf.function(lambda y, p: loss(y, p), reduce_retracing=True)
    pred = np.array([[0.2], [0.7], [0.9], [0.4]], "float32")
    y = np.array([0, 1, 1, 0], "float32")
    expected = bce_reference(y, pred[:, 0]).mean()
    for labels in (y, y.reshape(-1, 1), np.eye(2, dtype="float32")[y.astype(int)], y.reshape(-1, 1, 1), y):
        np.testing.assert_allclose(
            to_numpy(step(tf.constant(labels), tf.constant(pred))), expected, rtol=1e-5
        )
    assert step.experimental_get_tracing_count() == 2


@tf_only
def test_per_pixel_output_with_relaxed_last_axis_of_the_labels():
    rng = np.random.default_rng(3)
    pred = rng.random((2, 3, 3, 1)).astype("float32")
    masks = rng.integers(0, 2, (2, 3, 3)).astype("float32")
    loss = keras_binary.SafeBCE()
    step = _step(loss, pred.shape, label_spec=(None, 3, 3, None))
    expected = to_numpy(loss(masks, pred))
    for labels in (masks[..., None], np.eye(2, dtype="float32")[masks.astype(int)]):
        np.testing.assert_allclose(to_numpy(step(labels, pred)), expected, rtol=1e-6)


@tf_only
def test_multi_label_with_labels_of_unknown_rank():
    rng = np.random.default_rng(4)
    pred = rng.random((5, 3)).astype("float32")
    labels = rng.integers(0, 2, (5, 3)).astype("float32")
    loss = keras_binary.SafeBCE(multi_label=True)
    expected = to_numpy(loss(labels, pred))
    relaxed = _step(loss, pred.shape)
    for shaped in (labels, labels[..., None]):
        np.testing.assert_allclose(to_numpy(relaxed(shaped, pred)), expected, rtol=1e-6)


# ---------------------------------------------------------------------------
# What still fails, while running or while tracing, with a coded error.


def _raised_code(excinfo) -> str:
    return str(excinfo.value)


@tf_only
@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(
    "labels", [np.zeros((4, 3), "float32"), np.zeros(6, "float32"), np.zeros(0, "float32")]
)
def test_labels_of_the_wrong_width_raise_kb105_while_running(labels, validate):
    import tensorflow as tf

    loss = keras_binary.SafeBCE(validate=validate)
    pred = np.full((4, 1), 0.5, "float32")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        _step(loss, pred.shape)(labels, pred)
    message = str(info.value)
    assert "KB105" in message and f"hold {labels.size} values for 4 predictions" in message
    assert "y_pred.shape=(None, 1)" in message and "y_true.shape=<unknown> while tracing" in message
    assert (
        "reduce_retracing" in message and "y.reshape(-1, 1)" in message and "np.argmax(y, axis=-1)" in message
    )


@tf_only
def test_labels_of_the_wrong_width_eagerly_raise_kb105():
    import tensorflow as tf

    loss = keras_binary.SafeBCE()
    labels = tf.constant(np.zeros((4, 3), "float32"))
    # Eager tensors have a known shape: the wrong width is a static KB105.
    with pytest.raises(BinaryShapeError) as info:
        loss(labels, np.full((4, 1), 0.5, "float32"))
    assert info.value.code == "KB105"


@tf_only
def test_relaxed_labels_that_are_not_one_hot_fail_the_one_hot_check():
    import tensorflow as tf

    loss = keras_binary.SafeBCE()
    pred = np.full((3, 1), 0.5, "float32")
    labels = np.array([[1, 1], [0, 1], [0, 0]], "float32")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        _step(loss, pred.shape)(labels, pred)
    assert "KB208" in str(info.value) and "2 of 3 label rows" in str(info.value)
    # The same rows through a known shape: the same check.
    with pytest.raises(keras_binary.BinaryLabelError) as known:
        loss(labels, pred)
    assert known.value.code == "KB208"


@tf_only
def test_relaxed_plain_labels_pass_the_one_hot_check_and_keep_the_range_check():
    import tensorflow as tf

    loss = keras_binary.SafeBCE()
    pred = np.full((4, 1), 0.5, "float32")
    step = _step(loss, pred.shape)
    np.testing.assert_allclose(to_numpy(step(np.array([0, 1, 1, 0], "float32"), pred)), np.log(2), rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        step(np.array([[1], [2], [2], [1]], "float32"), pred)
    assert "KB202" in str(info.value)


@tf_only
def test_per_pixel_output_with_labels_of_unknown_rank_is_kb109_with_the_reason():
    loss = keras_binary.SafeBCE()
    pred = np.full((2, 3, 3, 1), 0.5, "float32")
    with pytest.raises(BinaryShapeError) as info:
        _step(loss, pred.shape)(np.zeros((2, 3, 3), "float32"), pred)
    assert info.value.code == "KB109"
    message = str(info.value)
    assert "per-element output" in message and "y_pred.shape=(None, 3, 3, 1)" in message
    assert "reduce_retracing" in message and "changed between calls" in message
    assert "y[..., np.newaxis]" in info.value.fix and "tf.ensure_shape(y, (None, 3, 3))" in info.value.fix


@tf_only
def test_class_axis_errors_come_first_with_labels_of_unknown_rank():
    loss = keras_binary.SafeBCE()
    pred = np.full((2, 1000), 1e-3, "float32")
    with pytest.raises(BinaryShapeError) as info:
        _step(loss, pred.shape)(np.zeros(2, "float32"), pred)
    assert info.value.code == "KB102" and "include_top=True" in str(info.value)


@tf_only
def test_sample_weight_of_unknown_rank_is_kb109_that_says_why():
    import tensorflow as tf

    loss = keras_binary.SafeBCE()

    @tf.function(input_signature=[tf.TensorSpec((None,)), tf.TensorSpec((None, 1)), tf.TensorSpec(None)])
    def step(y, p, w):
        return loss(y, p, sample_weight=w)

    with pytest.raises(BinaryShapeError) as info:
        step(np.zeros(2, "float32"), np.full((2, 1), 0.5, "float32"), np.ones(2, "float32"))
    assert info.value.code == "KB109"
    assert "changes between calls" in str(info.value) and "sample_weight.reshape(-1)" in info.value.fix


def test_plan_layout_of_unknown_rank():
    assert _contract.plan_layout(None, (None, 1)) == _contract.Layout("score", True, "runtime", (None,))
    assert _contract.plan_layout(None, (8,)) == _contract.Layout("score", False, "runtime", (8,))
    assert _contract.plan_layout(None, (None, 2)) == _contract.Layout("pair", True, "runtime", (None,))
    assert _contract.plan_layout(None, (4, 3), multi_label=True).label == "runtime"
    assert _contract.plan_layout((None, None), (None, 1)).label == "runtime"
    assert _contract.plan_layout((8, None, None), (8, 2)).label == "runtime"
    assert _contract.plan_layout((None, 4, 4, None), (None, 4, 4, 1)).label == "runtime"
    with pytest.raises(BinaryShapeError) as info:
        _contract.plan_layout(None, (None, 4, 4, 1))
    assert info.value.code == "KB109"
    with pytest.raises(BinaryShapeError) as info:
        _contract.plan_layout((4, None), (8, 1))  # the batch is still checked
    assert info.value.code == "KB104"
    with pytest.raises(BinaryShapeError) as info:
        _contract.plan_layout(None, ())
    assert info.value.code == "KB101"


def test_symbolic_labels_with_an_unknown_last_axis():
    """Keras's symbolic tensors (model building): only the result's shapes matter."""
    result = _contract.canonical_pair(keras.Input((None,)), keras.Input((1,)))
    assert result.layout.label == "runtime"
    assert tuple(result.y_true.shape) == (None,) and tuple(result.onehot.shape) == (None, 2)


@tf_only
def test_labels_of_the_wrong_width_under_xla_make_the_loss_nan():
    import tensorflow as tf

    loss = keras_binary.SafeBCE(validate=False)
    signature = [tf.TensorSpec(None, tf.float32), tf.TensorSpec((None, 1), tf.float32)]
    step = tf.function(loss, input_signature=signature, jit_compile=True)
    pred = np.full((4, 1), 0.5, "float32")
    # XLA cannot raise: never a silent number, the loss is NaN.
    assert np.isnan(to_numpy(step(np.zeros((4, 3), "float32"), pred)))
    np.testing.assert_allclose(
        to_numpy(step(np.eye(2, dtype="float32")[[0, 1, 1, 0]], pred)), np.log(2), rtol=1e-5
    )
