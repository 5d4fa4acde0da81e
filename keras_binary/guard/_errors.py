"""One exception type on every backend: the coded error, rebuilt from what the backend raised.

A value check that fails inside a compiled step raises `BinaryLabelError` on
the host, but the backend hands the caller its own error: TensorFlow an
`InvalidArgumentError` whose long message holds the package's text (twice),
JAX a `JaxRuntimeError` (a `RuntimeError`), Keras a `type(e)(message)` copy.
`coded_error` finds the package's message in the text and rebuilds the error
of its code's class, with its fields, so `except keras_binary.BinaryLabelError`
catches it everywhere; the guard raises it `from` the backend's error.
"""

from __future__ import annotations

import re

from keras_binary.errors import ERROR_CODES, EXPLAIN_COMMAND, BinaryError, error_class

# "KB202: summary" on a line of its own (TensorFlow and JAX may prefix it).
_HEAD = re.compile(r"(KB\d{3}): (.*)$")
_FIELDS = {"Received": "received", "Expected": "expected", "Fix": "fix"}


def coded_error(error: BaseException) -> BinaryError | None:
    """The keras_binary error that `error` carries, rebuilt; `None` if it carries none.

    Args:
        error: what a training or evaluation step raised.

    Returns:
        A `BinaryError` of the class of its code (`BinaryLabelError` for
        `KB2xx`), with `code`, `summary`, `received`, `expected` and `fix`;
        `error` itself when it already is one with all its fields; `None`
        when its message holds no known code.

    Example:

    >>> from keras_binary.errors import BinaryLabelError
    >>> text = str(BinaryLabelError("KB202", "labels in {1, 2}.", fix="y = y - 1"))
    >>> rebuilt = coded_error(RuntimeError("INTERNAL: CpuCallback error: " + text))
    >>> type(rebuilt).__name__, rebuilt.code, rebuilt.fix
    ('BinaryLabelError', 'KB202', 'y = y - 1')
    """
    if isinstance(error, BinaryError) and error.code in ERROR_CODES and error.fix is not None:
        return error
    lines = str(error).splitlines()
    for i, line in enumerate(lines):
        head = _HEAD.search(line)
        if head is None or head.group(1) not in ERROR_CODES:
            continue
        code, summary = head.groups()
        fields: dict[str, str] = {}
        for follow in lines[i + 1 :]:
            label, _, value = follow.strip().partition(": ")
            if label in _FIELDS:
                fields[_FIELDS[label]] = value
            elif follow.strip() == f"See: {EXPLAIN_COMMAND} {code}":
                break
            else:
                break
        return error_class(code)(code, summary, **fields)
    return None
