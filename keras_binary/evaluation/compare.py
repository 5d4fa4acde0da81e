"""`compare`: two models on one test set, with paired tests.

The AUC difference is the paired DeLong test (DeLong et al. 1988; pROC's
`roc.test(paired=TRUE, method="delong")`), from `_delong`. The differences
of sensitivity and of specificity at each model's threshold are paired
proportions: Newcombe's (1998) method-10 interval and the exact McNemar
p-value (see `_clinical`). With `groups` (several examples per patient), the
AUC uses Obuchowski's (1997) clustered DeLong and the proportions the
clustered ratio estimator with Durkalski's (2003) clustered McNemar test.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from keras_binary.errors import BinaryShapeError
from keras_binary.evaluation import _data
from keras_binary.evaluation._deps import require
from keras_binary.evaluation.threshold import check_confidence, json_value
from keras_binary.layers import _check_threshold


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Model A against model B on the same examples (`keras_binary.compare`).

    Every difference is A minus B. Intervals are `(low, high)` at level
    `confidence`.

    Attributes:
        n: the number of examples.
        n_positive: the number of positives.
        n_groups: the number of groups (patients), or `None` without `groups`.
        auc_a: model A's ROC AUC.
        auc_b: model B's ROC AUC.
        auc_difference: `auc_a - auc_b`.
        auc_difference_ci: its paired DeLong (Wald) interval.
        auc_z: the DeLong statistic, `auc_difference / sd`.
        auc_p_value: the two-sided p-value of the paired DeLong test.
        threshold_a: model A's decision threshold (a probability above it is a positive).
        threshold_b: model B's.
        sensitivity_a: model A's sensitivity at `threshold_a`.
        sensitivity_b: model B's sensitivity at `threshold_b`.
        sensitivity_difference: `sensitivity_a - sensitivity_b`.
        sensitivity_difference_ci: Newcombe's paired interval (clustered Wald with groups).
        sensitivity_p_value: exact McNemar p-value (clustered McNemar with groups).
        specificity_a: model A's specificity.
        specificity_b: model B's specificity.
        specificity_difference: `specificity_a - specificity_b`.
        specificity_difference_ci: as for the sensitivity.
        specificity_p_value: as for the sensitivity.
        confidence: the level of the intervals.
        names: the two models' names.

    Example:

    >>> y = [0, 0, 0, 1, 1, 1]
    >>> c = keras_binary.compare(y, [0.1, 0.5, 0.3, 0.6, 0.4, 0.9], [0.2, 0.1, 0.3, 0.6, 0.7, 0.9])
    >>> round(c.auc_difference, 4), c.sensitivity_difference
    (-0.1111, -0.33333333333333337)
    """

    n: int
    n_positive: int
    n_groups: int | None
    auc_a: float
    auc_b: float
    auc_difference: float
    auc_difference_ci: tuple[float, float]
    auc_z: float
    auc_p_value: float
    threshold_a: float
    threshold_b: float
    sensitivity_a: float
    sensitivity_b: float
    sensitivity_difference: float
    sensitivity_difference_ci: tuple[float, float]
    sensitivity_p_value: float
    specificity_a: float
    specificity_b: float
    specificity_difference: float
    specificity_difference_ci: tuple[float, float]
    specificity_p_value: float
    confidence: float = 0.95
    names: tuple[str, str] = ("a", "b")

    def to_dict(self) -> dict:
        """The comparison as plain Python values (NaN as `None`, intervals as lists), ready for JSON."""
        return {k: json_value(v) for k, v in dataclasses.asdict(self).items()}

    def __str__(self) -> str:
        a, b = self.names
        level = f"{100 * self.confidence:g}%"
        patients = "" if self.n_groups is None else f", {self.n_groups} groups"
        rows = [
            f"Comparison {a!r} - {b!r}: {self.n} examples, {self.n_positive} positive{patients}",
            f"  {'':<13}{a[:10]:>10}{b[:10]:>10}{'difference':>12}   {level} interval      p-value",
        ]
        for key, label in (
            ("auc", "ROC AUC"),
            ("sensitivity", "Sensitivity"),
            ("specificity", "Specificity"),
        ):
            diff = getattr(self, f"{key}_difference")
            low, high = getattr(self, f"{key}_difference_ci")
            p = getattr(self, f"{key}_p_value")
            rows.append(
                f"  {label:<13}{getattr(self, key + '_a'):>10.4f}{getattr(self, key + '_b'):>10.4f}"
                f"{diff:>+12.4f}   [{low:+.4f}, {high:+.4f}]   {p:.4g}"
            )
        clustered = self.n_groups is not None
        rows.append(
            "AUC: paired DeLong test"
            + (" for clustered data (Obuchowski 1997)" if clustered else " (pROC's roc.test(paired=TRUE))")
            + f"; rates at thresholds {self.threshold_a:.4g} and {self.threshold_b:.4g}: "
            + (
                "clustered Wald interval, clustered McNemar (Durkalski 2003)."
                if clustered
                else "Newcombe's paired interval, exact McNemar test."
            )
        )
        return "\n".join(rows)


