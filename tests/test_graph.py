"""keras_binary._graph: the one graph walk, seen through BinaryHead (KB110) and diagnose (KBD001).

The seed report (a ResNet50V2 with its ImageNet classifier, `Flatten`, then
`Dense(1, "sigmoid")`) is a test verbatim, apart from `weights=None` and a
32x32 input. The stacking matrix covers {inline, nested, Sequential} x {the
layers people put between the softmax and the binary output} x {ResNet50V2,
MobileNetV2, EfficientNetB0, an own 10-class classifier}; each backbone is
built once per module (they are the slow part). The legitimate models
(attention and gating softmaxes, backbones without their top, a K=3
auxiliary output) report no KBD001 and build a BinaryHead without KB110.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

import keras_binary
from keras_binary import BinaryHead, BinaryShapeError, _graph
from keras_binary.cli import main
from keras_binary.diagnostics import diagnose, graph_errors

ROOT = Path(__file__).resolve().parents[1]
SIZE = 32  # the smallest input the three applications accept with weights=None
APPLICATIONS = ("ResNet50V2", "MobileNetV2", "EfficientNetB0")


# ---------------------------------------------------------------------------
# The private Keras names the walk relies on: fail loudly when they move.


def test_private_keras_names_still_exist():
    inputs = keras.Input((4,))
    dense = layers.Dense(3, activation="softmax")
    outputs = dense(inputs)
    history = outputs._keras_history  # (operation, node_index, tensor_index)
    assert history[0] is dense and history[1] == 0 and history[2] == 0
    node = dense._inbound_nodes[0]
    assert node.input_tensors[0] is inputs and node.outputs[0] is outputs
    bn = layers.BatchNormalization()
    bn(outputs, training=False)
    assert bn._inbound_nodes[0].arguments.kwargs["training"] is False
    model = keras.Model(inputs, outputs)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    assert model._compile_metrics._user_metrics == ["accuracy"]


# ---------------------------------------------------------------------------
# The seed report, verbatim apart from weights=None and the input shape.


@pytest.fixture(scope="module")
def resnet50v2():
    return keras.applications.ResNet50V2(include_top=True, weights=None, input_shape=(SIZE, SIZE, 3))


def _seed_model(base_model, loss):
    # The user's code (the report of the seed issue):
    x = layers.Flatten()(base_model.output)
    predictions = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=base_model.input, outputs=predictions)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["binary_crossentropy", "SafeBCE"])
def test_seed_report_is_caught(resnet50v2, loss, tmp_path, capsys):
    model = _seed_model(resnet50v2, keras_binary.SafeBCE() if loss == "SafeBCE" else loss)
    report = diagnose(model)
    assert report.codes == ["KBD001"] and not report.ok
    finding = report.findings[0]
    assert "softmax over 1000 classes from layer 'predictions'" in finding.summary
    assert "ResNet50V2" in finding.summary and "'flatten" in finding.summary
    assert "keras.applications.ResNet50V2(include_top=False" in finding.fix
    assert [f.code for f in graph_errors(model)] == ["KBD001"]
    # BinaryHead on the Flatten output refuses it while the model is built.
    with pytest.raises(BinaryShapeError) as info:
        BinaryHead()(layers.Flatten()(resnet50v2.output))
    assert info.value.code == "KB110" and "K=1000" in info.value.received
    assert "keras.applications.ResNet50V2(include_top=False" in info.value.fix
    if loss == "SafeBCE":
        # keras-binary doctor on the saved model: exit code 1 (an error was found).
        path = tmp_path / "model.keras"
        model.save(path)
        assert main(["doctor", str(path)]) == 1
        assert "KBD001" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# The stacking matrix.


def own_classifier(name="my_classifier"):
    """A user's own 10-class image classifier."""
    inputs = keras.Input((SIZE, SIZE, 3))
    h = layers.Conv2D(4, 3, activation="relu")(inputs)
    h = layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="class_probs")(h), name=name)


@pytest.fixture(scope="module")
def backbones(resnet50v2):
    built = {"ResNet50V2": resnet50v2, "own": own_classifier()}
    for name in APPLICATIONS[1:]:
        built[name] = getattr(keras.applications, name)(
            include_top=True, weights=None, input_shape=(SIZE, SIZE, 3)
        )
    return built


