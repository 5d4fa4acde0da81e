"""The `keras-binary demo`: transfer learning for a binary task, from training to a decision.

Everything runs on data that ships with scikit-learn (no downloads):

- `digits` (the default): a small backbone is pre-trained on a multi-class
  task, recognising the handwritten digits 0-7 and 9 (9 classes); the binary
  task is a class the backbone never saw: "is it an 8?" (about 10 % of the
  images). The 8x8 images carry Gaussian noise (standard deviation 0.25, as
  noisy scans do), so that the task is hard enough for the curves to carry
  information: without it the fixed model separates the classes perfectly
  (AUC 1.000) and its ROC curve is a square.
- `breast_cancer`: the Wisconsin breast-cancer data (569 patients, 30
  features; positive = malignant), an MLP with `BinaryHead`; the naive model
  ends with `Dense(1, activation="softmax")` and `categorical_crossentropy`.

The story, in six steps: pre-train; build the naive model (digits: a
`Dense(1, "sigmoid")` on the pre-trained classifier, its softmax top left on),
print what `keras_binary.diagnose` finds and what it scores; replace the top
with `BinaryHead` and train with `SafeBCE`; calibrate it on validation data
(`keras_binary.calibrate`, temperature scaling); choose the operating point
on the validation data for a target sensitivity
(`keras_binary.select_threshold`); and evaluate that decision on held-out
examples no step has seen (`keras_binary.report`, bootstrap intervals).

Files written into the output folder: `roc.png` (the naive and the fixed
model, with the operating point), `pr.png` (precision-recall), `confusion.png`
(at the chosen threshold), `reliability.png` (before and after calibration)
and `summary.json` (the figures; the held-out AUC is `held_out_auc`).
scikit-learn and matplotlib are needed: `pip install "keras-binary[evaluate]"`.
"""

from __future__ import annotations

import json
import logging
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
NOISE = 0.25  # standard deviation of the Gaussian noise on the digits (pixels in [0, 1])
TARGET_SENSITIVITY = 0.95  # the operating point: the threshold that reaches it on validation data
N_BOOTSTRAP = 1000


class DemoResult(NamedTuple):
    """What `run_demo` returns.

    Attributes:
        summary: the content of `summary.json`.
        y_true: the held-out labels (0/1).
        y_prob: the final (calibrated) model's held-out probabilities of the
            positive class.
        reports: the `keras_binary.BinaryReport`s on the held-out data, by
            name: `"naive"`, `"fixed"` (before calibration) and `"final"`
            (calibrated, at the threshold chosen on validation data).

    Example:

    >>> result = DemoResult({"held_out_auc": 1.0}, np.array([0, 1]), np.array([0.2, 0.9]), {})
    >>> result.summary["held_out_auc"]
    1.0
    """

    summary: dict
    y_true: np.ndarray
    y_prob: np.ndarray
    reports: dict


class DemoDependencyError(ImportError):
    """scikit-learn or matplotlib is missing."""


def _require() -> None:
    for module, pip_name in (
        ("sklearn.model_selection", "scikit-learn"),
        ("matplotlib.figure", "matplotlib"),
    ):
        try:
            __import__(module)
        except ImportError as error:
            raise DemoDependencyError(
                f"the demo needs {pip_name} ({error}); install it with: pip install 'keras-binary[evaluate]'"
            ) from None


# ---------------------------------------------------------------------------
# Data.


class _Data(NamedTuple):
    x_pre: np.ndarray | None  # pre-training inputs (source task), or None
    y_pre: np.ndarray | None  # their class ids
    n_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray  # validation: calibration and the choice of the threshold
    y_val: np.ndarray
    x_test: np.ndarray  # held out: only evaluated
    y_test: np.ndarray
    task: str


def _split3(index: np.ndarray, y: np.ndarray, seed: int, val: float, test: float) -> tuple:
    from sklearn.model_selection import train_test_split

    train, rest = train_test_split(index, test_size=val + test, stratify=y[index], random_state=seed)
    val_index, test_index = train_test_split(
        rest, test_size=test / (val + test), stratify=y[rest], random_state=seed
    )
    return train, val_index, test_index


