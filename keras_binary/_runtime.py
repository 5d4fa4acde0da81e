"""Raising a Python error from inside a compiled step, on every backend.

`keras.ops` has no assertion, so this is the one module that speaks to the
backends directly. The error is built on the host by a callback that only
runs when the check failed, so a healthy step pays for a scalar condition and
nothing else: no host transfer, no synchronisation.

What the caller sees:

- TensorFlow, eager or `tf.function`: the error raised by a `tf.py_function`
  arrives as `tf.errors.InvalidArgumentError` whose message contains the
  package's code and text. Nothing in the step waits for it: the optimizer's
  update of the refused batch is applied before the error.
- TensorFlow with XLA (`jit_compile=True`, also Keras's `"auto"` default
  when a GPU is visible): XLA cannot call Python (`tf.py_function` does not
  compile; host callbacks, "outside compilation", exist on TPUs only), and it
  compiles `tf.debugging.Assert` and `check_numerics` to no-ops. Keras compiles
  the whole step (forward pass, loss, gradients, metrics) as one XLA function,
  and nothing of a loss runs outside it, so the check cannot move out of the
  cluster either. Instead the loss of the whole batch becomes NaN (the
  poisoned branch has a zero gradient: with SGD a bad batch leaves the weights
  as they were), and the failed check writes its summary into a poison record
  (`poison_records`), a variable that no diverging model can touch. The fit
  guard (`keras_binary/guard/`) reads it at the next step boundary and raises
  the coded error; a NaN loss with an empty record is left to Keras.
- JAX under `jit`: the error raised in a `jax.pure_callback`, run only when
  a check failed, arrives as `jax.errors.JaxRuntimeError` carrying the
  message, when the step's result is next read; eagerly (also `model.fit`
  with `jit_compile=False`) it is raised as is.
- PyTorch and the NumPy backend (eager): the error itself. PyTorch has no
  asynchronous host callback, so reading the scalar `bad` is the one
  device-to-host read per step on a GPU (Keras's progress bar reads the
  logs every step anyway); under `torch.compile` (`jit_compile=True`) the
  read is a graph break, and the error is raised as well.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

# Builds the error from the summary; `None` when the summary shows that no
# check failed after all (the condition only said that one may have).
ErrorFactory = Callable[[np.ndarray], "Exception | None"]
Confirm = Callable[[Any], Any]


def _raise_from(make_error: ErrorFactory, values: Any) -> None:
    error = make_error(np.asarray(values))
    if error is not None:
        raise error


class HostSummary(NamedTuple):
    """A summary for an error message, computed on the host when a check failed.

    The backends hand `tensors` to a host callback only when the check
    failed, and `on_host` summarises them with NumPy there: a healthy step
    holds no summary code at all (on JAX's CPU runtime a failing branch of a
    dozen reductions made every step slower, taken or not). TensorFlow's XLA
    path, which cannot call the host, computes `on_device()` in the step.

    Attributes:
        tensors: the tensors to summarise.
        on_host: NumPy arrays (one per tensor) -> the summary, as NumPy.
        on_device: a function of no arguments that computes the same
            summary with `keras.ops`, a vector.
        size: the length of the summary vector.
    """

    tensors: tuple
    on_host: Callable[..., np.ndarray]
    on_device: Callable[[], Any]
    size: int


def _values(stats: Any) -> Any:
    """The summary, in the step: `stats` itself, or what `stats` builds."""
    if isinstance(stats, HostSummary):
        return stats.on_device()
    return stats() if callable(stats) else stats


def _host_values(stats: Any, to_numpy: Callable[[Any], np.ndarray]) -> np.ndarray:
    """The summary as NumPy, outside a compiled step (eager execution)."""
    if isinstance(stats, HostSummary):
        return stats.on_host(*[to_numpy(t) for t in stats.tensors])
    return to_numpy(_values(stats))


def _callback_inputs(stats: Any) -> tuple[list, Callable[..., np.ndarray]]:
    """What a host callback receives, and how it turns that into the summary."""
    if isinstance(stats, HostSummary):
        return list(stats.tensors), stats.on_host
    return [_values(stats)], np.asarray


def _in_xla_context() -> bool:
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - TensorFlow is the active backend
        return False
    try:
        return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except Exception:  # noqa: BLE001 - a private API: assume no XLA if it moved
        return False


def _raise_tensorflow(bad: Any, stats: Any, make_error: ErrorFactory, confirm: Confirm | None) -> Any:
    import tensorflow as tf

    if tf.executing_eagerly():
        if bool(bad):
            _raise_from(make_error, _host_values(stats, lambda t: np.asarray(t)))
        return None
    _traced_for(current_owner())
    if _in_xla_context():
        # XLA cannot call Python: the loss becomes NaN (the caller folds
        # `bad`) and the failed check's summary goes to the poison record,
        # which the fit guard reads at the next step boundary.
        owner = current_owner()
        failed = _record_poison(tf, bad, stats, confirm, make_error, owner or _switched_off_owner())
        if owner is None:
            warnings.warn(
                "keras_binary: validate=True cannot raise inside an XLA-compiled "
                "step (jit_compile=True) outside the fit guard; invalid labels or "
                "predictions turn the loss into NaN instead. Train with model.fit "
                "(guarded, see docs/guard.md) or compile with jit_compile=False to "
                "get the coded error message.",
                stacklevel=4,
            )
        return failed

    # Nothing in the step waits for the `py_function`: the update of a
    # refused batch is applied before its error (tests/test_guard_rollback.py).
    # Folding the check's result into the loss makes the step wait for it,
    # but made a TensorFlow graph `fit` step 7-13% slower (measured,
    # benchmarks/guard_overhead.py's model): not done.
    def on_bad():
        inputs, on_host = _callback_inputs(stats)

        def fail(*values):
            _raise_from(make_error, on_host(*[v.numpy() for v in values]))

        tf.py_function(fail, inputs, [])
        return tf.constant(True)

    tf.cond(bad, on_bad, lambda: tf.constant(False))
    return None


# The models whose guarded calls are in progress on this thread, innermost
# last (the fit guard's wrapper pushes them). A check traced inside one
# belongs to that model's step: its failures go to the model (a poison record
# under XLA, a list of errors on JAX), where the guard reads them at the next
# step boundary, and it needs no warning.
_CALLS = threading.local()

# Attributes on a model: whether a check was traced into one of its steps;
# its failed checks not yet raised (JAX); its poison records (TensorFlow XLA).
CHECKS_TRACED = "_keras_binary_checks_traced"
_FAILURES = "_keras_binary_failures"
_RECORDS = "_keras_binary_poison"


def enter_call(model: Any) -> None:
    """Marks the start of a call of `model` by the fit guard, on this thread."""
    _thread_stack(_CALLS).append(model)


def exit_call() -> None:
    """Marks the end of the innermost call of `enter_call`."""
    _CALLS.stack.pop()


def _thread_stack(local: threading.local) -> list:
    try:
        return local.stack
    except AttributeError:
        stack = local.stack = []
        return stack


def calls() -> list:
    """This thread's stack of the models whose guarded calls are in progress (`enter_call` pushes onto it)."""
    return _thread_stack(_CALLS)


