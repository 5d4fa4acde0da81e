"""Nodes, producers and activations: how a Keras graph is read.

A functional or `Sequential` model is a graph of `Node`s, one per layer call
(`keras.src.ops.node`): every `KerasTensor` carries a `_keras_history`
`(operation, node_index, tensor_index)` pointing at the call that produced
it, and a node keeps the tensors of its call (`node.input_tensors`) and its
arguments (`node.arguments.kwargs`, where `training=False` is recorded, also
after a `.keras` file is loaded). Keras documents this walk in `Node`'s
docstring; there is no public API for it, so it is done in this package only,
and tests/test_graph.py fails loudly if these private names move.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import keras

# A walk back along a chain of calls follows at most this many layer calls.
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
