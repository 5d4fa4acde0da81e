"""The `keras-binary` command line: `doctor`, `report`, `demo`, `explain` and `run`.

Installed as the `keras-binary` console script, and runnable as
`python -m keras_binary`. Exit codes: 0 when no error was found (or the demo
ran), 1 when `doctor` found an error in the model, 2 for bad usage (a missing
file, a file that is not a Keras model, an unknown option or code, no Keras
backend installed). Bad usage gets a one-line message, never a traceback.

Start-up is instant: `--help`, `--version`, `explain` and bad usage import
neither Keras nor its backend. Each subcommand is a private module of this
package (`COMMANDS` maps its name to it, e.g. `keras_binary.cli._doctor`) that
is light to import and defines:

- `HELP`, `DESCRIPTION`, `EPILOG`: its help texts;
- `add_arguments(parser)`: its options;
- `NEEDS_KERAS`: `True` when it needs Keras; it then gets a `--verbose`
  option, and `run` calls `require_keras(args.verbose)` (from
  `keras_binary.cli._common`) once its cheap checks passed: that imports
  Keras and its backend quietly unless `--verbose`, and turns a missing
  backend into one line;
- `run(args, out, err) -> int`: does the work (imports the heavy modules
  inside) and returns the exit code; it raises `UsageError` for bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from types import ModuleType

from keras_binary.cli._common import EXIT_USAGE, PROG, Parser, UsageError

__all__ = ["main"]

# name -> module, in the order `--help` lists them.
COMMANDS = {
    "doctor": "keras_binary.cli._doctor",
    "report": "keras_binary.cli._report",
    "demo": "keras_binary.cli._demo",
    "explain": "keras_binary.cli._explain",
    "run": "keras_binary.cli._run",
}

_MAIN_EXAMPLES = """\
examples:
  keras-binary doctor model.keras                    check a saved model
  keras-binary doctor model.keras --data batch.npz   ... with a sample of its data
  keras-binary doctor model.keras --json             machine-readable report
  keras-binary report model.keras --data test.npz   ROC, PR, confusion matrix, calibration of your model
  keras-binary report model.keras --data test.npz --val-data val.npz --target-sensitivity 0.95
  keras-binary explain KB202                         what an error code means, and its fix
  keras-binary demo                                  transfer learning end to end, figures in ./out
  keras-binary demo --dataset breast_cancer --out results
  keras-binary run train.py                          run your script, every binary model checked

exit codes: 0 no error found, 1 the model has an error, 2 bad usage.
"""


def _command(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def _parser() -> Parser:
    from keras_binary import __version__

    parser = Parser(
        prog=PROG,
        description="Binary classification in Keras that is never silently wrong: diagnose a model, "
        "report on it with your data, explain an error code, or run the demo.",
        epilog=_MAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        module = _command(name)
        sub = commands.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=module.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        if module.NEEDS_KERAS:
            sub.add_argument(
                "--verbose",
                action="store_true",
                help="show the backend's own logs (TensorFlow's C++ messages)",
            )
    return parser


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
    args = None
    try:
        parser = _parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help and --version print and exit 0
            return int(exit_.code or 0)
        if args.command is None:
            parser.print_help(out)
            return EXIT_USAGE
        return _command(args.command).run(args, out, err)
    except UsageError as error:
        if getattr(args, "json", False):
            out.write(
                json.dumps({"ok": False, "error": str(error), "exit_code": EXIT_USAGE}, indent=2) + "\n"
            )
        err.write(f"{PROG}: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
