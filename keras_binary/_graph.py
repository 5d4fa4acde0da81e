"""Walking Keras graphs: the one place that reads a model's structure.

A functional or `Sequential` model is a graph of `Node`s, one per layer call
(`keras.src.ops.node`): every `KerasTensor` carries a `_keras_history`
`(operation, node_index, tensor_index)` pointing at the call that produced
it, and a node keeps the tensors of its call (`node.input_tensors`) and its
arguments (`node.arguments.kwargs`, where `training=False` is recorded, also
after a `.keras` file is loaded). Keras documents this walk in `Node`'s
docstring; there is no public API for it, so it is done here only, and
tests/test_graph.py fails loudly if these private names move. Every other
module (BinaryHead's build-time checks, `diagnose`, `convert_head`) asks its
questions through this module:

- what produces this tensor, and with which activation (`producer`,
  `describe_output`);
- is there a classifier upstream (`find_classifier`): a softmax or a
  log-softmax over K > 2 units on the last axis;
- which `keras.applications` family a model, or the layers of a backbone
  built inline from `base.input`, belong to (`application`,
  `application_upstream`, `backbones`).

Where the classifier walk goes, and where it stops. From a tensor (a binary
output layer's input, or `BinaryHead`'s input) it follows the chain of
single-input layer calls back: `Flatten`, `Reshape`, `Dense` (any
activation), `BatchNormalization`, `LayerNormalization`, every `Dropout` and
noise layer, `Activation`, `ActivityRegularization`, `Identity`, pooling and
any layer it does not know, for at most `MAX_WALK` calls, and into models
used as layers (nested backbones, `Sequential([base, ...])`). It stops, with
no classifier found, at:

- the first softmax of any other kind (over 2 units, or over another axis):
  the first softmax on the chain decides;
- a call with several input tensors (`Multiply`, `Add`, `Concatenate`,
  `Dot`, `Attention`, `MultiHeadAttention`, `keras.ops.multiply`, ...): a
  softmax combined with other features is an attention or gating weight, not
  a classifier, so an attention softmax that weights features and a gating
  softmax multiplied into features are not flagged;
- a model input, an input of a nested model, or an operation with no graph.

So a backbone with `include_top=False` (with or without pooling) has no
classifier upstream, and the K = 3 auxiliary output of a multi-output model
is not on the path of its binary output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import keras

# The classifier walk follows at most this many layer calls.
MAX_WALK = 64

_SOFTMAX_NAMES = ("softmax", "log_softmax")
_LINEAR = ("linear", None)

# Layers that are random in training only (dropout and noise) and pass their
# input through unchanged at inference.
TRAINING_NOISE = (
    "Dropout",
    "AlphaDropout",
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
)

# Layers that pass their input through unchanged at inference: between a
# model's output and the layer that computes its scores.
_PASS_THROUGH = (*TRAINING_NOISE, "Identity", "ActivityRegularization")


# ---------------------------------------------------------------------------
# Nodes and producers.


class Step(NamedTuple):
    """The call that produced a tensor."""

    operation: Any  # the layer or keras.ops operation
    node: Any  # its Node for this call
    index: int  # which of the call's outputs the tensor is


def producer(tensor: Any) -> Step | None:
    """The call that produced a symbolic tensor, or `None` (not a Keras graph tensor)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index, tensor_index = history
    nodes = getattr(operation, "_inbound_nodes", None) or []
    if operation is None or node_index >= len(nodes):
        return None
    return Step(operation, nodes[node_index], tensor_index)


def calls(layer: Any) -> list[Any]:
    """The nodes of every call of a layer in a graph (more than one: a shared layer)."""
    return list(getattr(layer, "_inbound_nodes", None) or [])


def input_tensors(node: Any) -> list[Any]:
    """The tensors a call received."""
    return list(getattr(node, "input_tensors", None) or [])


