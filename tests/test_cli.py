"""Tests of the `keras-binary` command line, in process and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary import cli
from keras_binary.cli import _doctor as doctor_cli
from keras_binary.diagnostics import Finding, Report

BACKEND = keras.backend.backend()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save_broken(path, loss="binary_crossentropy", metrics=None):
    """A Dense(1) stacked on a 10-way softmax: KBD001, an error."""
    classifier = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, activation="softmax")], name="classifier"
    )
    model = keras.Sequential([classifier, keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    model.save(path)
    return path


def save_correct(path):
    model = keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead()])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    model.save(path)
    return path


def run_main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# In process: every branch of the command line.


def test_help_has_examples(capsys):
    for argv in ([], ["doctor"], ["demo"], ["explain"]):
        code, out, _ = run_main(capsys, *argv, "--help")
        assert code == 0 and "examples:" in out and "keras-binary" in out, argv
    code, out, _ = run_main(capsys, "--help")
    assert "exit codes: 0 no error found, 1 the model has an error, 2 bad usage" in out


def test_bad_usage_exits_2_with_one_message(capsys):
    for argv in ([], ["frobnicate"], ["doctor"], ["demo", "--epochs", "0"], ["demo", "--dataset", "mnist"]):
        code, out, err = run_main(capsys, *argv)
        assert code == 2, argv
        assert "Traceback" not in out + err
    code, _, err = run_main(capsys, "demo", "--epochs", "zero")
    assert code == 2 and "keras-binary: error: argument --epochs: expected a whole number" in err


def test_doctor_exit_codes_and_text(tmp_path, capsys):
    code, out, err = run_main(capsys, "doctor", str(save_broken(tmp_path / "broken.keras")))
    assert code == 1 and "error KBD001" in out and "Fix:" in out and not err
    assert "\033[" not in out  # captured output is not a terminal: plain text
    code, out, _ = run_main(capsys, "doctor", str(save_correct(tmp_path / "ok.keras")))
    assert code == 0 and "no problem found" in out


def test_doctor_json(tmp_path, capsys):
    code, out, _ = run_main(capsys, "doctor", str(save_broken(tmp_path / "broken.keras")), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["findings"][0]["code"] == "KBD001"


def test_doctor_with_data(tmp_path, capsys):
    model = str(save_correct(tmp_path / "ok.keras"))
    data = tmp_path / "data.npz"
    np.savez(data, x=np.random.rand(8, 4).astype("float32"), y=np.array([1, 2] * 4))
    code, out, _ = run_main(capsys, "doctor", model, "--data", str(data), "--json")
    assert code == 1 and [f["code"] for f in json.loads(out)["findings"]] == ["KBD009"]
    np.savez(data, x=np.random.rand(8, 4).astype("float32"), y=np.array([0, 1] * 4))
    assert run_main(capsys, "doctor", model, "--data", str(data))[0] == 0


def test_doctor_bad_files(tmp_path, capsys):
    model = str(save_correct(tmp_path / "ok.keras"))
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("hello")
    wrong_keys = tmp_path / "wrong.npz"
    np.savez(wrong_keys, images=np.zeros(3))
    not_npz = tmp_path / "data.npz"
    not_npz.write_text("hello")
    cases = [
        (["doctor", str(tmp_path / "missing.keras")], "no model file at"),
        (["doctor", str(not_a_model)], "is not a Keras model file"),
        (["doctor", model, "--data", str(tmp_path / "missing.npz")], "no data file at"),
        (["doctor", model, "--data", str(wrong_keys)], "no array named x or y (arrays: images)"),
        (["doctor", model, "--data", str(not_npz)], "is not a NumPy .npz file (not a zip archive)"),
    ]
    for argv, message in cases:
        code, out, err = run_main(capsys, *argv)
        assert code == 2 and message in err and "Traceback" not in err, argv
        assert err.startswith("keras-binary: error: ") and not out


def test_colour_table_in_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert doctor_cli.use_color(Terminal(), no_color=False)
    assert not doctor_cli.use_color(Terminal(), no_color=True)
    assert not doctor_cli.use_color(io.StringIO(), no_color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not doctor_cli.use_color(Terminal(), no_color=False)

    report = Report(
        [
            Finding("KBD001", "error", "layer 'dense'", "a head on a softmax.", "why", "fix it"),
            Finding("KBD012", "warning", "labels (y)", "3% positive.", "why", "weight it"),
        ],
        "m",
    )
    text = doctor_cli.format_report(report, color=True)
    assert "\033[1;31merror" in text and "\033[1;33mwarning" in text
    plain = doctor_cli.format_report(report, color=False).splitlines()
    header = plain[2]
    assert header.split() == ["SEVERITY", "CODE", "WHERE", "PROBLEM"]
    column = header.index("WHERE")
    assert plain[3][column:].startswith("layer 'dense'") and plain[4][column:].startswith("labels (y)")


# ---------------------------------------------------------------------------
# As a subprocess: the installed console script and `python -m keras_binary`.


def command(*argv, module=False):
    script = Path(sys.executable).with_name("keras-binary")
    if module or not script.exists():
        return [sys.executable, "-m", "keras_binary", *argv]
    return [str(script), *argv]


def run(argv, cwd):
    # No TF_CPP_MIN_LOG_LEVEL: the command keeps TensorFlow's C++ logs out by itself.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = BACKEND
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_subprocess_doctor_finds_an_error(tmp_path):
    """Exit code 1 and parseable JSON from the installed console script.

    The model uses keras_binary's loss and a metric: the command registers them before loading.
    """
    metrics = [keras_binary.metrics.AUC(), keras_binary.metrics.MatthewsCorrelation()]
    broken = save_broken(tmp_path / "broken.keras", loss=keras_binary.SafeBCE(), metrics=metrics)
    result = run(command("doctor", str(broken), "--json"), tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr == "", "the backend's logs (or a warning) reached stderr"
    data = json.loads(result.stdout)
    assert data["findings"][0]["code"] == "KBD001" and data["counts"]["error"] == 1


def test_subprocess_bad_usage(tmp_path):
    """Exit code 2, one line, no traceback, from `python -m keras_binary`."""
    result = run(command("doctor", "missing.keras", module=True), tmp_path)
    assert result.returncode == 2
    assert "keras-binary: error: no model file at 'missing.keras'." in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


def test_subprocess_demo_writes_figures_and_summary(tmp_path):
    """Exit code 0, valid PNG figures and the summary's metrics (reduced epochs)."""
    out = tmp_path / "results"
    argv = command("demo", "--dataset", "breast_cancer", "--epochs", "5", "--out", str(out), "--quiet")
    result = run(argv, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "error KBD002" in result.stdout and "held-out" in result.stdout
    from matplotlib import image

    files = {"roc": "roc.png", "pr": "pr.png", "confusion": "confusion.png", "reliability": "reliability.png"}
    for name in files.values():
        path = out / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = image.imread(path)
        assert min(pixels.shape[:2]) >= 400 and pixels.std() > 0.05
    summary = json.loads((out / "summary.json").read_text())
    held_out = summary["held_out"]
    assert summary["held_out_auc"] == held_out["auc"] >= 0.9
    assert 0.0 <= held_out["ece"] <= 1.0 and -1.0 <= held_out["mcc"] <= 1.0
    assert summary["operating_point"]["chosen_on"] == "validation"
    assert summary["dataset"] == "breast_cancer" and summary["epochs"] == 5 and summary["backend"] == BACKEND
    assert summary["files"] == files


def test_demo_bad_backbone_in_process(capsys):
    code, _, err = run_main(capsys, "demo", "--dataset", "breast_cancer", "--backbone", "cnn")
    assert code == 2 and "backbone (for breast_cancer) must be one of mlp" in err


# ---------------------------------------------------------------------------
# explain: every code's catalogue entry, offline.


def _all_codes():
    from keras_binary.diagnostics import DIAGNOSTIC_CODES
    from keras_binary.errors import ERROR_CODES

    return {**ERROR_CODES, **DIAGNOSTIC_CODES}


ALL_CODES = sorted(_all_codes())


@pytest.mark.parametrize("code", ALL_CODES)
def test_explain_every_code(code, capsys):
    status, out, err = run_main(capsys, "explain", code.lower())
    title = _all_codes()[code][1]
    assert status == 0 and not err
    lines = out.splitlines()
    assert lines[0] == f"{code} - {title}"
    for part in ("Wrong:", "Message:", "Fix:"):
        assert part in lines, f"{code}: no {part} part"
    assert "```" not in out and "<!--" not in out  # Markdown fences and test markers are rendered away
    # The message shown is indented as a block, and starts with the code.
    message = lines[lines.index("Message:") + 2]
    assert message.startswith("    ") and code in message


def test_explain_list_and_unknown_codes(capsys):
    status, out, _ = run_main(capsys, "explain", "--list")
    assert status == 0 and [line.split()[0] for line in out.splitlines()] == ALL_CODES
    status, out, err = run_main(capsys, "explain", "KB2020")
    assert status == 2 and not out
    assert err == "keras-binary: error: unknown code 'KB2020'; did you mean KB202, KBD020, KB322?\n"
    status, _, err = run_main(capsys, "explain", "hello")
    assert status == 2 and "keras-binary explain --list shows them all" in err and len(err.splitlines()) == 1
    status, _, err = run_main(capsys, "explain")
    assert status == 2 and "explain needs a code" in err


def test_every_message_ends_with_its_explain_command():
    error = keras_binary.errors.BinaryError("KB202", "the labels are {1, 2}.", fix="y = y - 1")
    assert str(error).splitlines()[-1].strip() == "See: keras-binary explain KB202"


# ---------------------------------------------------------------------------
# doctor on bad input.


def test_doctor_directories(tmp_path, capsys):
    saved_model = tmp_path / "exported"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"")
    code, _, err = run_main(capsys, "doctor", str(saved_model))
    assert code == 2 and "is a directory: it is a TensorFlow SavedModel" in err
    assert "model.save('model.keras')" in err and "keras.layers.TFSMLayer(" in err
    folder = tmp_path / "models"
    folder.mkdir()
    save_correct(folder / "a.keras")
    code, _, err = run_main(capsys, "doctor", str(folder))
    assert code == 2 and "is a directory, not a model file: pass one of the model files in it" in err
    assert repr(str(folder / "a.keras")) in err
    # An unpacked .keras archive (a directory with config.json) is what Keras 3 loads.
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(folder / "a.keras") as archive:
        archive.extractall(unpacked)
    code, out, err = run_main(capsys, "doctor", str(unpacked))
    assert code == 0 and "no problem found" in out, err


