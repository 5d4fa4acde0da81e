"""`diagnose`: find the silent mistakes of a binary classifier before training.

Most binary-classification bugs raise nothing: a sigmoid stacked on a 1000-way
softmax, `Dense(1, activation="softmax")`, a sigmoid with a categorical loss,
labels in `{1, 2}`, 0-255 images into a backbone that expects [-1, 1]. Keras
trains all of them without a word. `diagnose(model, x, y)` reads the model
(its functional graph, its layers, its compiled loss) and, when given, a
sample of the data, and returns a `Report` of findings, each with a stable
code (`KBD001`, ...), a severity, the layer or data it concerns, an
explanation and the fix.

`diagnose` never modifies the model: it reads the graph and the weights, and
runs no training step. The only computation it runs is the part of the model
in front of a recognised `keras.applications` backbone, on at most
`MAX_SAMPLES` examples of `x`, in inference mode, to see the range of values
the backbone receives.

How the graph is read: a functional or `Sequential` model is a graph of
`Node`s, one per layer call (`keras.src.ops.node`); every `KerasTensor`
carries a `_keras_history` pointing at the node that produced it, and a node
keeps the arguments of its call (`node.arguments.kwargs`, where
`training=False` is recorded, also after a `.keras` file is loaded). Keras
documents this walk in `Node`'s docstring; there is no public API for it, so
it is done in one place here (`_graph_nodes`, `_producer`). Subclassed models
have no graph: for them only the loss and data checks run (`KBD020`).
"""

from __future__ import annotations

import math
import os
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_binary._contract import _fmt, plan_layout
from keras_binary.errors import BinaryError
from keras_binary.layers import _PASS_THROUGH, _activation_name, _application_name, _classifier_source

__all__ = ["DIAGNOSTIC_CODES", "Finding", "Report", "diagnose", "load_model"]

SEVERITIES = ("error", "warning", "info")

# code -> (usual severity, title). Every code has a section in docs/errors.md
# and an entry in docs/diagnose.md; tests check both. A few findings are
# reported with a lower severity when the evidence is weaker (said in the
# docs of the code).
DIAGNOSTIC_CODES: dict[str, tuple[str, str]] = {
    "KBD001": ("error", "Binary head stacked on a multi-class softmax"),
    "KBD002": ("error", "Softmax over an axis of size 1"),
    "KBD003": ("error", "Sigmoid or one-unit output with a categorical cross-entropy"),
    "KBD004": ("error", "from_logits=True on a sigmoid or softmax output"),
    "KBD005": ("error", "from_logits=False on a linear (logit) output"),
    "KBD006": ("error", "Unpooled spatial output against per-example labels"),
    "KBD007": ("error", "Labels do not fit the output shape"),
    "KBD008": ("error", "One-hot labels against a one-unit output"),
    "KBD009": ("error", "Labels outside {0, 1}"),
    "KBD010": ("error", "Labels contain NaN"),
    "KBD011": ("error", "Only one class in the labels"),
    "KBD012": ("warning", "Strong class imbalance with nothing to compensate"),
    "KBD013": ("warning", "BatchNormalization of a frozen backbone runs in training mode"),
    "KBD014": ("error", "Input range does not match the backbone's preprocess_input"),
    "KBD015": ("warning", "Sigmoid or softmax output not computed in float32 under mixed precision"),
    "KBD016": ("info", "The output is not binary"),
    "KBD017": ("error", "Inputs contain NaN or infinity"),
    "KBD018": ("info", "No loss to check"),
    "KBD019": ("error", "The data do not fit the model's input"),
    "KBD020": ("info", "No functional graph to read"),
}

# At most this many examples of `x` are run through the layers in front of a
# backbone (the input-range check), and read for the other data checks.
MAX_SAMPLES = 512

# Below this positive rate (or above 1 minus it) the labels are "strongly imbalanced".
IMBALANCE_RATE = 0.10

_MIXED_DTYPES = ("float16", "bfloat16")
_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")
_LINEAR = ("linear", None)


# ---------------------------------------------------------------------------
# The report.


@dataclass(frozen=True)
class Finding:
    """One problem found by `diagnose`.

    Attributes:
        code: the stable code, e.g. `"KBD001"`; see `DIAGNOSTIC_CODES`.
        severity: `"error"` (the model cannot learn the task as written),
            `"warning"` (it may, but probably not as intended) or `"info"`.
        where: what it concerns: `"layer 'dense'"`, `"loss"`, `"labels (y)"`,
            `"inputs (x)"` or `"model"`.
        summary: one sentence saying what is wrong, with the numbers.
        explanation: why it matters.
        fix: one line of code, or one sentence, that fixes it.

    Example:

    >>> finding = Finding("KBD011", "error", "labels (y)", "all 8 labels are 1.",
    ...                   "nothing can be learned from one class.", "add negative examples")
    >>> finding.title
    'Only one class in the labels'
    >>> print(str(finding).splitlines()[0])
    error KBD011 at labels (y): all 8 labels are 1.
    """

    code: str
    severity: str
    where: str
    summary: str
    explanation: str
    fix: str

    def __post_init__(self) -> None:
        if self.code not in DIAGNOSTIC_CODES:
            raise KeyError(f"Unknown keras_binary diagnostic code {self.code!r}.")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, received {self.severity!r}.")

    @property
    def title(self) -> str:
        """The code's title in `DIAGNOSTIC_CODES`."""
        return DIAGNOSTIC_CODES[self.code][1]

    def to_dict(self) -> dict[str, str]:
        """The finding as a JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "where": self.where,
            "summary": self.summary,
            "explanation": self.explanation,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.where}: {self.summary}\n  Why: {self.explanation}\n  Fix: {self.fix}"


@dataclass
class Report:
    """What `diagnose` found: a list of findings, most severe first.

    Attributes:
        findings: the `Finding`s, errors first, then warnings, then infos.
        model_name: the name of the model that was read.
        checked: what could be checked: `"graph"` (the functional graph),
            `"loss"` (the loss's name, or `None`), `"labels"` and `"inputs"`
            (whether `y` and `x` were given).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="softmax")])
    >>> report = diagnose(model, loss="binary_crossentropy")
    >>> report.ok, report.codes
    (False, ['KBD002'])
    >>> report.to_dict()["findings"][0]["severity"]
    'error'
    """

    findings: list[Finding] = field(default_factory=list)
    model_name: str = ""
    checked: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """`False` when an error was found (warnings and infos do not count)."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity `"error"`."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings of severity `"warning"`."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def codes(self) -> list[str]:
        """The codes of the findings, in order."""
        return [f.code for f in self.findings]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def counts(self) -> dict[str, int]:
        """The number of findings of each severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def headline(self) -> str:
        """The first line of the report: the model and the counts."""
        counts = self.counts()
        if not self.findings:
            result = "no problem found"
        else:
            parts = [f"{n} {s}{'' if n == 1 or s == 'info' else 's'}" for s, n in counts.items() if n]
            result = ", ".join(parts)
        return f"keras_binary.diagnose: model {self.model_name!r}: {result}."

    def checked_line(self) -> str:
        """A line saying what was checked."""
        loss = self.checked.get("loss")
        return "Checked: " + ", ".join(
            [
                "graph" if self.checked.get("graph") else "no graph",
                f"loss {loss}" if loss else "no loss",
                "labels (y)" if self.checked.get("labels") else "no labels",
                "inputs (x)" if self.checked.get("inputs") else "no inputs",
            ]
        )

    def __str__(self) -> str:
        parts = [self.headline()]
        parts += [str(f) for f in self.findings]
        parts.append(self.checked_line() + ".")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: model, ok, counts, checked, findings."""
        return {
            "model": self.model_name,
            "ok": self.ok,
            "counts": self.counts(),
            "checked": dict(self.checked),
            "findings": [f.to_dict() for f in self.findings],
        }


