"""The pictures of a `BinaryReport`: ROC, precision-recall, confusion matrix, reliability, decision curve.

Each figure has a function that returns a `matplotlib.figure.Figure` (built
without `pyplot`, so no global state and no display are involved), and
`plot_report` writes them all, with a `summary.json`, into a folder. The
curves are scikit-learn's (`roc_curve`, `precision_recall_curve`); the
reliability bins are `calibration_curve`'s (equal-width bins), with the
number of examples in each bin kept so that empty and nearly empty bins show.

matplotlib and scikit-learn are imported when a figure is drawn:
`pip install "keras-binary[evaluate]"`.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_binary.evaluation._deps import require

__all__ = [
    "confusion_figure",
    "decision_curve_figure",
    "plot_report",
    "pr_figure",
    "reliability_bins",
    "reliability_figure",
    "roc_figure",
    "save_figure",
]

FIGSIZE = (5.6, 6.2)  # inches: a square plot and its legend under it
DPI = 110
NUM_BINS = 10
MIN_BIN_COUNT = 10  # a reliability bin with fewer examples is drawn hollow: its rate is noise
FILES = {
    "roc": "roc.png",
    "pr": "pr.png",
    "confusion": "confusion.png",
    "reliability": "reliability.png",
    "decision_curve": "decision_curve.png",
    "summary": "summary.json",
}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _figure_class() -> Any:
    return require("matplotlib.figure", "keras_binary's plots").Figure


def _sklearn_metrics() -> Any:
    return require("sklearn.metrics", "keras_binary's plots")


def _new_figure(**kwargs: Any) -> Any:
    figure = _figure_class()(figsize=kwargs.pop("figsize", FIGSIZE), dpi=DPI, layout="constrained")
    return figure


def _as_list(compare: Any) -> list[Any]:
    if compare is None:
        return []
    if isinstance(compare, Sequence) and not isinstance(compare, str | bytes):
        others = list(compare)
    else:
        others = [compare]
    for other in others:
        if not (hasattr(other, "to_dict") and hasattr(other, "name")):
            raise TypeError(
                "`compare` takes a keras_binary.BinaryReport or a list of them; received "
                f"{type(other).__name__}. Make one with keras_binary.report(y_true, y_pred_other)."
            )
    return others


def _labelled(report: Any, compare: Any) -> list[tuple[str, Any]]:
    """The report and the compared ones, each with a name no other curve on the axes has."""
    reports = [report, *_as_list(compare)]
    names = [r.name for r in reports]
    return [
        (name if names.count(name) == 1 else f"{name} {names[:i].count(name) + 1}", r)
        for i, (name, r) in enumerate(zip(names, reports, strict=True))
    ]


def _summary(report: Any) -> dict[str, Any]:
    return report.to_dict()


def _both_classes(report: Any) -> bool:
    y = np.asarray(report.y_true)
    return bool(np.any(y == 1) and np.any(y == 0))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _ci_text(values: dict, key: str, digits: int = 3) -> str:
    interval = values.get(f"{key}_ci")
    if not interval or any(v is None for v in interval):
        return ""
    level = values.get("confidence", 0.95)
    return f" ({level:.0%} CI {interval[0]:.{digits}f}-{interval[1]:.{digits}f})"


def _style(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, alpha=0.3, lw=0.6)


def _legend_below(ax: Any) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), fontsize=8, frameon=False, ncols=1)


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, wrap=True, transform=ax.transAxes)


def _operating_point_label(values: dict) -> str:
    return (
        f"threshold {values['threshold']:.3g}: "
        f"sensitivity {_fmt(values.get('sensitivity'), 2)}, specificity {_fmt(values.get('specificity'), 2)}"
    )


# ---------------------------------------------------------------------------
# ROC


def roc_figure(report: Any, *, compare: Any = None, title: str = "ROC curve") -> Any:
    """The ROC curve, with the AUC and its interval and the operating point.

    Args:
        report: a `keras_binary.BinaryReport`.
        compare: another report, or a list of them, drawn on the same axes.
        title: the figure's title.

    Returns:
        A `matplotlib.figure.Figure` with one axes: the curve of each report
        (labelled with its name, AUC and interval), the operating point at each
        report's threshold, and the chance diagonal.

    Example:

    >>> import numpy as np, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> roc_figure(r).axes[0].get_xlabel()
    'False positive rate (1 - specificity)'
    """
    metrics = _sklearn_metrics()
    figure = _new_figure()
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="chance (AUC 0.5)")
    for i, (name, r) in enumerate(_labelled(report, compare)):
        values, color = _summary(r), _COLORS[i % len(_COLORS)]
        if not _both_classes(r):
            continue
        fpr, tpr, _ = metrics.roc_curve(r.y_true, r.y_score, sample_weight=r.sample_weight)
        label = f"{name}: AUC {_fmt(values.get('auc'))}{_ci_text(values, 'auc')}"
        ax.plot(fpr, tpr, color=color, lw=2.2 if i == 0 else 1.6, label=label, zorder=3 - min(i, 1))
        spec, sens = values.get("specificity"), values.get("sensitivity")
        if spec is not None and sens is not None:
            ax.plot(
                [1 - spec],
                [sens],
                marker="o",
                ms=9,
                mfc="white" if i else color,
                mec=color,
                mew=2,
                ls="none",
                zorder=5,
                label=_operating_point_label(values),
            )
    if not _both_classes(report):
        _no_data(ax, "ROC undefined: the labels hold only one class")
    _style(ax, title, "False positive rate (1 - specificity)", "True positive rate (sensitivity)")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    ax.set_box_aspect(1)
    _legend_below(ax)
    return figure


# ---------------------------------------------------------------------------
# Precision-recall


def _prevalence(report: Any) -> float:
    y = np.asarray(report.y_true, dtype="float64")
    w = None if report.sample_weight is None else np.asarray(report.sample_weight, dtype="float64")
    return float(np.average(y, weights=w)) if y.size else math.nan


def pr_figure(report: Any, *, compare: Any = None, title: str = "Precision-recall curve") -> Any:
    """The precision-recall curve, with the prevalence line and the operating point.

    Args:
        report: a `keras_binary.BinaryReport`.
        compare: another report, or a list of them, drawn on the same axes.
        title: the figure's title.

    Returns:
        A `matplotlib.figure.Figure` with one axes: each report's curve
        (labelled with its average precision), the operating point, and a
        horizontal line at the prevalence (what a model without skill scores).

    Example:

    >>> import numpy as np, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> pr_figure(r).axes[0].get_ylabel()
    'Precision (PPV)'
    """
    metrics = _sklearn_metrics()
    figure = _new_figure()
    ax = figure.add_subplot()
    prevalence = _prevalence(report)
    for i, (name, r) in enumerate(_labelled(report, compare)):
        values, color = _summary(r), _COLORS[i % len(_COLORS)]
        if not _both_classes(r):
            continue
        precision, recall, _ = metrics.precision_recall_curve(
            r.y_true, r.y_score, sample_weight=r.sample_weight
        )
        label = f"{name}: AP {_fmt(values.get('average_precision'))}{_ci_text(values, 'average_precision')}"
        ax.plot(
            recall, precision, color=color, lw=2.2 if i == 0 else 1.6, drawstyle="steps-post", label=label
        )
        sens, ppv = values.get("sensitivity"), values.get("ppv")
        if sens is not None and ppv is not None and not math.isnan(ppv):
            ax.plot(
                [sens],
                [ppv],
                marker="o",
                ms=9,
                mfc="white" if i else color,
                mec=color,
                mew=2,
                ls="none",
                zorder=5,
                label=f"threshold {values['threshold']:.3g}: recall {sens:.2f}, precision {ppv:.2f}",
            )
    if not math.isnan(prevalence):
        ax.axhline(prevalence, color="grey", lw=1, ls="--", label=f"prevalence {prevalence:.3f} (no skill)")
    if not _both_classes(report):
        _no_data(ax, "precision-recall undefined: the labels hold only one class")
    _style(ax, title, "Recall (sensitivity)", "Precision (PPV)")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.03))
    _legend_below(ax)
    return figure


# ---------------------------------------------------------------------------
# Confusion matrix


def _class_names(report: Any) -> tuple[str, str]:
    names = getattr(report, "class_names", None)
    if names is not None and len(names) == 2:
        return f"{names[0]} (0)", f"{names[1]} (1)"
    return "negative (0)", "positive (1)"


def confusion_figure(report: Any, *, title: str | None = None) -> Any:
    """The confusion matrix at the report's threshold, counts and rates in each cell.

    Rows are the true class, columns the predicted class. Each cell shows its
    name (TN, FP, FN, TP), its count and its share of the row (specificity,
    false positive rate, false negative rate, sensitivity); the colour is that
    share. PPV and NPV are in the axis label.

    Args:
        report: a `keras_binary.BinaryReport`; its `class_names`, when it has
            them, name the rows and columns.
        title: the figure's title; `None` for "Confusion matrix at threshold T".

    Returns:
        A `matplotlib.figure.Figure` with one axes.

    Example:

    >>> import numpy as np, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> confusion_figure(r).axes[0].get_title()
    'Confusion matrix at threshold 0.5'
    """
    figure = _new_figure(figsize=(5.2, 4.6))
    ax = figure.add_subplot()
    values = _summary(report)
    tn, fp, fn, tp = (float(values[k]) for k in ("tn", "fp", "fn", "tp"))
    counts = np.array([[tn, fp], [fn, tp]])
    rows = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(rows > 0, counts / np.where(rows > 0, rows, 1), np.nan)
    ax.imshow(np.nan_to_num(rates), cmap="Blues", vmin=0, vmax=1)
    names = (
        (("TN", "specificity"), ("FP", "false pos. rate")),
        (("FN", "false neg. rate"), ("TP", "sensitivity")),
    )
    integral = bool(np.all(counts == np.round(counts)))
    for i in range(2):
        for j in range(2):
            short, rate_name = names[i][j]
            count = f"{int(counts[i, j]):,}" if integral else f"{counts[i, j]:,.1f}"
            rate = "no examples" if math.isnan(rates[i, j]) else f"{rates[i, j]:.1%} {rate_name}"
            dark = not math.isnan(rates[i, j]) and rates[i, j] > 0.55
            ax.text(
                j,
                i,
                f"{short}\n{count}\n{rate}",
                ha="center",
                va="center",
                fontsize=11,
                linespacing=1.5,
                color="white" if dark else "black",
            )
    negative, positive = _class_names(report)
    ax.set_xticks([0, 1], [negative, positive], fontsize=10)
    ax.set_yticks([0, 1], [negative, positive], fontsize=10, rotation=90, va="center")
    ax.set_title(title or f"Confusion matrix at threshold {values['threshold']:.3g}", fontsize=12)
    ax.set_xlabel(
        f"Predicted class\nPPV {_fmt(values.get('ppv'))}   NPV {_fmt(values.get('npv'))}   "
        + (f"n = {int(counts.sum()):,}" if integral else f"total weight {counts.sum():,.1f}"),
        fontsize=10,
    )
    ax.set_ylabel("True class", fontsize=10)
    ax.set_xticks([0.5], minor=True)
    ax.set_yticks([0.5], minor=True)
    ax.grid(which="minor", color="white", lw=3)
    ax.tick_params(which="minor", length=0)
    return figure


# ---------------------------------------------------------------------------
# Reliability


def reliability_bins(
    y_true: Any, y_prob: Any, num_bins: int = NUM_BINS, sample_weight: Any = None
) -> dict[str, list]:
    """Equal-width bins of predicted probability, as scikit-learn's `calibration_curve`.

    A probability `p` goes to bin `searchsorted(edges[1:-1], p)` (an edge
    belongs to the bin below it), as in `sklearn.calibration.calibration_curve`
    with `strategy="uniform"`; unlike it, empty bins are kept (as `nan`) and
    the number of examples in each bin is returned.

    Args:
        y_true: 0/1 labels, shape `(N,)`.
        y_prob: probabilities of the positive class, shape `(N,)`.
        num_bins: the number of bins over [0, 1].
        sample_weight: optional weights, shape `(N,)`: the means are weighted,
            the counts are not.

    Returns:
        A dict of lists, one entry per bin: `"edges"` (`num_bins + 1` bin
        edges), `"count"` (examples), `"mean_predicted"` (mean probability)
        and `"fraction_positive"` (`nan` for an empty bin).

    Example:

    >>> bins = reliability_bins([0, 1, 1, 1], [0.2, 0.3, 0.7, 0.9], 2)
    >>> bins["count"], bins["fraction_positive"]
    ([2, 2], [0.5, 1.0])
    """
    y = np.asarray(y_true, dtype="float64").reshape(-1)
    p = np.asarray(y_prob, dtype="float64").reshape(-1)
    w = np.ones_like(p) if sample_weight is None else np.asarray(sample_weight, dtype="float64").reshape(-1)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    index = np.searchsorted(edges[1:-1], p)
    count = np.bincount(index, minlength=num_bins)
    total = np.bincount(index, weights=w, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(index, weights=w * p, minlength=num_bins) / total
        positive = np.bincount(index, weights=w * y, minlength=num_bins) / total
    empty = total <= 0
    mean[empty], positive[empty] = np.nan, np.nan
    return {
        "edges": edges.tolist(),
        "count": count.astype(int).tolist(),
        "mean_predicted": mean.tolist(),
        "fraction_positive": positive.tolist(),
    }


def reliability_figure(
    report: Any, *, compare: Any = None, num_bins: int | None = None, title: str = "Reliability diagram"
) -> Any:
    """The reliability diagram, and under it the number of examples per bin.

    Each point sits at its bin's mean predicted probability (not the bin's
    centre) and the observed fraction of positives; a point of a bin with
    fewer than 10 examples is hollow, and an empty bin is shaded grey in both
    panels. On the diagonal the probabilities can be taken at face value.

    Args:
        report: a `keras_binary.BinaryReport`.
        compare: another report, or a list of them (for example the same
            model before calibration), drawn on the same axes.
        num_bins: the number of equal-width bins; `None` takes the report's
            `num_bins` (the bins of its ECE) when it has one, else 10.
        title: the figure's title.

    Returns:
        A `matplotlib.figure.Figure` with two axes: the diagram, and the
        count histogram (log scale) sharing its x axis.

    Example:

    >>> import numpy as np, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> [ax.get_ylabel() for ax in reliability_figure(r).axes]
    ['Observed fraction of positives', 'Examples per bin']
    """
    num_bins = num_bins or getattr(report, "num_bins", None) or NUM_BINS
    figure = _new_figure(figsize=(5.6, 7.2))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    top.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    primary_bins = None
    for i, (name, r) in enumerate(_labelled(report, compare)):
        values, color = _summary(r), _COLORS[i % len(_COLORS)]
        bins = reliability_bins(r.y_true, r.y_score, num_bins, r.sample_weight)
        primary_bins = primary_bins or bins
        mean = np.array(bins["mean_predicted"])
        rate = np.array(bins["fraction_positive"])
        count = np.array(bins["count"])
        filled = count > 0
        label = f"{name}: ECE {_fmt(values.get('ece'))}, Brier {_fmt(values.get('brier'))}"
        top.plot(mean[filled], rate[filled], color=color, lw=1.5, label=label, zorder=3)
        solid, tiny = filled & (count >= MIN_BIN_COUNT), filled & (count < MIN_BIN_COUNT)
        top.plot(mean[solid], rate[solid], "o", color=color, ms=7, zorder=4)
        top.plot(mean[tiny], rate[tiny], "o", mfc="white", mec=color, mew=1.5, ms=7, zorder=4)
        edges = np.array(bins["edges"])
        bottom.stairs(
            np.maximum(count, 0.5),
            edges,
            baseline=0.5,
            fill=i == 0,
            color=color,
            alpha=0.35 if i == 0 else 1.0,
            lw=1.5,
        )
    edges = np.array(primary_bins["edges"])
    count = np.array(primary_bins["count"])
    for b, n in enumerate(count):
        centre = (edges[b] + edges[b + 1]) / 2
        if n == 0:
            for ax in (top, bottom):
                ax.axvspan(edges[b], edges[b + 1], color="0.85", alpha=0.6, lw=0, zorder=0)
            bottom.text(centre, 0.7, "empty", ha="center", va="bottom", fontsize=7, color="0.35", rotation=90)
        else:
            bottom.text(centre, n, str(n), ha="center", va="bottom", fontsize=7)
    top.plot([], [], "o", mfc="white", mec="0.3", ls="none", label=f"bin with < {MIN_BIN_COUNT} examples")
    top.set(xlim=(0, 1), ylim=(-0.03, 1.05))
    _style(top, title, "", "Observed fraction of positives")
    handles, labels = top.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", fontsize=8, frameon=False, ncols=1)
    bottom.set_yscale("log")
    bottom.set_ylim(0.5, max(2.0, float(count.max()) * 4))
    _style(bottom, "", "Mean predicted probability (each bin)", "Examples per bin")
    bottom.set_xticks(np.linspace(0.0, 1.0, 6))
    return figure


# ---------------------------------------------------------------------------
# Decision curve


def decision_curve_figure(
    report: Any, *, compare: Any = None, thresholds: Any = None, title: str = "Decision curve"
) -> Any:
    """The decision curve: net benefit against the threshold probability, with "treat all" and "treat none".

    Net benefit (Vickers and Elkin 2006; `BinaryReport.net_benefit`) is the
    true positives per patient minus the false positives weighted by the
    odds of the threshold probability: the model is useful where its curve
    lies above both references. The band is the report's interval.

    Args:
        report: a `keras_binary.BinaryReport`.
        compare: another report, or a list of them, drawn on the same axes.
        thresholds: threshold probabilities in (0, 1); default 0.01 to 0.99.
        title: the figure's title.

    Returns:
        A `matplotlib.figure.Figure` with one axis.

    Example:

    >>> import numpy as np, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=0)
    >>> decision_curve_figure(r).axes[0].get_xlabel()
    'Threshold probability'
    """
    figure = _new_figure()
    ax = figure.subplots()
    curve = report.net_benefit(thresholds)
    t = curve["threshold"]
    ax.plot(t, curve["treat_all"], color="0.45", lw=1.2, label="treat all")
    ax.plot(t, curve["treat_none"], color="0.1", lw=1.2, ls="--", label="treat none")
    top = max(float(np.max(curve["treat_all"])), 0.0)
    for i, (name, r) in enumerate(_labelled(report, compare)):
        nb = curve if i == 0 else r.net_benefit(thresholds)
        color = _COLORS[i % len(_COLORS)]
        level = f"{r.confidence:.0%}"
        ax.fill_between(nb["threshold"], nb["low"], nb["high"], color=color, alpha=0.15, lw=0)
        ax.plot(
            nb["threshold"],
            nb["net_benefit"],
            color=color,
            lw=1.8,
            label=f"{name} ({level} interval shaded)",
        )
        top = max(top, float(np.max(nb["net_benefit"])))
    top = top if top > 0 else 0.1
    ax.set(xlim=(float(t[0]), float(t[-1])), ylim=(-0.15 * top, 1.15 * top))
    _style(ax, title, "Threshold probability", "Net benefit")
    _legend_below(ax)
    return figure


# ---------------------------------------------------------------------------
# Everything into a folder


def save_figure(figure: Any, path: Any) -> pathlib.Path:
    """Writes a figure of this module to a PNG file.

    Args:
        figure: a `matplotlib.figure.Figure`, e.g. from `roc_figure`.
        path: the file to write.

    Returns:
        The path, as a `pathlib.Path`.

    Example:

    >>> import numpy as np, tempfile, os, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> with tempfile.TemporaryDirectory() as out:
    ...     save_figure(pr_figure(r), os.path.join(out, "pr.png")).name
    'pr.png'
    """
    path = pathlib.Path(path)
    figure.savefig(path, dpi=DPI)
    return path


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def plot_report(report: Any, out_dir: Any, *, compare: Any = None) -> dict[str, pathlib.Path]:
    """Writes the report's figures and `summary.json` into `out_dir`.

    Files: `roc.png`, `pr.png` (precision-recall), `confusion.png` (at the
    report's threshold), `reliability.png`, `decision_curve.png` (net
    benefit, with "treat all" and "treat none") and `summary.json` (the report's
    `to_dict()`, with the comparison reports' under `"compare"`).

    Args:
        report: a `keras_binary.BinaryReport`.
        out_dir: the folder (created if needed).
        compare: another report, or a list of them, drawn on the ROC,
            precision-recall and reliability figures.

    Returns:
        The paths written, by name: `"roc"`, `"pr"`, `"confusion"`,
        `"reliability"`, `"decision_curve"` and `"summary"`.

    Example:

    >>> import numpy as np, tempfile, keras_binary
    >>> r = keras_binary.report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), n_bootstrap=20)
    >>> with tempfile.TemporaryDirectory() as out:
    ...     sorted(p.name for p in plot_report(r, out).values())
    ['confusion.png', 'decision_curve.png', 'pr.png', 'reliability.png', 'roc.png', 'summary.json']
    """
    others = _as_list(compare)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / file for name, file in FILES.items()}
    save_figure(roc_figure(report, compare=others), paths["roc"])
    save_figure(pr_figure(report, compare=others), paths["pr"])
    save_figure(confusion_figure(report), paths["confusion"])
    save_figure(reliability_figure(report, compare=others), paths["reliability"])
    save_figure(decision_curve_figure(report, compare=others), paths["decision_curve"])
    (primary, _), *labelled_others = _labelled(report, others)
    summary = {
        **_summary(report),
        "name": primary,
        "compare": [{**_summary(r), "name": name} for name, r in labelled_others],
        "files": dict(FILES),
    }
    paths["summary"].write_text(
        json.dumps(_json_ready(summary), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    return paths
