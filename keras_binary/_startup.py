"""Start-up: a fast command line, and one clear line when no backend is installed.

Importing Keras imports its backend (TensorFlow by default, about 5 s and a
few lines of C++ logs). Two things follow:

- `keras-binary --help`, `--version`, `explain` and bad usage must not import
  Keras at all. In the `keras-binary` process (and `python -m keras_binary`)
  `keras_binary/__init__.py` therefore loads its public API on first use
  (PEP 562) instead of at import; everywhere else `import keras_binary` imports
  everything at once, which registers the package's layers, losses and
  metrics, so that `keras.saving.load_model` finds them.
- Without the backend package, Keras fails deep inside its own import with
  "No module named 'tensorflow'"; `keras_import_error` turns that into one
  sentence naming the backend Keras looked for and the install command.

Nothing here imports Keras or NumPy.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping

# The package that each Keras backend imports first, and the extra that installs it.
_BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
_SCRIPT_NAMES = ("keras-binary", "keras-binary.exe", "keras-binary-script.py")

# Set to False to load the public API (see `keras_binary.__getattr__`).
_lazy: bool | None = None


def lazy_api() -> bool:
    """Whether `keras_binary/__init__.py` should defer its imports (the command line)."""
    global _lazy
    if _lazy is None:
        _lazy = _is_command_line()
    return _lazy


def load_api() -> None:
    """Imports the whole public API into `keras_binary` (the command line, on first use)."""
    global _lazy
    import importlib

    _lazy = False
    importlib.reload(sys.modules["keras_binary"])


def submodule(name: str):
    """`keras_binary.<name>` if it is a submodule (imported now), else `None`."""
    import importlib
    import importlib.util

    if not name.isidentifier() or importlib.util.find_spec(f"keras_binary.{name}") is None:
        return None
    return importlib.import_module(f"keras_binary.{name}")


def ensure_api() -> None:
    """Loads the public API if it was deferred: registers every layer, loss and metric with Keras."""
    if lazy_api():
        load_api()


def _is_command_line() -> bool:
    """True in the `keras-binary` console script and in `python -m keras_binary`."""
    if sys.argv and os.path.basename(sys.argv[0]) in _SCRIPT_NAMES:
        return True
    argv = list(getattr(sys, "orig_argv", ()))
    return any(a == "-m" and b == "keras_binary" for a, b in zip(argv, argv[1:], strict=False))


def configured_backend(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The backend Keras will load, and where that choice comes from (without importing Keras).

    Args:
        environ: the environment variables; `None` reads `os.environ`.

    Returns:
        `(backend, source)`: e.g. `("jax", "KERAS_BACKEND=jax")` or
        `("tensorflow", "Keras's default")`.

    Example:

    >>> configured_backend({"KERAS_BACKEND": "jax"})
    ('jax', 'KERAS_BACKEND=jax')
    """
    environ = os.environ if environ is None else environ
    backend = environ.get("KERAS_BACKEND")
    if backend:
        return backend, f"KERAS_BACKEND={backend}"
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    config = os.path.join(home, "keras.json")
    try:
        with open(config, encoding="utf-8") as file:
            backend = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if isinstance(backend, str) and backend:
        return backend, f'"backend": "{backend}" in {config}'
    return "tensorflow", "Keras's default"


def keras_import_error(error: BaseException, environ: Mapping[str, str] | None = None) -> str:
    """One sentence for a failed `import keras`: which backend, and the install command.

    Args:
        error: the exception `import keras` raised.
        environ: the environment variables; `None` reads `os.environ`.

    Returns:
        The message, one line.

    Example:

    >>> error = ModuleNotFoundError("No module named 'jax'", name="jax")
    >>> print(keras_import_error(error, {"KERAS_BACKEND": "jax"}))
    Keras is looking for the jax backend (KERAS_BACKEND=jax), but jax is not installed: pip install "keras-binary[jax]" (or pick another backend: pip install "keras-binary[tensorflow]" and unset KERAS_BACKEND).
    """
    backend, source = configured_backend(environ)
    missing = (getattr(error, "name", None) or "").split(".")[0]
    package = _BACKEND_PACKAGES.get(backend)
    if missing == "keras":
        return 'Keras is not installed: pip install "keras-binary[tensorflow]" (or [jax], or [torch]).'
    if package is not None and missing in {package, "jaxlib" if backend == "jax" else package}:
        if backend == "tensorflow":
            other = 'or use JAX: pip install "keras-binary[jax]" and set KERAS_BACKEND=jax'
        else:
            other = 'or pick another backend: pip install "keras-binary[tensorflow]" and unset KERAS_BACKEND'
        return (
            f"Keras is looking for the {backend} backend ({source}), but {missing} is not installed: "
            f'pip install "keras-binary[{backend}]" ({other}).'
        )
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (
        f"importing Keras with the {backend} backend ({source}) failed: {type(error).__name__}: {first}. "
        'Reinstall the backend (pip install "keras-binary[tensorflow]", [jax] or [torch]) or set '
        "KERAS_BACKEND to an installed one."
    )


def quiet_backend_logs() -> None:
    """Keeps TensorFlow's C++ logs (oneDNN, CUDA, CPU features) quiet, unless the user set a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Sends what native code writes to file descriptor 2 to a temporary file.

    TensorFlow writes a few lines before its logging is initialised
    ("All log messages before absl::InitializeLog() ...", "Could not find cuda
    drivers"), whatever `TF_CPP_MIN_LOG_LEVEL` says; the command line imports
    Keras inside this context unless `--verbose`.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (e.g. an embedded interpreter)
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_keras(verbose: bool = False) -> None:
    """Imports Keras for the command line: quiet unless `verbose`; `ImportError` with one line.

    Raises:
        ImportError: Keras or its backend cannot be imported; the message
            is `keras_import_error`'s sentence.
    """
    if "keras" in sys.modules:
        return
    if not verbose:
        quiet_backend_logs()
    try:
        with stderr_silenced(not verbose):
            import keras  # noqa: F401
    except ImportError as error:
        raise ImportError(keras_import_error(error)) from None