def _digits(seed: int) -> _Data:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]  # (1797, 8, 8, 1) in [0, 1]
    noise = np.random.default_rng(seed).normal(0.0, NOISE, x.shape).astype("float32")
    x = np.clip(x + noise, 0.0, 1.0)
    target = digits.target
    index = np.arange(len(x))
    # 35 % of the images pre-train the backbone (the "ImageNet" of the demo);
    # the rest, disjoint from it, is split for the binary task: 45 % training,
    # 20 % validation (calibration, threshold), 35 % held out.
    pre, rest = train_test_split(index, test_size=0.65, stratify=target, random_state=seed)
    pre = pre[target[pre] != POSITIVE_DIGIT]  # the backbone never sees the positive class
    source_classes = [c for c in range(10) if c != POSITIVE_DIGIT]
    y_pre = np.searchsorted(source_classes, target[pre])
    binary = (target == POSITIVE_DIGIT).astype("float32")
    train, val, test = _split3(rest, target, seed, val=0.2, test=0.35)
    task = (
        f"digit {POSITIVE_DIGIT} vs the rest, noisy images (Gaussian noise, sd {NOISE}); backbone "
        f"pre-trained on the {len(source_classes)} other digits (a class it never saw)"
    )
    return _Data(
        x[pre],
        y_pre,
        len(source_classes),
        x[train],
        binary[train],
        x[val],
        binary[val],
        x[test],
        binary[test],
        task,
    )


