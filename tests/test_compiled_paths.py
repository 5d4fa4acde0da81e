"""Every execution path of `fit` and `evaluate`: the loss is right, and `validate=True` fires.

Paths, by backend (Keras picks one per `compile` argument):

- TensorFlow: `jit_compile=False` (a `tf.function` graph), `run_eagerly=True`,
  `jit_compile=True` (XLA), and a `tf.data` pipeline with int64 labels of
  shape `(batch,)`;
- JAX: the default (`jax.jit`) and `run_eagerly=True`;
- PyTorch: the default (eager).

XLA cannot call back into Python and compiles assertions away
(`tf.debugging.Assert` and `check_numerics` are no-ops under
`jit_compile=True`), so there `validate=True` turns the loss into NaN instead
of raising, and the fit guard raises the coded error at the next step
boundary (tests/test_guard.py); the tests below pin the poison itself down,
with the guard off (see `keras_binary/_runtime.py`).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import keras_binary as kb
from tests.helpers import to_numpy

BACKEND = keras.backend.backend()

# (name, compile kwargs) of the paths of the backend under test.
PATHS = {
    "tensorflow": [
        ("graph", {"jit_compile": False}),
        ("eager", {"run_eagerly": True}),
        ("xla", {"jit_compile": True}),
    ],
    "jax": [("jit", {}), ("eager", {"run_eagerly": True})],
    "torch": [("default", {})],
}.get(BACKEND, [("default", {})])
RAISING_PATHS = [p for p in PATHS if p[0] != "xla"]
tf_only = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="XLA (jit_compile=True) and tf.data input are TensorFlow-backend paths; JAX and PyTorch run their own paths above",
)


def _data(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 2, 3)).astype("float32")
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]  # both classes
    return x, y


def _model(activation: str | None = "auto", **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((2, 2, 3)), kb.BinaryHead(activation=activation, hidden_units=(4,))]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=kb.SafeBCE(),
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
        **compile_kwargs,
    )
    return model


def _bce_reference(y: np.ndarray, p: np.ndarray) -> float:
    """Float64 binary cross-entropy, clipped as Keras clips."""
    eps = keras.config.epsilon()
    p = np.clip(np.asarray(p, "float64").reshape(-1), eps, 1 - eps)
    y = np.asarray(y, "float64").reshape(-1)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def _fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the XLA warning is tested on its own
        return model.fit(*args, verbose=0, **kwargs)


def _check_coded_error(excinfo, code: str, fix: str) -> None:
    """The error carries the package's code and fix text: the fit guard raises `BinaryLabelError`.

    (TensorFlow's `InvalidArgumentError` and JAX's `JaxRuntimeError` are its `__cause__`.)
    """
    message = str(excinfo.value)
    assert f"{code}:" in message, message
    assert f"Fix: {fix}" in message, message
    assert isinstance(excinfo.value, kb.BinaryLabelError)
    assert excinfo.value.code == code


@pytest.fixture
def no_guard():
    kb.config.set_fit_guard(False)
    yield
    kb.config.set_fit_guard(True)


@pytest.mark.parametrize("name,kwargs", PATHS, ids=[p[0] for p in PATHS])
def test_loss_matches_reference_on_every_path(name, kwargs):
    x, y = _data()
    model = _model(**kwargs)
    for _ in range(2):  # before and after training
        loss, acc = model.evaluate(x, y, batch_size=8, verbose=0)
        p = to_numpy(model.predict(x, verbose=0))
        assert loss == pytest.approx(_bce_reference(y, p), rel=1e-5)
        assert acc == pytest.approx(np.mean((p[:, 0] > 0.5) == y))
        before = [w.copy() for w in model.get_weights()]
        history = _fit_quietly(model, x, y, batch_size=8, epochs=1, shuffle=False)
        assert np.all(np.isfinite(history.history["loss"]))
        assert any(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights(), strict=True)), (
            "no training happened"
        )


@pytest.mark.parametrize("name,kwargs", RAISING_PATHS, ids=[p[0] for p in RAISING_PATHS])
def test_fit_raises_on_labels_1_2(name, kwargs):
    x, y = _data()
    model = _model(**kwargs)
    with pytest.raises(Exception) as excinfo:
        _fit_quietly(model, x, y + 1, batch_size=8, epochs=1)
    _check_coded_error(excinfo, "KB202", "y = y - 1")


@pytest.mark.parametrize("name,kwargs", RAISING_PATHS, ids=[p[0] for p in RAISING_PATHS])
def test_evaluate_raises_on_logits_read_as_probabilities(name, kwargs, no_guard):
    """The step's own check (the guard would stop earlier, on diagnose's KBD005)."""
    x, y = _data()
    model = _model(activation=None, **kwargs)  # logits, but SafeBCE(from_logits=False)
    model.layers[-1].output_dense.bias.assign(np.full((1,), 5.0, "float32"))  # surely outside [0, 1]
    with pytest.raises(Exception) as excinfo:
        model.evaluate(x, y, batch_size=8, verbose=0)
    message = str(excinfo.value)
    assert "KB205:" in message and "Fix: loss=keras_binary.SafeBCE(from_logits=True)" in message, message


@pytest.mark.parametrize("name,kwargs", RAISING_PATHS, ids=[p[0] for p in RAISING_PATHS])
def test_fit_raises_on_nan_labels(name, kwargs):
    x, y = _data()
    y = y.astype("float32")
    y[3] = np.nan
    model = _model(**kwargs)
    with pytest.raises(Exception) as excinfo:
        _fit_quietly(model, x, y, batch_size=8, epochs=1)
    _check_coded_error(excinfo, "KB204", "drop or impute the missing labels")


def test_default_path_is_the_one_tested():
    """Keras's `jit_compile="auto"` resolves to what PATHS assumes."""
    model = _model()
    model.make_train_function()
    expected = {"tensorflow": False, "jax": True, "torch": False}[BACKEND]  # TF: XLA only with a GPU
    if BACKEND == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            expected = True  # then the XLA path, tested below, is the default
    assert bool(model.jit_compile) is expected