def call_kwargs(node: Any) -> dict:
    """The keyword arguments recorded for a call (e.g. `training=False`)."""
    arguments = getattr(node, "arguments", None)
    return dict(getattr(arguments, "kwargs", None) or {})


def model_outputs(model: Any) -> list[Any]:
    """A model's output tensors; `[]` for a model without a graph."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return []
    return list(outputs or [])


def model_inputs(model: Any) -> list[Any]:
    """A model's input tensors; `[]` for a model without a graph."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    return list(inputs or [])


def is_layer(operation: Any) -> bool:
    """Whether an operation of a graph is a layer (not a raw `keras.ops` call such as `inputs / 127.5`)."""
    return isinstance(operation, keras.layers.Layer)


def is_graph_model(layer: Any) -> bool:
    """Whether `layer` is a model with a functional graph (functional or built Sequential)."""
    return isinstance(layer, keras.Model) and bool(model_outputs(layer))


def upstream_nodes(tensors: Any) -> list[Any]:
    """The nodes upstream of some tensors, in one graph (nested models not entered), latest first."""
    seen: set[int] = set()
    nodes = []
    stack = list(tensors)
    while stack:
        found = producer(stack.pop())
        if found is None:
            continue
        node = found.node
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(input_tensors(node))
    return nodes


def graph_nodes(model: Any) -> list[Any]:
    """The nodes (layer calls) of a model's own graph, outputs first."""
    return upstream_nodes(model_outputs(model))


def owner_text(model: Any) -> str:
    """`" of model 'name'"` for a model used as a layer, `""` for none."""
    return f" of model {model.name!r}" if model is not None else ""


def all_nodes(model: Any, owner: str = "") -> Iterator[tuple[Any, str]]:
    """Every node of the model and of the models used inside it, with `owner_text` of its model."""
    for node in graph_nodes(model):
        yield node, owner
        if is_graph_model(node.operation):
            yield from all_nodes(node.operation, owner_text(node.operation))


def sublayers(layer: Any) -> Iterator[Any]:
    """The layers of a model, recursively (models inside models)."""
    for sub in getattr(layer, "layers", []) or []:
        yield sub
        if isinstance(sub, keras.Model):
            yield from sublayers(sub)


def output_layer(tensor: Any) -> Any:
    """The layer (or operation) that produced `tensor`, or `None`."""
    found = producer(tensor)
    return found.operation if found else None


# ---------------------------------------------------------------------------
# Activations.


def activation_name(activation: Any) -> str | None:
    """The registered name of a Keras activation (string or function)."""
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation.lower()
    return getattr(activation, "__name__", None)


def activation_of(operation: Any) -> tuple[str | None, bool]:
    """`(activation name, decided)` for an operation at the end of a model.

    `decided` is `False` for an operation that applies no activation of its
    own (a linear `Activation`, a layer without an `activation`).
    """
    kind = type(operation).__name__
    if kind == "BinaryHead":
        return (operation.activation or "linear"), True
    if kind in ("Softmax", "LogSoftmax"):  # the layer or the keras.ops operation
        return ("softmax" if kind == "Softmax" else "log_softmax"), True
    if kind in ("Sigmoid", "LogSigmoid"):
        return ("sigmoid" if kind == "Sigmoid" else "log_sigmoid"), True
    if kind in ("ReLU", "LeakyReLU", "ELU", "PReLU"):  # activation layers
        return kind.lower(), True
    if hasattr(operation, "activation"):
        name = activation_name(operation.activation)
        if kind == "Activation" and name in _LINEAR:
            return None, False  # a pass-through
        return (name or "linear"), True
    return None, False


def softmax_axis(operation: Any) -> int | None:
    """The axis a softmax or log-softmax operation normalises, or `None` if it is none."""
    kind = type(operation).__name__
    if kind in ("Softmax", "LogSoftmax"):
        axis = getattr(operation, "axis", -1)
        if isinstance(axis, (list, tuple)):
            return axis[0] if len(axis) == 1 else None
        return axis if isinstance(axis, int) else None
    if kind == "BinaryHead":
        return None
    name = activation_name(getattr(operation, "activation", None))
    return -1 if name in _SOFTMAX_NAMES else None


