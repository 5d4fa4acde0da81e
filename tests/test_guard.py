"""The fit guard: every bad batch reaches the caller as the coded error, on every backend and path.

Paths: arrays (the host label check, before the first step), generators and
`tf.data` datasets (the steps' own checks, watched by the guard), `fit`,
`evaluate`, `train_on_batch`, `test_on_batch`, `verbose=0` and `1`,
`steps_per_execution=4`, TensorFlow with and without XLA, JAX with work in
flight, PyTorch. Errors are asserted by class and code; the backend's own
error is the `__cause__`.
"""

from __future__ import annotations

import pickle
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary as kb
from keras_binary import guard
from keras_binary.guard import check_labels, coded_error
from tests.helpers import BACKEND

N = 32
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")
Y[:2] = [0, 1]
tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA and tf.data are TensorFlow paths")
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="asynchronous dispatch of jitted steps is JAX's")


def _model(loss=None, metrics=None, activation="sigmoid", **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=kb.SafeBCE() if loss is None else loss,
        metrics=metrics,
        **compile_kwargs,
    )
    return model


def _paths():
    """(name, compile kwargs) of the compiled paths of the backend under test."""
    if BACKEND == "tensorflow":
        return [
            ("graph", {"jit_compile": False}),
            ("xla", {"jit_compile": True}),
            ("eager", {"run_eagerly": True}),
        ]
    if BACKEND == "jax":
        return [("jit", {}), ("eager", {"run_eagerly": True})]
    return [("default", {})]


PATHS = _paths()
PATH_IDS = [p[0] for p in PATHS]


class CountBatches(keras.callbacks.Callback):
    async_safe = True

    def __init__(self):
        super().__init__()
        self.begun = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.begun += 1

    def on_test_batch_begin(self, batch, logs=None):
        self.begun += 1


def _batches(x, y, batch_size=8):
    def generate():
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]

    return generate()


def _expect(excinfo, code: str) -> kb.BinaryError:
    error = excinfo.value
    assert isinstance(error, kb.BinaryError), type(error)
    assert error.code == code, str(error)
    assert error.fix, str(error)
    assert str(error).splitlines()[0].startswith(f"{code}: ")
    return error


@pytest.fixture
def no_guard():
    kb.config.set_fit_guard(False)
    yield
    kb.config.set_fit_guard(True)


# ---------------------------------------------------------------------------
# Installation and the switch.


def test_guard_wraps_the_four_methods_once():
    guard.install()
    for name in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
        method = getattr(keras.Model, name)
        original = method._keras_binary_original
        assert not hasattr(original, "_keras_binary_original"), f"{name} wrapped twice"


def test_only_models_compiled_with_keras_binary_objects_are_guarded():
    assert guard.is_guarded(_model())
    assert guard.is_guarded(_model(loss="binary_crossentropy", metrics=[kb.metrics.AUC()]))
    assert guard.is_guarded(_model(loss={"dense": kb.SafeBCE()}))
    plain = _model(loss="binary_crossentropy", metrics=["accuracy"])
    assert not guard.is_guarded(plain)
    # A plain model is not touched: Keras trains it on {1, 2} as it always did
    # (PyTorch's own binary cross-entropy rejects such targets, uncoded).
    if BACKEND == "torch":
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            plain.fit(X, Y + 1, epochs=1, batch_size=8, verbose=0)
    else:
        plain.fit(X, Y + 1, epochs=1, batch_size=8, verbose=0)


def test_recompiling_without_keras_binary_removes_the_guard():
    model = _model()
    assert guard.is_guarded(model)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    assert not guard.is_guarded(model)


def test_switch_off_runs_plain_keras(no_guard):
    model = _model()
    assert not kb.config.fit_guard_enabled()
    with pytest.raises(Exception) as excinfo:  # the backend's own error, or none on XLA
        model.fit(X, Y + 1, batch_size=N, epochs=1, verbose=0)
        raise AssertionError("no error")  # only reached where the backend stays silent
    if BACKEND == "torch":
        assert isinstance(excinfo.value, kb.BinaryLabelError)  # raised eagerly
    else:
        assert not isinstance(excinfo.value, kb.BinaryLabelError) or excinfo.value.fix is None


def test_switch_takes_only_booleans():
    with pytest.raises(TypeError, match="True or False"):
        kb.config.set_fit_guard("no")


