"""Exact conversions between binary encodings: scores, and model heads.

A binary output can be written in four ways, all equivalent:

- one probability `p = sigmoid(z)` (a 1-unit sigmoid);
- one logit `z` (a 1-unit linear output, for `from_logits=True`);
- a softmax pair of probabilities `[1 - p, p]` (a 2-unit softmax);
- a softmax pair of logits `[z0, z1]`, with `z = z1 - z0`.

They rest on one identity, `softmax([z0, z1])[1] == sigmoid(z1 - z0)`:
softmax is unchanged when the same number is added to both logits, so only
the difference `z1 - z0` matters. The score conversions below apply these
identities to tensors (`keras.ops` only, any backend); `convert_head`
applies them to the last layer of a model, so that a 2-unit softmax model can
be deployed as a smaller 1-unit sigmoid model, or a legacy softmax model can
be trained with a stable logits loss, with exactly the same predictions.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from keras_binary import _graph, _runtime
from keras_binary._contract import _fmt, static_shape
from keras_binary._value_checks import PAIR_SUM_TOLERANCE
from keras_binary.errors import BinaryConfigError, BinaryLabelError, BinaryShapeError
from keras_binary.layers import BinaryHead

__all__ = [
    "convert_head",
    "logit_pair_to_logit",
    "logit_to_logit_pair",
    "logit_to_probability",
    "probability_pair_to_probability",
    "probability_to_logit",
    "probability_to_probability_pair",
]

# ---------------------------------------------------------------------------
# Score conversions
# ---------------------------------------------------------------------------


def _pair_shape(x: Any, function: str) -> tuple:
    shape = static_shape(x)
    if len(shape) >= 1 and shape[-1] == 2:
        return shape
    raise BinaryShapeError(
        "KB130",
        f"{function} needs a softmax pair: a last axis of size 2.",
        received=f"shape={_fmt(shape)}",
        expected="a tensor of shape (..., 2), e.g. (N, 2)",
        fix=(
            "pass the output of a 2-unit layer; for one score per example use "
            "logit_to_probability or probability_to_logit instead"
        ),
    )


def _score_shape(x: Any, function: str) -> tuple:
    shape = static_shape(x)
    if len(shape) == 1 or (len(shape) >= 2 and shape[-1] == 1):
        return shape
    raise BinaryShapeError(
        "KB130",
        f"{function} needs one score per example: a last axis of size 1, or a rank-1 tensor.",
        received=f"shape={_fmt(shape)}",
        expected="a tensor of shape (N, 1), (..., 1) or (N,)",
        fix=(
            "pass the output of a 1-unit layer; for a softmax pair use "
            "logit_pair_to_logit or probability_pair_to_probability first"
            if len(shape) >= 1
            else "pass a batch: p = np.reshape(p, (-1, 1))"
        ),
    )


def _probability_error(stats: np.ndarray) -> BinaryLabelError:
    count, out, low, high, pair_error = (float(v) for v in stats)
    if out > 0:
        return BinaryLabelError(
            "KB205",
            f"{int(out)} of {int(count)} values are outside [0, 1]: these look like "
            "logits, but the conversion was told they are probabilities.",
            received=f"values from {low:.4g} to {high:.4g}",
            expected="probabilities in [0, 1]",
            fix="convert logits with keras_binary.convert.logit_to_probability(z), or pass validate=False",
        )
    return BinaryLabelError(
        "KB206",
        "a softmax pair does not sum to 1: these look like two independent "
        "scores (sigmoids or logits), not softmax probabilities.",
        received=f"pair sums off by up to {pair_error:.4g}",
        expected=f"p[..., 0] + p[..., 1] == 1 within {PAIR_SUM_TOLERANCE}",
        fix="for a pair of logits use keras_binary.convert.logit_pair_to_logit(z)",
    )


def _check_probabilities(p: Any, pair: bool) -> Any:
    """Value check of `validate=True`; returns a mask to poison, or `None`.

    Symbolic tensors (a functional model being built) are not checked: Keras
    records only its own operations there, and a check cannot be one of them.
    """
    if keras.backend.is_keras_tensor(p):
        return None
    values = ops.cast(p, "float32")
    clean = ops.where(ops.isnan(values), 0.5, values)  # NaN passes through as NaN
    out = ops.sum(ops.cast(ops.logical_or(clean < 0.0, clean > 1.0), "float32"))
    if pair:
        total = ops.take(clean, 0, axis=-1) + ops.take(clean, 1, axis=-1)
        pair_error = _runtime.reduce_max(ops.abs(total - 1.0), 0.0)
    else:
        pair_error = ops.zeros((), "float32")
    stats = ops.stack(
        [
            ops.cast(ops.size(values), "float32"),
            out,
            _runtime.reduce_min(clean, float("inf")),
            _runtime.reduce_max(clean, -float("inf")),
            pair_error,
        ]
    )
    bad = ops.logical_or(out > 0, pair_error > PAIR_SUM_TOLERANCE)
    return _runtime.raise_if(bad, stats, _probability_error)


def _poison(result: Any, poisoned: Any) -> Any:
    if poisoned is None:
        return result
    return ops.where(poisoned, float("nan"), result)


def _float(x: Any) -> Any:
    x = ops.convert_to_tensor(x)
    if "float" not in str(getattr(x.dtype, "name", x.dtype)):
        x = ops.cast(x, keras.config.floatx())
    return x


def logit_to_probability(z: Any) -> Any:
    """Converts logits to probabilities: `p = sigmoid(z)`.

    Identity: `sigmoid(z) == 1 / (1 + exp(-z)) == softmax([0, z])[1]`. Stable
    for every finite `z` (large `|z|` gives exactly 0 or 1, never NaN).

    Args:
        z: logits, any shape.

    Returns:
        Probabilities of the same shape.

    Example:

    >>> import numpy as np
    >>> p = logit_to_probability(np.array([[-1e4], [0.0], [2.0]]))
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(p).ravel()]
    [0.0, 0.5, 0.8808]
    """
    return ops.sigmoid(_float(z))


def probability_to_logit(p: Any, epsilon: float | None = None, validate: bool = True) -> Any:
    """Converts probabilities to logits: `z = log(p) - log(1 - p)`.

    Identity: `sigmoid(log(p) - log(1 - p)) == p` for `0 < p < 1`. The
    computation `log(p) - log1p(-p)` is accurate near 0 and near 1. The
    probabilities are first clipped to `[epsilon, 1 - epsilon]`, so that 0 and
    1 give finite logits (with Keras's default `epsilon=1e-7`, about -16.1
    and +15.9 in float32); `epsilon=0` gives `-inf` and `+inf` instead.

    Args:
        p: probabilities in [0, 1], any shape.
        epsilon: the clipping bound, in [0, 0.5); `None` for
            `keras.config.epsilon()`.
        validate: raise a coded `BinaryLabelError` (`KB205`) when a value is
            outside [0, 1] (logits passed by mistake) instead of clipping it
            silently; NaN passes through as NaN. The check runs on
            tensors (eagerly or in a compiled function), not on the symbolic
            inputs of a functional model.

    Returns:
        Logits of the same shape.

    Example:

    >>> import numpy as np
    >>> z = probability_to_logit(np.array([[0.5], [0.8808], [1.0]], "float32"))
    >>> [round(float(v), 2) for v in keras.ops.convert_to_numpy(z).ravel()]
    [0.0, 2.0, 15.94]
    """
    epsilon = keras.config.epsilon() if epsilon is None else epsilon
    ok = isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) and 0.0 <= epsilon < 0.5
    if not ok or not math.isfinite(epsilon):
        raise BinaryConfigError(
            "KB301",
            "`epsilon` must be a number in [0, 0.5).",
            received=f"epsilon={epsilon!r}",
            expected="a number in [0, 0.5), e.g. 1e-7",
            fix="probability_to_logit(p, epsilon=1e-7)",
        )
    p = _float(p)
    poisoned = _check_probabilities(p, pair=False) if validate else None
    if epsilon:
        p = ops.clip(p, epsilon, 1.0 - epsilon)
    return _poison(ops.log(p) - ops.log1p(-p), poisoned)


def logit_pair_to_logit(z_pair: Any) -> Any:
    """Reduces a softmax pair of logits to one logit: `z = z1 - z0`.

    Identity: `softmax([z0, z1])[1] == sigmoid(z1 - z0)`, since softmax does
    not change when both logits move by the same amount.

    Args:
        z_pair: logits of shape `(..., 2)`.

    Returns:
        One logit per example, shape `(..., 1)`.

    Raises:
        BinaryShapeError: `KB130` when the last axis does not have size 2.

    Example:

    >>> import numpy as np
    >>> z = logit_pair_to_logit(np.array([[1.0, 3.0], [2.0, -1.0]]))
    >>> keras.ops.convert_to_numpy(z).tolist()
    [[2.0], [-3.0]]
    """
    _pair_shape(z_pair, "logit_pair_to_logit")
    z_pair = _float(z_pair)
    return z_pair[..., 1:] - z_pair[..., :1]


def probability_pair_to_probability(p_pair: Any, validate: bool = True) -> Any:
    """Reduces a softmax pair of probabilities to one: `p = p1`.

    Identity: a softmax pair is `[1 - p, p]`, so its second entry is the
    positive-class probability (the same reduction as the shape contract).

    Args:
        p_pair: probabilities of shape `(..., 2)` that sum to 1 on the last
            axis.
        validate: raise a coded `BinaryLabelError` when a value is outside
            [0, 1] (`KB205`) or a pair does not sum to 1 (`KB206`).

    Returns:
        One probability per example, shape `(..., 1)`.

    Raises:
        BinaryShapeError: `KB130` when the last axis does not have size 2.

    Example:

    >>> import numpy as np
    >>> p = probability_pair_to_probability(np.array([[0.25, 0.75], [0.9, 0.1]]))
    >>> [round(float(v), 2) for v in keras.ops.convert_to_numpy(p).ravel()]
    [0.75, 0.1]
    """
    _pair_shape(p_pair, "probability_pair_to_probability")
    p_pair = _float(p_pair)
    poisoned = _check_probabilities(p_pair, pair=True) if validate else None
    return _poison(p_pair[..., 1:], poisoned)


def _to_pair(first: Any, second: Any, rank_one: bool) -> Any:
    if rank_one:
        return ops.stack([first, second], axis=-1)
    return ops.concatenate([first, second], axis=-1)


def logit_to_logit_pair(z: Any) -> Any:
    """Expands one logit to a softmax pair of logits: `[0, z]`.

    Identity: `softmax([0, z])[1] == sigmoid(z)`: this is the pair a 2-unit
    layer with kernel `[0, w]` and bias `[0, b]` computes.

    Args:
        z: logits of shape `(..., 1)`, or `(N,)` (one per example).

    Returns:
        Pairs of logits, shape `(..., 2)` (`(N, 2)` for a rank-1 input).

    Raises:
        BinaryShapeError: `KB130` for a shape that is not one score per
            example.

    Example:

    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(logit_to_logit_pair(np.array([[2.0], [-1.0]]))).tolist()
    [[0.0, 2.0], [0.0, -1.0]]
    """
    shape = _score_shape(z, "logit_to_logit_pair")
    z = _float(z)
    return _to_pair(ops.zeros_like(z), z, len(shape) == 1)


def probability_to_probability_pair(p: Any, validate: bool = True) -> Any:
    """Expands one probability to a softmax pair: `[1 - p, p]`.

    Identity: the two probabilities of a softmax pair sum to 1, and
    `probability_pair_to_probability` gives `p` back exactly.

    Args:
        p: probabilities of shape `(..., 1)`, or `(N,)` (one per example).
        validate: raise a coded `BinaryLabelError` (`KB205`) when a value is
            outside [0, 1].

    Returns:
        Pairs of probabilities, shape `(..., 2)` (`(N, 2)` for a rank-1 input).

    Raises:
        BinaryShapeError: `KB130` for a shape that is not one score per
            example.

    Example:

    >>> import numpy as np
    >>> pair = probability_to_probability_pair(np.array([[0.75], [0.1]]))
    >>> [[round(float(v), 2) for v in row] for row in keras.ops.convert_to_numpy(pair)]
    [[0.25, 0.75], [0.9, 0.1]]
    """
    shape = _score_shape(p, "probability_to_probability_pair")
    p = _float(p)
    poisoned = _check_probabilities(p, pair=False) if validate else None
    return _poison(_to_pair(1.0 - p, p, len(shape) == 1), poisoned)


# ---------------------------------------------------------------------------
# Head conversion
# ---------------------------------------------------------------------------

# target -> (units, activation name); None is a linear output (logits).
_TARGETS: dict[str, tuple[int, str | None]] = {
    "sigmoid": (1, "sigmoid"),
    "logits": (1, None),
    "softmax": (2, "softmax"),
}


class _Head(NamedTuple):
    """The binary output of a model, as `convert_head` found it."""

    layer: Any  # the last layer: a Dense, a BinaryHead, or an Activation/Softmax layer
    dense: Any  # the Dense layer computing the scores
    units: int  # 1 or 2
    activation: str | None  # "sigmoid", "softmax", or None for logits


def _activation_name(activation: Any) -> str | None:
    """Names an activation function; `"?"` when it is not one we know."""
    if activation is None:
        return None
    if isinstance(activation, str):
        name = activation
    else:
        known = {
            keras.activations.sigmoid: "sigmoid",
            keras.activations.softmax: "softmax",
            keras.activations.linear: "linear",
            ops.sigmoid: "sigmoid",
            ops.softmax: "softmax",
        }
        try:
            name = known.get(activation, "?")
        except TypeError:  # an unhashable callable
            name = "?"
    if name == "linear":
        return None
    return name if name in ("sigmoid", "softmax") else "?"


def _describe(activation: Any) -> str:
    return getattr(activation, "__name__", None) or type(activation).__name__


def _no_head(model: Any, layer: Any, why: str) -> BinaryConfigError:
    return BinaryConfigError(
        "KB342",
        f"the model has no final layer that convert_head can rewrite exactly: {why}",
        received=f"last layer {layer.name!r} of class {type(layer).__name__} in model {model.name!r}",
        expected=(
            "a model ending in keras_binary.BinaryHead, in Dense(1 or 2 units), or in "
            "Dense followed by Activation/Softmax"
        ),
        fix="end the model with keras_binary.BinaryHead()(features), or Dense(2, activation='softmax')",
    )


def _model_config(model: Any) -> dict:
    if not isinstance(model, keras.Model):
        raise BinaryConfigError(
            "KB301",
            "convert_head needs a keras.Model.",
            received=f"model of type {type(model).__name__}",
            expected="a built Sequential or functional keras.Model",
            fix="wrap the layers in a model: keras.Sequential([keras.Input(shape), *layers])",
        )
    try:
        config = model.get_config()
    except NotImplementedError:
        config = None
    if not isinstance(config, dict) or "layers" not in config:
        raise BinaryConfigError(
            "KB345",
            "the model cannot be rebuilt from its configuration: it is a subclassed "
            "model, or it was never built.",
            received=f"model {model.name!r} of class {type(model).__name__}",
            expected="a built Sequential or functional keras.Model",
            fix=(
                "build it as a functional model, e.g. "
                "keras.Model(inputs, keras_binary.BinaryHead()(features)), or call it on data first"
            ),
        )
    return config


def _output_step(model: Any) -> _graph.Step:
    """The call that produces the model's single output."""
    outputs = _graph.model_outputs(model)
    step = _graph.producer(outputs[0]) if len(outputs) == 1 else None
    if step is None:
        n = len(outputs)
        raise BinaryConfigError(
            "KB343",
            f"the model has {n} outputs; convert_head rewrites a model with one binary output.",
            received=f"model {model.name!r} with outputs {[tuple(o.shape) for o in outputs]}",
            expected="a model with a single output",
            fix="convert a single-output model, e.g. keras.Model(model.inputs, model.outputs[0])",
        )
    return step


