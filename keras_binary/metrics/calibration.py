"""Calibration metrics: expected calibration error over equal-width bins."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_binary.metrics._base import (
    ContractMetric,
    _check_count,
    _register,
)

# ---------------------------------------------------------------------------
# Calibration.


@_register
class ECE(ContractMetric, keras.metrics.Metric):
    """Expected calibration error of the positive-class probability, equal-width bins.

    The probabilities `p` are put in `num_bins` bins of width
    `1 / num_bins` (bin `b` holds `b / num_bins <= p < (b + 1) / num_bins`,
    the last bin also holds `p = 1`). For each bin the metric keeps the
    weighted count, the sum of `p` and the sum of the labels; then

    `ECE = sum_b |sum of labels in b - sum of p in b| / total weight`,

    that is `sum_b (n_b / n) |mean label_b - mean p_b|`: the calibration
    gap of the positive class, the quantity a reliability diagram shows for
    a binary classifier. `0` with no examples. A perfectly calibrated model
    has an ECE near `0`.

    Args:
        num_bins: int `>= 1`, the number of equal-width bins.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` to pool the `N * K` outputs of `(N, K)`
            predictions.
        validate: check label and prediction values (`KB2xx` errors).
        name: the metric's name.
        dtype: the dtype of the metric's state and result.

    Example:

    >>> m = ECE(num_bins=2)
    >>> m.update_state(np.array([0, 1, 1, 1]), np.array([0.2, 0.3, 0.7, 0.9]))
    >>> round(float(m.result()), 4)
    0.225
    """

    def __init__(
        self,
        num_bins: int = 15,
        from_logits: bool = False,
        multi_label: bool = False,
        validate: bool = True,
        name: str = "ece",
        dtype: Any = None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.num_bins = _check_count("num_bins", num_bins, 1, 15)
        self._init_contract(from_logits, multi_label, validate)
        self._direction = "down"
        shape = (self.num_bins,)
        self.bin_weights = self.add_variable(shape=shape, initializer="zeros", name="bin_weights")
        self.bin_probabilities = self.add_variable(shape=shape, initializer="zeros", name="bin_probabilities")
        self.bin_labels = self.add_variable(shape=shape, initializer="zeros", name="bin_labels")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y, p, w = self._prepare(y_true, y_pred, sample_weight)
        w = ops.ones_like(p) if w is None else w
        bins = ops.clip(ops.cast(ops.floor(p * self.num_bins), "int32"), 0, self.num_bins - 1)
        one_hot = ops.one_hot(bins, self.num_bins, dtype=self.dtype)  # (M, num_bins)
        sums = ops.matmul(ops.stack([w, w * p, w * y]), one_hot)  # (3, num_bins)
        self.bin_weights.assign_add(sums[0])
        self.bin_probabilities.assign_add(sums[1])
        self.bin_labels.assign_add(sums[2])

    def reset_state(self) -> None:
        for variable in (self.bin_weights, self.bin_probabilities, self.bin_labels):
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def result(self) -> Any:
        gap = ops.sum(ops.abs(self.bin_labels - self.bin_probabilities))
        return ops.divide_no_nan(gap, ops.sum(self.bin_weights))

    def _settings(self) -> dict:
        return {"num_bins": self.num_bins}
