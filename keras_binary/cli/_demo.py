"""`keras-binary demo`: transfer learning end to end (see `keras_binary.demo`)."""

from __future__ import annotations

import argparse
from typing import IO

from keras_binary._demo_choices import BACKBONES, DATASETS, DEFAULTS
from keras_binary.cli._common import EXIT_OK, UsageError, positive_int, require_keras

NEEDS_KERAS = True
HELP = "transfer learning end to end on data shipped with scikit-learn"
DESCRIPTION = (
    "Pre-trains a small backbone on a multi-class task, diagnoses the naive model "
    "(the classifier top left on), replaces the top with BinaryHead, trains with SafeBCE, "
    "calibrates on validation data, chooses the threshold for a target sensitivity on validation "
    "data, and reports it on held-out data with bootstrap intervals."
)
EPILOG = """\
examples:
  keras-binary demo                                  digits, small CNN, figures in ./out
  keras-binary demo --out results --epochs 12
  keras-binary demo --backbone mobilenetv2           keras.applications.MobileNetV2 (a few minutes)
  keras-binary demo --dataset breast_cancer          tabular medical data, an MLP

Writes roc.png, pr.png, confusion.png, reliability.png and summary.json into --out. Needs
scikit-learn and matplotlib: pip install "keras-binary[evaluate]".
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default="out", metavar="DIR", help="folder for the figures and summary (default: out)"
    )
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits")
    backbones = sorted({b for names in BACKBONES.values() for b in names})
    parser.add_argument(
        "--backbone",
        choices=backbones,
        metavar="NAME",
        help=f"one of {', '.join(backbones)}; default: "
        + ", ".join(f"{d['backbone']} for {name}" for name, d in DEFAULTS.items()),
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="epochs of the binary training; default: "
        + ", ".join(f"{d['epochs']} for {name}" for name, d in DEFAULTS.items()),
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=positive_int,
        metavar="N",
        help=f"epochs of the backbone's pre-training (digits; default {DEFAULTS['digits']['pretrain_epochs']}, "
        "15 for mobilenetv2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    require_keras(args.verbose)
    from keras_binary.demo import DemoDependencyError, run_demo

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        run_demo(
            out_dir=args.out,
            dataset=args.dataset,
            backbone=args.backbone,
            epochs=args.epochs,
            pretrain_epochs=args.pretrain_epochs,
            seed=args.seed,
            verbose=0 if args.quiet else 1,
            print_fn=say,
        )
    except (DemoDependencyError, ValueError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write into {args.out!r}: {error}") from None
    return EXIT_OK
