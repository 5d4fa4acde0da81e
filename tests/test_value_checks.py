"""Value checks while running (`validate=True`): each invalid batch stops training.

Which exception arrives depends on where the check runs:

- eager calls (any backend): the `BinaryLabelError` itself;
- TensorFlow, `model.fit` (a `tf.function`): `tf.errors.InvalidArgumentError`
  whose message contains the code and the whole text;
- TensorFlow with `jit_compile=True` (XLA cannot call Python): no exception
  inside the step; the loss becomes NaN, and the fit guard raises the
  `BinaryLabelError` at the next step boundary (tests/test_guard.py);
- JAX, `model.fit` with `jit_compile=True` (the default): `JaxRuntimeError`
  carrying the code and the text; with `jit_compile=False`: the
  `BinaryLabelError` itself.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary import BinaryLabelError, SafeBCE
from keras_binary._value_checks import PAIR_SUM_TOLERANCE
from tests.helpers import BACKEND, to_numpy

N = 16
X = np.random.default_rng(0).normal(size=(N, 3)).astype("float32")
Y01 = (X[:, 0] > 0).astype("int32")


def model_with(units, activation):
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])


# name -> (labels, inputs, units, activation, loss kwargs, code, text in the message)
INVALID = {
    "labels {1, 2}": (Y01 + 1, X, 1, "sigmoid", {}, "KB202", "y = y - 1"),
    "labels {-1, 1}": (2 * Y01 - 1, X, 1, "sigmoid", {}, "KB203", "y = (y + 1) / 2"),
    "labels 0..3": (np.arange(N) % 4, X, 1, "sigmoid", {}, "KB201", "labels from 0 to 3"),
    "NaN labels": (np.where(Y01 > 0, np.nan, 0.0), X, 1, "sigmoid", {}, "KB204", "NaN labels"),
    "logits as probabilities": (Y01, X * 10, 1, None, {}, "KB205", "from_logits=True"),
    "two sigmoids as a pair": (Y01, X, 2, "sigmoid", {}, "KB206", "does not sum to 1"),
    "NaN inputs": (Y01, np.where(X > 1, np.nan, X), 1, "sigmoid", {}, "KB207", "NaN or infinite"),
    "NaN inputs, logits": (Y01, np.where(X > 1, np.nan, X), 1, None, {"from_logits": True}, "KB207", "NaN"),
}


def expected_fit_error():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.errors.InvalidArgumentError
    if BACKEND == "jax":
        import jax

        return jax.errors.JaxRuntimeError
    return BinaryLabelError


@pytest.fixture
def no_guard():
    """The steps' own checks, as the backend raises them (the fit guard: tests/test_guard.py)."""
    import keras_binary

    keras_binary.config.set_fit_guard(False)
    yield
    keras_binary.config.set_fit_guard(True)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_values_stop_fit(name, no_guard):
    y, x, units, activation, kwargs, code, text = INVALID[name]
    model = model_with(units, activation)
    model.compile(optimizer="sgd", loss=SafeBCE(**kwargs))
    with pytest.raises(Exception) as info:
        model.fit(x, y, batch_size=N, epochs=1, verbose=0)
    assert isinstance(info.value, expected_fit_error()), type(info.value)
    message = str(info.value)
    assert f"{code}: " in message and text in message


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_values_raise_eagerly(name):
    y, x, units, activation, kwargs, code, text = INVALID[name]
    model = model_with(units, activation)
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE(**kwargs)(y, model(x))
    assert info.value.code == code and text in str(info.value)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_validate_false_does_not_raise(name):
    y, x, units, activation, kwargs, code, _ = INVALID[name]
    value = to_numpy(SafeBCE(validate=False, **kwargs)(y, model_with(units, activation)(x)))
    assert value.shape == ()
    if code in ("KB204", "KB207"):
        assert np.isnan(value)  # NaN in, NaN out: nothing hides it


