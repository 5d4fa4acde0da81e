"""Raising a Python error from inside a compiled step, on every backend.

`keras.ops` has no assertion, so this is the one module that speaks to the
backends directly. The error is built on the host by a callback that only
runs when the check failed, so a healthy step pays for a scalar condition and
nothing else: no host transfer, no synchronisation.

What the caller sees:

- TensorFlow, eager or `tf.function`: the error raised by a `tf.py_function`
  arrives as `tf.errors.InvalidArgumentError` whose message contains the
  package's code and text.
- TensorFlow with XLA (`jit_compile=True`, also Keras's `"auto"` default
  when a GPU is visible): XLA cannot call Python (`tf.py_function` does not
  compile; host callbacks, "outside compilation", exist on TPUs only), and it
  compiles `tf.debugging.Assert` and `check_numerics` to no-ops. Keras compiles
  the whole step (forward pass, loss, gradients, metrics) as one XLA function,
  and nothing of a loss runs outside it, so the check cannot move out of the
  cluster either. Instead the loss of the whole batch becomes NaN (the
  poisoned branch has a zero gradient: with SGD a bad batch leaves the weights
  as they were), `keras.callbacks.TerminateOnNaN()` stops at the first bad
  batch, and a warning says so when the step is traced. Compile with
  `jit_compile=False` for the coded error. tests/test_compiled_paths.py pins
  this down.
- JAX under `jit`: the error raised in `jax.debug.callback` arrives as
  `jax.errors.JaxRuntimeError` carrying the message, when the step's result
  is next read; eagerly it is raised as is.
- PyTorch and the NumPy backend (eager): the error itself. PyTorch has no
  asynchronous host callback, so reading the scalar `bad` is the one
  device-to-host read per step on a GPU (Keras's progress bar reads the
  logs every step anyway); under `torch.compile` (`jit_compile=True`) the
  read is a graph break, and the error is raised as well.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

ErrorFactory = Callable[[np.ndarray], Exception]


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


def _raise_tensorflow(bad: Any, stats: Any, make_error: ErrorFactory) -> Any:
    import tensorflow as tf

    if tf.executing_eagerly():
        if bool(bad):
            raise make_error(stats.numpy())
        return None
    if _in_xla_context():
        warnings.warn(
            "keras_binary: validate=True cannot raise inside an XLA-compiled "
            "step (jit_compile=True); invalid labels or predictions turn the "
            "loss into NaN instead. Compile with jit_compile=False to get the "
            "coded error message, or add keras.callbacks.TerminateOnNaN() to "
            "stop at the first bad batch.",
            stacklevel=4,
        )
        return bad

    def fail(values):
        raise make_error(values.numpy())

    def on_bad():
        tf.py_function(fail, [stats], [])
        return tf.constant(True)

    tf.cond(bad, on_bad, lambda: tf.constant(False))
    return None


def _raise_jax(bad: Any, stats: Any, make_error: ErrorFactory) -> Any:
    import jax

    # Under eager autodiff (`jit_compile=False`) the summary may be a
    # linearisation tracer even when `bad` is concrete: read its value only.
    bad, stats = jax.lax.stop_gradient(bad), jax.lax.stop_gradient(stats)
    if not isinstance(bad, jax.core.Tracer) and not isinstance(stats, jax.core.Tracer):
        if bool(bad):
            raise make_error(np.asarray(stats))
        return None

    def fail(values):
        raise make_error(np.asarray(values))

    jax.lax.cond(bad, lambda s: jax.debug.callback(fail, s), lambda s: None, stats)
    return None


def raise_if(bad: Any, stats: Any, make_error: ErrorFactory) -> Any:
    """Raises `make_error(stats)` on the host when `bad` is true at run time.

    Args:
        bad: a scalar bool tensor.
        stats: a small float tensor handed to `make_error` as NumPy.
        make_error: builds the exception from the stats.

    Returns:
        `None`, or, where the backend cannot raise (XLA), the `bad` tensor,
        which the caller must fold into its result (the loss becomes NaN).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _raise_tensorflow(bad, stats, make_error)
    if backend == "jax":
        return _raise_jax(bad, stats, make_error)
    if bool(ops.convert_to_numpy(bad)):
        raise make_error(ops.convert_to_numpy(stats))
    return None