class Output(NamedTuple):
    """What a model emits at one output."""

    tensor: Any
    activation: str | None  # "sigmoid", "softmax", "linear", another name, or None if unknown
    units: int | None  # size of the last axis
    head: Any  # the layer that computes the scores (Dense, BinaryHead, ...), or None
    head_input: Any  # the head's input tensor, or None
    activation_layer: Any  # the layer or op that applies the activation, or None
    owner: str  # " of model 'x'" when the head is inside a model used as a layer


_ACTIVATION_KINDS = (
    "Activation",
    "Softmax",
    "LogSoftmax",
    "Sigmoid",
    "LogSigmoid",
    "ReLU",
    "LeakyReLU",
    "ELU",
)


def describe_output(tensor: Any) -> Output:
    """What produces a model's output: the scoring layer, its input, and the final activation.

    Walks back from the output through pass-through layers (dropout,
    identity), activation layers (the activation is then the layer's, and the
    scores come from the layer before) and into models used as layers.
    """
    activation, activation_layer, head, head_input, owner = None, None, None, None, ""
    shape = tuple(tensor.shape)
    units = shape[-1] if shape else None
    current = tensor
    for _ in range(MAX_WALK):
        found = producer(current)
        if found is None:
            break
        operation, node, index = found
        if is_graph_model(operation):
            owner = owner_text(operation)
            current = model_outputs(operation)[index]
            continue
        kind = type(operation).__name__
        name, decided = activation_of(operation)
        inputs = input_tensors(node)
        if decided and activation is None:
            activation, activation_layer = name, operation
            if kind in _ACTIVATION_KINDS and len(inputs) == 1:
                current = inputs[0]  # the scores come from the layer before
                continue
        if decided or hasattr(operation, "units") or hasattr(operation, "filters"):
            head = operation
            head_input = inputs[0] if len(inputs) == 1 else None
            break
        if (kind in _PASS_THROUGH or kind == "Activation") and len(inputs) == 1:
            current = inputs[0]
            continue
        break
    return Output(tensor, activation, units, head, head_input, activation_layer, owner)


# ---------------------------------------------------------------------------
# A classifier upstream.


class Classifier(NamedTuple):
    """A classifier over K > 2 classes found upstream of a tensor: a softmax, or a top's logits."""

    layer: Any  # the layer or operation that applies the softmax (the linear Dense, for logits)
    k: int  # the number of classes
    model: Any  # the innermost model used as a layer that holds it, or None
    path: tuple[str, ...]  # the layers walked through, from the tensor back to the softmax
    application: Application | None  # the keras.applications family it belongs to, if known
    logits: bool = False  # a classifier top without its softmax (classifier_activation=None)
    certain: bool = True  # False: only "a nested model ends in a linear Dense(K)", no top recognised

    @property
    def where(self) -> str:
        """`" of model 'name'"`, or where an inline backbone's layers came from."""
        if self.model is not None:
            return owner_text(self.model)
        if self.application is not None:
            return f" of a keras.applications {self.application.label} built inline (base.output)"
        return ""

    @property
    def constructor(self) -> str | None:
        """The `keras.applications` constructor to call with `include_top=False`, if known."""
        return self.application.constructor if self.application is not None else None

    def rebuild(self) -> str:
        """One line of code (or a sentence) that rebuilds the backbone without the classifier."""
        if self.constructor:
            return f"backbone = keras.applications.{self.constructor}(include_top=False, weights=...)"
        if self.application is not None:
            return f"rebuild the {self.application.label} backbone with include_top=False"
        return "build the backbone without its classifier (include_top=False, or take the layer before the softmax)"


