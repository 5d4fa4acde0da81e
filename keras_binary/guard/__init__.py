"""The fit guard: no bad batch gets through `fit`, `evaluate` or `train_on_batch`.

Importing keras_binary wraps four public methods that `keras.Model` inherits
from the backend trainer: `fit`, `evaluate`, `train_on_batch` and
`test_on_batch` (the pattern of MLflow's and Weights & Biases' Keras
autologging, one class below theirs, so that their restoring `fit` keeps the
guard; docs/guard.md says why this and not a callback). For a model compiled with no keras_binary loss or metric, or with
the guard off (`keras_binary.config.set_fit_guard(False)`), the wrapper
calls Keras's method and nothing else. For the others it:

1. before the first step, on the host, raises `BinaryModelError` for an error
   finding of the graph checks (`keras_binary.diagnostics.graph_errors`),
   and checks the labels when `y` (and `validation_data`'s) is an array, in
   one pass over all of them (`check_labels`);
2. watches the steps where the backend cannot raise inside them (JAX
   `jit`, TensorFlow XLA: `keras_binary/guard/_steps.py`), so that a failed
   value check reaches the caller at the next step boundary;
3. turns whatever the backend raised for a failed check into the coded
   error (`BinaryLabelError` for `KB2xx`), with the backend's error as
   `__cause__`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras

from keras_binary import _runtime, config
from keras_binary.guard import _plan
from keras_binary.guard._arguments import check_call_arguments
from keras_binary.guard._errors import coded_error
from keras_binary.guard._labels import check_labels
from keras_binary.guard._plan import PLAN as _PLAN
from keras_binary.guard._plan import PLANNED as _PLANNED
from keras_binary.guard._plan import functional_of as _functional_of
from keras_binary.guard._plan import plainly_binary as _plainly_binary
from keras_binary.guard._plan import plan_holds as _plan_holds
from keras_binary.guard._steps import StepWatcher, check_poison, raise_failure, watch

__all__ = ["check_labels", "coded_error", "install", "is_guarded"]

# The methods wrapped, and which step function each runs.
_METHODS = {
    "fit": "train_function",
    "evaluate": "test_function",
    "train_on_batch": "train_function",
    "test_on_batch": "test_function",
}
# Attribute on a wrapper: the Keras method it wraps.
_ORIGINAL = "_keras_binary_original"
# Attribute on a model: the guarded call in progress (fit's own evaluate is not checked again).
_ACTIVE = "_keras_binary_guard_active"
# Attribute on a model: the compiled objects the last decision was made for, and the decision.
_DECISION = "_keras_binary_guard_decision"


def install() -> None:
    """Wraps `fit`, `evaluate`, `train_on_batch` and `test_on_batch` of Keras's trainer, once.

    Called when keras_binary is imported (unless `KERAS_BINARY_FIT_GUARD=0`),
    and by `keras_binary.config.set_fit_guard(True)`.

    The wrapper goes on the backend trainer class that defines each method
    (`keras.Model`'s base), not on `keras.Model` itself: a library that
    patches `keras.Model.fit` (MLflow's autologging) and later restores it,
    by putting its stored original back or by deleting its own attribute,
    then restores the guarded method. A patch that such a library made
    before keras_binary was imported, and the original it stored
    (`_gorilla_original_fit`, MLflow's naming), are wrapped too: a wrapper
    inside a wrapper runs the guard once (the outer one).

    Example:

    >>> import keras
    >>> install()
    >>> hasattr(keras.Model.fit, "_keras_binary_original")
    True
    """
    for name in _METHODS:
        for owner in keras.Model.__mro__[1:]:
            if name in owner.__dict__:
                _wrap_attribute(owner, name, name)
                break
        for attribute in (name, _PATCHED_ORIGINAL % name):
            if attribute in keras.Model.__dict__:
                _wrap_attribute(keras.Model, attribute, name)


# Where MLflow's patching library (gorilla) keeps the method it replaced.
_PATCHED_ORIGINAL = "_gorilla_original_%s"


def _wrap_attribute(owner: type, attribute: str, name: str) -> None:
    method = owner.__dict__[attribute]
    if callable(method) and getattr(method, _ORIGINAL, None) is None:
        setattr(owner, attribute, _guarded(name, method))


def _guarded(name: str, method: Callable) -> Callable:
    plan_attribute = _PLAN % name if name in _PLANNED else None
    # Keras's own `train_on_batch`/`test_on_batch`: reads the logs of its one step and returns them.
    synced = name.endswith("_on_batch") and getattr(method, "__module__", "").startswith("keras.")

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        state = self.__dict__
        if not config.fit_guard_enabled():
            return _run_switched_off(self, method, args, kwargs)
        if state.get(_ACTIVE):
            return method(self, *args, **kwargs)
        if plan_attribute is not None:
            plan = state.get(plan_attribute)
            if plan is not None and _plan_holds(plan, state, args, kwargs):
                return _run_planned(self, state, method, args, kwargs, plan[8], synced)
        if is_guarded(self) or _checks_traced(self):
            return _run_guarded(self, name, method, args, kwargs, synced)
        return _run_unguarded(self, method, args, kwargs)

    setattr(wrapper, _ORIGINAL, method)
    return wrapper


def _run_switched_off(model: keras.Model, method: Callable, args: tuple, kwargs: dict) -> Any:
    """Keras's method with the guard switched off: only the model its steps' poison records belong to is noted."""
    calls = _runtime.switched_off_calls()
    calls.append(model)
    try:
        return method(model, *args, **kwargs)
    finally:
        calls.pop()


def _run_guarded(
    model: keras.Model, name: str, method: Callable, args: tuple, kwargs: dict, synced: bool
) -> Any:
    model.__dict__[_ACTIVE] = True
    _runtime.enter_call(model)
    plain = not _compiled_objects(model)  # a plain-Keras model under "all": no check in its step
    try:
        _before_first_step(model, name, args, kwargs)
        if plain:  # the labels of a generator's, a tf.data.Dataset's or a PyDataset's batches, as drawn
            from keras_binary.guard import _batches

            args, kwargs = _batches.checked_inputs(model, name, args, kwargs)
        watchers = _watch_steps(model, name)
        result = _call_watched(model, method, args, kwargs, watchers, synced)
        if name in _PLANNED and not (plain and _checks_traced(model)):
            _make_plan(model, name, plain)
        return result
    except Exception as error:
        coded = coded_error(error)
        if plain:
            from keras_binary.guard import _scope

            _scope.stop_at_call(coded or error)
        if coded is None or coded is error:
            raise
        raise coded from error
    finally:
        model.__dict__.pop(_ACTIVE, None)
        _runtime.exit_call()


def _run_planned(
    model: keras.Model,
    state: dict,
    method: Callable,
    args: tuple,
    kwargs: dict,
    watchers: tuple,
    synced: bool,
) -> Any:
    """`_run_guarded` for a `train_on_batch` or `test_on_batch` call whose plan holds (`_plan_holds`).

    The host checks passed (the short label test of `_plan_holds`, the rest
    as when the plan was made): the step runs with its watchers, and its
    errors are turned into the coded ones, as on the full path.
    """
    state[_ACTIVE] = True
    calls = _runtime.calls()
    calls.append(model)
    try:
        if watchers:
            return _call_watched(model, method, args, kwargs, watchers, synced)
        return method(model, *args, **kwargs)
    except Exception as error:
        coded = coded_error(error)
        if coded is None or coded is error:
            raise
        raise coded from error
    finally:
        state.pop(_ACTIVE, None)
        calls.pop()


def _call_watched(
    model: keras.Model, method: Callable, args: tuple, kwargs: dict, watchers: Any, synced: bool
) -> Any:
    """Keras's method, its step functions watched; the first watcher's failure is raised after the others finish.

    `synced`: the method is Keras's `train_on_batch` or `test_on_batch`,
    which reads the logs of its step and returns them: the watchers have
    nothing to wait for, and under XLA find a failed check in the result.
    """
    for watcher in watchers:
        watcher.start(synced)
    result, failed = None, True
    try:
        result = method(model, *args, **kwargs)
        failed = False
    finally:
        failure = None
        for watcher in watchers:
            try:
                watcher.finish(result, failed)
            except Exception as error:  # noqa: BLE001 - re-raised below, after the others
                failure = failure or error
    if failure is not None:
        raise failure
    return result


def _checks_traced(model: keras.Model) -> bool:
    """Whether a keras_binary check was traced into the steps of `model` as compiled now.

    A keras_binary loss inside the user's own loss (a lambda, a `Loss`
    subclass) or metrics kept from an earlier `compile` hold checks that the
    compile configuration does not show; `_runtime` notes them when the
    step is traced, and the model is guarded from then on.
    """
    return model.__dict__.get(_runtime.CHECKS_TRACED, _NOT_TRACED) is getattr(model, "_compile_loss", None)


_NOT_TRACED = object()


def _run_unguarded(model: keras.Model, method: Callable, args: tuple, kwargs: dict) -> Any:
    """Keras's method for a model compiled without keras_binary objects, as far as its configuration shows.

    Its steps may still hold checks (`_checks_traced`): an error that carries
    a code reaches the caller as the coded class, and the failures of checks
    traced in this call are raised when it ends.
    """
    _runtime.enter_call(model)
    try:
        result = method(model, *args, **kwargs)
    except Exception as error:
        coded = coded_error(error)
        if coded is None or coded is error:
            raise
        raise coded from error
    finally:
        _runtime.exit_call()
    if _checks_traced(model):
        raise_failure(model)
        if keras.backend.backend() == "tensorflow":
            check_poison(model)
    return result


def _watch_steps(model: keras.Model, name: str) -> list[StepWatcher]:
    """Wraps the step functions the call will run in watchers (as soon as Keras builds them)."""
    attributes = ("train_function", "test_function") if name == "fit" else (_METHODS[name],)
    builders = {"train_function": "make_train_function", "test_function": "make_test_function"}
    watchers = []
    for attribute in attributes:
        watcher = watch(model, attribute, builders[attribute])
        if watcher is not None:
            watchers.append(watcher)
    return watchers


def is_guarded(model: keras.Model) -> bool:
    """Whether `model` is guarded: compiled with a keras_binary loss or metric, or binary under "all".

    With `keras_binary.config.set_fit_guard("all")` (and under
    `keras-binary run`), a model compiled only with Keras's own loss and
    metrics is guarded too when it is a binary classifier
    (`keras_binary.guard._scope.is_binary`).

    Args:
        model: a Keras model.

    Returns:
        `True` when its compiled loss, metrics or weighted metrics hold a
        keras_binary object, or when the guard covers every binary model and
        this one is binary.

    Example:

    >>> import keras, keras_binary
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(loss=keras_binary.SafeBCE(from_logits=True))
    >>> is_guarded(model)
    True
    >>> model.compile(loss="binary_crossentropy")
    >>> is_guarded(model)
    False
    """
    compiled = (getattr(model, "_compile_loss", None), getattr(model, "_compile_metrics", None))
    scope = config.fit_guard_scope()
    decision = model.__dict__.get(_DECISION)
    if (
        decision is not None
        and decision[0] is compiled[0]
        and decision[1] is compiled[1]
        and decision[3] == scope
    ):
        return decision[2]
    guarded = bool(_keras_binary_objects(model))
    cache = True
    if not guarded and scope == "all" and compiled[0] is not None:
        from keras_binary.guard import _scope

        binary = _scope.is_binary(model)
        # Undecided on a model the call will build (a Sequential without keras.Input): guarded, and
        # judged again once built (`_before_first_step`).
        guarded, cache = bool(binary) or (binary is None and not model.built), binary is not None
    if cache:
        model.__dict__[_DECISION] = (compiled[0], compiled[1], guarded, scope)
    return guarded


# Attribute on a model: the compiled loss and metrics `_compiled_objects` last read, and what it found.
_OBJECTS = "_keras_binary_compiled_objects"


def _compiled_objects(model: keras.Model) -> list[Any]:
    """`_keras_binary_objects(model)`, read once per `compile` (a guarded call asks on every call)."""
    key = (getattr(model, "_compile_loss", None), getattr(model, "_compile_metrics", None))
    cached = model.__dict__.get(_OBJECTS)
    if cached is not None and cached[0] is key[0] and cached[1] is key[1]:
        return cached[2]
    objects = _keras_binary_objects(model)
    model.__dict__[_OBJECTS] = (*key, objects)
    return objects


def _keras_binary_objects(model: keras.Model) -> list[Any]:
    """The keras_binary losses and metrics `model` was compiled with."""
    from keras_binary.losses import ContractLoss
    from keras_binary.metrics._base import ContractMetric

    found = []
    config_ = getattr(model, "_compile_config", None)
    values = getattr(config_, "config", {}) if config_ is not None else {}

    def walk(value: Any) -> None:
        if isinstance(value, (ContractLoss, ContractMetric)):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for key in ("loss", "metrics", "weighted_metrics"):
        walk(values.get(key))
    return found


# Positions of the arguments read, in Keras's signatures.
_POSITIONS = {
    "fit": (
        "x",
        "y",
        "batch_size",
        "epochs",
        "verbose",
        "callbacks",
        "validation_split",
        "validation_data",
        "shuffle",
        "class_weight",
    ),
    "evaluate": ("x", "y"),
    "train_on_batch": ("x", "y", "sample_weight", "class_weight"),
    "test_on_batch": ("x", "y", "sample_weight"),
}


def _fit_argument(name: str, args: tuple, kwargs: dict, argument: str) -> Any:
    if argument in kwargs:
        return kwargs[argument]
    position = _POSITIONS[name].index(argument) if argument in _POSITIONS[name] else None
    if position is not None and position < len(args):
        return args[position]
    return None


def _before_first_step(model: keras.Model, name: str, args: tuple, kwargs: dict) -> None:
    """The host checks: graph errors of `diagnose`, then the arguments (every label of an array `y`)."""
    if not _compiled_objects(model):  # a plain-Keras binary model, guarded under "all"
        from keras_binary.guard import _scope

        _scope.check_before_first_step(model, name, args, kwargs)
        if not model.built:  # an unbuilt Sequential: judged again once the call builds it

            def check_built() -> None:
                if _scope.is_binary(model):
                    _scope.check_before_first_step(model, name, args, kwargs)

            _check_graph_when_built(model, name, check_built)
        return
    _check_graph(model)
    _check_graph_when_built(model, name)
    if (
        name in ("train_on_batch", "test_on_batch")
        and _fit_argument(name, args, kwargs, "class_weight") is None
        and _plainly_binary(_fit_argument(name, args, kwargs, "y"))
    ):
        return  # the batch a custom loop hands over every step: the short test passed it
    argument = functools.partial(_fit_argument, name, args, kwargs)
    check_call_arguments(model, name, argument, _compiled_objects(model))


def _make_plan(model: keras.Model, name: str, plain: bool = False) -> None:
    """Keeps the plan of `name`'s next calls (`_plan.make_plan`), once the model and its step are in place."""
    state = model.__dict__
    attribute = _METHODS[name]
    if not state.get("built") or state.get("_layers") is None or state.get(attribute) is None:
        return
    if state.get(_BUILD_HOOK):
        return
    watchers = tuple(_watch_steps(model, name))
    if any(watcher.step is None for watcher in watchers):
        return
    _plan.make_plan(model, name, attribute, watchers, plain)


# Findings the shape contract raises itself, as a coded `BinaryShapeError`
# with a sharper fix, when the step is traced (KB102 "include_top=False",
# KB103 "pool your features"): the guard leaves them, and the findings that
# follow from them (e.g. KBD005 on a 1280-unit linear output), to it.
_RAISED_BY_THE_CONTRACT = frozenset({"KBD006", "KBD016"})

# Attribute on a model: what the graph check last ran on.
_GRAPH_CHECKED = "_keras_binary_graph_checked"


def _check_graph(model: keras.Model) -> None:
    from keras_binary.diagnostics import graph_errors
    from keras_binary.errors import BinaryModelError

    # The objects themselves, not their ids: an id can come back for a new
    # object once the old one is gone. A `Sequential` that pops a layer and
    # adds another keeps its layer count; its rebuild makes a new `_functional`.
    state = model.__dict__
    key = (state.get("_compile_loss"), bool(model.built), len(model.layers), _functional_of(state))
    checked = state.get(_GRAPH_CHECKED)
    if checked is not None and checked[0] is key[0] and checked[1:3] == key[1:3] and checked[3] is key[3]:
        return
    errors = graph_errors(model)
    if errors and not any(f.code in _RAISED_BY_THE_CONTRACT for f in errors):
        raise BinaryModelError(errors[0])
    model.__dict__[_GRAPH_CHECKED] = key


# Attribute on a model: set while a hook waits for Keras to build the model.
_BUILD_HOOK = "_keras_binary_graph_hook"


def _check_graph_when_built(model: keras.Model, name: str, check: Callable | None = None) -> None:
    """Checks the graph of a model that the call itself builds, before any weight is updated.

    A `Sequential` model without `keras.Input` has no graph before `fit`:
    Keras builds it from the first batch, in its symbolic build (JAX,
    PyTorch, a TensorFlow distribution strategy) or while it traces the first
    step (TensorFlow), in both cases before any step runs. The check runs
    right after that build, once, on the built model: no extra step, and no
    weight changed before it (a `BinaryModelError` raised while TensorFlow
    traces passes through as itself). `name` is the guarded method; `check`
    replaces the graph check (a plain-Keras model under "all" runs its own).
    """
    del name  # every method builds the model the same way
    if model.built or model.__dict__.get(_BUILD_HOOK):
        return
    build = model.__dict__.get("build")
    if build is None:
        return  # not a Keras layer's build wrapper: leave the model alone

    @functools.wraps(build)
    def build_and_check(*args: Any, **kwargs: Any) -> Any:
        result = build(*args, **kwargs)
        if model.__dict__.pop(_BUILD_HOOK, None):
            if model.__dict__.get("build") is build_and_check:
                model.__dict__["build"] = build
            try:
                (check or functools.partial(_check_graph, model))()
            except Exception as error:
                _raise_before_steps(model, error)
                raise
        return result

    model.__dict__["build"] = build_and_check
    model.__dict__[_BUILD_HOOK] = True


def _raise_before_steps(model: keras.Model, error: Exception) -> None:
    """Raises `error` again when Keras builds a step function, once.

    PyTorch's symbolic build retries a failed build on real tensors, and so
    swallows an error raised in it; Keras builds the step functions next,
    before any step runs.
    """
    model.__dict__[_PENDING_ERROR] = error
    for builder in ("make_train_function", "make_test_function"):
        model.__dict__[builder] = _raising_builder(model, builder, getattr(model, builder))


def _raising_builder(model: keras.Model, builder: str, build: Callable) -> Callable:
    def raise_pending(*args: Any, **kwargs: Any) -> Any:
        if model.__dict__.get(builder) is raise_pending:
            del model.__dict__[builder]
        error = model.__dict__.pop(_PENDING_ERROR, None)
        if error is not None:
            raise error
        return build(*args, **kwargs)

    return raise_pending


# Attribute on a model: a graph error found while Keras built it, not raised yet.
_PENDING_ERROR = "_keras_binary_pending_graph_error"
