"""The seed's mistake in every spelling (issue 19), and no crash or false alarm on real backbones.

- A check that fails internally reports `KBD026` and never stops `diagnose`,
  `keras-binary doctor` or a guarded `fit` (raw `keras.ops` nodes in an
  inline backbone used to crash the BatchNormalization check).
- A `Sequential` model without `keras.Input`, built by the first `fit`, is
  checked right after Keras builds it, before any weight is updated.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import small_hub_resnet_backbone
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_binary
from keras_binary import BinaryModelError
from keras_binary.diagnostics import _diagnose, diagnose, graph_errors

SIZE = 32  # the smallest input keras.applications accepts for these families


def _images(n=2, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _labels(n=2):
    return np.array([[0.0], [1.0]] * (n // 2), "float32")


# ---------------------------------------------------------------------------
# Item 6: raw keras.ops nodes in an inline backbone; a failing check.


@pytest.fixture(scope="module")
def inline_mobilenet_v3():
    inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_tensor=inputs)
    base.trainable = False
    features = keras.layers.GlobalAveragePooling2D()(base.output)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(features))


@pytest.fixture(scope="module")
def resnet_on_scaled_input():
    """`ResNet50V2(input_tensor=inputs / 127.5 - 1)`: raw keras.ops nodes in front of the backbone."""
    inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.applications.ResNet50V2(include_top=False, weights=None, input_tensor=inputs / 127.5 - 1)
    features = keras.layers.GlobalAveragePooling2D()(base.output)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(features))


def test_inline_mobilenet_v3_is_read_without_a_crash(inline_mobilenet_v3):
    model = inline_mobilenet_v3
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model, _images(), _labels())
    assert "KBD026" not in report.codes
    # The frozen inline backbone's BatchNormalization is still found (the check ran).
    assert "KBD013" not in report.codes  # frozen layers: BatchNormalization frozen too
    assert report.ok, str(report)


def test_raw_ops_in_front_of_an_inline_backbone(resnet_on_scaled_input):
    model = resnet_on_scaled_input
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model, _images(), _labels())
    assert "KBD026" not in report.codes
    assert report.ok, str(report)


def test_a_check_that_fails_is_an_info_finding(monkeypatch):
    def broken(ctx):
        raise AttributeError("'Multiply' object has no attribute 'trainable'")
        yield  # a generator, as the real checks are

    broken.__name__ = "_check_batch_norm_mode"
    checks = tuple(broken if c is _diagnose._check_batch_norm_mode else c for c in _diagnose._CHECKS)
    monkeypatch.setattr(_diagnose, "_CHECKS", checks)
    inputs = keras.Input((4,))
    scores = keras.layers.Dense(1)(keras.layers.Dense(3, activation="softmax")(inputs))
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(scores))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    report = diagnose(model)
    kbd026 = [f for f in report.findings if f.code == "KBD026"]
    assert len(kbd026) == 1 and kbd026[0].severity == "info"
    assert "'batch norm mode'" in kbd026[0].summary and "'Multiply' object" in kbd026[0].summary
    assert "KBD001" in report.codes  # the other checks ran


def test_unreadable_outputs_are_an_info_finding_not_a_crash():
    class Scores(keras.layers.Layer):
        @property
        def activation(self):
            raise RuntimeError("not readable")

        def call(self, x):
            return x

    inputs = keras.Input((4,))
    model = keras.Model(inputs, Scores()(keras.layers.Dense(1)(inputs)))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(from_logits=True))
    report = diagnose(model, np.zeros((4, 4), "float32"), np.array([0, 1, 0, 1]))
    assert report.codes == ["KBD026"] and "RuntimeError: not readable" in report.findings[0].summary
    assert graph_errors(model) == []
    model.fit(np.zeros((4, 4), "float32"), np.array([0, 1, 0, 1], "float32"), verbose=0)  # not stopped


def test_doctor_on_an_inline_backbone_with_raw_ops(inline_mobilenet_v3, tmp_path, capsys):
    from keras_binary.cli import main

    model = inline_mobilenet_v3  # its graph holds raw keras.ops nodes (Multiply, Add of hard_sigmoid)
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    path = tmp_path / "mobilenet_v3.keras"
    model.save(path)
    code = main(["doctor", str(path), "--json"])
    out = capsys.readouterr().out
    assert code == 0 and '"KBD026"' not in out, out


# ---------------------------------------------------------------------------
# Item 1: a Sequential model without keras.Input, built by the first fit.


def _issue_sequential(activation):
    """The issue's code: the ImageNet classifier left on, under a one-unit head."""
    return keras.Sequential(
        [
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            keras.applications.MobileNetV2(include_top=True, weights=None, input_shape=(SIZE, SIZE, 3)),
            keras.layers.Dense(1, activation),
        ]
    )


