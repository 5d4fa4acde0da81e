"""Tests of keras_binary.evaluation.plots: what each figure shows, read from the Figure objects."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

import keras_binary  # noqa: E402
from keras_binary.evaluation import plots  # noqa: E402
from keras_binary.evaluation.report import report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def scores(n=300, prevalence=0.15, separation=2.5, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype("float64")
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + separation * y - 2.0)))
    return y, p


@pytest.fixture(scope="module")
def two_reports():
    y, p = scores()
    _, q = scores(separation=0.7, seed=1)
    fixed = report(y, p, threshold=0.3, n_bootstrap=100, name="fixed", num_bins=10)
    naive = report(y, q, n_bootstrap=100, name="naive", num_bins=10)
    return fixed, naive


def legend_texts(ax):
    legend = ax.get_legend() or ax.figure.legends[0]  # the reliability diagram's is the figure's
    return [t.get_text() for t in legend.get_texts()]


def line_by_label(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def test_plot_report_writes_every_file(two_reports, tmp_path):
    fixed, naive = two_reports
    paths = fixed.plot(tmp_path / "new" / "folder", compare=naive)
    assert set(paths) == {"roc", "pr", "confusion", "reliability", "decision_curve", "summary"}
    for name in ("roc", "pr", "confusion", "reliability"):
        assert paths[name] == tmp_path / "new" / "folder" / f"{name}.png"
        assert paths[name].read_bytes()[:8] == PNG_SIGNATURE
        assert paths[name].stat().st_size > 10_000, name  # a drawn figure, not an empty canvas
    summary = json.loads(paths["summary"].read_text())
    assert {k: v for k, v in summary.items() if k not in ("compare", "files")} == fixed.to_dict()
    assert summary["compare"] == [naive.to_dict()]
    assert summary["files"] == {k: p.name for k, p in paths.items()}


def test_reports_with_the_same_name_get_distinct_legend_names(tmp_path):
    y, p = scores()
    _, q = scores(separation=0.7, seed=1)
    first, second = report(y, p, n_bootstrap=20), report(y, q, n_bootstrap=20)  # both "model"
    figures = {
        "roc": plots.roc_figure(first, compare=second),
        "pr": plots.pr_figure(first, compare=second),
        "decision curve": plots.decision_curve_figure(first, compare=second),
    }
    for kind, figure in figures.items():
        names = [
            t.split(":")[0].split(" (")[0] for t in legend_texts(figure.axes[0]) if t.startswith("model")
        ]
        assert names == ["model 1", "model 2"], (kind, names)
    summary = json.loads(first.plot(tmp_path, compare=[second])["summary"].read_text())
    assert (summary["name"], summary["compare"][0]["name"]) == ("model 1", "model 2")


@pytest.mark.parametrize("compare", [np.array([0.2, 0.8]), [0.3, 0.7], "naive"])
def test_compare_refuses_what_is_not_a_report(two_reports, tmp_path, compare):
    fixed, _ = two_reports
    with pytest.raises(TypeError, match=r"`compare` takes a keras_binary.BinaryReport .*keras_binary.report"):
        fixed.plot(tmp_path, compare=compare)


def test_roc_figure(two_reports):
    fixed, naive = two_reports
    figure = plots.roc_figure(fixed, compare=[naive])
    (ax,) = figure.axes
    assert ax.get_title() == "ROC curve"
    assert ax.get_xlabel() == "False positive rate (1 - specificity)"
    assert ax.get_ylabel() == "True positive rate (sensitivity)"
    low, high = fixed.auc_ci
    texts = legend_texts(ax)
    assert f"fixed: AUC {fixed.auc:.3f} (95% CI {low:.3f}-{high:.3f})" in texts
    assert any(t.startswith(f"naive: AUC {naive.auc:.3f}") for t in texts)
    assert "chance (AUC 0.5)" in texts
    # The curve is scikit-learn's, and the operating point sits on it at the report's rates.
    curve = line_by_label(ax, texts[1])
    fpr, tpr, _ = roc_curve(fixed.y_true, fixed.y_score)
    np.testing.assert_allclose(curve.get_xdata(), fpr)
    np.testing.assert_allclose(curve.get_ydata(), tpr)
    point = line_by_label(
        ax, f"threshold 0.3: sensitivity {fixed.sensitivity:.2f}, specificity {fixed.specificity:.2f}"
    )
    assert point.get_xdata()[0] == pytest.approx(1 - fixed.specificity)
    assert point.get_ydata()[0] == pytest.approx(fixed.sensitivity)
    assert any(np.allclose(line.get_xydata(), [[0, 0], [1, 1]]) for line in ax.get_lines())


def test_pr_figure_has_the_prevalence_line(two_reports):
    fixed, naive = two_reports
    (ax,) = plots.pr_figure(fixed, compare=naive).axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Precision-recall curve",
        "Recall (sensitivity)",
        "Precision (PPV)",
    )
    prevalence = fixed.y_true.mean()
    line = line_by_label(ax, f"prevalence {prevalence:.3f} (no skill)")
    np.testing.assert_allclose(line.get_ydata(), [prevalence, prevalence])
    texts = legend_texts(ax)
    assert any(t.startswith(f"fixed: AP {fixed.average_precision:.3f} (95% CI") for t in texts)
    assert any(t.startswith(f"naive: AP {naive.average_precision:.3f}") for t in texts)
    precision, recall, _ = precision_recall_curve(fixed.y_true, fixed.y_score)
    curve = line_by_label(ax, texts[0])
    np.testing.assert_allclose(curve.get_xdata(), recall)
    np.testing.assert_allclose(curve.get_ydata(), precision)


def test_confusion_figure_counts_rates_and_class_names(two_reports):
    fixed, _ = two_reports
    (ax,) = plots.confusion_figure(fixed).axes
    assert ax.get_title() == "Confusion matrix at threshold 0.3"
    assert ax.get_ylabel() == "True class" and ax.get_xlabel().startswith("Predicted class\nPPV ")
    cells = sorted(t.get_text() for t in ax.texts)
    tp, fp, tn, fn = (int(fixed.to_dict()[k]) for k in ("tp", "fp", "tn", "fn"))
    assert tp + fp + tn + fn == 300
    assert cells == sorted(
        [
            f"TN\n{tn}\n{tn / (tn + fp):.1%} specificity",
            f"FP\n{fp}\n{fp / (tn + fp):.1%} false pos. rate",
            f"FN\n{fn}\n{fn / (tp + fn):.1%} false neg. rate",
            f"TP\n{tp}\n{tp / (tp + fn):.1%} sensitivity",
        ]
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["negative (0)", "positive (1)"]
    # A report that knows its class names (as from image_dataset_from_directory) shows them.
    named = types.SimpleNamespace(
        **{k: getattr(fixed, k) for k in ("y_true", "y_score", "sample_weight", "threshold", "name")},
        to_dict=fixed.to_dict,
        class_names=["normal", "cancer"],
    )
    (ax,) = plots.confusion_figure(named).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["normal (0)", "cancer (1)"]


def test_reliability_points_sit_at_the_mean_predicted_probability(two_reports):
    fixed, naive = two_reports
    top, bottom = plots.reliability_figure(fixed, compare=naive).axes
    assert top.get_ylabel() == "Observed fraction of positives"
    assert bottom.get_ylabel() == "Examples per bin" and bottom.get_yscale() == "log"
    assert bottom.get_xlabel() == "Mean predicted probability (each bin)"
    label = f"fixed: ECE {fixed.ece:.3f}, Brier {fixed.brier:.3f}"
    assert label in legend_texts(top)
    prob_true, prob_pred = calibration_curve(fixed.y_true, fixed.y_score, n_bins=fixed.num_bins)
    curve = line_by_label(top, label)
    np.testing.assert_allclose(curve.get_xdata(), prob_pred)  # means, not bin centres
    np.testing.assert_allclose(curve.get_ydata(), prob_true)
    centres = np.arange(fixed.num_bins) / fixed.num_bins + 0.5 / fixed.num_bins
    assert not np.allclose(np.sort(curve.get_xdata()), centres[: len(prob_pred)])
    bins = plots.reliability_bins(fixed.y_true, fixed.y_score, fixed.num_bins)
    # Every non-empty bin's count is written over its bar; empty ones say so.
    shown = [t.get_text() for t in bottom.texts]
    assert shown == ["empty" if n == 0 else str(n) for n in bins["count"]]


def test_reliability_shows_empty_and_tiny_bins():
    rng = np.random.default_rng(0)
    # Many scores under 0.2, four in [0.5, 0.6), thirty over 0.9: bins 2-4 and 6-8 are empty.
    p = np.concatenate([rng.uniform(0, 0.2, 150), rng.uniform(0.5, 0.6, 4), rng.uniform(0.9, 1, 30)])
    y = (rng.random(len(p)) < p).astype("float64")
    r = report(y, p, n_bootstrap=0, num_bins=10)
    top, bottom = plots.reliability_figure(r).axes
    bins = plots.reliability_bins(y, p, 10)
    empty = [b for b, n in enumerate(bins["count"]) if n == 0]
    assert empty == [2, 3, 4, 6, 7, 8] and [t.get_text() for t in bottom.texts].count("empty") == len(empty)
    # An empty bin is shaded in both panels.
    for ax in (top, bottom):
        spans = [
            patch.get_x() for patch in ax.patches if patch.get_facecolor()[:3] == pytest.approx((0.85,) * 3)
        ]
        assert sorted(round(x, 6) for x in spans) == [b / 10 for b in empty]
    tiny = [b for b, n in enumerate(bins["count"]) if 0 < n < plots.MIN_BIN_COUNT]
    hollow = [
        line
        for line in top.get_lines()
        if line.get_marker() == "o" and line.get_markerfacecolor() == "white" and len(line.get_xdata())
    ]
    assert tiny == [5] and len(hollow[0].get_xdata()) == len(tiny)
    np.testing.assert_allclose(sorted(hollow[0].get_xdata()), [bins["mean_predicted"][b] for b in tiny])


def test_one_class_report_draws_a_message_not_a_curve():
    r = report(np.zeros(20), np.linspace(0, 1, 20), n_bootstrap=0)
    (ax,) = plots.roc_figure(r).axes
    assert [t.get_text() for t in ax.texts] == ["ROC undefined: the labels hold only one class"]
    assert [line.get_label() for line in ax.get_lines()] == ["chance (AUC 0.5)"]


def test_weighted_report_uses_the_weights(tmp_path):
    y, p = scores(n=120)
    w = np.random.default_rng(3).random(120) + 0.5
    r = report(y, p, sample_weight=w, n_bootstrap=0)
    (ax,) = plots.roc_figure(r).axes
    fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
    curve = ax.get_lines()[1]
    np.testing.assert_allclose(curve.get_xdata(), fpr)
    (ax,) = plots.confusion_figure(r).axes
    assert "total weight" in ax.get_xlabel()
    assert sorted(plots.plot_report(r, tmp_path)) == [
        "confusion",
        "decision_curve",
        "pr",
        "reliability",
        "roc",
        "summary",
    ]


def test_missing_matplotlib_is_a_coded_error(two_reports, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import matplotlib.figure now fails
    with pytest.raises(ImportError, match="KB360") as info:
        plots.roc_figure(two_reports[0])
    assert isinstance(info.value, keras_binary.errors.BinaryConfigError) and info.value.code == "KB360"


probabilities = arrays("float64", st.integers(1, 60), elements=st.floats(0, 1))


@given(probabilities, st.integers(1, 12), st.data())
def test_reliability_bins_match_calibration_curve(p, num_bins, data):
    y = np.asarray(data.draw(arrays("int64", len(p), elements=st.integers(0, 1))), "float64")
    if y.min() == y.max():
        y[0] = 1 - y[0]
    bins = plots.reliability_bins(y, p, num_bins)
    count = np.array(bins["count"])
    assert count.sum() == len(p) and len(count) == num_bins
    prob_true, prob_pred = calibration_curve(y, p, n_bins=num_bins)
    np.testing.assert_allclose(np.array(bins["mean_predicted"])[count > 0], prob_pred, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.array(bins["fraction_positive"])[count > 0], prob_true, rtol=1e-12, atol=1e-12
    )
    assert np.all(np.isnan(np.array(bins["mean_predicted"])[count == 0]))


@given(probabilities, st.data())
def test_weighted_reliability_bins_are_weighted_means(p, data):
    y = np.asarray(data.draw(arrays("int64", len(p), elements=st.integers(0, 1))), "float64")
    w = np.asarray(data.draw(arrays("float64", len(p), elements=st.floats(0.1, 10))))
    bins = plots.reliability_bins(y, p, 5, sample_weight=w)
    edges = np.linspace(0, 1, 6)
    for b in range(5):
        inside = (p > edges[b]) & (p <= edges[b + 1]) if b else (p <= edges[1])
        assert bins["count"][b] == inside.sum()
        if inside.any():
            assert bins["mean_predicted"][b] == pytest.approx(
                np.average(p[inside], weights=w[inside]), rel=1e-9
            )
            assert bins["fraction_positive"][b] == pytest.approx(
                np.average(y[inside], weights=w[inside]), rel=1e-9
            )
