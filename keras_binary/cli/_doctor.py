"""`keras-binary doctor MODEL`: diagnose a saved model (and a sample of its data)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from keras_binary.cli._common import EXIT_FOUND_ERROR, EXIT_OK, PROG, UsageError, require_keras

NEEDS_KERAS = True
HELP = "diagnose a saved .keras model (and a sample of its data)"
DESCRIPTION = (
    "Reads a saved model and reports the silent mistakes of a binary classifier: "
    "a head on a K-way softmax, a 1-unit softmax, a loss that does not fit the output, "
    "labels outside {0, 1}, imbalance, BatchNormalization and input-range pitfalls of transfer "
    "learning, mixed precision."
)
EPILOG = """\
examples:
  keras-binary doctor model.keras
  keras-binary doctor model.keras --data sample.npz
  keras-binary doctor model.keras --json > report.json
  keras-binary doctor model.keras --import mypackage.layers   a model with your own layers
  keras-binary doctor saved/                                  a .keras directory (with config.json)

The .npz file holds arrays named x (inputs) and/or y (labels), e.g. written
with np.savez("sample.npz", x=x[:256], y=y[:256]). Every finding has a code
(KBD001, ...): keras-binary explain KBD001 says what it means.

exit codes: 0 no error found (warnings allowed), 1 an error was found,
2 bad usage (missing file, not a Keras model, unreadable data).
"""

# Files at least this large get progress lines on stderr while they load.
PROGRESS_MIN_BYTES = 5_000_000

_NPZ_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL.keras",
        help="the saved model (model.save('model.keras')), or a .keras directory",
    )
    parser.add_argument("--data", metavar="FILE.npz", help="a NumPy .npz file with arrays x and/or y")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first, e.g. the one that registers your custom layers "
        "(repeatable; the current directory is on the path)",
    )
    parser.add_argument("--json", action="store_true", help="print the report (or the error) as JSON")
    parser.add_argument(
        "--no-color", action="store_true", help="plain text even in a terminal (also: NO_COLOR=1)"
    )


# ---------------------------------------------------------------------------
# The report's terminal form.

_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[36m"}
_BOLD, _GREEN, _RESET = "\033[1m", "\033[32m", "\033[0m"


def use_color(stream: IO[str], no_color: bool) -> bool:
    """Whether to colour the output: a terminal, and neither `--no-color` nor `NO_COLOR`."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_report(report: Any, color: bool) -> str:
    """The terminal form of a report: a table of findings, then the details.

    Args:
        report: a `keras_binary.diagnostics.Report`.
        color: whether to use ANSI colours.

    Returns:
        The text to print.

    Example:

    >>> from keras_binary.diagnostics import Finding, Report
    >>> report = Report([Finding("KBD011", "error", "labels (y)", "all 8 labels are 1.", "why", "fix")], "m")
    >>> print(format_report(report, color=False).splitlines()[3])
    error     KBD011  labels (y)  Only one class in the labels
    """

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [paint(report.headline(), _BOLD), ""]
    if report.findings:
        rows = [(f.severity, f.code, f.where, f.title) for f in report.findings]
        widths = [max(len(r[i]) for r in rows + [("SEVERITY", "CODE", "WHERE", "")]) for i in range(3)]
        header = (
            "  ".join(h.ljust(w) for h, w in zip(("SEVERITY", "CODE", "WHERE"), widths, strict=True))
            + "  PROBLEM"
        )
        lines.append(paint(header, _BOLD))
        for severity, code, where, title in rows:
            cells = [severity.ljust(widths[0]), code.ljust(widths[1]), where.ljust(widths[2])]
            lines.append("  ".join([paint(cells[0], _COLORS[severity]), *cells[1:], title]))
        lines.append("")
        for f in report.findings:
            lines.append(
                f"{paint(f.severity, _COLORS[f.severity])} {paint(f.code, _BOLD)} at {f.where}: {f.summary}"
            )
            lines.append(f"  Why: {f.explanation}")
            lines.append(f"  Fix: {paint(f.fix, _GREEN)}")
            lines.append("")
    lines.append(report.checked_line() + ".")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Reading the inputs.