def _breast_cancer(seed: int) -> _Data:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = data.data.astype("float32")
    y = (data.target == 0).astype("float32")  # 0 is "malignant" in scikit-learn: make it the positive class
    train, val, test = _split3(np.arange(len(x)), y, seed, val=0.2, test=0.3)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6  # statistics of the training split only
    x = (x - mean) / std
    return _Data(
        None,
        None,
        0,
        x[train],
        y[train],
        x[val],
        y[val],
        x[test],
        y[test],
        "malignant vs benign tumour (30 features)",
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


# ---------------------------------------------------------------------------
# The demo.


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; received {value!r}.")


def _predict(model: keras.Model, *xs: np.ndarray) -> list[np.ndarray]:
    """The model's probabilities for each array, from one `predict` call."""
    # Each of the demo's models traces its own predict step once; TensorFlow
    # counts them together and warns about "retracing" from the fifth on.
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        prob = model.predict(np.concatenate(xs), batch_size=1024, verbose=0)
    finally:
        logger.setLevel(level)
    prob = np.asarray(prob, dtype="float64").reshape(-1)
    return np.split(prob, np.cumsum([len(x) for x in xs])[:-1])


def _interval(values: dict, key: str) -> str:
    low, high = values[f"{key}_ci"]
    return f"{values[key]:.3f} [{low:.3f}, {high:.3f}]"


def _write_figures(out_dir: str, reports: dict, title: str) -> dict[str, str]:
    from keras_binary.evaluation import plots

    final, fixed, naive = reports["final"], reports["fixed"], reports["naive"]
    figures = {
        "roc": plots.roc_figure(final, compare=naive, title=f"ROC, held out: {title}"),
        "pr": plots.pr_figure(final, compare=naive, title=f"Precision-recall, held out: {title}"),
        "confusion": plots.confusion_figure(
            final, title=f"Held out, threshold {final.threshold:.3g} chosen on validation"
        ),
        "reliability": plots.reliability_figure(
            final, compare=fixed, title=f"Calibration, held out: {title}"
        ),
    }
    files = {}
    for name, figure in figures.items():
        files[name] = f"{name}.png"
        plots.save_figure(figure, os.path.join(out_dir, files[name]))
    return files


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
        out_dir: the folder for `roc.png`, `pr.png`, `confusion.png`,
            `reliability.png` and `summary.json` (created if needed).
        dataset: `"digits"` (images, a pre-trained backbone) or
            `"breast_cancer"` (tabular, an MLP).
        backbone: `"cnn"`, `"mlp"` or `"mobilenetv2"` (`keras.applications`,
            trained from scratch on upsampled digits; a few times slower) for
            digits; `"mlp"` for breast_cancer. `None` takes the dataset's
            default.
        epochs: epochs of the binary training; `None` for the default.
        pretrain_epochs: epochs of the backbone's pre-training (digits);
            `None` for the default (15 for mobilenetv2, else 6).
        seed: the random seed of the split, the noise and Keras.
        verbose: 1 shows Keras's progress bars, 0 hides them.
        print_fn: where the demo's own lines go.

    Returns:
        A `DemoResult`: the summary written to `summary.json`, the held-out
        labels and probabilities, and the held-out reports.

    Raises:
        ValueError: an unknown dataset, backbone or a bad number of epochs.
        DemoDependencyError: scikit-learn or matplotlib is missing.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = run_demo(out, dataset="breast_cancer", epochs=5, verbose=0, print_fn=lambda line: None)
    ...     sorted(os.listdir(out))
    ['confusion.png', 'pr.png', 'reliability.png', 'roc.png', 'summary.json']
    >>> result.summary["held_out_auc"] > 0.9
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
    _require()

    import keras_binary
    from keras_binary import BinaryHead, SafeBCE
    from keras_binary.diagnostics import diagnose

    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    data = _digits(seed) if dataset == "digits" else _breast_cancer(seed)
    rate = float(data.y_train.mean())
    batch = defaults["batch_size"]
    say = print_fn

    def held_out(prob: np.ndarray, name: str, threshold: float = 0.5) -> Any:
        return keras_binary.report(
            data.y_test,
            prob,
            threshold=threshold,
            n_bootstrap=N_BOOTSTRAP,
            seed=seed,
            num_bins=_RELIABILITY_BINS,
            name=name,
            verbose=0,
        )

    say(f"keras_binary demo: {dataset}, backend {keras.backend.backend()}, backbone {backbone}")
    say(f"task: {data.task}")
    say(
        f"binary data: {len(data.y_train)} training, {len(data.y_val)} validation, {len(data.y_test)} held-out "
        f"examples; positive rate {rate:.1%}"
    )

    # 1. Pre-train (digits) and build the naive model.
    if dataset == "digits":
        features, classifier, front = _backbone(backbone, data.n_classes)
        classifier.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        say(f"\n[1/6] pre-training {classifier.name} on {len(data.y_pre)} images, {data.n_classes} classes")
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
        say("\n[1/6] no pre-training: tabular data, an MLP")
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
    say(f"\n[2/6] the naive model: {naive_text}")
    naive_report = diagnose(naive, data.x_train, data.y_train)
    say(str(naive_report))
    naive_epochs = min(epochs, NAIVE_EPOCHS)
    with warnings.catch_warnings():  # Keras's own warnings about the mistakes diagnosed above
        warnings.simplefilter("ignore")
        naive.fit(data.x_train, data.y_train, epochs=naive_epochs, batch_size=batch, verbose=0)
        (naive_prob,) = _predict(naive, data.x_test)
    naive_held_out = held_out(
        naive_prob, "naive (classifier top left on)" if dataset == "digits" else "naive"
    )
    naive_values = naive_held_out.to_dict()
    say(
        f"the naive model, trained {naive_epochs} epochs as written: held-out AUC "
        f"{_interval(naive_values, 'auc')}"
    )

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
        f"\n[3/6] the fix: BinaryHead on the backbone's features, SafeBCE, metric pack. {fixed_report.headline()}"
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
    (fixed_prob,) = _predict(model, data.x_test)
    fixed_held_out = held_out(fixed_prob, "BinaryHead, before calibration")
    say(
        f"held-out AUC {_interval(fixed_held_out.to_dict(), 'auc')} (the naive model: {naive_values['auc']:.3f})"
    )

    # 4. Calibration on the validation data.
    calibrated = keras_binary.calibrate(model, data.x_val, data.y_val, batch_size=512, verbose=0)
    temperature = float(calibrated.calibration.temperature)
    say(
        f"\n[4/6] calibration: temperature scaling fitted on the {len(data.y_val)} validation examples: "
        f"T = {temperature:.3f} ({'softer' if temperature > 1 else 'sharper'} probabilities; the ranking, "
        "hence the ROC curve, is unchanged)"
    )

    # 5. The operating point, chosen on the validation data.
    val_prob, prob = _predict(calibrated, data.x_val, data.x_test)
    choice = keras_binary.select_threshold(
        data.y_val, val_prob, method="sensitivity", value=TARGET_SENSITIVITY
    )
    threshold = float(choice.threshold)
    say(
        f"\n[5/6] operating point for sensitivity >= {TARGET_SENSITIVITY:g}, chosen on the validation data: "
        f"threshold {threshold:.4g} (there: sensitivity {choice.sensitivity:.3f}, "
        f"specificity {choice.specificity:.3f})"
    )

    # 6. The decision, evaluated on held-out data.
    final = held_out(prob, "BinaryHead, calibrated", threshold)
    values = final.to_dict()
    fixed_values = fixed_held_out.to_dict()
    reports = {"naive": naive_held_out, "fixed": fixed_held_out, "final": final}
    title = f"digit {POSITIVE_DIGIT} vs rest" if dataset == "digits" else "malignant tumour"
    files = _write_figures(out_dir, reports, title)
    # The fixed model against the naive one on the same held-out examples: paired tests.
    comparison = keras_binary.compare(
        data.y_test, prob, naive_prob, threshold_a=threshold, threshold_b=0.5, names=("fixed", "naive")
    )
    seconds = time.perf_counter() - start
    summary = {
        "dataset": dataset,
        "task": data.task,
        "backbone": backbone,
        "backend": keras.backend.backend(),
        "seed": seed,
        "epochs": epochs,
        "pretrain_epochs": pretrain_epochs if dataset == "digits" else 0,
        "noise": NOISE if dataset == "digits" else 0.0,
        "n_train": int(len(data.y_train)),
        "n_val": int(len(data.y_val)),
        "n_test": int(len(data.y_test)),
        "positive_rate_train": round(rate, 6),
        "positive_rate_test": round(float(data.y_test.mean()), 6),
        "held_out_auc": values["auc"],
        "held_out": values,
        "naive": {
            "findings": naive_report.codes,
            "ok": naive_report.ok,
            "epochs": naive_epochs,
            "held_out_auc": naive_values["auc"],
            "held_out": naive_values,
        },
        "fixed": {"findings": fixed_report.codes, "ok": fixed_report.ok},
        "fine_tuning": {"findings_if_unfrozen": unfrozen_codes, "head_epochs": head_epochs},
        "calibration": {
            "fitted_on": "validation",
            "temperature": temperature,
            "validation": {
                f"{name}_{when}": float(getattr(calibrated.calibration, f"{name}_{when}"))
                for name in ("log_loss", "brier")
                for when in ("before", "after")
            },
            "held_out_before": {
                k: fixed_values[k] for k in ("ece", "brier", "log_loss") if k in fixed_values
            },
            "held_out_after": {k: values[k] for k in ("ece", "brier", "log_loss") if k in values},
        },
        "operating_point": {
            "method": "sensitivity",
            "target": TARGET_SENSITIVITY,
            "chosen_on": "validation",
            "threshold": threshold,
            "validation": {
                "sensitivity": float(choice.sensitivity),
                "specificity": float(choice.specificity),
            },
            "held_out": {
                k: values[k]
                for k in ("sensitivity", "sensitivity_ci", "specificity", "specificity_ci", "ppv", "npv")
                if k in values
            },
        },
        "comparison": comparison.to_dict(),
        "files": files,
        "seconds": round(seconds, 2),
    }
    summary_path = os.path.join(out_dir, "summary.json")
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, allow_nan=False)
        f.write("\n")
    before, after = summary["calibration"]["held_out_before"], summary["calibration"]["held_out_after"]
    say(f"\n[6/6] held out ({len(data.y_test)} examples no step has used):")
    say(f"  AUC {_interval(values, 'auc')}   average precision {values['average_precision']:.3f}")
    say(
        f"  calibration, before -> after temperature scaling: ECE {before['ece']:.3f} -> {after['ece']:.3f}, "
        f"Brier {before['brier']:.4f} -> {after['brier']:.4f}, log loss {before['log_loss']:.4f} -> "
        f"{after['log_loss']:.4f}"
    )
    say(
        f"  at threshold {threshold:.4g}: sensitivity {_interval(values, 'sensitivity')}, "
        f"specificity {_interval(values, 'specificity')} (target {TARGET_SENSITIVITY:g} on validation)"
    )
    say(f"  tp {values['tp']:g}  fp {values['fp']:g}  tn {values['tn']:g}  fn {values['fn']:g}")
    if values["sensitivity"] < TARGET_SENSITIVITY:
        say(
            f"  below the target on held-out data: a threshold chosen on {int(data.y_val.sum())} validation "
            "positives is itself uncertain (see the interval); choose it on more validation data"
        )
    say(
        f"  fixed vs naive on the same held-out examples (paired DeLong, McNemar): AUC difference "
        f"{comparison.auc_difference:+.3f} [{comparison.auc_difference_ci[0]:+.3f}, "
        f"{comparison.auc_difference_ci[1]:+.3f}], p = {comparison.auc_p_value:.2g}; sensitivity "
        f"{comparison.sensitivity_difference:+.3f} (p = {comparison.sensitivity_p_value:.2g}), specificity "
        f"{comparison.specificity_difference:+.3f} (p = {comparison.specificity_p_value:.2g})"
    )
    written = ", ".join(files.values())
    say(f"  wrote {written} and summary.json into {out_dir} in {seconds:.1f} s")
    return DemoResult(summary, data.y_test, prob, reports)
