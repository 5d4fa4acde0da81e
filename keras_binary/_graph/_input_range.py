"""What a backbone receives: the tensor where its network starts, and the range it expects there.

The input-range check (`KBD014`) judges values at the point where a
pretrained network starts, not at the model's input:

- in front of a backbone there may be the user's preprocessing: raw
  `keras.ops` (`inputs / 127.5 - 1`), `Rescaling`, `Normalization`,
  resizing, random augmentation, `Lambda(preprocess_input)`, a keras-hub
  `ImageConverter`; the backbone starts after them;
- a family that prepares its input itself (EfficientNet; MobileNetV3,
  EfficientNetV2 and ConvNeXt with `include_preprocessing=True`) has its own
  `Rescaling`/`Normalization` at the end of that run, recognised by what it
  does (the scale and offset its constructor gives it, or ConvNeXt's
  `*_prestem_normalization` name); the family is then judged on what its own
  preprocessing receives, which must be 0-255 pixels (mode "raw"), whatever
  the user put in front;
- a keras-hub `ImageConverter` (in the graph, or the `preprocessor` of a
  keras-hub task, which `fit` applies to `x`) that rescales by about 1/255
  expects 0-255 pixels.

The same holds for every spelling: a backbone used as a layer (its own graph
holds its preprocessing), built inline through `input_tensor=` or
`base.input`, or the model itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import keras

from keras_binary._graph._applications import Backbone, backbones, feature_end
from keras_binary._graph._walk import (
    calls,
    graph_nodes,
    input_tensors,
    is_graph_model,
    is_layer,
    model_inputs,
    producer,
)

# Layers that prepare images in front of a backbone (the user's, or a family's own).
_PREPROCESSING = ("Rescaling", "Normalization", "Resizing", "CenterCrop", "Lambda")

# A chain from a backbone's last feature layer back to its model's input is at most this long.
_MAX_CHAIN = 4096

# A keras-hub ImageConverter whose scale is at most this (every channel) expects 0-255 pixels.
_PIXEL_SCALE = 0.02


class RangeEntry(NamedTuple):
    """Where a pretrained network starts, and what it must receive there.

    `stages` locate the tensor: starting from `x`, each `(graph model, tensor)`
    is the part of that model's graph from its input to `tensor`, applied in
    turn (the outer model's graph up to a nested backbone's call, then the
    nested backbone's own graph up to its network). An empty `stages` is `x`
    itself.
    """

    stages: tuple[tuple[Any, Any], ...]
    mode: str  # "tf", "torch", "caffe" or "raw" (0-255 pixels: the network or its converter rescales)
    backbone: Backbone | None  # the keras.applications backbone judged, or None for a converter
    converter: Any = None  # the keras-hub ImageConverter judged (mode "raw"), or None
    own_preprocessing: bool = False  # the family's own preprocessing starts at the entry

    @property
    def at_model_input(self) -> bool:
        """Whether the values judged are the model's input itself (no layer in front)."""
        return all(tensor is _single_input(model) for model, tensor in self.stages)


def _single_input(model: Any) -> Any:
    inputs = model_inputs(model)
    return inputs[0] if len(inputs) == 1 else None


def is_image_converter(operation: Any) -> bool:
    """Whether `operation` is a keras-hub `ImageConverter` (e.g. `keras_hub.layers.ResNetImageConverter`)."""
    return any(
        cls.__name__ == "ImageConverter" and cls.__module__.startswith("keras_hub")
        for cls in type(operation).__mro__
    )


def converter_expects_pixels(converter: Any) -> bool:
    """Whether a keras-hub `ImageConverter` rescales 0-255 pixels (every channel's scale at most 0.02)."""
    scale = getattr(converter, "scale", None)
    if scale is None:
        return False
    values = list(scale) if isinstance(scale, (list, tuple)) else [scale]
    try:
        return bool(values) and all(0 < abs(float(v)) <= _PIXEL_SCALE for v in values)
    except (TypeError, ValueError):
        return False


def _is_preprocessing(operation: Any) -> bool:
    """A preprocessing call: raw `keras.ops`, a preprocessing layer, or a model made only of them."""
    kind = type(operation).__name__
    if isinstance(operation, keras.Model):  # e.g. data_augmentation = keras.Sequential([RandomFlip(), ...])
        inner = [layer for layer in operation.layers if type(layer).__name__ != "InputLayer"]
        return bool(inner) and all(_is_preprocessing(layer) for layer in inner)
    return (
        not is_layer(operation)  # raw keras.ops: inputs / 127.5 - 1
        or kind in _PREPROCESSING
        or kind.startswith("Random")
        or is_image_converter(operation)
    )


def _close(value: Any, target: float) -> bool:
    try:
        return abs(float(value) - target) <= 1e-3 * abs(target)
    except (TypeError, ValueError):
        return False  # a per-channel list: not the family's first rescaling


def _rescales(operation: Any, scales: tuple[float, ...], offset: float | None = None) -> bool:
    """A `Rescaling` by one of `scales` (and `offset`, when given)."""
    if type(operation).__name__ != "Rescaling":
        return False
    if offset is not None and not _close(getattr(operation, "offset", 0.0), offset):
        return False
    return any(_close(getattr(operation, "scale", None), scale) for scale in scales)


def _is_own_start(family: str, operation: Any) -> bool:
    """Whether `operation` starts the preprocessing a `keras.applications` family puts in its model."""
    if family == "EfficientNet":  # Rescaling(1/255), Normalization, [Rescaling(1/std)]
        return _rescales(operation, (1 / 255,))
    if family == "EfficientNetV2":  # B0-B3: Rescaling(1/255), Normalization; S/M/L: Rescaling(1/128, -1)
        return _rescales(operation, (1 / 255,)) or _rescales(operation, (1 / 128,), -1.0)
    if family == "MobileNetV3":
        return _rescales(operation, (1 / 127.5,), -1.0)
    if family == "ConvNeXt":
        return type(operation).__name__ == "Normalization" and operation.name.endswith(
            "_prestem_normalization"
        )
    return False


# The first layer of a self-rescaling family's network, after its own preprocessing.
_STEMS = {
    "EfficientNet": "stem_conv_pad",
    "EfficientNetV2": "stem_conv",
    "MobileNetV3": "conv",
}

# What a family built with include_preprocessing=False expects.
_BUILT_IN_OFF = {"MobileNetV3": "tf", "EfficientNetV2": "tf", "ConvNeXt": "torch"}


def _is_stem(family: str, operation: Any) -> bool:
    name = getattr(operation, "name", "")
    if family == "ConvNeXt":
        return isinstance(operation, keras.Model) and name.endswith("_stem")
    return name == _STEMS.get(family)


def _chain(graph_model: Any, end: Any) -> list[tuple[Any, Any]] | None:
    """`(operation, the tensor it receives)` along one path from `graph_model`'s input to `end`, input first."""
    if not calls(end):
        return None
    chain, tensor = [], calls(end)[0].outputs[0]
    input_ids = {id(t) for t in model_inputs(graph_model)}
    for _ in range(_MAX_CHAIN):
        if id(tensor) in input_ids:
            chain.reverse()
            return chain
        found = producer(tensor)
        inputs = input_tensors(found.node) if found is not None else []
        if not inputs:
            return None
        chain.append((found.operation, inputs[0]))
        tensor = inputs[0]
    return None


def _network_start(graph_model: Any, backbone: Backbone) -> tuple[Any, str, bool] | None:
    """`(tensor, mode, own preprocessing)` where a backbone's network starts in `graph_model`'s graph.

    The tensor is the one its own preprocessing receives, when the family has
    it in the model, else the one its first layer receives: the stem of a
    self-rescaling family (whatever the user put in front), else the first
    layer after the run of preprocessing in front of it. `None` when the
    chain cannot be followed.
    """
    end = feature_end(list(backbone.layers) if backbone.inline else list(getattr(graph_model, "layers", [])))
    chain = _chain(graph_model, end) if end is not None else None
    if not chain:
        return None
    family = backbone.application
    stem = next((i for i, (operation, _) in enumerate(chain) if _is_stem(family.family, operation)), None)
    if stem is None:  # the network starts after the run of preprocessing in front of it
        start = next((i for i, (op, _) in enumerate(chain) if not _is_preprocessing(op)), len(chain))
    else:  # a self-rescaling family starts at its stem, whatever the user put in front
        start = stem
    own = next((i for i in range(start - 1, -1, -1) if _is_own_start(family.family, chain[i][0])), None)
    if own is not None:
        return chain[own][1], "raw", True
    mode = family.mode
    if family.family in _BUILT_IN_OFF and mode == "raw":
        mode = _BUILT_IN_OFF[family.family]  # include_preprocessing=False: its first layers are the user's
    if start >= len(chain):
        return None
    return chain[start][1], mode, False


def _backbone_entry(model: Any, backbone: Backbone) -> RangeEntry:
    if backbone.inline:
        graph_model, prefix = model, ()
    elif backbone.model is model:
        graph_model, prefix = model, ()
    else:
        graph_model, prefix = backbone.model, ((model, backbone.input),)
    found = _network_start(graph_model, backbone)
    if found is None:  # judged where it is read, with its family's mode
        tensor = _single_input(graph_model)
        return RangeEntry((*prefix, (graph_model, tensor)), backbone.application.mode, backbone)
    tensor, mode, own = found
    return RangeEntry((*prefix, (graph_model, tensor)), mode, backbone, None, own)


def _converters(model: Any, prefix: tuple = ()) -> Iterator[RangeEntry]:
    """keras-hub `ImageConverter`s that expect 0-255 pixels, in the graph and in nested models."""
    for node in graph_nodes(model):
        operation, inputs = node.operation, input_tensors(node)
        if len(inputs) != 1:
            continue
        if is_image_converter(operation) and converter_expects_pixels(operation):
            yield RangeEntry((*prefix, (model, inputs[0])), "raw", None, operation)
        elif is_graph_model(operation):
            yield from _converters(operation, (*prefix, (model, inputs[0])))


def range_entries(model: Any) -> list[RangeEntry]:
    """Where each pretrained network of `model` starts, and the range it expects there.

    The `keras.applications` backbones (`backbones`), every keras-hub
    `ImageConverter` that expects 0-255 pixels in the graph, and the converter
    of a keras-hub task's `preprocessor` (which `fit` applies to `x`).

    Example:

    >>> base = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    >>> inputs = keras.Input((32, 32, 3))
    >>> model = keras.Model(inputs, base(keras.layers.RandomFlip()(inputs)))
    >>> [(entry.mode, entry.own_preprocessing) for entry in range_entries(model)]
    [('raw', True)]
    """
    entries = [_backbone_entry(model, backbone) for backbone in backbones(model)]
    entries.extend(_converters(model))
    converter = getattr(getattr(model, "preprocessor", None), "image_converter", None)
    if converter is not None and is_image_converter(converter) and converter_expects_pixels(converter):
        entries.append(RangeEntry((), "raw", None, converter))
    return entries
