"""The data checks of `diagnose`: the inputs and labels it is given."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import numpy as np

from keras_binary import _graph
from keras_binary._contract import _fmt, plan_layout
from keras_binary._value_checks import PADDING_FIX, VOID_FIX
from keras_binary.diagnostics._context import (
    IMBALANCE_RATE,
    MAX_SAMPLES,
    _binary_units,
    _Context,
    _layer_where,
    _output_name,
    _output_shape,
)
from keras_binary.diagnostics._loss import _Loss
from keras_binary.diagnostics._report import Finding, _finding
from keras_binary.errors import BinaryError

_MODE_RANGES = {
    "tf": "[-1, 1]",
    "torch": "about [-2.1, 2.6] (ImageNet mean and standard deviation)",
    "caffe": "about [-124, 152] (BGR, ImageNet mean subtracted)",
    "raw": "[0, 255] (the network rescales its input itself)",
}


# The width of each mode's range, for the "scaled twice" check.
_MODE_SPANS = {"tf": 2.0, "torch": 4.7, "caffe": 275.0, "raw": 255.0}


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


def _values_at(entry: _graph.RangeEntry, sample: np.ndarray) -> np.ndarray:
    """The values a network receives at `entry` for the examples `sample` of `x`."""
    values = sample
    for graph_model, tensor in entry.stages:
        inputs = _graph.model_inputs(graph_model)
        if len(inputs) != 1:
            raise ValueError("a graph with several inputs")
        if tensor is not inputs[0]:
            front = keras.Model(inputs[0], tensor)
            values = np.asarray(keras.ops.convert_to_numpy(front(values, training=False)))
    return values


def _check_input_range(ctx: _Context) -> Iterator[Finding]:
    x = ctx.x
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiub":
        return
    if len(_graph.model_inputs(ctx.model)) != 1:
        return
    sample = x[:MAX_SAMPLES]
    for entry in _graph.range_entries(ctx.model):
        try:
            values = _values_at(entry, sample)
        except Exception:  # noqa: BLE001 - an unusual graph: no evidence, no finding
            continue
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
        if finite.size == 0:
            continue
        lo, hi = float(finite.min()), float(finite.max())
        problem = _range_problem(lo, hi, entry.mode)
        if problem is not None:
            yield _range_finding(ctx, entry, lo, hi, problem, len(sample))


def _range_finding(
    ctx: _Context, entry: _graph.RangeEntry, lo: float, hi: float, problem: tuple[str, str], n: int
) -> Finding:
    severity, looks_like = problem
    fed = "the model's input" if entry.at_model_input else "the layers in front of it"
    received = f"receives values from {lo:.4g} to {hi:.4g} ({looks_like})"
    if entry.converter is not None:
        converter = entry.converter
        return _finding(
            "KBD014",
            _layer_where(converter),
            f"keras-hub {type(converter).__name__} {converter.name!r} {received}; it expects "
            f"{_MODE_RANGES['raw']} (scale={converter.scale}).",
            "the ImageConverter prepares 0-255 images the way the backbone's pretrained weights expect; "
            "values already scaled are scaled again, and the backbone extracts poor features without an "
            f"error (range measured on {n} examples of x, after {fed}).",
            "pass 0-255 pixels: the ImageConverter rescales them itself (x = x * 255.0 if x is in [0, 1])",
            severity=severity,
        )
    backbone = entry.backbone
    family = backbone.application
    scaled_01 = hi <= 1.0 and lo >= 0.0
    fix = f"x = keras.applications.{family.module}.preprocess_input({'x * 255.0' if scaled_01 else 'x'})  # expects 0-255 pixels"
    expects = _MODE_RANGES[entry.mode]
    if entry.mode == "raw":
        fix = "pass 0-255 pixels: the network rescales them itself (x = x * 255.0 if x is in [0, 1])"
        if not entry.at_model_input:
            fix += "; remove the rescaling in front of the backbone"
    return _finding(
        "KBD014",
        _layer_where(backbone.model) if backbone.model not in (None, ctx.model) else "inputs (x)",
        f"{family.family} backbone {backbone.name!r}{' (built inline)' if backbone.inline else ''} "
        f"{received}; it expects {expects}.",
        f"{family.family}'s weights were trained on inputs prepared by "
        f"keras.applications.{family.module}.preprocess_input; other ranges give activations the "
        f"network never saw, and a pretrained backbone then extracts poor features without an error "
        f"(range measured on {n} examples of x, after {fed}).",
        fix,
        severity=severity,
    )


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
    if type(data).__module__.startswith("tensorflow") and hasattr(data, "numpy"):
        return np.asarray(data.numpy())  # a batch of a tf.data dataset, whatever the backend
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
    inputs = _graph.model_inputs(ctx.model)
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


# Keras's element-wise regression losses, which broadcast one label per example over two units silently.
_ELEMENTWISE = {"meansquarederror", "mse", "meanabsoluteerror", "mae", "meansquaredlogarithmicerror", "msle"}


def _is_elementwise(loss: _Loss) -> bool:
    return loss.kind == "other" and re.sub(r"[^a-z]", "", loss.name.lower()) in _ELEMENTWISE


def _label_values(
    ctx: _Context, out: _graph.Output, loss: _Loss | None
) -> tuple[np.ndarray | None, list[Finding]]:
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
    if (
        layout.pred == "pair"
        and layout.label == "plain"
        and loss is not None
        and not loss.ours
        and (loss.kind in ("categorical", "binary", "focal") or _is_elementwise(loss))
    ):
        if loss.kind == "categorical":
            fix = (
                "loss='sparse_categorical_crossentropy'  # class ids 0/1 against the softmax pair; or "
                "y = keras.utils.to_categorical(y, 2), or loss=keras_binary.SafeBCE(), which reads column 1"
            )
        elif loss.kind == "other":
            fix = (
                "y = keras.utils.to_categorical(y, 2)  # one column per unit; or end the model with "
                "Dense(1, activation='sigmoid') and loss=keras_binary.SafeBCE()"
            )
        else:
            fix = "loss=keras_binary.SafeBCE()  # reads column 1 of the pair; or y = keras.utils.to_categorical(y, 2)"
        findings.append(
            _finding(
                "KBD041",
                "labels (y)",
                f"the labels {_fmt(y.shape)} hold one class id per example, the output {_output_name(out)} has "
                f"two units {_fmt(out_shape)}, and the loss {loss.name} expects one column per unit.",
                f"Keras's {loss.name} compares the labels with the two columns element-wise: it fails with a shape "
                'or rank error ("target and output must have the same shape"), or, after broadcasting, trains '
                "both columns on the same label.",
                fix,
            )
        )
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
    ctx: _Context, values: np.ndarray, out: _graph.Output | None, loss: _Loss | None
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
            "drop or impute the missing labels: y = np.asarray(y, dtype='float32'); "
            "keep = ~np.isnan(y); x, y = x[keep], y[keep]",
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
        elif as_set == {0.0, 1.0, 255.0}:
            fix, how = VOID_FIX, "255 marks void pixels (VOC, Cityscapes); y / 255 would make them positives"
        elif as_set == {-1.0, 0.0, 1.0}:
            fix, how = PADDING_FIX, "-1 marks padded steps, if the model does not mask them"
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


def _has_bias_prior(out: _graph.Output, rate: float) -> bool:
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


# ---------------------------------------------------------------------------
# A dataset given as x: its class names, and one batch.


def _from_dataset(x: Any, y: Any) -> tuple[Any, Any, Any]:
    """`(x, y, class_names)`: one batch of a dataset given as `x`, and its `class_names`.

    A `tf.data` dataset or a `keras.utils.PyDataset` is read as `fit` reads
    it: its first batch. `keras.utils.image_dataset_from_directory` (and its text and audio
    siblings) give the dataset a `class_names` attribute: the folder names,
    sorted alphabetically, so that the second name is label 1.
    """
    class_names = getattr(x, "class_names", None)
    if class_names is not None:
        class_names = [str(name) for name in class_names]
    batch = None
    if y is None and hasattr(x, "element_spec") and not hasattr(x, "shape"):
        batch = next(iter(x))
    elif y is None and isinstance(x, keras.utils.PyDataset) and len(x) > 0:
        batch = x[0]  # as fit reads it: (x,), (x, y) or (x, y, sample_weight)
    if batch is not None:
        if isinstance(batch, (tuple, list)) and len(batch) >= 2:
            x, y = batch[0], batch[1]
        else:
            x = batch
    return x, y, class_names


def _check_class_names(ctx: _Context) -> Iterator[Finding]:
    names = ctx.class_names
    if not names or len(names) != 2 or names != sorted(names):
        return  # not two classes, or an order the user chose (not the alphabetical one inferred)
    negative, positive = names
    yield _finding(
        "KBD025",
        "inputs (x)",
        f"the dataset's class_names are {names!r}: label 0 is {negative!r} and label 1, the positive class "
        f"every probability, precision and recall refers to, is {positive!r}.",
        "image_dataset_from_directory numbers the class folders in alphabetical order, not by meaning: "
        "check that the positive class (the disease, the defect, the rare event) is label 1, or every "
        "probability and metric is about the other class.",
        f"keras.utils.image_dataset_from_directory(directory, class_names=[{positive!r}, {negative!r}])  "
        f"# [negative, positive]: here {negative!r} becomes label 1",
    )
