"""Docstring examples: every public class and function has one, and they all run.

The examples are doctests, run with the standard library's `doctest` module
on the active backend, over every module of the package (private ones too:
their examples are documentation as well). Each example sees its module's
globals plus `np`, `keras` and `keras_binary`.

Nothing is skipped silently: an example marked `# doctest: +SKIP` is
reported as a skipped test that names it.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from types import ModuleType

import keras
import numpy as np
import pytest

import keras_binary

# Modules that must not be imported by a test run: importing them runs code.
_NOT_IMPORTED = {"__main__"}


def _module_names() -> list[str]:
    names = ["keras_binary"]
    for info in pkgutil.walk_packages(keras_binary.__path__, prefix="keras_binary."):
        if info.name.rsplit(".", 1)[-1] not in _NOT_IMPORTED:
            names.append(info.name)
    return sorted(names)


MODULE_NAMES = _module_names()


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # an optional dependency, e.g. hypothesis for keras_binary.testing
        pytest.skip(f"{name} cannot be imported without an optional dependency: {exc}")


def _extraglobs() -> dict:
    return {"np": np, "keras": keras, "keras_binary": keras_binary}


def _doctests(name: str) -> list[doctest.DocTest]:
    module = _import(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return sorted(finder.find(module, name, extraglobs=_extraglobs()), key=lambda t: t.name)


def _collect() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(module, doctest name) of every docstring with examples, and of every +SKIP example."""
    tests, skipped = [], []
    for name in MODULE_NAMES:
        try:
            found = _doctests(name)
        except BaseException:  # noqa: BLE001 - reported by test_module_imports
            continue
        for test in found:
            tests.append((name, test.name))
            for example in test.examples:
                if example.options.get(doctest.SKIP):
                    skipped.append((test.name, example.source.strip()))
    return tests, skipped


DOCTESTS, SKIPPED = _collect()


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_imports(name):
    _import(name)


@pytest.mark.parametrize("module,test_name", DOCTESTS, ids=[t for _, t in DOCTESTS])
def test_docstring_examples_run(module, test_name):
    (test,) = [t for t in _doctests(module) if t.name == test_name]
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    report = []
    runner = doctest.DocTestRunner(optionflags=flags, verbose=False)
    runner.run(test, out=report.append, clear_globs=True)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{test_name}: {result.failed} of {result.attempted} examples failed\n" + "".join(report)
    )


if SKIPPED:  # one visible skip per example marked +SKIP (none today)

    @pytest.mark.parametrize(
        "test_name,source", SKIPPED, ids=[f"{n}:{i}" for i, (n, _) in enumerate(SKIPPED)]
    )
    def test_skipped_example(test_name, source):
        pytest.skip(f"{test_name} has an example marked +SKIP: {source}")


# ---------------------------------------------------------------------------
# Every public class and function has an example.


def _public_modules() -> list[ModuleType]:
    """The package and its public submodules (no underscore in the path)."""
    modules = []
    for name in MODULE_NAMES:
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue  # reported by test_module_imports
    return modules


def _public_objects() -> dict[str, object]:
    """Public classes and functions: `__all__`, or else the public names a module defines."""
    objects: dict[str, object] = {}
    for module in _public_modules():
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, obj in vars(module).items()
                if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
            ]
        for n in names:
            obj = getattr(module, n)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                objects.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return objects


PUBLIC = _public_objects()


def _has_example(obj: object) -> bool:
    # The object's own docstring: a class without one would inherit Keras's.
    doc = obj.__doc__ or ""
    if inspect.isclass(obj) and "__init__" in vars(obj):
        # A class may show its example on `__init__`.
        doc += obj.__init__.__doc__ or ""
    return ">>>" in doc


def test_public_api_is_collected():
    # Guards the collection itself: the foundation's names must be found.
    for name in ("SafeBCE", "canonicalize", "BinaryShapeError"):
        assert any(key.endswith(f".{name}") for key in PUBLIC), name


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_public_object_has_an_example(qualname):
    obj = PUBLIC[qualname]
    assert _has_example(obj), f"{qualname} has no `>>>` example in its docstring"
