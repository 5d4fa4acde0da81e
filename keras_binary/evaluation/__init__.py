"""The step after `fit`: a report, an operating point, calibration, label encoding.

- `report`: exact ROC AUC, average precision, Brier, ECE, log loss and the
  confusion matrix at a threshold, each with a stratified bootstrap interval;
- `select_threshold`: an operating point (Youden, a target sensitivity or
  specificity, F1, or costs), stored in the model with
  `BinaryHead(threshold=...)` and applied by `predict_classes`;
- `calibrate`: temperature scaling in logit space, as a serializable
  `TemperatureScaling` layer;
- `compare`: two models on one test set, with paired tests (DeLong, McNemar);
- `encode_labels`: two-valued labels to 0/1 with an explicit positive class.

scikit-learn (and matplotlib, for the plots) are imported only when needed:
`pip install "keras-binary[evaluate]"`; without them these raise `KB360`.
"""

from keras_binary.evaluation.calibration import Calibration, TemperatureScaling, calibrate
from keras_binary.evaluation.compare import Comparison, compare
from keras_binary.evaluation.labels import encode_labels
from keras_binary.evaluation.report import BinaryReport, report
from keras_binary.evaluation.threshold import OperatingPoint, predict_classes, select_threshold

__all__ = [
    "BinaryReport",
    "Calibration",
    "Comparison",
    "OperatingPoint",
    "TemperatureScaling",
    "calibrate",
    "compare",
    "encode_labels",
    "predict_classes",
    "report",
    "select_threshold",
]
