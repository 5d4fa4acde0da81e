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
  write into the model's poison records (`_runtime.poison_records`). A step
  built in a guarded call adds the sum of their counts to its logs
  (`counting_step`), which Keras copies to the host anyway; the watcher
  takes it out of the logs after each execution and reads the records only
  when it is above zero. A step built outside the guard has no count: the
  watcher reads the records after each execution (a read operation of its
  own, 40-60 us on a CPU).
- TensorFlow without XLA and PyTorch raise inside the step: no watcher.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from keras_binary import _runtime
from keras_binary._value_checks import error_from_stats
from keras_binary.guard._errors import coded_error
from keras_binary.guard._rollback import STEP_METHODS, Refusals, build_with_rollback, can_roll_back

# Marks a step function the guard has wrapped.
_WRAPPED = "_keras_binary_watcher"
# Attribute on a model: whether one of its steps ran outside a guarded call (or none was watched yet).
_UNWATCHED = "_keras_binary_unwatched"
# Keys of the logs of a TensorFlow XLA step built by the guard (`counting_step`): the
# counts of the model's poison records; whether its checks failed, its float logs made NaN if so.
POISON_COUNT = "_keras_binary_poison_count"
POISON_MARKED = "_keras_binary_poison_marked"


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
        self.synced = False  # the call in progress is Keras's `train_on_batch`/`test_on_batch` (`start`)
        # XLA, in such a call: a step's logs carry its checks' flag as NaN (`counting_step`).
        self.marked = False
        self.calls = 0  # guarded executions, for the test that Keras still calls the step
        self.unhook = None  # removes the build hook of `watch`, if it set one
        self.refusals = Refusals()  # JAX: the refused-step flag the steps hand on (`_rollback`)

    def __call__(self, *args: Any) -> Any:
        if not self.active:
            self.model.__dict__[_UNWATCHED] = True  # a step ran unwatched: its records may hold counts
            self.refusals.reset()  # nobody raises a refusal here: it must not hold the next steps
            outputs = self.step(*args)
            if type(outputs) is dict:
                outputs.pop(POISON_COUNT, None)
                outputs.pop(POISON_MARKED, None)
            return outputs
        self.calls += 1
        if self.backend == "jax":
            while len(self.pending) >= 2:
                _wait_jax(self.pending.popleft(), self.model)
            outputs = self.step(*args)
            self.pending.append(outputs[0])
            return outputs
        outputs = self.step(*args)
        if type(outputs) is dict:
            count = outputs.pop(POISON_COUNT, None)
            if outputs.pop(POISON_MARKED, None) is not None and self.synced:
                # Keras turns the logs into Python numbers and returns them:
                # `finish` looks for the NaN there, with no read of its own.
                self.marked = True
                return outputs
            if count is not None and not float(count) > 0:
                return outputs
        check_poison(self.model)
        return outputs

    def start(self, synced: bool = False) -> None:
        """Called before a guarded call: forgets earlier steps, zeroes the poison records.

        `synced`: the call is Keras's `train_on_batch` or `test_on_batch`,
        which reads the logs of its step and returns them.
        """
        self.pending.clear()
        self.refusals.reset()
        self.active = True
        self.synced = synced
        self.marked = False
        if self.backend == "tensorflow":
            # Counts left by steps that ran unwatched (the guard off); a
            # watched step's count is read, and zeroed, right after it.
            # (`get`, not `pop`: a popped flag made every other guarded call zero them again).
            if self.model.__dict__.get(_UNWATCHED, True):
                reset_poison(self.model)
                self.model.__dict__[_UNWATCHED] = False
        else:
            _runtime.take_failure(self.model)

    def finish(self, result: Any = None, failed: bool = False) -> None:
        """Called when a guarded call ends: waits for the steps still in flight, raises a marked failure.

        Args:
            result: what the call returned (a synced call, `start`: Keras's
                logs as Python numbers).
            failed: the call raised.
        """
        self.active = False
        if self.unhook is not None:
            self.unhook()
            self.unhook = None
        pending = list(self.pending) if self.pending else ()
        self.pending.clear()
        if self.backend == "jax":
            for logs in () if self.synced else pending:
                _wait_jax(logs, self.model)
            raise_failure(self.model)
        elif self.marked:
            self.marked = False
            if failed or _shows_nan(result):
                check_poison(self.model)