@pytest.mark.parametrize("activation, code", [("sigmoid", "KBD001"), ("softmax", "KBD002")])
def test_unbuilt_sequential_is_checked_before_the_first_update(activation, code):
    model = _issue_sequential(activation)
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(), metrics=[keras_binary.metrics.AUC()])
    assert not model.built
    with pytest.raises(BinaryModelError) as caught:
        model.fit(_images(), _labels(), epochs=1, verbose=0)
    assert caught.value.code == code
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0  # no weight updated


def test_unbuilt_sequential_softmax_unit_is_found():
    model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, "softmax")])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    with pytest.raises(BinaryModelError) as caught:
        model.fit(np.zeros((4, 3), "float32"), np.array([0, 1, 0, 1], "float32"), verbose=0)
    assert caught.value.code == "KBD002"
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_correct_unbuilt_sequential_trains_with_no_extra_step():
    model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="sgd", loss=keras_binary.SafeBCE())
    x, y = np.random.default_rng(0).normal(size=(8, 3)).astype("float32"), np.array([0, 1] * 4, "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2  # 2 batches, 2 steps
    assert model.built and not any(k.startswith("_keras_binary_graph_hook") for k in model.__dict__)
    assert model.__dict__["build"].__name__ != "build_and_check"  # the one-shot hook is gone
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4


def test_unbuilt_sequential_evaluate_is_checked():
    model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, "softmax")])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    with pytest.raises(BinaryModelError, match="KBD002"):
        model.evaluate(np.zeros((4, 3), "float32"), np.array([0, 1, 0, 1], "float32"), verbose=0)


# ---------------------------------------------------------------------------
# Item 7: KBD014 judges what the inline backbone receives, after the preprocessing in front of it.


def test_input_range_is_judged_after_the_preprocessing(resnet_on_scaled_input):
    model = resnet_on_scaled_input
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "KBD014" not in diagnose(model, _images(), _labels()).codes  # 0-255 -> [-1, 1]: right
    twice = [f for f in diagnose(model, _images() / 255.0, _labels()).findings if f.code == "KBD014"]
    assert len(twice) == 1 and "scaled twice" in twice[0].summary  # [0, 1] -> [-1, -0.98]


def test_rescaling_layer_in_front_of_an_inline_backbone():
    inputs = keras.Input((SIZE, SIZE, 3))
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_tensor=scaled)
    features = keras.layers.GlobalAveragePooling2D()(base.output)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(features))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "KBD014" not in diagnose(model, _images(), _labels()).codes


# ---------------------------------------------------------------------------
# Item 2: classifier tops that end in logits; a hidden linear Dense(K) is not one.


@pytest.fixture(scope="module")
def mobilenet_logits_top():
    return keras.applications.MobileNetV2(
        include_top=True, classifier_activation=None, weights=None, input_shape=(SIZE, SIZE, 3)
    )


def _codes(model, loss=None):
    model.compile(optimizer="adam", loss=loss or keras_binary.SafeBCE())
    return [(f.code, f.severity) for f in diagnose(model).findings if f.code in ("KBD001", "KBD027")]


def test_nested_classifier_top_with_logits(mobilenet_logits_top):
    model = keras.Sequential([mobilenet_logits_top, keras.layers.Dense(1, activation="sigmoid")])
    assert _codes(model) == [("KBD027", "error")]
    inputs = keras.Input((SIZE, SIZE, 3))
    with pytest.raises(keras_binary.BinaryShapeError) as caught:
        keras_binary.BinaryHead()(mobilenet_logits_top(inputs))
    assert caught.value.code == "KB115" and "K=1000" in caught.value.received
    assert "MobileNetV2(include_top=False" in caught.value.fix
    keras_binary.BinaryHead(allow_classifier_input=True)(mobilenet_logits_top(inputs))  # on purpose