# The models whose Keras method (fit, evaluate, train_on_batch, test_on_batch)
# runs with the fit guard switched off (`keras_binary.config.set_fit_guard`),
# on this thread, innermost last. An XLA step traced in such a call writes
# that model's poison records, as with the guard on: a step traced once with
# the guard on and again with it off (another batch shape) would otherwise
# create a record in its second trace, which `tf.function` refuses.
_SWITCHED_OFF = threading.local()


def switched_off_calls() -> list:
    """This thread's stack of the models whose Keras methods run with the fit guard switched off."""
    return _thread_stack(_SWITCHED_OFF)


def _switched_off_owner() -> Any:
    stack = getattr(_SWITCHED_OFF, "stack", None)
    return stack[-1] if stack else None


def current_owner() -> Any:
    """The model whose call by the fit guard is in progress on this thread, or `None`."""
    stack = getattr(_CALLS, "stack", None)
    return stack[-1] if stack else None


def _traced_for(owner: Any) -> None:
    # Noted with the compiled loss of the step, so that a later `compile`
    # forgets it (the guard compares the two).
    if owner is not None:
        owner.__dict__[CHECKS_TRACED] = getattr(owner, "_compile_loss", None)


def take_failure(model: Any) -> Exception | None:
    """The first failed check of `model`'s steps not raised yet (JAX), forgetting all of them."""
    failures = model.__dict__.get(_FAILURES)
    if not failures:
        return None
    error = failures[0]
    failures.clear()
    return error


# Summary length -> the TensorFlow variable that XLA steps traced outside a
# guarded call write a failed check's summary into: `[count, *summary]`.
_POISON_RECORDS: dict[Any, Any] = {}


