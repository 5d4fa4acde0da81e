"""`report`: a binary classifier's scores summarised, with confidence intervals."""

from __future__ import annotations

import dataclasses
import math
import numbers
import pathlib
from typing import Any

import keras
import numpy as np

from keras_binary.errors import BinaryConfigError
from keras_binary.evaluation import _data, _delong, _report_intervals, _stats
from keras_binary.layers import _check_threshold

_LABELS = {
    "auc": "ROC AUC",
    "average_precision": "Average precision",
    "brier": "Brier score",
    "ece": "ECE",
    "log_loss": "Log loss",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "ppv": "PPV (precision)",
    "npv": "NPV",
    "accuracy": "Accuracy",
    "f1": "F1",
    "mcc": "MCC",
    "balanced_accuracy": "Balanced accuracy",
    "lr_positive": "LR+",
    "lr_negative": "LR-",
}


@dataclasses.dataclass(frozen=True, eq=False)
class BinaryReport:
    """What `keras_binary.report` measured: scores, rates at a threshold, intervals.

    Every statistic is an attribute (`report.auc`, `report.sensitivity`,
    `report.tp`, ...) and its interval is `report.<name>_ci`, a `(low, high)`
    tuple. An undefined statistic (the AUC with one class only, the PPV with
    no predicted positive) is NaN, never a plausible number.

    Attributes:
        y_true: the canonical 0/1 labels, float64, rank 1.
        y_score: the positive-class probabilities, float64, rank 1.
        sample_weight: the weights, float64, rank 1, or `None`.
        threshold: the decision threshold (a probability above it is a positive).
        name: a name for legends and the summary.
        values: every statistic by name (see `to_dict`).
        intervals: `(low, high)` by name, for the statistics with an interval.
        confidence: the level of the intervals, e.g. `0.95`.
        n_bootstrap: the number of bootstrap resamples (`0`: no intervals).
        seed: the seed of the bootstrap.
        num_bins: the number of equal-width bins of the ECE.
        proportion_interval: the method of the proportions' intervals.
        auc_interval: the method of the AUC's interval.
        target_prevalence: the prevalence the PPV and NPV are at (`None`: the data's).
        groups: the patient (cluster) of each example, or `None`.
        methods: a description of each interval's method, by name.
        score: the raw scores the AUC and the average precision rank,
            float64, rank 1: the logits when the report was made with
            `from_logits=True` (a logit model), else `y_score` itself.
        from_logits: whether `score` holds logits.

    Example:

    >>> r = keras_binary.report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], n_bootstrap=200)
    >>> r.auc, r.tp, r.fp, r.sensitivity
    (0.75, 1.0, 1.0, 0.5)
    >>> low, high = r.auc_ci
    >>> 0.0 <= low <= high <= 1.0
    True
    """

    y_true: np.ndarray
    y_score: np.ndarray
    sample_weight: np.ndarray | None
    threshold: float
    name: str = "model"
    values: dict = dataclasses.field(default_factory=dict)
    intervals: dict = dataclasses.field(default_factory=dict)
    confidence: float = 0.95
    n_bootstrap: int = 0
    seed: int | None = 0
    num_bins: int = 15
    proportion_interval: str = "wilson"
    auc_interval: str = _report_intervals.DEFAULT_AUC_INTERVAL
    target_prevalence: float | None = None
    groups: np.ndarray | None = None
    methods: dict = dataclasses.field(default_factory=dict)
    score: np.ndarray | None = None
    from_logits: bool = False

    def __post_init__(self) -> None:
        if self.score is None:
            object.__setattr__(self, "score", self.y_score)

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not fields: the statistics.
        values = self.__dict__.get("values", {})
        intervals = self.__dict__.get("intervals", {})
        if name in values:
            return values[name]
        if name.endswith("_ci") and name[:-3] in _stats.WITH_INTERVAL:
            return intervals.get(name[:-3], (math.nan, math.nan))
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def to_dict(self) -> dict:
        """The report as plain floats, ints, strings and lists, ready for `json.dump`.

        Keys: `name`, `n`, `n_positive`, `n_negative`, `prevalence`,
        `threshold`, `tp`, `fp`, `tn`, `fn`, every statistic (`auc`,
        `average_precision`, `brier`, `ece`, `log_loss`, `sensitivity`,
        `specificity`, `ppv`, `npv`, `f1`, `mcc`, `balanced_accuracy`) and its
        interval `<name>_ci` as `[low, high]`, the interval settings
        (`confidence`, `n_bootstrap`, `seed`, `num_bins`,
        `proportion_interval`, `auc_interval`, `target_prevalence`,
        `n_groups`) and `interval_methods`, the method of each statistic's
        interval by name (e.g. `"logit DeLong"` for `"auc"`). An undefined
        value (NaN) is `None`, which JSON writes as `null`.

        Example:

        >>> import json
        >>> d = keras_binary.report([0, 1, 1], [0.2, 0.7, 0.4], n_bootstrap=0).to_dict()
        >>> d["auc"], d["tp"], d["auc_ci"]
        (1.0, 1.0, [None, None])
        >>> json.loads(json.dumps(d))["ppv"]
        1.0
        """
        out: dict[str, Any] = {"name": str(self.name)}
        for key in ("n", "n_positive", "n_negative"):
            out[key] = int(self.values[key])
        out["prevalence"] = _plain(self.values["prevalence"])
        out["threshold"] = float(self.threshold)
        for key in ("tp", "fp", "tn", "fn"):
            out[key] = _plain(self.values[key])
        for key in _stats.WITH_INTERVAL:
            out[key] = _plain(self.values[key])
            out[f"{key}_ci"] = [_plain(v) for v in self.intervals.get(key, (math.nan, math.nan))]
        out["confidence"] = float(self.confidence)
        out["n_bootstrap"] = int(self.n_bootstrap)
        out["seed"] = self.seed
        out["num_bins"] = int(self.num_bins)
        out["proportion_interval"] = self.proportion_interval
        out["auc_interval"] = self.auc_interval
        out["target_prevalence"] = self.target_prevalence
        out["n_groups"] = None if self.groups is None else int(np.unique(self.groups).size)
        out["interval_methods"] = dict(self.methods)
        return out

    def __str__(self) -> str:
        v = self.values
        level = f"{100 * self.confidence:g}%"
        lines = [
            f"BinaryReport {self.name!r}: {v['n']} examples, {v['n_positive']} positive, "
            f"{v['n_negative']} negative (prevalence {_fmt(v['prevalence'])})",
        ]
        lines.append(f"  {'':<22}{'value':>8}   {level} interval")
        for key in _stats.SCORES:
            lines.append(self._line(key))
        lines.append(f"At threshold {self.threshold:.4g} (a probability above it is a positive):")
        lines.append(
            f"  confusion matrix      tp={_count(v['tp'])}  fp={_count(v['fp'])}  "
            f"tn={_count(v['tn'])}  fn={_count(v['fn'])}"
        )
        for key in _stats.RATES + _stats.RATIOS:
            lines.append(self._line(key))
        if self.target_prevalence is not None:
            lines.append(f"PPV and NPV at the stated prevalence {self.target_prevalence:g} (Bayes' theorem).")
        if self.groups is not None:
            lines.append(f"Intervals account for {np.unique(self.groups).size} patients (groups).")
        lines.append(
            f"Intervals ({level}): {self.methods.get('auc', 'none')} for the AUC, "
            f"{self.methods.get('sensitivity', 'none')} for the proportions, "
            + (
                f"{self.methods.get('brier', 'bootstrap')} ({self.n_bootstrap} resamples, seed {self.seed}) "
                "for the rest."
                if self.n_bootstrap
                else "no bootstrap for the rest (n_bootstrap=0)."
            )
        )
        if any(isinstance(x, float) and math.isnan(x) for x in v.values()):
            lines.append("nan: undefined on these data (e.g. one class only, or no predicted positive).")
        return "\n".join(lines)

    def _line(self, key: str) -> str:
        text = f"  {_LABELS[key]:<22}{_fmt(self.values[key]):>8}"
        low, high = self.intervals.get(key, (math.nan, math.nan))
        if not (math.isnan(low) and math.isnan(high)):
            text += f"   [{_fmt(low)}, {_fmt(high)}]"
        return text

    def __repr__(self) -> str:
        return (
            f"BinaryReport(name={self.name!r}, n={self.values.get('n')}, auc={_fmt(self.values.get('auc'))}, "
            f"threshold={self.threshold:.4g}, sensitivity={_fmt(self.values.get('sensitivity'))}, "
            f"specificity={_fmt(self.values.get('specificity'))})"
        )

    def plot(self, out_dir: Any, *, compare: Any = None) -> dict[str, pathlib.Path]:
        """Writes the report's plots to `out_dir`; returns their paths by name.

        Delegates to `keras_binary.evaluation.plots.plot_report` (needs
        matplotlib, the `evaluate` extra).

        Args:
            out_dir: the folder to write to (created if needed).
            compare: another `BinaryReport`, or a list of them, drawn on the
                same ROC and PR axes.

        Returns:
            A dict from plot name to the path of its file.
        """
        from keras_binary.evaluation.plots import plot_report

        return plot_report(self, out_dir, compare=compare)

    # --- Clinical utility and calibration (issue 21 item 6); the math is in _clinical.py ---

    def net_benefit(self, thresholds: Any = None) -> dict[str, np.ndarray]:
        """Decision curve analysis: the net benefit of acting on the model at threshold probabilities.

        `NB(pt) = TP / n - FP / n * pt / (1 - pt)` (Vickers and Elkin 2006),
        an example treated when its probability is at least `pt` (as in the
        `dcurves` package), with the references "treat all"
        (`prevalence - (1 - prevalence) * pt / (1 - pt)`) and "treat none"
        (0). Intervals: Wald intervals of the mean per-example contribution at
        the report's `confidence` (the test set a random sample of the
        population). When the report was made with `prevalence=` (an
        enriched or case-control test set), net benefit is computed at that
        prevalence from the sensitivity and specificity at each threshold,
        `sens * prev - (1 - spec) * (1 - prev) * pt / (1 - pt)` (Vickers,
        Van Calster and Steyerberg 2016), and "treat all" is
        `prev - (1 - prev) * pt / (1 - pt)` (a known number: its interval
        has no width). With the report's `groups`, the intervals are
        cluster-robust (patients, not images, are the independent units).
        Weights are frequency weights.

        Args:
            thresholds: threshold probabilities in (0, 1); default
                `0.01, 0.02, ..., 0.99`.

        Returns:
            A dict of float64 arrays, one entry per threshold: `threshold`,
            `net_benefit`, `low`, `high`, `treat_all`, `treat_all_low`,
            `treat_all_high`, `treat_none`.

        Raises:
            BinaryConfigError: `KB375` for thresholds outside (0, 1).

        Example:

        >>> r = keras_binary.report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], n_bootstrap=0)
        >>> nb = r.net_benefit([0.5])
        >>> float(nb["net_benefit"][0]), float(nb["treat_all"][0])
        (0.0, 0.0)
        """
        from keras_binary.evaluation import _clinical

        t = _net_benefit_thresholds(thresholds)
        return _clinical.net_benefit(
            self.y_true,
            self.y_score,
            self.sample_weight,
            t,
            self.confidence,
            groups=self.groups,
            prevalence=self.target_prevalence,
        )

    def _calibration_fit(self, which: str) -> tuple[float, tuple[float, float]]:
        from keras_binary.evaluation import _clinical

        fit = _clinical.calibration_slope if which == "slope" else _clinical.calibration_intercept
        lp = _clinical.logit(self.y_score)
        return fit(self.y_true, lp, self.sample_weight, self.confidence, groups=self.groups)

    @property
    def calibration_slope(self) -> float:
        """The calibration slope `b` of `logit P(y=1) = a + b * logit(p)` (1 is perfect; < 1: too extreme).

        Logistic recalibration on the logit (Cox 1958; Van Calster et al.
        2016), by maximum likelihood; its Wald interval at the report's
        `confidence` is `calibration_slope_ci` (cluster-robust with the
        report's `groups`). Probabilities are clipped to
        `[1e-15, 1 - 1e-15]` before the logit. NaN when the fit has no finite
        maximum (e.g. complete separation) or with one class only.
        """
        return self._calibration_fit("slope")[0]

    @property
    def calibration_slope_ci(self) -> tuple[float, float]:
        """The Wald interval of `calibration_slope` (statsmodels' `Logit(...).conf_int()`)."""
        return self._calibration_fit("slope")[1]

    @property
    def calibration_intercept(self) -> float:
        """Calibration-in-the-large: `a` of `logit P(y=1) = a + logit(p)`, the logit an offset (0 is perfect).

        Above 0 the model underestimates the risk on average, below 0 it
        overestimates it (Van Calster et al. 2016; Steyerberg 2019, ch. 15:
        the intercept with the slope fixed at 1, not the intercept of the
        slope's fit). Its Wald interval is `calibration_intercept_ci`.
        """
        return self._calibration_fit("intercept")[0]

    @property
    def calibration_intercept_ci(self) -> tuple[float, float]:
        """The Wald interval of `calibration_intercept` (statsmodels' `GLM(..., offset=logit(p))`)."""
        return self._calibration_fit("intercept")[1]