def _length(x: Any) -> int | None:
    shape = np.shape(_data.to_numpy(x))
    return int(shape[0]) if shape else None


def _check_lengths(y_true: Any, y_pred_a: Any, y_pred_b: Any, groups: Any) -> None:
    ny, na, nb = _length(y_true), _length(y_pred_a), _length(y_pred_b)
    if na != nb or ny != na:
        raise BinaryShapeError(
            "KB143",
            "compare needs the two models' predictions for the same examples, with one label each.",
            received=f"{ny} labels, {na} predictions of model A, {nb} of model B",
            expected="the same number of labels and of predictions of each model, in the same order",
            fix="keras_binary.compare(y_test, model_a.predict(x_test), model_b.predict(x_test))",
        )
    if groups is not None and _length(groups) != ny:
        raise BinaryShapeError(
            "KB144",
            "compare needs one group (patient) id per example.",
            received=f"{_length(groups)} group ids for {ny} examples",
            expected=f"groups of length {ny}, e.g. the patient id of each image",
            fix="keras_binary.compare(y_test, p_a, p_b, groups=patient_ids)",
        )


def _paired_rate(correct_a, correct_b, ids, confidence):
    """Rate of A, rate of B, difference, interval, p-value of paired 0/1 outcomes."""
    from keras_binary.evaluation import _clinical

    if correct_a.size == 0:
        return math.nan, math.nan, math.nan, (math.nan, math.nan), math.nan
    rate_a, rate_b = float(np.mean(correct_a)), float(np.mean(correct_b))
    if ids is not None:
        diff, ci, p = _clinical.clustered_paired_difference(correct_a, correct_b, ids, confidence)
        return rate_a, rate_b, diff, ci, p
    both = float(np.sum(correct_a * correct_b))
    only_a = float(np.sum(correct_a * (1 - correct_b)))
    only_b = float(np.sum((1 - correct_a) * correct_b))
    neither = float(correct_a.size) - both - only_a - only_b
    diff, ci = _clinical.newcombe_paired_difference(both, only_a, only_b, neither, confidence)
    return rate_a, rate_b, diff, ci, _clinical.mcnemar_exact(only_a, only_b)