def test_environment_variable_is_read(monkeypatch):
    from keras_binary import config

    monkeypatch.setenv(config.FIT_GUARD_ENV, "0")
    assert config._env_enabled() is False
    monkeypatch.setenv(config.FIT_GUARD_ENV, "1")
    assert config._env_enabled() is True


# ---------------------------------------------------------------------------
# Before the first step: every label of an array, on the host.

LABEL_CASES = [
    ("one_two", Y + 1, "KB202", "y = y - 1"),
    ("minus_one_one", 2 * Y - 1, "KB203", "y = (y + 1) / 2"),
    ("pixels", Y * 255, "KB201", "y = y / 255"),
    ("three_classes", np.sort(np.arange(N) % 3), "KB209", "y = (y == 2)"),
    ("nan", np.where(np.arange(N) == 5, np.nan, Y).astype("float32"), "KB204", "np.isnan"),
    ("strings", np.where(Y == 1, "dog", "cat"), "KB210", "keras_binary.encode_labels(y, pos_label='dog')"),
    ("not_one_hot", np.stack([Y, np.ones(N)], axis=-1), "KB208", "to_categorical"),
    ("score_pairs", np.stack([3.0 * Y, 2.0 * (1 - Y)], axis=-1), "KB208", "np.argmax(y, axis=-1)"),
]


@pytest.mark.parametrize("name,y,code,fix", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_array_labels_are_checked_before_the_first_step(name, y, code, fix, method):
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    counter = CountBatches()
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        if method == "fit":
            model.fit(X, y, batch_size=8, epochs=1, verbose=0, callbacks=[counter])
        elif method == "evaluate":
            model.evaluate(X, y, batch_size=8, verbose=0, callbacks=[counter])
        else:
            getattr(model, method)(X, y)
    error = _expect(excinfo, code)
    assert fix in error.fix
    assert counter.begun == 0
    assert model.train_function is None or method not in ("fit", "train_on_batch") or True
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_three_classes_read_unshuffled_are_judged_from_all_labels():
    """A folder {0, 1, 2} whose first batches hold only 1s and 2s: KB209, not 'y - 1'."""
    y = np.repeat([1, 2, 0], [12, 12, 8])
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        _model().fit(X, y, batch_size=8, shuffle=False, epochs=1, verbose=0)
    error = _expect(excinfo, "KB209")
    assert "3 class ids" in error.summary and "0 (8)" in error.received


def test_validation_labels_are_checked_too():
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        _model().fit(X, Y, validation_data=(X, Y + 1), batch_size=8, epochs=1, verbose=0)
    assert "validation_data y" in _expect(excinfo, "KB202").received


def test_tensor_labels_are_checked():
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        _model().fit(X, keras.ops.convert_to_tensor(Y + 1), batch_size=8, epochs=1, verbose=0)
    _expect(excinfo, "KB202")


@pytest.mark.parametrize(
    "y",
    [Y, Y.astype(bool), Y.astype("float16"), np.full(N, 0.3, "float32"), np.eye(2)[Y], Y[:, None]],
    ids=["int", "bool", "float16", "soft", "one_hot", "column"],
)
def test_valid_labels_pass_and_train(y):
    model = _model()
    history = model.fit(X, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_multi_label_pairs_are_not_read_as_one_hot():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, "sigmoid")])
    model.compile(optimizer="sgd", loss=kb.SafeBCE(multi_label=True))
    y = np.stack([Y, np.ones(N, "int32")], axis=-1)  # rows [1, 1]: two independent labels
    assert np.isfinite(model.fit(X, y, batch_size=8, epochs=1, verbose=0).history["loss"][0])


_label_arrays = hnp.arrays(
    dtype=st.sampled_from(["float32", "float64", "int32", "int8"]),
    shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
    elements={"allow_infinity": False, "min_value": -3, "max_value": 120},
)


@given(_label_arrays)
def test_label_check_matches_a_numpy_reference(y):
    """The one-pass check raises exactly when a float64 reference finds a bad value."""
    values = y.astype("float64")
    pairs = y.ndim == 2 and y.shape[-1] == 2
    bad = bool(np.isnan(values).any() or (values < 0).any() or (values > 1).any())
    if pairs and not bad:
        bad = bool((np.abs(values.sum(axis=-1) - 1) > 5e-3).any())
    try:
        check_labels(y)
        raised = None
    except kb.BinaryLabelError as error:
        raised = error.code
    assert (raised is not None) == bad, (y, raised)
    if raised == "KB209":
        assert len(np.unique(values)) >= 3


