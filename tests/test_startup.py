"""Start-up: the command line imports no backend, and a missing backend is one line.

These run fresh interpreters on purpose: what a process imports at start-up,
and what happens when the backend package cannot be imported, can only be
seen in a new process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_binary import _startup

ROOT = Path(__file__).resolve().parents[1]
BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch", "numpy")

# The console script's process: `keras_binary` sees argv[0] == ".../keras-binary".
_IMPORTS_OF_COMMANDS = r"""
import contextlib, io, json, sys
sys.argv = ["/usr/bin/keras-binary"]
from keras_binary.cli import main
codes = {}
for argv in (["--help"], ["--version"], ["explain", "KB202"], ["explain", "nope"], ["frobnicate"],
             ["doctor"], ["doctor", "missing.keras"], ["demo", "--help"], ["doctor", "--help"],
             ["report", "--help"], ["report"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        codes[" ".join(argv)] = main(argv)
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in {"TF_CPP_MIN_LOG_LEVEL"}}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def _python(*args, env, cwd):
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_help_version_explain_and_bad_usage_import_no_backend(tmp_path):
    result = _python("-c", _IMPORTS_OF_COMMANDS, env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["codes"] == {
        "--help": 0,
        "--version": 0,
        "explain KB202": 0,
        "explain nope": 2,
        "frobnicate": 2,
        "doctor": 2,
        "doctor missing.keras": 2,
        "demo --help": 0,
        "doctor --help": 0,
        "report --help": 0,
        "report": 2,
    }
    loaded = {m.split(".")[0] for m in data["modules"]}
    assert loaded.isdisjoint(BACKEND_MODULES), sorted(loaded & set(BACKEND_MODULES))
    assert result.stderr == ""


def test_python_m_help_imports_no_backend(tmp_path):
    """`python -m keras_binary --help`, seen through -X importtime."""
    result = _python("-X", "importtime", "-m", "keras_binary", "--help", env=_env(), cwd=tmp_path)
    assert result.returncode == 0 and "keras-binary explain KB202" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert "keras_binary" in imported and imported.isdisjoint(BACKEND_MODULES)


def _no_tensorflow(tmp_path):
    """A path entry whose `tensorflow` fails to import, as on a machine without it."""
    shadow = tmp_path / "shadow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n"
    )
    return _env(
        KERAS_BACKEND="tensorflow",
        PYTHONPATH=os.pathsep.join(
            [str(shadow.parent), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    )


EXPECTED = (
    "Keras is looking for the tensorflow backend (KERAS_BACKEND=tensorflow), but tensorflow is not installed: "
    'pip install "keras-binary[tensorflow]" (or use JAX: pip install "keras-binary[jax]" and set KERAS_BACKEND=jax).'
)


def test_command_without_the_backend_is_one_line(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"PK")
    env = _no_tensorflow(tmp_path)
    result = _python("-m", "keras_binary", "doctor", "model.keras", env=env, cwd=tmp_path)
    assert result.returncode == 2 and not result.stdout
    assert result.stderr == f"keras-binary: error: {EXPECTED}\n"
    # --help still works: it needs no backend.
    result = _python("-m", "keras_binary", "--help", env=env, cwd=tmp_path)
    assert result.returncode == 0 and "doctor" in result.stdout


def test_import_without_the_backend_is_one_clear_error(tmp_path):
    code = "import keras_binary"
    result = _python("-c", code, env=_no_tensorflow(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"ImportError: {EXPECTED}"
    assert len(lines) <= 5 and "During handling" not in result.stderr  # no chained 40-line traceback


@pytest.mark.parametrize(
    "environ,missing,expected",
    [
        ({"KERAS_BACKEND": "jax"}, "jaxlib", 'but jaxlib is not installed: pip install "keras-binary[jax]"'),
        ({"KERAS_BACKEND": "torch"}, "torch", 'pip install "keras-binary[torch]" (or pick another backend'),
        ({"KERAS_BACKEND": "jax"}, "keras", "Keras is not installed"),
        (
            {"KERAS_BACKEND": "jax"},
            "scipy",
            "importing Keras with the jax backend (KERAS_BACKEND=jax) failed",
        ),
    ],
)
def test_keras_import_error_names_backend_and_fix(environ, missing, expected):
    error = ModuleNotFoundError(f"No module named {missing!r}", name=missing)
    message = _startup.keras_import_error(error, environ)
    assert expected in message and "\n" not in message


def test_configured_backend_reads_keras_json(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert _startup.configured_backend({"KERAS_HOME": str(tmp_path)}) == (
        "torch",
        f'"backend": "torch" in {tmp_path / "keras.json"}',
    )
    assert _startup.configured_backend({"KERAS_HOME": str(tmp_path / "none")}) == (
        "tensorflow",
        "Keras's default",
    )
    assert _startup.configured_backend({"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)})[0] == "jax"


def test_command_line_detection(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/keras-binary", "--help"])
    assert _startup._is_command_line()
    monkeypatch.setattr(sys, "argv", ["-m"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "keras_binary", "--help"], raising=False)
    assert _startup._is_command_line()
    monkeypatch.setattr(sys, "argv", ["/venv/bin/pytest"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "pytest"], raising=False)
    assert not _startup._is_command_line()


def test_native_stderr_is_silenced_unless_verbose(capfd):
    """What TensorFlow's C++ code writes to fd 2 while Keras is imported is dropped, unless --verbose."""
    with _startup.stderr_silenced(enabled=True):
        os.write(2, b"I0000 cudart_stub.cc: Could not find cuda drivers\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    with _startup.stderr_silenced(enabled=False):
        os.write(2, b"verbose\n")
    assert capfd.readouterr().err == "verbose\n"


_RUN_PROBE = r"""
import json, sys
before = sorted(m for m in ("keras", "tensorflow", "jax", "torch", "numpy") if m in sys.modules)
import keras
import keras_binary
print(json.dumps({
    "before": before,
    "wrapped": getattr(keras.Model.fit, "_keras_binary_original", None) is not None,
    "scope": keras_binary.config.fit_guard_scope(),
    "argv": sys.argv[1:],
}), flush=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="softmax")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
try:
    model.fit(keras.ops.ones((8, 4)), keras.ops.zeros((8,)), verbose=0)
except Exception:
    print("caught by the script")
"""


def test_run_imports_no_backend_before_the_script_and_guards_after(tmp_path):
    # `keras-binary run` must not import the backend before the script does (start-up), and the
    # script's own `import keras` must install the guard on every binary model (the import watcher);
    # its error finding then ends the process with status 1, past the script's `except Exception`.
    (tmp_path / "probe.py").write_text(_RUN_PROBE)
    fit_line = next(i for i, line in enumerate(_RUN_PROBE.splitlines(), 1) if "model.fit(" in line)
    result = _python("-m", "keras_binary", "run", "probe.py", "a", env=_env(), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[0]) == {"before": [], "wrapped": True, "scope": "all", "argv": ["a"]}
    assert "caught by the script" not in result.stdout
    assert "KBD002" in result.stderr and f"probe.py:{fit_line}" in result.stderr
