"""The graph checks of `diagnose`: what the model's layers compute."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from keras_binary import _graph
from keras_binary._contract import _fmt
from keras_binary.diagnostics._context import (
    _MIXED_DTYPES,
    _PROBABILITY_ACTIVATIONS,
    _binary_units,
    _Context,
    _layer_where,
    _output_name,
    _output_shape,
)
from keras_binary.diagnostics._report import Finding, _finding


def _check_classifier_stacking(ctx: _Context) -> Iterator[Finding]:
    for out in ctx.outputs:
        head = out.head
        if head is None or out.head_input is None or not _binary_units(out):
            continue
        if getattr(head, "allow_classifier_input", False):
            continue  # class probabilities used as features on purpose
        found = _graph.find_classifier(out.head_input)
        if found is None:
            continue
        top = (
            " (a classifier left on top, as with include_top=True)"
            if (found.model or found.application)
            else ""
        )
        through = f", through {', '.join(repr(n) for n in found.path)}" if found.path else ""
        yield _finding(
            "KBD001",
            _layer_where(head, out.owner),
            f"the binary head's input is a softmax over {found.k} classes from layer {found.layer.name!r}"
            f"{found.where}{top}{through}.",
            "a binary head on class probabilities trains without an error, but it learns from K numbers "
            "that sum to 1 instead of the backbone's features: a useless model that plain Keras trains silently.",
            f"{found.rebuild()}; outputs = keras_binary.BinaryHead()(backbone(inputs))",
        )


def _check_logit_classifier(ctx: _Context) -> Iterator[Finding]:
    """KBD027: a binary head on a classifier top that ends in logits (`classifier_activation=None`)."""
    for out in ctx.outputs:
        head = out.head
        if head is None or out.head_input is None or not _binary_units(out):
            continue
        if getattr(head, "allow_classifier_input", False):
            continue
        found = _graph.find_logit_classifier(out.head_input)
        if found is None:
            continue
        layer = found.layer
        if found.certain:
            what = f"the {found.k} class logits of the classifier top {layer.name!r}{found.where}"
            why = (
                "a classifier left on the backbone (include_top=True with classifier_activation=None, or a "
                "keras-hub classifier, which returns logits) hands the binary head K class scores instead of "
                "the backbone's features: it trains without an error on the wrong features."
            )
        else:
            what = (
                f"the {found.k} linear outputs of layer {layer.name!r}{found.where}, the last layer of a "
                "model used as a layer"
            )
            why = (
                "a nested model that ends in a linear Dense over K units looks like a classifier whose softmax "
                "was removed; if it is an embedding you built on purpose, ignore this warning."
            )
        yield _finding(
            "KBD027",
            _layer_where(head, out.owner),
            f"the binary head's input is {what}.",
            why,
            f"{found.rebuild()}; outputs = keras_binary.BinaryHead()(backbone(inputs))",
            severity="error" if found.certain else "warning",
        )


def _check_size1_softmax(ctx: _Context) -> Iterator[Finding]:
    for node, owner in _graph.all_nodes(ctx.model):
        axis = _graph.softmax_axis(node.operation)
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
    for node, owner in _graph.all_nodes(ctx.model):
        op = node.operation
        training = _graph.call_kwargs(node).get("training")
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
        situation, live = _bn_situation(
            f"the model {op.name!r}", list(_graph.sublayers(op)), op.trainable, training, reported
        )
        if situation:
            reported.update(id(layer) for layer in live)
            yield _finding("KBD013", _layer_where(op, owner), situation + ".", _BN_WHY, _BN_FIX)
    for backbone in _graph.backbones(ctx.model):
        if not backbone.inline:
            continue
        what = f"the {backbone.application.label} backbone built inline"
        situation, live = _bn_situation(what, list(backbone.layers), True, None, reported)
        if situation:
            reported.update(id(layer) for layer in live)
            yield _finding("KBD013", f"model {ctx.model.name!r}", situation + ".", _BN_WHY, _BN_FIX)


def _bn_situation(
    what: str, layers: list, trainable: bool, training: object, reported: set[int]
) -> tuple[str, list]:
    """Why a backbone's trainable BatchNormalization layers are a problem (`""` when they are not)."""
    live = [
        layer
        for layer in layers
        if isinstance(layer, keras.layers.BatchNormalization)
        and layer.trainable
        and id(layer) not in reported
    ]
    if not live:
        return "", live
    frozen = [
        layer
        for layer in layers
        if _graph.is_layer(layer)
        and not layer.trainable
        and layer.weights
        and not isinstance(layer, (keras.layers.BatchNormalization, keras.Model))
    ]
    names = ", ".join(repr(layer.name) for layer in live[:3]) + (", ..." if len(live) > 3 else "")
    count = f"{len(live)} trainable BatchNormalization layer{'s' if len(live) != 1 else ''} ({names})"
    if not trainable:
        return f"{what} is frozen (trainable=False), but {count} will run in training mode", live
    if training is False:
        return (
            f"{what} is called with training=False, but fit overrides it: its {count} run in training mode",
            live,
        )
    if frozen:
        return (
            f"{what} is partly frozen ({len(frozen)} layers with weights frozen), but its {count} run in "
            "training mode",
            live,
        )
    return "", live  # a backbone trained as a whole, BatchNormalization included


_BN_WHY = (
    "in training mode BatchNormalization normalises each batch with its own statistics and overwrites the "
    "pretrained moving statistics; predictions use the moving statistics, so held-out results collapse "
    "although the training metrics look fine. In Keras 3 a BatchNormalization layer runs in training mode "
    "during fit whenever the layer itself is trainable: training=False in the functional call is replaced "
    "by fit's training=True (keras-team/keras#20285), only trainable=False on the layer keeps it in "
    "inference mode."
)


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


