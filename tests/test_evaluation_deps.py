"""The evaluate extra: scikit-learn and scipy are imported lazily, and their absence is KB360."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import keras_binary
from keras_binary.evaluation import _deps


@pytest.fixture
def without(monkeypatch):
    """Makes `import NAME` (and its submodules) fail, as when the package is not installed."""

    def hide(name):
        for module in list(sys.modules):
            if module == name or module.startswith(name + "."):
                monkeypatch.delitem(sys.modules, module)
        monkeypatch.setitem(sys.modules, name, None)  # `import name` raises ImportError

    return hide


def test_report_without_scikit_learn_says_how_to_install_it(without):
    without("sklearn")
    with pytest.raises(keras_binary.BinaryConfigError, match="KB360") as info:
        keras_binary.report([0, 1], [0.2, 0.7])
    error = info.value
    assert isinstance(error, ImportError) and isinstance(error, ValueError)
    assert 'pip install "keras-binary[evaluate]"' in str(error)
    assert "scikit-learn" in str(error)


def test_calibrate_without_scipy_says_how_to_install_it(without):
    import keras

    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras_binary.BinaryHead()(inputs))
    without("scipy")
    with pytest.raises(_deps.MissingExtraError, match="KB360") as info:
        keras_binary.calibrate(model, np.array([[0.0], [1.0]]), np.array([0.0, 1.0]), verbose=0)
    assert "scipy" in str(info.value) and "keras_binary.calibrate" in str(info.value)


def test_require_imports_what_is_there():
    assert _deps.require("sklearn.metrics").__name__ == "sklearn.metrics"


def test_the_evaluation_modules_import_no_extra_at_import_time():
    # Their module-level imports: none of the extra (checked on the source, as the
    # running process may already have them loaded through other packages).
    import ast
    import inspect

    from keras_binary.evaluation import _data, _stats, calibration, labels, report, threshold

    for module in (_data, _stats, calibration, labels, report, threshold, _deps):
        tree = ast.parse(inspect.getsource(module))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        assert not any(name.split(".")[0] in ("sklearn", "scipy", "matplotlib") for name in names), module


def test_keras_binary_imports_without_the_extra():
    # A fresh process is the point: the extra's modules are blocked before anything imports them.
    import subprocess

    code = (
        "import sys\n"
        "for name in ('sklearn', 'matplotlib'): sys.modules[name] = None  # scipy: a dependency of jax\n"
        "import keras_binary\n"
        "try:\n"
        "    keras_binary.report([0, 1], [0.2, 0.7])\n"
        "except ImportError as error:\n"
        "    print(error.code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "KB360"
