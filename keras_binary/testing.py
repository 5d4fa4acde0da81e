"""Property-testing tools for binary models: Hypothesis strategies and assertions.

The strategies draw binary data in every encoding the package accepts, so
that a property test covers them all:

- `binary_labels(encoding=...)`: labels as int, bool, float, soft or one-hot;
- `binary_predictions(representation=...)`: a probability, a logit, a softmax
  pair of probabilities or of logits;
- `binary_batches()`: a consistent `(y_true, y_pred)` pair in any combination,
  with its canonical float64 form for references.

The assertions check the equivalences the package promises:
`assert_same_binary_predictions(model_a, model_b, x)` and
`assert_loss_invariant(loss, y_true, y_pred)`.

The strategies need Hypothesis, an optional dependency:
`pip install "keras-binary[hypothesis]"`. The assertions do not.

Example:

>>> from hypothesis import given
>>> @given(binary_batches(representation="logit"))
... def test_my_loss_is_finite(batch):
...     value = keras_binary.SafeBCE(from_logits=True)(batch.y_true, batch.y_pred)
...     assert np.isfinite(float(value))
>>> test_my_loss_is_finite()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_binary._contract import plan_layout
from keras_binary.errors import BinaryConfigError

__all__ = [
    "LABEL_ENCODINGS",
    "REPRESENTATIONS",
    "BinaryBatch",
    "assert_loss_invariant",
    "assert_same_binary_predictions",
    "binary_batches",
    "binary_labels",
    "binary_predictions",
]

#: Label encodings: 0/1 integers (int32 or int64), booleans, 0.0/1.0 floats,
#: soft labels in [0, 1] (float32), and one-hot pairs (float32, last axis 2).
LABEL_ENCODINGS = ("int", "bool", "float", "soft", "onehot")

#: Prediction representations: one probability, one logit, a softmax pair of
#: probabilities `[1 - p, p]`, a softmax pair of logits `[z0, z1]`.
REPRESENTATIONS = ("probability", "logit", "probability_pair", "logit_pair")

_INSTALL = 'pip install "keras-binary[hypothesis]"'


def _hypothesis() -> tuple[Any, Any]:
    try:
        from hypothesis import strategies
        from hypothesis.extra import numpy as hnp
    except ImportError as error:  # pragma: no cover - Hypothesis is a test dependency
        raise ImportError(
            f"keras_binary.testing's strategies need Hypothesis, an optional dependency: {_INSTALL}"
        ) from error
    return strategies, hnp


def _names(value: str | Sequence[str] | None, allowed: tuple[str, ...], argument: str) -> tuple[str, ...]:
    names = allowed if value is None else (value,) if isinstance(value, str) else tuple(value)
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise BinaryConfigError(
            "KB301",
            f"`{argument}` must name one or more of {', '.join(allowed)}.",
            received=f"{argument}={value!r}",
            expected=f"one of {allowed}, a sequence of them, or None for all",
            fix=f"{argument}={allowed[0]!r}",
        )
    return names


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """float64 sigmoid, exact for large |z| (no overflow warning)."""
    z = np.asarray(z, dtype="float64")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class BinaryBatch(NamedTuple):
    """A `(y_true, y_pred)` pair drawn by `binary_batches`, with its canonical form.

    Attributes:
        y_true: the labels, encoded as `encoding` says (a NumPy array).
        y_pred: the predictions, in the representation `representation` (a
            NumPy array of `dtype`).
        from_logits: whether `y_pred` holds logits (pass it to the loss).
        labels: the canonical labels, float64, rank 1 (one per prediction).
        scores: the canonical scores, float64, rank 1: the probability `p1`,
            or the logit `z1 - z0` when `from_logits`, computed from the
            values actually in `y_pred`.
        encoding: the label encoding, one of `LABEL_ENCODINGS`.
        representation: one of `REPRESENTATIONS`.

    Example:

    >>> from hypothesis import find
    >>> batch = find(binary_batches(encoding="onehot", representation="logit_pair",
    ...                             leading_shape=(2,)), lambda b: True)
    >>> batch.y_true.shape, batch.y_pred.shape, batch.labels.shape
    ((2, 2), (2, 2), (2,))
    >>> bool(np.allclose(batch.scores, batch.y_pred[:, 1] - batch.y_pred[:, 0]))
    True
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    from_logits: bool
    labels: np.ndarray
    scores: np.ndarray
    encoding: str
    representation: str

    @property
    def probabilities(self) -> np.ndarray:
        """The positive-class probability of each prediction, float64, rank 1."""
        return _sigmoid(self.scores) if self.from_logits else self.scores