def _shows_nan(result: Any) -> bool:
    """Whether the result of Keras's `train_on_batch`/`test_on_batch` holds a NaN (or is not one Keras returns)."""
    if type(result) is float:
        return result != result
    if type(result) is dict:
        result = result.values()
    elif type(result) is not list:
        return True
    return any(type(value) is not float or value != value for value in result)


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
        elif watcher.backend == "tensorflow" and getattr(model, attribute, None) is None:
            result = _build_counting(model, functools.partial(build, *args, **kwargs), builder)
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


def _build_counting(model: keras.Model, build: Callable, builder: str) -> Any:
    """Runs `build` (Keras's `make_train_function`/`make_test_function`) with `counting_step` as the model's step."""
    name = STEP_METHODS[builder]
    own = model.__dict__.get(name)  # a step the user set on the instance, kept
    model.__dict__[name] = counting_step(model, getattr(model, name))
    try:
        return build()
    finally:
        if own is None:
            model.__dict__.pop(name, None)
        else:
            model.__dict__[name] = own


def counting_step(model: keras.Model, step: Callable) -> Callable:
    """`step` (the model's `train_step` or `test_step`), its logs marked with what its checks found.

    The logs get `POISON_COUNT`, the sum of the counts of the model's poison
    records (those its checks created while it was traced) after the step's
    own work. Where the step's checks failed, every variable the step may
    change (the model's, the optimizer's, the metrics') gets back the value
    it started from, as on JAX (`_rollback`): a NaN loss with a zero
    gradient still moves a momentum optimizer, and a NaN input makes the
    gradient NaN. Its scalar float logs then become NaN (`POISON_MARKED`
    says so): `train_on_batch` needs no read of its own, as Keras turns the
    logs into Python numbers anyway. Not under a distribution strategy,
    whose logs are reduced across replicas (a TPU keeps the first
    replica's alone): there the watcher reads the records, and the refused
    step's update stays.

    Args:
        model: the model.
        step: the step method.

    Returns:
        The step, counting.
    """
    import tensorflow as tf

    def step_and_count(data: Any) -> Any:
        distributed = tf.distribute.has_strategy()
        # The state the step starts from (read before the step: XLA keeps these values).
        variables, before = [], []
        if not distributed:
            try:
                variables = _state_variables(model)
                before = [tf.identity(variable.value) for variable in variables]
            except Exception:  # noqa: BLE001 - a variable not readable here: no rollback, the step as Keras's
                variables, before = [], []
        with _runtime.step_flags() as flags:
            logs = step(data)
        records = _runtime.poison_records(model)
        if type(logs) is not dict or not records or distributed:
            return logs
        logs = dict(logs)
        graph = tf.compat.v1.get_default_graph()
        # A check traced inside a branch or a loop of the step has its flag in that inner graph.
        if flags and all(getattr(flag, "graph", None) is graph for flag in flags):
            failed = tf.reduce_any(tf.stack(flags))
            for variable, value in zip(variables, before, strict=True):
                if value.dtype == variable.dtype:
                    variable.assign(tf.where(failed, value, variable.value))
            scalars = [key for key, value in logs.items() if _scalar_float(value)]
            for key in scalars:
                logs[key] = tf.where(failed, tf.constant(float("nan"), logs[key].dtype), logs[key])
            if scalars:
                logs[POISON_MARKED] = failed
        logs[POISON_COUNT] = tf.add_n([record[0] for record, _ in records])
        return logs

    return step_and_count


def _state_variables(model: keras.Model) -> list:
    """The variables a step may change: the model's, the optimizer's and the metrics', each once."""
    optimizer = getattr(model, "optimizer", None)
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        getattr(optimizer, "variables", []) if optimizer is not None else [],
        getattr(model, "metrics_variables", []),
    )
    seen, variables = set(), []
    for group in groups:
        for variable in group:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def _scalar_float(value: Any) -> bool:
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    return bool(getattr(dtype, "is_floating", False)) and shape is not None and shape.rank == 0


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