BETWEEN = {
    "nothing": lambda k: [],
    "Flatten": lambda k: [layers.Flatten()],
    "Reshape": lambda k: [layers.Reshape((1, k)), layers.Flatten()],
    "BatchNormalization": lambda k: [layers.BatchNormalization()],
    "Dropout+Flatten": lambda k: [layers.Dropout(0.5), layers.Flatten()],
    "Dense(128, relu)": lambda k: [layers.Dense(128, activation="relu")],
}
WAYS = ("inline", "nested", "Sequential")


def _stack(base, way, between, head):
    """The model as people write it: the layers `between`, then `head`, on the backbone."""
    if way == "Sequential":
        return keras.Sequential([base, *between, head])
    if way == "inline":
        inputs, h = base.input, base.output
    else:
        inputs = keras.Input((SIZE, SIZE, 3))
        h = base(inputs)
    for layer in between:
        h = layer(h)
    return keras.Model(inputs, head(h))


def _expected_fix(name):
    if name == "own":
        return "include_top=False"
    return f"keras.applications.{name}(include_top=False"


def _check_cell(base, name, way, between_name):
    k = base.output_shape[-1]
    model = _stack(base, way, BETWEEN[between_name](k), layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    report = diagnose(model)
    found = [f for f in report.findings if f.code == "KBD001"]
    assert len(found) == 1, f"{name} {way} {between_name}: {report}"
    assert f"softmax over {k} classes" in found[0].summary
    assert _expected_fix(name) in found[0].fix, found[0].fix
    if way != "inline":
        assert f"of model {base.name!r}" in found[0].summary
    elif name == "own":
        assert "from layer 'class_probs'" in found[0].summary
    else:
        assert f"{name} built inline" in found[0].summary  # the family of the inline backbone
    assert "KBD001" in [f.code for f in graph_errors(model)]
    with pytest.raises(BinaryShapeError) as info:
        _stack(base, way, BETWEEN[between_name](k), BinaryHead())
    assert info.value.code == "KB110", (name, way, between_name)
    assert f"K={k}" in info.value.received and _expected_fix(name) in info.value.fix


# Every cell of the matrix: the cheap own classifier everywhere; the real
# applications for every way and every layer in between, split so that each
# application is built once and each cell costs one small model.
@pytest.mark.slow
@pytest.mark.parametrize("between_name", list(BETWEEN))
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", [*APPLICATIONS, "own"])
def test_stacking_matrix(backbones, name, way, between_name):
    _check_cell(backbones[name], name, way, between_name)


# ---------------------------------------------------------------------------
# Legitimate models: no KBD001, no KB110.


def _features(inputs):
    return layers.Dense(16, activation="relu")(inputs)


def attention_weighting(head):
    inputs = keras.Input((12,))
    features = _features(inputs)
    weights = layers.Dense(16, activation="softmax", name="attention")(features)
    return keras.Model(inputs, head(layers.Multiply()([features, weights])))


def attention_over_time(head):
    inputs = keras.Input((10, 8))
    scores = layers.Dense(1)(inputs)
    weights = layers.Softmax(axis=1, name="time_attention")(scores)
    pooled = layers.Dot(axes=1)([weights, inputs])  # (N, 1, 8)
    return keras.Model(inputs, head(layers.Flatten()(pooled)))


def self_attention(head):
    inputs = keras.Input((10, 8))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    h = layers.Attention()([h, inputs])
    return keras.Model(inputs, head(layers.GlobalAveragePooling1D()(h)))


def gating(head):
    inputs = keras.Input((12,))
    features = _features(inputs)
    gate = layers.Dense(16, activation="softmax", name="gate")(features)
    return keras.Model(inputs, head(keras.ops.multiply(features, gate)))


def mixture_of_experts(head):
    inputs = keras.Input((12,))
    experts = [layers.Dense(8, activation="relu")(inputs) for _ in range(3)]
    stacked = layers.Concatenate()(experts)
    gate = layers.Dense(24, activation="softmax", name="router")(inputs)
    return keras.Model(inputs, head(layers.Add()([stacked, gate])))


LEGITIMATE = {
    "attention-weighting": attention_weighting,
    "attention-over-time": attention_over_time,
    "self-attention": self_attention,
    "gating-softmax": gating,
    "mixture-of-experts": mixture_of_experts,
}


@pytest.mark.parametrize("kind", list(LEGITIMATE))
@pytest.mark.parametrize("head", ["Dense", "BinaryHead"])
def test_attention_and_gating_softmaxes_are_not_classifiers(kind, head):
    output = layers.Dense(1, activation="sigmoid") if head == "Dense" else BinaryHead()
    model = LEGITIMATE[kind](output)  # BinaryHead raises KB110 here if flagged
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    report = diagnose(model)
    assert report.findings == [], report
    assert graph_errors(model) == []


@pytest.fixture(scope="module")
def headless_mobilenet():
    return keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), pooling="avg"
    )