# ---------------------------------------------------------------------------
# Encoding canonical data (float64 NumPy) in every representation.


def _encode_labels(labels: np.ndarray, encoding: str, column: bool, int_dtype: str = "int64") -> np.ndarray:
    """Encodes canonical labels (float64, any shape) as `encoding`."""
    if encoding == "onehot":
        return np.stack([1.0 - labels, labels], axis=-1).astype("float32")
    encoded = {
        "int": lambda: labels.astype(int_dtype),
        "bool": lambda: labels.astype(bool),
        "float": lambda: labels.astype("float32"),
        "soft": lambda: labels.astype("float32"),
    }[encoding]()
    return encoded[..., None] if column else encoded


def _encode_scores(
    scores: np.ndarray, representation: str, flat: bool, dtype: str, offset: np.ndarray | float = 0.0
) -> np.ndarray:
    """Encodes canonical scores (float64: probabilities or logits) as `representation`.

    `offset` is the first logit of a pair of logits: `[offset, offset + z]`.
    """
    if representation == "probability_pair":
        return np.stack([1.0 - scores, scores], axis=-1).astype(dtype)
    if representation == "logit_pair":
        return np.stack([offset + 0.0 * scores, offset + scores], axis=-1).astype(dtype)
    return (scores if flat else scores[..., None]).astype(dtype)


def _canonical_scores(y_pred: np.ndarray, representation: str) -> np.ndarray:
    values = np.asarray(y_pred, dtype="float64")
    if representation == "probability_pair":
        return values[..., 1]
    if representation == "logit_pair":
        return values[..., 1] - values[..., 0]
    return values if values.ndim == 1 else values[..., 0]


def _canonical_labels(y_true: np.ndarray, encoding: str, column: bool) -> np.ndarray:
    values = np.asarray(y_true, dtype="float64")
    if encoding == "onehot":
        return values[..., 1]
    return values[..., 0] if column else values


# ---------------------------------------------------------------------------
# Strategies.


def _leading_shapes(leading_shape: Any, max_batch: int) -> Any:
    st, _ = _hypothesis()
    if leading_shape is None:
        return st.integers(1, max_batch).map(lambda n: (n,))
    if isinstance(leading_shape, (tuple, list)):
        return st.just(tuple(leading_shape))
    return leading_shape


def _draw_labels(
    draw: Any, shape: tuple, encoding: str, column: bool | None
) -> tuple[np.ndarray, np.ndarray]:
    st, hnp = _hypothesis()
    if encoding == "soft":
        values = draw(hnp.arrays("float64", shape, elements=st.floats(0.0, 1.0)))
    else:
        values = draw(hnp.arrays(bool, shape)).astype("float64")
    column = draw(st.booleans()) if column is None else column
    int_dtype = draw(st.sampled_from(("int32", "int64"))) if encoding == "int" else "int64"
    y_true = _encode_labels(values, encoding, column and encoding != "onehot", int_dtype)
    return y_true, _canonical_labels(y_true, encoding, column and encoding != "onehot")


