"""Binary metrics that follow the shape contract.

Every metric accepts what `SafeBCE` accepts: one probability or logit per
example (`(N, 1)` or `(N,)`), a 2-unit softmax pair of probabilities or of
logits (`(N, 2)`), leading axes beyond the batch (per-pixel outputs), and
labels `(N,)`, `(N, 1)`, one-hot `(N, 2)`, int, bool or float. The inputs go
through `keras_binary._contract.canonical_pair` first, so a metric gives the
same value for every representation of the same predictions.

What happens then:

- Keras has the metric (`BinaryAccuracy`, `Precision`, `Recall`, `AUC`,
  `SensitivityAtSpecificity`, `SpecificityAtSensitivity`,
  `PrecisionAtRecall`, `RecallAtPrecision`, `BinaryCrossentropy`): the class
  here subclasses Keras's and feeds it canonical `(M, 1)` probabilities (the
  sigmoid of the logit when `from_logits=True`), so its variables, its
  `result()` and its behaviour in `compile`, in the stateless JAX API and in
  distribution strategies are Keras's own.
- Keras lacks it, or needs a `(N, num_classes)` layout (`F1Score`,
  `FBetaScore`, `MatthewsCorrelation`, `BalancedAccuracy`, `Specificity`):
  four weighted confusion-matrix sums (`true_positives`, `false_positives`,
  `true_negatives`, `false_negatives`) at one `threshold`.
- `ECE`: three sums per equal-width probability bin.

Soft labels `y` in [0, 1] count as `y` of a positive example and `1 - y` of
a negative one (the expected confusion matrix); for 0/1 labels this is the
usual count. Keras's own confusion metrics would cast a soft label to `True`.

A prediction is positive when its probability is strictly greater than
`threshold`, as in Keras; thresholds are always probabilities, also with
`from_logits=True` (a threshold outside (0, 1) there is `KB328`). A result
that is undefined on the data seen (precision without positive predictions,
AUC with one class, ...) is NaN with an `UndefinedMetricWarning` (`KB290`),
never a plausible-looking 0. Keras's arguments keep Keras's meaning; the
deliberate differences are one table in docs/keras-compatibility.md. With `validate=True` (the default), labels outside
[0, 1], NaN, probabilities outside [0, 1] and softmax pairs that do not sum
to 1 raise the coded `BinaryLabelError`s of the losses (`KB201`-`KB207`): a
metric computed from labels in `{1, 2}` or from logits thresholded at 0.5 is
silently wrong. The check costs a dozen reductions per update;
`validate=False` skips it.
"""

from keras_binary.errors import UndefinedMetricWarning  # noqa: F401  (the KB290 warning)
from keras_binary.metrics._base import ContractMetric  # noqa: F401  (base class, for subclassing)
from keras_binary.metrics.calibration import ECE
from keras_binary.metrics.confusion import (
    BalancedAccuracy,
    ConfusionMatrixMetric,  # noqa: F401  (base class, for subclassing)
    F1Score,
    FBetaScore,
    MatthewsCorrelation,
    Specificity,
)
from keras_binary.metrics.keras_backed import (
    AUC,
    BinaryAccuracy,
    BinaryCrossentropy,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)

__all__ = [
    "AUC",
    "ECE",
    "BalancedAccuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "F1Score",
    "FBetaScore",
    "MatthewsCorrelation",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "Specificity",
    "SpecificityAtSensitivity",
]