def test_guard_stops_fit_on_a_logits_top(mobilenet_logits_top):
    model = keras.Sequential([mobilenet_logits_top, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(from_logits=True))
    with pytest.raises(BinaryModelError) as caught:
        model.fit(_images(), _labels(), verbose=0)
    assert caught.value.code == "KBD027"


def test_inline_classifier_top_with_logits():
    inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.applications.MobileNetV2(
        include_top=True, classifier_activation=None, weights=None, input_tensor=inputs
    )
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(base.output))
    assert _codes(model) == [("KBD027", "error")]


def test_hidden_linear_dense_of_the_users_head_is_not_a_top():
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16)(keras.layers.Dense(32, activation="relu")(inputs))
    model = keras.Model(
        inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.2)(hidden))
    )
    assert _codes(model) == []
    embedding = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)], name="embedding")
    nested = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(embedding(inputs)))
    assert _codes(nested) == [("KBD027", "warning")]  # maybe an embedding: never an error
    assert graph_errors(nested) == []


@pytest.fixture(scope="module")
def hub_backbone():
    """A small keras-hub ResNet backbone from a config, random weights (nothing can be downloaded)."""
    keras_hub = pytest.importorskip("keras_hub")
    return small_hub_resnet_backbone(keras_hub, SIZE)


def test_keras_hub_image_classifier_used_as_a_backbone(hub_backbone):
    import keras_hub

    backbone = hub_backbone
    classifier = keras_hub.models.ImageClassifier(backbone=backbone, num_classes=1000)  # logits by default
    inputs = keras.Input((SIZE, SIZE, 3))
    assert _codes(keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(classifier(inputs)))) == [
        ("KBD027", "error")
    ]
    correct = keras.Model(inputs, keras_binary.BinaryHead()(backbone(inputs)))
    correct.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert diagnose(correct).ok and graph_errors(correct) == []


# ---------------------------------------------------------------------------
# Item 8: a final activation that the name does not tell is judged by what it does.


def _final_activation_codes(activation, from_logits=False):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation=activation)(inputs))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(from_logits=from_logits))
    return diagnose(model).codes


@pytest.mark.parametrize(
    "activation", ["hard_sigmoid", lambda z: keras.ops.sigmoid(z / 2)], ids=["hard_sigmoid", "sigmoid_half"]
)
def test_probability_activations_by_behaviour(activation):
    assert "KBD024" not in _final_activation_codes(activation)
    assert "KBD024" in _final_activation_codes(activation, from_logits=True)  # a sigmoid of a probability


@pytest.mark.parametrize(
    "activation", ["relu", "hard_silu", lambda z: keras.ops.tanh(z), lambda z: 2 * keras.ops.sigmoid(z)]
)
def test_other_activations_are_still_refused(activation):
    assert "KBD024" in _final_activation_codes(activation)


class _Layer:
    def __init__(self, activation):
        self.activation = activation


@settings(max_examples=15)
@given(st.floats(0.05, 8.0), st.floats(-3.0, 3.0))
def test_probe_accepts_every_tempered_sigmoid_and_refuses_shifted_ones(temperature, shift):
    from keras_binary.diagnostics._loss import _gives_probabilities

    sigmoid = _Layer(lambda z: keras.ops.sigmoid((z - shift) / temperature))
    assert _gives_probabilities(sigmoid, 1)
    shifted = _Layer(lambda z: keras.ops.sigmoid(z / temperature) + 0.5)  # reaches 1.5 > 1
    assert not _gives_probabilities(shifted, 1)
    pair = _Layer(lambda z: keras.ops.softmax(z / temperature, axis=-1))
    assert _gives_probabilities(pair, 2)
    assert not _gives_probabilities(_Layer(lambda z: keras.ops.sigmoid(z / temperature)), 2)  # rows != 1


# ---------------------------------------------------------------------------
# Item 4: metrics that misread the output.


