"""Tests of the `keras-binary` command line, in process and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

import keras_binary
from keras_binary import cli
from keras_binary.diagnostics import Finding, Report

BACKEND = keras.backend.backend()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save_broken(path):
    """A Dense(1) stacked on a 10-way softmax: KBD001, an error."""
    classifier = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, activation="softmax")], name="classifier"
    )
    model = keras.Sequential([classifier, keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
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
    for argv in ([], ["doctor"], ["demo"]):
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
        (["doctor", model, "--data", str(not_npz)], "is not a readable NumPy .npz file"),
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
    assert cli._use_color(Terminal(), no_color=False)
    assert not cli._use_color(Terminal(), no_color=True)
    assert not cli._use_color(io.StringIO(), no_color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli._use_color(Terminal(), no_color=False)

    report = Report(
        [
            Finding("KBD001", "error", "layer 'dense'", "a head on a softmax.", "why", "fix it"),
            Finding("KBD012", "warning", "labels (y)", "3% positive.", "why", "weight it"),
        ],
        "m",
    )
    text = cli.format_report(report, color=True)
    assert "\033[1;31merror" in text and "\033[1;33mwarning" in text
    plain = cli.format_report(report, color=False).splitlines()
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
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_subprocess_doctor_finds_an_error(tmp_path):
    """Exit code 1 and parseable JSON from the installed console script."""
    broken = save_broken(tmp_path / "broken.keras")
    result = run(command("doctor", str(broken), "--json"), tmp_path)
    assert result.returncode == 1, result.stderr
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