def _record_poison(
    tf: Any, bad: Any, stats: Any, confirm: Confirm | None, make_error: ErrorFactory, owner: Any
) -> Any:
    # The record is written in every step, outside the branch: a variable
    # assigned inside an XLA conditional made every step ~1.8x slower
    # (benchmarks/loss_overhead.py, 4M logits), taken or not. The branch only
    # computes the summary; a healthy step rewrites the record as it was.
    size = _summary_size(tf, stats)
    record = _poison_record(tf, size, make_error, owner)

    def summarise():
        values = tf.cast(tf.reshape(_values(stats), (-1,)), tf.float32)
        failed = tf.constant(True) if confirm is None else tf.convert_to_tensor(confirm(values))
        return tf.concat([tf.reshape(tf.cast(failed, tf.float32), (1,)), values], axis=0)

    summary = tf.cond(bad, summarise, lambda: tf.zeros((size + 1,), tf.float32))
    written = tf.concat([tf.reshape(record[0] + 1.0, (1,)), summary[1:]], axis=0)
    failed = summary[0] > 0.0
    record.assign(tf.where(failed, written, record))
    _note_step_flag(failed)
    return failed


def _summary_size(tf: Any, stats: Any) -> int:
    if isinstance(stats, HostSummary):
        return stats.size
    if callable(stats):
        stats = stats()
    return int(tf.reshape(stats, (-1,)).shape[0])


def _poison_record(tf: Any, size: int, make_error: ErrorFactory, owner: Any) -> Any:
    # One record per model and per check (its message: a metric's failure is
    # reported as the metric's), so that a model is never stopped by another
    # model's bad batch (threads), nor by a record made under another model's
    # distribution strategy.
    source = getattr(make_error, "keywords", {}).get("source")
    key = (size, repr(source))
    records = _POISON_RECORDS if owner is None else owner.__dict__.setdefault(_RECORDS, {})
    entry = records.get(key)
    if entry is None:
        with tf.init_scope():  # created eagerly, once, and captured by every step
            record = tf.Variable(
                tf.zeros((size + 1,), tf.float32), trainable=False, name="keras_binary_poison"
            )
        entry = records[key] = (record, make_error)
    return entry[0]


def poison_records(model: Any = None) -> list[tuple[Any, ErrorFactory]]:
    """The TensorFlow poison records of `model`: `[count, *summary]` float32 variables.

    Under XLA a failed value check cannot raise; it adds 1 to its record's
    count and writes the batch's summary (`_value_checks.STATS`) after it. The
    fit guard zeroes the counts before a guarded call and reads them at step
    boundaries; a count above zero is a poisoned step, never a model that
    diverged on its own.

    Args:
        model: the model whose steps wrote them; `None` for the records of
            steps traced outside a guarded call.

    Returns:
        `(record, make_error)` pairs: the variable and what builds its
        check's error from the summary (none outside TensorFlow XLA).
    """
    records = _POISON_RECORDS if model is None else model.__dict__.get(_RECORDS, {})
    return list(records.values())


def _raise_jax(bad: Any, stats: Any, make_error: ErrorFactory) -> Any:
    import jax

    # Under eager autodiff (`jit_compile=False`) the summary may be a
    # linearisation tracer even when `bad` is concrete: read its value only.
    bad = jax.lax.stop_gradient(bad)
    if not isinstance(bad, jax.core.Tracer):
        if bool(bad):
            _raise_from(make_error, _host_values(stats, lambda t: np.asarray(jax.lax.stop_gradient(t))))
        return None

    # `jax.pure_callback`, not `jax.debug.callback`: a callback with effects
    # makes every run of the compiled step ~0.4 ms slower on CPU (measured on
    # an MLP training step, benchmarks/loss_overhead.py), taken or not; a pure
    # one costs nothing until it runs. JAX drops a pure callback whose result
    # is unused, so the caller folds the returned flag into its result. The
    # branch holds the callback and nothing else: the summary is computed on
    # the host (`HostSummary`).
    # Inside a guarded call the callback does not raise: it leaves the error
    # on the model and returns true, which makes the loss NaN with a zero
    # gradient; the guard raises the error at the next step boundary. A
    # callback that raises aborts the step on its device, which, under a
    # `keras.distribution` with several devices, leaves the others waiting in
    # the gradients' all-reduce until XLA aborts the process, and makes JAX
    # print the traceback of the failed callback.
    owner = current_owner()
    _traced_for(owner)

    def on_bad():
        inputs, on_host = _callback_inputs(stats)

        def fail(*values):
            error = make_error(on_host(*[np.asarray(v) for v in values]))
            if error is None:
                return np.bool_(False)
            if owner is None:
                raise error
            owner.__dict__.setdefault(_FAILURES, []).append(error)
            return np.bool_(True)

        return jax.pure_callback(
            fail,
            jax.ShapeDtypeStruct((), np.bool_),
            *[jax.lax.stop_gradient(t) for t in inputs],
            vmap_method="sequential",
        )

    failed = jax.lax.cond(bad, on_bad, lambda: np.bool_(False))
    _note_step_flag(failed)
    return failed


