"""Tests of keras_binary.diagnostics: each check catches a broken model and spares a correct one."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary import diagnostics
from keras_binary.diagnostics import DIAGNOSTIC_CODES, Finding, Report, diagnose

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
X4 = RNG.random((16, 4)).astype("float32")
Y_BALANCED = np.array([0, 1] * 8)


def dense_model(units=1, activation="sigmoid", loss="binary_crossentropy", input_shape=(4,), **dense_kwargs):
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(units, activation=activation, name="output", **dense_kwargs),
        ]
    )
    if loss is not None:
        model.compile(optimizer="adam", loss=loss)
    return model


def head_model(loss=None, input_shape=(4,), **head_kwargs):
    model = keras.Sequential([keras.Input(input_shape), keras_binary.BinaryHead(name="head", **head_kwargs)])
    model.compile(optimizer="adam", loss=loss or keras_binary.SafeBCE())
    return model


def codes(report):
    return report.codes


def only(report, code):
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, f"expected one {code}, got {report.codes}:\n{report}"
    return found[0]


# ---------------------------------------------------------------------------
# 1. A binary head on a K > 2 softmax.


def classifier(k=10, name="classifier"):
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(k, activation="softmax"),
        ],
        name=name,
    )


def test_kbd001_head_on_softmax_classifier():
    model = keras.Sequential([classifier(), keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    report = diagnose(model)
    finding = only(report, "KBD001")
    assert finding.severity == "error" and not report.ok
    assert "softmax over 10 classes" in finding.summary and "'classifier'" in finding.summary
    assert "include_top=False" in finding.fix and "BinaryHead" in finding.fix


def test_kbd001_through_dropout_and_activation_layer():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(5, name="logits")(inputs)
    h = keras.layers.Activation("softmax", name="probs")(h)
    h = keras.layers.Dropout(0.5)(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="output")(h))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "softmax over 5 classes" in only(diagnose(model), "KBD001").summary


def test_kbd001_not_on_features_or_opt_in():
    features = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, activation="relu")], name="features"
    )
    model = keras.Sequential([features, keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert diagnose(model).findings == []
    opted_in = keras.Sequential([classifier(), keras_binary.BinaryHead(allow_classifier_input=True)])
    opted_in.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "KBD001" not in codes(diagnose(opted_in))


# ---------------------------------------------------------------------------
# 2. A softmax over an axis of size 1.


def test_kbd002_softmax_over_one_unit():
    for kind in ("dense", "activation", "softmax_layer"):
        inputs = keras.Input((4,))
        if kind == "dense":
            outputs = keras.layers.Dense(1, activation="softmax")(inputs)
        else:
            h = keras.layers.Dense(1)(inputs)
            layer = keras.layers.Activation("softmax") if kind == "activation" else keras.layers.Softmax()
            outputs = layer(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        finding = only(diagnose(model), "KBD002")
        assert finding.severity == "error" and "always 1.0" in finding.summary, kind


def test_kbd002_not_on_two_unit_softmax():
    report = diagnose(dense_model(2, "softmax", keras_binary.SafeBCE()))
    assert "KBD002" not in codes(report) and report.ok


# ---------------------------------------------------------------------------
# 3. Sigmoid or one unit with a categorical cross-entropy.


def test_kbd003_categorical_loss_on_binary_output():
    cases = [
        (1, "sigmoid", "categorical_crossentropy"),
        (1, "sigmoid", keras.losses.CategoricalCrossentropy()),
        (1, "sigmoid", "sparse_categorical_crossentropy"),
        (1, None, keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        (2, "sigmoid", "categorical_crossentropy"),
    ]
    for units, activation, loss in cases:
        finding = only(diagnose(dense_model(units, activation, loss)), "KBD003")
        assert finding.severity == "error" and "SafeBCE" in finding.fix, (units, activation, loss)


def test_kbd003_not_on_softmax_pair():
    for loss in (
        "sparse_categorical_crossentropy",
        keras.losses.CategoricalCrossentropy(),
        keras_binary.SafeBCE(),
    ):
        assert diagnose(dense_model(2, "softmax", loss)).findings == [], loss


# ---------------------------------------------------------------------------
# 4. from_logits against the final activation.


def test_kbd004_kbd005_from_logits_mismatch():
    cases = [
        ("sigmoid", keras.losses.BinaryCrossentropy(from_logits=True), "KBD004"),
        ("sigmoid", keras_binary.SafeBCE(from_logits=True), "KBD004"),
        (None, "binary_crossentropy", "KBD005"),
        (None, keras.losses.BinaryCrossentropy(), "KBD005"),
        (None, keras_binary.SafeFocal(), "KBD005"),
        (None, keras.losses.binary_crossentropy, "KBD005"),
    ]
    for activation, loss, code in cases:
        finding = only(diagnose(dense_model(1, activation, loss)), code)
        assert finding.severity == "error", (activation, loss)
        assert f"from_logits={code == 'KBD005'}" in finding.fix, (activation, loss)


def test_kbd004_on_binary_head_and_kbd005_on_logit_head():
    assert "KBD004" in codes(diagnose(head_model(keras_binary.SafeBCE(from_logits=True))))
    assert "KBD005" in codes(diagnose(head_model(keras_binary.SafeBCE(), activation=None)))


def test_from_logits_consistent_is_not_flagged():
    cases = [
        ("sigmoid", keras.losses.BinaryCrossentropy()),
        ("sigmoid", "binary_crossentropy"),
        (None, keras.losses.BinaryCrossentropy(from_logits=True)),
        (None, keras_binary.SafeBCE(from_logits=True)),
        (None, keras_binary.safe_loss(keras.losses.BinaryCrossentropy(from_logits=True))),
    ]
    for activation, loss in cases:
        assert diagnose(dense_model(1, activation, loss)).findings == [], (activation, loss)


# ---------------------------------------------------------------------------
# 5. Unpooled spatial output.


def test_kbd006_unpooled_output_against_per_example_labels():
    model = dense_model(1, "sigmoid", input_shape=(3, 3, 8))
    x = RNG.random((16, 3, 3, 8)).astype("float32")
    with_labels = only(diagnose(model, x, Y_BALANCED), "KBD006")
    assert with_labels.severity == "error" and "BinaryHead" in with_labels.fix
    without_labels = only(diagnose(model), "KBD006")
    assert without_labels.severity == "warning"


def test_kbd006_not_on_pooled_output_or_per_pixel_labels():
    x = RNG.random((16, 3, 3, 8)).astype("float32")
    pooled = head_model(input_shape=(3, 3, 8))
    assert diagnose(pooled, x, Y_BALANCED).findings == []
    segmenter = keras.Sequential([keras.Input((3, 3, 8)), keras.layers.Conv2D(1, 1, activation="sigmoid")])
    segmenter.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    masks = (RNG.random((16, 3, 3)) > 0.5).astype("float32")
    assert diagnose(segmenter, x, masks).findings == []
    assert diagnose(segmenter).findings == []


def test_kbd007_labels_that_fit_no_encoding():
    finding = only(diagnose(dense_model(), X4, np.zeros((16, 3))), "KBD007")
    assert "KB105" in finding.summary and finding.severity == "error"


# ---------------------------------------------------------------------------
# 6. Labels.


def test_kbd009_labels_outside_0_1():
    cases = [
        (np.array([1, 2] * 8), "y = y - 1"),
        (np.array([-1, 1] * 8), "y = (y + 1) / 2"),
        (np.array([0, 255] * 8), "y = y / 255"),
        (np.arange(16) % 10, "y = (y == POSITIVE_CLASS)"),
        (np.linspace(-0.5, 1.5, 16), "THRESHOLD"),
    ]
    model = head_model()
    for labels, fix in cases:
        finding = only(diagnose(model, X4, labels), "KBD009")
        assert finding.severity == "error" and fix in finding.fix, fix


def test_valid_labels_are_not_flagged():
    model = head_model()
    for labels in (
        Y_BALANCED,
        Y_BALANCED.astype(bool),
        Y_BALANCED.astype("float32"),
        np.linspace(0.0, 1.0, 16),  # soft labels
        Y_BALANCED[:, None],
    ):
        assert diagnose(model, X4, labels).findings == [], labels


def test_kbd008_one_hot_labels_against_one_unit():
    one_hot = np.eye(2)[Y_BALANCED]
    finding = only(diagnose(dense_model(), X4, one_hot), "KBD008")
    assert "np.argmax(y, axis=-1)" in finding.fix
    # The shape contract reads column 1: correct with keras_binary's loss, or with two units.
    assert diagnose(dense_model(loss=keras_binary.SafeBCE()), X4, one_hot).findings == []
    assert diagnose(dense_model(2, "softmax"), X4, one_hot).findings == []


def test_kbd010_nan_labels():
    labels = Y_BALANCED.astype("float64")
    labels[3] = np.nan
    finding = only(diagnose(head_model(), X4, labels), "KBD010")
    assert finding.summary.startswith("1 of 16 labels are NaN")


def test_kbd011_single_class():
    finding = only(diagnose(head_model(), X4, np.ones(16)), "KBD011")
    assert finding.severity == "error" and "all 16 labels are 1" in finding.summary


def test_kbd012_imbalance_suggests_pos_weight_and_prior():
    for positives in (3, 97):
        check_imbalance(positives)


def check_imbalance(positives):
    x = RNG.random((100, 4)).astype("float32")
    y = np.r_[np.ones(positives), np.zeros(100 - positives)]
    finding = only(diagnose(head_model(), x, y), "KBD012")
    assert finding.severity == "warning"
    rate = positives / 100
    pos_weight = (100 - positives) / positives
    assert f"bias_init_prior={rate:.4g}" in finding.fix
    assert f"pos_weight={pos_weight:.4g}" in finding.fix
    # The suggested values compensate: with them the warning is gone.
    fixed = head_model(keras_binary.SafeBCE(pos_weight=pos_weight))
    assert "KBD012" not in codes(diagnose(fixed, x, y))
    assert "KBD012" not in codes(diagnose(head_model(bias_init_prior=rate), x, y))


def test_kbd012_class_weight_or_balanced_data_are_not_flagged():
    x = RNG.random((100, 4)).astype("float32")
    y = np.r_[np.ones(5), np.zeros(95)]
    assert "KBD012" not in codes(diagnose(head_model(), x, y, class_weight={0: 1.0, 1: 19.0}))
    y_ok = np.r_[np.ones(12), np.zeros(88)]  # 12 %: not "strong" imbalance
    assert diagnose(head_model(), x, y_ok).findings == []


def test_kbd012_trained_bias_counts_as_prior():
    x = RNG.random((100, 4)).astype("float32")
    y = np.r_[np.ones(4), np.zeros(96)]
    model = dense_model()
    model.layers[-1].bias.assign([math.log(0.04 / 0.96)])
    assert "KBD012" not in codes(diagnose(model, x, y))


# ---------------------------------------------------------------------------
# 7a. BatchNormalization of a frozen backbone in training mode.


def bn_backbone(name="backbone"):
    inputs = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Conv2D(4, 1, name="conv2")(h)
    return keras.Model(inputs, h, name=name)


def transfer_model(backbone, **call_kwargs):
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, keras_binary.BinaryHead()(backbone(inputs, **call_kwargs)))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    return model


def test_keras_overrides_training_false_during_fit():
    """The premise of KBD013, measured: `training=False` in the call does not keep statistics.

    `fit` calls the model with `training=True`; calling it so directly takes
    the same path through the functional graph, without compiling a step.
    """
    backbone = bn_backbone()
    model = transfer_model(backbone, training=False)
    bn = backbone.get_layer("bn")
    x = keras.ops.convert_to_tensor((RNG.random((8, 6, 6, 3)) * 5 + 3).astype("float32"))
    before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    model(x, training=True)
    changed = not np.allclose(before, keras.ops.convert_to_numpy(bn.moving_mean))
    assert changed, (
        "Keras now honours training=False in a functional call: revisit KBD013 and docs/diagnose.md"
    )
    bn.trainable = False  # the fix KBD013 suggests
    before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    model(x, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), before)


def test_kbd013_unfrozen_with_training_false():
    backbone = bn_backbone()
    model = transfer_model(backbone, training=False)
    finding = only(diagnose(model), "KBD013")
    assert finding.severity == "warning" and "'bn'" in finding.summary and "training=False" in finding.summary
    assert "BatchNormalization" in finding.fix and "trainable" in finding.fix


def test_kbd013_frozen_backbone_with_bn_reenabled_or_partly_unfrozen():
    backbone = bn_backbone()
    backbone.trainable = False
    backbone.get_layer("bn").trainable = True
    assert "frozen (trainable=False)" in only(diagnose(transfer_model(backbone)), "KBD013").summary
    partial = bn_backbone()
    partial.get_layer("conv").trainable = False
    assert "partly frozen" in only(diagnose(transfer_model(partial)), "KBD013").summary


def test_kbd013_not_on_frozen_or_correctly_fine_tuned_backbone():
    frozen = bn_backbone()
    frozen.trainable = False
    assert diagnose(transfer_model(frozen)).findings == []
    assert diagnose(transfer_model(frozen, training=False)).findings == []
    fine_tuned = bn_backbone()
    fine_tuned.get_layer("bn").trainable = False  # the fix
    assert diagnose(transfer_model(fine_tuned, training=False)).findings == []
    from_scratch = bn_backbone()  # trained as a whole: BatchNormalization in training mode is intended
    assert diagnose(transfer_model(from_scratch)).findings == []


def test_kbd013_survives_saving(tmp_path):
    path = tmp_path / "model.keras"
    transfer_model(bn_backbone(), training=False).save(path)
    assert "KBD013" in codes(diagnose(path))


# ---------------------------------------------------------------------------
# 7b. Input range against the backbone's preprocess_input.


# Names as keras.applications (Keras 3.15.1) gives them, with the first layers
# that tell whether the preprocessing is inside the network. One pure test per
# table keeps the suite fast (building a real application takes up to 20 s).
FAMILIES = [
    ("mobilenetv2_1.00_224", [], "tf"),
    ("mobilenetv2_0.35_32", [], "tf"),
    ("mobilenet_1.00_224", [], "tf"),
    ("resnet50v2", [], "tf"),
    ("resnet50", [], "caffe"),
    ("vgg16", [], "caffe"),
    ("densenet121", [], "torch"),
    ("inception_v3", [], "tf"),
    ("inception_resnet_v2", [], "tf"),
    ("xception", [], "tf"),
    ("nasnet_mobile", [], "tf"),
    ("efficientnetb0", ["InputLayer", "Rescaling", "Normalization"], "raw"),
    ("efficientnetv2-b0", ["InputLayer", "Rescaling"], "raw"),
    ("efficientnetv2-b0", ["InputLayer", "Conv2D"], "tf"),
    ("MobileNetV3Small", ["InputLayer", "Rescaling"], "raw"),
    ("convnext_tiny", ["InputLayer", "Normalization"], "raw"),
    ("my_backbone", [], None),
    ("functional", [], None),
]


def test_family_detection():
    for name, first_layers, mode in FAMILIES:
        layers = [type(kind, (), {})() for kind in first_layers]
        family = diagnostics._family(SimpleNamespace(name=name, layers=layers))
        assert (family.mode if family else None) == mode, name


RANGES = [
    (0, 255, "tf", "error"),
    (0, 1, "tf", "warning"),
    (-1, 1, "tf", None),
    (-1, -0.99, "tf", "warning"),
    (0, 1, "caffe", "error"),
    (0, 255, "caffe", "warning"),
    (-123, 151, "caffe", None),
    (0, 255, "torch", "error"),
    (0, 1, "torch", "warning"),
    (-2.1, 2.6, "torch", None),
    (0, 1, "raw", "error"),
    (0, 255, "raw", None),
]


def test_range_rules():
    for lo, hi, mode, severity in RANGES:
        problem = diagnostics._range_problem(lo, hi, mode)
        assert (problem[0] if problem else None) == severity, (lo, hi, mode)


def stand_in_mobilenetv2():
    """A tiny model named as keras.applications.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3)) names it."""
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, name="Conv1")(inputs)
    return keras.Model(inputs, h, name="mobilenetv2_0.35_32")


def test_kbd014_input_range_of_a_mobilenetv2():
    base = stand_in_mobilenetv2()
    base.trainable = False
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras_binary.BinaryHead()(base(inputs)))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    pixels = RNG.integers(0, 256, (8, 8, 8, 3)).astype("float32")
    y = Y_BALANCED[:8]
    raw = only(diagnose(model, pixels, y), "KBD014")
    assert raw.severity == "error" and "mobilenet_v2.preprocess_input(x)" in raw.fix
    assert "from 0 to 255" in raw.summary or "from 1 to 255" in raw.summary or "to 255" in raw.summary
    half = only(diagnose(model, pixels / 255.0, y), "KBD014")
    assert half.severity == "warning" and "preprocess_input(x * 255.0)" in half.fix
    prepared = keras.applications.mobilenet_v2.preprocess_input(pixels.copy())
    assert diagnose(model, prepared, y).findings == []
    # Preprocessing inside the model counts: the range is measured where the backbone reads it.
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    inside = keras.Model(inputs, keras_binary.BinaryHead()(base(scaled)))
    inside.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    before = _state(inside)
    assert diagnose(inside, pixels, y).findings == []  # runs the layers in front of the backbone
    assert "scaled twice" in only(diagnose(inside, pixels / 255.0, y), "KBD014").summary
    after = _state(inside)
    assert before["nodes"] == after["nodes"] and before["trainable"] == after["trainable"]
    # Without x there is nothing to measure.
    assert diagnose(model).findings == []


def test_kbd014_model_that_is_the_backbone():
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h), name="resnet50")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = RNG.random((8, 8, 8, 3)).astype("float32")  # [0, 1] into a caffe-style network
    finding = only(diagnose(model, x, Y_BALANCED[:8]), "KBD014")
    assert finding.where == "inputs (x)" and finding.severity == "error"
    assert "resnet.preprocess_input(x * 255.0)" in finding.fix


# ---------------------------------------------------------------------------
# 8. Mixed precision.


def test_kbd015_sigmoid_in_float16():
    finding = only(diagnose(dense_model(dtype="mixed_float16")), "KBD015")
    assert finding.severity == "warning" and "float16" in finding.summary


def test_kbd015_not_when_output_in_float32():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(1, dtype="mixed_float16")(inputs)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid", dtype="float32")(h))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert diagnose(model).findings == []
    assert diagnose(head_model(dtype="mixed_float16")).findings == []


# ---------------------------------------------------------------------------
# The other findings.


def test_kbd016_multiclass_output():
    model = dense_model(10, "softmax", "sparse_categorical_crossentropy")
    assert only(diagnose(model, X4, Y_BALANCED), "KBD016").severity == "error"  # binary labels
    report = diagnose(model, X4, np.arange(16) % 10)  # a genuine 10-class model
    assert only(report, "KBD016").severity == "info" and report.ok
    imagenet_top = dense_model(1000, "softmax", "binary_crossentropy")  # a binary loss on a 1000-way softmax
    finding = only(diagnose(imagenet_top), "KBD016")
    assert finding.severity == "error" and "include_top=True" in finding.explanation
    multi_label = dense_model(5, "sigmoid", "binary_crossentropy")  # K independent labels
    assert only(diagnose(multi_label), "KBD016").severity == "info"


def test_kbd017_inputs_with_nan():
    x = X4.copy()
    x[0, 0] = np.nan
    assert "1 of 64" in only(diagnose(head_model(), x, Y_BALANCED), "KBD017").summary


def test_kbd018_no_loss():
    model = keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead()])
    assert only(diagnose(model), "KBD018").severity == "info"
    assert diagnose(model, loss=keras_binary.SafeBCE()).findings == []


def test_kbd019_data_that_do_not_fit():
    assert (
        "x has shape (16, 5)"
        in only(diagnose(head_model(), RNG.random((16, 5)), Y_BALANCED), "KBD019").summary
    )
    assert "16 examples and y has 8" in only(diagnose(head_model(), X4, Y_BALANCED[:8]), "KBD019").summary


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, x):
        return self.out(x)


def test_kbd020_subclassed_model_still_checks_loss_and_labels():
    model = Subclassed()
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model, X4, np.array([1, 2] * 8))
    assert codes(report) == ["KBD009", "KBD020"]


# ---------------------------------------------------------------------------
# 40. Dropout or noise after the final activation; 41. class ids against a pair.


def _then(layer, units=1, activation="sigmoid", nested=False):
    inputs = keras.Input((4,))
    scores = keras.layers.Dense(units, activation=activation, name="output")(inputs)
    if nested:
        inner = keras.Model(inputs, layer(scores), name="inner")
        outer_inputs = keras.Input((4,))
        model = keras.Model(outer_inputs, inner(outer_inputs))
    else:
        model = keras.Model(inputs, layer(scores))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize(
    ("layer", "units", "activation", "nested"),
    [
        (keras.layers.Dropout(0.5, name="noise"), 1, "sigmoid", False),
        (keras.layers.GaussianNoise(0.1, name="noise"), 1, "sigmoid", False),
        (keras.layers.GaussianDropout(0.3, name="noise"), 2, "softmax", False),
        (keras.layers.AlphaDropout(0.2, name="noise"), 1, "sigmoid", False),
        (keras.layers.Dropout(0.5, name="noise"), 1, "sigmoid", True),
    ],
)
def test_kbd040_noise_after_the_final_activation(layer, units, activation, nested):
    model = _then(layer, units=units, activation=activation, nested=nested)
    finding = only(diagnose(model), "KBD040")
    assert finding.severity == "error" and finding.where.startswith("layer 'noise'")
    assert f"the {activation} of layer 'output'" in finding.summary
    assert "KBD040" in [f.code for f in diagnostics.graph_errors(model)]


def test_kbd040_not_for_dropout_before_the_output_or_rate_zero_or_logits():
    inputs = keras.Input((4,))
    before = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.5)(inputs))
    model = keras.Model(inputs, before)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert "KBD040" not in codes(diagnose(model))
    assert "KBD040" not in codes(diagnose(_then(keras.layers.Dropout(0.0))))
    assert "KBD040" not in codes(diagnose(_then(keras.layers.Dropout(0.5), activation=None)))
    head = keras.Sequential([keras.Input((4,)), keras_binary.BinaryHead(dropout=0.5)])
    head.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert diagnose(head).ok


def test_kbd040_names_the_model_of_each_layer():
    inputs = keras.Input((4,))
    inner = keras.Model(
        inputs, keras.layers.Dense(1, activation="sigmoid", name="output")(inputs), name="inner"
    )
    outer_inputs = keras.Input((4,))
    model = keras.Model(outer_inputs, keras.layers.Dropout(0.5, name="noise")(inner(outer_inputs)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    finding = only(diagnose(model), "KBD040")
    assert finding.where == "layer 'noise'"
    assert "the sigmoid of layer 'output' of model 'inner'" in finding.summary
    nested = _then(keras.layers.Dropout(0.5, name="noise"), nested=True)
    assert only(diagnose(nested), "KBD040").where == "layer 'noise' of model 'inner'"


def test_kbd040_after_a_binary_head():
    model = keras.Sequential(
        [keras.Input((4,)), keras_binary.BinaryHead(name="head"), keras.layers.Dropout(0.2)]
    )
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "'head'" in only(diagnose(model), "KBD040").summary


@pytest.mark.parametrize(
    "loss", ["categorical_crossentropy", "binary_crossentropy", keras.losses.BinaryFocalCrossentropy()]
)
@pytest.mark.parametrize("label_shape", [(16,), (16, 1)])
def test_kbd041_class_ids_against_a_pair_with_a_keras_loss(loss, label_shape):
    model = dense_model(units=2, activation="softmax", loss=loss)
    finding = only(diagnose(model, X4, Y_BALANCED.reshape(label_shape)), "KBD041")
    assert finding.where == "labels (y)" and "two units (None, 2)" in finding.summary
    assert ("sparse_categorical_crossentropy" in finding.fix) == (loss == "categorical_crossentropy")
    assert "SafeBCE" in finding.fix


@pytest.mark.parametrize(
    ("loss", "y"),
    [
        ("sparse_categorical_crossentropy", Y_BALANCED),
        (keras_binary.SafeBCE(), Y_BALANCED),
        ("categorical_crossentropy", np.eye(2)[Y_BALANCED]),
        ("binary_crossentropy", np.eye(2)[Y_BALANCED]),
    ],
)
def test_kbd041_not_for_matching_labels_or_keras_binary_losses(loss, y):
    model = dense_model(units=2, activation="softmax", loss=loss)
    assert "KBD041" not in codes(diagnose(model, X4, y))


# ---------------------------------------------------------------------------
# The report, the entry points, and the promise not to touch the model.


def correct_transfer_model():
    backbone = bn_backbone()
    backbone.trainable = False
    inputs = keras.Input((6, 6, 3))
    outputs = keras_binary.BinaryHead(hidden_units=(8,), dropout=0.1)(backbone(inputs, training=False))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam", loss=keras_binary.SafeBCE(), metrics=[keras_binary.metrics.AUC(name="auc")]
    )
    return model


def test_correct_model_reports_nothing():
    x = RNG.random((16, 6, 6, 3)).astype("float32")
    report = diagnose(correct_transfer_model(), x, Y_BALANCED)
    assert report.ok and report.findings == []
    assert report.checked == {"graph": True, "loss": "SafeBCE", "labels": True, "inputs": True}
    assert "no problem found" in str(report)


def _state(model):
    return {
        "weights": [np.array(w) for w in model.get_weights()],
        "trainable": [layer.trainable for layer in model._flatten_layers()],
        "nodes": [len(layer._inbound_nodes) for layer in model._flatten_layers()],
        "loss": model.loss,
        "optimizer": model.optimizer,
        "compiled": model.compiled,
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "train_function": getattr(model, "train_function", None),
        "predict_function": getattr(model, "predict_function", None),
    }


@pytest.mark.parametrize("which", ["broken", "correct"])
def test_diagnose_never_modifies_the_model(which):
    if which == "broken":
        backbone = bn_backbone()
        model = transfer_model(backbone, training=False)
        model.layers[-1].output_dense.bias.assign([0.3])
        y = np.r_[np.ones(1), np.zeros(15)]
    else:
        model = correct_transfer_model()
        y = Y_BALANCED
    x = RNG.random((16, 6, 6, 3)).astype("float32") * 255
    before = _state(model)
    diagnose(model, x, y)
    after = _state(model)
    for a, b in zip(before["weights"], after["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    for key in ("trainable", "nodes", "compiled", "iterations"):
        assert before[key] == after[key], key
    for key in ("loss", "optimizer", "train_function", "predict_function"):
        assert before[key] is after[key], key


def test_diagnose_a_keras_file(tmp_path):
    model = keras.Sequential([classifier(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    path = tmp_path / "broken.keras"
    model.save(path)
    assert codes(diagnose(str(path))) == codes(diagnose(model)) == ["KBD001", "KBD004"]


def test_diagnose_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        diagnose(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="not a Keras model file"):
        diagnose(bad)
    with pytest.raises(TypeError, match="keras.Model"):
        diagnose(42)


def test_report_text_and_dict():
    x = RNG.random((100, 4)).astype("float32")
    model = dense_model(1, "softmax", "categorical_crossentropy")
    report = diagnose(model, x, np.r_[np.ones(3), np.zeros(97)])
    assert codes(report) == ["KBD002", "KBD003", "KBD012"]  # errors first
    text = str(report)
    assert text.splitlines()[0] == f"keras_binary.diagnose: model {model.name!r}: 2 errors, 1 warning."
    for finding in report:
        assert f"{finding.severity} {finding.code} at {finding.where}: {finding.summary}" in text
        assert f"  Fix: {finding.fix}" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["counts"] == {"error": 2, "warning": 1, "info": 0}
    assert [f["code"] for f in data["findings"]] == report.codes
    assert set(data["findings"][0]) == {"code", "severity", "title", "where", "summary", "explanation", "fix"}
    assert data["findings"][0]["title"] == DIAGNOSTIC_CODES["KBD002"][1]


def test_report_ok_ignores_warnings_and_infos():
    warning = Finding("KBD012", "warning", "labels (y)", "s", "e", "f")
    info = Finding("KBD018", "info", "loss", "s", "e", "f")
    assert Report([warning, info], "m").ok
    assert not Report([Finding("KBD011", "error", "labels (y)", "s", "e", "f")], "m").ok
    with pytest.raises(KeyError):
        Finding("KBD999", "error", "x", "s", "e", "f")
    with pytest.raises(ValueError):
        Finding("KBD011", "fatal", "x", "s", "e", "f")


def test_every_code_is_in_the_user_guide():
    guide = (ROOT / "docs" / "diagnose.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"\bKBD\d{3}\b", guide))
    assert documented == set(DIAGNOSTIC_CODES)


def test_codes_are_numbered_and_titled():
    codes = list(DIAGNOSTIC_CODES)
    # Numbered in order; blocks of numbers are allocated per feature, so gaps are allowed.
    assert codes == sorted(set(codes)) and all(re.fullmatch(r"KBD\d{3}", code) for code in codes)
    assert codes[: codes.index("KBD025") + 1] == [f"KBD{i:03d}" for i in range(1, 26)]
    for severity, title in DIAGNOSTIC_CODES.values():
        assert severity in diagnostics.SEVERITIES and title and not title.endswith(".")
