"""The fit guard: no bad batch gets through `fit`, `evaluate` or `train_on_batch`.

Importing keras_binary wraps four public methods of `keras.Model`: `fit`,
`evaluate`, `train_on_batch` and `test_on_batch` (the pattern of MLflow's and
Weights & Biases' Keras autologging; docs/guard.md says why this and not a
callback). For a model compiled with no keras_binary loss or metric, or with
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
from keras_binary.guard._arguments import check_call_arguments
from keras_binary.guard._errors import coded_error
from keras_binary.guard._labels import check_labels
from keras_binary.guard._steps import StepWatcher, watch

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
    """Wraps `keras.Model.fit`, `evaluate`, `train_on_batch` and `test_on_batch`, once.

    Called when keras_binary is imported (unless `KERAS_BINARY_FIT_GUARD=0`),
    and by `keras_binary.config.set_fit_guard(True)`.

    Example:

    >>> import keras
    >>> install()
    >>> hasattr(keras.Model.fit, "_keras_binary_original")
    True
    """
    for name in _METHODS:
        method = getattr(keras.Model, name)
        if getattr(method, _ORIGINAL, None) is None:
            setattr(keras.Model, name, _guarded(name, method))


def _guarded(name: str, method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not config.fit_guard_enabled() or self.__dict__.get(_ACTIVE) or not is_guarded(self):
            return method(self, *args, **kwargs)
        return _run_guarded(self, name, method, args, kwargs)

    setattr(wrapper, _ORIGINAL, method)
    return wrapper


def _run_guarded(model: keras.Model, name: str, method: Callable, args: tuple, kwargs: dict) -> Any:
    model.__dict__[_ACTIVE] = True
    _runtime.GUARDED_CALLS.append(model)
    try:
        _before_first_step(model, name, args, kwargs)
        watchers = _watch_steps(model, name)
        for watcher in watchers:
            watcher.start()
        try:
            result = method(model, *args, **kwargs)
        finally:
            failure = None
            for watcher in watchers:
                try:
                    watcher.finish(model)
                except Exception as error:  # noqa: BLE001 - re-raised below, after the others
                    failure = failure or error
        if failure is not None:
            raise failure
        return result
    except Exception as error:
        coded = coded_error(error)
        if coded is None or coded is error:
            raise
        raise coded from error
    finally:
        model.__dict__.pop(_ACTIVE, None)
        _runtime.GUARDED_CALLS.remove(model)


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
    """Whether `model` is compiled with a keras_binary loss or metric (and so guarded).

    Args:
        model: a Keras model.

    Returns:
        `True` when its compiled loss, metrics or weighted metrics hold a
        keras_binary object.

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
    decision = model.__dict__.get(_DECISION)
    if decision is not None and decision[0] is compiled[0] and decision[1] is compiled[1]:
        return decision[2]
    objects = _keras_binary_objects(model)
    model.__dict__[_DECISION] = (compiled[0], compiled[1], bool(objects))
    return bool(objects)


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
    "train_on_batch": ("x", "y"),
    "test_on_batch": ("x", "y"),
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
    _check_graph(model)
    argument = functools.partial(_fit_argument, name, args, kwargs)
    check_call_arguments(model, name, argument, _keras_binary_objects(model))


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

    key = (id(getattr(model, "_compile_loss", None)), bool(model.built), len(model.layers))
    if model.__dict__.get(_GRAPH_CHECKED) == key:
        return
    errors = graph_errors(model)
    if errors and not any(f.code in _RAISED_BY_THE_CONTRACT for f in errors):
        raise BinaryModelError(errors[0])
    model.__dict__[_GRAPH_CHECKED] = key
