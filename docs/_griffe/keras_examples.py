"""A griffe extension for the API reference: Keras-style doctest examples.

Keras (and this package) writes docstring examples as unindented doctest
lines after an `Example:` line. Griffe's Google-style parser only treats an
indented `Examples:` section as code, so these examples would be rendered as
prose (`>>>` as nested quotes, `[0.8, 0.6]` as a link). This extension wraps
every unindented run of doctest lines (from a `>>>` line to the next blank
line) in a fenced `pycon` block before the docstring is parsed.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wraps the unindented doctest runs of a docstring in ```pycon fences."""
    out: list[str] = []
    in_run = False
    for line in text.splitlines():
        if not in_run and line.startswith(">>>"):
            out.append("```pycon")
            in_run = True
        elif in_run and not line.strip():
            out.append("```")
            in_run = False
        out.append(line)
    if in_run:
        out.append("```")
    return "\n".join(out)


class KerasExampleSections(griffe.Extension):
    """Shows Keras-style doctest examples as code in the API reference."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
