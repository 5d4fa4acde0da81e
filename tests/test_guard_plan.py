"""The plan of `train_on_batch` and `test_on_batch`: later calls skip what the first one checked, and nothing else.

A custom loop or a GAN calls `train_on_batch` every step. After a guarded
call passed every check, the guard notes what its host checks depended on
(`guard._plan.make_plan`); while that holds, a call runs the short label test and
the watched step only. These tests show that a bad batch after many good
calls still stops with the same coded error, class and code, as on a fresh
model, before its step (the weights are unchanged), on every compiled path
(TensorFlow graph and XLA, JAX jit, PyTorch); that a failed check inside the
step still reaches the caller; and that whatever the plan depended on, once
changed, sends the call through the full checks again.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_binary as kb
from keras_binary import guard
from tests.helpers import BACKEND
from tests.test_guard import LABEL_CASES, PATH_IDS, PATHS, X, Y, _expect, _nan_inputs

GOOD = Y.astype("float32")


def _model(**compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=kb.SafeBCE(), **compile_kwargs)
    return model


def _planned(method: str, **compile_kwargs) -> keras.Model:
    """A model after three good guarded calls of `method`: its plan is in place."""
    model = _model(**compile_kwargs)
    for _ in range(3):
        getattr(model, method)(X, GOOD)
    return model


def _plan(model: keras.Model, method: str):
    return model.__dict__.get(guard._PLAN % method)


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("method", ["train_on_batch", "test_on_batch"])
def test_good_calls_take_the_plan(method, name, kwargs, monkeypatch):
    model = _planned(method, **kwargs)
    assert _plan(model, method) is not None
    full = []
    monkeypatch.setattr(guard, "_before_first_step", lambda *args: full.append(args))
    getattr(model, method)(X, GOOD)
    getattr(model, method)(X, GOOD[:, None])  # (N, 1) labels: the same short test
    assert full == []  # no full host check: the plan held


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("label_case", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_a_bad_batch_after_good_calls_stops_as_on_a_fresh_model(label_case, name, kwargs):
    _, y, code, fix = label_case
    fresh = _model(**kwargs)
    with pytest.raises(kb.BinaryLabelError) as first:
        fresh.train_on_batch(X, y)
    model = _planned("train_on_batch", **kwargs)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(kb.BinaryLabelError) as later:
        model.train_on_batch(X, y)
    error = _expect(later, code)
    assert type(error) is type(first.value) and error.code == first.value.code
    assert str(error) == str(first.value) and fix in error.fix
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # stopped before its step, as on the first call
    model.train_on_batch(X, GOOD)  # and the model goes on with good batches


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("method", ["train_on_batch", "test_on_batch"])
def test_a_failed_check_in_the_step_reaches_the_caller_on_the_plan(method, name, kwargs):
    # NaN inputs pass the host label test; the step's own check (watched under XLA and JAX) fails.
    model = _planned(method, **kwargs)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        getattr(model, method)(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")
    if BACKEND == "tensorflow" and name == "xla":
        from keras_binary import _runtime

        records = _runtime.poison_records(model)
        assert records and all(record.numpy()[0] == 0 for record, _ in records)  # read and zeroed


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_a_rebuilt_step_function_is_watched_again(name, kwargs):
    model = _planned("train_on_batch", **kwargs)
    model.make_train_function(force=True)  # a new, unwatched step function: the plan no longer holds
    assert not guard._plan_holds(_plan(model, "train_on_batch"), model.__dict__, (X, GOOD), {})
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(_nan_inputs(), GOOD)
    _expect(excinfo, "KB207")


def test_a_recompiled_model_is_judged_again():
    model = _planned("train_on_batch")
    model.compile(optimizer="sgd", loss="mean_squared_error")  # no keras_binary object: plain Keras
    model.train_on_batch(X, Y + 1)  # labels {1, 2} are no mistake for a regression
    model.compile(optimizer="sgd", loss=kb.SafeBCE())
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.train_on_batch(X, Y + 1)
    _expect(excinfo, "KB202")


def test_a_changed_graph_is_checked_again():
    model = _planned("train_on_batch")
    model.add(keras.layers.Dense(1, "softmax"))  # a one-unit softmax on top: always 1.0
    with pytest.raises(kb.BinaryModelError) as excinfo:
        model.train_on_batch(X, GOOD)
    assert excinfo.value.code == "KBD002"


def test_the_switch_still_turns_the_guard_off(monkeypatch):
    model = _planned("train_on_batch")

    def planned(*args):
        raise AssertionError("the plan ran with the guard off")

    monkeypatch.setattr(guard, "_run_planned", planned)
    kb.config.set_fit_guard(False)
    try:
        model.train_on_batch(X, GOOD)  # Keras's own method, nothing else
    finally:
        kb.config.set_fit_guard(True)
    with pytest.raises(AssertionError):
        model.train_on_batch(X, GOOD)


def test_the_short_label_test_agrees_with_check_labels():
    cases = [
        GOOD,
        GOOD[:, None],
        GOOD.astype(bool),
        GOOD.astype("uint8"),
        np.array([0.0, 0.25, 1.0], "float16"),
        np.array([-0.0, 1.0]),
        np.array([0.0, np.nan, 1.0]),
        np.array([0.0, 1.0, np.inf]),
        np.array([-np.inf, 1.0]),
        np.array([0, 1, 2]),
        np.array([-1, 1], "int8"),
        np.array([0.0, 1.0000001]),
    ]
    for y in cases:
        try:
            kb.guard.check_labels(y)
            valid = True
        except kb.BinaryLabelError:
            valid = False
        if guard._plainly_binary(y):
            assert valid, y  # the short test never passes labels that the full check refuses
        elif y.dtype.kind in "biuf":
            assert not valid, y  # and (for one label per row) passes every one it accepts


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_a_popped_and_replaced_layer_is_checked_again(name, kwargs):
    # `pop` then `add` keeps the layer count: the graph check and the plan must still see the new top.
    model = _planned("train_on_batch", **kwargs)
    fit_model = _model(**kwargs)
    fit_model.fit(X, GOOD, epochs=1, verbose=0)
    for trained in (model, fit_model):
        trained.pop()
        trained.add(keras.layers.Dense(1, "softmax"))  # a one-unit softmax: always 1.0
        with pytest.raises(kb.BinaryModelError) as excinfo:
            if trained is model:
                trained.train_on_batch(X, GOOD)
            else:
                trained.fit(X, GOOD, epochs=1, verbose=0)
        assert excinfo.value.code == "KBD002"


@pytest.mark.parametrize("name,kwargs", PATHS, ids=PATH_IDS)
def test_a_plain_keras_model_under_all_takes_the_plan_and_still_stops_a_bad_batch(name, kwargs, monkeypatch):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"], **kwargs)
    kb.config.set_fit_guard("all")
    try:
        for _ in range(3):
            model.train_on_batch(X, GOOD)
        assert _plan(model, "train_on_batch") is not None
        full = []
        before_first_step = guard._before_first_step
        monkeypatch.setattr(guard, "_before_first_step", lambda *a: full.append(a) or before_first_step(*a))
        model.train_on_batch(X, GOOD)
        assert full == []  # the plan held: no full host check
        before = [w.copy() for w in model.get_weights()]
        with pytest.raises(kb.BinaryLabelError) as excinfo:
            model.train_on_batch(X, GOOD + 1)  # labels {1, 2}: the full path again
        assert excinfo.value.code.startswith("KB2") and len(full) == 1
        for a, b in zip(before, model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        kb.config.set_fit_guard(True)  # the model is no longer guarded: the plan no longer holds
        assert not guard._plan_holds(_plan(model, "train_on_batch"), model.__dict__, (X, GOOD), {})
        try:
            model.train_on_batch(X, GOOD + 1)  # plain Keras, as the user asked
        except kb.BinaryError as error:
            pytest.fail(f"the guard stopped a model it no longer covers: {error}")
        except Exception:  # noqa: BLE001 - Keras's own refusal (PyTorch's BCE: targets outside [0, 1])
            assert BACKEND == "torch"
    finally:
        kb.config.set_fit_guard(True)
