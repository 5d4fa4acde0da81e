"""What a model path is, and why Keras could not load it: the text of `load_model`'s errors.

Used by `keras_binary.diagnostics.load_model` (and so by `diagnose(path)` and
`keras-binary doctor`). Nothing here imports Keras.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from typing import Any

__all__ = ["custom_modules", "describe_directory", "load_failure", "short_reason"]

_MAX_REASON = 300
_UNKNOWN_CLASS = re.compile(r"Could not locate (?:class|function) '([^']+)'")


def describe_directory(path: str) -> str | None:
    """`None` for a directory Keras can load (a `.keras` directory), else why not and what to do.

    Args:
        path: an existing directory.

    Returns:
        `None` when `path` holds a `config.json` (Keras 3 loads such a
        directory, as written by `model.save` of a `.keras` archive unpacked),
        else a message: a TensorFlow SavedModel, or a folder of model files.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "saved_model.pb"), "wb").close()
    >>> "is a directory: it is a TensorFlow SavedModel" in describe_directory(folder)
    True
    """
    if os.path.isfile(os.path.join(path, "config.json")):
        return None
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return (
            f"{path!r} is a directory: it is a TensorFlow SavedModel, which Keras 3 cannot load as a model "
            "(only as an inference layer, without the graph doctor reads). Re-save it as a .keras file from "
            "the code that builds it: model.save('model.keras'); for inference only: "
            f"keras.layers.TFSMLayer({path!r}, call_endpoint='serving_default')."
        )
    found = sorted(
        name
        for name in os.listdir(path)
        if name.endswith((".keras", ".h5", ".hdf5")) and not name.startswith(".")
    )
    if found:
        shown = ", ".join(repr(os.path.join(path, name)) for name in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        return f"{path!r} is a directory, not a model file: pass one of the model files in it: {shown}{more}."
    return (
        f"{path!r} is a directory with no model in it: pass a .keras file (model.save('model.keras')), "
        "or a .keras directory (one that holds config.json)."
    )


def short_reason(error: BaseException) -> str:
    """Keras's message, first line, without the object's full config, cut at a word.

    Example:

    >>> short_reason(TypeError("Could not locate class 'Gate'. Make sure ... Full object config: {'x': 1}"))
    "TypeError: Could not locate class 'Gate'. Make sure ..."
    >>> len(short_reason(ValueError("word " * 200))) < 320
    True
    """
    text = str(error).strip()
    first = text.splitlines()[0].strip() if text else ""
    first = first.split(" Full object config:")[0].strip()
    if len(first) > _MAX_REASON:
        cut = first[:_MAX_REASON].rsplit(" ", 1)[0].rstrip(",;:")
        first = f"{cut} ..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _configs(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _configs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _configs(value)


def custom_modules(path: str) -> dict[str, str]:
    """Classes of a `.keras` file that are not Keras's own: class name -> the module that defined it.

    Example:

    >>> custom_modules("no_such_file.keras")
    {}
    """
    try:
        if os.path.isdir(path):
            with open(os.path.join(path, "config.json"), encoding="utf-8") as file:
                config = json.load(file)
        else:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    found = {}
    for item in _configs(config):
        module, name = item.get("module"), item.get("class_name")
        if (
            isinstance(module, str)
            and isinstance(name, str)
            and module.split(".")[0] not in {"keras", "builtins"}
        ):
            found.setdefault(name, module)
            registered = item.get("registered_name")
            if isinstance(registered, str):
                found.setdefault(registered, module)
    return found


def load_failure(path: str, error: BaseException) -> str:
    """The message for a model file Keras could not load.

    A class Keras does not know (the user's own layer, loss or metric) gets
    the fix for `keras-binary doctor` (`--import`, naming the module the file
    records) and for Python (import the module first); any other failure
    says the file is not a loadable Keras model, with Keras's reason.

    Example:

    >>> error = TypeError("Could not locate class 'Gate'. Make sure custom classes are decorated.")
    >>> print(load_failure("model.keras", error))  # doctest: +NORMALIZE_WHITESPACE
    'model.keras' uses the class 'Gate', which is not registered in this process (TypeError: Could not
    locate class 'Gate'. Make sure custom classes are decorated.). Import the module that defines it
    first: keras-binary doctor 'model.keras' --import your_package.layers (in Python: import
    your_package.layers before loading).
    """
    reason = short_reason(error)
    unknown = _UNKNOWN_CLASS.search(str(error))
    if unknown:
        name = unknown.group(1)
        module = custom_modules(path).get(name)
        if module is None:
            module = next((m for n, m in custom_modules(path).items() if n.endswith(f">{name}")), None)
        target = module or "your_package.layers"
        return (
            f"{path!r} uses the class {name!r}, which is not registered in this process ({reason}). "
            f"Import the module that defines it first: keras-binary doctor {path!r} --import {target} "
            f"(in Python: import {target} before loading)."
        )
    return f"{path!r} is not a Keras model file that can be loaded ({reason}). Save models with model.save('model.keras')."