@pytest.mark.skipif(BACKEND != "jax", reason="JAX without jit")
def test_jax_fit_without_jit_raises_the_error_itself():
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE(), jit_compile=False)
    with pytest.raises(BinaryLabelError) as info:
        model.fit(X, Y01 + 1, batch_size=N, epochs=1, verbose=0)
    assert info.value.code == "KB202"


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow XLA")
def test_tensorflow_xla_turns_the_loss_nan():
    """Without the fit guard (tests/test_guard.py tests it on), XLA poisons the loss."""
    import keras_binary

    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE(), jit_compile=True)
    keras_binary.config.set_fit_guard(False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(X, Y01 + 1, batch_size=N, epochs=1, verbose=0)
    finally:
        keras_binary.config.set_fit_guard(True)
    assert np.isnan(history.history["loss"][0])
    assert any("jit_compile=False" in str(w.message) for w in caught)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow XLA")
def test_tensorflow_xla_valid_labels_are_not_poisoned():
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE(), jit_compile=True)
    eager = to_numpy(SafeBCE()(Y01, model(X)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = model.evaluate(X, Y01, batch_size=N, verbose=0)
        history = model.fit(X, Y01, batch_size=N, epochs=1, verbose=0)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function")
def test_check_in_tf_function_with_unknown_batch():
    import tensorflow as tf

    step = tf.function(
        SafeBCE().__call__,
        input_signature=[tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None, 1), tf.float32)],
    )
    p = np.full((4, 1), 0.5, "float32")
    np.testing.assert_allclose(step(np.array([0, 1, 1, 0], "float32"), p).numpy(), np.log(2), rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="KB203"):
        step(np.array([-1, 1, 1, -1], "float32"), p)


# --- what must pass ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "y",
    [
        np.array([0.0, 0.25, 0.5, 1.0], "float32"),  # soft labels
        np.array([1, 1, 1, 1]),  # one class only
        np.array([0, 0, 0, 0]),
        np.array([True, False, True, False]),
    ],
)
def test_valid_labels_pass(y):
    p = np.array([[0.0], [0.3], [0.7], [1.0]], "float32")  # 0 and 1 are valid probabilities
    assert np.isfinite(to_numpy(SafeBCE()(y, p)))


def test_pair_sum_tolerance_allows_float16_rounding():
    p1 = np.linspace(0.01, 0.99, 16)
    pair = np.stack([1 - p1, p1], axis=-1).astype("float16")
    assert np.abs(pair.astype("float32").sum(-1) - 1).max() < PAIR_SUM_TOLERANCE
    assert np.isfinite(to_numpy(SafeBCE()(np.arange(16) % 2, pair)))
    off = pair.astype("float32") + np.float32(PAIR_SUM_TOLERANCE)
    with pytest.raises(BinaryLabelError, match="KB206"):
        SafeBCE()(np.arange(16) % 2, off)


def test_large_logits_are_valid_with_from_logits():
    z = np.array([[-1e4], [1e4], [0.0], [30.0]], "float32")
    assert np.isfinite(to_numpy(SafeBCE(from_logits=True)(np.array([0, 1, 1, 0]), z)))


def test_infinite_logits_are_kb207():
    z = np.array([[-np.inf], [1.0]], "float32")
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE(from_logits=True)(np.array([0, 1]), z)
    assert info.value.code == "KB207"


def test_most_specific_code_wins():
    # NaN labels and logits-as-probabilities at once: the labels are named first.
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(np.array([np.nan, 1.0], "float32"), np.array([[3.0], [0.5]], "float32"))
    assert info.value.code == "KB204"


def test_message_lists_offending_values():
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(np.array([0, 7, 1, 0]), np.full((4, 1), 0.5, "float32"))
    assert "labels from 0 to 7" in str(info.value) and "1 of 4 labels" in str(info.value)


# --- one-hot labels that are not one-hot (KB208) ----------------------------------------

P4 = np.array([[0.1], [0.8], [0.7], [0.3]], "float32")