def find_classifier(tensor: Any) -> Classifier | None:
    """A softmax over K > 2 classes upstream of `tensor`, through per-example layers.

    See the module's docstring for where the walk goes and where it stops.

    Returns:
        A `Classifier`, or `None`.
    """
    model, path = None, []
    for _ in range(MAX_WALK):
        found = producer(tensor)
        if found is None:
            return None
        operation, node, index = found
        if is_graph_model(operation):
            model = operation  # continue inside the model used as a layer
            tensor = model_outputs(operation)[index]
            continue
        axis = softmax_axis(operation)
        if axis is not None:
            shape = tuple(tensor.shape)
            k = shape[-1] if shape else None
            if axis in (-1, len(shape) - 1) and isinstance(k, int) and k > 2:
                inputs = input_tensors(node)
                app = application(model) if model is not None else application_upstream(inputs)
                return Classifier(operation, k, model, tuple(path), app)
            return None  # the first softmax on the chain decides
        inputs = input_tensors(node)
        if len(inputs) != 1:
            return None  # an input layer, or a call combining several tensors
        path.append(getattr(operation, "name", type(operation).__name__))
        tensor = inputs[0]
    return None


def _linear_units(operation: Any, tensor: Any, named: bool = False) -> int | None:
    """K for linear class scores producing `tensor` with K > 2 units on its last axis, else `None`.

    A linear `Dense`, or (`named`: called `"predictions"`) a linear `Activation`,
    which ends the `include_top=True` MobileNetV3 (a 1x1 convolution, then
    `Flatten`).
    """
    kind = type(operation).__name__
    if not (kind == "Dense" or (named and kind == "Activation")):
        return None
    if activation_name(getattr(operation, "activation", None)) not in _LINEAR:
        return None
    shape = tuple(tensor.shape)
    k = shape[-1] if shape else None
    return k if isinstance(k, int) and k > 2 else None


def is_hub_classifier(model: Any) -> bool:
    """Whether `model` is a keras-hub classification task (e.g. `ImageClassifier`), logits by default."""
    kind = type(model)
    return kind.__module__.startswith("keras_hub") and kind.__name__.endswith("Classifier")


# The name keras.applications (include_top=True) and keras-hub classifiers give their class scores.
TOP_NAME = "predictions"


def find_logit_classifier(tensor: Any) -> Classifier | None:
    """A classifier top that ends in logits (K > 2 linear units) upstream of `tensor`.

    The rule, which docs/diagnose.md states: walking back as `find_classifier`
    does (stopping at any softmax and at calls that combine tensors), a linear
    `Dense(K > 2)` is a classifier top (`certain=True`) when it is the
    `"predictions"` layer of a nested model or of an inline recognised
    `keras.applications` backbone, or the output layer of a nested model that
    is a recognised `keras.applications` model or a keras-hub classifier.
    The output layer of any other nested model is reported as uncertain (a
    sub-model that ends in K linear scores may be an embedding); a linear
    `Dense(K)` of the user's own graph is a hidden layer, never a top.

    Returns:
        A `Classifier` with `logits=True`, or `None`.
    """
    model, path, entered = None, [], False
    for _ in range(MAX_WALK):
        found = producer(tensor)
        if found is None:
            return None
        operation, node, index = found
        if is_graph_model(operation):
            model, entered = operation, True
            tensor = model_outputs(operation)[index]
            continue
        if softmax_axis(operation) is not None:
            return None  # find_classifier's case
        inputs = input_tensors(node)
        named = getattr(operation, "name", "") == TOP_NAME
        k = _linear_units(operation, tensor, named)
        if k is not None and (entered or named):
            app = application(model) if model is not None else application_upstream(inputs)
            hub = model is not None and is_hub_classifier(model)
            certain = (named and (model is not None or app is not None)) or (entered and (app or hub))
            if certain or entered:
                return Classifier(operation, k, model, tuple(path), app, True, bool(certain))
        if len(inputs) != 1:
            return None
        if operation.__class__.__name__ not in _PASS_THROUGH:
            entered = False  # only the model's own output layer (behind dropout) counts
        path.append(getattr(operation, "name", type(operation).__name__))
        tensor = inputs[0]
    return None