def _finding(
    code: str, where: str, summary: str, explanation: str, fix: str, severity: str | None = None
) -> Finding:
    return Finding(code, severity or DIAGNOSTIC_CODES[code][0], where, summary, explanation, fix)


# ---------------------------------------------------------------------------
# Reading the graph (the one place that walks Keras's nodes).


def _model_outputs(model: Any) -> list[Any]:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return []
    return list(outputs or [])


def _producer(tensor: Any) -> tuple[Any, Any, int] | None:
    """`(operation, node, tensor_index)` of the call that produced `tensor`."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index, tensor_index = history
    nodes = getattr(operation, "_inbound_nodes", None) or []
    if operation is None or node_index >= len(nodes):
        return None
    return operation, nodes[node_index], tensor_index


def _graph_nodes(model: Any) -> list[Any]:
    """The nodes (layer calls) of a model's own graph, outputs first."""
    seen: set[int] = set()
    nodes = []
    stack = list(_model_outputs(model))
    while stack:
        found = _producer(stack.pop())
        if found is None:
            continue
        node = found[1]
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.input_tensors)
    return nodes


def _is_graph_model(layer: Any) -> bool:
    return isinstance(layer, keras.Model) and bool(_model_outputs(layer))


def _all_nodes(model: Any, owner: str = "") -> Iterator[tuple[Any, str]]:
    """Every node of the model and of the models used inside it, with `of model ...`."""
    for node in _graph_nodes(model):
        yield node, owner
        if _is_graph_model(node.operation):
            yield from _all_nodes(node.operation, f" of model {node.operation.name!r}")


def _sublayers(layer: Any) -> Iterator[Any]:
    """The layers of a model, recursively (models inside models)."""
    for sub in getattr(layer, "layers", []) or []:
        yield sub
        if isinstance(sub, keras.Model):
            yield from _sublayers(sub)


def _layer_where(layer: Any, owner: str = "") -> str:
    return f"layer {layer.name!r}{owner}"


class _Output(NamedTuple):
    """What the model emits at one output."""

    tensor: Any
    activation: str | None  # "sigmoid", "softmax", "linear", another name, or None if unknown
    units: int | None  # size of the last axis
    head: Any  # the layer that computes the scores (Dense, BinaryHead, ...), or None
    head_input: Any  # the head's input tensor, or None
    activation_layer: Any  # the layer or op that applies the activation, or None
    owner: str  # " of model 'x'" when the head is inside a model used as a layer


def _activation_of(operation: Any) -> tuple[str | None, bool]:
    """`(activation name, decided)` for an operation at the end of a model."""
    kind = type(operation).__name__
    if kind == "BinaryHead":
        return (operation.activation or "linear"), True
    if kind in ("Softmax", "LogSoftmax"):  # the layer or the keras.ops operation
        return ("softmax" if kind == "Softmax" else "log_softmax"), True
    if kind in ("Sigmoid", "LogSigmoid"):
        return ("sigmoid" if kind == "Sigmoid" else "log_sigmoid"), True
    if hasattr(operation, "activation"):
        name = _activation_name(operation.activation)
        if kind == "Activation" and name in _LINEAR:
            return None, False  # a pass-through
        return (name or "linear"), True
    return None, False


def _describe_output(tensor: Any) -> _Output:
    activation, activation_layer, head, head_input, owner = None, None, None, None, ""
    shape = tuple(tensor.shape)
    units = shape[-1] if shape else None
    current = tensor
    for _ in range(64):  # bounded: real heads take a few steps
        found = _producer(current)
        if found is None:
            break
        operation, node, index = found
        if _is_graph_model(operation):
            owner = f" of model {operation.name!r}"
            current = _model_outputs(operation)[index]
            continue
        kind = type(operation).__name__
        name, decided = _activation_of(operation)
        inputs = node.input_tensors
        if decided and activation is None:
            activation, activation_layer = name, operation
            if kind in ("Activation", "Softmax", "LogSoftmax", "Sigmoid", "LogSigmoid") and len(inputs) == 1:
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
    return _Output(tensor, activation, units, head, head_input, activation_layer, owner)


# ---------------------------------------------------------------------------
# The loss.


class _Loss(NamedTuple):
    name: str  # a readable name, e.g. "binary_crossentropy" or "SafeBCE"
    kind: str  # "binary", "focal", "categorical", "sparse_categorical" or "other"
    from_logits: bool | None
    pos_weight: float | None
    class_balancing: bool
    ours: bool  # a keras_binary loss: the shape contract applies
    multi_label: bool


