"""MkDocs hook: stable anchors for the error catalogue, and error codes linked to it.

- In docs/errors.md, each heading `## KB202 - Labels encoded as {1, 2}` gets
  the anchor `#kb202` (so that `errors.md#kb202` links work), and its title is
  kept whole: without an explicit attribute list, the `attr_list` extension
  would read a trailing `{1, 2}` as HTML attributes.
- On every other page (the API reference above all), an inline code that is
  just an error code, `KB202` or `KBD001`, becomes a link to its entry.
"""

from __future__ import annotations

import posixpath
import re

_HEADING = re.compile(r"^## (KBD?\d{3}) - (.+?)\s*$", re.MULTILINE)
_CODE = re.compile(r"(?<!\">)<code>(KBD?\d{3})</code>")
CATALOGUE = "errors.md"


def on_page_markdown(markdown, page, config, files, **kwargs):
    if page.file.src_uri != CATALOGUE:
        return markdown

    def heading(match):
        code, title = match.group(1), match.group(2)
        title = title.replace("{", "\\{").replace("}", "\\}")  # literal braces, not attributes
        return f"## {code} - {title} {{ #{code.lower()} }}"

    return _HEADING.sub(heading, markdown)


def on_page_content(html, page, config, files, **kwargs):
    if page.file.src_uri == CATALOGUE:
        return html
    target = files.get_file_from_path(CATALOGUE)
    if target is None:
        return html
    href = posixpath.relpath(target.url, posixpath.dirname(page.file.url) or ".")
    return _CODE.sub(lambda m: f'<a href="{href}#{m.group(1).lower()}"><code>{m.group(1)}</code></a>', html)
