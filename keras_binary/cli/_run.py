"""`keras-binary run [--warn] SCRIPT [ARGS...]`: run a training script with every binary model guarded.

The script runs as `python SCRIPT ARGS` would run it: as `__main__`
(`runpy.run_path`), with `sys.argv = [SCRIPT, *ARGS]`, the script's folder
first on `sys.path`, the same stdin and stdout, and its exit status. The one
difference: every binary model's `fit`, `evaluate`, `train_on_batch` and
`test_on_batch` is guarded, also for models compiled only with Keras's own
loss and metrics (`keras_binary.config.set_fit_guard("all")`), which checks
before the first step and never changes the loss, the metrics or the step.

Start-up costs nothing measurable: this module imports neither Keras nor its
backend. A watcher on `sys.meta_path` waits for the script's own
`import keras` (or `tensorflow.keras`), and once Keras is imported loads
keras_binary and turns the guard on for every binary model.

An error finding raises `keras_binary.guard._scope.GuardStop`, a
`BaseException`, so that a script's own `except ValueError` around `fit`
cannot swallow it: the command prints the coded message with the file and
line of the script's `fit` call and exits with status 1. With `--warn`,
every finding is printed and the script goes on.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import traceback
from typing import IO, Any

from keras_binary.cli._common import PROG, UsageError

NEEDS_KERAS = False
HELP = "run a training script with every binary model checked before its first step (no code change)"
DESCRIPTION = (
    "Runs SCRIPT as `python SCRIPT ARGS` would, with the fit guard on every binary model, also those "
    "compiled only with Keras's own losses and metrics (binary_crossentropy, accuracy, AUC, ...): before "
    "the first step of fit, evaluate and train_on_batch it checks the graph (a binary head on "
    "include_top=True, a softmax over one unit, a loss that does not match the output), the label "
    "shape against the output, and every label of an array y. The first error stops the script with the "
    "coded message and the line of its fit call (exit status 1), even inside the script's own "
    "try/except; warnings are printed and the script goes on. The loss, the metrics and the training "
    "step are never changed: the numbers are those of plain Keras. Multi-label models (K sigmoids) and "
    "multi-class models (a K-way softmax with a categorical loss) are left alone. Everything after "
    "SCRIPT is the script's own arguments."
)
EPILOG = """\
examples:
  keras-binary run train.py                    stop at the first mistake, before training
  keras-binary run train.py --epochs 5         arguments after SCRIPT go to the script
  keras-binary run --warn train.py             report every finding and let the script go on
  python -m keras_binary run train.py          the same

in a notebook or at the top of a script, the same in-process:
  import keras_binary; keras_binary.config.set_fit_guard("all")

exit status: the script's own; 1 when the guard stopped it; 2 no such script.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warn",
        action="store_true",
        help="print every finding, errors included, and let the script go on",
    )
    parser.add_argument("script", metavar="SCRIPT", help="the Python script to run")
    parser.add_argument(
        "script_args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments"
    )


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    path = args.script
    if not os.path.isfile(path):
        raise UsageError(f"can't open script {path!r}: no such file")
    return run_script(path, list(args.script_args), warn=args.warn, err=err)


def run_script(path: str, argv: list[str], *, warn: bool = False, err: IO[str] | None = None) -> int:
    """Runs the script at `path` as `__main__` with the guard on every binary model.

    Args:
        path: the script.
        argv: its arguments (`sys.argv[1:]` inside the script).
        warn: print every finding and go on, instead of stopping at the first error.
        err: where findings and errors are printed; `None` is `sys.stderr`.

    Returns:
        The exit status: the script's own (0 when it ends normally, its
        `sys.exit` code), 1 when the guard stopped it or it raised, 130 on
        KeyboardInterrupt.
    """
    err = sys.stderr if err is None else err
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    saved_env = os.environ.get("KERAS_BINARY_FIT_GUARD")
    saved_guard = _guard_setting()
    watcher = _arm(warn, err)
    sys.argv = [path, *argv]
    folder = os.path.dirname(os.path.abspath(path))
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)
    try:
        runpy.run_path(path, run_name="__main__")
        return 0
    except SystemExit as exit_:
        return _exit_status(exit_.code, err)
    except KeyboardInterrupt:
        _print_user_traceback(path, err)
        return 130
    except BaseException as error:  # noqa: BLE001 - the script's own error, printed as python would
        from keras_binary.guard._scope import GuardStop, run_text

        if isinstance(error, GuardStop):
            _flush()
            where = f" at {error.where}" if error.where else ""
            err.write(f"{PROG}: stopped{where}, {error.when}:\n{run_text(error.error)}\n")
            err.write(
                f"{PROG}: the script was not changed. Fix the line above, or run "
                f"`{PROG} run --warn {_command_line(path, argv)}` to report every finding and let the script go on.\n"
            )
            return 1
        _print_user_traceback(path, err)
        return 1
    finally:
        _flush()
        _disarm(watcher)
        if saved_env is None:
            os.environ.pop("KERAS_BINARY_FIT_GUARD", None)
        else:
            os.environ["KERAS_BINARY_FIT_GUARD"] = saved_env
        _restore_guard(saved_guard)
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0