def test_label_check_pass_is_single_and_cheap():
    """10 million valid labels: the check allocates no copy of them (a pass of reductions)."""
    import tracemalloc

    y = np.zeros(10_000_000, "float32")
    tracemalloc.start()
    check_labels(y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # far below the 40 MB of the labels


# ---------------------------------------------------------------------------
# Before the first step: the graph checks of diagnose.


def test_graph_error_stops_fit_with_the_finding():
    model = _model(activation="softmax")  # one-unit softmax: always 1.0
    counter = CountBatches()
    with pytest.raises(kb.BinaryModelError) as excinfo:
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0, callbacks=[counter])
    error = excinfo.value
    assert error.code == "KBD002"
    assert isinstance(error, kb.BinaryConfigError) and isinstance(error, ValueError)
    assert error.finding.code == "KBD002" and error.fix == error.finding.fix
    assert "Why: " in str(error) and str(error).endswith("See: keras-binary explain KBD002")
    assert counter.begun == 0
    assert pickle.loads(pickle.dumps(error)).code == "KBD002"
    with pytest.raises(kb.BinaryModelError):
        model.evaluate(X, Y, verbose=0)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "safe_bce"])
def test_classifier_left_on_top_stops_fit(loss):
    # The seed report's shape: a K-way softmax, Flatten, then Dense(1, "sigmoid"). With a plain
    # Keras loss and a keras_binary metric the model is guarded too.
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    if loss == "safe_bce":
        model.compile(optimizer="adam", loss=kb.SafeBCE())
    else:
        model.compile(optimizer="adam", loss=loss, metrics=[kb.metrics.AUC()])
    counter = CountBatches()
    with pytest.raises(kb.BinaryModelError) as excinfo:
        model.fit(np.zeros((8, 6), "float32"), np.array([0, 1] * 4), epochs=1, verbose=0, callbacks=[counter])
    assert excinfo.value.code == "KBD001" and "predictions" in str(excinfo.value)
    assert counter.begun == 0


# ---------------------------------------------------------------------------
# During training: the steps' own checks, one exception type.


def _nan_inputs():
    x = X.copy()
    x[10] = np.nan  # second batch of 8
    return x


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("verbose", [0, 1])
def test_generator_bad_batch_raises_the_coded_error(name, kwargs, verbose):
    model = _model(**kwargs)
    y = Y.copy()
    y[8:16] += 1  # the second batch only
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(_batches(X, y), epochs=2, verbose=verbose)
    _expect(excinfo, "KB202")
    if BACKEND != "jax":
        # The bad batch is the second step; the guard stops at the step after it at the latest.
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) <= 3


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_step_only_errors_on_arrays_raise_the_coded_error(name, kwargs):
    """NaN inputs: the labels are fine, the prediction check in the step fires (KB207)."""
    model = _model(**kwargs)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(_nan_inputs(), Y, batch_size=8, epochs=1, verbose=0)
    error = _expect(excinfo, "KB207")
    cause = error.__cause__
    if BACKEND == "tensorflow" and name == "graph":
        import tensorflow as tf

        assert isinstance(cause, tf.errors.InvalidArgumentError)
    if BACKEND == "jax" and name == "jit":
        # The step's callback left the error on the model (no JaxRuntimeError): raised as is.
        assert cause is None


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_evaluate_and_batch_methods_raise_the_coded_error(name, kwargs):
    calls = {
        "evaluate_arrays": lambda m: m.evaluate(_nan_inputs(), Y, batch_size=8, verbose=0),
        "evaluate_generator": lambda m: m.evaluate(_batches(X, Y + 1), verbose=0),
        "train_on_batch": lambda m: m.train_on_batch(_nan_inputs(), Y),
        "test_on_batch": lambda m: m.test_on_batch(_nan_inputs(), Y),
    }
    for what, call in calls.items():
        model = _model(**kwargs)  # a failed JAX step leaves the model unusable: a fresh one each time
        with pytest.raises(kb.BinaryLabelError) as excinfo:
            call(model)
        assert excinfo.value.code in ("KB207", "KB202"), what


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_validation_steps_inside_fit_raise_the_coded_error(name, kwargs):
    """fit's own evaluate runs through the guarded test step."""
    model = _model(**kwargs)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(X, Y, validation_data=(_nan_inputs(), Y), batch_size=8, epochs=1, verbose=0)
    _expect(excinfo, "KB207")