def _entries(config: dict) -> dict[str, dict]:
    return {entry["config"]["name"]: entry for entry in config["layers"]}


def _find_head(model: Any, config: dict | None = None) -> _Head:
    """Finds the binary output layer of a built Sequential or functional model."""
    config = _model_config(model) if config is None else config
    if not model.built or not model.layers:
        raise BinaryConfigError(
            "KB345",
            "the model is not built, so its final layer has no weights to convert.",
            received=f"model {model.name!r} with built={model.built}",
            expected="a built model",
            fix="give the model an input: keras.Sequential([keras.Input((features,)), ...]), or call it on data first",
        )
    step = _output_step(model)
    layer = step.operation
    # A Sequential model calls its layers again each time it is rebuilt: only
    # a functional model's extra calls mean a shared layer.
    sequential = isinstance(model, keras.Sequential)
    if not sequential and len(_graph.calls(layer)) != 1:
        raise _no_head(model, layer, "the final layer is shared (called more than once).")

    if isinstance(layer, BinaryHead):
        head = _Head(layer, layer.output_dense, int(layer.units), layer.activation)
    elif isinstance(layer, keras.layers.Dense):
        head = _Head(layer, layer, int(layer.units), _activation_name(layer.activation))
        if head.activation == "?":
            raise _unknown_activation(model, layer, _describe(layer.activation))
    elif isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)):
        if isinstance(layer, keras.layers.Softmax):
            if layer.axis not in (-1, len(layer.output.shape) - 1):
                raise _no_head(model, layer, f"its Softmax normalises axis {layer.axis}, not the class axis.")
            activation = "softmax"
        else:
            activation = _activation_name(layer.activation)
            if activation == "?":
                raise _unknown_activation(model, layer, _describe(layer.activation))
        inbound = [_graph.output_layer(t) for t in _graph.input_tensors(step.node)]
        dense = inbound[0] if len(inbound) == 1 else None
        if not isinstance(dense, keras.layers.Dense):
            found = type(dense).__name__ if dense is not None else f"{len(inbound)} inputs"
            raise _no_head(
                model, layer, f"its {type(layer).__name__} layer follows {found}, not a Dense layer."
            )
        if _activation_name(dense.activation) is not None:
            raise _no_head(
                model,
                layer,
                f"the Dense layer {dense.name!r} before it already has the activation "
                f"{_describe(dense.activation)}.",
            )
        if not sequential and len(_graph.calls(dense)) != 1:
            raise _no_head(model, layer, f"the Dense layer {dense.name!r} is shared.")
        head = _Head(layer, dense, int(dense.units), activation)
    else:
        raise _no_head(model, layer, f"{type(layer).__name__} is not a binary output layer.")

    dense = head.dense
    if getattr(dense, "lora_enabled", False) or getattr(dense, "quantization_mode", None):
        raise _no_head(model, layer, f"the Dense layer {dense.name!r} is quantized or has LoRA enabled.")
    if head.units > 2:
        raise BinaryConfigError(
            "KB340",
            f"the final layer has {head.units} units: a {head.units}-class output has no "
            "exact binary equivalent.",
            received=f"layer {layer.name!r} with units={head.units}",
            expected="a final layer with 1 unit (sigmoid or logit) or 2 units (softmax)",
            fix=(
                "replace the classifier, e.g. "
                "keras.Model(model.inputs, keras_binary.BinaryHead()(model.layers[-2].output)), and train it"
            ),
        )
    if head.units == 1 and head.activation == "softmax":
        raise BinaryConfigError(
            "KB302",
            "the final layer is one unit with a softmax: its output is always 1.0, so "
            "there is no probability to convert.",
            received=f"layer {layer.name!r} with units=1, activation='softmax'",
            expected="units=1 with a sigmoid (or no activation), or units=2 with a softmax",
            fix="rebuild the output as Dense(1, activation='sigmoid') and train it",
        )
    if head.units == 2 and head.activation == "sigmoid":
        raise BinaryConfigError(
            "KB303",
            "the final layer is two units with a sigmoid: two independent sigmoids are a "
            "multi-label output, with no exact binary equivalent.",
            received=f"layer {layer.name!r} with units=2, activation='sigmoid'",
            expected="units=2 with a softmax, or units=1 with a sigmoid",
            fix="rebuild the output as Dense(2, activation='softmax') or Dense(1, activation='sigmoid')",
        )
    return head