@pytest.mark.parametrize(
    "y, fix",
    [
        (np.array([[1, 0], [1, 1], [0, 1], [0, 0]]), "to_categorical(y[:, 1], 2)"),  # multi-hot rows
        (np.array([[0, 0], [0, 0], [0, 0], [0, 0]]), "to_categorical(y[:, 1], 2)"),
        (np.array([[0.2, 0.9], [0.6, 0.1], [0.3, 0.7], [0.5, 0.5]], "float32"), "np.argmax(y, axis=-1)"),
        (np.array([[[1], [1]], [[0], [1]], [[1], [0]], [[0], [1]]]), "to_categorical"),  # (N, 2, 1)
    ],
)
def test_non_onehot_pairs_are_kb208(y, fix):
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(y, P4)
    assert info.value.code == "KB208" and fix in info.value.fix
    with pytest.raises(BinaryLabelError) as info:
        keras_binary.metrics.AUC()(y, P4)
    assert info.value.code == "KB208" and "in metric 'auc'" in str(info.value)


def test_kb208_counts_the_bad_rows():
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(np.array([[1, 0], [1, 1], [0, 1], [0, 0]]), P4)
    assert "2 of 4 label rows" in str(info.value) and "summing to 0 to 2" in str(info.value)


@pytest.mark.parametrize(
    "y",
    [
        np.array([[1, 0], [0, 1], [0, 1], [1, 0]]),
        np.array([[0.95, 0.05], [0.1, 0.9], [0.5, 0.5], [1.0, 0.0]], "float32"),  # soft one-hot
        np.array([[0.7, 0.3]] * 4, "float16"),  # soft rows with half-precision rounding
    ],
)
def test_onehot_rows_pass(y):
    expected = to_numpy(SafeBCE()(np.asarray(y, "float32")[:, 1], P4))
    np.testing.assert_allclose(to_numpy(SafeBCE()(y, P4)), expected, rtol=1e-6)


def test_onehot_check_is_off_with_validate_false():
    y = np.array([[1, 1], [0, 0], [0, 1], [1, 0]])
    np.testing.assert_allclose(
        to_numpy(SafeBCE(validate=False)(y, P4)), to_numpy(SafeBCE()(y[:, 1], P4)), rtol=1e-6
    )


def test_nan_in_column_0_of_onehot_is_kb204():
    y = np.array([[np.nan, 1.0], [1.0, 0.0]], "float32")
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(y, P4[:2])
    assert info.value.code == "KB204"


def test_non_onehot_pairs_stop_fit():
    y = np.stack([Y01, Y01], axis=-1)  # the label repeated: rows [0, 0] and [1, 1]
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE())
    with pytest.raises(BinaryLabelError) as info:  # the fit guard, from all the labels
        model.fit(X, y, batch_size=N, epochs=1, verbose=0)
    assert info.value.code == "KB208" and "to_categorical(y[:, 1], 2)" in info.value.fix


def test_non_onehot_pairs_stop_fit_inside_the_step(no_guard):
    y = np.stack([Y01, Y01], axis=-1)
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE())
    with pytest.raises(Exception) as info:
        model.fit(X, y, batch_size=N, epochs=1, verbose=0)
    assert isinstance(info.value, expected_fit_error()), type(info.value)
    assert "KB208: " in str(info.value)


def test_per_pixel_onehot_masks_are_checked():
    y = np.zeros((2, 3, 3, 2), "float32")
    y[..., 0] = 1.0
    p = np.full((2, 3, 3, 1), 0.4, "float32")
    assert np.isfinite(to_numpy(SafeBCE()(y, p)))
    y[1, 2, 2] = [1.0, 1.0]
    with pytest.raises(BinaryLabelError, match="1 of 18 label rows"):
        SafeBCE()(y, p)


# --- messages raised by a metric name it, and give its own fix ---------------------------

METRIC_ARGS = {
    "SensitivityAtSpecificity": {"specificity": 0.5},
    "SpecificityAtSensitivity": {"sensitivity": 0.5},
    "PrecisionAtRecall": {"recall": 0.5},
    "RecallAtPrecision": {"precision": 0.5},
}


