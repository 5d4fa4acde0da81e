"""A classifier upstream of a tensor: a softmax top, or a top that ends in logits.

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

One walk (`_walk_back`) serves both searches; what counts as a classifier
top is its rule: a softmax over K > 2 units (`find_classifier`), or linear
class scores at the end of a top (`find_logit_classifier`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from keras_binary._graph._applications import Application, application, application_upstream
from keras_binary._graph._walk import (
    _LINEAR,
    _PASS_THROUGH,
    MAX_WALK,
    activation_name,
    input_tensors,
    is_graph_model,
    model_outputs,
    owner_text,
    producer,
    softmax_axis,
)

# The name keras.applications (include_top=True) and keras-hub classifiers give their class scores.
TOP_NAME = "predictions"


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


class _At(NamedTuple):
    """One call on the walk back, as a rule sees it."""

    operation: Any  # the layer or keras.ops operation
    tensor: Any  # the tensor it produced, on the walk's chain
    inputs: list[Any]  # the tensors it received
    model: Any  # the innermost model used as a layer that the walk is in, or None
    path: tuple[str, ...]  # the calls walked through before this one
    entered: bool  # the call is a nested model's output layer (behind pass-through layers only)

    def classifier(self, k: int, logits: bool = False, certain: bool = True) -> Classifier:
        app = application(self.model) if self.model is not None else application_upstream(self.inputs)
        return Classifier(self.operation, k, self.model, self.path, app, logits, certain)


def _walk_back(tensor: Any, rule: Callable[[_At], Classifier | None]) -> Classifier | None:
    """Walks the chain of single-input calls back from `tensor`, asking `rule` at each call.

    The walk enters models used as layers, stops at the first softmax (the
    rule decides there, and the walk ends whatever it says), at a call with
    several inputs and at a model input. A rule returns a `Classifier` to end
    the walk with it, or `None` to go on.
    """
    model, path, entered = None, [], False
    for _ in range(MAX_WALK):
        found = producer(tensor)
        if found is None:
            return None
        operation, node, index = found
        if is_graph_model(operation):
            model, entered = operation, True  # continue inside the model used as a layer
            tensor = model_outputs(operation)[index]
            continue
        inputs = input_tensors(node)
        at = _At(operation, tensor, inputs, model, tuple(path), entered)
        top = rule(at)
        if top is not None or softmax_axis(operation) is not None:
            return top  # the first softmax on the chain decides
        if len(inputs) != 1:
            return None  # an input layer, or a call combining several tensors
        if type(operation).__name__ not in _PASS_THROUGH:
            entered = False  # only the model's own output layer (behind dropout) counts
        path.append(getattr(operation, "name", type(operation).__name__))
        tensor = inputs[0]
    return None


def _last_axis_k(tensor: Any) -> int | None:
    shape = tuple(tensor.shape)
    k = shape[-1] if shape else None
    return k if isinstance(k, int) and k > 2 else None


def _softmax_top(at: _At) -> Classifier | None:
    """`find_classifier`'s rule: a softmax or log-softmax over K > 2 units on the last axis."""
    axis = softmax_axis(at.operation)
    if axis is None:
        return None
    k = _last_axis_k(at.tensor)
    if k is not None and axis in (-1, len(at.tensor.shape) - 1):
        return at.classifier(k)
    return None


def find_classifier(tensor: Any) -> Classifier | None:
    """A softmax over K > 2 classes upstream of `tensor`, through per-example layers.

    See the module's docstring for where the walk goes and where it stops.

    Returns:
        A `Classifier`, or `None`.
    """
    return _walk_back(tensor, _softmax_top)


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
    return _last_axis_k(tensor)


def is_hub_classifier(model: Any) -> bool:
    """Whether `model` is a keras-hub classification task (e.g. `ImageClassifier`), logits by default."""
    kind = type(model)
    return kind.__module__.startswith("keras_hub") and kind.__name__.endswith("Classifier")


def _logit_top(at: _At) -> Classifier | None:
    """`find_logit_classifier`'s rule (stated in its docstring)."""
    if softmax_axis(at.operation) is not None:
        return None  # find_classifier's case
    named = getattr(at.operation, "name", "") == TOP_NAME
    k = _linear_units(at.operation, at.tensor, named)
    if k is None or not (at.entered or named):
        return None
    top = at.classifier(k, logits=True)
    hub = at.model is not None and is_hub_classifier(at.model)
    certain = (named and (at.model is not None or top.application is not None)) or (
        at.entered and (top.application or hub)
    )
    if certain or at.entered:
        return top._replace(certain=bool(certain))
    return None


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
    return _walk_back(tensor, _logit_top)
