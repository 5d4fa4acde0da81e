"""TensorFlow XLA: the steps the guard builds report their checks in their logs, and nobody else sees it.

An XLA step cannot raise; its failed checks write the model's poison records.
A step built in a guarded call adds the sum of the records' counts to its
logs, and, where a check of this step failed, makes its float logs NaN
(`_steps.counting_step`). The watcher takes both out of the logs; a good
step costs no read of the records, a `train_on_batch` call not even a read of
the count (Keras's result shows the NaN). These tests show that a good step
reads nothing, that the keys never reach Keras's logs, callbacks or results
(also with the guard off), that a failed check still reaches the caller with
its own message (a metric's as the metric's), that a model whose logs are NaN
for its own reasons is not stopped, and that a check traced inside a branch
of the step, whose flag the step cannot use, still reaches the caller
through the count.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import keras_binary as kb
from keras_binary.guard import _steps
from tests.helpers import BACKEND
from tests.test_guard import X, Y, _expect, _nan_inputs

pytestmark = pytest.mark.skipif(BACKEND != "tensorflow", reason="the poison records are TensorFlow XLA's")

GOOD = Y.astype("float32")
KEYS = (_steps.POISON_COUNT, _steps.POISON_MARKED)


def _model(loss=None, metrics=None, **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=loss or kb.SafeBCE(),
        metrics=metrics,
        jit_compile=True,
        **compile_kwargs,
    )
    return model


@pytest.fixture
def reads(monkeypatch):
    """Counts the reads of poison records."""
    count = []
    read = _steps._read
    monkeypatch.setattr(_steps, "_read", lambda record: count.append(record) or read(record))
    return count


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_good_steps_read_no_record(reads, steps_per_execution):
    model = _model(metrics=[kb.metrics.AUC(name="auc")], steps_per_execution=steps_per_execution)
    model.fit(X, GOOD, batch_size=8, epochs=2, verbose=0)
    model.evaluate(X, GOOD, batch_size=8, verbose=0)
    for _ in range(3):
        model.train_on_batch(X, GOOD)
        model.test_on_batch(X, GOOD)
    assert reads == []


def test_a_step_built_outside_the_guard_is_read_after_each_step(reads):
    model = _model()
    model.make_train_function()  # built outside a guarded call: its logs carry no count
    model.train_on_batch(X, GOOD)
    model.train_on_batch(X, GOOD)
    assert len(reads) == 2
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "guard_off"])
def test_the_marks_never_reach_keras_logs_or_results(guarded):
    model = _model(metrics=[kb.metrics.AUC(name="auc")])
    model.train_on_batch(X, GOOD)  # built by the guard: its steps mark their logs
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
    plain.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    expected_list = plain.train_on_batch(X, GOOD)

    class Seen(keras.callbacks.Callback):
        keys: set = set()

        def on_train_batch_end(self, batch, logs=None):
            Seen.keys |= set(logs or {})

        def on_test_batch_end(self, batch, logs=None):
            Seen.keys |= set(logs or {})

    kb.config.set_fit_guard(guarded)
    try:
        history = model.fit(
            X, GOOD, batch_size=8, epochs=1, verbose=0, callbacks=[Seen()], validation_split=0.25
        )
        evaluated = model.evaluate(X, GOOD, batch_size=8, verbose=0, return_dict=True)
        trained = model.train_on_batch(X, GOOD, return_dict=True)
        tested = model.test_on_batch(X, GOOD, return_dict=True)
        as_list = model.train_on_batch(X, GOOD)
    finally:
        kb.config.set_fit_guard(True)
    for keys in (Seen.keys, set(history.history), set(evaluated), set(trained), set(tested)):
        assert keys and not keys & set(KEYS), keys
    assert len(as_list) == len(expected_list) == 2
    assert all(math.isfinite(value) for value in trained.values())


def test_a_failed_check_in_train_on_batch_is_found_in_keras_result(reads):
    model = _model()
    for _ in range(3):
        model.train_on_batch(X, GOOD)
    before = [w.copy() for w in model.get_weights()]
    before_optimizer = [np.array(v) for v in model.optimizer.variables]
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")
    assert len(reads) == 1  # the NaN in the result, then the records: one read
    # The refused step kept the state (a NaN input makes the gradient NaN, zero loss gradient or not).
    after = model.get_weights() + [np.array(v) for v in model.optimizer.variables]
    for a, b in zip(before + before_optimizer, after, strict=True):
        np.testing.assert_array_equal(a, b)
    model.train_on_batch(X, GOOD)
    assert not np.array_equal(before[0], model.get_weights()[0])  # and the model trains on


@pytest.mark.parametrize("method", ["train_on_batch", "test_on_batch"])
def test_a_metric_s_failed_check_is_reported_as_the_metric_s_on_the_marked_path(method):
    messages = {}
    for jit in (False, True):
        model = _model("mean_squared_error", metrics=[kb.metrics.AUC(name="auc")])
        model.compile(
            optimizer="sgd", loss="mean_squared_error", metrics=[kb.metrics.AUC(name="auc")], jit_compile=jit
        )
        getattr(model, method)(X, GOOD)
        getattr(model, method)(X, GOOD)
        with pytest.raises(kb.BinaryError) as excinfo:
            getattr(model, method)(_nan_inputs(), GOOD)
        messages[jit] = excinfo.value
    assert type(messages[True]) is type(messages[False])
    assert messages[True].code == messages[False].code
    assert "in metric 'auc'" in messages[True].summary, messages[True].summary


def test_logs_that_are_nan_for_the_model_s_own_reasons_are_returned(reads):
    def always_nan(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    model = _model(metrics=[keras.metrics.MeanMetricWrapper(always_nan, name="nan_metric")])
    model.train_on_batch(X, GOOD)
    result = model.train_on_batch(X, GOOD, return_dict=True)
    assert math.isnan(result["nan_metric"]) and math.isfinite(result["loss"])
    assert len(reads) == 2  # each NaN made the guard look at the records: nothing there


class BranchedStep(keras.Model):
    """A custom `train_step` that computes its loss inside a `tf.cond` branch."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, "sigmoid")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = tf.cond(
                tf.reduce_sum(tf.abs(y)) >= 0,
                lambda: self.compute_loss(x=x, y=y, y_pred=y_pred),
                lambda: tf.constant(0.0),
            )
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}


