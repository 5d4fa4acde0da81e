"""JAX: a step refused by a value check leaves the model's state as it was.

Inside a guarded call a failed JAX check cannot stop its step (a raising
host callback aborts a `keras.distribution` step on one device only): it
leaves the coded error on the model, makes the loss NaN, and the guard
raises the error at the next step boundary (`_runtime._raise_jax`,
`_steps.StepWatcher`). A NaN loss with a zero gradient still moves a
momentum optimizer (its moments and `iterations` change, and so do the
weights), and the metrics count the batch. So the step function the guard
builds selects, leaf by leaf, the state the step started from
(`jnp.where(failed, old, new)`: trainable and non-trainable variables,
optimizer and metric variables) whenever one of its checks failed.

The flag is sticky: each step hands the next one whether it, or a step
before it, was refused, as a scalar that travels with the batch and comes
back in the logs (`FAILED`), on the device, with no host read. The steps
that run after a refused one and before the error reaches the host (one
execution is in flight, and `steps_per_execution` steps run per execution)
keep the state too, so the model the coded error leaves behind is the model
before the refused batch, bit for bit.

Only where a keras_binary check was traced into the step: a step without one
passes the flag through and selects nothing. Keras's NNX mode (which jits
the class's `train_step`, not the model's attribute) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from keras_binary import _runtime

# Key of the refused-step flag in a step's logs (removed before Keras sees them).
FAILED = "_keras_binary_failed"

# The step method each step-function builder jits.
STEP_METHODS = {"make_train_function": "train_step", "make_test_function": "test_step"}


def can_roll_back(model: keras.Model) -> bool:
    """Whether the guard builds `model`'s JAX step functions with the rollback.

    Args:
        model: a compiled Keras model.

    Returns:
        True on JAX for a jit-compiled model outside Keras's NNX mode.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> can_roll_back(model) == (keras.backend.backend() == "jax")
    True
    """
    if keras.backend.backend() != "jax" or getattr(model, "run_eagerly", False):
        return False
    if not getattr(model, "jit_compile", True):
        return False
    try:
        return not keras.config.is_nnx_enabled()
    except AttributeError:  # pragma: no cover - a Keras without NNX
        return True


def rollback_step(step: Callable) -> Callable:
    """`step(state, data)` that keeps `state` where a check failed, here or in an earlier step.

    Args:
        step: the model's `train_step` or `test_step` (JAX: `(state, data)
            -> (logs, state)`).

    Returns:
        A step of `(state, (data, refused))`, whose logs carry `FAILED`:
        `refused` or a check of this step failed.
    """
    import jax
    import jax.numpy as jnp

    def step_or_keep(state: Any, data: Any) -> Any:
        data, refused = data
        with _runtime.step_flags() as flags:
            logs, new_state = step(state, data)
        logs = dict(logs)
        if not flags:
            logs[FAILED] = refused
            return logs, new_state
        failed = refused
        for flag in flags:
            failed = jnp.logical_or(failed, flag)
        new_state = jax.tree_util.tree_map(lambda new, old: jnp.where(failed, old, new), new_state, state)
        logs[FAILED] = failed
        return logs, new_state

    return step_or_keep


class Refusals:
    """The refused-step flag that the steps of one step function hand on.

    Example:

    >>> refusals = Refusals()
    >>> bool(refusals.flag)
    False
    """

    def __init__(self) -> None:
        self.flag: Any = np.bool_(False)
        self.cleared: Any = None  # "nothing refused", placed with the steps' state by the first step

    def reset(self) -> None:
        """Starts from "nothing refused" (a new guarded call, or a step run unwatched)."""
        self.flag = np.bool_(False) if self.cleared is None else self.cleared


def build_with_rollback(model: keras.Model, build: Callable, builder: str, refusals: Refusals) -> Any:
    """Runs `build` (Keras's `make_train_function`/`make_test_function`) so that it builds the rollback in.

    For the build, `model.train_step` (or `test_step`) is `rollback_step`
    of the model's own, and the model's `_make_function` (which turns the
    jitted step into the function of `(state, iterator)` that Keras calls)
    gets a step that feeds each batch the flag of the step before it and
    keeps the flag its logs return.

    Args:
        model: the model.
        build: the bound builder.
        builder: its name.
        refusals: where the flag lives between steps.

    Returns:
        What `build` returns.
    """
    name = STEP_METHODS[builder]
    make_function = model._make_function

    def make_flagged_function(step_function: Callable, *args: Any, **kwargs: Any) -> Any:
        def flagged(state: Any, data: Any) -> Any:
            if isinstance(refusals.flag, np.bool_):
                refusals.flag = refusals.cleared = _placed_like(refusals.flag, state)
            logs, state = step_function(state, (data, refusals.flag))
            refusals.flag = logs.pop(FAILED)
            return logs, state

        return make_function(flagged, *args, **kwargs)

    model.__dict__[name] = rollback_step(getattr(model, name))
    model.__dict__["_make_function"] = make_flagged_function
    try:
        return build()
    finally:
        model.__dict__.pop(name, None)
        model.__dict__.pop("_make_function", None)


def _placed_like(flag: Any, state: Any) -> Any:
    """`flag` on the device of `state`, or replicated over its devices (a `keras.distribution`).

    The flag the steps return lives on the state's device mesh: a first flag
    from the host would compile the step a second time for the next ones.
    Placed once per step function (`Refusals.cleared`): a flag from the host
    costs a transfer per call, and finding the placement a walk over the state.
    """
    import jax

    leaves = jax.tree_util.tree_leaves(state)
    sharding = getattr(leaves[0], "sharding", None) if leaves else None
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.device_put(flag, jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec()))
    if isinstance(sharding, jax.sharding.SingleDeviceSharding):
        return jax.device_put(flag, sharding)
    return flag
