"""Tests of `keras-binary report`: exit codes, bad --data, JSON, the files written."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import keras_binary  # noqa: E402
from keras_binary import cli  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("roc.png", "pr.png", "confusion.png", "reliability.png")


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype("float32")
    x = (rng.normal(size=(n, 4)) + 1.2 * y[:, None]).astype("float32")
    return x, y


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small trained model, a broken one (KBD001), evaluation and validation data."""
    root = tmp_path_factory.mktemp("report")
    x, y = make_data(300, 0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead()])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras_binary.SafeBCE())
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    model.save(root / "model.keras")
    classifier = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, activation="softmax")], name="clf"
    )
    broken = keras.Sequential([classifier, keras.layers.Dense(1, activation="sigmoid")])
    broken.compile(optimizer="adam", loss="binary_crossentropy")
    broken.save(root / "broken.keras")
    xt, yt = make_data(200, 1)
    np.savez(root / "test.npz", x=xt, y=yt)
    xv, yv = make_data(200, 2)
    np.savez(root / "val.npz", x=xv, y=yv)
    np.savez(root / "no_y.npz", x=xt)
    np.save(root / "array.npy", xt)
    (root / "text.npz").write_text("not a zip file")
    with zipfile.ZipFile(root / "broken_zip.npz", "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY\x01\x00 a truncated header")
    np.savez(root / "wrong_width.npz", x=np.ones((10, 7), "float32"), y=np.ones(10, "float32"))
    return root


def run_main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_writes_figures_and_prints_the_report(files, tmp_path, capsys):
    out_dir = tmp_path / "figures"
    code, out, err = run_main(
        capsys,
        "report",
        files / "model.keras",
        "--data",
        files / "test.npz",
        "--out",
        out_dir,
        "--n-bootstrap",
        "50",
    )
    assert code == 0, err
    assert "BinaryReport 'model': 200 examples" in out and "ROC AUC" in out and "no problem found" in out
    for name in FIGURES:
        assert (out_dir / name).read_bytes()[:8] == PNG_SIGNATURE, name
    summary = json.loads((out_dir / "summary.json").read_text())
    xt, yt = np.load(files / "test.npz")["x"], np.load(files / "test.npz")["y"]
    model = keras.saving.load_model(files / "model.keras")
    expected = keras_binary.report(model, xt, yt, n_bootstrap=50, verbose=0, name="model").to_dict()
    assert summary["auc"] == pytest.approx(expected["auc"]) and summary["tp"] == expected["tp"]
    assert summary["threshold"] == 0.5 and summary["threshold_selection"] is None
    assert summary["ok"] is True and summary["findings"] == []


def test_json_output_and_threshold_on_the_same_data(files, tmp_path, capsys):
    argv = ["report", files / "model.keras", "--data", files / "test.npz", "--out", tmp_path, "--json"]
    code, out, _ = run_main(capsys, *argv, "--target-sensitivity", "0.9", "--n-bootstrap", "20")
    data = json.loads(out)
    assert code == 0
    assert data == json.loads((tmp_path / "summary.json").read_text())
    selection = data["threshold_selection"]
    assert selection["chosen_on"] == "evaluation" and selection["target"] == 0.9
    assert data["threshold"] == selection["threshold"]
    assert data["sensitivity"] >= 0.9  # chosen on these very data: reached on them
    code, out, _ = run_main(capsys, *argv[:-1], "--target-sensitivity", "0.9", "--n-bootstrap", "20")
    assert "chosen on the same data" in out and "optimistic" in out


def test_threshold_chosen_on_validation_data(files, tmp_path, capsys):
    code, out, _ = run_main(
        capsys,
        "report",
        files / "model.keras",
        "--data",
        files / "test.npz",
        "--val-data",
        files / "val.npz",
        "--target-sensitivity",
        "0.95",
        "--out",
        tmp_path,
        "--json",
        "--n-bootstrap",
        "20",
    )
    data = json.loads(out)
    assert code == 0 and data["threshold_selection"]["chosen_on"] == "validation"
    val = np.load(files / "val.npz")
    model = keras.saving.load_model(files / "model.keras")
    p = keras.ops.convert_to_numpy(model.predict(val["x"], verbose=0)).reshape(-1)
    choice = keras_binary.select_threshold(val["y"], p, method="sensitivity", value=0.95)
    assert data["threshold"] == pytest.approx(choice.threshold, rel=1e-6)
    assert data["threshold_selection"]["sensitivity"] >= 0.95


def test_compare_model_is_in_the_summary(files, tmp_path, capsys):
    argv = ["report", files / "model.keras", "--data", files / "test.npz", "--out", tmp_path, "--json"]
    code, out, _ = run_main(capsys, *argv, "--compare", files / "broken.keras", "--n-bootstrap", "0")
    data = json.loads(out)
    assert code == 0 and [c["name"] for c in data["compare"]] == ["broken"]
    # the paired comparison (issue 21): keras_binary.compare on the two models' predictions
    test = np.load(files / "test.npz")
    p_a, p_b = (
        keras.ops.convert_to_numpy(
            keras.saving.load_model(files / name, compile=False).predict(test["x"], verbose=0)
        ).reshape(-1)
        for name in ("model.keras", "broken.keras")
    )
    expected = keras_binary.compare(test["y"], p_a, p_b)
    comparison = data["comparison"]
    assert comparison["names"] == ["model", "broken"]
    assert comparison["auc_difference"] == pytest.approx(expected.auc_difference, abs=1e-6)
    assert comparison["auc_p_value"] == pytest.approx(expected.auc_p_value, rel=1e-4, abs=1e-9)
    assert comparison["sensitivity_difference"] == pytest.approx(expected.sensitivity_difference, abs=1e-9)
    code, out, _ = run_main(capsys, *argv[:-1], "--compare", files / "broken.keras", "--n-bootstrap", "0")
    assert "paired tests" in out and "Comparison 'model' - 'broken'" in out and "McNemar" in out


