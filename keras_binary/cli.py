"""The `keras-binary` command line: `doctor` (diagnose a saved model) and `demo`.

Installed as the `keras-binary` console script, and runnable as
`python -m keras_binary`. Exit codes: 0 when no error was found (or the demo
ran), 1 when `doctor` found an error in the model, 2 for bad usage (a missing
file, a file that is not a Keras model, an unknown option). Bad usage gets a
one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["main"]

EXIT_OK = 0
EXIT_FOUND_ERROR = 1
EXIT_USAGE = 2

_PROG = "keras-binary"

_MAIN_EXAMPLES = """\
examples:
  keras-binary doctor model.keras                    check a saved model
  keras-binary doctor model.keras --data batch.npz   ... with a sample of its data
  keras-binary doctor model.keras --json             machine-readable report
  keras-binary demo                                  transfer learning end to end, figures in ./out
  keras-binary demo --dataset breast_cancer --out results

exit codes: 0 no error found, 1 the model has an error, 2 bad usage.
"""

_DOCTOR_EXAMPLES = """\
examples:
  keras-binary doctor model.keras
  keras-binary doctor model.keras --data sample.npz
  keras-binary doctor model.keras --json > report.json

The .npz file holds arrays named x (inputs) and/or y (labels), e.g. written
with np.savez("sample.npz", x=x[:256], y=y[:256]). Every finding has a code
(KBD001, ...) explained in docs/diagnose.md.

exit codes: 0 no error found (warnings allowed), 1 an error was found,
2 bad usage (missing file, not a Keras model, unreadable data).
"""

_DEMO_EXAMPLES = """\
examples:
  keras-binary demo                                  digits, small CNN, figures in ./out
  keras-binary demo --out results --epochs 12
  keras-binary demo --backbone mobilenetv2           keras.applications.MobileNetV2 (a few minutes)
  keras-binary demo --dataset breast_cancer          tabular medical data, an MLP