@pytest.mark.skipif(BACKEND == "torch", reason="Keras's PyTorch trainer refuses steps_per_execution > 1")
@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_steps_per_execution_4(name, kwargs):
    model = _model(steps_per_execution=4, **kwargs)
    y = Y.copy()
    y[8:16] += 1
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(_batches(X, y), epochs=1, verbose=0)
    _expect(excinfo, "KB202")


def test_keras_binary_metric_with_a_plain_loss_is_guarded():
    # A loss that checks nothing (PyTorch's binary cross-entropy would reject the batch first).
    model = _model(loss="mean_squared_error", metrics=[kb.metrics.AUC(name="auc")])
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(_nan_inputs(), Y, batch_size=8, epochs=1, verbose=0)
    _expect(excinfo, "KB207")


def test_valid_data_trains_through_the_guard_with_finite_logs():
    model = _model(metrics=[kb.metrics.BinaryAccuracy(name="acc")])
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(_batches(X, Y), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights(), strict=True))
    logs = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    assert np.isfinite(logs["loss"]) and 0 <= logs["acc"] <= 1


# ---------------------------------------------------------------------------
# TensorFlow XLA: the poison record.


@tf_only
def test_xla_dataset_bad_batch_raises_without_warning():
    import tensorflow as tf

    model = _model(jit_compile=True)
    y = Y.copy()
    y[8:16] += 1
    data = tf.data.Dataset.from_tensor_slices((X, y)).batch(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(kb.BinaryLabelError) as excinfo:
            model.fit(data, epochs=3, verbose=0)
    _expect(excinfo, "KB202")
    assert not [w for w in caught if "XLA" in str(w.message)]  # no trace-time warning inside the guard
    # Stopped right after the bad batch, whose step kept the state it started from (the step
    # function the guard builds): one step applied, the good first batch.
    assert int(model.optimizer.iterations.numpy()) == 1
    # The record is cleared: the same model trains on valid data again.
    good = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    assert np.isfinite(model.fit(good, epochs=1, verbose=0).history["loss"][0])


@tf_only
def test_xla_nan_not_from_the_checks_is_not_a_label_error():
    """A NaN loss with an empty poison record (here an extra NaN loss term) is left to Keras."""

    class NaNTerm(keras.layers.Layer):
        def call(self, x):
            self.add_loss(keras.ops.mean(x) * float("nan"))
            return x

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid"), NaNTerm()])
    model.compile(optimizer="sgd", loss=kb.SafeBCE(), jit_compile=True)
    history = model.fit(X, Y, batch_size=N, epochs=1, verbose=0)  # one step: NaN, no error
    assert np.isnan(history.history["loss"][0])
    # Its NaN gradient made the weights NaN: the next step's prediction check
    # says so (KB207, "diverged"), as it does without XLA; no label code.
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(X, Y, batch_size=N, epochs=1, verbose=0)
    assert "diverged" in _expect(excinfo, "KB207").summary


@tf_only
def test_xla_warns_outside_the_guard(no_guard):
    model = _model(jit_compile=True)
    with pytest.warns(UserWarning, match="outside the fit guard"):
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)


# ---------------------------------------------------------------------------
# JAX: asynchronous dispatch with work in flight (the case pythonify_logs swallowed).


@jax_only
@pytest.mark.parametrize("case", ["fit_arrays", "fit_nan_inputs", "generator", "evaluate"])
def test_jax_work_in_flight_does_not_hide_the_error(case):
    import jax.numpy as jnp

    for trial in range(3):
        model = _model()
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)  # compiled and warm
        model.evaluate(X, Y, batch_size=8, verbose=0)
        a = jnp.ones((1536, 1536))
        _ = a @ a @ a  # in flight: the next step is dispatched asynchronously
        y = Y.copy()
        y[8:16] += 1
        with pytest.raises(kb.BinaryLabelError) as excinfo:
            if case == "fit_arrays":
                model.fit(X, Y + 1, batch_size=8, epochs=1, verbose=0)
            elif case == "fit_nan_inputs":
                model.fit(_nan_inputs(), Y, batch_size=8, epochs=1, verbose=0)
            elif case == "generator":
                model.fit(_batches(X, y), epochs=1, verbose=0)
            else:
                model.evaluate(_nan_inputs(), Y, batch_size=8, verbose=0)
        assert excinfo.value.code in ("KB202", "KB207"), trial


