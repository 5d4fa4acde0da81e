"""KBD014 judges what a pretrained network receives, in every spelling (issue 19, item 7's leftovers).

Families that rescale their own input (EfficientNet; MobileNetV3, EfficientNetV2
and ConvNeXt with `include_preprocessing=True`) must receive 0-255 pixels at
their own preprocessing, whatever the user puts in front; a keras-hub
`ImageConverter` that rescales by about 1/255 must receive 0-255 pixels. The
legitimate models are silent; the real mistakes (a /255 in front of a family
that expects 0-255, 0-255 pixels into a family that expects [-1, 1]) are
errors. Each case is built nested (`base(x)`), through `input_tensor=` and as
a `Sequential` without `keras.Input`, with `weights=None` at 32 px.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import small_hub_resnet_backbone

import keras_binary
from keras_binary import _graph
from keras_binary.diagnostics import diagnose

SIZE = 32
PIXELS = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
LABELS = np.array([[0.0], [1.0]], "float32")
L = keras.layers

# Building a family costs 1-5 s on TensorFlow, and 5-90 s on JAX and 3-12 s on PyTorch (2 busy cores),
# and the whole matrix about 150 s on PyTorch: the cheap two there, every family on TensorFlow (the graph
# read is the same on every backend).
_CHEAP = ("MobileNetV3Small", "MobileNetV2")


def _family(name):
    if keras.backend.backend() != "tensorflow" and name not in _CHEAP:
        pytest.skip(f"{name} is built on TensorFlow only (build time on {keras.backend.backend()})")
    return getattr(keras.applications, name)


def _head(tensor):
    return L.Dense(1, activation="sigmoid")(L.GlobalAveragePooling2D()(tensor))


def _spell(name, spelling, front, **kwargs):
    """The backbone behind the layers `front()` makes, spelled `nested`, `input_tensor` or `sequential`."""
    constructor = _family(name)
    if spelling == "sequential":
        base = constructor(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), **kwargs)
        model = keras.Sequential(
            [*front(), base, L.GlobalAveragePooling2D(), L.Dense(1, activation="sigmoid")]
        )
        model.build((None, SIZE, SIZE, 3))  # what fit's symbolic build does
        return model
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    for layer in front():
        x = layer(x)
    if spelling == "nested":
        base = constructor(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), **kwargs)
        return keras.Model(inputs, _head(base(x)))
    base = constructor(include_top=False, weights=None, input_tensor=x, **kwargs)
    return keras.Model(inputs, _head(base.output))


def _kbd014(model, x):
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model, x, LABELS)
    assert "KBD026" not in report.codes, str(report)  # every check ran
    return [f for f in report.findings if f.code == "KBD014"]


def _none():
    return []


def _flip():
    return [L.RandomFlip()]


def _augment():  # four augmentation layers: the family's own Rescaling is not among the first layers
    return [L.RandomFlip(), L.RandomRotation(0.1), L.RandomZoom(0.1), L.RandomContrast(0.1)]


def _augmentation_model():  # keras.io's older EfficientNet example: a Sequential of augmentation layers
    return [keras.Sequential([L.RandomFlip(), L.RandomRotation(0.1)], name="img_augmentation")]


def _divide_255_then_identity():  # a layer that is not preprocessing between the /255 and the backbone
    return [L.Rescaling(1 / 255), L.Identity()]


def _divide_255():
    return [L.Rescaling(1 / 255)]


def _to_minus_one_one():
    return [L.Rescaling(1 / 127.5, offset=-1)]


def _times_255():
    return [L.Rescaling(255.0)]


SPELLINGS = ("nested", "input_tensor", "sequential")

# (family, constructor kwargs, front, x): correctly scaled; KBD014 says nothing.
LEGITIMATE = [
    ("EfficientNetB0", {}, _none, PIXELS),
    ("EfficientNetB0", {}, _augment, PIXELS),
    ("EfficientNetB0", {}, _times_255, PIXELS / 255.0),  # [0, 1] data brought back to 0-255
    ("EfficientNetB0", {}, lambda: [L.Lambda(keras.applications.efficientnet.preprocess_input)], PIXELS),
    ("EfficientNetV2B0", {}, _flip, PIXELS),
    ("EfficientNetV2B0", {"include_preprocessing": False}, _to_minus_one_one, PIXELS),
    ("MobileNetV3Small", {}, _augment, PIXELS),
    ("MobileNetV3Small", {}, _augmentation_model, PIXELS),
    ("MobileNetV3Small", {"include_preprocessing": False}, _to_minus_one_one, PIXELS),
    ("ConvNeXtTiny", {}, _flip, PIXELS),
    ("MobileNetV2", {}, _to_minus_one_one, PIXELS),
]

# (family, kwargs, front, x, what the message says): the real mistakes; KBD014 is an error.
MISTAKES = [
    ("EfficientNetB0", {}, _divide_255, PIXELS, "already scaled"),  # /255 in front of a 0-255 family
    ("EfficientNetB0", {}, _none, PIXELS / 255.0, "already scaled"),  # x in [0, 1]
    ("EfficientNetV2B0", {}, _divide_255, PIXELS, "already scaled"),
    ("MobileNetV3Small", {}, _to_minus_one_one, PIXELS, "already scaled"),  # scaled, then scaled again
    ("MobileNetV3Small", {}, _divide_255_then_identity, PIXELS, "already scaled"),
    ("ConvNeXtTiny", {}, _divide_255, PIXELS, "already scaled"),
    ("MobileNetV3Small", {"include_preprocessing": False}, _none, PIXELS, "0-255"),  # expects [-1, 1]
    ("EfficientNetV2B0", {"include_preprocessing": False}, _none, PIXELS, "0-255"),
    ("ConvNeXtTiny", {"include_preprocessing": False}, _none, PIXELS, "0-255"),
    ("MobileNetV2", {}, _none, PIXELS, "0-255"),
]


def _case_id(case):
    name, kwargs, front, x = case[:4]
    pre = "" if kwargs.get("include_preprocessing", True) else "-no_preprocessing"
    scale = "01" if float(x.max()) <= 1.0 else "255"
    return f"{name}{pre}-{getattr(front, '__name__', 'preprocess_input').strip('_')}-x{scale}"


@pytest.mark.slow
@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("case", LEGITIMATE, ids=[_case_id(c) for c in LEGITIMATE])
def test_correctly_scaled_input_is_silent(case, spelling):
    name, kwargs, front, x = case
    assert _kbd014(_spell(name, spelling, front, **kwargs), x) == []


@pytest.mark.slow
@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("case", MISTAKES, ids=[_case_id(c) for c in MISTAKES])
def test_scaling_mistakes_are_errors(case, spelling):
    name, kwargs, front, x, says = case
    (finding,) = _kbd014(_spell(name, spelling, front, **kwargs), x)
    assert finding.severity == "error", finding
    assert says in finding.summary, finding.summary


@pytest.mark.slow
def test_the_application_model_itself_built_on_input_tensor():
    """`EfficientNetB0(include_top=True, classes=1, input_tensor=...)` used as the whole model."""
    constructor = _family("EfficientNetB0")

    def model(front):
        inputs = keras.Input((SIZE, SIZE, 3))
        return constructor(
            include_top=True,
            weights=None,
            classes=1,
            classifier_activation="sigmoid",
            input_tensor=front(inputs),
        )

    assert _kbd014(model(L.RandomFlip()), PIXELS) == []
    (finding,) = _kbd014(model(L.Rescaling(1 / 255)), PIXELS)
    assert finding.severity == "error" and "remove the rescaling in front" in finding.fix


def test_the_entry_of_a_self_rescaling_family_is_its_own_rescaling():
    constructor = _family("MobileNetV3Small")
    inputs = keras.Input((SIZE, SIZE, 3))
    base = constructor(include_top=False, weights=None, input_tensor=L.Rescaling(1 / 255)(inputs))
    (entry,) = _graph.range_entries(keras.Model(inputs, _head(base.output)))
    assert entry.mode == "raw" and entry.own_preprocessing and not entry.at_model_input
    (_, tensor) = entry.stages[-1]
    assert type(_graph.producer(tensor).operation).__name__ == "Rescaling"  # the user's /255


# ---------------------------------------------------------------------------
# keras-hub: an ImageConverter rescales in the model, or in the task's preprocessor.

_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _converter(keras_hub, scale=None, offset=None):
    scale = scale if scale is not None else [1 / (255 * s) for s in _STD]  # the ResNet presets' converter
    offset = offset if offset is not None else [-m / s for m, s in zip(_MEAN, _STD, strict=True)]
    return keras_hub.layers.ResNetImageConverter(image_size=(SIZE, SIZE), scale=scale, offset=offset)


def _hub_backbone(keras_hub):
    return small_hub_resnet_backbone(keras_hub, SIZE)


def test_keras_hub_image_converter_in_the_model():
    keras_hub = pytest.importorskip("keras_hub")
    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inputs, _head(_hub_backbone(keras_hub)(_converter(keras_hub)(inputs))))
    assert _kbd014(model, PIXELS) == []
    (finding,) = _kbd014(model, PIXELS / 255.0)
    assert finding.severity == "error" and "ResNetImageConverter" in finding.summary
    assert "x * 255.0" in finding.fix


def test_keras_hub_image_classifier_with_its_preprocessor():
    keras_hub = pytest.importorskip("keras_hub")
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=_converter(keras_hub))
    classifier = keras_hub.models.ResNetImageClassifier(
        backbone=_hub_backbone(keras_hub), num_classes=1, activation="sigmoid", preprocessor=preprocessor
    )
    assert _kbd014(classifier, PIXELS) == []  # fit applies the preprocessor to x
    (finding,) = _kbd014(classifier, PIXELS / 255.0)
    assert finding.severity == "error" and "already scaled" in finding.summary


def test_keras_hub_converter_in_front_of_a_keras_applications_backbone():
    keras_hub = pytest.importorskip("keras_hub")

    def model(scale, offset):
        return _spell("MobileNetV2", "sequential", lambda: [_converter(keras_hub, scale, offset)])

    assert _kbd014(model(1 / 127.5, -1.0), PIXELS) == []  # the converter maps 0-255 to [-1, 1]
    (finding,) = _kbd014(model(1 / 255, 0.0), PIXELS)  # [0, 1] into a [-1, 1] family
    assert finding.severity == "warning" and "MobileNetV2" in finding.summary


def test_a_converter_without_scaling_sets_no_expectation():
    keras_hub = pytest.importorskip("keras_hub")
    inputs = keras.Input((SIZE, SIZE, 3))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(SIZE, SIZE))  # scale=None
    model = keras.Model(inputs, _head(_hub_backbone(keras_hub)(converter(inputs))))
    assert not _graph.converter_expects_pixels(converter)
    assert _kbd014(model, PIXELS / 255.0) == [] and _kbd014(model, PIXELS) == []


# ---------------------------------------------------------------------------
# Public reports, rebuilt as close to verbatim as weights=None and small inputs allow.


@pytest.mark.slow
def test_keras_io_1549_efficientnet_on_cifar10_divided_by_255():
    """https://github.com/keras-team/keras-io/issues/1549

    "Problem training EfficientNetB0 on CIFAR-10 with a minimal code (same code
    works with MobileNet)": `x_train.astype("float32") / 255`, then a
    `Sequential` with `keras.Input`, `Resizing(224, 224)`, the backbone,
    pooling and `Dense(10, "softmax")`. EfficientNet rescales its input
    itself: [0, 1] images are scaled twice (error); MobileNet expects [-1, 1]
    and gets [0, 1] (half the range: a warning, the model still trains, as the
    report saw). Here Resizing(32, 32) and weights=None instead of 224 and
    "imagenet".
    """
    x_train = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3)).astype("float32") / 255
    y_train = keras.utils.to_categorical(np.array([0, 1, 2, 3]), 10)

    def finetune(backbone):
        model = keras.Sequential(
            [
                keras.Input(shape=(32, 32, 3)),
                keras.layers.Resizing(32, 32),
                backbone,
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return [f for f in diagnose(model, x_train, y_train).findings if f.code == "KBD014"]

    (efficientnet,) = finetune(
        _family("EfficientNetB0")(weights=None, include_top=False, input_shape=(32, 32, 3))
    )
    assert efficientnet.severity == "error" and "rescales them itself" in efficientnet.fix
    (mobilenet,) = finetune(
        keras.applications.MobileNet(weights=None, include_top=False, input_shape=(32, 32, 3))
    )
    assert mobilenet.severity == "warning"


@pytest.mark.slow
def test_taourl_efficientnet_binary_stuck_at_50_percent():
    """https://taourl.com/read-2649552.html

    "Transfer Learning in EfficientNet for Binary Classification Task stuck at
    50%": the answer's "corrected implementation" still feeds
    `ImageDataGenerator(rescale=1./255)` images to `EfficientNetB0` (its own
    comment says "EfficientNet expects [0,255] range"), freezes the first 100
    layers and puts `Dense(1024, "relu")` and `Dense(1, "sigmoid")` on the
    pooled features. (The page writes `GlobalAveragePooling2D(base_model.output)`;
    here the layer is called on it.) 32 px, weights=None.
    """
    base_model = _family("EfficientNetB0")(weights=None, include_top=False, input_shape=(32, 32, 3))
    for layer in base_model.layers[:100]:
        layer.trainable = False
    x = keras.layers.GlobalAveragePooling2D()(base_model.output)
    x = keras.layers.Dense(1024, activation="relu")(x)
    predictions = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=base_model.input, outputs=predictions)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss="binary_crossentropy")
    batch = PIXELS / 255.0  # what rescale=1./255 yields
    (finding,) = [f for f in diagnose(model, batch, LABELS).findings if f.code == "KBD014"]
    assert finding.severity == "error" and "(built inline)" in finding.summary
    assert [f for f in diagnose(model, PIXELS, LABELS).findings if f.code == "KBD014"] == []  # the fix


def test_keras_13293_mobilenetv2_fed_0_255_pixels():
    """https://github.com/keras-team/keras/issues/13293

    "mobilenetv2 poor accuracy": `cv2.imread` pixels (0-255) passed straight
    to `MobileNetV2(weights='imagenet').predict`; the answer: MobileNetV2
    expects its `preprocess_input` ([-1, 1]). 32 px, weights=None; a binary
    top here so that diagnose reads the model as binary.
    """
    inputs = keras.Input((32, 32, 3))
    model1 = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Model(inputs, _head(model1(inputs)))
    x = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3)).astype("float32")  # cv2.imread + resize
    (finding,) = _kbd014(model, x)
    assert finding.severity == "error" and "mobilenet_v2.preprocess_input(x)" in finding.fix
    assert _kbd014(model, keras.applications.mobilenet_v2.preprocess_input(x.copy())) == []
