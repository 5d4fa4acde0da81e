"""Tests of keras_binary.demo: the story it tells, each figure checked against an independent reference.

The digits demo runs with its default settings, since the issue's bar (a
held-out AUC between 0.95 and 0.995, so that the curves carry information)
is set for the default run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from matplotlib import image  # noqa: E402
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score  # noqa: E402

import keras_binary  # noqa: E402
from keras_binary import demo  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {"roc": "roc.png", "pr": "pr.png", "confusion": "confusion.png", "reliability": "reliability.png"}


def reference_ece(y, p, num_bins):
    """Expected calibration error in float64, equal-width bins, the last one closed."""
    y, p = np.asarray(y, "float64"), np.asarray(p, "float64")
    index = np.minimum(np.floor(p * num_bins).astype(int), num_bins - 1)
    return sum(abs(y[index == b].sum() - p[index == b].sum()) for b in range(num_bins)) / len(y)


def check_figure(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, path
    pixels = image.imread(path)
    assert min(pixels.shape[:2]) >= 400, path  # readable, not a thumbnail
    assert pixels.std() > 0.05, f"{path} is blank"


def check_result(result, out_dir):
    summary, y, p = result.summary, result.y_true, result.y_prob
    assert json.loads((out_dir / "summary.json").read_text()) == summary
    assert summary["files"] == FIGURES
    for name in FIGURES.values():
        check_figure(out_dir / name)
    held_out = summary["held_out"]
    # Each reported figure against an independent float64 reference.
    assert summary["held_out_auc"] == held_out["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert held_out["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-9)
    assert held_out["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert held_out["log_loss"] == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), abs=1e-4)
    assert held_out["ece"] == pytest.approx(reference_ece(y, p, demo._RELIABILITY_BINS), abs=1e-9)
    low, high = held_out["auc_ci"]
    assert low < held_out["auc"] < high
    # The operating point: chosen on validation, evaluated on held-out data.
    point = summary["operating_point"]
    t = point["threshold"]
    assert point["chosen_on"] == "validation" and held_out["threshold"] == t
    assert point["validation"]["sensitivity"] >= demo.TARGET_SENSITIVITY
    predicted = p > t
    assert held_out["tp"] == np.sum(predicted & (y == 1)) and held_out["fp"] == np.sum(predicted & (y == 0))
    assert point["held_out"]["sensitivity"] == pytest.approx(np.mean(predicted[y == 1]))
    assert point["held_out"]["specificity"] == pytest.approx(np.mean(~predicted[y == 0]))
    # The paired comparison of the fixed and the naive model on the same held-out examples.
    comparison = summary["comparison"]
    naive = result.reports["naive"]
    assert comparison["names"] == ["fixed", "naive"]
    assert comparison["auc_a"] == pytest.approx(held_out["auc"], abs=1e-9)
    assert comparison["auc_b"] == pytest.approx(naive.auc, abs=1e-9)
    expected = keras_binary.compare(y, p, naive.y_score, threshold_a=t, threshold_b=0.5)
    assert comparison["auc_p_value"] == pytest.approx(expected.auc_p_value, rel=1e-9, abs=1e-300)
    assert comparison["sensitivity_difference"] == pytest.approx(
        point["held_out"]["sensitivity"] - np.mean(naive.y_score[y == 1] > 0.5)
    )
    # Calibration: a monotone map fitted on validation data.
    calibration = summary["calibration"]
    assert calibration["validation"]["log_loss_after"] <= calibration["validation"]["log_loss_before"]
    fixed = result.reports["fixed"]
    assert held_out["auc"] == pytest.approx(fixed.auc, abs=2e-3)  # the ranking is (nearly) unchanged: float32
    assert calibration["held_out_before"]["brier"] == pytest.approx(
        brier_score_loss(y, fixed.y_score), abs=1e-9
    )
    # The naive model, on the same held-out examples.
    naive = result.reports["naive"]
    np.testing.assert_array_equal(naive.y_true, y)
    assert summary["naive"]["held_out_auc"] == pytest.approx(roc_auc_score(y, naive.y_score), abs=1e-9)
    return held_out


def test_digits_demo_defaults(tmp_path):
    lines = []
    result = demo.run_demo(tmp_path, verbose=0, print_fn=lines.append)
    held_out = check_result(result, tmp_path)
    summary = result.summary
    assert 0.95 <= held_out["auc"] <= 0.995  # the bar: informative curves, not a square
    # The naive model: its classifier top is found, and it scores far worse than the fix.
    assert {"KBD001", "KBD012"} <= set(summary["naive"]["findings"]) and not summary["naive"]["ok"]
    assert summary["naive"]["held_out_auc"] < held_out["auc"] - 0.1
    assert summary["comparison"]["auc_difference"] > 0.1 and summary["comparison"]["auc_p_value"] < 0.01
    assert summary["fixed"] == {"findings": [], "ok": True}
    assert summary["fine_tuning"]["findings_if_unfrozen"] == ["KBD013"]
    assert 0.05 < summary["positive_rate_test"] < 0.15  # digit 8 vs the rest
    assert summary["n_train"] + summary["n_val"] + summary["n_test"] < 1797
    text = "\n".join(lines)
    assert "error KBD001" in text and "chosen on the validation data" in text and "held out" in text
    assert "[6/6]" in text and "Traceback" not in text
    assert "fixed vs naive on the same held-out examples (paired DeLong, McNemar)" in text


def test_breast_cancer_demo_defaults(tmp_path):
    result = demo.run_demo(tmp_path, dataset="breast_cancer", verbose=0, print_fn=lambda line: None)
    held_out = check_result(result, tmp_path)
    assert held_out["auc"] >= 0.97  # at the default settings
    assert set(result.summary["naive"]["findings"]) == {"KBD002", "KBD003"}
    # A 1-unit softmax is constant (up to float32 rounding, which the exact AUC ranks): no skill.
    assert np.ptp(result.reports["naive"].y_score) < 1e-6
    assert result.summary["naive"]["held_out_auc"] == pytest.approx(0.5, abs=0.05)


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    for kwargs, match in [
        ({"dataset": "mnist"}, "dataset must be one of"),
        ({"dataset": "breast_cancer", "backbone": "cnn"}, "backbone"),
        ({"epochs": 0}, "epochs must be"),
        ({"pretrain_epochs": -1}, "pretrain_epochs must be"),
        ({"epochs": 2.5}, "epochs must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            demo.run_demo(tmp_path / "never", **kwargs)
    assert not (tmp_path / "never").exists()


def test_digit_splits_are_disjoint_and_noisy():
    data = demo._digits(0)
    # Every split is a different set of images: none appears twice.
    flat = np.concatenate([data.x_pre, data.x_train, data.x_val, data.x_test]).reshape(-1, 64)
    assert len(np.unique(flat, axis=0)) == len(flat)
    assert len(data.y_pre) + len(data.y_train) + len(data.y_val) + len(data.y_test) < 1797  # 8s out of pre
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    # The noise: the clean digits take only the 17 values k/16.
    assert len(np.unique(data.x_test)) > 1000
    assert demo._digits(0).x_val.tobytes() == data.x_val.tobytes()  # seeded
