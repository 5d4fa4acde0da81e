"""`keras.applications` families: which family a model, or an inline backbone's layers, belong to."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import keras

from keras_binary._graph._walk import (
    calls,
    graph_nodes,
    input_tensors,
    is_layer,
    model_inputs,
    output_layer,
    sublayers,
    upstream_nodes,
)


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
    input: Any  # the tensor a nested backbone reads in the outer graph; None for the model's input or inline
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
        return [Backbone(own, None, own.label, None, inner, True)]
    found = []
    for node in graph_nodes(model):
        sub = node.operation
        inputs = input_tensors(node)
        if isinstance(sub, keras.Model) and len(inputs) == 1:
            app = application(sub)
            if app is not None:
                found.append(Backbone(app, sub, sub.name, inputs[0], tuple(sublayers(sub)), False))
    return found


def feature_end(layers: list[Any]) -> Any:
    """The layer that ends a `keras.applications` backbone's features (its `include_top=False` output), or `None`."""
    match = _inline_match(layers)
    return (
        next((layer for layer in layers if getattr(layer, "name", "") == match[1]), None) if match else None
    )


def _inline_layers(model: Any, layers: list[Any]) -> list[Any]:
    """The layers of an inline backbone: those upstream of its last feature layer, that one included."""
    end = feature_end(layers)
    if end is None:
        return []
    outputs = [tensor for node in calls(end)[:1] for tensor in node.outputs]
    input_ids = {id(output_layer(t)) for t in model_inputs(model)}
    return [
        node.operation
        for node in upstream_nodes(outputs)
        if id(node.operation) not in input_ids and is_layer(node.operation)
    ]
