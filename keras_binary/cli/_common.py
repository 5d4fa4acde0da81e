"""What the `keras-binary` subcommands share: exit codes, the one-line usage error, the parser class."""

from __future__ import annotations

import argparse

EXIT_OK = 0
EXIT_FOUND_ERROR = 1
EXIT_USAGE = 2

PROG = "keras-binary"


class UsageError(Exception):
    """Bad usage (a missing file, an unknown code, no backend): printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that raises `UsageError` instead of printing and exiting."""

    def error(self, message: str) -> None:  # argparse would print and sys.exit(2)
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


def whole_number(text: str, minimum: int) -> int:
    """Parses an argparse value: a whole number >= `minimum`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    return whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    return whole_number(text, 0)


def require_keras(verbose: bool) -> None:
    """Imports Keras and its backend (quietly unless `verbose`); no backend is a `UsageError`."""
    from keras_binary import _startup

    try:
        _startup.import_keras(verbose=verbose)
    except ImportError as error:
        raise UsageError(str(error)) from None