CUSTOM_LAYER = """
import keras

@keras.saving.register_keras_serializable(package="mylayers")
class Gate(keras.layers.Layer):
    def call(self, x):
        return x * 0.5
"""


def test_doctor_import_registers_custom_layers(tmp_path, capsys, monkeypatch):
    (tmp_path / "mylayers.py").write_text(CUSTOM_LAYER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import mylayers

    model = keras.Sequential([keras.Input((4,)), mylayers.Gate(), keras_binary.BinaryHead()])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    model.save(tmp_path / "custom.keras")
    # A fresh process would not know the class: forget it.
    keras.saving.get_custom_objects().pop("mylayers>Gate")
    monkeypatch.delitem(sys.modules, "mylayers")
    code, _, err = run_main(capsys, "doctor", "custom.keras")
    assert code == 2 and "uses the class 'Gate', which is not registered" in err
    assert "keras-binary doctor 'custom.keras' --import mylayers" in err
    assert "Save models with model.save" not in err and "Full object config" not in err
    code, out, err = run_main(capsys, "doctor", "custom.keras", "--import", "mylayers")
    assert code == 0 and "no problem found" in out, err
    code, _, err = run_main(capsys, "doctor", "custom.keras", "--import", "no_such_module_kb")
    assert code == 2 and "--import no_such_module_kb: cannot import it (ModuleNotFoundError" in err


def test_doctor_data_that_is_not_an_npz(tmp_path, capsys):
    model = str(save_correct(tmp_path / "ok.keras"))
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros(3))
    pickled = tmp_path / "data.pkl"
    pickled.write_bytes(pickle.dumps({"x": [1, 2]}))
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.zeros((2, 4)), y=np.array([[0], [1, 0]], dtype=object))
    cases = [
        (npy, "is a .npy file (one array); --data needs an .npz with arrays x and/or y"),
        (pickled, "is not a NumPy .npz file (a pickle)"),
        (objects, "array 'y' in"),
    ]
    for path, message in cases:
        code, out, err = run_main(capsys, "doctor", model, "--data", str(path))
        assert code == 2 and message in err and "allow_pickle" not in err, err
        assert len(err.splitlines()) == 1 and not out
    assert "never unpickles" in run_main(capsys, "doctor", model, "--data", str(objects))[2]


