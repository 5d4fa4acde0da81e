"""Labels and scores on the host: the shape contract in NumPy float64, and a model's predictions.

The evaluation tools read whole arrays at once, so they canonicalise on the
host, in float64, with the contract's own layout plan
(`keras_binary._contract.plan_layout`): the same decisions (softmax pairs to
`p1` or `z1 - z0`, one-hot labels to column 1, singleton axes squeezed) and
the same coded errors as the losses and metrics, without a round trip through
a backend.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np

from keras_binary import _contract
from keras_binary._value_checks import PAIR_SUM_TOLERANCE, STATS, error_from_stats
from keras_binary.errors import BinaryConfigError, BinaryLabelError, BinaryShapeError


class HostData(NamedTuple):
    """Canonical labels and scores as float64 NumPy arrays of rank 1.

    Attributes:
        y_true: the labels, 0/1.
        score: one score per example: a logit when `from_logits`, else a
            probability.
        probability: the positive-class probability.
        sample_weight: the weights, or `None`.
        from_logits: what `score` holds.
    """

    y_true: np.ndarray
    score: np.ndarray
    probability: np.ndarray
    sample_weight: np.ndarray | None
    from_logits: bool


def to_numpy(x: Any) -> np.ndarray:
    """A tensor of any backend, or an array-like, as a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        return np.asarray(keras.ops.convert_to_numpy(x))
    return np.asarray(x)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function in float64, without overflow."""
    z = np.asarray(z, dtype="float64")
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _value_error(
    y: np.ndarray,
    s: np.ndarray,
    probabilities: bool,
    pair_sum: np.ndarray | None,
    onehot_sum: np.ndarray | None = None,
    onehot_binary: bool = False,
):
    """The package's value checks (`KB201`-`KB208`) on host arrays, with the same messages.

    `onehot_sum`: the row sums of `(N, 2)` labels (before column 1 was taken);
    `onehot_binary`: whether those labels hold only 0s and 1s.
    """
    onehot_bad = 0.0
    onehot_min, onehot_max = 1.0, 1.0
    if onehot_sum is not None:
        finite_sums = np.where(np.isnan(onehot_sum), 1.0, onehot_sum)
        bad_rows = np.abs(finite_sums - 1.0) > PAIR_SUM_TOLERANCE
        onehot_bad = float(bad_rows.sum())
        onehot_min = float(np.min(finite_sums, initial=np.inf))
        onehot_max = float(np.max(finite_sums, initial=-np.inf))
    y_nan = np.isnan(y)
    y_clean = np.where(y_nan, 0.0, y)
    ok = (y >= 0) & (y <= 1)
    ok &= ((s >= 0) & (s <= 1)) if probabilities else np.isfinite(s)
    pair_error = 0.0
    if pair_sum is not None:
        ok &= ~(np.abs(pair_sum - 1.0) > PAIR_SUM_TOLERANCE)
        finite = np.where(np.isnan(pair_sum), 1.0, pair_sum)
        pair_error = float(np.max(np.abs(finite - 1.0), initial=0.0))
    if ok.all() and onehot_bad == 0:
        return None
    s_nan = ~np.isfinite(s)
    s_clean = np.where(s_nan, 0.0, s)
    n = y.size
    stats = {
        "count": n,
        "label_nan": y_nan.sum(),
        "label_min": np.min(y_clean, initial=np.inf),
        "label_max": np.max(y_clean, initial=-np.inf),
        "label_out": ((y_clean < 0) | (y_clean > 1)).sum(),
        "labels_1_2": float(np.isin(y, (1.0, 2.0)).sum() == n),
        "labels_minus1_1": float(np.isin(y, (-1.0, 1.0)).sum() == n),
        "pred_nan": s_nan.sum(),
        "pred_min": np.min(s_clean, initial=np.inf),
        "pred_max": np.max(s_clean, initial=-np.inf),
        "pred_out": ((s_clean < 0) | (s_clean > 1)).sum() if probabilities else 0.0,
        "pair_error": pair_error,
        "onehot_bad": onehot_bad,
        "onehot_binary": float(onehot_binary),
        "onehot_min_sum": onehot_min,
        "onehot_max_sum": onehot_max,
    }
    return error_from_stats(np.array([stats.get(k, 0.0) for k in STATS], dtype="float64"))


def canonical_numpy(
    y_true: Any,
    y_pred: Any,
    *,
    from_logits: bool = False,
    sample_weight: Any = None,
    hard_labels: bool = True,
) -> HostData:
    """Canonicalises labels and predictions on the host, in float64.

    Args:
        y_true: labels in any encoding the contract accepts.
        y_pred: probabilities or logits, one score or a softmax pair per example.
        from_logits: whether `y_pred` holds logits.
        sample_weight: optional weights, one per example.
        hard_labels: refuse soft labels (`KB214`): curves need 0/1 labels.

    Returns:
        A `HostData`.

    Raises:
        BinaryShapeError: shapes no binary encoding explains (`KB1xx`).
        BinaryLabelError: bad values (`KB201`-`KB207`, `KB214`).

    Example:

    >>> data = canonical_numpy(np.array([[1, 0], [0, 1]]), np.array([[2.0, -1.0], [0.0, 1.0]]),
    ...                        from_logits=True)
    >>> data.y_true.tolist(), data.score.tolist()
    ([0.0, 1.0], [-3.0, 1.0])
    """
    _contract.check_numeric(y_true, "y_true")
    _contract.check_numeric(y_pred, "y_pred")
    y = to_numpy(y_true)
    p = to_numpy(y_pred)
    layout = _contract.plan_layout(tuple(y.shape), tuple(p.shape))
    y = y.astype("float64")
    p = p.astype("float64")
    pair_sum = None
    if layout.pred == "pair":
        if from_logits:
            score = p[..., 1] - p[..., 0]
        else:
            score = p[..., 1]
            pair_sum = (p[..., 0] + p[..., 1]).reshape(-1)
    else:
        score = p
    onehot_sum, onehot_binary = None, False
    if layout.label == "onehot":
        while y.ndim > len(layout.leading) + 1:
            y = np.squeeze(y, axis=-1)
        onehot_sum = (y[..., 0] + y[..., 1]).reshape(-1)
        onehot_binary = bool(np.isin(y, (0.0, 1.0)).all())
        y = y[..., 1]
    y = y.reshape(-1)
    score = score.reshape(-1)
    error = _value_error(y, score, not from_logits, pair_sum, onehot_sum, onehot_binary)
    if error is not None:
        raise error
    if hard_labels and not np.isin(y, (0.0, 1.0)).all():
        soft = y[~np.isin(y, (0.0, 1.0))]
        raise BinaryLabelError(
            "KB214",
            f"{soft.size} of {y.size} labels are soft (strictly between 0 and 1); "
            "ROC, precision-recall and confusion matrices need 0/1 labels.",
            received=f"labels such as {soft[:3].tolist()}",
            expected="labels in {0, 1}",
            fix="y = (y >= 0.5).astype('float32')  # or the hard labels the soft ones came from",
        )
    weights = None
    if sample_weight is not None:
        weights = to_numpy(sample_weight).astype("float64").reshape(-1)
        if weights.size != y.size:
            raise BinaryShapeError(
                "KB120",
                f"sample_weight has {weights.size} values for {y.size} predictions.",
                received=f"sample_weight.shape={np.shape(to_numpy(sample_weight))}, {y.size} predictions",
                expected="one weight per example",
                fix="pass sample_weight of shape (N,), one weight per example",
            )
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            raise BinaryConfigError(
                "KB301",
                "sample_weight must be finite and non-negative.",
                received=f"sample_weight from {np.nanmin(weights)} to {np.nanmax(weights)}",
                expected="finite weights >= 0",
                fix="sample_weight = np.clip(np.nan_to_num(sample_weight), 0, None)",
            )
    probability = sigmoid(score) if from_logits else score
    return HostData(y, score, probability, weights, bool(from_logits))


def require_both_classes(y: np.ndarray, w: np.ndarray, task: str) -> None:
    """Raises `KB215` unless both classes have a positive weight."""
    positives, negatives = float(np.sum(w * y)), float(np.sum(w * (1 - y)))
    if positives > 0 and negatives > 0:
        return
    raise BinaryLabelError(
        "KB215",
        f"{task} needs positive and negative examples; these data have "
        + ("no positive." if positives <= 0 else "no negative."),
        received=(
            f"{int(np.sum(y == 1))} positive and {int(np.sum(y == 0))} negative examples "
            f"(weighted {positives:g} and {negatives:g})"
        ),
        expected="at least one example of each class, with weight > 0",
        fix="use a validation set with both classes, e.g. a stratified split",
    )


# ---------------------------------------------------------------------------
# A model's output and predictions.


class OutputInfo(NamedTuple):
    """What a model's last layer says about its output.

    Attributes:
        from_logits: `True` for logits, `False` for probabilities, `None`
            when the last layer does not say.
        threshold: the decision threshold stored in the model, or `None`.
        layer: the last layer.
    """

    from_logits: bool | None
    threshold: float | None
    layer: Any


def _last_layer(model: Any) -> Any:
    layer = model
    while isinstance(layer, keras.Model) and layer.layers:
        layer = layer.layers[-1]
    return layer


def output_info(model: Any) -> OutputInfo:
    """Reads the output representation and stored threshold of a model's last layer.

    A `BinaryHead` or `TemperatureScaling` says both; a layer with an
    `activation` says whether it outputs logits (`linear`) or probabilities
    (`sigmoid`, `softmax`).

    Example:

    >>> import keras, keras_binary
    >>> model = keras.Sequential([keras.Input((3,)), keras_binary.BinaryHead(activation=None, threshold=0.3)])
    >>> output_info(model)[:2]
    (True, 0.3)
    """
    from keras_binary.evaluation.calibration import TemperatureScaling
    from keras_binary.layers import BinaryHead

    layer = _last_layer(model)
    if isinstance(layer, TemperatureScaling):
        return OutputInfo(layer.from_logits, layer.threshold, layer)

    if isinstance(layer, BinaryHead):
        return OutputInfo(layer.activation is None, layer.threshold, layer)
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) if activation is not None else None
    if name in ("sigmoid", "softmax"):
        return OutputInfo(False, None, layer)
    if name == "linear":
        return OutputInfo(True, None, layer)
    return OutputInfo(None, None, layer)


def _check_single_output(model: Any) -> None:
    outputs = getattr(model, "outputs", None)
    try:
        count = len(outputs) if outputs is not None else 1
    except TypeError:
        count = 1
    if count > 1:
        raise BinaryConfigError(
            "KB366",
            f"the model has {count} outputs; the evaluation tools read one binary output.",
            received=f"model {model.name!r} with outputs {[tuple(o.shape) for o in outputs]}",
            expected="a model with one output of shape (N, 1) or (N, 2)",
            fix="evaluate one output: keras.Model(model.inputs, model.outputs[0])",
        )


def _is_batches(x: Any) -> bool:
    """Whether `x` is a dataset (an iterable of batches) rather than arrays."""
    if isinstance(x, (np.ndarray, dict)) or (hasattr(x, "shape") and hasattr(x, "dtype")):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__getitem__") and hasattr(x, "__len__")


def _num_batches(data: Any) -> int | None:
    try:
        n = len(data)
    except TypeError:
        n = None
    if n is None and hasattr(data, "cardinality"):  # tf.data
        try:
            n = int(data.cardinality())
        except (TypeError, ValueError):
            n = None
    return n if n is not None and n >= 0 else None


def _no_labels_error(x: Any) -> BinaryConfigError:
    return BinaryConfigError(
        "KB365",
        "the model's data came without labels: a report or a calibration compares predictions with labels.",
        received=f"x of type {type(x).__name__} and y=None",
        expected="arrays x and y, or a dataset of (x, y) or (x, y, sample_weight) batches",
        fix="keras_binary.report(model, x_test, y_test)  # or a dataset of (x, y) batches",
    )


def _split_batch(batch: Any, x: Any) -> tuple[Any, Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None
    raise _no_labels_error(x)


def _predict_on_batch(model: Any, xb: Any) -> np.ndarray:
    """`model.predict_on_batch(xb)` as NumPy, one row per example also under a `tf.distribute` strategy.

    Under a `MirroredStrategy` of R replicas Keras runs the undistributed
    batch on every replica and concatenates their outputs: R copies of the
    batch's predictions, one after the other. The first copy is the answer.
    """
    out = to_numpy(model.predict_on_batch(xb))
    replicas = getattr(getattr(model, "distribute_strategy", None), "num_replicas_in_sync", 1)
    rows = int(np.shape(keras.tree.flatten(xb)[0])[0])
    if isinstance(replicas, int) and replicas > 1 and out.ndim and out.shape[0] == replicas * rows:
        return out[:rows]
    return out


def predict(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    sample_weight: Any = None,
    batch_size: int | None = None,
    verbose: Any = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Predicts in batches, with a `keras.utils.Progbar`, and collects the labels.

    Args:
        model: a `keras.Model` with one output.
        x: input arrays (then `y` is required), or a dataset (a `tf.data.Dataset`,
            a `keras.utils.PyDataset`, a `torch` `DataLoader`, any iterable) of
            `(x, y)` or `(x, y, sample_weight)` batches.
        y: the labels, with array inputs.
        sample_weight: optional weights, with array inputs.
        batch_size: the batch size for array inputs (default 32).
        verbose: `0` for no progress bar; `"auto"` or `1` for one.

    Returns:
        `(y_true, y_pred, sample_weight)` as NumPy arrays (the last may be `None`).

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    >>> y, p, w = predict(model, np.ones((5, 2)), np.ones(5), verbose=0)
    >>> y.shape, p.shape, w
    ((5,), (5, 1), None)
    """
    _check_single_output(model)
    show = 0 if verbose in (0, False, "0", None) else 1
    labels, preds, weights = [], [], []
    if y is None:
        if not _is_batches(x):
            raise _no_labels_error(x)
        if sample_weight is not None:
            raise BinaryConfigError(
                "KB301",
                "sample_weight goes with array inputs; a dataset carries its weights in its batches.",
                received=f"a dataset of type {type(x).__name__} and sample_weight",
                expected="(x, y, sample_weight) batches, or arrays x, y and sample_weight",
                fix="dataset = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(32)",
            )
        bar = keras.utils.Progbar(_num_batches(x), verbose=show, unit_name="batch")
        for i, batch in enumerate(x):
            xb, yb, wb = _split_batch(batch, x)
            # A tf.data batch on JAX or PyTorch is a TensorFlow tensor, which their
            # predict step does not take: hand every backend NumPy.
            xb = keras.tree.map_structure(to_numpy, xb)
            preds.append(_predict_on_batch(model, xb))
            labels.append(to_numpy(yb))
            if wb is not None:
                weights.append(to_numpy(wb))
            bar.update(i + 1)
        if bar.target is None:
            bar.update(len(preds), finalize=True)
        if not preds:
            raise _no_labels_error(x)
        if weights and len(weights) != len(preds):
            raise BinaryConfigError(
                "KB301",
                "some batches carry sample weights and others do not.",
                received=f"{len(weights)} weighted batches of {len(preds)}",
                expected="(x, y) batches throughout, or (x, y, sample_weight) throughout",
                fix="dataset = dataset.map(lambda x, y: (x, y, tf.ones_like(y)))",
            )
        w = np.concatenate([a.reshape(-1) for a in weights]) if weights else None
        return np.concatenate(labels), np.concatenate(preds), w
    size = batch_size or 32
    leaves = keras.tree.flatten(x)
    n = int(np.shape(leaves[0])[0])
    steps = max(1, -(-n // size))
    bar = keras.utils.Progbar(steps, verbose=show, unit_name="batch")
    for i in range(steps):
        xb = keras.tree.map_structure(lambda a, i=i: a[i * size : (i + 1) * size], x)
        preds.append(_predict_on_batch(model, xb))
        bar.update(i + 1)
    w = None if sample_weight is None else to_numpy(sample_weight)
    return to_numpy(y), np.concatenate(preds), w