_KINDS = {
    "binarycrossentropy": "binary",
    "bce": "binary",
    "safebce": "binary",
    "binaryfocalcrossentropy": "focal",
    "safefocal": "focal",
    "categoricalcrossentropy": "categorical",
    "cce": "categorical",
    "categoricalfocalcrossentropy": "categorical",
    "sparsecategoricalcrossentropy": "sparse_categorical",
    "scce": "sparse_categorical",
}


def _loss_kind(name: str) -> str:
    return _KINDS.get(re.sub(r"[^a-z]", "", name.lower()), "other")


def _describe_loss(loss: Any) -> _Loss | None:
    if loss is None:
        return None
    from keras_binary.losses import ContractLoss

    if isinstance(loss, str):
        return _Loss(
            loss, _loss_kind(loss), False if _loss_kind(loss) != "other" else None, None, False, False, False
        )
    ours = isinstance(loss, ContractLoss)
    inner = getattr(loss, "fn", None)
    name = (
        type(loss).__name__
        if isinstance(loss, keras.losses.Loss)
        else getattr(loss, "__name__", type(loss).__name__)
    )
    kind = _loss_kind(name)
    if kind == "other" and inner is not None:
        inner_name = inner if isinstance(inner, str) else type(inner).__name__
        if isinstance(inner, keras.losses.Loss) and type(inner).__name__ == "LossFunctionWrapper":
            inner_name = getattr(inner.fn, "__name__", inner_name)
        elif callable(inner) and not isinstance(inner, keras.losses.Loss):
            inner_name = getattr(inner, "__name__", inner_name)
        kind = _loss_kind(inner_name)
        if kind != "other" and not ours:
            name = inner_name
    from_logits = getattr(loss, "from_logits", None)
    if from_logits is None:
        from_logits = (getattr(loss, "_fn_kwargs", None) or {}).get("from_logits")
    if from_logits is None and kind != "other" and _is_plain_function(loss):
        from_logits = False  # a plain function such as keras.losses.binary_crossentropy
    return _Loss(
        name,
        kind,
        None if from_logits is None else bool(from_logits),
        getattr(loss, "pos_weight", None),
        bool(getattr(loss, "apply_class_balancing", False)),
        ours,
        bool(getattr(loss, "multi_label", False)),
    )


def _is_plain_function(loss: Any) -> bool:
    """Whether `loss` is a plain function (its `from_logits` is its default, False)."""
    return callable(loss) and not isinstance(loss, keras.losses.Loss)


def _losses_per_output(loss: Any, outputs: list[_Output]) -> list[Any]:
    if isinstance(loss, Mapping):
        names = [o.tensor._keras_history.operation.name if _producer(o.tensor) else None for o in outputs]
        return [loss.get(n) for n in names]
    if isinstance(loss, (list, tuple)):
        return list(loss) + [None] * (len(outputs) - len(loss))
    return [loss] * len(outputs)


# ---------------------------------------------------------------------------
# keras.applications families: the range their input must have.

