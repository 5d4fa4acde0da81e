"""`keras-binary report`: a saved model's report and figures (see `keras_binary.evaluation.cli_report`)."""

from __future__ import annotations

import argparse
from typing import IO

from keras_binary.cli._common import non_negative_int, require_keras

NEEDS_KERAS = True
HELP = "a saved model's ROC, precision-recall, confusion matrix and calibration on your data"
DESCRIPTION = (
    "Evaluates a saved .keras binary classifier on labelled data: exact AUC and average "
    "precision, Brier score, ECE and the confusion matrix at a threshold, each with a bootstrap "
    "confidence interval, and the figures (ROC with the operating point, precision-recall, "
    "confusion matrix, reliability diagram)."
)
EPILOG = """\
examples:
  keras-binary report model.keras --data test.npz
  keras-binary report model.keras --data test.npz --val-data val.npz --target-sensitivity 0.95
  keras-binary report model.keras --data test.npz --compare baseline.keras --out figures
  keras-binary report model.keras --data test.npz --json > report.json

Each .npz file holds arrays x (inputs) and y (labels, 0/1), and optionally
sample_weight, e.g. written with np.savez("test.npz", x=x_test, y=y_test).
Writes roc.png, pr.png, confusion.png, reliability.png, decision_curve.png and summary.json into
--out. Needs scikit-learn and matplotlib: pip install "keras-binary[evaluate]".

exit codes: 0 no error found, 1 diagnose found an error in the model or the
data (the report is still written), 2 bad usage (missing file, not a Keras
model, unreadable data).
"""


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.keras", help="the saved model (model.save('model.keras'))")
    parser.add_argument(
        "--data",
        required=True,
        metavar="DATA.npz",
        help="the evaluation data: an .npz file with arrays x and y",
    )
    parser.add_argument(
        "--out",
        default="report",
        metavar="DIR",
        help="folder for the figures and summary.json (default: report)",
    )
    parser.add_argument(
        "--threshold",
        type=_probability,
        metavar="P",
        help="the decision threshold (a probability); default: the model's own, else 0.5",
    )
    parser.add_argument(
        "--target-sensitivity",
        type=_probability,
        metavar="S",
        help="choose the threshold that reaches this sensitivity (on --val-data, else on --data)",
    )
    parser.add_argument(
        "--val-data",
        metavar="VAL.npz",
        help="validation data (arrays x and y) on which --target-sensitivity chooses the threshold",
    )
    parser.add_argument(
        "--compare",
        metavar="OTHER.keras",
        help="a second model: drawn on the same axes, and compared with paired tests "
        "(DeLong for the AUC, McNemar for sensitivity and specificity)",
    )
    parser.add_argument(
        "--n-bootstrap",
        type=non_negative_int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the intervals (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    require_keras(args.verbose)
    from keras_binary import _startup

    _startup.ensure_api()  # registers keras_binary's layers, losses and metrics for loading
    from keras_binary.evaluation import cli_report

    return cli_report.run(args, out, err)