def _net_benefit_thresholds(thresholds: Any) -> np.ndarray:
    """Threshold probabilities for `net_benefit`: default 0.01..0.99, else each in (0, 1) (`KB375`)."""
    if thresholds is None:
        return np.round(np.arange(1, 100) / 100, 2)
    try:
        t = np.asarray(thresholds, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        t = np.array([np.nan])
    if t.size == 0 or not np.all((t > 0) & (t < 1)):
        raise BinaryConfigError(
            "KB375",
            "net benefit needs threshold probabilities strictly between 0 and 1.",
            received=f"thresholds={thresholds!r}",
            expected="one or more numbers in (0, 1); pt / (1 - pt) is the odds of the harm of a false positive",
            fix="report.net_benefit([0.05, 0.1, 0.2])",
        )
    return t


def _plain(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(value: Any) -> str:
    if value is None:
        return "None"
    value = float(value)
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _check_bootstrap(n_bootstrap: Any, confidence: Any, num_bins: Any) -> None:
    def bad(received: str, expected: str, fix: str) -> BinaryConfigError:
        return BinaryConfigError(
            "KB363",
            "invalid bootstrap or binning settings for a report.",
            received=received,
            expected=expected,
            fix=fix,
        )

    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise bad(
            f"n_bootstrap={n_bootstrap!r}",
            "an int >= 0 (0: no intervals)",
            "keras_binary.report(y, p, n_bootstrap=1000)",
        )
    ok = isinstance(confidence, numbers.Real) and not isinstance(confidence, bool) and 0 < confidence < 1
    if not ok:
        raise bad(
            f"confidence={confidence!r}",
            "a level in (0, 1), e.g. 0.95",
            "keras_binary.report(y, p, confidence=0.95)",
        )
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 1:
        raise bad(f"num_bins={num_bins!r}", "an int >= 1", "keras_binary.report(y, p, num_bins=15)")


def _check_intervals(proportion_interval: Any, auc_interval: Any, prevalence: Any) -> None:
    for arg, value, allowed in (
        ("proportion_interval", proportion_interval, _report_intervals.PROPORTION_METHODS),
        ("auc_interval", auc_interval, _report_intervals.AUC_METHODS),
    ):
        if not (isinstance(value, str) and value in allowed):
            raise BinaryConfigError(
                "KB369",
                f"unknown interval method {arg}={value!r}.",
                received=f"{arg}={value!r}",
                expected=" or ".join(repr(a) for a in allowed),
                fix=f"keras_binary.report(y, p, {arg}={allowed[0]!r})",
            )
    if prevalence is None:
        return
    ok = isinstance(prevalence, numbers.Real) and not isinstance(prevalence, bool) and 0 < prevalence < 1
    if not ok:
        raise BinaryConfigError(
            "KB368",
            "the prevalence for the PPV and NPV must be a probability strictly between 0 and 1.",
            received=f"prevalence={prevalence!r}",
            expected="a float in (0, 1): the prevalence of the population the test is for, e.g. 0.02",
            fix="keras_binary.report(y, p, prevalence=0.02)",
        )


def _group_ids(groups: Any, n: int) -> tuple[np.ndarray, int] | None:
    """Cluster indices `0..k-1` of `groups` (one per example), or `None`."""
    if groups is None:
        return None
    g = _data.to_numpy(groups)
    if g.ndim == 2 and g.shape[1] == 1:
        g = g[:, 0]
    if g.ndim != 1 or g.shape[0] != n:
        raise BinaryConfigError(
            "KB367",
            "groups must hold one patient (cluster) id per example.",
            received=f"groups of shape {tuple(g.shape)} for {n} examples",
            expected=f"shape ({n},): the patient of each example, in the order of y_true",
            fix="keras_binary.report(y, p, groups=df['patient_id'].to_numpy())",
        )
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise BinaryConfigError(
            "KB367",
            "groups must hold one patient (cluster) id per example.",
            received=f"groups with {int(np.isnan(g).sum())} NaN ids",
            expected="a patient id for every example (NaN is not an id)",
            fix="keras_binary.report(y, p, groups=patient_ids)  # fill the missing ids",
        )
    _, ids = np.unique(g, return_inverse=True)
    ids = ids.reshape(-1).astype("int64")
    return ids, int(ids.max()) + 1 if n else 0


def _from_host(
    data: _data.HostData,
    *,
    threshold: float,
    n_bootstrap: int,
    confidence: float,
    seed: int | None,
    num_bins: int,
    name: str,
    proportion_interval: str = "wilson",
    auc_interval: str = _report_intervals.DEFAULT_AUC_INTERVAL,
    prevalence: float | None = None,
    groups: Any = None,
) -> BinaryReport:
    """Builds a report from canonical host data (see `report`)."""
    y, p, w = data.y_true, data.probability, data.sample_weight
    group_ids = _group_ids(groups, y.size)
    delong = None
    positive = y == 1
    if w is None and positive.any() and not positive.all() and auc_interval != "bootstrap":
        delong = _delong.delong_auc(positive, data.score)  # once, for the AUC and its interval
    values = _stats.point_estimates(y, p, w, threshold, num_bins, score=data.score, delong=delong)
    intervals, methods = _report_intervals.compute(
        data,
        values,
        threshold=threshold,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        num_bins=num_bins,
        proportion_interval=proportion_interval,
        auc_interval=auc_interval,
        prevalence=prevalence,
        groups=group_ids,
        delong=delong,
    )
    return BinaryReport(
        y_true=y,
        y_score=p,
        sample_weight=w,
        threshold=float(threshold),
        name=str(name),
        values=values,
        intervals=intervals,
        confidence=float(confidence),
        n_bootstrap=int(n_bootstrap),
        seed=seed,
        num_bins=int(num_bins),
        proportion_interval=proportion_interval,
        auc_interval=auc_interval,
        target_prevalence=None if prevalence is None else float(prevalence),
        groups=None if groups is None else _data.to_numpy(groups).reshape(-1),
        methods=methods,
        score=data.score,
        from_logits=bool(data.from_logits),
    )


def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model) or (hasattr(obj, "predict_on_batch") and hasattr(obj, "layers"))


def report(
    y_true: Any,
    y_pred: Any = None,
    y: Any = None,
    *,
    from_logits: bool | None = None,
    threshold: float | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    sample_weight: Any = None,
    num_bins: int = 15,
    name: str | None = None,
    batch_size: int | None = None,
    verbose: Any = "auto",
    proportion_interval: str = "wilson",
    auc_interval: str = _report_intervals.DEFAULT_AUC_INTERVAL,
    prevalence: float | None = None,
    groups: Any = None,
) -> BinaryReport:
    """Reports a binary classifier: exact ROC AUC, AP, calibration, and the confusion matrix at a threshold.

    Two forms: `report(y_true, y_pred)` for labels and predictions you
    have, and `report(model, x, y)` (or `report(model, dataset)` with a
    dataset of `(x, y)` or `(x, y, sample_weight)` batches), which predicts in
    batches with a progress bar (`verbose=0` turns it off).

    Predictions in any representation of the shape contract: probabilities or
    logits, one score per example or a softmax pair; labels `(N,)`, `(N, 1)`,
    one-hot `(N, 2)`, int, bool or float (use `keras_binary.encode_labels` for
    strings and other two-valued labels). Everything is computed in float64
    on the host.

    The report holds the exact ROC AUC and average precision (no
    bucketing; scikit-learn's `roc_auc_score` and `average_precision_score`),
    the Brier score, the ECE (the definition of `keras_binary.metrics.ECE`),
    the log loss and the prevalence; at the threshold (a probability above
    it is a positive), the weighted confusion matrix `tp`, `fp`, `tn`, `fn`
    with sensitivity, specificity, PPV, NPV, F1, MCC and balanced accuracy.
    Each statistic but the counts and the prevalence has an interval at
    `confidence`: the AUC by DeLong's variance on the logit scale
    (`auc_interval`), the proportions (sensitivity, specificity, PPV, NPV,
    accuracy) by Wilson's method (`proportion_interval`), LR+ and LR- by the
    log method, and the rest (AP, Brier, ECE, log loss, F1, MCC, balanced
    accuracy) by a stratified percentile bootstrap of `n_bootstrap`
    resamples, each drawing the positives and the negatives separately with
    replacement, seeded by `seed`. `BinaryReport.methods` names each
    statistic's method; docs/statistics.md gives their references and
    measured coverage. Undefined values (one class only, no predicted
    positive) are NaN.

    Args:
        y_true: the labels; or a `keras.Model` (then `y_pred` is `x`).
        y_pred: the predictions; or, with a model, its input `x` or a dataset.
        y: with a model and array inputs, the labels.
        from_logits: whether the predictions are logits. Default: `False`
            for arrays; for a model, read from its last layer (a
            `BinaryHead(activation=None)` or a linear `Dense` outputs logits).
        threshold: the decision threshold, a probability in [0, 1]. Default:
            the threshold stored in the model (`BinaryHead(threshold=...)`,
            e.g. from `keras_binary.select_threshold`), else `0.5`.
        n_bootstrap: the number of bootstrap resamples; `0` for no intervals.
        confidence: the level of the intervals.
        seed: the seed of the bootstrap (`None`: not reproducible).
        sample_weight: optional weights, one per example (array inputs).
        num_bins: the number of equal-width bins of the ECE.
        name: the model's name in plots and summaries (default: the model's
            name, or `"model"`).
        batch_size: the batch size for predicting array inputs (default 32).
        verbose: `0` hides the progress bar of a model's predictions.
        proportion_interval: `"wilson"` (default), `"exact"`
            (Clopper-Pearson) or `"bootstrap"`, for sensitivity,
            specificity, PPV, NPV and accuracy.
        auc_interval: `"logit-delong"` (default), `"delong"` (pROC's),
            `"newcombe"` (Newcombe 2006: better coverage with tens of
            positives and a high AUC when the positives' scores spread no
            more than the negatives', worse when they spread more; not
            with `groups`) or `"bootstrap"`. docs/statistics.md has their
            coverage by number of positives and AUC.
        prevalence: the target population's prevalence for the PPV, the NPV
            and the net benefit of an enriched (case-control) test set.
        groups: the patient (cluster) of each example; every interval then
            accounts for several examples per patient.

    Returns:
        A `BinaryReport`.

    Raises:
        BinaryShapeError: shapes no binary encoding explains (`KB1xx`).
        BinaryLabelError: bad values (`KB2xx`), e.g. soft labels (`KB214`).
        BinaryConfigError: bad settings (`KB361`, `KB363`), a model's data
            without labels (`KB365`), a model with several outputs (`KB366`),
            `auc_interval="newcombe"` with `groups` (`KB376`), or
            scikit-learn missing (`KB360`).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> logits = 2.0 * (y - 0.5) + rng.normal(size=500)
    >>> r = keras_binary.report(y, logits, from_logits=True, n_bootstrap=200)
    >>> round(r.auc, 3), r.auc_ci[0] < r.auc < r.auc_ci[1]
    (0.909, True)
    >>> int(r.tp + r.fn) == int(y.sum())
    True
    """
    _check_bootstrap(n_bootstrap, confidence, num_bins)
    _check_intervals(proportion_interval, auc_interval, prevalence)
    if auc_interval == "newcombe" and groups is not None:
        n_groups = int(np.unique(_data.to_numpy(groups)).size)
        raise BinaryConfigError(
            "KB376",
            "auc_interval='newcombe' treats every example as independent and cannot account for groups.",
            received=f"auc_interval='newcombe' with groups ({n_groups} patients)",
            expected="auc_interval='logit-delong' (clustered DeLong) or 'bootstrap' (cluster bootstrap) with groups",
            fix="keras_binary.report(y, p, groups=patient_ids, auc_interval='logit-delong')",
        )
    _check_threshold(threshold, "keras_binary.report")
    if _is_model(y_true):
        model = y_true
        info = _data.output_info(model)
        labels, preds, weights = _data.predict(
            model, y_pred, y, sample_weight=sample_weight, batch_size=batch_size, verbose=verbose
        )
        if from_logits is None:
            from_logits = bool(info.from_logits)
        if threshold is None:
            threshold = info.threshold
        sample_weight = weights
        name = name if name is not None else model.name
    else:
        labels, preds = y_true, y_pred
        if y is not None:
            raise BinaryConfigError(
                "KB301",
                "report(y_true, y_pred) takes a third positional argument only with a model.",
                received=f"y_true of type {type(y_true).__name__} and a third argument y",
                expected="report(y_true, y_pred) or report(model, x, y)",
                fix="keras_binary.report(y_true, y_pred, sample_weight=w)",
            )
    data = _data.canonical_numpy(labels, preds, from_logits=bool(from_logits), sample_weight=sample_weight)
    return _from_host(
        data,
        threshold=0.5 if threshold is None else float(threshold),
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        num_bins=num_bins,
        name="model" if name is None else name,
        proportion_interval=proportion_interval,
        auc_interval=auc_interval,
        prevalence=prevalence,
        groups=groups,
    )