# ---------------------------------------------------------------------------
# keras.applications families.


class Application(NamedTuple):
    """A `keras.applications` family, and the constructor when it is known."""

    family: str  # e.g. "ResNetV2"
    constructor: str | None  # e.g. "ResNet50V2"
    module: str  # the module of its preprocess_input, e.g. "resnet_v2"
    mode: str  # the range the network itself must receive: "tf", "torch", "caffe" or "raw"

    @property
    def label(self) -> str:
        return self.constructor or self.family


# (pattern on the model's name, family, preprocess module, mode). Modes, i.e.
# what the network itself must receive:
#   "tf": [-1, 1]; "torch": ImageNet mean/std normalised, about [-2.1, 2.6];
#   "caffe": BGR with the ImageNet mean subtracted, about [-124, 152];
#   "raw": 0-255 pixels (the network rescales them itself).
# Families whose preprocessing is optional inside the model ("auto") are "raw"
# with their Rescaling/Normalization layer, else the mode given after the colon.
FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    (r"^mobilenetv2_", "MobileNetV2", "mobilenet_v2", "tf"),
    (r"^mobilenet_\d", "MobileNet", "mobilenet", "tf"),
    (r"^mobilenetv3", "MobileNetV3", "mobilenet_v3", "auto:tf"),
    (r"^resnet\d+v2$", "ResNetV2", "resnet_v2", "tf"),
    (r"^resnet\d+$", "ResNet", "resnet", "caffe"),
    (r"^vgg1[69]$", "VGG", "vgg16", "caffe"),
    (r"^densenet\d+$", "DenseNet", "densenet", "torch"),
    (r"^inception_v3$", "InceptionV3", "inception_v3", "tf"),
    (r"^inception_resnet_v2$", "InceptionResNetV2", "inception_resnet_v2", "tf"),
    (r"^xception$", "Xception", "xception", "tf"),
    (r"^nasnet_", "NASNet", "nasnet", "tf"),
    (r"^efficientnetb\d$", "EfficientNet", "efficientnet", "raw"),
    (r"^efficientnetv2-", "EfficientNetV2", "efficientnet_v2", "auto:tf"),
    (r"^convnext_", "ConvNeXt", "convnext", "auto:torch"),
    (r"^regnet[xy]\d+", "RegNet", "regnet", "raw"),
)

# EfficientNetB0-B7 told apart by (number of blocks, filters of top_conv).
_EFFICIENTNET = {
    (16, 1280): 0,
    (23, 1280): 1,
    (23, 1408): 2,
    (26, 1536): 3,
    (32, 1792): 4,
    (39, 2048): 5,
    (45, 2304): 6,
    (55, 2560): 7,
}
_RESNET_DEPTH = {6: 50, 23: 101, 36: 152}
_DENSENET_DEPTH = {24: 121, 32: 169, 48: 201}


def _max_index(names: set[str], pattern: str) -> int:
    found = [int(m.group(1)) for n in names if (m := re.match(pattern, n))]
    return max(found) if found else 0