def _draw_predictions(
    draw: Any, shape: tuple, representation: str, flat: bool | None, max_logit: float, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    st, hnp = _hypothesis()
    logits = draw(hnp.arrays("float64", shape, elements=st.floats(-max_logit, max_logit)))
    flat = (draw(st.booleans()) if flat is None else flat) and len(shape) == 1
    if representation == "logit_pair":
        offset = draw(hnp.arrays("float64", shape, elements=st.floats(-max_logit, max_logit)))
        y_pred = _encode_scores(logits, representation, False, dtype, offset)
    elif representation == "logit":
        y_pred = _encode_scores(logits, representation, flat, dtype)
    else:
        y_pred = _encode_scores(_sigmoid(logits), representation, flat, dtype)
    return y_pred, _canonical_scores(y_pred, representation)


def binary_labels(
    encoding: str | Sequence[str] | None = None,
    leading_shape: Any = None,
    column: bool | None = None,
    max_batch: int = 16,
) -> Any:
    """A Hypothesis strategy for binary labels in any encoding.

    Args:
        encoding: one of `LABEL_ENCODINGS` (`"int"`, `"bool"`, `"float"`,
            `"soft"`, `"onehot"`), a sequence of them, or `None` for all.
        leading_shape: the shape of one label per prediction: a tuple such as
            `(8,)` or `(2, 4, 4)`, a strategy of tuples, or `None` for
            `(N,)` with `1 <= N <= max_batch`.
        column: whether non-one-hot labels get a last axis of size 1
            (`(N, 1)` instead of `(N,)`); `None` draws it.
        max_batch: the largest `N` when `leading_shape` is `None`.

    Returns:
        A strategy of NumPy arrays: `leading_shape`, `leading_shape + (1,)`
        or, for one-hot labels, `leading_shape + (2,)`.

    Example:

    >>> from hypothesis import find
    >>> y = find(binary_labels(encoding="onehot", leading_shape=(3,)), lambda y: y[:, 1].sum() == 2)
    >>> y.shape, y.dtype.name
    ((3, 2), 'float32')
    """
    st, _ = _hypothesis()
    encodings = _names(encoding, LABEL_ENCODINGS, "encoding")
    shapes = _leading_shapes(leading_shape, max_batch)

    @st.composite
    def labels(draw: Any) -> np.ndarray:
        name = draw(st.sampled_from(encodings))
        return _draw_labels(draw, draw(shapes), name, column)[0]

    return labels()


def binary_predictions(
    representation: str | Sequence[str] | None = None,
    leading_shape: Any = None,
    flat: bool | None = None,
    max_logit: float = 6.0,
    dtype: str = "float32",
    max_batch: int = 16,
) -> Any:
    """A Hypothesis strategy for binary predictions in any representation.

    Every prediction comes from a logit `z` in `[-max_logit, max_logit]`: a
    probability is `sigmoid(z)`, a pair of probabilities `[1 - p, p]`, a pair
    of logits `[a, a + z]` with a random offset `a` (softmax ignores it).

    Args:
        representation: one of `REPRESENTATIONS` (`"probability"`, `"logit"`,
            `"probability_pair"`, `"logit_pair"`), a sequence of them, or
            `None` for all.
        leading_shape: the shape before the class axis: a tuple, a strategy
            of tuples, or `None` for `(N,)` with `1 <= N <= max_batch`.
        flat: whether a single score is given as `(N,)` rather than
            `(N, 1)` (only for a rank-1 `leading_shape`); `None` draws it.
        max_logit: the largest `|z|`. In float32, probabilities of larger
            logits round to 1 - p with few significant digits, and the
            representations stop agreeing to float32 precision.
        dtype: the NumPy float dtype of the predictions.
        max_batch: the largest `N` when `leading_shape` is `None`.

    Returns:
        A strategy of NumPy arrays of shape `leading_shape + (1,)` (or
        `(N,)`) for one score, `leading_shape + (2,)` for a pair.

    Example:

    >>> from hypothesis import find
    >>> pair = find(binary_predictions("probability_pair", leading_shape=(4,)), lambda p: True)
    >>> pair.shape, bool(np.allclose(pair.sum(axis=-1), 1.0))
    ((4, 2), True)
    """
    st, _ = _hypothesis()
    representations = _names(representation, REPRESENTATIONS, "representation")
    shapes = _leading_shapes(leading_shape, max_batch)

    @st.composite
    def predictions(draw: Any) -> np.ndarray:
        name = draw(st.sampled_from(representations))
        return _draw_predictions(draw, draw(shapes), name, flat, max_logit, dtype)[0]

    return predictions()


def binary_batches(
    encoding: str | Sequence[str] | None = None,
    representation: str | Sequence[str] | None = None,
    leading_shape: Any = None,
    column: bool | None = None,
    flat: bool | None = None,
    max_logit: float = 6.0,
    dtype: str = "float32",
    max_batch: int = 16,
) -> Any:
    """A Hypothesis strategy for consistent `(y_true, y_pred)` batches.

    Labels and predictions share their leading shape, and each is drawn in
    one of the allowed encodings and representations, so that a test over
    this strategy covers every combination the shape contract accepts.

    Args:
        encoding: label encodings to draw from (see `binary_labels`).
        representation: prediction representations to draw from (see
            `binary_predictions`).
        leading_shape: a tuple, a strategy of tuples, or `None` for `(N,)`.
        column: as in `binary_labels`.
        flat: as in `binary_predictions`.
        max_logit: as in `binary_predictions`.
        dtype: the NumPy float dtype of the predictions.
        max_batch: the largest `N` when `leading_shape` is `None`.

    Returns:
        A strategy of `BinaryBatch`: `y_true`, `y_pred`, `from_logits`, and
        the canonical float64 `labels` and `scores` to compute references.

    Example:

    >>> from hypothesis import find
    >>> batch = find(binary_batches(encoding="int", representation="logit_pair"), lambda b: True)
    >>> batch.y_pred.shape[-1], batch.from_logits
    (2, True)
    """
    st, _ = _hypothesis()
    encodings = _names(encoding, LABEL_ENCODINGS, "encoding")
    representations = _names(representation, REPRESENTATIONS, "representation")
    shapes = _leading_shapes(leading_shape, max_batch)

    @st.composite
    def batches(draw: Any) -> BinaryBatch:
        shape = draw(shapes)
        label_name = draw(st.sampled_from(encodings))
        pred_name = draw(st.sampled_from(representations))
        y_true, labels = _draw_labels(draw, shape, label_name, column)
        y_pred, scores = _draw_predictions(draw, shape, pred_name, flat, max_logit, dtype)
        return BinaryBatch(
            y_true,
            y_pred,
            pred_name.startswith("logit"),
            labels.ravel(),
            scores.ravel(),
            label_name,
            pred_name,
        )

    return batches()


# ---------------------------------------------------------------------------
# Assertions.


def _canonical(y_true: Any, y_pred: Any, from_logits: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Canonical float64 labels and scores, shaped like the leading axes."""
    true = np.asarray(keras.ops.convert_to_numpy(y_true), dtype="float64")
    pred = np.asarray(keras.ops.convert_to_numpy(y_pred), dtype="float64")
    layout = plan_layout(true.shape, pred.shape)
    if layout.pred == "pair":
        scores = pred[..., 1] - pred[..., 0] if from_logits else pred[..., 1]
    else:
        scores = pred[..., 0] if layout.drop_class_axis else pred
    labels = true[..., 1] if layout.label == "onehot" else true
    return np.reshape(labels, scores.shape), scores, layout.leading


def _positive_probability(y_pred: Any, from_logits: bool) -> np.ndarray:
    """The positive-class probability of binary predictions, float64."""
    pred = np.asarray(keras.ops.convert_to_numpy(y_pred), dtype="float64")
    _, scores, _ = _canonical(np.zeros(pred.shape), pred, from_logits)
    return _sigmoid(scores) if from_logits else scores


def _model_from_logits(model: Any, argument: str) -> bool:
    from keras_binary.convert import _find_head

    if not isinstance(model, keras.Model):
        raise BinaryConfigError(
            "KB301",
            f"cannot tell whether a {type(model).__name__} outputs probabilities or logits.",
            received=f"{argument}=None for a callable that is not a keras.Model",
            expected="a keras.Model (its final layer says), or an explicit from_logits",
            fix=f"{argument}=True  # or False for probabilities",
        )
    return _find_head(model).activation is None


def _check_finite_inputs(x: Any) -> None:
    from keras_binary.errors import BinaryConfigError as ConfigError

    for value in keras.tree.flatten(x):
        array = np.asarray(keras.ops.convert_to_numpy(value))
        if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            raise ConfigError(
                "KB344",
                f"the inputs contain {bad} NaN or infinite values: the models' predictions "
                "on them are not numbers, so they cannot be compared.",
                received=f"x of shape {array.shape} with {bad} non-finite values",
                expected="finite inputs",
                fix="x = x[np.isfinite(x).all(axis=tuple(range(1, x.ndim)))]",
            )


def assert_same_binary_predictions(
    model_a: Any,
    model_b: Any,
    x: Any,
    from_logits_a: bool | None = None,
    from_logits_b: bool | None = None,
    atol: float = 1e-6,
    rtol: float = 0.0,
) -> None:
    """Asserts that two binary models predict the same positive-class probability.

    The models may use different outputs: a 1-unit sigmoid, a 1-unit logit,
    or a 2-unit softmax (or logit) pair. Each output is brought to one
    probability per example in float64 (`p1`, or `sigmoid(z)`, or
    `sigmoid(z1 - z0)`) before the comparison.

    Args:
        model_a: a Keras model (or any callable returning a tensor).
        model_b: the model to compare with.
        x: the inputs, as the models take them.
        from_logits_a: whether `model_a` outputs logits; `None` reads it from
            its final layer (as `keras_binary.convert_head` does).
        from_logits_b: the same for `model_b`.
        atol: the absolute tolerance on probabilities.
        rtol: the relative tolerance.

    Raises:
        AssertionError: when the probabilities differ, or one is not finite.
        BinaryConfigError: `KB344` when `x` holds NaN or infinite values.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    >>> small = keras_binary.convert_head(model, to="sigmoid")
    >>> assert_same_binary_predictions(model, small, np.ones((4, 3)))
    """
    _check_finite_inputs(x)
    probabilities = []
    for name, model, from_logits in (
        ("model_a", model_a, from_logits_a),
        ("model_b", model_b, from_logits_b),
    ):
        if from_logits is None:
            from_logits = _model_from_logits(model, f"from_logits_{name[-1]}")
        p = _positive_probability(model(x, training=False), from_logits)
        if not np.all(np.isfinite(p)):
            raise AssertionError(
                f"{name} predicts {int(np.size(p) - np.isfinite(p).sum())} non-finite values"
            )
        probabilities.append(p)
    np.testing.assert_allclose(
        probabilities[0],
        probabilities[1],
        rtol=rtol,
        atol=atol,
        err_msg="the models' positive-class probabilities differ",
    )


def _prediction_variants(scores: np.ndarray, from_logits: bool, dtype: str, names: tuple[str, ...]) -> dict:
    """Every representation of canonical scores of one kind (exact in float)."""
    kind = ("logit", "logit_pair") if from_logits else ("probability", "probability_pair")
    variants = {}
    for name in names:
        if name not in kind:
            continue
        if name.endswith("pair"):
            # [-z/2, z/2]: halving is exact, so z1 - z0 == z in any float dtype.
            variants[name] = _encode_scores(scores, name, False, dtype, -scores / 2.0)
            continue
        variants[name] = _encode_scores(scores, name, False, dtype)
        if scores.ndim == 1:
            variants[name + " (N,)"] = _encode_scores(scores, name, True, dtype)
    return variants


def _label_variants(labels: np.ndarray, names: tuple[str, ...]) -> dict:
    hard = bool(np.all((labels == 0.0) | (labels == 1.0)))
    variants = {}
    for name in names:
        if name in ("int", "bool") and not hard:
            continue
        if name == "soft" and "float" in names:
            continue  # the same float32 arrays
        if name == "onehot":
            variants[name] = _encode_labels(labels, name, False)
            continue
        variants[name] = _encode_labels(labels, name, False)
        variants[name + " (N, 1)"] = _encode_labels(labels, name, True)
    return variants


def _twin(loss: Any, from_logits: bool) -> Any:
    """The same loss for the other kind of scores, or `None`."""
    get_config = getattr(loss, "get_config", None)
    if get_config is None:
        return None
    config = get_config()
    if config.get("from_logits") != from_logits:
        return None
    return type(loss).from_config({**config, "from_logits": not from_logits})


def assert_loss_invariant(
    loss: Any,
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    sample_weight: Any = None,
    encoding: str | Sequence[str] | None = None,
    representation: str | Sequence[str] | None = None,
    twin: bool = True,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    dtype: str = "float32",
) -> Any:
    """Asserts that a loss gives the same value for every representation of the same data.

    The data is brought to its canonical form (float64 labels and scores),
    then re-encoded in every label encoding (int, bool, float, one-hot, with
    and without a last axis of size 1) and every representation of the
    predictions of the loss's kind (for probabilities: `(N, 1)`, `(N,)` and
    the pair `[1 - p, p]`; for logits: `(N, 1)`, `(N,)` and the pair
    `[-z/2, z/2]`), and the loss is called on each combination.

    With `twin=True`, a loss that has `from_logits` in its config (the
    package's losses, Keras's) is also rebuilt with the other value of
    `from_logits` and called on every representation of the other kind of
    scores (`sigmoid(z)`, or `log(p) - log(1 - p)`), with the first label
    encoding, which must give the same value too.

    Args:
        loss: a callable `loss(y_true, y_pred, sample_weight=None)`, e.g. a
            `keras.losses.Loss`.
        y_true: labels in any accepted encoding.
        y_pred: predictions in any accepted representation.
        from_logits: whether `y_pred` holds logits (as the loss expects).
        sample_weight: passed to every call, unchanged.
        encoding: the label encodings to try (names of `LABEL_ENCODINGS`);
            `None` for all that fit the labels (int and bool only for hard
            labels).
        representation: the representations to try (`REPRESENTATIONS`);
            `None` for all.
        twin: also check the loss rebuilt for the other kind of scores.
        rtol: the relative tolerance.
        atol: the absolute tolerance.
        dtype: the float dtype of the re-encoded predictions.

    Returns:
        The loss's value (on which every combination agrees), as a float64
        NumPy array.

    Raises:
        AssertionError: naming each combination whose value differs.
        BinaryConfigError: `KB301` when `twin=True` but a probability is
            exactly 0 or 1, which has no finite logit.

    Example:

    >>> y = np.array([0, 1, 1, 0])
    >>> p = np.array([[0.1], [0.8], [0.6], [0.3]])
    >>> value = assert_loss_invariant(keras_binary.SafeBCE(), y, p)
    >>> round(float(value), 4)
    0.299
    """
    encodings = _names(encoding, LABEL_ENCODINGS, "encoding")
    representations = _names(representation, REPRESENTATIONS, "representation")
    labels, scores, _ = _canonical(y_true, y_pred, from_logits)
    calls = [(loss, from_logits, scores)]
    other = _twin(loss, from_logits) if twin else None
    if other is not None:
        if from_logits:
            other_scores = _sigmoid(scores)
        else:
            if np.any((scores <= 0.0) | (scores >= 1.0)):
                raise BinaryConfigError(
                    "KB301",
                    "y_pred holds probabilities of exactly 0 or 1, which have no finite logit "
                    "to compare the loss with from_logits=True on.",
                    received=f"probabilities from {scores.min():.4g} to {scores.max():.4g}",
                    expected="probabilities strictly between 0 and 1, or twin=False",
                    fix="assert_loss_invariant(loss, y_true, y_pred, twin=False)",
                )
            other_scores = np.log(scores) - np.log1p(-scores)
        calls.append((other, not from_logits, other_scores))

    label_variants = _label_variants(labels, encodings)
    values: dict[str, np.ndarray] = {}
    for function, logits, kind_scores in calls:
        # Every label encoding with every representation; the twin with the first encoding.
        labels_to_try = label_variants if function is loss else dict(list(label_variants.items())[:1])
        for pred_name, pred in _prediction_variants(kind_scores, logits, dtype, representations).items():
            for label_name, true in labels_to_try.items():
                if sample_weight is None:
                    value = function(true, pred)
                else:
                    value = function(true, pred, sample_weight=sample_weight)
                key = f"labels {label_name}, {pred_name}{' (twin loss)' if function is not loss else ''}"
                values[key] = np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
    if not values:
        raise BinaryConfigError(
            "KB301",
            "no representation to compare: the requested encodings and representations do not "
            "fit the labels and the loss's from_logits.",
            received=f"encoding={encoding!r}, representation={representation!r}, from_logits={from_logits}",
            expected="at least one representation of the loss's kind",
            fix="assert_loss_invariant(loss, y_true, y_pred)  # every representation",
        )
    first_key, first = next(iter(values.items()))
    failures = []
    for key, value in values.items():
        if value.shape != first.shape or not np.allclose(value, first, rtol=rtol, atol=atol, equal_nan=False):
            failures.append(f"  {key}: {value.tolist()}")
    if failures:
        raise AssertionError(
            f"the loss is not invariant across representations: {first_key} gives {first.tolist()}, but\n"
            + "\n".join(failures)
        )
    return first
