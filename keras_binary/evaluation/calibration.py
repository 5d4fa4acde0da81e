"""Temperature scaling: `calibrate` and the `TemperatureScaling` layer it adds."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_binary.errors import BinaryConfigError, BinaryShapeError
from keras_binary.evaluation import _data, _stats
from keras_binary.evaluation._deps import require
from keras_binary.layers import _check_threshold

# Probabilities are clipped to [EPSILON, 1 - EPSILON] before their logit is
# taken, in the layer and in the fit alike.
EPSILON = 1e-7


def _check_temperature(temperature: Any) -> float:
    ok = isinstance(temperature, numbers.Real) and not isinstance(temperature, bool)
    if not ok or not math.isfinite(float(temperature)) or float(temperature) <= 0:
        raise BinaryConfigError(
            "KB364",
            "a temperature divides the logits: it must be a finite number > 0.",
            received=f"temperature={temperature!r}",
            expected="a float > 0 (1.0 changes nothing; above 1 softens, below 1 sharpens)",
            fix="calibrated = keras_binary.calibrate(model, x_val, y_val)  # fits the temperature",
        )
    return float(temperature)


@keras.saving.register_keras_serializable(package="keras_binary")
class TemperatureScaling(keras.layers.Layer):
    """Divides a binary output's logit by a temperature, in its own representation.

    For logits `z` (one, or a softmax pair) it returns `z / T`; for a
    probability `p` it returns `sigmoid(logit(p) / T)`; for a pair of softmax
    probabilities `softmax(log(p) / T)`. Each is exact in logit space: the
    logit of the positive class (or `z1 - z0` for a pair) is divided by `T`,
    so the ranking of the examples never changes. Probabilities are clipped
    to `[1e-7, 1 - 1e-7]` before their logit is taken. Computed in float32.

    `keras_binary.calibrate` fits `T` and adds this layer; it also carries the
    model's decision threshold (see `keras_binary.predict_classes`).

    Args:
        temperature: `T > 0`; above 1 softens over-confident probabilities.
        from_logits: whether the input (and so the output) holds logits.
        threshold: the decision threshold for the calibrated output, a
            probability, or `None`.
        **kwargs: other `keras.layers.Layer` arguments, e.g. `name`.

    Input shape:
        `(N, 1)`, `(N, 2)` or `(N,)`: a binary output, as the shape contract
        reads it (further leading axes are fine).

    Output shape:
        The input's shape, in the same representation.

    Example:

    >>> layer = TemperatureScaling(temperature=2.0, from_logits=True)
    >>> keras.ops.convert_to_numpy(layer(np.array([[4.0], [-2.0]]))).tolist()
    [[2.0], [-1.0]]
    >>> p = TemperatureScaling(temperature=2.0)(np.array([[0.8], [0.5]]))
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(p)[:, 0]]
    [0.6667, 0.5]
    """

    def __init__(
        self,
        temperature: float = 1.0,
        from_logits: bool = False,
        threshold: float | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.temperature = _check_temperature(temperature)
        self.from_logits = bool(from_logits)
        self.threshold = _check_threshold(threshold, "TemperatureScaling")

    def build(self, input_shape: Any) -> None:
        if len(input_shape) > 1 and input_shape[-1] not in (1, 2):
            raise BinaryShapeError(
                "KB102",
                f"TemperatureScaling needs a binary output, not {input_shape[-1]} classes on the last axis.",
                received=f"input_shape={tuple(input_shape)}",
                expected="(N, 1), (N, 2) or (N,)",
                fix="calibrate a model ending with keras_binary.BinaryHead()",
            )
        self._pair = len(input_shape) > 1 and input_shape[-1] == 2
        self.built = True

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        inverse = 1.0 / self.temperature
        if self.from_logits:
            return x * inverse
        if self._pair:
            logp = ops.log(ops.clip(x, EPSILON, 1.0))
            return ops.softmax(logp * inverse, axis=-1)
        p = ops.clip(x, EPSILON, 1.0 - EPSILON)
        return ops.sigmoid((ops.log(p) - ops.log1p(-p)) * inverse)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {"temperature": self.temperature, "from_logits": self.from_logits, "threshold": self.threshold}
        )
        return config


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What `keras_binary.calibrate` fitted, and the scores before and after, on the fitting data.

    Attributes:
        temperature: the fitted temperature `T`.
        n: the number of validation examples.
        log_loss_before: the log loss before (never lower than after).
        log_loss_after: the log loss after.
        ece_before: the ECE before (15 equal-width bins, as `metrics.ECE`).
        ece_after: the ECE after.
        brier_before: the Brier score before.
        brier_after: the Brier score after.

    Example:

    >>> info = Calibration(2.0, 100, 0.7, 0.6, 0.2, 0.05, 0.25, 0.22)
    >>> print(str(info).splitlines()[0])
    Temperature scaling: T = 2 on 100 examples
    """

    temperature: float
    n: int
    log_loss_before: float
    log_loss_after: float
    ece_before: float
    ece_after: float
    brier_before: float
    brier_after: float

    def to_dict(self) -> dict:
        """The fields as plain Python values."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return (
            f"Temperature scaling: T = {self.temperature:.4g} on {self.n} examples\n"
            f"  log loss {self.log_loss_before:.4f} -> {self.log_loss_after:.4f}\n"
            f"  ECE      {self.ece_before:.4f} -> {self.ece_after:.4f}\n"
            f"  Brier    {self.brier_before:.4f} -> {self.brier_after:.4f}"
        )


def _logits(raw: np.ndarray, from_logits: bool) -> np.ndarray:
    """The positive-class logit of raw outputs, as `TemperatureScaling` reads them (float64)."""
    raw = np.asarray(raw, dtype="float64")
    pair = raw.ndim > 1 and raw.shape[-1] == 2
    if from_logits:
        z = raw[..., 1] - raw[..., 0] if pair else raw
    elif pair:
        logp = np.log(np.clip(raw, EPSILON, 1.0))
        z = logp[..., 1] - logp[..., 0]
    else:
        p = np.clip(raw, EPSILON, 1.0 - EPSILON)
        z = np.log(p) - np.log1p(-p)
    return z.reshape(-1)


def _log_loss(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    # log(1 + e^z) - y z, stable for any z.
    return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) / np.sum(w))


def fit_temperature(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """The temperature that minimises the log loss of `sigmoid(z / T)`, on the host.

    One-dimensional: scipy's bounded Brent search over `log T` in
    `[log 0.01, log 100]` (the log loss is a convex function of `1 / T`, so
    it has one minimum); `T = 1` is kept unless the search does better.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=2000) * 2
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-z))).astype(float)
    >>> round(fit_temperature(5 * z, y))  # logits made 5x too confident
    5
    """
    optimize = require("scipy.optimize", "keras_binary.calibrate")
    w = np.ones_like(z) if w is None else w
    result = optimize.minimize_scalar(
        lambda u: _log_loss(z * math.exp(-u), y, w),
        bounds=(math.log(1e-2), math.log(1e2)),
        method="bounded",
        options={"xatol": 1e-9},
    )
    u = float(result.x)
    if _log_loss(z * math.exp(-u), y, w) > _log_loss(z, y, w):
        u = 0.0
    return math.exp(u)


def _rebuild(model: Any, layer: TemperatureScaling) -> Any:
    """A new model: a copy of `model` (same weights) followed by `layer`."""
    name = f"{model.name}_calibrated"
    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        copy = model  # a subclassed model: shared, not copied
    inputs = (
        getattr(copy, "inputs", None) if copy is not model or isinstance(model, keras.Sequential) else None
    )
    try:
        if inputs:
            return keras.Model(inputs, layer(copy.outputs[0]), name=name)
    except (AttributeError, ValueError):
        pass
    return keras.Sequential([copy, layer], name=name)


def calibrate(
    model: Any,
    x_val: Any,
    y_val: Any = None,
    *,
    from_logits: bool | None = None,
    sample_weight: Any = None,
    batch_size: int | None = None,
    verbose: Any = "auto",
) -> Any:
    """Fits temperature scaling on validation data and returns the calibrated model.

    The model's positive-class logit `z` (its logits, `z1 - z0` of a softmax
    pair, or `logit(p)` of its probabilities) is divided by one temperature
    `T`, fitted on `(x_val, y_val)` by minimising the log loss (on the host,
    in float64). Exact in logit space, so the ranking (ROC AUC, average
    precision) is unchanged, and the log loss on the fitting data never
    rises. The new model is a copy of `model` (same weights; a subclassed
    model is shared, not copied) followed by a `TemperatureScaling` layer,
    with the same output representation; it saves and loads as a `.keras`
    file. A decision threshold stored in the model is carried over, mapped so
    that the calibrated model makes the same decisions.

    What was fitted is in `calibrated.calibration`, a `Calibration` with the
    temperature and the log loss, ECE and Brier score before and after (on
    the fitting data: measure them on held-out data with
    `keras_binary.report`).

    Args:
        model: a `keras.Model` with one binary output.
        x_val: validation inputs, or a dataset of `(x, y)` batches.
        y_val: validation labels (with array inputs).
        from_logits: whether the model outputs logits; by default read from
            its last layer.
        sample_weight: optional weights, one per example (array inputs).
        batch_size: the batch size for predicting (default 32).
        verbose: `0` hides the progress bar.

    Returns:
        A new `keras.Model`, with a `calibration` attribute (a `Calibration`).

    Raises:
        BinaryLabelError: `KB215` when the validation data hold one class only.
        BinaryConfigError: `KB365` data without labels, `KB366` a model with
            several outputs, `KB360` scipy or scikit-learn missing.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1000, 1)).astype("float32")
    >>> y = (rng.random(1000) < 1 / (1 + np.exp(-x[:, 0]))).astype("float32")
    >>> inputs = keras.Input((1,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1, "sigmoid", kernel_initializer=keras.initializers.Constant(5.0))(inputs))
    >>> calibrated = keras_binary.calibrate(model, x, y, verbose=0)
    >>> info = calibrated.calibration
    >>> 4 < info.temperature < 7, info.ece_after < info.ece_before
    (True, True)
    """
    metrics = require("sklearn.metrics", "keras_binary.calibrate")
    info = _data.output_info(model)
    if from_logits is None:
        from_logits = bool(info.from_logits)
    labels, raw, weights = _data.predict(
        model, x_val, y_val, sample_weight=sample_weight, batch_size=batch_size, verbose=verbose
    )
    data = _data.canonical_numpy(labels, raw, from_logits=from_logits, sample_weight=weights)
    y, p = data.y_true, data.probability
    w = np.ones_like(p) if data.sample_weight is None else data.sample_weight
    _data.require_both_classes(y, w, "calibrating")
    z = _logits(raw, from_logits)
    temperature = fit_temperature(z, y, w)
    p_after = _data.sigmoid(z / temperature)
    threshold = info.threshold
    if threshold is not None and 0.0 < threshold < 1.0:
        threshold = float(
            _data.sigmoid(np.array([math.log(threshold) - math.log1p(-threshold)]) / temperature)[0]
        )
    layer = TemperatureScaling(
        temperature, from_logits=from_logits, threshold=threshold, name="temperature_scaling"
    )
    calibrated = _rebuild(model, layer)
    sw = data.sample_weight
    calibrated.calibration = Calibration(
        temperature=temperature,
        n=int(y.size),
        log_loss_before=float(metrics.log_loss(y, p, sample_weight=sw, labels=[0, 1])),
        log_loss_after=float(metrics.log_loss(y, p_after, sample_weight=sw, labels=[0, 1])),
        ece_before=_stats.ece(y, p, sw),
        ece_after=_stats.ece(y, p_after, sw),
        brier_before=float(metrics.brier_score_loss(y, p, sample_weight=sw)),
        brier_after=float(metrics.brier_score_loss(y, p_after, sample_weight=sw)),
    )
    return calibrated