# (pattern on the model's name, family, preprocess module, mode). Modes, i.e.
# what the network itself must receive:
#   "tf": [-1, 1]; "torch": ImageNet mean/std normalised, about [-2.1, 2.6];
#   "caffe": BGR with the ImageNet mean subtracted, about [-124, 152];
#   "raw": 0-255 pixels (the network rescales them itself).
# Families whose preprocessing is optional inside the model ("auto") are "raw"
# with their Rescaling/Normalization layer, else the mode given after the colon.
_FAMILIES: tuple[tuple[str, str, str, str], ...] = (
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

_MODE_RANGES = {
    "tf": "[-1, 1]",
    "torch": "about [-2.1, 2.6] (ImageNet mean and standard deviation)",
    "caffe": "about [-124, 152] (BGR, ImageNet mean subtracted)",
    "raw": "[0, 255] (the network rescales its input itself)",
}


# The width of each mode's range, for the "scaled twice" check.
_MODE_SPANS = {"tf": 2.0, "torch": 4.7, "caffe": 275.0, "raw": 255.0}


class _Family(NamedTuple):
    name: str
    module: str
    mode: str


def _family(model: Any) -> _Family | None:
    name = model.name.lower()
    for pattern, family, module, mode in _FAMILIES:
        if re.search(pattern, name):
            if mode.startswith("auto:"):
                first = [type(layer).__name__ for layer in list(getattr(model, "layers", []))[:4]]
                mode = "raw" if {"Rescaling", "Normalization"} & set(first) else mode[5:]
            return _Family(family, module, mode)
    return None


def _range_problem(lo: float, hi: float, mode: str) -> tuple[str, str] | None:
    """`(severity, what the data look like)` when `[lo, hi]` does not suit `mode`."""
    if mode == "tf":
        if hi > 2.0:
            return "error", "pixels on a 0-255 scale" if hi > 20 else "values beyond [-1, 1]"
        if lo >= 0.0 and hi <= 1.0:
            return "warning", "values in [0, 1], half of the expected range"
    elif mode == "torch":
        if hi > 10.0:
            return "error", "pixels on a 0-255 scale, not normalised"
        if lo >= 0.0 and hi <= 1.0:
            return "warning", "values in [0, 1], not normalised by the ImageNet mean and standard deviation"
    elif mode == "caffe":
        if hi <= 2.0 and lo >= -2.0:
            return "error", "values already scaled to about [-1, 1] or [0, 1]"
        if lo >= 0.0:
            return (
                "warning",
                "0-255 pixels without the ImageNet mean subtracted (preprocess_input not applied)",
            )
    elif mode == "raw" and hi <= 2.0:
        return "error", "values already scaled to about [-1, 1] or [0, 1]; the network rescales them again"
    if hi - lo < 0.05 * _MODE_SPANS[mode]:
        return "warning", "a range far narrower than expected: the input was probably scaled twice"
    return None


# ---------------------------------------------------------------------------
# The checks.


class _Context(NamedTuple):
    model: Any
    outputs: list[_Output]
    losses: list[_Loss | None]
    x: Any
    y: Any
    class_weight: Any


def _binary_units(output: _Output) -> bool:
    return output.units in (1, 2)


def _check_classifier_stacking(ctx: _Context) -> Iterator[Finding]:
    for out in ctx.outputs:
        head = out.head
        if head is None or out.head_input is None or not _binary_units(out):
            continue
        if getattr(head, "allow_classifier_input", False):
            continue  # class probabilities used as features on purpose
        source = _classifier_source(out.head_input)
        if source is None:
            continue
        layer, k, where, inner = source
        application = _application_name(inner.name) if inner is not None else None
        top = " (a classifier left on top, as with include_top=True)" if inner is not None else ""
        rebuild = (
            f"backbone = keras.applications.{application}(include_top=False, weights=...)"
            if application
            else "build the backbone without its classifier (include_top=False, or take the layer before the softmax)"
        )
        yield _finding(
            "KBD001",
            _layer_where(head, out.owner),
            f"the binary head's input is a softmax over {k} classes from layer {layer.name!r}{where}{top}.",
            "a binary head on class probabilities trains without an error, but it learns from K numbers "
            "that sum to 1 instead of the backbone's features: a useless model that plain Keras trains silently.",
            f"{rebuild}; outputs = keras_binary.BinaryHead()(backbone(inputs))",
        )


def _softmax_axis(operation: Any) -> int | None:
    kind = type(operation).__name__
    if kind in ("Softmax", "LogSoftmax"):
        axis = getattr(operation, "axis", -1)
        return axis if isinstance(axis, int) else None
    name, decided = _activation_of(operation)
    return -1 if decided and name in ("softmax", "log_softmax") and kind != "BinaryHead" else None


def _check_size1_softmax(ctx: _Context) -> Iterator[Finding]:
    for node, owner in _all_nodes(ctx.model):
        axis = _softmax_axis(node.operation)
        if axis is None or not node.outputs:
            continue
        shape = tuple(node.outputs[0].shape)
        if not shape or shape[axis] != 1:
            continue
        layer = node.operation
        yield _finding(
            "KBD002",
            _layer_where(layer, owner),
            f"{type(layer).__name__} {layer.name!r} applies a softmax over an axis of size 1 "
            f"(output shape {_fmt(shape)}): its output is always 1.0.",
            "softmax normalises over the axis, so one unit is always exactly 1.0; the loss has no "
            "gradient to follow and the model learns nothing.",
            "end the model with keras_binary.BinaryHead()  # one sigmoid unit; or Dense(1, activation='sigmoid')",
        )


def _check_categorical_loss(ctx: _Context) -> Iterator[Finding]:
    for out, loss in zip(ctx.outputs, ctx.losses, strict=True):
        if loss is None or loss.kind not in ("categorical", "sparse_categorical"):
            continue
        if not (out.units == 1 or out.activation == "sigmoid"):
            continue
        what = "one unit" if out.units == 1 else f"{out.units} sigmoid units"
        if loss.kind == "categorical":
            why = (
                "categorical cross-entropy sums over the class axis: with one unit it is -y*log(p) "
                "after normalising p to 1, so the loss is 0.0000 and nothing is learned."
            )
        else:
            why = (
                "sparse categorical cross-entropy needs one unit per class; with one unit the labels "
                "1 index a class that does not exist (an opaque InvalidArgumentError, or garbage)."
            )
        yield _finding(
            "KBD003",
            "loss",
            f"the loss {loss.name} is a multi-class loss, but the output {_output_name(out)} has {what}"
            + (" with a sigmoid." if out.activation == "sigmoid" and out.units == 1 else "."),
            why,
            "model.compile(loss=keras_binary.SafeBCE(), ...)  # binary cross-entropy for every binary encoding",
        )


def _output_name(out: _Output) -> str:
    found = _producer(out.tensor)
    layer = out.head if out.head is not None else (found[0] if found else None)
    return repr(layer.name) if layer is not None else "of the model"


def _check_from_logits(ctx: _Context) -> Iterator[Finding]:
    for out, loss in zip(ctx.outputs, ctx.losses, strict=True):
        if loss is None or loss.from_logits is None or loss.kind == "other":
            continue
        if out.activation in _PROBABILITY_ACTIVATIONS and loss.from_logits:
            yield _finding(
                "KBD004",
                "loss",
                f"the loss {loss.name} has from_logits=True, but the output {_output_name(out)} "
                f"ends with a {out.activation}: it emits probabilities.",
                "the loss applies a second sigmoid to the probabilities, so every prediction is squeezed "
                "into [0.5, 0.73]: training is slow and the probabilities are meaningless.",
                "model.compile(loss=keras_binary.SafeBCE(from_logits=False), ...)  # or end the model with "
                "keras_binary.BinaryHead(activation=None) for logits",
            )
        elif out.activation == "linear" and not loss.from_logits:
            yield _finding(
                "KBD005",
                "loss",
                f"the loss {loss.name} has from_logits=False, but the output {_output_name(out)} "
                "is linear: it emits logits, not probabilities.",
                "logits are unbounded; the loss clips them to [1e-7, 1 - 1e-7] as if they were "
                "probabilities, so every output outside [0, 1] gets no gradient and the model does not learn "
                "(keras_binary's losses stop with KB205 at the first batch).",
                "model.compile(loss=keras_binary.SafeBCE(from_logits=True), ...)",
            )


def _output_shape(out: _Output) -> tuple:
    return tuple(out.tensor.shape)


def _check_mixed_precision(ctx: _Context) -> Iterator[Finding]:
    for out in ctx.outputs:
        dtype = str(getattr(out.tensor, "dtype", ""))
        if out.activation not in _PROBABILITY_ACTIVATIONS or dtype not in _MIXED_DTYPES:
            continue
        layer = out.activation_layer
        yield _finding(
            "KBD015",
            _layer_where(layer, out.owner) if layer is not None else "model",
            f"the final {out.activation} is computed in {dtype} (the layer's dtype policy is mixed precision).",
            f"in {dtype} a sigmoid or softmax rounds to exactly 0.0 or 1.0 for moderately large logits, "
            "so the loss saturates and the probabilities lose their precision; Keras's mixed-precision "
            "guide keeps the last layer in float32.",
            "give the output layer dtype='float32', e.g. keras.layers.Activation('sigmoid', dtype='float32'); "
            "keras_binary.BinaryHead() does this itself",
        )


_BN_FIX = (
    "keep the backbone's BatchNormalization layers frozen, also when you fine-tune: "
    "for layer in backbone.layers: layer.trainable = layer.trainable and not "
    "isinstance(layer, keras.layers.BatchNormalization)"
)


def _check_batch_norm_mode(ctx: _Context) -> Iterator[Finding]:
    """BatchNormalization meant to stay in inference mode that `fit` runs in training mode.

    Measured with Keras 3.15.1 (TensorFlow and JAX): during `fit`, a
    BatchNormalization layer runs in training mode exactly when the layer
    itself is trainable. `training=False` recorded in a functional call does
    not prevent it: the model's `training=True` replaces it (the functional
    model passes its own `training` to every call; keras-team/keras#20285).
    So the only robust way to keep a pretrained backbone's statistics is
    `trainable = False` on its BatchNormalization layers.
    """
    reported: set[int] = set()
    for node, owner in _all_nodes(ctx.model):
        op = node.operation
        training = node.arguments.kwargs.get("training")
        if isinstance(op, keras.layers.BatchNormalization):
            if op.trainable and training is False and id(op) not in reported:
                reported.add(id(op))
                yield _finding(
                    "KBD013",
                    _layer_where(op, owner),
                    f"BatchNormalization {op.name!r} is called with training=False but is trainable: "
                    "fit runs it in training mode anyway.",
                    _BN_WHY,
                    f"{op.name}.trainable = False  # a frozen BatchNormalization runs in inference mode",
                )
            continue
        if not isinstance(op, keras.Model):
            continue
        layers = list(_sublayers(op))
        live = [
            layer
            for layer in layers
            if isinstance(layer, keras.layers.BatchNormalization)
            and layer.trainable
            and id(layer) not in reported
        ]
        if not live:
            continue
        frozen = [
            layer
            for layer in layers
            if not layer.trainable
            and layer.weights
            and not isinstance(layer, (keras.layers.BatchNormalization, keras.Model))
        ]
        names = ", ".join(repr(layer.name) for layer in live[:3]) + (", ..." if len(live) > 3 else "")
        count = f"{len(live)} trainable BatchNormalization layer{'s' if len(live) != 1 else ''} ({names})"
        if not op.trainable:
            situation = (
                f"the model {op.name!r} is frozen (trainable=False), but {count} will run in training mode"
            )
        elif training is False:
            situation = (
                f"the model {op.name!r} is called with training=False, but fit overrides it: its {count} "
                "run in training mode"
            )
        elif frozen:
            situation = (
                f"the model {op.name!r} is partly frozen ({len(frozen)} layers with weights frozen), but its "
                f"{count} run in training mode"
            )
        else:
            continue  # a backbone trained as a whole, BatchNormalization included
        reported.update(id(layer) for layer in live)
        yield _finding("KBD013", _layer_where(op, owner), situation + ".", _BN_WHY, _BN_FIX)


_BN_WHY = (
    "in training mode BatchNormalization normalises each batch with its own statistics and overwrites the "
    "pretrained moving statistics; predictions use the moving statistics, so held-out results collapse "
    "although the training metrics look fine. In Keras 3 a BatchNormalization layer runs in training mode "
    "during fit whenever the layer itself is trainable: training=False in the functional call is replaced "
    "by fit's training=True (keras-team/keras#20285), only trainable=False on the layer keeps it in "
    "inference mode."
)


def _backbones(model: Any) -> Iterator[tuple[Any, Any, Any]]:
    """`(backbone, its input tensor or None for the model's input, node)` for known families."""
    if _family(model) is not None:
        yield model, None, None
        return
    for node in _graph_nodes(model):
        sub = node.operation
        if isinstance(sub, keras.Model) and _family(sub) is not None and len(node.input_tensors) == 1:
            yield sub, node.input_tensors[0], node


def _check_input_range(ctx: _Context) -> Iterator[Finding]:
    x = ctx.x
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiub":
        return
    inputs = _model_outputs_inputs(ctx.model)
    if len(inputs) != 1:
        return
    sample = x[:MAX_SAMPLES]
    for backbone, tensor, _ in _backbones(ctx.model):
        family = _family(backbone)
        if family is None:
            continue
        if tensor is None or tensor is inputs[0]:
            values = sample
        else:
            try:
                front = keras.Model(inputs[0], tensor)
                values = np.asarray(keras.ops.convert_to_numpy(front(sample, training=False)))
            except Exception:  # noqa: BLE001 - an unusual graph: no evidence, no finding
                continue
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
        if finite.size == 0:
            continue
        lo, hi = float(finite.min()), float(finite.max())
        problem = _range_problem(lo, hi, family.mode)
        if problem is None:
            continue
        severity, looks_like = problem
        scaled_01 = hi <= 1.0 and lo >= 0.0
        fix_input = "x * 255.0" if scaled_01 else "x"
        fix = f"x = keras.applications.{family.module}.preprocess_input({fix_input})  # expects 0-255 pixels"
        if family.mode == "raw":
            fix = "pass 0-255 pixels: the network rescales them itself (x = x * 255.0 if x is in [0, 1])"
        fed = "the model's input" if tensor is None or tensor is inputs[0] else "the layers in front of it"
        yield _finding(
            "KBD014",
            _layer_where(backbone) if backbone is not ctx.model else "inputs (x)",
            f"{family.name} backbone {backbone.name!r} receives values from {lo:.4g} to {hi:.4g} "
            f"({looks_like}); it expects {_MODE_RANGES[family.mode]}.",
            f"{family.name}'s weights were trained on inputs prepared by "
            f"keras.applications.{family.module}.preprocess_input; other ranges give activations the "
            f"network never saw, and a pretrained backbone then extracts poor features without an error "
            f"(range measured on {len(sample)} examples of x, after {fed}).",
            fix,
            severity=severity,
        )


def _model_outputs_inputs(model: Any) -> list[Any]:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):
        return []


