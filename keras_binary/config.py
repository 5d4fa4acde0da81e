"""Process-wide settings of keras_binary.

One setting so far: the fit guard (docs/guard.md), which wraps `fit`,
`evaluate`, `train_on_batch` and `test_on_batch` of every model compiled with
a keras_binary loss or metric. It is on by default; turn it off for the whole
process with `set_fit_guard(False)`, or before Python starts with the
environment variable `KERAS_BINARY_FIT_GUARD=0` (then `keras.Model` is not
wrapped at all).

Example:

>>> import keras_binary
>>> keras_binary.config.fit_guard_enabled()
True
>>> keras_binary.config.set_fit_guard(False)
>>> keras_binary.config.fit_guard_enabled()
False
>>> keras_binary.config.set_fit_guard(True)
"""

from __future__ import annotations

import os

__all__ = ["fit_guard_enabled", "set_fit_guard"]

# The environment variable read once, when keras_binary is imported.
FIT_GUARD_ENV = "KERAS_BINARY_FIT_GUARD"


def _env_enabled() -> bool:
    return os.environ.get(FIT_GUARD_ENV, "1").strip().lower() not in ("0", "false", "off", "no")


_fit_guard = _env_enabled()


def set_fit_guard(enabled: bool) -> None:
    """Turns the fit guard on or off for the whole process.

    With the guard off, `fit`, `evaluate`, `train_on_batch` and
    `test_on_batch` run exactly as in plain Keras: the losses' and metrics'
    own run-time checks still run (`validate=True`), but their errors arrive
    as the backend raises them, no whole-array label check or graph check runs
    before the first step, and on JAX a batch whose step was dispatched
    asynchronously can pass silently (docs/guard.md).

    Args:
        enabled: `True` to guard (the default), `False` to run plain Keras.

    Example:

    >>> import keras_binary
    >>> keras_binary.config.set_fit_guard(False)
    >>> keras_binary.config.set_fit_guard(True)
    """
    global _fit_guard
    if not isinstance(enabled, bool):
        raise TypeError(f"set_fit_guard takes True or False, received {enabled!r}.")
    _fit_guard = enabled
    if enabled:
        from keras_binary import guard

        guard.install()


def fit_guard_enabled() -> bool:
    """Whether the fit guard is on.

    Returns:
        `True` unless `set_fit_guard(False)` was called or
        `KERAS_BINARY_FIT_GUARD=0` was set when keras_binary was imported.

    Example:

    >>> import keras_binary
    >>> keras_binary.config.fit_guard_enabled()
    True
    """
    return _fit_guard
