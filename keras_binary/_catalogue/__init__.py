"""The error catalogue, shipped with the package: what `keras-binary explain CODE` prints.

The one source of the text is `docs/errors.md` (the site's error catalogue);
`keras_binary/_catalogue/errors.md` is a symbolic link to it in the
repository, and a copy of it in a wheel or an sdist (setuptools copies a
link's target). Nothing here imports Keras: `explain` works without a backend.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

__all__ = ["Entry", "catalogue", "close_matches", "entry", "render"]

_HEADING = re.compile(r"^## (KBD?\d{3}) - (.+?)\s*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->\s*\n?", re.DOTALL)
_FENCE = re.compile(r"^```(\w*)\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


class Entry(NamedTuple):
    """One section of the catalogue.

    Attributes:
        code: e.g. `"KB202"`.
        title: the registry's title, e.g. `"Labels encoded as {1, 2}"`.
        body: the section's Markdown, without its heading.
    """

    code: str
    title: str
    body: str


def _text() -> str:
    packaged = resources.files("keras_binary") / "_catalogue" / "errors.md"
    try:
        text = packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        text = ""
    if not text.lstrip().startswith("#"):
        # A checkout where the link is a plain file holding its target (git on
        # Windows without symbolic links): read the source next to the package.
        source = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
        text = source.read_text(encoding="utf-8")
    return text


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Entry]:
    """Every entry of the catalogue, by code, in the catalogue's order.

    Returns:
        A dict from code to `Entry`.

    Example:

    >>> entries = catalogue()
    >>> entries["KB202"].title
    'Labels encoded as {1, 2}'
    """
    text = _text()
    headings = list(_HEADING.finditer(text))
    entries = {}
    for i, match in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        body = text[match.end() : end].strip("\n")
        entries[match.group(1)] = Entry(match.group(1), match.group(2), body)
    return entries


def entry(code: str) -> Entry | None:
    """The entry of `code` (case-insensitive), or `None`.

    Example:

    >>> entry("kbd001").code
    'KBD001'
    >>> entry("KB999") is None
    True
    """
    return catalogue().get(code.strip().upper())


def close_matches(code: str, n: int = 3) -> list[str]:
    """Known codes that look like `code` (a typo, a missing digit).

    Example:

    >>> close_matches("KB2020")
    ['KB202', ...]
    """
    return difflib.get_close_matches(code.strip().upper(), list(catalogue()), n=n, cutoff=0.6)


def render(item: Entry) -> str:
    """The terminal form of an entry: its title, the text, and each example indented.

    Markdown code fences become 4-space indented blocks, links keep their
    text, and the HTML comments (test markers) are dropped.

    Example:

    >>> text = render(entry("KB202"))
    >>> text.splitlines()[0]
    'KB202 - Labels encoded as {1, 2}'
    >>> "Fix:" in text and "y = y - 1" in text
    True
    """
    lines = [f"{item.code} - {item.title}", "=" * len(f"{item.code} - {item.title}"), ""]
    in_code = False
    for line in _COMMENT.sub("", item.body).splitlines():
        if _FENCE.match(line) if not in_code else line.rstrip() == "```":
            in_code = not in_code
            continue
        if in_code:
            lines.append(f"    {line}" if line.strip() else "")
        else:
            lines.append(_LINK.sub(lambda m: m.group(1), line))
    collapsed: list[str] = []
    for line in lines:
        if not line.strip() and collapsed and not collapsed[-1].strip():
            continue
        collapsed.append(line.rstrip())
    return "\n".join(collapsed).strip("\n")