def test_a_check_traced_in_a_branch_of_the_step_still_reaches_the_caller(reads):
    keras.utils.set_random_seed(4)
    model = BranchedStep()
    model.compile(optimizer="sgd", loss=kb.SafeBCE(), jit_compile=True)
    model.train_on_batch(X, GOOD)
    model.train_on_batch(X, GOOD)
    assert reads == []  # the branch's flag is not the step's to use; the count says nothing failed
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")
    assert len(reads) == 1


@pytest.mark.parametrize(
    "result,nan",
    [
        (0.5, False),
        (float("nan"), True),
        ([0.5, 0.25], False),
        ([0.5, float("nan")], True),
        ({"loss": 0.5, "auc": 0.75}, False),
        ({"loss": 0.5, "auc": float("nan")}, True),
        ([0.5, np.array([1.0, 2.0])], True),  # not what Keras returns for scalar logs: look at the records
        (None, True),
    ],
)
def test_shows_nan(result, nan):
    assert _steps._shows_nan(result) is nan


@pytest.mark.parametrize("first_guarded", [True, False], ids=["guarded_first", "guard_off_first"])
def test_a_step_traced_again_after_the_guard_was_switched_is_not_refused(first_guarded):
    # A new batch shape traces the step again; its check finds the record of
    # the first trace (creating one in a second trace is refused by `tf.function`).
    model = _model()
    kb.config.set_fit_guard(first_guarded)
    try:
        model.train_on_batch(X, GOOD)
        kb.config.set_fit_guard(not first_guarded)
        loss = model.train_on_batch(X[:16], GOOD[:16])
        assert math.isfinite(loss)
    finally:
        kb.config.set_fit_guard(True)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs()[:12], GOOD[:12])  # a third shape, guarded
    _expect(excinfo, "KB207")


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_fit_refused_batch_keeps_the_state_and_later_steps_of_its_execution_apply(steps_per_execution):
    # Batches of 8: good, good, NaN (row 10 is in the second batch: use a copy with row 20 NaN), good.
    x = X.copy()
    x[20] = np.nan  # the third batch of 8
    reference = _model(steps_per_execution=steps_per_execution)
    reference.fit(X[:16], GOOD[:16], batch_size=8, epochs=1, verbose=0, shuffle=False)
    model = _model(steps_per_execution=steps_per_execution)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(x, GOOD, batch_size=8, epochs=1, verbose=0, shuffle=False)
    _expect(excinfo, "KB207")
    got = model.get_weights()
    if steps_per_execution == 1:
        for a, b in zip(reference.get_weights(), got, strict=True):
            np.testing.assert_array_equal(a, b)  # the error came right after the refused step
    else:
        # The refused step is the first of its execution; the good step after it in the same
        # execution was applied: the weights are those of good batches 1, 2 and 4, all finite.
        expected = _model(steps_per_execution=1)
        keep = np.r_[0:16, 24:32]
        expected.fit(X[keep], GOOD[keep], batch_size=8, epochs=1, verbose=0, shuffle=False)
        for a, b in zip(expected.get_weights(), got, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_state_that_cannot_be_read_leaves_the_step_as_keras_s(monkeypatch):
    # The rollback reads every variable before the step; where that fails the step runs unchanged.
    def unreadable(model):
        raise RuntimeError("not readable in this trace")

    monkeypatch.setattr(_steps, "_state_variables", unreadable)
    model = _model()
    loss = model.train_on_batch(X, GOOD)
    assert math.isfinite(loss)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")  # the count still reaches the guard