def _training_noise_amount(layer: object) -> float:
    """The dropout rate (or noise standard deviation) of a training-only noise layer."""
    value = getattr(layer, "rate", None)
    if value is None:
        value = getattr(layer, "stddev", None)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0  # unknown: assume it is active


def _check_noise_after_activation(ctx: _Context) -> Iterator[Finding]:
    for out in ctx.outputs:
        if not _binary_units(out) or out.activation not in _PROBABILITY_ACTIVATIONS:
            continue
        noise, noise_owner, owner, current = None, "", "", out.tensor
        for _ in range(_graph.MAX_WALK):  # back from the output to the layer that applies the activation
            found = _graph.producer(current)
            if found is None:
                break
            operation, node, index = found
            if _graph.is_graph_model(operation):
                owner = _graph.owner_text(operation)
                current = _graph.model_outputs(operation)[index]
                continue
            if operation is out.activation_layer:
                break
            inputs = _graph.input_tensors(node)
            if len(inputs) != 1:
                break
            kind = type(operation).__name__
            if noise is None and kind in _graph.TRAINING_NOISE and _training_noise_amount(operation) > 0:
                noise, noise_owner = operation, owner
            current = inputs[0]
        if noise is None or out.activation_layer is None:
            continue
        act, act_layer = out.activation, out.activation_layer
        amount = (
            f"stddev={noise.stddev}"
            if type(noise).__name__ == "GaussianNoise"
            else f"rate={_training_noise_amount(noise)}"
        )
        yield _finding(
            "KBD040",
            _layer_where(noise, noise_owner),
            f"{type(noise).__name__} {noise.name!r} ({amount}) comes after the {act} of layer "
            f"{act_layer.name!r}{out.owner}: during fit the output is no longer a probability.",
            "fit runs the layer in training mode, after the activation: dropout sets some probabilities to 0 "
            "and divides the others by 1 - rate (values above 1), noise moves them outside [0, 1]. The loss "
            "clips them (keras_binary's losses stop with KB205), and the model is trained on outputs it never "
            "gives at inference. Dropout belongs before the output layer.",
            "put the dropout before the output layer: x = keras.layers.Dropout(0.5)(features); "
            "outputs = keras.layers.Dense(1, activation='sigmoid')(x)  # or keras_binary.BinaryHead(dropout=0.5)",
        )


# ---------------------------------------------------------------------------
# Models without a graph (subclassed): what their layers and first predictions tell.

# At most this many examples of `x` are predicted for the checks of a model without a graph.
_PREDICTED = 32


def _check_layer_attributes(ctx: _Context) -> Iterator[Finding]:
    """KBD002 for a `Dense(1, activation="softmax")` among the layers of a model without a graph.

    A softmax over one unit is always 1.0 wherever the layer sits, so the
    layer alone decides, without knowing the model's `call`.
    """
    for layer in _graph.sublayers(ctx.model):
        if getattr(layer, "units", None) != 1 or _graph.softmax_axis(layer) is None:
            continue
        yield _finding(
            "KBD002",
            _layer_where(layer),
            f"{type(layer).__name__} {layer.name!r} applies a softmax over its 1 unit: its output is always 1.0.",
            "softmax normalises over the axis, so one unit is always exactly 1.0; the loss has no "
            "gradient to follow and the model learns nothing.",
            "end the model with keras_binary.BinaryHead()  # one sigmoid unit; or Dense(1, activation='sigmoid')",
        )


def _check_first_predictions(ctx: _Context) -> Iterator[Finding]:
    """KBD030: the predictions of a model without a graph on the first examples of `x`.

    Runs the model in inference mode on at most 32 examples (no weight
    changes; an unbuilt model is built, as `fit` would). One unit predicting
    exactly 1.0 for different inputs is a model that cannot learn (a softmax
    over one unit in `call`; a sigmoid never reaches 1.0 exactly at a random
    start); an output wider than 2 with a binary loss is not binary.
    """
    x = ctx.x
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiub" or len(x) < 2:
        return
    sample = x[:_PREDICTED]
    predictions = np.asarray(keras.ops.convert_to_numpy(ctx.model(sample, training=False)), "float64")
    if predictions.ndim < 2 or predictions.shape[0] != len(sample):
        return
    units = predictions.shape[-1]
    inputs_differ = bool(np.any(sample != sample[:1]))
    if units > 2:
        loss = ctx.losses[0] if ctx.losses else None
        if loss is not None and (loss.ours or loss.kind in ("binary", "focal")) and not loss.multi_label:
            yield _finding(
                "KBD030",
                "model",
                f"the model's predictions on {len(sample)} examples of x have {units} units "
                f"(shape {_fmt(predictions.shape)}), against the binary loss {loss.name}.",
                "a binary output has 1 unit (a probability or logit) or 2 (a softmax pair); the model has no "
                "graph to read, so this was measured on its first predictions.",
                "end call() with a one-unit output: return self.out(x) with self.out = keras.layers.Dense(1, "
                "activation='sigmoid')  # or keras_binary.BinaryHead()",
            )
        return
    if not inputs_differ:
        return
    if units == 1 and np.all(predictions == 1.0):  # any other constant can be a net at its random start
        value = "1.0"
        yield _finding(
            "KBD030",
            "model",
            f"the model predicts exactly {value} for each of {len(sample)} different examples of x: "
            "its output does not depend on its input.",
            "a constant output gives the loss no gradient to follow (a softmax over one unit is always 1.0); "
            "the model has no graph to read, so this was measured on its first predictions.",
            "end call() with one sigmoid unit: self.out = keras.layers.Dense(1, activation='sigmoid')  "
            "# or keras_binary.BinaryHead()",
        )
