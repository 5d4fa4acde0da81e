"""The `evaluate` extra: scikit-learn and matplotlib, imported only when needed."""

from __future__ import annotations

import importlib
from types import ModuleType

from keras_binary.errors import BinaryConfigError

INSTALL_HINT = 'pip install "keras-binary[evaluate]"'

# import name -> the name pip knows it by.
_PIP_NAMES = {"sklearn": "scikit-learn", "scipy": "scipy", "matplotlib": "matplotlib"}


class MissingExtraError(BinaryConfigError, ImportError):
    """`KB360`: a module of the `evaluate` extra is missing.

    Both a `BinaryConfigError` (a `ValueError`, as every error of the package)
    and an `ImportError`, so that `except ImportError` catches it too.

    Example:

    >>> error = MissingExtraError("KB360", "scikit-learn is missing.", fix=INSTALL_HINT)
    >>> isinstance(error, ImportError), isinstance(error, ValueError)
    (True, True)
    """


def require(module: str, feature: str = "keras_binary.report") -> ModuleType:
    """Imports a module of the `evaluate` extra, or raises `KB360`.

    Args:
        module: the module to import, e.g. `"sklearn.metrics"` or
            `"matplotlib.pyplot"`.
        feature: what needs it, for the message.

    Returns:
        The imported module.

    Raises:
        MissingExtraError: `KB360` when the module cannot be imported.

    Example:

    >>> require("sklearn.metrics").__name__
    'sklearn.metrics'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".", 1)[0]
        raise MissingExtraError(
            "KB360",
            f"{feature} needs {_PIP_NAMES.get(top, top)}, which is not installed.",
            received=f"import {module} failed: {exc}",
            expected="the evaluate extra (scikit-learn and matplotlib) installed",
            fix=INSTALL_HINT,
        ) from exc
