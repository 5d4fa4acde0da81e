"""The documentation is checked by running it.

- docs/errors.md, the error catalogue, is checked both ways: every code of
  `keras_binary.errors.ERROR_CODES` (and every diagnostic code) has a section,
  every section is a known code, each section's **Wrong** example raises (or,
  for a diagnostic, reports) exactly its code with the message shown, and its
  **Fix** example runs (and, for a diagnostic, no longer reports the code).
  A diagnostic's examples leave the result of `keras_binary.diagnose(...)` in
  a variable named `report`; its Message block shows `str(finding)`. For an
  error, the Message block shows `str(error)`: its first line must be the
  real first line, and each other line must appear in the real message.
- The `python` blocks of every other page under docs/ run, page by page, in
  one namespace per page (a page reads top to bottom like a script). The
  pages of `STANDALONE_PAGES` (and README.md's example) import what they use.

Markers, written as HTML comments (invisible on the site) on the line before
a block, or anywhere in an error section:

- `<!-- no-test: why -->` before a block: the block is not run; each such
  block is reported as a skipped test with its reason, never silently.
- `<!-- backend: tensorflow; why -->`: the block (or the whole error section)
  only runs on that backend; elsewhere it is a skipped test with the reason.

Every block runs with `np`, `keras` and `keras_binary` already imported.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary.errors import ERROR_CODES, BinaryError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CATALOGUE = DOCS / "errors.md"
BACKEND = keras.backend.backend()


# At most this many `no-test` blocks in all the pages: skipping must stay rare.
MAX_UNTESTED_BLOCKS = 6

_FENCE = re.compile(r"^```(\w*)\s*$")
_NO_TEST = re.compile(r"<!--\s*no-test:\s*(.+?)\s*-->")
_BACKEND = re.compile(r"<!--\s*backend:\s*([\w, ]+?)\s*(?:;\s*(.+?))?\s*-->")


class Block(NamedTuple):
    label: str  # the last line of prose before the block, e.g. "Wrong:"
    lang: str
    source: str
    line: int  # 1-based line of the opening fence
    no_test: str | None
    backends: tuple[str, ...]
    backend_reason: str | None


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their labels and markers."""
    blocks = []
    lines = text.splitlines()
    label, no_test, backends, reason = "", None, (), None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence and not line.startswith("````"):
            start = i
            body = []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append(
                Block(label, fence.group(1), "\n".join(body) + "\n", start + 1, no_test, backends, reason)
            )
            label, no_test, backends, reason = "", None, (), None
        elif line.strip():
            marker = _NO_TEST.search(line)
            backend = _BACKEND.search(line)
            if marker:
                no_test = marker.group(1)
            elif backend:
                backends = tuple(b.strip() for b in backend.group(1).split(","))
                reason = backend.group(2)
            else:
                label = line.strip()
        i += 1
    return blocks


def run_block(source: str, namespace: dict | None = None, name: str = "<docs>") -> dict:
    """Runs a block of Python with np, keras and keras_binary imported."""
    if namespace is None:
        namespace = fresh_namespace()
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - running the docs is the point
    return namespace


def fresh_namespace() -> dict:
    return {"np": np, "keras": keras, "keras_binary": keras_binary, "__name__": "__docs__"}


# ---------------------------------------------------------------------------
# The error catalogue.


class Section(NamedTuple):
    code: str
    heading: str
    text: str
    line: int
    blocks: list[Block]
    backends: tuple[str, ...]
    backend_reason: str | None


def parse_catalogue(text: str) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    line = parts[0].count("\n") + 1
    for part in parts[1:]:
        heading = part.splitlines()[0].strip()
        # "KB202 - Labels encoded as {1, 2}": the code, then the registry's title.
        title = heading.split(" - ", 1)[0].strip()
        if title in sections:
            raise ValueError(f"docs/errors.md has two sections {title}")
        marker = _BACKEND.search(part)
        backends = tuple(b.strip() for b in marker.group(1).split(",")) if marker else ()
        sections[title] = Section(
            title, heading, part, line, parse_blocks(part), backends, marker.group(2) if marker else None
        )
        line += part.count("\n")
    return sections


SECTIONS = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"))


def diagnostic_codes() -> set[str]:
    """The codes `keras_binary.diagnose` can report, when that module exists."""
    try:
        from keras_binary import diagnostics
    except ImportError:
        return set()
    for name in ("DIAGNOSTIC_CODES", "CHECKS", "FINDING_CODES", "CODES"):
        registry = getattr(diagnostics, name, None)
        if registry:
            return {code for code in registry if isinstance(code, str)}
    return set()


