"""The loss and metric checks of `diagnose`: what the compiled loss and metrics expect of the output."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_binary import _graph
from keras_binary.diagnostics._context import _PROBABILITY_ACTIVATIONS, _Context, _output_name
from keras_binary.diagnostics._report import Finding, _finding

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


def _losses_per_output(loss: Any, outputs: list[_graph.Output]) -> list[Any]:
    if isinstance(loss, Mapping):
        names = [getattr(_graph.output_layer(o.tensor), "name", None) for o in outputs]
        return [loss.get(n) for n in names]
    if isinstance(loss, (list, tuple)):
        return list(loss) + [None] * (len(outputs) - len(loss))
    return [loss] * len(outputs)


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


# ---------------------------------------------------------------------------
# The compiled metrics.

# Keras metrics that read one score per example and threshold it at 0.5 (by
# default), or sweep thresholds over [0, 1]: right for one probability, wrong
# for a logit or a softmax pair.
_SCORE_METRICS = (
    "BinaryAccuracy",
    "Precision",
    "Recall",
    "AUC",
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "BinaryIoU",
)
_SCORE_METRIC_STRINGS = {
    "binary_accuracy": "BinaryAccuracy",
    "auc": "AUC",
    "precision": "Precision",
    "recall": "Recall",
}
_OURS = {  # the keras_binary.metrics equivalent of a Keras metric
    "BinaryAccuracy": "BinaryAccuracy",
    "Accuracy": "BinaryAccuracy",
    "accuracy": "BinaryAccuracy",
    "PrecisionAtRecall": "PrecisionAtRecall",
    "RecallAtPrecision": "RecallAtPrecision",
    "SensitivityAtSpecificity": "SensitivityAtSpecificity",
    "SpecificityAtSensitivity": "SpecificityAtSensitivity",
}


class _Metric(NamedTuple):
    name: str  # as the user wrote it: "accuracy", "AUC", ...
    kind: str  # "accuracy" (the string), "exact" (keras.metrics.Accuracy), "score" or "other"
    cls: str  # the Keras class name, or the string
    logit_safe: bool  # reads logits correctly (threshold 0, AUC(from_logits=True))


def _compiled_metrics(model: Any) -> Any:
    """The metrics given to `compile` (Keras keeps them on `model._compile_metrics`)."""
    compiled = getattr(model, "_compile_metrics", None)
    return getattr(compiled, "_user_metrics", None) if compiled is not None else None


def _metrics_per_output(metrics: Any, model: Any, n: int) -> list[list[Any]]:
    if not metrics or n == 0:
        return [[] for _ in range(n)]
    if isinstance(metrics, Mapping):
        names = list(getattr(model, "output_names", None) or [])
        return [_as_list(metrics.get(name)) for name in names[:n]] + [[] for _ in range(n - len(names))]
    items = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    if n > 1 and len(items) == n and all(isinstance(m, (list, tuple)) or m is None for m in items):
        return [_as_list(m) for m in items]
    return [items for _ in range(n)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _describe_metric(metric: Any) -> _Metric:
    if isinstance(metric, str):
        key = metric.lower()
        if key in ("accuracy", "acc"):
            return _Metric(metric, "accuracy", metric, False)
        cls = _SCORE_METRIC_STRINGS.get(key)
        return _Metric(metric, "score" if cls else "other", cls or metric, False)
    if type(metric).__module__.startswith("keras_binary"):
        return _Metric(getattr(metric, "name", ""), "other", type(metric).__name__, True)
    cls = type(metric).__name__
    name = getattr(metric, "name", cls)
    if cls == "Accuracy":
        return _Metric(name, "exact", cls, False)
    if cls not in _SCORE_METRICS:
        return _Metric(name, "other", cls, False)
    if cls == "AUC":
        safe = bool(getattr(metric, "_from_logits", False))
    elif cls == "BinaryAccuracy":
        safe = (getattr(metric, "_fn_kwargs", None) or {}).get("threshold", 0.5) == 0.0
    elif hasattr(metric, "thresholds") and cls in (
        "Precision",
        "Recall",
        "TruePositives",
        "FalsePositives",
        "TrueNegatives",
        "FalseNegatives",
    ):
        thresholds = metric.thresholds
        values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
        safe = all(v is not None and float(v) <= 0.0 for v in values) if values else False
    elif cls == "BinaryIoU":
        safe = float(getattr(metric, "threshold", 0.5)) == 0.0
    else:
        safe = False  # thresholds swept over [0, 1]
    return _Metric(name, "score", cls, safe)


_NO_EQUIVALENT = ("TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "BinaryIoU")


def _ours(cls: str) -> str | None:
    """The keras_binary.metrics class that does what `cls` means, or None."""
    if cls in _NO_EQUIVALENT:
        return None
    return f"keras_binary.metrics.{_OURS.get(cls, cls)}"


def _logit_fix(cls: str) -> str:
    ours = _ours(cls)
    if ours is not None:
        return f"metrics=[{ours}(from_logits=True)]"
    argument = "threshold" if cls == "BinaryIoU" else "thresholds"
    return f"metrics=[keras.metrics.{cls}({argument}=0.0)]  # a logit of 0 is a probability of 0.5"


def _pair_fix(cls: str) -> str:
    ours = _ours(cls)
    if ours is not None:
        return f"metrics=[{ours}()]  # reads column 1 of a softmax pair"
    return (
        "metrics=[keras_binary.metrics.Precision(), keras_binary.metrics.Recall()]  # or one unit: "
        "keras_binary.convert_head(model, to='sigmoid')"
    )


def _check_metrics(ctx: _Context) -> Iterator[Finding]:
    for out, loss, metrics in zip(ctx.outputs, ctx.losses, ctx.metrics, strict=True):
        if out.units not in (1, 2):
            continue
        for metric in (_describe_metric(m) for m in metrics):
            if metric.kind == "exact":
                yield _finding(
                    "KBD023",
                    f"metric {metric.name!r}",
                    f"keras.metrics.Accuracy compares the output {_output_name(out)} with the labels for exact "
                    "equality, but the output is a score"
                    + (f" ({out.activation})" if out.activation else "")
                    + ", not a 0/1 prediction.",
                    "Accuracy counts y_pred == y_true: a probability of 0.73 never equals 1, so it reports "
                    "about 0 however well the model learns.",
                    "metrics=[keras_binary.metrics.BinaryAccuracy()]  # or the string 'accuracy'",
                )
            elif out.units == 2 and (metric.kind == "score"):
                yield _finding(
                    "KBD022",
                    f"metric {metric.name!r}",
                    f"{metric.cls} reads one score per example, but the output {_output_name(out)} is a softmax "
                    f"pair {_fmt_shape(out)}.",
                    f"Keras's {metric.cls} compares the two columns element-wise with the labels (or fails on "
                    "their shape): its number mixes the score of class 0 with that of class 1 and means nothing "
                    "('accuracy' is fine here: Keras resolves it to a categorical accuracy).",
                    _pair_fix(metric.cls),
                )
            elif (
                out.units == 1
                and out.activation == "linear"
                and metric.kind in ("accuracy", "score")
                and not metric.logit_safe
            ):
                from_logits = " with from_logits=True" if loss is not None and loss.from_logits else ""
                what = "'accuracy' (resolved to binary accuracy)" if metric.kind == "accuracy" else metric.cls
                yield _finding(
                    "KBD021",
                    f"metric {metric.name!r}",
                    f"{what} thresholds the output {_output_name(out)} at 0.5 (or sweeps thresholds over "
                    f"[0, 1]), but the output is a logit (linear, loss{from_logits}).",
                    "a logit of 0 is a probability of 0.5: thresholding logits at 0.5 calls positive only the "
                    "examples with p > 0.62, so the metric reports a different classifier from the one trained "
                    "(and AUC computed on logits clipped to [0, 1] is wrong).",
                    _logit_fix("BinaryAccuracy" if metric.kind == "accuracy" else metric.cls),
                )


# Metrics that read class indices from an argmax over the class axis: over one unit it is always 0.
_CATEGORICAL_METRICS = {
    "sparsecategoricalaccuracy": "SparseCategoricalAccuracy",
    "categoricalaccuracy": "CategoricalAccuracy",
    "sparsetopkcategoricalaccuracy": "SparseTopKCategoricalAccuracy",
    "topkcategoricalaccuracy": "TopKCategoricalAccuracy",
}


def _metric_key(metric: Any) -> str:
    name = metric if isinstance(metric, str) else type(metric).__name__
    return re.sub(r"[^a-z]", "", name.lower())


def _check_metric_encoding(ctx: _Context) -> Iterator[Finding]:
    """KBD028: a metric told from_logits=True on probabilities; KBD029: a categorical metric on one unit."""
    for out, metrics in zip(ctx.outputs, ctx.metrics, strict=True):
        if out.units not in (1, 2):
            continue
        for metric in metrics:
            name = metric if isinstance(metric, str) else getattr(metric, "name", type(metric).__name__)
            from_logits = getattr(metric, "from_logits", None)
            if from_logits is None and type(metric).__name__ == "AUC":
                from_logits = getattr(metric, "_from_logits", None)
            if from_logits is True and out.activation in _PROBABILITY_ACTIVATIONS:
                cls = type(metric).__name__
                module = (
                    "keras_binary.metrics"
                    if type(metric).__module__.startswith("keras_binary")
                    else "keras.metrics"
                )
                yield _finding(
                    "KBD028",
                    f"metric {name!r}",
                    f"{cls} has from_logits=True, but the output {_output_name(out)} ends with a "
                    f"{out.activation}: it emits probabilities.",
                    "the metric applies a sigmoid to the probabilities, so every score lands in [0.5, 0.73]: "
                    "at the 0.5 threshold every example is predicted positive and the logged accuracy equals "
                    "the positive rate, whatever the model learns (the metric twin of KBD004).",
                    f"metrics=[{module}.{cls}()]  # from_logits=False for a sigmoid output",
                )
            cls = _CATEGORICAL_METRICS.get(_metric_key(metric))
            if cls is not None and out.units == 1:
                yield _finding(
                    "KBD029",
                    f"metric {name!r}",
                    f"{cls} reads the class as the argmax over the last axis, but the output {_output_name(out)} "
                    f"has one unit {_fmt_shape(out)}.",
                    "the argmax over one unit is always 0, so the metric reports the share of negative labels "
                    "whatever the model predicts (keras-hub's compile(metrics='auto') adds "
                    "SparseCategoricalAccuracy, also for num_classes=1).",
                    "metrics=[keras_binary.metrics.BinaryAccuracy()]  # one sigmoid unit: a binary accuracy",
                )


def _fmt_shape(out: _graph.Output) -> str:
    from keras_binary._contract import _fmt

    return _fmt(tuple(out.tensor.shape))


# ---------------------------------------------------------------------------
# The final activation against a binary loss.

_SCORES = ("sigmoid", "softmax", "linear")
_UNBOUNDED_ABOVE = (
    "relu",
    "relu6",
    "softplus",
    "exponential",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "leaky_relu",
)


# Names whose range is known not to be [0, 1]; any other activation is judged by what it does.
_NOT_PROBABILITIES = (*_UNBOUNDED_ABOVE, "tanh", "softsign", "log_sigmoid", "log_softmax", "hard_tanh")

# The probe: logits from -30 to 30, where every sigmoid-like activation has saturated.
_PROBE = np.linspace(-30.0, 30.0, 241, dtype="float32")


def _gives_probabilities(layer: Any, units: int) -> bool:
    """Whether the activation of `layer` maps logits to probabilities: its values on a probe range.

    One unit: every value in [0, 1], non-decreasing, from below 0.05 to above
    0.95 (`hard_sigmoid`, `lambda z: keras.ops.sigmoid(z / 2)`). Two units: each
    row in [0, 1] and summing to 1. `False` when it cannot be evaluated.
    """
    function = getattr(layer, "activation", None)
    if not callable(function):
        return False
    probe = _PROBE[:, None] if units == 1 else np.stack([np.zeros_like(_PROBE), _PROBE], axis=1)
    try:
        values = np.asarray(
            keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(probe))), "float64"
        )
    except Exception:  # noqa: BLE001 - an activation that cannot run eagerly here: not judged
        return False
    if values.shape != probe.shape or not np.all(np.isfinite(values)):
        return False
    if np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        return False
    if units == 2:
        return bool(np.allclose(values.sum(axis=1), 1.0, atol=1e-4))
    column = values[:, 0]
    return bool(np.all(np.diff(column) >= -1e-6) and column[0] < 0.05 and column[-1] > 0.95)


def _check_final_activation(ctx: _Context) -> Iterator[Finding]:
    for out, loss in zip(ctx.outputs, ctx.losses, strict=True):
        if out.units not in (1, 2) or out.activation in (None, *_SCORES):
            continue
        if loss is None or not (loss.ours or loss.kind in ("binary", "focal")) or loss.multi_label:
            continue
        act = out.activation
        if (
            act not in _NOT_PROBABILITIES
            and not loss.from_logits
            and _gives_probabilities(out.activation_layer, out.units)
        ):
            continue  # e.g. hard_sigmoid, or a custom sigmoid: probabilities, whatever the name
        layer = out.activation_layer if out.activation_layer is not None else out.head
        where = f"layer {layer.name!r}{out.owner}" if layer is not None else "model"
        if loss.from_logits:
            why = (
                f"with from_logits=True the loss applies a sigmoid to the {act} output"
                + (
                    f": {act} is never negative, so every predicted probability is at least 0.5 and "
                    "the negative class cannot be predicted."
                    if act in ("relu", "relu6", "softplus", "exponential")
                    else ", whose range is not that of a logit: the probabilities it implies are distorted."
                )
                + " Setting from_logits does not fix this: the activation does."
            )
        else:
            bad = (
                "values above 1"
                if act in _UNBOUNDED_ABOVE
                else "negative values"
                if act in ("tanh", "softsign", "log_sigmoid", "log_softmax", "hard_tanh")
                else "values outside [0, 1]"
            )
            why = (
                f"the loss reads the output as probabilities, but a {act} gives {bad}: they are clipped to "
                "[1e-7, 1 - 1e-7] and get no gradient. This, not a missing from_logits=True, is the cause of "
                "KB205 from keras_binary's losses at the first batch (from_logits=True would be silently "
                "wrong here)."
            )
        yield _finding(
            "KBD024",
            where,
            f"the output {_output_name(out)} ends with a {act}: its values are neither probabilities "
            f"(a sigmoid or softmax) nor logits (no activation), for the loss {loss.name}.",
            why,
            "end the model with a sigmoid: keras.layers.Dense(1, activation='sigmoid'), or "
            "keras_binary.BinaryHead()  # keep relu/tanh for the hidden layers",
        )
