"""`keras-binary explain CODE`: an error code's catalogue entry, offline (no backend import)."""

from __future__ import annotations

import argparse
from typing import IO

from keras_binary.cli._common import EXIT_OK, UsageError

NEEDS_KERAS = False
HELP = "print what an error code (KB202) or a finding (KBD001) means, with a wrong example and the fix"
DESCRIPTION = (
    "Prints the catalogue entry of an error code (KBxxx) or of a diagnose/doctor finding (KBDxxx): "
    "what it means, a wrong example, the message, and the fix. Every keras_binary error message "
    "ends with the command that explains it."
)
EPILOG = """\
examples:
  keras-binary explain KB202         labels encoded as {1, 2}
  keras-binary explain kbd001        codes are case-insensitive
  keras-binary explain --list        every code with its title
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", nargs="?", metavar="CODE", help="an error code, e.g. KB202 or KBD001")
    parser.add_argument("--list", action="store_true", help="list every code with its title")


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from keras_binary import _catalogue

    if args.list:
        for item in _catalogue.catalogue().values():
            out.write(f"{item.code:<7} {item.title}\n")
        return EXIT_OK
    if not args.code:
        raise UsageError("explain needs a code, e.g. keras-binary explain KB202 (or --list)")
    item = _catalogue.entry(args.code)
    if item is None:
        close = _catalogue.close_matches(args.code)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; keras-binary explain --list shows them all."
        )
        raise UsageError(f"unknown code {args.code!r}{hint}")
    out.write(_catalogue.render(item) + "\n")
    return EXIT_OK
