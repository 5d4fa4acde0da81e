"""Raising a Python error from inside a compiled step, on every backend.

`keras.ops` has no assertion, so this is the one module that speaks to the
backends directly. The error is built on the host by a callback that only
runs when the check failed, so a healthy step pays for a scalar condition and
nothing else: no host transfer, no synchronisation.

What the caller sees:

- TensorFlow, eager or `tf.function`: the error raised by a `tf.py_function`
  arrives as `tf.errors.InvalidArgumentError` whose message contains the
  package's code and text.
- TensorFlow with XLA (`jit_compile=True`): XLA cannot call Python, and
  compiles assertions away. The loss becomes NaN instead, so training cannot
  go on silently, and a warning says so when the step is traced.
- JAX under `jit`: the error raised in `jax.debug.callback` arrives as
  `jax.errors.JaxRuntimeError` carrying the message, when the step's result
  is next read; eagerly it is raised as is.
- PyTorch and the NumPy backend (eager): the error itself.
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
            "coded error message.",
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

    if not isinstance(bad, jax.core.Tracer):
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
