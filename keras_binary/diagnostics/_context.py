"""What every check of `diagnose` reads: the model, its outputs, losses and metrics, and the data."""

from __future__ import annotations

from typing import Any, NamedTuple

from keras_binary import _graph

# At most this many examples of `x` are run through the layers in front of a
# backbone (the input-range check), and read for the other data checks.
MAX_SAMPLES = 512

# Below this positive rate (or above 1 minus it) the labels are "strongly imbalanced".
IMBALANCE_RATE = 0.10

_MIXED_DTYPES = ("float16", "bfloat16")
_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


class _Context(NamedTuple):
    model: Any
    outputs: list[_graph.Output]
    losses: list[Any]  # one `_loss._Loss` (or None) per output
    x: Any
    y: Any
    class_weight: Any
    metrics: list[list[Any]]  # the compiled metrics of each output
    class_names: Any  # the class names of a dataset given as x, or None


def _binary_units(output: _graph.Output) -> bool:
    return output.units in (1, 2)


def _layer_where(layer: Any, owner: str = "") -> str:
    return f"layer {layer.name!r}{owner}"


def _output_name(out: _graph.Output) -> str:
    layer = out.head if out.head is not None else _graph.output_layer(out.tensor)
    return repr(layer.name) if layer is not None else "of the model"


def _output_shape(out: _graph.Output) -> tuple:
    return tuple(out.tensor.shape)