# ---------------------------------------------------------------------------
# The data.


def _as_array(data: Any) -> Any:
    """NumPy for arrays and tensors; lists and dicts of arrays stay containers."""
    if data is None or isinstance(data, np.ndarray):
        return data
    if isinstance(data, Mapping):
        return {k: _as_array(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and hasattr(data[0], "shape"):
        return [_as_array(v) for v in data]
    if hasattr(data, "element_spec") or (hasattr(data, "__next__") and not hasattr(data, "shape")):
        raise TypeError(
            f"diagnose reads arrays, not a {type(data).__name__}: pass one batch, "
            "e.g. x, y = next(iter(dataset)); diagnose(model, x, y)"
        )
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        return np.asarray(keras.ops.convert_to_numpy(data))
    return np.asarray(data)


def _arrays(x: Any) -> list[np.ndarray]:
    if isinstance(x, Mapping):
        return [v for v in x.values() if isinstance(v, np.ndarray)]
    if isinstance(x, list):
        return [v for v in x if isinstance(v, np.ndarray)]
    return [x] if isinstance(x, np.ndarray) else []


def _check_inputs(ctx: _Context) -> Iterator[Finding]:
    for array in _arrays(ctx.x):
        if array.dtype.kind != "f":
            continue
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            yield _finding(
                "KBD017",
                "inputs (x)",
                f"{bad} of {array.size} input values are NaN or infinite.",
                "one NaN input makes the loss NaN, and the next update spreads NaN to every weight.",
                "x = np.nan_to_num(x)  # or drop the examples: keep = np.isfinite(x).reshape(len(x), -1).all(axis=1)",
            )
    x, y = ctx.x, ctx.y
    inputs = _model_outputs_inputs(ctx.model)
    if isinstance(x, np.ndarray) and len(inputs) == 1 and x.ndim >= 1:
        expected = tuple(inputs[0].shape)
        got = tuple(x.shape)
        fits = len(got) == len(expected) and all(
            e is None or e == g for e, g in zip(expected[1:], got[1:], strict=True)
        )
        if not fits:
            yield _finding(
                "KBD019",
                "inputs (x)",
                f"x has shape {_fmt(got)}; the model's input is {_fmt(expected)}.",
                "the model cannot be called on these inputs.",
                f"reshape the inputs, e.g. x = x.reshape((-1, {', '.join(str(d) for d in expected[1:])}))"
                if None not in expected[1:]
                else "reshape the inputs to the model's input shape",
            )
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.ndim and y.ndim and len(x) != len(y):
        yield _finding(
            "KBD019",
            "inputs (x)",
            f"x has {len(x)} examples and y has {len(y)}.",
            "each example needs one label (or one label per output position).",
            "pass the inputs and labels of the same examples, e.g. x, y = x[:n], y[:n] with n = min(len(x), len(y))",
        )


def _label_values(ctx: _Context, out: _Output, loss: _Loss | None) -> tuple[np.ndarray | None, list[Finding]]:
    """Checks the labels' shape against the output; returns the canonical label values."""
    y = ctx.y
    findings: list[Finding] = []
    out_shape = _output_shape(out)
    y_shape = (None,) + tuple(y.shape[1:]) if y.ndim else ()
    multi_label = bool(loss and loss.multi_label)
    try:
        layout = plan_layout(y_shape, out_shape, multi_label)
    except BinaryError as error:
        if error.code == "KB103":
            findings.append(
                _finding(
                    "KBD006",
                    f"layer {_output_name(out)}",
                    f"the output has shape {_fmt(out_shape)}, one score per position, but the labels {_fmt(y.shape)} "
                    "have one value per example: the features were not pooled.",
                    "the loss would compare every position with the example's label (or fail with a rank "
                    "error); the model needs one score per example.",
                    "pool the features before the output: outputs = keras_binary.BinaryHead()(features)",
                )
            )
        else:
            findings.append(
                _finding(
                    "KBD007",
                    "labels (y)",
                    f"the labels {_fmt(y.shape)} do not fit the output {_fmt(out_shape)} ({error.code}: {error.summary})",
                    error.expected
                    and f"expected {error.expected}."
                    or "no binary encoding explains these shapes.",
                    error.fix or "reshape the labels to one label per example",
                )
            )
        return (y[..., 1] if y.ndim >= 2 and y.shape[-1] == 2 else y), findings
    if layout.label == "onehot":
        if out.units == 1 and not (loss is not None and loss.ours):
            findings.append(
                _finding(
                    "KBD008",
                    "labels (y)",
                    f"the labels are one-hot {_fmt(y.shape)}, the output {_output_name(out)} has one unit "
                    f"{_fmt(out_shape)}.",
                    "Keras's binary losses compare the two columns with the one score element-wise: a shape "
                    "error, or, after broadcasting, a loss that counts every example twice with opposite labels.",
                    "y = np.argmax(y, axis=-1)  # one 0/1 label per example; or loss=keras_binary.SafeBCE(), "
                    "which reads column 1",
                )
            )
        return y[..., 1], findings
    return y, findings


def _check_labels(ctx: _Context) -> Iterator[Finding]:
    if not isinstance(ctx.y, np.ndarray):
        return
    if not ctx.outputs:  # no graph: the label values alone
        yield from _label_value_findings(ctx, ctx.y, None, ctx.losses[0] if ctx.losses else None)
        return
    for out, loss in zip(ctx.outputs, ctx.losses, strict=True):
        if not _binary_units(out):
            continue
        values, findings = _label_values(ctx, out, loss)
        yield from findings
        yield from _label_value_findings(ctx, values, out, loss)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"


def _label_value_findings(
    ctx: _Context, values: np.ndarray, out: _Output | None, loss: _Loss | None
) -> Iterator[Finding]:
    if values.dtype.kind == "b":
        values = values.astype("float64")
    if values.dtype.kind not in "fiu":
        yield _finding(
            "KBD009",
            "labels (y)",
            f"the labels are not numbers (dtype {values.dtype}).",
            "a binary loss needs the classes encoded as 0 and 1.",
            "y = (np.asarray(y) == 'positive').astype('float32')  # name your positive class",
        )
        return
    flat = values.astype("float64").ravel()
    nan = np.isnan(flat)
    if nan.any():
        yield _finding(
            "KBD010",
            "labels (y)",
            f"{int(nan.sum())} of {flat.size} labels are NaN.",
            "a NaN label makes the loss NaN for the whole batch; the next update spreads NaN to every weight.",
            "drop or impute the missing labels: keep = ~np.isnan(y); x, y = x[keep], y[keep]",
        )
        flat = flat[~nan]
    if flat.size == 0:
        return
    lo, hi = float(flat.min()), float(flat.max())
    if lo < 0.0 or hi > 1.0:
        distinct = np.unique(flat[:100_000])
        shown = "{" + ", ".join(_num(v) for v in distinct[:6]) + (", ...}" if distinct.size > 6 else "}")
        as_set = set(distinct.tolist())
        if as_set <= {1.0, 2.0}:
            fix, how = "y = y - 1", "class names 1 and 2"
        elif as_set <= {-1.0, 1.0}:
            fix, how = "y = (y + 1) / 2", "the {-1, 1} encoding of SVMs"
        elif as_set <= {0.0, 255.0} or (lo >= 0 and hi == 255.0):
            fix, how = "y = y / 255  # or (y > 127).astype('float32') for masks", "a 0-255 image mask"
        elif np.all(distinct == np.round(distinct)) and distinct.size > 2:
            fix, how = (
                "y = (y == POSITIVE_CLASS).astype('float32')  # one class against the rest",
                f"{distinct.size} class ids of a multi-class task",
            )
        else:
            fix, how = "y = (y > THRESHOLD).astype('float32')  # map your two classes to 0 and 1", "values"
        yield _finding(
            "KBD009",
            "labels (y)",
            f"the labels range from {_num(lo)} to {_num(hi)} (values {shown}: {how}); binary labels are 0 and 1.",
            "a binary cross-entropy on labels outside [0, 1] has no minimum where it should: plain Keras "
            "trains on wrong targets without an error (keras_binary's losses stop with KB201-KB203).",
            fix,
        )
        return
    hard = bool(np.all((flat == 0.0) | (flat == 1.0)))
    if hard and np.unique(flat).size == 1:
        only = int(flat[0])
        yield _finding(
            "KBD011",
            "labels (y)",
            f"all {flat.size} labels are {only}: only one class is present.",
            "a classifier cannot learn to separate two classes from examples of one; it learns to "
            f"always predict {only}, and AUC is undefined.",
            "check the label column and the split (e.g. train_test_split(x, y, stratify=y)); "
            "both classes must be present",
        )
        return
    rate = float(flat.mean())
    if IMBALANCE_RATE <= rate <= 1.0 - IMBALANCE_RATE:
        return
    compensated = []
    if loss is not None and loss.pos_weight is not None:
        compensated.append("pos_weight")
    if loss is not None and loss.class_balancing:
        compensated.append("apply_class_balancing")
    if ctx.class_weight:
        compensated.append("class_weight")
    if out is not None and _has_bias_prior(out, rate):
        compensated.append("bias prior")
    if compensated:
        return
    n_pos = float(flat.sum())
    n_neg = float(flat.size - n_pos)
    pos_weight = n_neg / max(n_pos, 1e-12)
    rare = "positive" if rate < 0.5 else "negative"
    yield _finding(
        "KBD012",
        "labels (y)",
        f"{rate:.1%} of the {flat.size} labels are positive: the {rare} class is rare, and no pos_weight, "
        "class weight or bias prior compensates.",
        f"an unweighted loss is minimised early by predicting the majority class for everything (accuracy "
        f"{max(rate, 1 - rate):.1%}, nothing learned), and a zero output bias starts training far from the "
        "base rate.",
        f"keras_binary.BinaryHead(bias_init_prior={rate:.4g}) and/or "
        f"loss=keras_binary.SafeBCE(pos_weight={pos_weight:.4g})  # n_negative / n_positive",
    )


def _has_bias_prior(out: _Output, rate: float) -> bool:
    head = out.head
    if head is None:
        return False
    if getattr(head, "bias_init_prior", None) is not None:
        return True
    dense = getattr(head, "output_dense", head)
    bias = getattr(dense, "bias", None)
    if bias is None or out.units not in (1, 2):
        return False
    values = np.asarray(keras.ops.convert_to_numpy(bias), dtype="float64").ravel()
    logit = values[0] if values.size == 1 else values[-1] - values[0]
    target = math.log(rate) - math.log1p(-rate)
    return abs(logit - target) < 0.5


def _check_not_binary(ctx: _Context) -> Iterator[Finding]:
    for out, loss in zip(ctx.outputs, ctx.losses, strict=True):
        if out.units is None or out.units <= 2:
            continue
        y = ctx.y
        binary_labels = (
            isinstance(y, np.ndarray)
            and y.dtype.kind in "fiub"
            and (y.ndim == 1 or (y.ndim >= 2 and y.shape[-1] == 1))
            and bool(np.all(np.isin(y[:100_000], (0, 1))))
        )
        binary_loss = loss is not None and (
            (loss.ours and not loss.multi_label)
            or (loss.kind in ("binary", "focal") and out.activation in ("softmax", "log_softmax"))
        )
        error = binary_labels or binary_loss
        reason = "binary labels" if binary_labels else f"the binary loss {loss.name}" if binary_loss else ""
        yield _finding(
            "KBD016",
            f"layer {_output_name(out)}",
            f"the output {_fmt(_output_shape(out))} has {out.units} units"
            + (f" with a {out.activation}" if out.activation not in (None,) else "")
            + (f", against {reason}." if error else "; the checks for binary heads were skipped."),
            "a binary output has 1 unit (a probability or logit) or 2 (a softmax pair)"
            + (
                "; with 1000 units the ImageNet classifier is still on top (include_top=True)."
                if out.units == 1000
                else "; a K-class model is outside what keras_binary checks."
            ),
            "end the model with keras_binary.BinaryHead(); for K independent labels use multi_label=True",
            severity="error" if error else "info",
        )


def _check_spatial_output(ctx: _Context) -> Iterator[Finding]:
    if isinstance(ctx.y, np.ndarray):
        return  # with labels, _label_values decides (KBD006 as an error)
    for out in ctx.outputs:
        shape = _output_shape(out)
        head = out.head
        if (
            len(shape) < 3
            or not _binary_units(out)
            or head is None
            or type(head).__name__ not in ("Dense", "EinsumDense")
        ):
            continue
        yield _finding(
            "KBD006",
            _layer_where(head, out.owner),
            f"Dense layer {head.name!r} is applied to unpooled features: the output {_fmt(shape)} has one "
            "score per position.",
            "Dense acts on the last axis only; with one label per example, the loss compares every "
            "position with it (or fails with a rank error). Per-pixel labels (segmentation) are the "
            "exception: pass y to diagnose to check them.",
            "pool the features before the output: outputs = keras_binary.BinaryHead()(features)",
            severity="warning",
        )


_CHECKS = (
    _check_inputs,
    _check_not_binary,
    _check_classifier_stacking,
    _check_size1_softmax,
    _check_categorical_loss,
    _check_from_logits,
    _check_spatial_output,
    _check_labels,
    _check_batch_norm_mode,
    _check_input_range,
    _check_mixed_precision,
)


# ---------------------------------------------------------------------------
# The entry points.


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a `.keras` file for `diagnose`, with clear errors.

    Args:
        path: the path of a `.keras` (or legacy `.h5`) model file.

    Returns:
        The model, compiled as it was saved.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a Keras model Keras can load.

    Example:

    >>> try:
    ...     load_model("no_such_model.keras")
    ... except FileNotFoundError as error:
    ...     print(error)
    no model file at 'no_such_model.keras'.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}.")
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras model file: a .keras file is a zip archive written by model.save('model.keras')."
        )
    import keras_binary  # noqa: F401 - registers the package's layers, losses and metrics

    try:
        with warnings.catch_warnings():
            # Saved before any training step, a compiled model has fewer optimizer
            # variables than a fresh one: harmless for reading the model.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure means "not a model Keras can load"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"{path!r} is not a Keras model file that can be loaded ({type(error).__name__}: {first[:300]}). "
            "Save models with model.save('model.keras')."
        ) from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} holds a {type(model).__name__}, not a Keras model.")
    return model