Writes roc.png, reliability.png and summary.json into --out. Needs
scikit-learn and matplotlib: pip install "keras-binary[demo]".
"""


class _UsageError(Exception):
    """Bad usage: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and sys.exit(2)
        raise _UsageError(f"{message}\n{self.format_usage().rstrip()}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _parser() -> _Parser:
    from keras_binary.demo import BACKBONES, DATASETS, DEFAULTS

    parser = _Parser(
        prog=_PROG,
        description="Binary classification in Keras that is never silently wrong: diagnose a model, or run the demo.",
        epilog=_MAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from keras_binary import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = commands.add_parser(
        "doctor",
        help="diagnose a saved .keras model (and a sample of its data)",
        description="Reads a saved model and reports the silent mistakes of a binary classifier: "
        "a head on a K-way softmax, a 1-unit softmax, a loss that does not fit the output, "
        "labels outside {0, 1}, imbalance, BatchNormalization and input-range pitfalls of transfer "
        "learning, mixed precision.",
        epilog=_DOCTOR_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("model", metavar="MODEL.keras", help="the saved model (model.save('model.keras'))")
    doctor.add_argument("--data", metavar="FILE.npz", help="a NumPy .npz file with arrays x and/or y")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument(
        "--no-color", action="store_true", help="plain text even in a terminal (also: NO_COLOR=1)"
    )

    demo = commands.add_parser(
        "demo",
        help="transfer learning end to end on data shipped with scikit-learn",
        description="Pre-trains a small backbone on a multi-class task, diagnoses the naive model "
        "(the classifier top left on), replaces the top with BinaryHead, trains with SafeBCE and the "
        "metric pack, and reports held-out accuracy, AUC, MCC and calibration (ECE).",
        epilog=_DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--out", default="out", metavar="DIR", help="folder for the figures and summary (default: out)"
    )
    demo.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits")
    backbones = sorted({b for names in BACKBONES.values() for b in names})
    demo.add_argument(
        "--backbone",
        choices=backbones,
        metavar="NAME",
        help=f"one of {', '.join(backbones)}; default: "
        + ", ".join(f"{d['backbone']} for {name}" for name, d in DEFAULTS.items()),
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help="epochs of the binary training; default: "
        + ", ".join(f"{d['epochs']} for {name}" for name, d in DEFAULTS.items()),
    )
    demo.add_argument(
        "--pretrain-epochs",
        type=_positive_int,
        metavar="N",
        help=f"epochs of the backbone's pre-training (digits; default {DEFAULTS['digits']['pretrain_epochs']}, "
        "15 for mobilenetv2)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    from keras_binary.evaluation import cli_report

    cli_report.add_parser(commands)
    return parser


# ---------------------------------------------------------------------------
# doctor


_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[36m"}
_BOLD, _GREEN, _RESET = "\033[1m", "\033[32m", "\033[0m"


def _use_color(stream: IO[str], no_color: bool) -> bool:
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


def _load_data(path: str) -> tuple[Any, Any]:
    import numpy as np

    if not os.path.isfile(path):
        raise _UsageError(f"no data file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as error:  # noqa: BLE001 - any failure means "not an .npz we can read"
        raise _UsageError(
            f"{path!r} is not a readable NumPy .npz file ({type(error).__name__}: {error})."
        ) from None
    if not isinstance(arrays, dict) or not ({"x", "y"} & set(arrays)):
        names = ", ".join(sorted(arrays)) or "none"
        raise _UsageError(
            f"{path!r} has no array named x or y (arrays: {names}); save it with np.savez(path, x=x, y=y)."
        )
    return arrays.get("x"), arrays.get("y")


def _doctor(args: argparse.Namespace, out: IO[str]) -> int:
    from keras_binary.diagnostics import diagnose, load_model

    x, y = _load_data(args.data) if args.data else (None, None)
    try:
        model = load_model(args.model)
    except (FileNotFoundError, ValueError) as error:
        raise _UsageError(str(error)) from None
    try:
        report = diagnose(model, x, y)
    except (TypeError, ValueError) as error:
        raise _UsageError(f"the data in {args.data!r} cannot be checked against the model: {error}") from None
    if args.json:
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif _use_color(out, args.no_color):
        out.write(format_report(report, color=True) + "\n")
    else:
        out.write(str(report) + "\n")
    return EXIT_OK if report.ok else EXIT_FOUND_ERROR


def _demo(args: argparse.Namespace, out: IO[str]) -> int:
    from keras_binary.demo import DemoDependencyError, run_demo

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        run_demo(
            out_dir=args.out,
            dataset=args.dataset,
            backbone=args.backbone,
            epochs=args.epochs,
            pretrain_epochs=args.pretrain_epochs,
            seed=args.seed,
            verbose=0 if args.quiet else 1,
            print_fn=say,
        )
    except (DemoDependencyError, ValueError) as error:
        raise _UsageError(str(error)) from None
    except OSError as error:
        raise _UsageError(f"cannot write into {args.out!r}: {error}") from None
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `keras-binary` command line.

    Args:
        argv: the arguments, without the program name; `None` reads
            `sys.argv[1:]`.

    Returns:
        The exit code: 0 no error found, 1 `doctor` found an error, 2 bad
        usage.

    Example:

    >>> main(["doctor", "no_such_model.keras"])
    2
    """
    out, err = sys.stdout, sys.stderr
    try:
        parser = _parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help and --version print and exit 0
            return int(exit_.code or 0)
        if args.command is None:
            parser.print_help(out)
            return EXIT_USAGE
        if args.command == "doctor":
            return _doctor(args, out)
        if args.command == "report":
            from keras_binary.evaluation import cli_report

            return cli_report.run(args, out, err)
        return _demo(args, out)
    except _UsageError as error:
        err.write(f"{_PROG}: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"{_PROG}: interrupted\n")
        return 130
