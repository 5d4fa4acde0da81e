"""`BinaryHead`: a drop-in binary output for any backbone.

The head pools the spatial or time axes of a backbone's output, optionally
runs a small MLP, and ends with one sigmoid unit, a 2-unit softmax or logits.
While the model is built it refuses, with coded errors, the classic
transfer-learning mistakes: a head stacked on a K-way softmax (a backbone left
with `include_top=True`), an unpooled feature map with `pooling=None`, a
1-unit softmax (always 1.0) and a 2-unit sigmoid (multi-label, not binary).

All checks use static shapes (and, in the functional API, the layer that
produced the input), so they run once, while the model is built.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_binary import _graph
from keras_binary._contract import _fmt
from keras_binary._graph import activation_name as _activation_name
from keras_binary.errors import BinaryConfigError, BinaryShapeError

_POOLINGS = ("avg", "max", "avgmax")
_OUTPUT_ACTIVATIONS = {1: "sigmoid", 2: "softmax"}
_MIXED_COMPUTE_DTYPES = ("float16", "bfloat16")


def _resolve_output_activation(units: int, activation: Any) -> str | None:
    name = _activation_name(activation)
    if activation is not None and name not in ("auto", "sigmoid", "softmax", "linear"):
        raise BinaryConfigError(
            "KB306",
            "the output activation of a binary head must be a sigmoid (1 unit), a "
            "softmax (2 units) or none (logits).",
            received=f"activation={activation!r}",
            expected="activation='auto', 'sigmoid' (units=1), 'softmax' (units=2) or None (logits)",
            fix=(
                "BinaryHead(activation='auto'); for logits, BinaryHead(activation=None) "
                "with SafeBCE(from_logits=True); put other activations in hidden_activation"
            ),
        )
    if name == "auto":
        return _OUTPUT_ACTIVATIONS[units]
    if name in (None, "linear"):
        return None
    if units == 1 and name == "softmax":
        raise BinaryConfigError(
            "KB302",
            "a softmax over 1 unit always outputs 1.0: the model cannot learn anything.",
            received="units=1, activation='softmax'",
            expected="units=1 with a sigmoid, or units=2 with a softmax",
            fix="BinaryHead(units=1, activation='sigmoid')  # or BinaryHead(units=2, activation='softmax')",
        )
    if units == 2 and name == "sigmoid":
        raise BinaryConfigError(
            "KB303",
            "two sigmoid units are two independent labels (multi-label), not one "
            "binary label: their probabilities need not sum to 1.",
            received="units=2, activation='sigmoid'",
            expected="units=2 with a softmax, or units=1 with a sigmoid",
            fix="BinaryHead(units=2, activation='softmax')  # or BinaryHead(units=1, activation='sigmoid')",
        )
    return name


def _check_units(units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, int) or units not in (1, 2):
        raise BinaryConfigError(
            "KB304",
            "a binary head has 1 unit (one sigmoid or logit) or 2 units (a softmax pair).",
            received=f"units={units!r}",
            expected="units=1 or units=2",
            fix=(
                "BinaryHead(units=1)  # for K > 2 classes use "
                "keras.layers.Dense(K, activation='softmax'), not a binary head"
            ),
        )
    return units


def _check_pooling(pooling: Any) -> str | None:
    if pooling is None:
        return None
    name = pooling.lower() if isinstance(pooling, str) else pooling
    if name not in _POOLINGS:
        raise BinaryConfigError(
            "KB305",
            f"unknown pooling {pooling!r}.",
            received=f"pooling={pooling!r}",
            expected="pooling='avg', 'max', 'avgmax' (both, concatenated) or None for (N, F) inputs",
            fix="BinaryHead(pooling='avg')",
        )
    return name


def _check_hidden_units(hidden_units: Any) -> tuple[int, ...]:
    values = (
        (hidden_units,)
        if isinstance(hidden_units, int) and not isinstance(hidden_units, bool)
        else hidden_units
    )
    ok = isinstance(values, Sequence) and not isinstance(values, str)
    if ok:
        values = tuple(values)
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    if not ok:
        raise BinaryConfigError(
            "KB308",
            "hidden_units must be a sequence of positive layer sizes.",
            received=f"hidden_units={hidden_units!r}",
            expected="a tuple of positive ints, e.g. (256,) or (256, 64); () for no hidden layer",
            fix="BinaryHead(hidden_units=(256,))",
        )
    return values


def _check_dropout(dropout: Any) -> float:
    ok = isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and 0.0 <= dropout < 1.0
    if not ok:
        raise BinaryConfigError(
            "KB307",
            "dropout is the fraction of features dropped during training, a number in [0, 1).",
            received=f"dropout={dropout!r}",
            expected="a float in [0, 1), e.g. 0.2; 0.0 for no dropout",
            fix="BinaryHead(dropout=0.2)",
        )
    return float(dropout)


def _check_prior(prior: Any) -> float | None:
    if prior is None:
        return None
    ok = isinstance(prior, (int, float)) and not isinstance(prior, bool) and 0.0 < prior < 1.0
    if not ok:
        raise BinaryConfigError(
            "KB309",
            "bias_init_prior is the expected rate of positive examples, a number strictly between 0 and 1.",
            received=f"bias_init_prior={prior!r}",
            expected="a float in (0, 1), e.g. the positive rate of the training labels",
            fix="BinaryHead(bias_init_prior=float(np.mean(y_train)))",
        )
    return float(prior)


def _check_threshold(threshold: Any, where: str = "BinaryHead") -> float | None:
    """A decision threshold: `None`, or a probability in [0, 1] (`KB361`)."""
    if threshold is None:
        return None
    ok = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
    if not ok or not 0.0 <= float(threshold) <= 1.0:
        raise BinaryConfigError(
            "KB361",
            "a decision threshold is a probability in [0, 1]: a probability above it is a positive.",
            received=f"threshold={threshold!r} in {where}",
            expected="a float in [0, 1], or None for the default 0.5",
            fix=f"{where}(threshold=keras_binary.select_threshold(y_val, p_val, method='youden').threshold)",
        )
    return float(threshold)


def _check_data_format(data_format: Any) -> str:
    if data_format is None:
        return keras.config.image_data_format()
    name = str(data_format).lower()
    if name not in ("channels_last", "channels_first"):
        raise BinaryConfigError(
            "KB310",
            f"unknown data_format {data_format!r}.",
            received=f"data_format={data_format!r}",
            expected="'channels_last' (features on the last axis), 'channels_first' (on axis 1) or None",
            fix="BinaryHead(data_format='channels_last')",
        )
    return name


def _check_hidden_activation(activation: Any) -> Any:
    try:
        return keras.activations.get(activation)
    except (ValueError, TypeError) as error:
        raise BinaryConfigError(
            "KB311",
            "unknown hidden_activation.",
            received=f"hidden_activation={activation!r} ({error})",
            expected="a Keras activation name or function, e.g. 'relu', 'gelu', 'swish'",
            fix="BinaryHead(hidden_units=(256,), hidden_activation='relu')",
        ) from None


def prior_bias(prior: float, units: int) -> list[float]:
    """The output bias whose prediction, for a zero input, equals `prior`.

    For one sigmoid unit, `b = log(p / (1 - p))`; for a softmax pair,
    `b = [0, log(p / (1 - p))]`, since `softmax([0, z])[1] == sigmoid(z)`.

    Args:
        prior: the expected positive rate, in (0, 1).
        units: 1 or 2.

    Returns:
        The bias as a list of `units` floats.

    Example:

    >>> [round(b, 4) for b in prior_bias(0.02, 1)]
    [-3.8918]
    >>> [round(b, 4) for b in prior_bias(0.5, 2)]
    [0.0, 0.0]
    """
    logit = math.log(prior) - math.log1p(-prior)
    return [logit] if units == 1 else [0.0, logit]


def _stacking_error(found: _graph.Classifier, input_shape: tuple) -> BinaryShapeError:
    top = " (its include_top=True ImageNet classifier)" if found.k == 1000 else ""
    layer, where = found.layer, found.where
    through = f", through {', '.join(repr(n) for n in found.path)}" if found.path else ""
    if found.constructor or found.application is not None:
        rebuild = found.rebuild()
    else:
        rebuild = (
            "rebuild the backbone without its softmax classifier (include_top=False in keras.applications)"
        )
    return BinaryShapeError(
        "KB110",
        f"the head's input comes from layer {layer.name!r}{where}, a softmax over "
        f"{found.k} classes{top}{through}: a binary head on class probabilities trains without an "
        "error but learns from the wrong features.",
        received=(
            f"input shape {_fmt(input_shape)} from {type(layer).__name__} {layer.name!r}{where}, "
            f"softmax over K={found.k}"
        ),
        expected="the backbone's features, e.g. shape (None, 7, 7, 1280) or (None, 1280)",
        fix=(
            f"{rebuild}; outputs = keras_binary.BinaryHead()(backbone(inputs)). To use class "
            "probabilities as features on purpose: BinaryHead(allow_classifier_input=True)"
        ),
    )


def _logit_stacking_error(found: _graph.Classifier, input_shape: tuple) -> BinaryShapeError:
    layer, where = found.layer, found.where
    return BinaryShapeError(
        "KB115",
        f"the head's input comes from layer {layer.name!r}{where}, the {found.k} class logits of a "
        "classifier top (include_top=True with classifier_activation=None, or a keras-hub classifier): a "
        "binary head on class scores trains without an error but learns from the wrong features.",
        received=f"input shape {_fmt(input_shape)} from Dense {layer.name!r}{where}, linear over K={found.k}",
        expected="the backbone's features, e.g. shape (None, 7, 7, 1280) or (None, 1280)",
        fix=(
            f"{found.rebuild()}; outputs = keras_binary.BinaryHead()(backbone(inputs)). To use class "
            "scores as features on purpose: BinaryHead(allow_classifier_input=True)"
        ),
    )


@keras.saving.register_keras_serializable(package="keras_binary")
class BinaryHead(keras.layers.Layer):
    """A binary output for any backbone: pooling, an optional MLP, 1 or 2 units.

    The head pools every spatial or time axis of its input (`"avg"`, `"max"`
    or `"avgmax"`, both concatenated), then, for each layer of `hidden_units`
    and for the output: optional batch normalization, dropout, and a `Dense`
    layer. The output layer, `output_dense`, computes logits in float32 even
    under a mixed-precision policy, and the activation (a sigmoid for one unit,
    a softmax for two, or none for logits) is applied in float32.

    Mistakes are refused while the model is built, with coded errors: a head
    on a K-way softmax (`KB110`, a backbone with `include_top=True`), an input
    of rank < 2 (`KB111`), an unknown or empty feature axis (`KB112`), an empty
    pooled axis (`KB113`), a mask it cannot apply (`KB114`), `units=1` with a
    softmax (`KB302`), `units=2` with a sigmoid (`KB303`), other `units`
    (`KB304`), `pooling=None` on a rank > 2 input or an unknown pooling
    (`KB305`), and invalid arguments (`KB306` to `KB311`).

    Args:
        units: 1 (one sigmoid unit or logit) or 2 (a softmax pair).
        activation: `"auto"` (`"sigmoid"` for 1 unit, `"softmax"` for 2),
            `"sigmoid"`, `"softmax"`, or `None` for logits (then use a loss
            with `from_logits=True`).
        pooling: `"avg"`, `"max"`, `"avgmax"` (average and max pooled
            features concatenated), or `None` for inputs that are already
            `(N, F)`. `(N, F)` inputs are never pooled.
        hidden_units: sizes of optional hidden `Dense` layers, e.g. `(256,)`.
        hidden_activation: the activation of the hidden layers.
        dropout: the dropout rate applied before every `Dense` layer of the
            head (to the pooled features, and after each hidden layer).
        batch_norm: whether to put a `BatchNormalization` before every
            `Dense` layer of the head (before the dropout).
        kernel_initializer: initializer of every `Dense` kernel.
        bias_initializer: initializer of every `Dense` bias.
        kernel_regularizer: regularizer of every `Dense` kernel.
        bias_regularizer: regularizer of every `Dense` bias.
        bias_init_prior: the expected positive rate, e.g. `0.02`: the output
            bias is set to `log(p / (1 - p))` (for 2 units, `[0, log(p / (1 -
            p))]`), so that a zero input predicts `p`. The usual remedy for very
            imbalanced data; `None` keeps `bias_initializer`.
        data_format: `"channels_last"` (features on the last axis) or
            `"channels_first"` (features on axis 1); defaults to
            `keras.config.image_data_format()`.
        allow_classifier_input: accept an input that comes from a softmax over
            K > 2 classes (class probabilities used as features on purpose).
        threshold: the decision threshold (a probability) chosen for this
            model, e.g. by `keras_binary.select_threshold`; kept in the
            config and the `.keras` file and used by
            `keras_binary.predict_classes` and `keras_binary.report`.
            `None`: no operating point chosen, `0.5` is used.
        name: the layer's name.
        dtype: the layer's dtype or dtype policy.
        **kwargs: other `keras.layers.Layer` arguments, e.g. `trainable`.

    Input shape:
        `(N, F)` features, `(N, T, F)` sequences, `(N, H, W, F)` feature maps,
        `(N, D, H, W, F)` volumes (with `"channels_first"`, `F` comes right
        after `N`). A sequence mask `(N, T)` (e.g. from
        `Embedding(mask_zero=True)`) is honoured by the pooling.

    Output shape:
        `(N, units)`: probabilities, or logits with `activation=None`; float32
        under a mixed-precision policy.

    Example:

    >>> import numpy as np
    >>> features = np.random.rand(4, 7, 7, 32).astype("float32")
    >>> tuple(BinaryHead()(features).shape)
    (4, 1)
    >>> tuple(BinaryHead(units=2, pooling="avgmax", hidden_units=(16,))(features).shape)
    (4, 2)
    """

    def __init__(
        self,
        units: int = 1,
        activation: Any = "auto",
        pooling: str | None = "avg",
        hidden_units: Sequence[int] | int = (),
        dropout: float = 0.0,
        batch_norm: bool = False,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_init_prior: float | None = None,
        data_format: str | None = None,
        allow_classifier_input: bool = False,
        name: str | None = None,
        dtype: Any = None,
        hidden_activation: Any = "relu",
        bias_regularizer: Any = None,
        threshold: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.threshold = _check_threshold(threshold)
        self.units = _check_units(units)
        self.activation = _resolve_output_activation(self.units, activation)
        self.pooling = _check_pooling(pooling)
        self.hidden_units = _check_hidden_units(hidden_units)
        self.hidden_activation = _check_hidden_activation(hidden_activation)
        self.dropout = _check_dropout(dropout)
        self.batch_norm = bool(batch_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_init_prior = _check_prior(bias_init_prior)
        self.data_format = _check_data_format(data_format)
        self.allow_classifier_input = bool(allow_classifier_input)

        policy = self.dtype_policy
        mixed = policy.compute_dtype in _MIXED_COMPUTE_DTYPES
        self.hidden_layers = [
            keras.layers.Dense(
                size,
                activation=self.hidden_activation,
                dtype=policy,
                name=f"hidden_dense_{i}",
                **self._dense_args(),
            )
            for i, size in enumerate(self.hidden_units)
        ]
        self.norm_layers = (
            [
                keras.layers.BatchNormalization(dtype=policy, name=f"batch_norm_{i}")
                for i in range(len(self.hidden_units) + 1)
            ]
            if self.batch_norm
            else []
        )
        self.dropout_layer = (
            keras.layers.Dropout(self.dropout, dtype=policy, name="dropout") if self.dropout else None
        )
        # Logits in float32 under mixed precision, as Keras recommends for the last layer.
        self.output_dense = keras.layers.Dense(
            self.units,
            activation=None,
            dtype="float32" if mixed else policy,
            name="output_dense",
            **self._dense_args(),
        )
        self.supports_masking = True

    @property
    def threshold(self) -> float | None:
        """The stored decision threshold (a probability), or `None`; validated when set."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self._threshold = _check_threshold(value)

    def _dense_args(self) -> dict:
        # Fresh initializer and regularizer objects for every Dense layer.
        def fresh(module, obj):
            return None if obj is None else module.deserialize(module.serialize(obj))

        return {
            "kernel_initializer": fresh(keras.initializers, self.kernel_initializer),
            "bias_initializer": fresh(keras.initializers, self.bias_initializer),
            "kernel_regularizer": fresh(keras.regularizers, self.kernel_regularizer),
            "bias_regularizer": fresh(keras.regularizers, self.bias_regularizer),
        }

    # Shapes ---------------------------------------------------------------

    def _feature_axis(self, rank: int) -> int:
        return 1 if self.data_format == "channels_first" and rank > 2 else rank - 1

    def _pooled_axes(self, rank: int) -> tuple[int, ...]:
        if rank <= 2:
            return ()
        return tuple(range(2, rank)) if self.data_format == "channels_first" else tuple(range(1, rank - 1))

    def _pooled_features(self, input_shape: Sequence) -> int:
        """Checks a static input shape; returns the number of pooled features."""
        shape = tuple(input_shape)
        rank = len(shape)
        if rank < 2:
            raise BinaryShapeError(
                "KB111",
                f"the head's input has rank {rank}; a binary head needs a batch of feature vectors or maps.",
                received=f"input shape {_fmt(shape)}",
                expected="(N, F), (N, T, F), (N, H, W, F) or (N, D, H, W, F)",
                fix="give each example a feature axis, e.g. x = keras.ops.expand_dims(x, -1)",
            )
        features = shape[self._feature_axis(rank)]
        if not features:
            side = "first" if self.data_format == "channels_first" else "last"
            raise BinaryShapeError(
                "KB112",
                f"the feature axis (axis {self._feature_axis(rank)}, data_format="
                f"{self.data_format!r}) has {'an unknown' if features is None else 'zero'} size, "
                "so the output layer cannot be built.",
                received=f"input shape {_fmt(shape)}",
                expected=f"a known, non-zero number of features on the {side} axis",
                fix=(
                    "set the number of channels in keras.Input, e.g. keras.Input((None, None, 3)), "
                    "or pass data_format='channels_first' if the features are on axis 1"
                ),
            )
        axes = self._pooled_axes(rank)
        if axes and self.pooling is None:
            raise BinaryConfigError(
                "KB305",
                f"pooling=None, but the input has {len(axes)} spatial or time axes to pool.",
                received=f"pooling=None, input shape {_fmt(shape)}",
                expected="pooling='avg', 'max' or 'avgmax' for a rank > 2 input; None only for (N, F)",
                fix="BinaryHead(pooling='avg')",
            )
        empty = [a for a in axes if shape[a] == 0]
        if empty:
            raise BinaryShapeError(
                "KB113",
                f"pooled axis {empty[0]} of the input is empty, so there is nothing to pool.",
                received=f"input shape {_fmt(shape)}",
                expected="spatial or time axes of size >= 1",
                fix="use a larger input (keras.Input((224, 224, 3))) or fewer downsampling layers",
            )
        return features * 2 if axes and self.pooling == "avgmax" else features

    def build(self, input_shape: Sequence) -> None:
        size = self._pooled_features(input_shape)
        for i, dense in enumerate([*self.hidden_layers, self.output_dense]):
            if self.norm_layers:
                self.norm_layers[i].build((None, size))
            dense.build((None, size))
            size = dense.units
        if self.bias_init_prior is not None:
            self.output_dense.bias.assign(prior_bias(self.bias_init_prior, self.units))

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        self._pooled_features(input_shape)
        return (tuple(input_shape)[0], self.units)

    def compute_output_spec(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=self.output_dense.compute_dtype
        )

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None  # the output has one score per example: nothing left to mask

    # Stacking check -------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Checked here, not in `call`: Keras re-raises errors from `call` as
        # RuntimeError, which would lose the coded error class.
        inputs = args[0] if args else kwargs.get("inputs")
        if not self.allow_classifier_input:
            found = _graph.find_classifier(inputs)
            if found is not None:
                raise _stacking_error(found, tuple(inputs.shape))
            logits = _graph.find_logit_classifier(inputs)
            if logits is not None and logits.certain:
                raise _logit_stacking_error(logits, tuple(inputs.shape))
        mask = kwargs.get("mask")
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)  # as keras.src.backend.get_keras_mask
        if mask is not None:
            self._check_mask(tuple(inputs.shape), tuple(mask.shape))
        return super().__call__(*args, **kwargs)

    def _check_mask(self, shape: tuple, mask_shape: tuple) -> None:
        axes = self._pooled_axes(len(shape))
        if not axes:
            return  # (N, F) inputs are not pooled; a mask has nothing to act on
        expected = (shape[0], shape[axes[0]])
        ok = len(mask_shape) == 2 and all(
            a is None or b is None or a == b for a, b in zip(mask_shape, expected, strict=True)
        )
        if not ok:
            raise BinaryShapeError(
                "KB114",
                "the input carries a mask the head cannot apply: only sequence masks "
                "(N, T) over the first pooled axis are supported.",
                received=f"input shape {_fmt(shape)}, mask shape {_fmt(mask_shape)}",
                expected=f"a mask of shape {_fmt(expected)}",
                fix="pool the masked axes yourself before the head, or drop the mask (mask_zero=False)",
            )

    # Computation ----------------------------------------------------------

    def _pool(self, x: Any, mask: Any) -> Any:
        rank = len(x.shape)
        axes = self._pooled_axes(rank)
        if not axes:
            return x
        if mask is not None:
            return self._masked_pool(x, mask, axes)
        if self.pooling == "avg":
            return ops.mean(x, axis=axes)
        if self.pooling == "max":
            return ops.max(x, axis=axes)
        return ops.concatenate([ops.mean(x, axis=axes), ops.max(x, axis=axes)], axis=-1)

    def _masked_pool(self, x: Any, mask: Any, axes: tuple[int, ...]) -> Any:
        # The mask (N, T) covers the first pooled axis (checked in `__call__`);
        # the other pooled axes are pooled first.
        rest = axes[1:]
        if self.pooling in ("avg", "avgmax"):
            mean_rest = ops.mean(x, axis=rest) if rest else x
        if self.pooling in ("max", "avgmax"):
            max_rest = ops.max(x, axis=rest) if rest else x
        # After pooling `rest`, the time axis is axis 1 (features at axis 1 or 2).
        channels_first = self.data_format == "channels_first"
        weights = ops.cast(mask, x.dtype)
        weights = ops.expand_dims(weights, 1 if channels_first else -1)
        t = 2 if channels_first else 1
        count = ops.sum(weights, axis=t)
        has_any = count > 0
        pooled = []
        if self.pooling in ("avg", "avgmax"):
            pooled.append(ops.sum(mean_rest * weights, axis=t) / ops.maximum(count, 1.0))
        if self.pooling in ("max", "avgmax"):
            lowest = ops.cast(float("-inf"), x.dtype)
            masked_max = ops.max(ops.where(weights > 0, max_rest, lowest), axis=t)
            pooled.append(ops.where(has_any, masked_max, ops.zeros_like(masked_max)))
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        x = self._pool(inputs, mask)
        for i, dense in enumerate([*self.hidden_layers, self.output_dense]):
            if self.norm_layers:
                x = self.norm_layers[i](x, training=training)
            if self.dropout_layer is not None:
                x = self.dropout_layer(x, training=training)
            x = dense(x)
        if self.activation == "sigmoid":
            return ops.sigmoid(x)
        if self.activation == "softmax":
            return ops.softmax(x, axis=-1)
        return x

    # Serialization --------------------------------------------------------

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": self.activation,
                "pooling": self.pooling,
                "hidden_units": list(self.hidden_units),
                "hidden_activation": keras.activations.serialize(self.hidden_activation),
                "dropout": self.dropout,
                "batch_norm": self.batch_norm,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "bias_init_prior": self.bias_init_prior,
                "data_format": self.data_format,
                "allow_classifier_input": self.allow_classifier_input,
                "threshold": self.threshold,
            }
        )
        return config
