"""Process-wide settings of keras_binary.

One setting so far: the fit guard (docs/guard.md), which wraps `fit`,
`evaluate`, `train_on_batch` and `test_on_batch` of every model compiled with
a keras_binary loss or metric. It is on by default; turn it off for the whole
process with `set_fit_guard(False)`, or before Python starts with the
environment variable `KERAS_BINARY_FIT_GUARD=0` (then `keras.Model` is not
wrapped at all). `set_fit_guard("all")` (or `KERAS_BINARY_FIT_GUARD=all`)
extends it to every binary model, also those compiled only with Keras's own
loss and metrics, as `keras-binary run` does (docs/guide-zero-code-change.md).

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

__all__ = ["fit_guard_enabled", "fit_guard_scope", "set_fit_guard"]

# The environment variable read once, when keras_binary is imported.
FIT_GUARD_ENV = "KERAS_BINARY_FIT_GUARD"


def _env_setting() -> bool | str:
    value = os.environ.get(FIT_GUARD_ENV, "1").strip().lower()
    if value == "all":
        return "all"
    return value not in ("0", "false", "off", "no")


def _env_enabled() -> bool:
    return _env_setting() is not False


_fit_guard = _env_enabled()
# "keras_binary": models compiled with a keras_binary loss or metric; "all": every binary model.
_scope = "all" if _env_setting() == "all" else "keras_binary"


def set_fit_guard(enabled: bool | str) -> None:
    """Turns the fit guard on or off for the whole process, or extends it to every binary model.

    With the guard off, `fit`, `evaluate`, `train_on_batch` and
    `test_on_batch` run exactly as in plain Keras: the losses' and metrics'
    own run-time checks still run (`validate=True`), but their errors arrive
    as the backend raises them, no whole-array label check or graph check runs
    before the first step, and on JAX a batch whose step was dispatched
    asynchronously can pass silently (docs/guard.md).

    With `"all"`, the guard also checks every binary model compiled only
    with Keras's own loss and metrics (`"binary_crossentropy"`,
    `"accuracy"`, `keras.metrics.AUC()`, ...) before its first step: the
    graph checks of `diagnose`, the label shape against the output, and every
    label of an array `y`. It never changes the loss, the metrics or the
    step: the numbers are plain Keras's. Put it in a notebook's first cell or
    a script's first lines; `keras-binary run train.py` does the same without
    editing the script.

    Args:
        enabled: `True` to guard the models compiled with a keras_binary
            loss or metric (the default), `"all"` to guard every binary
            model, `False` to run plain Keras.

    Example:

    >>> import keras_binary
    >>> keras_binary.config.set_fit_guard("all")
    >>> keras_binary.config.fit_guard_scope()
    'all'
    >>> keras_binary.config.set_fit_guard(True)
    >>> keras_binary.config.fit_guard_scope()
    'keras_binary'
    """
    global _fit_guard, _scope
    if enabled == "all" and isinstance(enabled, str):
        _fit_guard, _scope = True, "all"
    elif isinstance(enabled, bool):
        _fit_guard, _scope = enabled, "keras_binary"
    else:
        raise TypeError(f'set_fit_guard takes True or False, or "all", received {enabled!r}.')
    if _fit_guard:
        from keras_binary import guard

        guard.install()


def fit_guard_scope() -> str:
    """Which models the fit guard covers: `"keras_binary"` or `"all"`.

    Returns:
        `"all"` after `set_fit_guard("all")`, under `keras-binary run`, or
        with `KERAS_BINARY_FIT_GUARD=all`; else `"keras_binary"` (models
        compiled with a keras_binary loss or metric).

    Example:

    >>> import keras_binary
    >>> keras_binary.config.fit_guard_scope()
    'keras_binary'
    """
    return _scope


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