def _note_step_flag(failed: Any) -> None:
    flags = getattr(_STEP_FLAGS, "stack", None)
    if flags:
        flags[-1].append(failed)


# The flags of the checks traced into the step being traced on this thread
# (`step_flags`; JAX, and TensorFlow under XLA): the fit guard's rollback
# keeps the state a JAX step started from when one of them is true
# (`keras_binary/guard/_rollback.py`); an XLA step that the guard built
# marks its logs with them (`keras_binary/guard/_steps.py`).
_STEP_FLAGS = threading.local()


class step_flags:  # noqa: N801 - used as a function: `with step_flags() as flags:`
    """Collects the failure flags of the checks traced inside the `with` block (JAX, TensorFlow XLA).

    Each is a scalar bool tensor of the step being traced: true where a
    check failed (JAX: inside a guarded call, where its host callback left
    the coded error on the model; XLA: where it wrote its poison record).
    Nested blocks collect into the innermost.

    Example:

    >>> with step_flags() as flags:
    ...     pass
    >>> flags
    []
    """

    def __enter__(self) -> list:
        stack = _thread_stack(_STEP_FLAGS)
        stack.append([])
        return stack[-1]

    def __exit__(self, *exc: object) -> None:
        _STEP_FLAGS.stack.pop()


def _in_torch_shape_inference(bad: Any) -> bool:
    """Whether Keras is only inferring shapes, with stand-in values, on PyTorch.

    Keras's PyTorch `compute_output_spec` (used while a model, its loss and
    its metrics are built) runs the code on "meta" tensors, which hold no
    values, and, where an op does not support them, again on tensors of ones
    inside a symbolic scope. Neither holds the user's data: checking them would
    fail (meta) or report a softmax pair of ones as `KB206`. TensorFlow and JAX
    infer shapes by tracing, which never runs the check.
    """
    if getattr(getattr(bad, "device", None), "type", None) == "meta":
        return True
    try:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope
    except ImportError:  # pragma: no cover - a private API: assume real values if it moved
        return False
    return bool(in_symbolic_scope())


def reduce_max(x: Any, initial: float) -> Any:
    """`ops.max(x, initial=initial)` over all elements, without a host read.

    Keras's PyTorch `max` and `min` with `initial` fill a tensor with a
    tensor (`torch.full`), which reads the value on the host: a device-to-host
    synchronisation on a GPU, and an error on the "meta" device on which
    Keras infers shapes (it then repeats the call on real tensors).
    `maximum(max(x), initial)` is what the TensorFlow backend computes anyway;
    a statically empty `x` keeps Keras's own handling.

    Args:
        x: a tensor.
        initial: the result for an empty `x`, and a lower bound otherwise.

    Returns:
        A scalar tensor.
    """
    if 0 in tuple(x.shape):
        return ops.max(x, initial=initial)
    return ops.maximum(ops.max(x), initial)


def reduce_min(x: Any, initial: float) -> Any:
    """`ops.min(x, initial=initial)` over all elements, without a host read (see `reduce_max`).

    Args:
        x: a tensor.
        initial: the result for an empty `x`, and an upper bound otherwise.

    Returns:
        A scalar tensor.
    """
    if 0 in tuple(x.shape):
        return ops.min(x, initial=initial)
    return ops.minimum(ops.min(x), initial)


# From this many elements on, JAX's CPU XLA ran the (N, 1) layout 10x slower
# (measured: none at 2048, 6x at 4096, 13x at 8192 and beyond).
_BARRIER_MIN_SIZE = 2048


