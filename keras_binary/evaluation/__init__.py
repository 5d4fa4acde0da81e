"""The step after `fit`: a report, an operating point and calibration.

- `report`: exact ROC AUC, average precision, Brier, ECE, log loss and the
  confusion matrix at a threshold, each with a stratified bootstrap interval;
- `select_threshold`: an operating point (Youden, a target sensitivity or
  specificity, F1, or costs);
- `calibrate`: temperature scaling in logit space, as a serializable layer;
- `encode_labels`: two-valued labels to 0/1 with an explicit positive class.

scikit-learn (and matplotlib, for the plots) are imported only when needed:
`pip install "keras-binary[evaluate]"`.
"""

from keras_binary.evaluation.report import BinaryReport, report

__all__ = ["BinaryReport", "report"]