def _inline_match(layers: list[Any]) -> tuple[str, str] | None:
    """`(model name, last feature layer)` of the keras.applications model whose layers these are.

    A backbone used inline (`keras.Model(base.input, f(base.output))`) leaves
    its layers, not the model, in the graph; their names are the ones
    `keras.applications` gives them, which tell the family apart. The model
    name returned is the one `keras.applications` would give the model (with
    a depth or variant no constructor has when it cannot be told), and the
    layer the one that ends its features (the output with `include_top=False`).
    """
    names = {getattr(layer, "name", "") for layer in layers}
    has = names.__contains__
    conv4 = _max_index(names, r"^conv4_block(\d+)_")
    if has("conv2_block1_0_bn") and has("pool2_conv"):
        return f"densenet{_DENSENET_DEPTH.get(conv4, 0)}", "relu"
    if has("post_bn") and has("conv2_block1_preact_bn"):
        return f"resnet{_RESNET_DEPTH.get(conv4, 0)}v2", "post_relu"  # 0: a depth no constructor has
    if has("conv2_block1_1_conv") and has("conv1_bn"):
        return f"resnet{_RESNET_DEPTH.get(conv4, 0)}", "conv5_block3_out"
    if has("bn_Conv1") and has("Conv1"):
        return "mobilenetv2_", "out_relu"
    if has("conv_dw_1") and has("conv_pw_1"):
        return "mobilenet_1", "conv_pw_13_relu"
    if has("stem_conv") and has("block1a_dwconv"):
        blocks = sum(1 for n in names if re.match(r"^block\d+[a-z]_project_bn$", n))
        top = next((layer for layer in layers if getattr(layer, "name", "") == "top_conv"), None)
        variant = _EFFICIENTNET.get((blocks, getattr(top, "filters", None)))
        return f"efficientnetb{9 if variant is None else variant}", "top_activation"  # 9: no such variant
    if has("stem_conv") and has("block1a_project_conv"):
        return "efficientnetv2-", "top_activation"
    if has("block1_conv1") and has("block5_conv3") and has("block1_pool"):
        return ("vgg19" if has("block5_conv4") else "vgg16"), "block5_pool"
    if has("mixed10") and has("mixed9_1"):
        return "inception_v3", "mixed10"
    if has("conv_7b") and has("block35_1_conv"):
        return "inception_resnet_v2", "conv_7b_ac"
    if has("block1_conv1_bn") and has("block14_sepconv2"):
        return "xception", "block14_sepconv2_act"
    if has("stem_conv1") and has("normal_concat_0"):
        last = _max_index(names, r"^normal_concat_(\d+)$")
        return ("nasnet_mobile" if last <= 12 else "nasnet_large"), f"normal_concat_{last}"
    for name in names:
        match = re.match(r"^(convnext_(?:tiny|small|base|large|xlarge))_stem$", name)
        if match:
            prefix = match.group(1)
            last = _max_index(names, rf"^{prefix}_stage_3_block_(\d+)_identity$")
            return prefix, f"{prefix}_stage_3_block_{last}_identity"
    if has("expanded_conv_depthwise") and has("conv_bn"):
        large = any(n.startswith("expanded_conv_14_") for n in names)
        return ("MobileNetV3Large" if large else "MobileNetV3Small"), "conv_1_bn"
    return None


def application_name(model_name: str) -> str | None:
    """The `keras.applications` constructor that names a model like `model_name`."""
    key = "".join(c for c in model_name.lower() if c.isalnum())
    names = [n for n in dir(keras.applications) if n[:1].isupper()]
    matches = [n for n in names if key.startswith(n.lower())]
    return max(matches, key=len) if matches else None


def _from_name(name: str, layers: list[Any]) -> Application | None:
    lowered = name.lower()
    for pattern, family, module, mode in FAMILIES:
        if re.search(pattern, lowered):
            if mode.startswith("auto:"):
                first = [type(layer).__name__ for layer in list(layers)[:4]]
                mode = "raw" if {"Rescaling", "Normalization"} & set(first) else mode[5:]
            return Application(family, application_name(name), module, mode)
    return None


def application(model: Any) -> Application | None:
    """The `keras.applications` family of a model: by its name, else by its layers' names."""
    layers = list(getattr(model, "layers", []) or [])
    found = _from_name(getattr(model, "name", ""), layers)
    if found is not None:
        return found
    inline = _inline_match(layers)
    return _from_name(inline[0], layers) if inline else None


def application_upstream(tensors: Any) -> Application | None:
    """The `keras.applications` family of the layers upstream of some tensors (an inline backbone)."""
    nodes = upstream_nodes(tensors)
    layers = [node.operation for node in reversed(nodes)]  # inputs first
    inline = _inline_match(layers)
    return _from_name(inline[0], layers) if inline else None