def _unknown_activation(model: Any, layer: Any, found: str) -> BinaryConfigError:
    return BinaryConfigError(
        "KB341",
        f"the final layer's activation is {found!r}, which has no exact sigmoid or softmax equivalent.",
        received=f"layer {layer.name!r} of model {model.name!r} with activation {found!r}",
        expected="activation 'sigmoid', 'softmax' or None (logits) on the final layer",
        fix="use the built-in activation, e.g. keras.layers.Dense(1, activation='sigmoid')",
    )


def _check_finite(model: Any) -> None:
    for variable in model.weights:
        if "float" not in str(variable.dtype):
            continue
        values = ops.convert_to_numpy(variable)
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise BinaryConfigError(
                "KB344",
                f"the model's weights contain {bad} NaN or infinite values: its "
                "predictions are not numbers, so no conversion can preserve them.",
                received=f"variable {variable.path!r} of shape {tuple(values.shape)}",
                expected="finite weights",
                fix="reload the last good checkpoint: model.load_weights(path), and lower the learning rate",
            )


def _head_weights(head: _Head, units: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The final kernel and bias for `units` outputs, computed in float64."""
    kernel = np.asarray(ops.convert_to_numpy(head.dense.kernel), dtype="float64")
    bias = head.dense.bias
    bias = None if bias is None else np.asarray(ops.convert_to_numpy(bias), dtype="float64")
    if units == head.units:
        return kernel, bias
    if units == 1:  # [w0, w1] -> w1 - w0
        return kernel[..., 1:] - kernel[..., :1], None if bias is None else bias[1:] - bias[:1]
    # w -> [0, w]
    return (
        np.concatenate([np.zeros_like(kernel), kernel], axis=-1),
        None if bias is None else np.concatenate([np.zeros_like(bias), bias]),
    )


def _rewrite_config(config: dict, head: _Head, units: int, activation: str | None) -> None:
    entries = _entries(config)
    if isinstance(head.layer, BinaryHead):
        layer_config = entries[head.layer.name]["config"]
        layer_config["units"] = units
        layer_config["activation"] = activation
        if layer_config.get("bias_init_prior") is not None:
            layer_config["bias_init_prior"] = None  # an initializer: the weights are copied
        return
    dense_config = entries[head.dense.name]["config"]
    dense_config["units"] = units
    if head.layer is head.dense:
        dense_config["activation"] = activation or "linear"
        return
    # Dense followed by an Activation or Softmax layer: an Activation takes its place.
    entry = entries[head.layer.name]
    replacement = keras.layers.Activation(
        activation or "linear", name=head.layer.name, dtype=head.layer.dtype_policy
    )
    serialized = keras.saving.serialize_keras_object(replacement)
    for key in ("module", "class_name", "config", "registered_name"):
        entry[key] = serialized[key]
    entry.pop("build_config", None)
    for node in entry.get("inbound_nodes", []):
        if isinstance(node, dict):  # Softmax takes a `mask` argument, Activation does not
            node.get("kwargs", {}).pop("mask", None)


def _copy_weights(source: Any, target: Any, replace: dict[int, np.ndarray]) -> None:
    """Copies `source`'s weights into `target`, replacing some by id."""
    for old_var, new_var in zip(source.weights, target.weights, strict=True):
        value = replace.get(id(old_var))
        if value is None:
            value = ops.convert_to_numpy(old_var)
        new_var.assign(np.asarray(value).astype(new_var.dtype))


def convert_head(model: keras.Model, to: str = "sigmoid") -> keras.Model:
    """Rewrites the binary output of a model exactly, as a new model.

    The final layer (a `Dense` of 1 or 2 units, a `Dense` followed by an
    `Activation` or `Softmax` layer, or a `keras_binary.BinaryHead`) is
    rewritten so that the new model predicts the same positive-class
    probability, up to float rounding:

    - 2 units to 1: kernel `w1 - w0` and bias `b1 - b0`, because
      `softmax([z0, z1])[1] == sigmoid(z1 - z0)`;
    - 1 unit to 2: kernel `[0, w]` and bias `[0, b]`, because
      `softmax([0, z])[1] == sigmoid(z)`;
    - sigmoid to logits and back: the same weights, without or with the
      sigmoid.

    A 2-unit layer without activation is read as a softmax pair of logits.
    Every other layer keeps its weights. The input model is not modified; the
    new model has the same layer names and is not compiled (compile it with a
    loss for its new output, e.g. `keras_binary.SafeBCE(from_logits=True)` for
    `to="logits"`).

    Typical uses: deploy a 2-unit softmax model as a 1-unit sigmoid model
    (half the final weights, one output for TFLite and serving code); convert
    a legacy softmax model to logits so that it trains with the numerically
    stable `from_logits=True` loss.

    Args:
        model: a built `Sequential` or functional `keras.Model` with one
            output.
        to: `"sigmoid"` (1 unit, probabilities), `"logits"` (1 unit, no
            activation) or `"softmax"` (2 units, a softmax pair).

    Returns:
        A new `keras.Model` of the same class.

    Raises:
        BinaryConfigError: what cannot be converted exactly: a final layer
            with more than 2 units (`KB340`), an unknown activation
            (`KB341`), no recognisable final layer (`KB342`), several outputs
            (`KB343`), non-finite weights (`KB344`), a model that cannot be
            rebuilt (`KB345`), `Dense(1, "softmax")` (`KB302`),
            `Dense(2, "sigmoid")` (`KB303`).

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    >>> small = convert_head(model, to="sigmoid")
    >>> small.output_shape
    (None, 1)
    >>> x = np.random.default_rng(0).normal(size=(4, 3))
    >>> p2 = keras.ops.convert_to_numpy(model(x))[:, 1]
    >>> p1 = keras.ops.convert_to_numpy(small(x))[:, 0]
    >>> bool(np.allclose(p1, p2, atol=1e-6))
    True
    """
    if to not in _TARGETS:
        raise BinaryConfigError(
            "KB301",
            "`to` must name a binary output.",
            received=f"to={to!r}",
            expected="'sigmoid', 'logits' or 'softmax'",
            fix="keras_binary.convert_head(model, to='sigmoid')",
        )
    units, activation = _TARGETS[to]
    config = _model_config(model)
    head = _find_head(model, config)
    _check_finite(model)
    kernel, bias = _head_weights(head, units)
    _rewrite_config(config, head, units, activation)
    try:
        new_model = type(model).from_config(config)
    except (TypeError, ValueError, KeyError, NotImplementedError) as error:
        raise BinaryConfigError(
            "KB345",
            "the model cannot be rebuilt from its configuration.",
            received=f"{type(error).__name__}: {error}",
            expected="a model whose layers all implement get_config (custom layers registered)",
            fix="register custom layers with @keras.saving.register_keras_serializable()",
        ) from error

    replace = {id(head.dense.kernel): kernel}
    if bias is not None:
        replace[id(head.dense.bias)] = bias
    for layer in model.layers:
        _copy_weights(layer, new_model.get_layer(layer.name), replace)
    return new_model
