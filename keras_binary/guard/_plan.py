"""The plan of `train_on_batch` and `test_on_batch`: what the next calls of a checked model may skip.

A custom loop or a GAN calls `train_on_batch` every step. After a guarded
call passed every check, the guard keeps a plan of what its host checks
depended on (`make_plan`); while the plan holds (`plan_holds`), a call runs
only the short label test (`plainly_binary`) and the watched step.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_binary import config

# Labels up to this size take the short test of `plainly_binary`; larger
# arrays go to `check_labels`'s chunked single pass.
SHORT_TEST_MAX = 1 << 16
# The methods that get a plan: called once per step by custom loops and GANs.
PLANNED = ("train_on_batch", "test_on_batch")
# Attribute on a model, per method: the plan of its guarded calls (`make_plan`).
PLAN = "_keras_binary_plan_%s"


def plainly_binary(y: Any) -> bool:
    """Whether `y` is a NumPy array of numbers in [0, 1], one per row: labels `check_labels` passes.

    `train_on_batch` in a custom loop or a GAN checks one batch per call:
    the smallest and the largest label cost a few microseconds, the full
    check's dispatch (dtype, shape, pair and padding rules) several times
    that. `argmin` and `argmax` (NaN is both, as the first NaN's index) run
    a plain loop over the array; `min` and `max` go through NumPy's general
    reduction machinery, which cost 10-15 us per call when its code is not
    in the CPU's caches, as after every training step.

    Args:
        y: the labels of a call.

    Returns:
        Whether the short test passes them.

    Example:

    >>> plainly_binary(np.array([0.0, 1.0, 1.0]))
    True
    >>> plainly_binary(np.array([1, 2]))
    False
    """
    if type(y) is not np.ndarray or y.dtype.kind not in "biuf" or not 0 < y.size <= SHORT_TEST_MAX:
        return False
    if y.ndim >= 2 and y.shape[-1] != 1:
        return False
    return y.item(y.argmin()) >= 0 and y.item(y.argmax()) <= 1  # NaN fails both


def make_plan(model: keras.Model, name: str, attribute: str, watchers: tuple, plain: bool = False) -> None:
    """Notes, after a guarded `train_on_batch` or `test_on_batch` passed every check, what its next calls may skip.

    The host checks of such a call depend on the model only through what
    the plan holds: the compiled loss and metrics (the keras_binary objects,
    the graph checks), whether the model is built and its layers (a
    `Sequential` rebuilt after `pop` and `add` has a new `_functional`),
    `run_eagerly`, `jit_compile` and the step function with its watchers.
    A plain-Keras model (`plain`: no keras_binary object, guarded because
    the guard covers every binary model, "all") also depends on that scope.
    While they hold, a later call runs the short label test and the step
    with its watchers; anything else (another `compile`, a rebuilt step,
    labels that are not plainly binary, a `class_weight`) takes the full
    path, which checks everything again.

    Args:
        model: the built model, its step function built and watched.
        name: `"train_on_batch"` or `"test_on_batch"`.
        attribute: the step function's attribute (`"train_function"`, ...).
        watchers: the step function's watchers.
        plain: the model has no keras_binary object.
    """
    state = model.__dict__
    state[PLAN % name] = (
        state.get("_compile_loss"),
        state.get("_compile_metrics"),
        state.get("_layers"),
        len(state.get("_layers")),
        state.get("_run_eagerly"),
        state.get("_jit_compile"),
        attribute,
        state.get(attribute),
        watchers,
        functional_of(state),
        config.fit_guard_scope() if plain else None,  # a plain-Keras model is guarded under "all" only
    )


def functional_of(state: dict) -> Any:
    """The `_functional` of a `Sequential` (its `__dict__`: `state`); PyTorch keeps a module's sub-modules in `_modules`."""
    functional = state.get("_functional")
    if functional is None:
        modules = state.get("_modules")
        if modules:
            functional = modules.get("_functional")
    return functional


def plan_holds(plan: tuple, state: dict, args: tuple, kwargs: dict) -> bool:
    """Whether a call of a model (`state`: its `__dict__`) may take its plan: nothing it depends on changed."""
    if not (
        plan[0] is state.get("_compile_loss")
        and plan[1] is state.get("_compile_metrics")
        and plan[2] is state.get("_layers")
        and plan[3] == len(plan[2])
        and plan[4] == state.get("_run_eagerly")
        and plan[5] == state.get("_jit_compile")
        and plan[7] is state.get(plan[6])
        and plan[9] is functional_of(state)
        and state.get("built")
        and (plan[10] is None or plan[10] == config.fit_guard_scope())
    ):
        return False
    # `train_on_batch(x, y, sample_weight, class_weight)`: a class_weight takes the full checks.
    if kwargs.get("class_weight") is not None or (len(args) > 3 and args[3] is not None):
        return False
    y = kwargs["y"] if "y" in kwargs else args[1] if len(args) > 1 else None
    return plainly_binary(y)