def test_doctor_json_errors_are_json(tmp_path, capsys):
    code, out, err = run_main(capsys, "doctor", str(tmp_path / "missing.keras"), "--json")
    assert code == 2 and json.loads(out) == {
        "ok": False,
        "error": f"no model file at {str(tmp_path / 'missing.keras')!r}.",
        "exit_code": 2,
    }
    assert err.startswith("keras-binary: error: no model file")


def test_doctor_progress_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(doctor_cli, "PROGRESS_MIN_BYTES", 0)
    code, out, err = run_main(capsys, "doctor", str(save_broken(tmp_path / "broken.keras")), "--json")
    assert code == 1 and json.loads(out)["ok"] is False  # stdout stays pure JSON
    assert re.fullmatch(
        r"keras-binary: loading \S+broken.keras \(\d+\.\d MB\) \.\.\. done in \d+\.\d s\n"
        r"keras-binary: diagnosing \.\.\. done in \d+\.\d s\n",
        err,
    ), err


def test_keras_reasons_are_cut_at_a_word():
    from keras_binary._model_files import short_reason

    reason = short_reason(ValueError("abcdefghij " * 100))
    assert reason.endswith("abcdefghij ...") and len(reason) < 330
    assert short_reason(TypeError("Could not locate class 'X'. Full object config: {'a': 1}")) == (
        "TypeError: Could not locate class 'X'."
    )