@pytest.mark.parametrize("name", keras_binary.metrics.__all__)
def test_metric_messages_name_the_metric_and_its_fix(name):
    metric = getattr(keras_binary.metrics, name)(**METRIC_ARGS.get(name, {}))
    with pytest.raises(BinaryLabelError) as info:
        metric.update_state(np.array([1, 2, 2, 1]), P4)
    assert info.value.code == "KB202" and f"in metric '{metric.name}'" in info.value.summary
    assert "binary metric needs {0, 1}" in info.value.summary
    with pytest.raises(BinaryLabelError) as info:
        metric.update_state(np.array([0, 1, 1, 0]), P4 * 6 - 2)
    assert info.value.code == "KB205" and f"in metric '{metric.name}'" in info.value.summary
    assert f"keras_binary.metrics.{name}(from_logits=True)" in info.value.fix
    assert "loss=" not in info.value.fix and "SafeBCE" not in info.value.fix


def test_metric_message_in_compiled_fit_names_the_metric():
    model = model_with(1, None)  # logits, but the loss is told so and the metric is not
    model.compile(optimizer="sgd", loss=SafeBCE(from_logits=True), metrics=[keras_binary.metrics.AUC()])
    with pytest.raises(Exception) as info:
        model.fit(X * 10, Y01, batch_size=N, epochs=1, verbose=0)
    message = str(info.value)
    assert "KB205: in metric 'auc'" in message
    assert "keras_binary.metrics.AUC(from_logits=True)" in message


def test_loss_messages_name_their_own_class():
    with pytest.raises(BinaryLabelError) as info:
        keras_binary.SafeFocal()(np.array([0, 1, 1, 0]), P4 * 6 - 2)
    assert "loss=keras_binary.SafeFocal(from_logits=True)" in info.value.fix
    with pytest.raises(BinaryLabelError) as info:
        keras_binary.safe_loss(keras.losses.Hinge())(np.array([0, 1, 1, 0]), P4 * 6 - 2)
    assert "keras_binary.safe_loss(..., from_logits=True)" in info.value.fix


# --- KB205 names the output layer as well as from_logits ----------------------------------


def test_kb205_names_both_causes():
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(np.array([0, 1, 1, 0]), P4 * 6 - 2)
    message = str(info.value)
    assert "from_logits=True" in info.value.fix and "sigmoid or keras_binary.BinaryHead()" in info.value.fix
    assert "none negative" not in message


def test_kb205_on_a_relu_output_says_none_is_negative():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="relu")])
    model.layers[0].set_weights([np.full((3, 1), 3.0, "float32"), np.array([1.0], "float32")])
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(Y01, model(np.abs(X)))
    assert "none negative, as from a relu" in info.value.received
    assert "from_logits=True on a relu output is silently wrong" in info.value.fix


# --- KB202/KB203 are judged from one batch ------------------------------------------------


def test_three_class_folder_read_in_order_is_a_three_class_error_for_the_guard():
    y = np.repeat([0, 1, 2], N)
    x = np.random.default_rng(1).normal(size=(3 * N, 3)).astype("float32")
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE())
    with pytest.raises(BinaryLabelError) as info:  # judged from all the labels before the first step
        model.fit(x, y, batch_size=N, epochs=1, verbose=0, shuffle=False)
    assert info.value.code == "KB209" and "y - 1" not in str(info.value)


def test_three_class_folder_read_in_order_is_not_given_y_minus_1_as_certain(no_guard):
    # A {0, 1, 2} image folder read unshuffled: the third batch holds only 2s.
    y = np.repeat([0, 1, 2], N)
    x = np.random.default_rng(1).normal(size=(3 * N, 3)).astype("float32")
    model = model_with(1, "sigmoid")
    model.compile(optimizer="sgd", loss=SafeBCE())
    with pytest.raises(Exception) as info:
        model.fit(x, y, batch_size=N, epochs=1, verbose=0, shuffle=False)
    message = str(info.value)
    assert "KB202: " in message and "one batch" in message
    assert "y = y - 1  # if every label is 1 or 2" in message
    assert "keras_binary.diagnose(model, x, y) checks all the labels" in message


def test_kb203_says_it_saw_one_batch():
    with pytest.raises(BinaryLabelError) as info:
        SafeBCE()(np.array([-1, 1, 1, -1]), P4)
    assert "one batch" in info.value.summary and "diagnose(model, x, y)" in info.value.fix
