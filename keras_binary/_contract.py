"""The shape contract: one canonical form for binary predictions and labels.

Every loss and metric of the package brings `(y_true, y_pred)` to one form
here, before any arithmetic:

- the last axis of `y_pred` is the class axis: size 1 is one score per
  example, size 2 a softmax pair, reduced exactly to `p1` (probabilities) or
  `z1 - z0` (logits); a rank-1 `y_pred` is one score per example;
- `y_true` matches the leading axes of `y_pred`, optionally followed by an
  axis of size 1 (squeezed) or 2 (one-hot, reduced to column 1); trailing
  singleton axes are squeezed;
- both are flattened to rank 1 for the element-wise math.

All decisions use static shapes, so they are taken once, while the step is
traced. `plan_layout` works on shape tuples alone (no tensors), which keeps it
testable and fast; `canonicalize` applies a plan with `keras.ops`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from keras_binary import _runtime
from keras_binary.errors import BinaryShapeError

Shape = tuple  # a static shape: ints, or None for unknown dimensions


class Layout(NamedTuple):
    """A plan for bringing one `(y_true, y_pred)` pair to canonical form.

    Attributes:
        pred: `"score"` (one score per element), `"pair"` (a softmax pair on
            the last axis) or `"elementwise"` (`multi_label=True`).
        drop_class_axis: whether `y_pred` has a class axis to remove.
        label: `"plain"`, `"onehot"` (take column 1 of the last axis), or
            `"runtime"`: TensorFlow relaxed the labels' shape (unknown rank or
            last axis), and their width, 1 or 2, is read while running
            (see `RELAXED`).
        leading: the static shape of the per-example output (the leading axes
            of `y_pred`), `None` for unknown dimensions.
    """

    pred: str
    drop_class_axis: bool
    label: str
    leading: Shape


def _fmt(shape: Shape) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _received(true_shape: Shape, pred_shape: Shape) -> str:
    return f"y_true.shape={_fmt(true_shape)}, y_pred.shape={_fmt(pred_shape)}"


def _class_axis_error(true_shape: Shape, pred_shape: Shape) -> BinaryShapeError:
    k = pred_shape[-1]
    received = _received(true_shape, pred_shape)
    batch = _fmt(pred_shape[:-1] + (1,))
    if k == 1000:
        return BinaryShapeError(
            "KB102",
            "the predictions have 1000 classes on their last axis: the model "
            "still has its ImageNet classifier on top (include_top=True).",
            received=received,
            expected=f"one score per example, y_pred.shape={batch}, or a softmax pair",
            fix=(
                "build the backbone with include_top=False and add "
                "keras_binary.BinaryHead(), e.g. "
                "x = keras_binary.BinaryHead()(keras.applications.ResNet50V2("
                "include_top=False, weights=None)(inputs))"
            ),
        )
    if len(pred_shape) > 2:
        return BinaryShapeError(
            "KB102",
            f"the predictions have {k} channels on their last axis and "
            f"{len(pred_shape) - 2} spatial or time axes: this looks like an "
            "unpooled feature map, not a binary output.",
            received=received,
            expected=f"one score per example, y_pred.shape={_fmt((pred_shape[0], 1))}",
            fix="pool and classify the features: outputs = keras_binary.BinaryHead()(features)",
        )
    return BinaryShapeError(
        "KB102",
        f"the predictions have {k} classes on their last axis, but a binary "
        "output has 1 unit (one score) or 2 units (a softmax pair).",
        received=received,
        expected=f"y_pred.shape={batch} or {_fmt(pred_shape[:-1] + (2,))}",
        fix=(
            "end the model with keras_binary.BinaryHead() (or Dense(1, "
            "activation='sigmoid')); for K independent labels pass "
            "multi_label=True"
        ),
    )


def _check_dims(label_shape: Shape, leading: Shape, true_shape: Shape, pred_shape: Shape) -> None:
    # The labels may be shorter (singleton axes already squeezed).
    for axis, (a, b) in enumerate(zip(label_shape, leading, strict=False)):
        if a is None or b is None or a == b:
            continue
        if axis == 0:
            raise BinaryShapeError(
                "KB104",
                f"the batch sizes differ: {a} labels for {b} predictions.",
                received=_received(true_shape, pred_shape),
                expected="y_true and y_pred with the same first dimension",
                fix="pass labels and predictions of the same examples, e.g. y[:len(x)]",
            )
        raise BinaryShapeError(
            "KB105",
            f"axis {axis} of the labels has size {a}, the predictions {b}.",
            received=_received(true_shape, pred_shape),
            expected=f"labels of shape {_fmt(leading)} (or with a last axis of size 1 or 2)",
            fix="reshape the labels to match the predictions, e.g. y.reshape(len(y))",
        )


def plan_layout(true_shape: Shape, pred_shape: Shape, multi_label: bool = False) -> Layout:
    """Decides how to canonicalise labels and predictions of static shapes.

    Args:
        true_shape: the static shape of `y_true` (ints, `None` if unknown),
            or `None` when its rank is unknown (TensorFlow relaxed it).
        pred_shape: the static shape of `y_pred`.
        multi_label: `True` for Keras's element-wise semantics on `(N, K)`.

    Returns:
        A `Layout`.

    Raises:
        BinaryShapeError: when no binary encoding explains the two shapes.

    Example:

    >>> plan_layout((8,), (8, 2))
    Layout(pred='pair', drop_class_axis=True, label='plain', leading=(8,))
    >>> plan_layout((None, 2), (None, 1)).label
    'onehot'
    """
    p = tuple(pred_shape)
    if true_shape is None:
        return _plan_unknown_rank(p, multi_label)
    t = tuple(true_shape)
    for name, shape in (("y_pred", p), ("y_true", t)):
        if len(shape) == 0:
            raise BinaryShapeError(
                "KB101",
                f"{name} is a scalar; a binary loss needs one value per example.",
                received=_received(t, p),
                expected="y_pred of shape (N, 1), (N, 2) or (N,), and labels of shape (N,) or (N, 1)",
                fix=f"pass a batch: {name} = np.reshape({name}, (-1, 1))",
            )
    if multi_label:
        return _plan_elementwise(t, p)

    if len(p) == 1:
        pred, drop, leading = "score", False, p
    else:
        k = p[-1]
        if k is None:
            raise BinaryShapeError(
                "KB106",
                "the class axis (the last axis of y_pred) has an unknown size.",
                received=_received(t, p),
                expected="a last axis of static size 1 or 2",
                fix="end the model with keras_binary.BinaryHead(), whose output size is known",
            )
        if k == 0:
            raise BinaryShapeError(
                "KB107",
                "the class axis (the last axis of y_pred) is empty.",
                received=_received(t, p),
                expected="a last axis of size 1 or 2",
                fix="end the model with keras_binary.BinaryHead()",
            )
        if k > 2:
            raise _class_axis_error(t, p)
        pred, drop, leading = ("score" if k == 1 else "pair"), True, p[:-1]

    rank = len(leading)
    label_shape = t
    while len(label_shape) > rank and label_shape[-1] == 1:
        label_shape = label_shape[:-1]
    label = "plain"
    if _relaxed_width(label_shape, rank):
        # TensorFlow relaxed the labels' trailing axes (their shape changed
        # between calls of one step function): the width is read while running.
        label, label_shape = "runtime", label_shape[:rank]
    elif len(label_shape) == rank + 1:
        last = label_shape[-1]
        if last == 2:
            label, label_shape = "onehot", label_shape[:-1]
        else:
            raise BinaryShapeError(
                "KB105",
                f"the labels' last axis has size {last}; "
                "binary labels have a last axis of size 1 (a label) or 2 (one-hot).",
                received=_received(t, p),
                expected=f"y_true of shape {_fmt(leading)}, {_fmt(leading + (1,))} or {_fmt(leading + (2,))}",
                fix="pass one 0/1 label per example, e.g. y = np.argmax(y, axis=-1) for one-hot labels",
            )
    elif len(label_shape) > rank + 1:
        raise BinaryShapeError(
            "KB105",
            f"the labels have rank {len(t)}, more than the predictions explain.",
            received=_received(t, p),
            expected=f"y_true of shape {_fmt(leading)} or {_fmt(leading + (1,))}",
            fix="reshape the labels to one label per prediction, e.g. y.reshape(len(y))",
        )
    elif len(label_shape) < rank:
        extra = leading[len(label_shape) :]
        if not all(d == 1 for d in extra):
            raise BinaryShapeError(
                "KB103",
                f"the predictions have {rank - len(label_shape)} spatial or time "
                "axes more than the labels: the features were not pooled.",
                received=_received(t, p),
                expected=f"y_pred of shape {_fmt(leading[: len(label_shape)] + (1,))}, one score per label",
                fix=(
                    "pool the features before the output layer: "
                    "outputs = keras_binary.BinaryHead()(features)  # pools, then classifies"
                ),
            )
    _check_dims(label_shape, leading, t, p)
    return Layout(pred, drop, label, leading)


# Why a TensorFlow label tensor has an unknown rank or last axis, for messages.
RELAXED = (
    "TensorFlow relaxed the labels' shape: Keras traces each step with "
    "tf.function(reduce_retracing=True), which forgets a shape that changed between "
    "calls (e.g. labels (N,) in fit, (N, 1) in validation_data or evaluate); a "
    "tf.data map through tf.py_function forgets it too"
)


def _relaxed_width(label_shape: Shape, rank: int) -> bool:
    """Whether the labels' axes past the per-example ones are relaxed (`None`).

    Keras's `tf.function(reduce_retracing=True)` keeps the rank when only a
    size changed, e.g. one-hot `(N, 2)` then `(N, 1)` labels give `(N, None)`.
    The width is then read while running (`_runtime_labels`); beyond a
    per-example output, only a last axis can be relaxed this way (the
    leading axes are still checked statically).
    """
    extra = label_shape[rank:]
    if not extra or None not in extra:
        return False
    return len(extra) == 1 or (rank == 1 and all(d in (None, 1, 2) for d in extra))


def _plan_unknown_rank(p: Shape, multi_label: bool) -> Layout:
    """The layout of labels of unknown rank (TensorFlow only) against known predictions.

    One score or a softmax pair per example (`(N,)`, `(N, 1)`, `(N, 2)`), and
    `multi_label=True` outputs, are decided while running: the labels hold
    1 or 2 values per prediction (`(N,)`, `(N, 1)` or one-hot `(N, 2)`).
    A per-element output `(N, H, W, 1)` is not: labels `(N, W, H)` of the
    same size would be read transposed.
    """
    if len(p) == 0:
        return plan_layout((None,), p, multi_label)  # KB101 for the scalar y_pred
    if multi_label:
        return Layout("elementwise", False, "runtime", p)
    leading = p if len(p) == 1 else p[:-1]
    if len(p) > 1:
        # The class axis errors (KB102, KB106, KB107) come first.
        plan_layout(leading, p)
    if len(leading) > 1:
        raise BinaryShapeError(
            "KB109",
            f"the labels have an unknown rank against a per-element output "
            f"(y_pred.shape={_fmt(p)}), so which label belongs to which "
            f"prediction cannot be decided. {RELAXED}.",
            received=f"y_true.shape=<unknown>, y_pred.shape={_fmt(p)}",
            expected=f"labels of shape {_fmt(leading)} or {_fmt(leading + (1,))} in every call",
            fix=(
                "pass labels of one shape everywhere, e.g. y = y[..., np.newaxis] for (N, H, W) masks "
                "in fit, validation_data and evaluate alike (in a tf.data pipeline: "
                f"y = tf.ensure_shape(y, {_fmt((None, *leading[1:]))}))"
            ),
        )
    return Layout("score" if len(p) == 1 or p[-1] == 1 else "pair", len(p) > 1, "runtime", leading)


def _plan_elementwise(t: Shape, p: Shape) -> Layout:
    label_shape = t
    if len(t) == len(p) + 1 and t[-1] == 1:
        label_shape = t[:-1]
    if len(label_shape) != len(p):
        raise BinaryShapeError(
            "KB105",
            "with multi_label=True the labels need the predictions' shape.",
            received=_received(t, p),
            expected=f"y_true of shape {_fmt(p)}",
            fix="pass one 0/1 label per output unit, or multi_label=False for one binary label",
        )
    _check_dims(label_shape, p, t, p)
    return Layout("elementwise", False, "plain", p)


def static_shape(x: Any) -> Shape:
    """Returns the static shape of a tensor or array as a tuple.

    Args:
        x: a tensor of any backend, a NumPy array, or a `KerasTensor`.

    Returns:
        A tuple of ints, with `None` for unknown dimensions.

    Raises:
        BinaryShapeError: `KB109` when the rank itself is unknown.
    """
    shape = x.shape
    if getattr(shape, "rank", 0) is None:
        raise BinaryShapeError(
            "KB109",
            "a tensor of unknown rank reached a binary loss or metric "
            "(TensorFlow forgets the rank when a tensor's shape changes between calls "
            "of one step function, e.g. sample weights of shape (N,) then (N, 1), "
            "or after a tf.data map through tf.py_function).",
            received=f"shape={shape}",
            expected="a tensor of known rank, e.g. (None, 1)",
            fix=(
                "pass arrays of one shape in every call, e.g. sample_weight.reshape(-1); "
                "in a tf.data pipeline: y = tf.ensure_shape(y, (None,))"
            ),
        )
    return tuple(None if d is None else int(d) for d in shape)


def _label_shape(x: Any) -> Shape | None:
    """`static_shape` of the labels, or `None` when TensorFlow forgot their rank."""
    if getattr(x.shape, "rank", 0) is None:
        return None
    return static_shape(x)


# JAX's sparse arrays (`jax.experimental.sparse`), which Keras's JAX backend makes of sparse labels.
_JAX_SPARSE = ("BCOO", "BCSR")


def check_numeric(x: Any, name: str) -> None:
    """Rejects strings, objects and ragged tensors before they reach a backend.

    Args:
        x: the value passed as `y_true` or `y_pred`.
        name: `"y_true"` or `"y_pred"`, for the message.

    Raises:
        BinaryShapeError: `KB108` when `x` is not a dense numeric tensor.
    """
    kind = type(x).__name__
    if "Ragged" in kind or "Sparse" in kind or kind in _JAX_SPARSE:
        raise BinaryShapeError(
            "KB108",
            f"{name} is a {kind}; binary losses and metrics need dense tensors.",
            received=f"type({name})={kind}",
            expected="a dense float, int or bool tensor",
            fix=(
                f"{name} = {name}.to_tensor()  # or pad your sequences first"
                if "Ragged" in kind
                else f"{name} = {name}.todense()"
                if kind in _JAX_SPARSE
                else f"{name} = tf.sparse.to_dense({name})"
            ),
        )
    if x is None:
        raise BinaryShapeError(
            "KB108",
            f"{name} is None.",
            received=f"{name}=None",
            expected="a float, int or bool tensor",
            fix="pass labels and predictions, e.g. model.fit(x, y) rather than model.fit(x)",
        )
    dtype = getattr(x, "dtype", None)
    if dtype is None and not isinstance(x, (bool, int, float, np.number)):
        try:  # lists, tuples, strings, dicts, ...
            dtype = np.asarray(x).dtype
        except (ValueError, TypeError):  # ragged nested lists
            dtype = np.dtype(object)
    if dtype is None or _is_numeric(dtype):
        return
    if isinstance(x, str) and name == "y_true":
        # What Keras hands the loss for labels {"out": y} when the model's output is not a dict.
        raise BinaryShapeError(
            "KB108",
            f"y_true is the string {x!r}: labels given as a dict {{{x!r}: y}} to a model whose output "
            "is one tensor, not a dict, reach the loss as the dict's key.",
            received=f"y_true={x!r} (type str)",
            expected="a float, int or bool tensor",
            fix=f"model.fit(x, y[{x!r}])  # or keras.Model(inputs, {{{x!r}: outputs}})",
        )
    raise BinaryShapeError(
        "KB108",
        f"{name} holds non-numeric values (dtype {dtype}).",
        received=f"{name}.dtype={dtype}, type({name})={kind}",
        expected="float, int or bool values",
        fix=f"encode the classes as 0 and 1, e.g. {name} = (np.asarray({name}) == 'positive').astype('float32')",
    )


def check_sample_weight(weight_shape: Shape, leading: Shape) -> Shape:
    """Checks the static shape of `sample_weight` against the per-example shape.

    Weights may have the per-example shape `leading` (the leading axes of
    `y_pred`), fewer axes (e.g. `(N,)` for per-pixel outputs: one weight per
    image), trailing singleton axes, size-1 axes that broadcast, or be a
    scalar. Shared by the losses and the metrics.

    Args:
        weight_shape: the static shape of `sample_weight`.
        leading: the per-example shape the weights apply to.

    Returns:
        `weight_shape` without its squeezable trailing singleton axes.

    Raises:
        BinaryShapeError: `KB120` when the weights fit no example.

    Example:

    >>> check_sample_weight((8, 1), (8,))
    (8,)
    >>> check_sample_weight((4,), (8, 16, 16))
    Traceback (most recent call last):
    ...
    keras_binary.errors.BinaryShapeError: KB120: sample_weight does not match the predictions: ...
    """
    shape = tuple(weight_shape)
    while len(shape) > len(leading) and shape[-1] == 1:
        shape = shape[:-1]
    mismatch = len(shape) > len(leading) or any(
        a is not None and b is not None and a not in (1, b) for a, b in zip(shape, leading, strict=False)
    )
    if mismatch:
        raise BinaryShapeError(
            "KB120",
            "sample_weight does not match the predictions: it needs one weight per "
            "example (or per element of a per-pixel output).",
            received=f"sample_weight.shape={_fmt(tuple(weight_shape))}, per-example shape of y_pred={_fmt(leading)}",
            expected=(
                f"sample_weight of shape {_fmt(leading)}"
                + (f", {_fmt(leading[:1])}" if len(leading) > 1 else "")
                + " or a scalar"
            ),
            fix="pass one weight per example, e.g. sample_weight=np.ones(len(y_true))",
        )
    return shape


class Canonical(NamedTuple):
    """Canonical labels and scores, both rank 1 (see `canonicalize`).

    `from_logits` says what `y_pred` holds now; `keras_logits` is true when
    probabilities were replaced by the logits Keras attached to them (so the
    values passed in were probabilities, and the value checks still read them).
    `onehot` holds the labels' two columns, shape `(..., 2)`, when they were
    one-hot (`layout.label == "onehot"`), for the check that each row sums to
    1; it is a reference, computed with nothing. For labels whose width is
    only known while running (`layout.label == "runtime"`) it is `(n, 2)`
    rows built from them: the labels' own rows when they are one-hot, else
    `[0, 1]` rows, which pass the check.
    """

    y_true: Any
    y_pred: Any
    from_logits: bool
    layout: Layout
    keras_logits: bool = False
    onehot: Any = None


def canonical_pair(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    multi_label: bool = False,
    use_keras_logits: bool = False,
) -> Canonical:
    """Canonicalises and also returns the layout; used by losses and metrics.

    With `use_keras_logits=True`, a probability tensor that Keras produced
    with a sigmoid or softmax and that still carries its logits (TensorFlow
    attaches them as `_keras_logits`) is replaced by those logits, exactly as
    `keras.losses.BinaryCrossentropy` does; `from_logits` of the result says
    which one was used.
    """
    check_numeric(y_true, "y_true")
    check_numeric(y_pred, "y_pred")
    keras_logits = use_keras_logits and not from_logits and hasattr(y_pred, "_keras_logits")
    if keras_logits:
        y_pred, from_logits = y_pred._keras_logits, True
    y_pred = ops.convert_to_tensor(y_pred)
    if not _is_float(y_pred.dtype):
        y_pred = ops.cast(y_pred, "float32")
    y_true = ops.convert_to_tensor(y_true)
    layout = plan_layout(_label_shape(y_true), static_shape(y_pred), multi_label)

    if layout.pred == "pair":
        if from_logits:
            score = ops.take(y_pred, 1, axis=-1) - ops.take(y_pred, 0, axis=-1)
        else:
            score = ops.take(y_pred, 1, axis=-1)
    else:
        score = y_pred
    if _dtype_name(score.dtype).endswith("float16"):  # float16, bfloat16, torch.float16
        # Half-precision scores are computed with in float32, and soft labels
        # keep their precision.
        score = ops.cast(score, "float32")
    onehot = None
    if layout.label == "runtime":
        y_true, onehot = _runtime_labels(y_true, score, layout, static_shape(y_pred))
    elif layout.label == "onehot":
        # Labels such as (N, 2, 1): drop the squeezable singleton axes first.
        for _ in range(len(static_shape(y_true)) - len(layout.leading) - 1):
            y_true = ops.squeeze(y_true, axis=-1)
        onehot = y_true
        y_true = ops.take(y_true, 1, axis=-1)
    y_true = ops.cast(y_true, score.dtype)
    return Canonical(_flatten(y_true), _flatten(score), from_logits, layout, bool(keras_logits), onehot)


def _runtime_labels(y_true: Any, score: Any, layout: Layout, pred_shape: Shape) -> tuple[Any, Any]:
    """Labels whose shape TensorFlow relaxed, read with a width found while running.

    The labels hold `width` values per score, their last axis (`(N,)` and
    `(N, 1)`: width 1; one-hot `(N, 2)`: width 2, column 1 is the label).
    The width is `size(y_true) // size(score)`: a few scalar ops and one
    gather, no retracing, no host synchronisation. A width that is not 1 or 2
    (1 with `multi_label=True`) raises `KB105` while running (the labels
    become NaN where the step cannot raise, under XLA).

    Returns:
        `(labels, onehot)`: rank-1 labels, and the `(n, 2)` rows for the
        one-hot check of `validate=True` (`[0, 1]` rows for width 1).
    """
    widest = 1 if layout.pred == "elementwise" else 2
    y = ops.reshape(y_true, (-1,))
    if not _is_float(y.dtype):
        y = ops.cast(y, score.dtype)
    if keras.backend.is_keras_tensor(y) or keras.backend.is_keras_tensor(score):
        # Symbolic: only the shapes and dtypes of the result matter.
        column = ops.cast(ops.reshape(score, (-1,)), y.dtype)
        return column, (ops.stack([column, column], axis=-1) if widest == 2 else None)
    n = ops.cast(ops.size(score), "int32")
    size = ops.cast(ops.size(y), "int32")
    width = size // ops.maximum(n, 1)
    bad = ops.logical_or(
        ops.not_equal(n * width, size),
        ops.logical_or(width > widest, ops.logical_and(width < 1, n > 0)),
    )
    # One padding element keeps the gather in range whatever the sizes are.
    padded = ops.concatenate([y, ops.zeros((1,), y.dtype)])
    first = ops.arange(n, dtype="int32") * width
    column = ops.take(padded, ops.clip(first + width - 1, 0, size))
    onehot = None
    if widest == 2:
        two = ops.equal(width, 2)
        zero, one = ops.zeros_like(column), ops.ones_like(column)
        other = ops.take(padded, ops.clip(first, 0, size))
        onehot = ops.stack([ops.where(two, other, zero), ops.where(two, column, one)], axis=-1)

    traced = _fmt_relaxed(y_true)
    per = "1 (a label)" if widest == 1 else "1 (a label) or 2 (one-hot)"

    def make_error(values: Any) -> BinaryShapeError:
        labels, predictions = (int(v) for v in values)
        ratio = (
            f" ({labels // predictions} per prediction)" if predictions and labels % predictions == 0 else ""
        )
        return BinaryShapeError(
            "KB105",
            f"the labels hold {labels} values for {predictions} predictions{ratio}; binary labels "
            f"hold {per} per prediction. {RELAXED}.",
            received=f"{labels} label values, y_true.shape={traced} while tracing, y_pred.shape={_fmt(pred_shape)}",
            expected=f"y_true of shape {_fmt(layout.leading)}, {_fmt(layout.leading + (1,))}"
            + ("" if widest == 1 else f" or {_fmt(layout.leading + (2,))}"),
            fix=(
                "pass one 0/1 label per example (y = np.argmax(y, axis=-1) for one-hot labels), of one "
                "shape everywhere, e.g. y.reshape(-1, 1) in fit, validation_data and evaluate alike"
            ),
        )

    if not _runtime._in_xla_context():
        _runtime.raise_if(bad, ops.cast(ops.stack([size, n]), "float32"), make_error)
    column = ops.where(bad, ops.full_like(column, float("nan")), column)
    return column, onehot


def _fmt_relaxed(x: Any) -> str:
    shape = _label_shape(x)
    return "<unknown>" if shape is None else _fmt(shape)


def _flatten(x: Any) -> Any:
    # Rank 1 already: no reshape op at all (it is not free outside XLA).
    if len(x.shape) == 1:
        return x
    return _runtime.flatten(x)


def _dtype_name(dtype: Any) -> str:
    # numpy, JAX and TensorFlow dtypes have `.name`; torch's print as "torch.float32".
    return str(getattr(dtype, "name", dtype))


def _is_float(dtype: Any) -> bool:
    return "float" in _dtype_name(dtype)


def _is_numeric(dtype: Any) -> bool:
    name = _dtype_name(dtype)
    return any(kind in name for kind in ("float", "int", "bool"))


def canonicalize(y_true: Any, y_pred: Any, from_logits: bool = False, multi_label: bool = False):
    """Brings binary labels and predictions to one canonical, rank-1 form.

    A 2-unit softmax pair is reduced exactly to one score: `p1` for
    probabilities, `z1 - z0` for logits (since `softmax([z0, z1])[1] ==
    sigmoid(z1 - z0)`). One-hot labels become column 1; trailing singleton
    axes are squeezed; int and bool labels become floats. Decisions use static
    shapes only, so they cost nothing per step.

    Args:
        y_true: labels, shaped like the leading axes of `y_pred`, optionally
            with a last axis of size 1 or 2 (one-hot).
        y_pred: predictions whose last axis has size 1 or 2, or a rank-1
            tensor of scores.
        from_logits: whether `y_pred` holds logits.
        multi_label: `True` for Keras's element-wise semantics: `y_pred` of
            shape `(N, K)` holds K independent binary outputs.

    Returns:
        A tuple `(y_true, y_pred)` of rank-1 float tensors: labels, and one
        score (probability, or logit when `from_logits=True`) per element.

    Raises:
        BinaryShapeError: when the shapes match no binary encoding.

    Example:

    >>> import numpy as np
    >>> y_true, score = canonicalize(np.array([[1, 0], [0, 1]]),
    ...                              np.array([[0.2, 0.8], [0.4, 0.6]]))
    >>> [round(float(v), 3) for v in keras.ops.convert_to_numpy(score)]
    [0.8, 0.6]
    >>> [float(v) for v in keras.ops.convert_to_numpy(y_true)]
    [0.0, 1.0]
    """
    result = canonical_pair(y_true, y_pred, from_logits=from_logits, multi_label=multi_label)
    return result.y_true, result.y_pred