def documented_codes() -> set[str]:
    return set(ERROR_CODES) | diagnostic_codes()


def test_every_error_code_has_a_section():
    missing = sorted(set(ERROR_CODES) - set(SECTIONS))
    assert not missing, f"codes without a section in docs/errors.md: {missing}"


def test_every_diagnostic_code_has_a_section():
    missing = sorted(diagnostic_codes() - set(SECTIONS))
    assert not missing, f"diagnostic codes without a section in docs/errors.md: {missing}"


def test_every_section_is_a_known_code():
    unknown = sorted(set(SECTIONS) - documented_codes())
    assert not unknown, f"sections of docs/errors.md for codes the package does not define: {unknown}"


def _registry_title(code: str) -> str:
    if code in ERROR_CODES:
        return ERROR_CODES[code][1]
    from keras_binary import diagnostics

    return diagnostics.DIAGNOSTIC_CODES[code][1]


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_section_heading_is_code_and_title(code):
    # The page's table of contents is read by people: "KB202 - Labels encoded as {1, 2}".
    assert SECTIONS[code].heading == f"{code} - {_registry_title(code)}"


def test_sections_are_in_code_order():
    codes = list(SECTIONS)
    assert codes == sorted(codes), "keep the sections of docs/errors.md sorted by code"


def _part(section: Section, label: str, lang: str) -> Block:
    found = [b for b in section.blocks if b.label.rstrip(":").lower() == label.lower()]
    assert len(found) == 1, f"{section.code}: expected one block after '{label}:', found {len(found)}"
    block = found[0]
    assert block.lang == lang, f"{section.code}: the {label} block must be a ```{lang} block"
    return block


def _skip_other_backends(section: Section) -> None:
    if section.backends and BACKEND not in section.backends:
        pytest.skip(f"{section.code} runs on {', '.join(section.backends)} only: {section.backend_reason}")


def _raised_error(exc: BaseException) -> tuple[str | None, str]:
    """The code and the message of the package's error inside `exc`.

    Inside a compiled step a backend may wrap the error (TensorFlow's
    `InvalidArgumentError`, JAX's `JaxRuntimeError`): the package's error is
    then found in the exception chain, or its text in the message.
    """
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BinaryError):
            return current.code, str(current)
        current = current.__cause__ or current.__context__
    text = str(exc)
    match = re.search(r"(KB\d{3}): ", text)
    if not match:
        return None, text
    return match.group(1), text[match.start() :]


def _findings(namespace: dict) -> list | None:
    """The findings of a diagnostic report left in the variable `report`."""
    report = namespace.get("report")
    if report is None or not hasattr(report, "findings"):
        return None
    return list(report.findings)


def _check_message(code: str, shown: str, actual: str) -> None:
    """The shown message's first line is the actual one; its other lines are in it."""
    lines = [line for line in shown.splitlines() if line.strip()]
    assert lines, f"{code}: the Message block is empty"
    actual_lines = actual.splitlines()
    first = lines[0].strip()
    assert actual_lines and actual_lines[0].strip() == first, (
        f"{code}: the message's first line differs from docs/errors.md\n"
        f"  docs:   {first}\n  actual: {actual_lines[0] if actual_lines else ''}"
    )
    for line in lines[1:]:
        assert line.strip() in actual, f"{code}: the message has no line {line.strip()!r}:\n{actual}"


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_section_has_wrong_message_fix(code):
    section = SECTIONS[code]
    _part(section, "Wrong", "python")
    _part(section, "Message", "text")
    _part(section, "Fix", "python")
    assert code in ERROR_CODES or code in diagnostic_codes()


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_wrong_example_raises_its_code(code):
    section = SECTIONS[code]
    _skip_other_backends(section)
    wrong = _part(section, "Wrong", "python")
    shown = _part(section, "Message", "text").source
    namespace = fresh_namespace()
    try:
        run_block(wrong.source, namespace, f"docs/errors.md:{code}:wrong")
    except Exception as exc:  # noqa: BLE001 - any exception is inspected below
        raised, message = _raised_error(exc)
        assert raised == code, f"the Wrong example of {code} raised {raised or type(exc).__name__}:\n{exc}"
        _check_message(code, shown, message)
        return
    findings = _findings(namespace)
    assert findings is not None, f"the Wrong example of {code} neither raised nor left a diagnostic `report`"
    matching = [f for f in findings if f.code == code]
    assert matching, f"the Wrong example of {code} reported {[f.code for f in findings]}, not {code}"
    _check_message(code, shown, "\n".join(str(f) for f in matching))


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_fix_example_runs(code):
    section = SECTIONS[code]
    _skip_other_backends(section)
    fix = _part(section, "Fix", "python")
    namespace = run_block(fix.source, fresh_namespace(), f"docs/errors.md:{code}:fix")
    findings = _findings(namespace)
    if findings is not None:
        assert code not in [f.code for f in findings], f"the Fix example of {code} still reports {code}"