def load_data(path: str) -> tuple[Any, Any]:
    """The arrays `x` and `y` of an `.npz` file (never unpickled), with one-line errors.

    Raises:
        UsageError: no file, not an `.npz`, an array of Python objects, no `x`/`y`.
    """
    import numpy as np

    if not os.path.isfile(path):
        raise UsageError(f"no data file at {path!r}.")
    with open(path, "rb") as file:
        start = file.read(8)
    fix = "save the sample with np.savez('sample.npz', x=x, y=y)"
    if start.startswith(_NPY_MAGIC):
        raise UsageError(
            f"{path!r} is a .npy file (one array); --data needs an .npz with arrays x and/or y: {fix}."
        )
    if not start.startswith(_NPZ_MAGIC):
        kind = "a pickle" if start[:1] == b"\x80" else "not a zip archive"
        raise UsageError(
            f"{path!r} is not a NumPy .npz file ({kind}); --data needs arrays x and/or y: {fix}."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            arrays = {}
            for name in names:
                try:
                    arrays[name] = data[name]
                except ValueError:  # NumPy: "Object arrays cannot be loaded when allow_pickle=False"
                    if name in {"x", "y"}:
                        raise UsageError(
                            f"array {name!r} in {path!r} holds Python objects (dtype=object), which doctor does "
                            f"not load (it never unpickles): save numbers, e.g. np.savez(path, {name}=np.asarray("
                            f"{name}, dtype='float32'))."
                        ) from None
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure means "not an .npz we can read"
        raise UsageError(
            f"{path!r} is not a readable NumPy .npz file ({type(error).__name__}: {error})."
        ) from None
    if not ({"x", "y"} & set(arrays)):
        shown = ", ".join(sorted(names)) or "none"
        raise UsageError(f"{path!r} has no array named x or y (arrays: {shown}); {fix}.")
    return arrays.get("x"), arrays.get("y")


def import_modules(names: list[str]) -> None:
    """Imports each `--import` module (the current directory first on the path, as `python -m`)."""
    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the user's module: any failure is bad usage
            raise UsageError(
                f"--import {name}: cannot import it ({type(error).__name__}: {error})."
            ) from None


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(path) for name in files
        )
    return os.path.getsize(path) if os.path.isfile(path) else 0


@contextlib.contextmanager
def progress(err: IO[str], what: str, enabled: bool) -> Iterator[None]:
    """`keras-binary: loading model.keras (98.1 MB) ... done in 12.9 s` on stderr."""
    if not enabled:
        yield
        return
    start = time.perf_counter()
    err.write(f"{PROG}: {what} ...")
    err.flush()
    try:
        yield
    except BaseException:
        err.write(" failed\n")
        raise
    err.write(f" done in {time.perf_counter() - start:.1f} s\n")
    err.flush()


# ---------------------------------------------------------------------------
# The command.


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    if not os.path.exists(args.model):
        raise UsageError(f"no model file at {args.model!r}.")
    x, y = load_data(args.data) if args.data else (None, None)
    require_keras(args.verbose)
    from keras_binary import _startup

    _startup.ensure_api()  # registers keras_binary's layers, losses and metrics for loading
    import_modules(args.imports)
    from keras_binary.diagnostics import diagnose, load_model

    size = _size(args.model)
    try:
        with progress(err, f"loading {args.model} ({size / 1e6:.1f} MB)", size >= PROGRESS_MIN_BYTES):
            model = load_model(args.model)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    try:
        with progress(err, "diagnosing", size >= PROGRESS_MIN_BYTES):
            report = diagnose(model, x, y)
    except (TypeError, ValueError) as error:
        raise UsageError(f"the data in {args.data!r} cannot be checked against the model: {error}") from None
    if args.json:
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif use_color(out, args.no_color):
        out.write(format_report(report, color=True) + "\n")
    else:
        out.write(str(report) + "\n")
    return EXIT_OK if report.ok else EXIT_FOUND_ERROR
