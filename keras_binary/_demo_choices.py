"""The `keras-binary demo`'s datasets, backbones and defaults (no Keras import: the CLI's help reads them)."""

from __future__ import annotations

from typing import Any

DATASETS = ("digits", "breast_cancer")
BACKBONES = {"digits": ("cnn", "mlp", "mobilenetv2"), "breast_cancer": ("mlp",)}

# Per dataset: default backbone, epochs of the binary training, epochs of
# the pre-training, batch size.
DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"backbone": "cnn", "epochs": 8, "pretrain_epochs": 6, "batch_size": 16},
    "breast_cancer": {"backbone": "mlp", "epochs": 40, "pretrain_epochs": 0, "batch_size": 32},
}