# ---------------------------------------------------------------------------
# The other pages: their python blocks run.


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p != CATALOGUE)


def _code_pages() -> list[Path]:
    """The pages with at least one python block (a page of tables has none)."""
    return [
        p for p in _pages() if any(b.lang == "python" for b in parse_blocks(p.read_text(encoding="utf-8")))
    ]


def _is_output(block: Block) -> bool:
    label = block.label.lower()
    return block.lang == "text" and (label.endswith("prints:") or label == "output:")


PAGES = _pages()
# Pages whose blocks run as a user copies them: nothing imported beforehand (the home page's
# quick start, the end-to-end recipe).
STANDALONE_PAGES = ("index.md", "recipe-folder-of-images.md")
UNTESTED = [
    (page, block)
    for page in PAGES
    for block in parse_blocks(page.read_text(encoding="utf-8"))
    if (block.lang == "python" or _is_output(block))
    and (block.no_test or (block.backends and BACKEND not in block.backends))
]


@pytest.mark.parametrize("page", _code_pages(), ids=lambda p: p.name)
def test_page_python_blocks_run(page):
    """Runs a page's python blocks in order; checks each `text` block they print.

    A ```text block whose preceding line ends with "prints:" (or is
    "Output:") shows what the python blocks before it print: each of its
    lines must appear in their captured output.
    """
    # A standalone page imports what it uses: it runs with nothing imported beforehand.
    namespace = {"__name__": "__docs__"} if page.name in STANDALONE_PAGES else fresh_namespace()
    ran = 0
    printed = io.StringIO()
    for block in parse_blocks(page.read_text(encoding="utf-8")):
        skipped = block.no_test or (block.backends and BACKEND not in block.backends)
        if block.lang == "python" and not skipped:  # skipped ones: test_untested_block
            try:
                with contextlib.redirect_stdout(printed):
                    run_block(block.source, namespace, f"{page.name}:{block.line}")
            except Exception as exc:
                raise AssertionError(
                    f"docs/{page.name}, the block at line {block.line} failed: {exc!r}"
                ) from exc
            ran += 1
        elif _is_output(block) and not skipped:
            output = printed.getvalue()
            for line in block.source.splitlines():
                assert line.strip() in output, (
                    f"docs/{page.name}:{block.line} shows {line.strip()!r}, which the code does not print:\n{output}"
                )
            printed = io.StringIO()
    if ran == 0:
        pytest.skip(f"docs/{page.name} has no python block to run")


@pytest.mark.parametrize(
    "page,block", UNTESTED, ids=[f"{p.name}:{b.line}" for p, b in UNTESTED] if UNTESTED else None
)
def test_untested_block(page, block):
    if block.no_test:
        pytest.skip(f"docs/{page.name}:{block.line} is marked no-test: {block.no_test}")
    pytest.skip(
        f"docs/{page.name}:{block.line} runs on {', '.join(block.backends)} only: {block.backend_reason}"
    )


def test_few_blocks_are_untested():
    marked = [(p.name, b.line) for p, b in UNTESTED if b.no_test]
    assert len(marked) <= MAX_UNTESTED_BLOCKS, f"too many no-test blocks in docs/: {marked}"


def test_markers_give_a_reason():
    for page in PAGES + [CATALOGUE]:
        for block in parse_blocks(page.read_text(encoding="utf-8")):
            if block.backends:
                assert block.backend_reason, (
                    f"docs/{page.name}:{block.line}: say why, `<!-- backend: X; why -->`"
                )
    for section in SECTIONS.values():
        if section.backends:
            assert section.backend_reason, (
                f"docs/errors.md {section.code}: say why, `<!-- backend: X; why -->`"
            )


# ---------------------------------------------------------------------------
# The site's structure.


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"([\w./-]+\.md)\b", config))
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages - listed == set(), f"pages missing from mkdocs.yml's nav: {sorted(pages - listed)}"
    assert listed - pages == set(), f"mkdocs.yml lists pages that do not exist: {sorted(listed - pages)}"