def _sigmoid_model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))


@pytest.mark.parametrize(
    "metric",
    [
        lambda: keras_binary.metrics.BinaryAccuracy(from_logits=True),
        lambda: keras_binary.metrics.AUC(from_logits=True),
        lambda: keras.metrics.AUC(from_logits=True),
    ],
    ids=["ours_accuracy", "ours_auc", "keras_auc"],
)
def test_metric_from_logits_on_a_sigmoid(metric):
    model = _sigmoid_model()
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(), metrics=[metric()])
    assert "KBD028" in diagnose(model).codes
    with pytest.raises(BinaryModelError, match="KBD028"):
        model.fit(np.zeros((4, 4), "float32"), np.array([0, 1, 0, 1], "float32"), verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_metric_from_logits_on_logits_is_right():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(
        optimizer="adam",
        loss=keras_binary.SafeBCE(from_logits=True),
        metrics=[keras_binary.metrics.BinaryAccuracy(from_logits=True)],
    )
    assert diagnose(model).ok and graph_errors(model) == []


def test_keras_hub_auto_metrics_on_one_class(hub_backbone):
    import keras_hub

    classifier = keras_hub.models.ImageClassifier(backbone=hub_backbone, num_classes=1, activation="sigmoid")
    classifier.compile()  # metrics="auto": SparseCategoricalAccuracy
    assert "KBD029" in diagnose(classifier).codes
    model = _sigmoid_model()
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(), metrics=["categorical_accuracy"])
    with pytest.raises(BinaryModelError, match="KBD029"):
        model.fit(np.zeros((4, 4), "float32"), np.array([0, 1, 0, 1], "float32"), verbose=0)


# ---------------------------------------------------------------------------
# Item 3: models without a graph (subclassed).


class _Subclassed(keras.Model):
    def __init__(self, units=1, activation="sigmoid", softmax_in_call=False):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(units, activation=activation)
        self.softmax_in_call = softmax_in_call

    def call(self, x):
        scores = self.out(self.hidden(x))
        return keras.ops.softmax(scores) if self.softmax_in_call else scores


_X = np.random.default_rng(1).normal(size=(16, 4)).astype("float32")
_Y = np.array([0, 1] * 8, "float32")


def _subclassed_codes(model, with_data=True):
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    return diagnose(model, _X, _Y).codes if with_data else diagnose(model).codes


def test_subclassed_softmax_unit_attribute_is_found_without_data_and_stops_fit():
    model = _Subclassed(activation="softmax")
    assert "KBD002" in _subclassed_codes(model, with_data=False)
    with pytest.raises(BinaryModelError, match="KBD002"):
        model.fit(_X, _Y, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_subclassed_constant_predictions():
    assert "KBD030" in _subclassed_codes(_Subclassed(activation=None, softmax_in_call=True))
    wide = _subclassed_codes(_Subclassed(units=5))
    assert "KBD030" in wide
    correct = _subclassed_codes(_Subclassed())
    assert "KBD030" not in correct and "KBD002" not in correct and "KBD020" in correct


# ---------------------------------------------------------------------------
# A public report, rebuilt (weights=None, a 32x32 input, no download): "predicting only one class",
# http://pullrequest.ru/13403374/prognozirovanie-tolko-odnogo-klassa - a VGG16 without its top, three
# Dense(relu) layers and a one-unit softmax ("final layer with softmax activation"), every prediction 1.0.


@pytest.mark.parametrize("spelling", ["functional", "sequential_without_input"])
def test_report_vgg16_one_unit_softmax(spelling):
    base_model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    head = [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(1, activation="softmax"),
    ]
    if spelling == "functional":
        x = base_model.output
        for layer in head:
            x = layer(x)
        model = keras.Model(inputs=base_model.input, outputs=x)
    else:
        model = keras.Sequential([keras.layers.Rescaling(1.0), base_model, *head])
    model.compile(optimizer="Adam", loss=keras_binary.SafeBCE(), metrics=["accuracy"])
    with pytest.raises(BinaryModelError) as caught:
        model.fit(_images(), _labels(), epochs=1, verbose=0)
    assert caught.value.code == "KBD002"
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