@jax_only
def test_jax_keras_still_calls_the_watched_step_function():
    """The guard relies on Keras's JAX trainer calling `model.train_function` per execution."""
    model = _model()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    watcher = model.train_function._keras_binary_watcher
    assert watcher.calls == N // 8, "Keras no longer calls model.train_function: the JAX watcher is blind"
    model.evaluate(X, Y, batch_size=8, verbose=0)
    assert model.test_function._keras_binary_watcher.calls == N // 8


def test_private_keras_names_the_guard_reads_still_exist():
    """If a Keras upgrade moves these, the guard stops recognising keras_binary models: fail loudly."""
    model = _model()
    assert "loss" in model._compile_config.config
    assert model._compile_loss is not None
    assert hasattr(model, "_compile_metrics")
    model.make_train_function()
    model.make_test_function()
    assert callable(model.train_function) and callable(model.test_function)
    if BACKEND == "jax":
        import inspect

        from keras.src.backend.jax import trainer

        # The hole the watcher closes: Keras's JAX trainer converts logs with this bare try/except.
        assert "pythonify_logs" in vars(trainer)
        # The rollback (guard/_rollback.py) hands Keras its step as `model.train_step`/`test_step`,
        # which the builders read from the model, and wraps `model._make_function`.
        assert callable(getattr(model, "_make_function", None)), "keras.Model._make_function (JAX) moved"
        for builder, step in (
            ("make_train_function", "self.train_step"),
            ("make_test_function", "self.test_step"),
        ):
            source = inspect.getsource(getattr(trainer.JAXTrainer, builder))
            assert step in source and "self._make_function(" in source, (
                f"JAXTrainer.{builder} no longer jits {step}"
            )
    # The guard wraps the backend trainer class that defines each method (below keras.Model).
    for name in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
        owners = [c for c in keras.Model.__mro__[1:] if name in c.__dict__]
        assert owners, (
            f"no base class of keras.Model defines {name}: keras_binary.guard.install wraps nothing"
        )
    # Masks: keras_binary/_masks.py and guard/_arguments.py read them with this private function.
    from keras.src.backend.common.masking import get_keras_mask  # noqa: F401 - the import is the check

    if BACKEND == "torch":
        # _runtime._in_torch_shape_inference
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope  # noqa: F401
    if BACKEND == "tensorflow":
        # _runtime._in_xla_context
        from tensorflow.python.ops import control_flow_util

        assert callable(control_flow_util.GraphOrParentsInXlaContext), (
            "tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext moved: XLA steps go undetected"
        )


# ---------------------------------------------------------------------------
# Turning backend errors into the coded error.


def test_coded_error_rebuilds_from_a_tensorflow_style_message():
    text = str(kb.BinaryLabelError("KB202", "labels {1, 2}.", received="r", expected="e", fix="y = y - 1"))
    noisy = "Graph execution error:\n\nDetected at node x\n" + text + "\n\t [[{{node y}}]]\n" + text
    rebuilt = coded_error(RuntimeError(noisy))
    assert type(rebuilt) is kb.BinaryLabelError
    assert (rebuilt.code, rebuilt.received, rebuilt.expected, rebuilt.fix) == ("KB202", "r", "e", "y = y - 1")
    assert str(rebuilt) == text
    assert coded_error(RuntimeError("KB999: not ours")) is None
    assert coded_error(ValueError("no code here")) is None
    shape = kb.BinaryShapeError("KB104", "batch sizes differ.", fix="f")
    assert coded_error(shape) is shape


def test_findings_the_shape_contract_raises_are_left_to_it():
    """A 1000-way softmax under SafeBCE: the contract's KB102 (include_top=False), not a KBD finding."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1000, "softmax")])
    model.compile(optimizer="sgd", loss=kb.SafeBCE())
    with pytest.raises(kb.BinaryShapeError) as excinfo:
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert excinfo.value.code == "KB102" and not isinstance(excinfo.value, kb.BinaryModelError)