def flatten(x: Any) -> Any:
    """Reshapes `x` to rank 1, and keeps XLA from undoing it (JAX).

    XLA's simplifier moves a reshape `(N, 1) -> (N,)` past the element-wise
    operations after it, which then run on the `(N, 1)` layout: on CPU, JAX's
    XLA runs such a fusion (clip, two logs, a sum) about 10x slower than on
    `(N,)` from a few thousand elements on (benchmarks/loss_overhead.py
    measures it). An optimisation barrier pins the rank-1 layout of large
    tensors; it has gradients.

    Args:
        x: a tensor.

    Returns:
        `x` as a rank-1 tensor.
    """
    x = ops.reshape(x, (-1,))
    size = x.shape[0]
    # Below a few thousand elements XLA keeps one fused loop either way, and a
    # barrier would only split the training step's fusions (~3% at batch 1024).
    if (
        keras.backend.backend() == "jax"
        and (size is None or size >= _BARRIER_MIN_SIZE)
        and not keras.backend.is_keras_tensor(x)
    ):
        import jax

        x = jax.lax.optimization_barrier(x)
    return x


def fused_custom_gradient() -> bool:
    """Whether `keras.ops.custom_gradient` is a plain, fusible op here.

    On TensorFlow (`tf.custom_gradient`) and JAX (`jax.custom_gradient`) a
    hand-written gradient compiles into the step like any other operation
    (XLA fuses it). On PyTorch Keras wraps it in a `torch.autograd.Function`
    whose forward pass catches every exception (a failure then turns the
    gradient into NaN) and that `torch.compile` cannot trace through as one
    graph; the NumPy backend has no gradients and warns. There the losses use
    forms whose autodiff gradient is exact.

    Returns:
        True on TensorFlow and JAX.
    """
    return keras.backend.backend() in ("tensorflow", "jax")


def raise_if(bad: Any, stats: Any, make_error: ErrorFactory, confirm: Confirm | None = None) -> Any:
    """Raises `make_error(stats)` on the host when `bad` is true at run time.

    Args:
        bad: a scalar bool tensor.
        stats: a small float tensor handed to `make_error` as NumPy, a
            function of no arguments that builds it (only traced into, and
            run in, the branch taken when `bad` is true), or a
            `HostSummary`, computed on the host from the tensors it holds.
        make_error: builds the exception from the stats, or returns `None`
            when they show that nothing failed (`bad` may then be a cheap
            condition that only says that a check may have failed).
        confirm: with such a `bad`, a function of the summary tensor that
            says whether a check failed, as a scalar bool tensor; only
            TensorFlow's XLA path, which cannot call `make_error`, uses it
            (in the branch taken when `bad` is true) to decide whether to
            write the poison record.

    Returns:
        `None`, or a scalar bool tensor that the caller must fold into its
        result, e.g. `ops.where(flag, nan, loss)`: where the backend cannot
        raise (TensorFlow XLA) it says whether a check failed (`bad`, and
        `confirm` if given: the loss becomes NaN); on JAX it is true where
        a check failed inside a call of the fit guard (which raises the
        error at the next step boundary; outside one the callback raises),
        and it keeps the check in the compiled step.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _raise_tensorflow(bad, stats, make_error, confirm)
    if backend == "jax":
        return _raise_jax(bad, stats, make_error)
    if _in_torch_shape_inference(bad):
        return None
    if bool(ops.convert_to_numpy(bad)):
        _raise_from(make_error, _host_values(stats, lambda t: np.asarray(ops.convert_to_numpy(t))))
    return None


def is_traced(x: Any) -> bool:
    """Whether `x` is a value being traced into a compiled function.

    True inside `tf.function` (with or without XLA) and `jax.jit`; false when
    it holds a value now (eager TensorFlow and JAX, PyTorch, NumPy). PyTorch
    counts as eager also under `torch.compile`, which runs the code as
    written, with graph breaks where it reads a value.

    Args:
        x: a tensor.

    Returns:
        A bool.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    return False


def concrete_value(x: Any) -> np.ndarray | None:
    """`x` as NumPy when it holds a value now, `None` inside a traced function.

    A metric's `result()` runs both inside compiled functions (`tf.function`,
    `jax.jit`, Keras's symbolic build, PyTorch's shape inference), where no
    value exists yet, and eagerly (a user's `m.result()`, and Keras's own end
    of epoch and of `evaluate`, which read the metrics outside the step).
    The metric pack warns about undefined results only in the second case.

    Args:
        x: a tensor.

    Returns:
        A NumPy array, or `None` when `x` is symbolic.
    """
    if keras.backend.is_keras_tensor(x) or is_traced(x):
        return None
    if keras.backend.backend() == "torch":
        import torch

        if _in_torch_shape_inference(x) or torch.compiler.is_compiling():
            return None
    return np.asarray(ops.convert_to_numpy(x))