def _guard_setting() -> bool | str | None:
    """The fit guard's setting before the script ran (`None`: keras_binary's config not loaded yet)."""
    config = sys.modules.get("keras_binary.config")
    if config is None:
        return None
    return "all" if config.fit_guard_scope() == "all" else config.fit_guard_enabled()


def _restore_guard(saved: bool | str | None) -> None:
    """Puts the fit guard back as it was (`run_script` called in-process, as tests and notebooks do)."""
    config = sys.modules.get("keras_binary.config")
    if config is None:
        return
    try:
        config.set_fit_guard(config._env_setting() if saved is None else saved)
    except Exception:  # noqa: BLE001 - the script's own state is not the command's to repair
        pass


def _command_line(path: str, argv: list[str]) -> str:
    """The script and its arguments, quoted for a shell, as the user typed them after `run`."""
    import shlex

    return shlex.join([path, *argv])


def _exit_status(code: Any, err: IO[str]) -> int:
    """`sys.exit(code)` as Python turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _flush()
    err.write(f"{code}\n")
    return 1


def _print_user_traceback(path: str, err: IO[str]) -> None:
    """Prints the current exception as `python SCRIPT` would: from the script's first frame on."""
    _flush()
    kind, value, tb = sys.exc_info()
    script = os.path.abspath(path)
    inner = tb
    while inner is not None and os.path.abspath(inner.tb_frame.f_code.co_filename) != script:
        inner = inner.tb_next
    if isinstance(value, SyntaxError) and inner is None:
        err.write("".join(traceback.format_exception_only(kind, value)))
        return
    err.write("".join(traceback.format_exception(kind, value, inner if inner is not None else tb)))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


# ---------------------------------------------------------------------------
# Turning the guard on when the script imports Keras (and not before).


def _arm(warn: bool, err: IO[str]) -> _KerasWatcher | None:
    """Guards every binary model from the moment Keras is imported: now if it is, else on import."""
    os.environ["KERAS_BINARY_FIT_GUARD"] = "all"  # child processes of the script too
    settings = {"warn": warn, "err": err}
    if "keras" in sys.modules:
        _on_keras_imported(settings)
        return None
    watcher = _KerasWatcher(settings)
    sys.meta_path.insert(0, watcher)
    return watcher


def _disarm(watcher: _KerasWatcher | None) -> None:
    if watcher is not None and watcher in sys.meta_path:
        sys.meta_path.remove(watcher)
    if "keras_binary.guard._scope" in sys.modules:
        scope = sys.modules["keras_binary.guard._scope"]
        scope.RUN_MODE, scope.STREAM = None, None


def _on_keras_imported(settings: dict) -> None:
    """Loads keras_binary (registers its objects, wraps `fit`) and guards every binary model."""
    try:
        from keras_binary import _startup

        _startup.ensure_api()
        from keras_binary import config
        from keras_binary.guard import _scope

        _scope.RUN_MODE = "warn" if settings["warn"] else "stop"
        _scope.STREAM = settings["err"]
        config.set_fit_guard("all")
    except Exception as error:  # noqa: BLE001 - the script runs unguarded rather than not at all
        settings["err"].write(
            f"{PROG}: the guard could not be installed ({type(error).__name__}: {error}); "
            "the script runs unguarded.\n"
        )


class _KerasWatcher(importlib.abc.MetaPathFinder):
    """Finds `keras` as the other finders do, and runs `_on_keras_imported` once it is executed."""

    def __init__(self, settings: dict):
        self.settings = settings

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _ThenGuard(spec.loader, self)
        return spec


class _ThenGuard(importlib.abc.Loader):
    def __init__(self, loader: Any, watcher: _KerasWatcher):
        self.loader = loader
        self.watcher = watcher

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        _disarm_only(self.watcher)
        _on_keras_imported(self.watcher.settings)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


def _disarm_only(watcher: _KerasWatcher) -> None:
    if watcher in sys.meta_path:
        sys.meta_path.remove(watcher)
