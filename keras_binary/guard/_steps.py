"""Watching the steps: an error or a poisoned step reaches the caller at a step boundary.

The guard wraps the model's `train_function` and `test_function` (what
`make_train_function` and `make_test_function` build, and what Keras calls
once per execution of `steps_per_execution` steps) with a `StepWatcher`:

- JAX: inside a guarded call a failed check does not raise in the step: its
  host callback leaves the coded error on the model and makes the loss NaN
  with a zero gradient (`_runtime._raise_jax`), and the watcher raises it at
  the next step boundary. A step whose inputs were not ready (a batch still being copied, an
  unrelated computation still running; on a GPU, always) is dispatched
  asynchronously, and the error of its value check lives in its outputs only,
  which Keras's `pythonify_logs` reads in a bare `try/except`; the callback
  has run once they are ready. The watcher
  keeps the logs of the last executions and, before dispatching execution
  `k + 1`, waits for those of execution `k - 1` (one execution stays in
  flight, so the device never waits for the host); at the end of the call
  (`StepWatcher.finish`) it waits for the rest. A failed step therefore
  raises before the second execution after it is dispatched, at the latest.
- TensorFlow with XLA: nothing can raise inside the step; the value checks
  write into the model's poison records (`_runtime.poison_records`), which
  the watcher reads after each execution (only under XLA).
- TensorFlow without XLA and PyTorch raise inside the step: no watcher.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Any

import keras
import numpy as np

from keras_binary import _runtime
from keras_binary._value_checks import error_from_stats
from keras_binary.guard._errors import coded_error
from keras_binary.guard._rollback import Refusals, build_with_rollback, can_roll_back

# Marks a step function the guard has wrapped.
_WRAPPED = "_keras_binary_watcher"
# Attribute on a model: whether one of its steps ran outside a guarded call (or none was watched yet).
_UNWATCHED = "_keras_binary_unwatched"


def needs_watcher(model: keras.Model) -> bool:
    """Whether the steps of `model` need watching (JAX jit, TensorFlow XLA)."""
    backend = keras.backend.backend()
    if getattr(model, "run_eagerly", False):
        return False
    if backend == "jax":
        return True
    return backend == "tensorflow" and bool(getattr(model, "jit_compile", False))


class StepWatcher:
    """Wraps one step function and raises the coded error of a failed step.

    Args:
        step: the model's `train_function` or `test_function`.
        model: the model.
    """

    def __init__(self, step: Any, model: keras.Model):
        self.step = step
        self.model = model
        self.backend = keras.backend.backend()
        self.pending: deque = deque()
        self.active = False
        self.calls = 0  # guarded executions, for the test that Keras still calls the step
        self.unhook = None  # removes the build hook of `watch`, if it set one
        self.refusals = Refusals()  # JAX: the refused-step flag the steps hand on (`_rollback`)

    def __call__(self, *args: Any) -> Any:
        if not self.active:
            self.model.__dict__[_UNWATCHED] = True  # a step ran unwatched: its records may hold counts
            self.refusals.reset()  # nobody raises a refusal here: it must not hold the next steps
            return self.step(*args)
        self.calls += 1
        if self.backend == "jax":
            while len(self.pending) >= 2:
                _wait_jax(self.pending.popleft(), self.model)
            outputs = self.step(*args)
            self.pending.append(outputs[0])
            return outputs
        outputs = self.step(*args)
        check_poison(self.model)
        return outputs

    def start(self) -> None:
        """Called before a guarded call: forgets earlier steps, zeroes the poison records."""
        self.pending.clear()
        self.refusals.reset()
        self.active = True
        if self.backend == "tensorflow":
            # Counts left by steps that ran unwatched (the guard off); a
            # watched step's count is read, and zeroed, right after it.
            # (`get`, not `pop`: a popped flag made every other guarded call zero them again).
            if self.model.__dict__.get(_UNWATCHED, True):
                reset_poison(self.model)
                self.model.__dict__[_UNWATCHED] = False
        else:
            _runtime.take_failure(self.model)

    def finish(self, model: keras.Model | None = None, synced: bool = False) -> None:
        """Called when a guarded call ends: waits for the steps still in flight.

        `synced`: Keras has read the logs of every step already
        (`train_on_batch`, `test_on_batch`), so there is nothing to wait for.
        """
        self.active = False
        if self.unhook is not None:
            self.unhook()
            self.unhook = None
        pending = list(self.pending) if self.pending else ()
        self.pending.clear()
        if self.backend == "jax":
            for logs in () if synced else pending:
                _wait_jax(logs, self.model)
            raise_failure(self.model)


def _install(model: keras.Model, attribute: str, watcher: StepWatcher) -> None:
    def guarded_step(*args):
        return watcher(*args)

    setattr(guarded_step, _WRAPPED, watcher)
    setattr(model, attribute, guarded_step)


def watch(model: keras.Model, attribute: str, builder: str) -> StepWatcher | None:
    """Wraps `model.<attribute>` (`train_function`/`test_function`) in a watcher, once.

    A step function Keras has not built yet is wrapped as soon as `builder`
    (`make_train_function`/`make_test_function`) builds it, inside the call:
    building it earlier, before Keras's own symbolic build, would fix the JAX
    state shardings of a `keras.distribution` before the optimizer and metric
    variables exist. `StepWatcher.finish` removes that hook.

    Args:
        model: the model.
        attribute: `"train_function"` or `"test_function"`.
        builder: the model's method that builds it.

    Returns:
        The watcher, or `None` where the steps need none.
    """
    if not needs_watcher(model):
        return None
    step = getattr(model, attribute, None)
    if step is not None:
        watcher = getattr(step, _WRAPPED, None)
        if watcher is not None:
            return watcher
        if not can_roll_back(model):
            watcher = StepWatcher(step, model)
            _install(model, attribute, watcher)
            return watcher
        # JAX: a step function built outside the guard has no rollback; Keras builds it again in the call.
        setattr(model, attribute, None)
    watcher = StepWatcher(None, model)
    build = getattr(model, builder)

    def build_and_watch(*args: Any, **kwargs: Any) -> Any:
        if can_roll_back(model) and getattr(model, attribute, None) is None:
            result = build_with_rollback(
                model, functools.partial(build, *args, **kwargs), builder, watcher.refusals
            )
        else:
            result = build(*args, **kwargs)
        built = getattr(model, attribute, None)
        if built is not None and getattr(built, _WRAPPED, None) is None:
            watcher.step = built
            _install(model, attribute, watcher)
        return result

    setattr(model, builder, build_and_watch)
    watcher.unhook = lambda: model.__dict__.pop(builder, None)
    return watcher


def _wait_jax(logs: Any, model: keras.Model) -> None:
    import jax

    try:
        jax.block_until_ready(logs)
    except Exception as error:  # noqa: BLE001 - the step's own error, rebuilt below
        coded = coded_error(error)
        if coded is None:
            raise
        raise coded from error
    raise_failure(model)


def raise_failure(model: keras.Model) -> None:
    """Raises the first failed check that `model`'s finished JAX steps left on it."""
    error = _runtime.take_failure(model)
    if error is not None:
        raise error