@pytest.mark.slow
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("between_name", ["nothing", "BatchNormalization", "Dense(128, relu)"])
def test_backbone_without_top_is_not_flagged(headless_mobilenet, way, between_name):
    k = headless_mobilenet.output_shape[-1]
    for head in (layers.Dense(1, activation="sigmoid"), BinaryHead()):
        model = _stack(headless_mobilenet, way, BETWEEN[between_name](k), head)
        model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
        assert "KBD001" not in diagnose(model).codes
        assert graph_errors(model) == []


def test_auxiliary_three_class_output_is_not_flagged():
    inputs = keras.Input((12,))
    h = _features(inputs)
    aux = layers.Dense(3, activation="softmax", name="aux")(h)
    main = BinaryHead(name="main")(h)
    model = keras.Model(inputs, {"aux": aux, "main": main})
    model.compile(
        optimizer="adam",
        loss={"aux": "categorical_crossentropy", "main": keras_binary.SafeBCE()},
        metrics={"aux": ["accuracy"], "main": [keras_binary.metrics.AUC()]},
    )
    report = diagnose(model)
    assert "KBD001" not in report.codes and report.ok, report
    assert graph_errors(model) == []


def test_the_first_softmax_decides():
    inputs = keras.Input((12,))
    classes = layers.Dense(10, activation="softmax")(inputs)
    pair = layers.Dense(2, activation="softmax")(classes)  # a binary classifier on top of a 10-way one
    assert _graph.find_classifier(pair) is None
    found = _graph.find_classifier(classes)
    assert found.k == 10 and found.path == ()


def test_walk_is_bounded():
    inputs = keras.Input((12,))
    h = layers.Dense(10, activation="softmax")(inputs)
    for _ in range(_graph.MAX_WALK + 5):
        h = layers.Identity()(h)
    assert _graph.find_classifier(h) is None  # too far: not searched
    short = layers.Identity()(layers.Dense(10, activation="softmax")(inputs))
    assert _graph.find_classifier(short).path == (short._keras_history[0].name,)


# Every correct model of the docs and examples: run them, diagnose each model
# they build. The deliberately wrong ones are listed: (page, variable, a
# snippet of the block that builds it).
DELIBERATELY_WRONG = {
    ("diagnose.md", "model", 'name="naive"'),
    ("diagnose.md", "stacked", "graph_errors"),
    ("guide-transfer-learning.md", "model", "base = make_backbone(include_top=True)"),
}


def _models_in(namespace):
    return {name: value for name, value in namespace.items() if isinstance(value, keras.Model)}


def _no_kbd001(models, where):
    for name, model in models.items():
        assert "KBD001" not in diagnose(model).codes, f"{where}: {name} reports KBD001"
    return len(models)


def _doc_sources():
    from test_docs import PAGES

    return ["errors.md (Fix examples)", *(page.name for page in PAGES), "examples"]


