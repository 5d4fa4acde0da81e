"""`report`: a binary classifier's scores summarised, with bootstrap intervals."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class BinaryReport:
    """What `keras_binary.report` measured (skeleton; filled in by part A).

    Attributes:
        y_true: canonical 0/1 labels, float64, rank 1.
        y_score: positive-class probabilities, float64, rank 1.
        sample_weight: per-example weights, float64, rank 1, or `None`.
        threshold: the decision threshold (a probability).
        name: a name for legends.
    """

    y_true: np.ndarray
    y_score: np.ndarray
    sample_weight: np.ndarray | None
    threshold: float
    name: str = "model"
    metrics: dict = dataclasses.field(default_factory=dict)
    intervals: dict = dataclasses.field(default_factory=dict)

    def plot(self, out_dir: Any, *, compare: Any = None) -> dict[str, pathlib.Path]:
        """Writes the report's plots to `out_dir`; returns their paths by name."""
        from keras_binary.evaluation.plots import plot_report

        return plot_report(self, out_dir, compare=compare)


def report(*args: Any, **kwargs: Any) -> BinaryReport:
    """Skeleton: see the final version."""
    raise NotImplementedError