def reset_poison(model: keras.Model | None = None) -> None:
    """Zeroes the counts of `model`'s TensorFlow poison records (`None`: those traced outside the guard)."""
    for record, _ in _runtime.poison_records(model):
        record.assign(np.zeros(record.shape, "float32"))


def check_poison(model: keras.Model | None = None) -> None:
    """Raises the coded error of a step of `model` that a value check poisoned (TensorFlow XLA).

    `None`: the records of steps traced outside a guarded call.
    """
    for record, make_error in _runtime.poison_records(model):
        values = _read(record)
        if values.item(0) > 0:
            record.assign(np.zeros(values.shape, "float32"))
            raise make_error(values[1:]) or error_from_stats(values[1:])


def _read(record: Any) -> np.ndarray:
    """The value of a poison record, as NumPy, with one read operation.

    `Variable.numpy()` runs `read_value` (a name scope, the read and an
    identity: about 50 us per step on a CPU); the read operation alone, on
    the variable's handle, takes a fifth of that. A variable of a
    distribution strategy (several components) is read the usual way.
    """
    if not _READER:
        _READER.extend(_reader())
    variable_class, read = _READER
    if variable_class is None or not isinstance(record, variable_class):
        return np.asarray(record.numpy())
    return read(record.handle, record.dtype).numpy()


# (TensorFlow's resource variable base class, its read operation), found once. A record made
# while Keras traces a step is an `UnliftedInitializerVariable`, a subclass; the variables of a
# distribution strategy are not.
_READER: list = []


def _reader() -> tuple[Any, Any]:
    try:
        from tensorflow.python.ops.gen_resource_variable_ops import read_variable_op
        from tensorflow.python.ops.resource_variable_ops import BaseResourceVariable
    except ImportError:  # pragma: no cover - private modules moved: read every record the usual way
        return None, None
    return BaseResourceVariable, read_variable_op