def compare(
    y_true: Any,
    y_pred_a: Any,
    y_pred_b: Any,
    *,
    groups: Any = None,
    threshold_a: float = 0.5,
    threshold_b: float = 0.5,
    from_logits: bool = False,
    confidence: float = 0.95,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """Compares two models on one test set: AUC, sensitivity and specificity, with paired tests.

    Non-overlapping intervals are a poor test of "A is better than B": the
    two models are measured on the same examples, so their errors are
    correlated, and a paired test is far more powerful. The AUC difference
    has the paired DeLong test (equal to pROC's `roc.test(paired=TRUE,
    method="delong")`: statistic, p-value and interval). The sensitivity and
    specificity differences at each model's threshold have Newcombe's (1998,
    method 10) interval for paired proportions and the exact McNemar
    p-value (a binomial test on the discordant pairs: valid at every sample
    size). With `groups` (e.g. patient ids, several images per patient) the
    AUC uses the clustered DeLong (Obuchowski 1997) and the rates the
    clustered ratio estimator (Obuchowski 1998) with the clustered McNemar
    test (Durkalski et al. 2003).

    The ranking uses the raw scores (the logits with `from_logits=True`).

    Args:
        y_true: the labels, in any encoding of the shape contract.
        y_pred_a: model A's predictions (probabilities, logits or softmax pairs).
        y_pred_b: model B's predictions for the same examples.
        groups: optional cluster id (patient) per example.
        threshold_a: model A's decision threshold, a probability (`None`: 0.5).
        threshold_b: model B's.
        from_logits: whether both predictions are logits.
        confidence: the level of the intervals, in (0, 1).
        names: the two models' names, for `str(comparison)`.

    Returns:
        A `Comparison`; every difference is A minus B.

    Raises:
        BinaryShapeError: `KB143` for predictions or labels of different
            lengths, `KB144` for `groups` of another length.
        BinaryLabelError: `KB215` with one class only.
        BinaryConfigError: `KB361` for a bad threshold, `KB373` for a
            confidence outside (0, 1).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> weak, strong = y + rng.normal(0, 1.5, 300), y + rng.normal(0, 0.7, 300)
    >>> c = keras_binary.compare(y, strong, weak, from_logits=True, threshold_a=0.6, threshold_b=0.6)
    >>> c.auc_difference > 0, c.auc_p_value < 0.05
    (True, True)
    """
    check_confidence(confidence, "compare", "keras_binary.compare(y, p_a, p_b, confidence=0.95)")
    _check_threshold(threshold_a, "keras_binary.compare")
    _check_threshold(threshold_b, "keras_binary.compare")
    threshold_a = 0.5 if threshold_a is None else float(threshold_a)
    threshold_b = 0.5 if threshold_b is None else float(threshold_b)
    _check_lengths(y_true, y_pred_a, y_pred_b, groups)
    a = _data.canonical_numpy(y_true, y_pred_a, from_logits=bool(from_logits))
    b = _data.canonical_numpy(y_true, y_pred_b, from_logits=bool(from_logits))
    return compare_host(
        a,
        b,
        groups=groups,
        threshold_a=threshold_a,
        threshold_b=threshold_b,
        confidence=confidence,
        names=names,
    )


def compare_host(
    a: _data.HostData,
    b: _data.HostData,
    *,
    groups: Any = None,
    threshold_a: float = 0.5,
    threshold_b: float = 0.5,
    confidence: float = 0.95,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """`compare` on canonical host data, each model with its own raw scores.

    The AUCs rank `a.score` and `b.score` as they are (a logit for a model
    with logits, a probability otherwise), so one model may give logits and
    the other probabilities; the thresholds apply to `.probability`. Used by
    `keras-binary report --compare`, whose two reports keep their raw scores.
    The labels are `a.y_true` (`b.y_true` must be the same).

    Args:
        a: model A's `HostData` (`_data.canonical_numpy`).
        b: model B's, for the same examples.
        groups, threshold_a, threshold_b, confidence, names: as in `compare`.

    Returns:
        A `Comparison`.

    Example:

    >>> from keras_binary.evaluation import _data
    >>> y = [0, 0, 1, 1]
    >>> a = _data.canonical_numpy(y, [-50.0, -40.0, 40.0, 45.0], from_logits=True)
    >>> b = _data.canonical_numpy(y, [0.2, 0.6, 0.4, 0.9])
    >>> c = compare_host(a, b)
    >>> c.auc_a, c.auc_b
    (1.0, 0.75)
    """
    require("scipy.stats", "keras_binary.compare")
    from keras_binary.evaluation import _delong

    _check_lengths(a.y_true, a.score, b.score, groups)
    y = a.y_true
    _data.require_both_classes(y, np.ones_like(y), "comparing two models")
    ids = None
    if groups is None:
        paired = _delong.delong_paired(y, a.score, b.score)
    else:
        ids = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1]
        paired = _delong.clustered_paired(y, a.score, b.score, ids)
    auc_ci = _delong.difference_ci(paired.difference, paired.variance, confidence)
    z = paired.difference / math.sqrt(paired.variance) if paired.variance > 0 else math.nan
    pos = y == 1
    hit_a = (a.probability > threshold_a).astype("float64")
    hit_b = (b.probability > threshold_b).astype("float64")
    sens = _paired_rate(hit_a[pos], hit_b[pos], None if ids is None else ids[pos], confidence)
    spec = _paired_rate(1 - hit_a[~pos], 1 - hit_b[~pos], None if ids is None else ids[~pos], confidence)
    return Comparison(
        n=int(y.size),
        n_positive=int(pos.sum()),
        n_groups=None if ids is None else int(ids.max()) + 1,
        auc_a=float(paired.auc_a),
        auc_b=float(paired.auc_b),
        auc_difference=float(paired.difference),
        auc_difference_ci=auc_ci,
        auc_z=float(z),
        auc_p_value=_delong.difference_p_value(paired.difference, paired.variance),
        threshold_a=float(threshold_a),
        threshold_b=float(threshold_b),
        sensitivity_a=sens[0],
        sensitivity_b=sens[1],
        sensitivity_difference=sens[2],
        sensitivity_difference_ci=sens[3],
        sensitivity_p_value=sens[4],
        specificity_a=spec[0],
        specificity_b=spec[1],
        specificity_difference=spec[2],
        specificity_difference_ci=spec[3],
        specificity_p_value=spec[4],
        confidence=float(confidence),
        names=(str(names[0]), str(names[1])),
    )