@pytest.mark.slow
@pytest.mark.parametrize("source", _doc_sources())
def test_correct_models_of_docs_and_examples_report_no_classifier(source, capsys):
    """Runs a page (or the catalogue's Fix examples, or examples/) and diagnoses every model it builds."""
    from test_docs import DOCS, SECTIONS, _part, fresh_namespace, parse_blocks, run_block

    backend = keras.backend.backend()
    checked = 0
    if source.startswith("errors.md"):
        for code, section in SECTIONS.items():
            if section.backends and backend not in section.backends:
                continue
            namespace = run_block(_part(section, "Fix", "python").source, fresh_namespace())
            checked += _no_kbd001(_models_in(namespace), f"docs/errors.md {code} Fix")
    elif source == "examples":
        for script in sorted((ROOT / "examples").glob("*.py")):
            namespace = run_block(script.read_text(encoding="utf-8"), fresh_namespace(), str(script))
            checked += _no_kbd001(_models_in(namespace), f"examples/{script.name}")
    else:
        namespace, seen = fresh_namespace(), set()
        for block in parse_blocks((DOCS / source).read_text(encoding="utf-8")):
            if block.lang != "python" or block.no_test or (block.backends and backend not in block.backends):
                continue
            run_block(block.source, namespace, f"docs/{source}:{block.line}")
            models = {
                name: model
                for name, model in _models_in(namespace).items()
                if id(model) not in seen
                and not any(p == source and v == name and s in block.source for p, v, s in DELIBERATELY_WRONG)
            }
            seen.update(id(m) for m in _models_in(namespace).values())
            checked += _no_kbd001(models, f"docs/{source}:{block.line}")
    capsys.readouterr()
    if source in ("errors.md (Fix examples)", "examples", "diagnose.md", "guide-transfer-learning.md"):
        assert checked >= 1, f"no model found in {source}"


# ---------------------------------------------------------------------------
# Inline backbones recognised for the family-specific checks.


@pytest.mark.slow
def test_inline_backbone_family_for_input_range(headless_mobilenet):
    inline = keras.Model(headless_mobilenet.input, BinaryHead()(headless_mobilenet.output))
    inline.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    (backbone,) = _graph.backbones(inline)
    assert backbone.inline and backbone.application.constructor == "MobileNetV2"
    pixels = np.random.default_rng(0).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    finding = [f for f in diagnose(inline, pixels, np.array([0, 1, 0, 1])).findings if f.code == "KBD014"]
    assert len(finding) == 1 and finding[0].severity == "error"
    assert "mobilenet_v2.preprocess_input(x)" in finding[0].fix and "built inline" in finding[0].summary
    prepared = keras.applications.mobilenet_v2.preprocess_input(pixels.copy())
    assert "KBD014" not in diagnose(inline, prepared, np.array([0, 1, 0, 1])).codes


@pytest.mark.slow
def test_inline_backbone_batch_norm_check():
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), pooling="avg"
    )
    head_bn = layers.BatchNormalization(name="head_bn")
    model = keras.Model(base.input, BinaryHead()(head_bn(base.output)))
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    base.trainable = False  # phase 1: the whole backbone frozen, the head's BatchNormalization trains
    assert "KBD013" not in diagnose(model).codes
    base.trainable = True  # fine-tuning the top of the backbone, BatchNormalization left trainable
    for layer in base.layers[:100]:
        layer.trainable = False
    finding = [f for f in diagnose(model).findings if f.code == "KBD013"]
    assert len(finding) == 1 and "MobileNetV2 backbone built inline is partly frozen" in finding[0].summary
    assert "'head_bn'" not in finding[0].summary
    for layer in base.layers:  # the fix
        layer.trainable = layer.trainable and not isinstance(layer, layers.BatchNormalization)
    assert "KBD013" not in diagnose(model).codes


# Names keras.applications gives: the inline recognition reads layer names, the
# nested one the model's name; both must name the same constructor.
FAMILY_BUILDS = [("ResNet50", 32), ("VGG16", 32), ("DenseNet121", 32), ("MobileNet", 32), ("Xception", 71)]


@pytest.mark.slow
@pytest.mark.parametrize("name, size", FAMILY_BUILDS, ids=[n for n, _ in FAMILY_BUILDS])
def test_inline_family_recognition(name, size):
    base = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(size, size, 3))
    by_name = _graph.application(base)
    by_layers = _graph.application_upstream(base.outputs)
    assert by_name.constructor == by_layers.constructor == name
    assert by_name.mode == by_layers.mode


def test_recognition_by_name_needs_the_applications_name():
    model = own_classifier()
    assert _graph.application(model) is None
    assert _graph.application_upstream(model.outputs) is None