def diagnose(
    model: keras.Model | str | os.PathLike,
    x: Any = None,
    y: Any = None,
    loss: Any = None,
    class_weight: Mapping[int, float] | None = None,
) -> Report:
    """Finds the silent mistakes of a binary classifier, before training.

    Reads the model's functional graph, its layers and its loss, and the data
    when given, and reports each problem with a stable code (`KBD001`, ...;
    see `DIAGNOSTIC_CODES` and docs/diagnose.md), a severity, the layer or
    data concerned, an explanation and the fix. It checks:

    - a binary head stacked on a K > 2 softmax (`include_top=True` left on);
    - a softmax over an axis of size 1 (`Dense(1, activation="softmax")`);
    - a sigmoid or one-unit output with a categorical cross-entropy;
    - `from_logits` disagreeing with the final activation;
    - an unpooled spatial output against per-example labels;
    - labels: outside {0, 1}, one-hot against one unit, NaN, a single
      class, strong imbalance with no `pos_weight`, class weight or bias
      prior (with the values to use);
    - BatchNormalization layers of a frozen (or `training=False`)
      backbone that `fit` runs in training mode, and inputs outside the range the backbone's
      `preprocess_input` produces (known `keras.applications` families,
      recognised by their model name, when `x` is given);
    - a sigmoid or softmax output computed in float16 or bfloat16.

    The model is never modified: no training step runs, no weight or
    compile setting changes.

    Args:
        model: a `keras.Model`, or the path of a `.keras` file.
        x: optional inputs (a NumPy array or tensor; a sample is enough).
        y: optional labels for `x`.
        loss: the loss to check; `None` takes the model's compiled loss.
        class_weight: the `class_weight` you pass to `fit`, if any (it is not
            stored in the model); it counts as compensating an imbalance.

    Returns:
        A `Report`: `report.ok` is `False` when an error was found;
        `str(report)` reads well; `report.to_dict()` is JSON-ready.

    Raises:
        FileNotFoundError: `model` is a path to no file.
        ValueError: `model` is a file that is not a loadable Keras model.
        TypeError: `model` is neither a model nor a path.

    Example:

    >>> backbone = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    >>> model = keras.Sequential([backbone, keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> report = diagnose(model)
    >>> report.codes
    ['KBD001']
    >>> print(str(report).splitlines()[1])
    error KBD001 at layer 'dense_1': the binary head's input is a softmax over 10 classes ...
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"diagnose needs a keras.Model or the path of a .keras file, received {type(model).__name__}."
        )
    x = _as_array(x)
    y = _as_array(y)
    if loss is None:
        loss = getattr(model, "loss", None)
    tensors = _model_outputs(model)
    outputs = [_describe_output(t) for t in tensors]
    losses = [_describe_loss(item) for item in _losses_per_output(loss, outputs)] if outputs else []
    ctx = _Context(model, outputs, losses, x, y, class_weight)

    findings: list[Finding] = []
    if not outputs:
        findings.append(
            _finding(
                "KBD020",
                "model",
                f"model {model.name!r} has no functional graph (a subclassed model, or a Sequential model "
                "without an Input): only the loss and data checks ran.",
                "the layer checks read the graph of layer calls, which only functional and built "
                "Sequential models record.",
                "start a Sequential model with keras.Input(shape), or build the model with the functional API",
            )
        )
        described = _describe_loss(loss if not isinstance(loss, (list, tuple, Mapping)) else None)
        ctx = ctx._replace(losses=[described])
        findings += list(_check_inputs(ctx))
        findings += list(_check_labels(ctx))
    else:
        for check in _CHECKS:
            findings.extend(check(ctx))
    if loss is None:
        findings.append(
            _finding(
                "KBD018",
                "loss",
                "the model is not compiled and no loss was given: the loss checks were skipped.",
                "the loss must agree with the output (from_logits, binary or categorical).",
                "diagnose(model, x, y, loss=keras_binary.SafeBCE())  # or compile the model first",
            )
        )
    findings = _deduplicate(findings)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: order[f.severity])
    described = [d for d in ctx.losses if d is not None]
    checked = {
        "graph": bool(outputs),
        "loss": described[0].name if described else None,
        "labels": isinstance(y, np.ndarray),
        "inputs": x is not None,
    }
    return Report(findings, model.name, checked)


def _deduplicate(findings: Sequence[Finding]) -> list[Finding]:
    seen, result = set(), []
    for f in findings:
        key = (f.code, f.where, f.summary)
        if key not in seen:
            seen.add(key)
            result.append(f)
    return result


# TEMPORARY: replaced by the issue-11 graph_errors at merge
def graph_errors(model: keras.Model) -> list[Finding]:
    """The error findings of `diagnose(model)` without data (the fit guard's graph checks).

    Args:
        model: a Keras model.

    Returns:
        The findings of severity `"error"`.
    """
    return diagnose(model).errors
