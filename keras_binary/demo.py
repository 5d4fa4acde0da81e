"""The `keras-binary demo`: transfer learning for a binary task, end to end.

Everything runs on data that ships with scikit-learn (no downloads):

- `digits` (the default): a small backbone is pre-trained on a multi-class
  task, recognising the handwritten digits 0-7 and 9 (9 classes); the binary
  task is a class the backbone never saw: "is it an 8?" (about 10 % of the
  images). The demo first builds the naive model, a `Dense(1, "sigmoid")`
  stacked on the pre-trained classifier with its 9-way softmax left on,
  prints what `keras_binary.diagnose` finds in it and what it scores; then it
  replaces the top with `BinaryHead`, trains with `SafeBCE` and the metric
  pack, and reports accuracy, AUC, MCC and the calibration error (ECE) on
  held-out images that no training step saw.
- `breast_cancer`: the Wisconsin breast-cancer data (569 patients, 30
  features; positive = malignant), an MLP with `BinaryHead`; the naive model
  ends with `Dense(1, activation="softmax")` and `categorical_crossentropy`.

Files written into the output folder: `roc.png` (ROC curve), `reliability.png`
(reliability diagram) and `summary.json` (the figures). scikit-learn and
matplotlib are needed: `pip install "keras-binary[evaluate]"` (`demo` is an
alias of that extra).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_binary._demo_choices import BACKBONES, DATASETS, DEFAULTS

__all__ = ["DEFAULTS", "DemoResult", "run_demo"]

# The keras.applications backbone is trained from scratch (weights=None): it
# needs a longer pre-training and a gentler fine-tuning than the small CNN.
BACKBONE_DEFAULTS: dict[str, dict[str, Any]] = {
    "mobilenetv2": {"pretrain_epochs": 15, "fine_tune_divisor": 30}
}
FINE_TUNE_DIVISOR = 3  # phase 2 learning rate = phase 1 learning rate / this

POSITIVE_DIGIT = 8
NAIVE_EPOCHS = 8  # the naive model is trained at most this long, to show what it scores
_RELIABILITY_BINS = 10


class DemoResult(NamedTuple):
    """What `run_demo` returns.

    Attributes:
        summary: the content of `summary.json`.
        y_true: the held-out labels (0/1).
        y_prob: the fixed model's held-out probabilities of the positive class.

    Example:

    >>> result = DemoResult({"metrics": {"auc": 1.0}}, np.array([0, 1]), np.array([0.2, 0.9]))
    >>> result.summary["metrics"]["auc"], roc_points(result.y_true, result.y_prob)[1].tolist()
    (1.0, [0.0, 1.0, 1.0])
    """

    summary: dict
    y_true: np.ndarray
    y_prob: np.ndarray


class DemoDependencyError(ImportError):
    """scikit-learn or matplotlib is missing."""


def _require() -> tuple[Any, Any]:
    try:
        import sklearn.datasets  # noqa: F401
        import sklearn.model_selection  # noqa: F401
    except ImportError as error:
        raise DemoDependencyError(
            f"the demo needs scikit-learn ({error}); install it with: pip install 'keras-binary[evaluate]'"
        ) from None
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise DemoDependencyError(
            f"the demo needs matplotlib ({error}); install it with: pip install 'keras-binary[evaluate]'"
        ) from None
    return sklearn, plt


# ---------------------------------------------------------------------------
# Data.


class _Data(NamedTuple):
    x_pre: np.ndarray | None  # pre-training inputs (source task), or None
    y_pre: np.ndarray | None  # their class ids
    n_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str


def _digits(seed: int) -> _Data:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]  # (1797, 8, 8, 1) in [0, 1]
    target = digits.target
    index = np.arange(len(x))
    # 40 % of the images pre-train the backbone (the "ImageNet" of the demo);
    # the rest, disjoint from it, is split in two for the binary task.
    pre, rest = train_test_split(index, test_size=0.6, stratify=target, random_state=seed)
    train, test = train_test_split(rest, test_size=0.5, stratify=target[rest], random_state=seed)
    pre = pre[target[pre] != POSITIVE_DIGIT]  # the backbone never sees the positive class
    source_classes = [c for c in range(10) if c != POSITIVE_DIGIT]
    y_pre = np.searchsorted(source_classes, target[pre])
    binary = (target == POSITIVE_DIGIT).astype("float32")
    task = (
        f"digit {POSITIVE_DIGIT} vs the rest; backbone pre-trained on the {len(source_classes)} other digits "
        "(a class it never saw)"
    )
    return _Data(x[pre], y_pre, len(source_classes), x[train], binary[train], x[test], binary[test], task)


def _breast_cancer(seed: int) -> _Data:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    x = data.data.astype("float32")
    y = (data.target == 0).astype("float32")  # 0 is "malignant" in scikit-learn: make it the positive class
    train, test = train_test_split(np.arange(len(x)), test_size=0.3, stratify=y, random_state=seed)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6  # statistics of the training split only
    x = (x - mean) / std
    return _Data(
        None, None, 0, x[train], y[train], x[test], y[test], "malignant vs benign tumour (30 features)"
    )


# ---------------------------------------------------------------------------
# Models.


def _backbone(kind: str, n_classes: int) -> tuple[keras.Model, keras.Model, Callable[[Any], Any]]:
    """`(backbone, classifier, front)`: the classifier is the backbone with its top."""
    layers = keras.layers
    if kind == "mobilenetv2":
        classifier = keras.applications.MobileNetV2(
            input_shape=(32, 32, 3), alpha=0.35, weights=None, include_top=True, classes=n_classes
        )
        for layer in classifier.layers:
            if isinstance(layer, layers.BatchNormalization):
                # Keras's 0.999 suits ImageNet; a few hundred steps on digits need faster statistics.
                layer.momentum = 0.9
        backbone = keras.Model(
            classifier.inputs, classifier.get_layer("out_relu").output, name="mobilenetv2_0.35_32_features"
        )

        def front(inputs: Any) -> Any:
            # 8x8 grey digits in [0, 1] -> 32x32 RGB in [-1, 1], as MobileNetV2 expects.
            h = layers.Resizing(32, 32, name="upsample")(inputs)
            h = layers.Concatenate(name="to_rgb")([h, h, h])
            return layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(h)

        return backbone, classifier, front
    if kind == "cnn":
        inputs = keras.Input((8, 8, 1))
        h = inputs
        for i, filters in enumerate((32, 64)):
            h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(h)
            h = layers.BatchNormalization(name=f"bn{i}")(h)
            h = layers.ReLU(name=f"relu{i}")(h)
            if i == 0:
                h = layers.MaxPooling2D(2, name="pool0")(h)
        backbone = keras.Model(inputs, h, name="digits_cnn")  # (N, 4, 4, 64) feature maps
        pooled = layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    elif kind == "mlp":
        inputs = keras.Input((8, 8, 1))
        h = layers.Flatten(name="flatten")(inputs)
        h = layers.Dense(128, activation="relu", name="fc0")(h)
        h = layers.Dense(64, activation="relu", name="fc1")(h)
        backbone = keras.Model(inputs, h, name="digits_mlp")
        pooled = backbone.output
    else:
        raise ValueError(f"unknown backbone {kind!r}")
    outputs = layers.Dense(n_classes, activation="softmax", name="predictions")(pooled)
    classifier = keras.Model(backbone.inputs, outputs, name=f"{backbone.name}_classifier")
    return backbone, classifier, lambda inputs: inputs


def _metric_pack() -> list[keras.metrics.Metric]:
    from keras_binary import metrics

    return [
        metrics.BinaryAccuracy(name="accuracy"),
        metrics.AUC(name="auc"),
        metrics.MatthewsCorrelation(name="mcc"),
        metrics.ECE(num_bins=_RELIABILITY_BINS, name="ece"),
    ]


def _held_out_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from keras_binary import metrics

    pack = _metric_pack()
    # On held-out data the AUC is exact: one threshold per distinct score
    # (trapezoids between them), not 200 evenly spaced ones.
    thresholds = np.unique(np.clip(p, 0.0, 1.0)).tolist()
    pack[1] = metrics.AUC(thresholds=thresholds, name="auc")
    result = {}
    for metric in pack:
        metric.update_state(y, p)
        result[metric.name] = float(keras.ops.convert_to_numpy(metric.result()))
    return result


# ---------------------------------------------------------------------------
# Figures.


def roc_points(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve: false and true positive rates at every distinct threshold.

    Args:
        y_true: 0/1 labels, shape `(N,)`.
        y_prob: scores, shape `(N,)`; a higher score means "more positive".

    Returns:
        `(fpr, tpr)`, both starting at 0 and ending at 1.

    Example:

    >>> fpr, tpr = roc_points(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    y = np.asarray(y_true, dtype="float64").ravel()
    p = np.asarray(y_prob, dtype="float64").ravel()
    order = np.argsort(-p, kind="stable")
    y, p = y[order], p[order]
    last_of_tie = np.r_[np.nonzero(np.diff(p))[0], p.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1.0 - y)[last_of_tie]
    tpr = np.r_[0.0, tp / max(tp[-1], 1e-12)]
    fpr = np.r_[0.0, fp / max(fp[-1], 1e-12)]
    return fpr, tpr


def reliability_bins(
    y_true: np.ndarray, y_prob: np.ndarray, num_bins: int = _RELIABILITY_BINS
) -> dict[str, list]:
    """Equal-width bins of predicted probability, as in `keras_binary.metrics.ECE`.

    Args:
        y_true: 0/1 labels, shape `(N,)`.
        y_prob: probabilities, shape `(N,)`.
        num_bins: the number of bins over [0, 1].

    Returns:
        A dict of lists, one entry per bin: `"count"`, `"mean_prob"` and
        `"positive_rate"` (`nan` for an empty bin).

    Example:

    >>> bins = reliability_bins(np.array([0, 1, 1, 1]), np.array([0.2, 0.3, 0.7, 0.9]), 2)
    >>> bins["count"], bins["positive_rate"]
    ([2, 2], [0.5, 1.0])
    """
    y = np.asarray(y_true, dtype="float64").ravel()
    p = np.asarray(y_prob, dtype="float64").ravel()
    index = np.minimum((p * num_bins).astype(int), num_bins - 1)
    count, mean_prob, rate = [], [], []
    for b in range(num_bins):
        mask = index == b
        n = int(mask.sum())
        count.append(n)
        mean_prob.append(float(p[mask].mean()) if n else math.nan)
        rate.append(float(y[mask].mean()) if n else math.nan)
    return {"count": count, "mean_prob": mean_prob, "positive_rate": rate}


def _plot_roc(plt: Any, path: str, fpr: np.ndarray, tpr: np.ndarray, auc: float, title: str) -> None:
    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=100)
    ax.plot(fpr, tpr, color="C0", lw=2, label=f"BinaryHead (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="chance")
    ax.set(
        xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate", title=title
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_reliability(plt: Any, path: str, bins: dict, ece: float, title: str) -> None:
    num_bins = len(bins["count"])
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    rate = np.array(bins["positive_rate"], dtype="float64")
    filled = ~np.isnan(rate)
    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=100)
    ax.bar(
        centers[filled],
        rate[filled],
        width=1.0 / num_bins,
        edgecolor="black",
        color="C0",
        alpha=0.8,
        label="observed positive rate",
    )
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for c, r, n in zip(centers[filled], rate[filled], np.array(bins["count"])[filled], strict=True):
        ax.annotate(str(n), (c, r), ha="center", va="bottom", fontsize=7)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.05),
        xlabel="predicted probability",
        ylabel="fraction positive",
        title=f"{title} (ECE = {ece:.3f})",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------
# The demo.


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; received {value!r}.")


def run_demo(
    out_dir: str = "out",
    dataset: str = "digits",
    backbone: str | None = None,
    epochs: int | None = None,
    pretrain_epochs: int | None = None,
    seed: int = 0,
    verbose: int = 1,
    print_fn: Callable[[str], None] = print,
) -> DemoResult:
    """Runs the transfer-learning demo and writes its figures into `out_dir`.

    Args:
        out_dir: the folder for `roc.png`, `reliability.png` and
            `summary.json` (created if needed).
        dataset: `"digits"` (images, a pre-trained backbone) or
            `"breast_cancer"` (tabular, an MLP).
        backbone: `"cnn"`, `"mlp"` or `"mobilenetv2"` (`keras.applications`,
            trained from scratch on upsampled digits; a few times slower) for
            digits; `"mlp"` for breast_cancer. `None` takes the dataset's
            default.
        epochs: epochs of the binary training; `None` for the default.
        pretrain_epochs: epochs of the backbone's pre-training (digits);
            `None` for the default (15 for mobilenetv2, else 6).
        seed: the random seed of the split and of Keras.
        verbose: 1 shows Keras's progress bars, 0 hides them.
        print_fn: where the demo's own lines go.

    Returns:
        A `DemoResult`: the summary written to `summary.json`, and the
        held-out labels and probabilities.

    Raises:
        ValueError: an unknown dataset, backbone or a bad number of epochs.
        DemoDependencyError: scikit-learn or matplotlib is missing.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = run_demo(out, dataset="breast_cancer", epochs=5, verbose=0, print_fn=lambda line: None)
    ...     sorted(os.listdir(out))
    ['reliability.png', 'roc.png', 'summary.json']
    >>> result.summary["metrics"]["auc"] > 0.9
    True
    """
    _check_choice("dataset", dataset, DATASETS)
    defaults = DEFAULTS[dataset]
    backbone = defaults["backbone"] if backbone is None else backbone
    _check_choice(f"backbone (for {dataset})", backbone, BACKBONES[dataset])
    epochs = defaults["epochs"] if epochs is None else epochs
    overrides = BACKBONE_DEFAULTS.get(backbone, {})
    if pretrain_epochs is None:
        pretrain_epochs = overrides.get("pretrain_epochs", defaults["pretrain_epochs"])
    divisor = overrides.get("fine_tune_divisor", FINE_TUNE_DIVISOR)
    for name, value in (("epochs", epochs), ("pretrain_epochs", pretrain_epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "epochs" else 0):
            raise ValueError(f"{name} must be an int >= {1 if name == 'epochs' else 0}; received {value!r}.")
    _, plt = _require()

    from keras_binary import BinaryHead, SafeBCE
    from keras_binary.diagnostics import diagnose

    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    data = _digits(seed) if dataset == "digits" else _breast_cancer(seed)
    rate = float(data.y_train.mean())
    batch = defaults["batch_size"]
    say = print_fn
    say(f"keras_binary demo: {dataset}, backend {keras.backend.backend()}, backbone {backbone}")
    say(f"task: {data.task}")
    say(
        f"binary data: {len(data.y_train)} training, {len(data.y_test)} held-out examples; "
        f"positive rate {rate:.1%}"
    )

    # 1. Pre-train (digits) and build the naive model.
    if dataset == "digits":
        features, classifier, front = _backbone(backbone, data.n_classes)
        classifier.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        say(f"\n[1/4] pre-training {classifier.name} on {len(data.y_pre)} images, {data.n_classes} classes")
        inputs = keras.Input(data.x_train.shape[1:], name="image")
        pre_model = (
            keras.Model(inputs, classifier(front(inputs)), name="pretraining")
            if backbone == "mobilenetv2"
            else classifier
        )
        if backbone == "mobilenetv2":
            pre_model.compile(
                optimizer=keras.optimizers.Adam(3e-3),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        if pretrain_epochs:
            pre_model.fit(data.x_pre, data.y_pre, epochs=pretrain_epochs, batch_size=batch, verbose=verbose)
        classifier.trainable = False
        inputs = keras.Input(data.x_train.shape[1:], name="image")
        naive_out = keras.layers.Dense(1, activation="sigmoid", name="binary_output")(
            classifier(front(inputs))
        )
        naive = keras.Model(inputs, naive_out, name="naive")
        naive.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        naive_text = "a Dense(1, 'sigmoid') stacked on the pre-trained classifier, its softmax top left on"
    else:
        naive = keras.Sequential(
            [
                keras.Input(data.x_train.shape[1:], name="features"),
                keras.layers.Dense(32, activation="relu", name="hidden"),
                keras.layers.Dense(1, activation="softmax", name="output"),
            ],
            name="naive",
        )
        naive.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
        naive_text = "an MLP ending with Dense(1, activation='softmax') and categorical_crossentropy"

    # 2. Diagnose the naive model, and see what it scores.
    say(f"\n[2/4] the naive model: {naive_text}")
    naive_report = diagnose(naive, data.x_train, data.y_train)
    say(str(naive_report))
    naive_epochs = min(epochs, NAIVE_EPOCHS)
    with warnings.catch_warnings():  # Keras's own warnings about the mistakes diagnosed above
        warnings.simplefilter("ignore")
        naive.fit(data.x_train, data.y_train, epochs=naive_epochs, batch_size=batch, verbose=0)
        naive_prob = np.asarray(naive.predict(data.x_test, verbose=0), dtype="float64").reshape(-1)
    naive_auc = _held_out_metrics(data.y_test, naive_prob)["auc"]
    say(f"the naive model, trained {naive_epochs} epochs as written: held-out AUC {naive_auc:.3f}")

    # 3. The fix: the backbone's features, BinaryHead, SafeBCE, the metric pack.
    keras.utils.set_random_seed(seed)  # the same start, however much the naive model drew
    inputs = keras.Input(data.x_train.shape[1:], name="image" if dataset == "digits" else "features")
    if dataset == "digits":
        features.trainable = False
        h = features(front(inputs), training=False)  # the Keras guide's idiom; see phase 2
        head = BinaryHead(pooling="avgmax", bias_init_prior=rate, name="binary_head")
        learning_rate = 1e-2
    else:
        h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
        head = BinaryHead(bias_init_prior=rate, name="binary_head")
        learning_rate = 1e-3
    model = keras.Model(inputs, head(h), name="fixed")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=SafeBCE(), metrics=_metric_pack())
    fixed_report = diagnose(model, data.x_train, data.y_train)
    say(
        f"\n[3/4] the fix: BinaryHead on the backbone's features, SafeBCE, metric pack. {fixed_report.headline()}"
    )
    for finding in fixed_report:
        say(str(finding))
    # Digits: the usual two phases. The head learns on the frozen backbone,
    # then everything but the BatchNormalization layers is fine-tuned at a
    # lower learning rate.
    head_epochs = max(1, round(epochs / 4)) if dataset == "digits" else epochs
    unfrozen_codes: list[str] = []
    if dataset == "digits":
        say(f"phase 1: the head alone, backbone frozen ({head_epochs} epoch{'s' if head_epochs > 1 else ''})")
    model.fit(data.x_train, data.y_train, epochs=head_epochs, batch_size=batch, verbose=verbose)
    if epochs > head_epochs:
        say(
            f"phase 2: fine-tuning the backbone too, at a {divisor}x lower learning rate "
            f"({epochs - head_epochs} epochs)"
        )
        features.trainable = True
        # The Keras guide's training=False does not keep BatchNormalization in
        # inference mode in Keras 3: fit overrides it. diagnose says so (KBD013);
        # only a non-trainable BatchNormalization keeps the pretrained statistics.
        unfrozen = diagnose(model)
        unfrozen_codes = unfrozen.codes
        for finding in unfrozen:
            say(f"  backbone unfrozen: {finding.severity} {finding.code}: {finding.summary}")
        for layer in features.layers:
            layer.trainable = layer.trainable and not isinstance(layer, keras.layers.BatchNormalization)
        say(f"  BatchNormalization layers frozen again: {diagnose(model).headline()}")
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate / divisor), loss=SafeBCE(), metrics=_metric_pack()
        )
        model.fit(data.x_train, data.y_train, epochs=epochs - head_epochs, batch_size=batch, verbose=verbose)

    # 4. Held-out evaluation and figures.
    prob = np.asarray(model.predict(data.x_test, verbose=0), dtype="float64").reshape(-1)
    figures = _held_out_metrics(data.y_test, prob)
    fpr, tpr = roc_points(data.y_test, prob)
    bins = reliability_bins(data.y_test, prob)
    roc_path = os.path.join(out_dir, "roc.png")
    reliability_path = os.path.join(out_dir, "reliability.png")
    title = "digit 8 vs rest" if dataset == "digits" else "breast cancer: malignant"
    _plot_roc(plt, roc_path, fpr, tpr, figures["auc"], title)
    _plot_reliability(plt, reliability_path, bins, figures["ece"], title)
    seconds = time.perf_counter() - start
    summary = {
        "dataset": dataset,
        "task": data.task,
        "backbone": backbone,
        "backend": keras.backend.backend(),
        "seed": seed,
        "epochs": epochs,
        "pretrain_epochs": pretrain_epochs if dataset == "digits" else 0,
        "n_train": int(len(data.y_train)),
        "n_test": int(len(data.y_test)),
        "positive_rate_train": round(rate, 6),
        "positive_rate_test": round(float(data.y_test.mean()), 6),
        "metrics": {k: round(v, 6) for k, v in figures.items()},
        "naive": {
            "findings": naive_report.codes,
            "ok": naive_report.ok,
            "epochs": naive_epochs,
            "auc": round(naive_auc, 6),
        },
        "fixed": {"findings": fixed_report.codes, "ok": fixed_report.ok},
        "fine_tuning": {"findings_if_unfrozen": unfrozen_codes, "head_epochs": head_epochs},
        "reliability": {
            k: [None if isinstance(v, float) and math.isnan(v) else v for v in vals]
            for k, vals in bins.items()
        },
        "files": {"roc": "roc.png", "reliability": "reliability.png"},
        "seconds": round(seconds, 2),
    }
    summary_path = os.path.join(out_dir, "summary.json")
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, allow_nan=False)
        f.write("\n")
    say(f"\n[4/4] held-out ({len(data.y_test)} examples never used for training):")
    say(
        f"  accuracy {figures['accuracy']:.3f}   AUC {figures['auc']:.3f}   MCC {figures['mcc']:.3f}   "
        f"ECE {figures['ece']:.3f}   (naive model: AUC {naive_auc:.3f})"
    )
    say(f"  wrote {roc_path}, {reliability_path} and {summary_path} in {seconds:.1f} s")
    return DemoResult(summary, data.y_test, prob)