def test_compare_ranks_raw_logits_as_the_library_does(tmp_path, capsys):
    # A logit model whose logits are all above 50: a float64 sigmoid makes them all 1.0, so
    # ranking probabilities would tie every example (AUC 0.5). The CLI ranks the logits, like
    # keras_binary.report and keras_binary.compare; the other model gives probabilities.
    rng = np.random.default_rng(3)
    y = (rng.random(80) < 0.4).astype("float32")
    x = (0.05 + 0.1 * rng.random(80) + 0.04 * y).astype("float32")[:, None]
    logit_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)], name="logit_model")
    logit_model.layers[-1].set_weights([np.array([[1000.0]], "float32"), np.zeros(1, "float32")])
    prob_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    prob_model.layers[-1].set_weights([np.array([[-3.0]], "float32"), np.zeros(1, "float32")])
    logit_model.save(tmp_path / "logits.keras")
    prob_model.save(tmp_path / "probs.keras")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    code, out, err = run_main(
        capsys,
        "report",
        tmp_path / "logits.keras",
        "--data",
        tmp_path / "data.npz",
        "--compare",
        tmp_path / "probs.keras",
        "--out",
        tmp_path / "out",
        "--json",
        "--n-bootstrap",
        "0",
    )
    assert code in (0, 1), err
    comparison = json.loads(out)["comparison"]
    logits = keras.ops.convert_to_numpy(logit_model(x)).reshape(-1).astype("float64")
    probs = keras.ops.convert_to_numpy(prob_model(x)).reshape(-1).astype("float64")
    assert np.all(1 / (1 + np.exp(-logits)) == 1.0)  # the probabilities all tie
    expected = keras_binary.compare(y, logits, -np.log1p(-probs) + np.log(probs), from_logits=True)
    from sklearn.metrics import roc_auc_score

    assert comparison["auc_a"] == pytest.approx(roc_auc_score(y, logits), abs=1e-12)
    assert comparison["auc_a"] > 0.75  # ranking the saturated probabilities would give 0.5
    assert comparison["auc_b"] == pytest.approx(roc_auc_score(y, probs), abs=1e-12)
    assert comparison["auc_difference"] == pytest.approx(expected.auc_difference, abs=1e-12)
    assert comparison["auc_p_value"] == pytest.approx(expected.auc_p_value, rel=1e-9)


def test_model_with_an_error_exits_1_and_still_reports(files, tmp_path, capsys):
    code, out, err = run_main(
        capsys,
        "report",
        files / "broken.keras",
        "--data",
        files / "test.npz",
        "--out",
        tmp_path,
        "--n-bootstrap",
        "0",
    )
    assert code == 1 and not err
    assert "error KBD001" in out and "ROC AUC" in out
    assert all((tmp_path / name).is_file() for name in FIGURES)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is False and summary["findings"][0]["code"] == "KBD001"


@pytest.mark.parametrize(
    "data, message",
    [
        ("missing.npz", "--data: no data file at "),
        (
            "text.npz",
            "is not a NumPy .npz file (a zip archive of arrays); save it with np.savez(path, x=x, y=y).",
        ),
        ("broken_zip.npz", "is not a readable NumPy .npz file"),
        ("array.npy", "is a single .npy array, not an .npz file"),
        ("no_y.npz", "has no array named y (arrays: x); save it with np.savez(path, x=x, y=y)."),
        ("wrong_width.npz", "does not fit the model"),
    ],
)
def test_bad_data_is_one_line_and_exit_2(files, tmp_path, capsys, data, message):
    code, out, err = run_main(
        capsys, "report", files / "model.keras", "--data", files / data, "--out", tmp_path
    )
    assert code == 2 and not out
    assert err.startswith("keras-binary: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "summary.json").exists()


def test_bad_usage_exits_2(files, tmp_path, capsys):
    model, data = files / "model.keras", files / "test.npz"
    for argv, message in [
        (["report", model], "the following arguments are required: --data"),
        (
            ["report", model, "--data", data, "--target-sensitivity", "1.5"],
            "expected a number in (0, 1), got 1.5",
        ),
        (["report", model, "--data", data, "--val-data", files / "val.npz"], "--val-data is only used with"),
        (
            ["report", model, "--data", data, "--threshold", "0.3", "--target-sensitivity", "0.9"],
            "pass one of them",
        ),
        (["report", files / "missing.keras", "--data", data], "no model file at"),
        (
            [
                "report",
                model,
                "--data",
                data,
                "--target-sensitivity",
                "0.9",
                "--val-data",
                files / "no_y.npz",
            ],
            "--val-data:",
        ),
        (["report", files / "text.npz", "--data", data], "is not a Keras model file"),
    ]:
        code, out, err = run_main(capsys, *argv, "--out", tmp_path)
        assert code == 2, argv
        assert message in err, (argv, err)
        assert "Traceback" not in out + err


def test_help_has_examples(capsys):
    code, out, _ = run_main(capsys, "report", "--help")
    assert code == 0 and "examples:" in out and "--target-sensitivity" in out and "exit codes:" in out