# ---------------------------------------------------------------------------
# TensorFlow with XLA: no Python at run time, so NaN instead of an error.


@tf_only
def test_xla_warns_when_the_step_is_traced_outside_the_guard(no_guard):
    x, y = _data()
    model = _model(jit_compile=True)
    with pytest.warns(UserWarning, match=r"validate=True cannot raise inside an XLA-compiled step"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@tf_only
def test_xla_guard_raises_the_coded_error(no_guard):
    x, y = _data()
    model = _model(jit_compile=True)
    kb.config.set_fit_guard(True)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        _fit_quietly(model, x, y + 1, batch_size=8, epochs=1)
    _check_coded_error(excinfo, "KB202", "y = y - 1")


@tf_only
def test_xla_invalid_labels_poison_the_loss_and_do_not_train(no_guard):
    """Labels {1, 2} under XLA: the loss is NaN, the weights do not move.

    `ops.where(bad, nan, losses)` has a zero gradient on the poisoned branch,
    so with SGD the bad batches leave the weights as they were (optimizers
    with momentum may still move them by their history).
    """
    x, y = _data()
    model = _model(jit_compile=True)
    before = [w.copy() for w in model.get_weights()]
    history = _fit_quietly(model, x, y + 1, batch_size=8, epochs=2, shuffle=False)
    assert np.isnan(history.history["loss"]).all()
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    loss, _ = model.evaluate(x, y + 1, batch_size=8, verbose=0)
    assert np.isnan(loss)
    # A valid batch in the same compiled model: finite and right again.
    loss, _ = model.evaluate(x, y, batch_size=8, verbose=0)
    assert loss == pytest.approx(_bce_reference(y, to_numpy(model.predict(x, verbose=0))), rel=1e-5)


@tf_only
def test_xla_terminate_on_nan_stops_at_the_first_bad_batch(no_guard):
    x, y = _data()
    y_bad = y.copy()
    y_bad[8:] = y_bad[8:] + 1  # the second batch only: {1, 2}
    model = _model(jit_compile=True)
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    _fit_quietly(
        model,
        x,
        y_bad,
        batch_size=8,
        epochs=3,
        shuffle=False,
        callbacks=[record, keras.callbacks.TerminateOnNaN()],
    )
    assert seen == [0, 1]  # the first epoch's second batch ended training


@tf_only
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_tf_data_int64_labels(jit_compile):
    import tensorflow as tf

    x, y = _data()
    y64 = y.astype("int64")
    dataset = tf.data.Dataset.from_tensor_slices((x, y64)).batch(8)
    assert dataset.element_spec[1].shape.as_list() == [None] and dataset.element_spec[1].dtype == tf.int64
    model = _model(jit_compile=jit_compile)
    _fit_quietly(model, dataset, epochs=1)
    loss, acc = model.evaluate(dataset, verbose=0)
    p = to_numpy(model.predict(x, verbose=0))
    assert loss == pytest.approx(_bce_reference(y, p), rel=1e-5)
    assert acc == pytest.approx(np.mean((p[:, 0] > 0.5) == y))
    bad = tf.data.Dataset.from_tensor_slices((x, y64 + 1)).batch(8)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        _fit_quietly(model, bad, epochs=1)
    _check_coded_error(excinfo, "KB202", "y = y - 1")
    if not jit_compile:
        assert isinstance(excinfo.value.__cause__, tf.errors.InvalidArgumentError)