def _api_names() -> set[str]:
    """Public names: `keras_binary.__all__` and the `__all__` of its public submodules."""
    import importlib
    import pkgutil
    from types import ModuleType

    names = set()
    for name in keras_binary.__all__:
        if not isinstance(getattr(keras_binary, name), ModuleType):
            names.add(f"keras_binary.{name}")
    for info in pkgutil.iter_modules(keras_binary.__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"keras_binary.{info.name}")
        except ImportError:
            continue  # an optional dependency; test_docstrings reports it
        names |= {f"keras_binary.{info.name}.{n}" for n in getattr(module, "__all__", ())}
    return names


def test_api_reference_documents_every_public_name():
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: (\S+)", api, flags=re.MULTILINE))
    short = {d.rsplit(".", 1)[-1] for d in documented}
    missing = sorted(n for n in _api_names() if n not in documented and n.rsplit(".", 1)[-1] not in short)
    assert not missing, f"docs/api.md has no `::: name` directive for {missing}"


def test_api_directives_name_the_object_not_a_module_of_the_same_name():
    # mkdocstrings resolves `::: name` statically: where a package holds both a module
    # `name.py` and, imported from it, a function `name`, a directive reaching `name` through
    # that package renders the module's docstring instead of the function.
    import importlib.util
    import inspect
    import pkgutil

    shadowed = {}
    for info in pkgutil.walk_packages(keras_binary.__path__, "keras_binary."):
        if not info.ispkg:
            continue
        package = importlib.import_module(info.name)
        for child in pkgutil.iter_modules(package.__path__):
            obj = getattr(package, child.name, None)
            if obj is not None and not inspect.ismodule(obj):
                shadowed[child.name] = f"{info.name}.{child.name}.{child.name}"
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    wrong = [
        path
        for path in re.findall(r"^::: (\S+)", api, flags=re.MULTILINE)
        if path.rsplit(".", 1)[-1] in shadowed and path != shadowed[path.rsplit(".", 1)[-1]]
    ]
    assert not wrong, f"use the module path, e.g. {[shadowed[w.rsplit('.', 1)[-1]] for w in wrong]}: {wrong}"


# README.md is also the package index's page: its links into the repository are absolute.
REPOSITORY = "https://github.com/keras-binary/keras-binary/blob/main/"


def test_readme_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert any(t.startswith(REPOSITORY) for t in targets)
    for target in targets:
        if "://" not in target:
            raise AssertionError(f"README.md links to {target}: a relative link breaks on the package index")
        if target.startswith(REPOSITORY):
            path = target[len(REPOSITORY) :]
            assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"


def test_readme_python_blocks_run():
    """README.md's example runs as copied: nothing imported beforehand."""
    blocks = [b for b in parse_blocks((ROOT / "README.md").read_text(encoding="utf-8")) if b.lang == "python"]
    assert blocks
    namespace = {"__name__": "__readme__"}
    for block in blocks:
        run_block(block.source, namespace, f"README.md:{block.line}")


# ---------------------------------------------------------------------------
# The benchmark runner behind docs/benchmarks.md.


def _run_all():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_parses_results_and_prints_one_table(tmp_path, monkeypatch, capsys):
    run_all = _run_all()
    (tmp_path / "fast.py").write_text(
        "import os, sys\n"
        "quick = '--quick' in sys.argv\n"
        "print('warming up')\n"
        "print(f\"RESULT name=step_{os.environ['KERAS_BACKEND']} ratio={1.5 if quick else 1.01} target=1.03 reference=keras\")\n"
    )
    (tmp_path / "_helper.py").write_text("raise SystemExit('helpers are not benchmarks')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--backends", BACKEND]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if f"step_{BACKEND}" in line)
    assert row.split()[:6] == [BACKEND, "fast.py", f"step_{BACKEND}", "1.010", "1.03", "yes"]
    # --quick is passed through; --strict fails on a missed target.
    assert run_all.main(["--backends", BACKEND, "--quick", "--strict"]) == 1
    assert "1.500" in capsys.readouterr().out


def test_run_all_fails_on_a_broken_benchmark(tmp_path, monkeypatch, capsys):
    run_all = _run_all()
    (tmp_path / "broken.py").write_text("print('no result line')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    assert run_all.main(["--backends", BACKEND]) == 1
    assert "broken.py" in capsys.readouterr().err


def test_run_all_doctests():
    import doctest

    result = doctest.testmod(_run_all(), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_benchmark_prints_results():
    """Each benchmark prints what run_all.py reads: RESULT lines, or its ratio tables."""
    for script in _run_all().discover():
        source = script.read_text(encoding="utf-8")
        assert any(marker in source for marker in ("RESULT name=", "median ms", "median ratio")), (
            f"benchmarks/{script.name} prints neither `RESULT name=... ratio=... target=...` lines "
            "nor a `variant  median ms  ratio  target` table, nor `median ratio ... target <= ...` lines"
        )