class Backbone(NamedTuple):
    """A recognised `keras.applications` backbone of a model."""

    application: Application
    model: Any  # the backbone model when it is one (nested, or the model itself), else None
    name: str  # the backbone's name as reported
    input: Any  # the tensor it reads in the outer graph; None for the model's input
    layers: tuple[Any, ...]  # its layers (those of the inline backbone: upstream of its last own layer)
    inline: bool


def backbones(model: Any) -> list[Backbone]:
    """The known `keras.applications` backbones of a model: itself, nested ones, or inline ones."""
    own = application(model)
    layers = [node.operation for node in reversed(graph_nodes(model))]
    if own is not None:
        # The model itself, or a model built around an inline backbone.
        inline = _from_name(getattr(model, "name", ""), layers) is None
        if not inline:
            return [Backbone(own, model, model.name, None, tuple(sublayers(model)), False)]
        inner = tuple(_inline_layers(model, layers))
        return [Backbone(own, None, own.label, _inline_entry(model, layers, own.mode), inner, True)]
    found = []
    for node in graph_nodes(model):
        sub = node.operation
        inputs = input_tensors(node)
        if isinstance(sub, keras.Model) and len(inputs) == 1:
            app = application(sub)
            if app is not None:
                found.append(Backbone(app, sub, sub.name, inputs[0], tuple(sublayers(sub)), False))
    return found


def _inline_layers(model: Any, layers: list[Any]) -> list[Any]:
    """The layers of an inline backbone: those upstream of its last feature layer, that one included."""
    match = _inline_match(layers)
    end = next((layer for layer in layers if getattr(layer, "name", "") == match[1]), None) if match else None
    if end is None:
        return []
    outputs = [tensor for node in calls(end)[:1] for tensor in node.outputs]
    input_ids = {id(output_layer(t)) for t in model_inputs(model)}
    return [
        node.operation
        for node in upstream_nodes(outputs)
        if id(node.operation) not in input_ids and is_layer(node.operation)
    ]


# Layers that prepare images in front of a backbone (the user's, or a family's own).
_PREPROCESSING = ("Rescaling", "Normalization", "Resizing", "CenterCrop", "Lambda")


def _inline_entry(model: Any, layers: list[Any], mode: str) -> Any:
    """The tensor an inline backbone receives: after the preprocessing in front of it.

    Follows one path back from the backbone's last feature layer to the
    model's input; its first calls are the preprocessing (raw `keras.ops`
    such as `inputs / 127.5 - 1`, `Rescaling`, `Normalization`, resizing and
    random augmentation layers); the backbone starts after them. A family
    that rescales its input itself (mode "raw") has its own `Rescaling` in
    that run, which cannot be told from the user's: it is judged on the
    model's input.

    Returns:
        The tensor, or `None` when it is the model's input (or not found).
    """
    match = _inline_match(layers)
    end = next((layer for layer in layers if getattr(layer, "name", "") == match[1]), None) if match else None
    if end is None or not calls(end):
        return None
    chain, tensor = [], calls(end)[0].outputs[0]
    input_ids = {id(t) for t in model_inputs(model)}
    for _ in range(4096):
        if id(tensor) in input_ids:
            break
        found = producer(tensor)
        inputs = input_tensors(found.node) if found is not None else []
        if not inputs:
            return None
        chain.append((found.operation, inputs[0]))
        tensor = inputs[0]
    chain.reverse()  # (operation, the tensor it receives), from the model's input forward
    start = len(chain)
    for position, (operation, _) in enumerate(chain):
        kind = type(operation).__name__
        if is_layer(operation) and kind not in _PREPROCESSING and not kind.startswith("Random"):
            start = position
            break
    if mode == "raw" or start >= len(chain):
        return None  # a family that rescales its input itself is judged on the model's input
    entry = chain[start][1]
    return None if id(entry) in input_ids else entry
