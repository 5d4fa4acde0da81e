"""Tests of keras_binary.layers: BinaryHead.

Values are checked against a float64 NumPy reference of the head written here
(pooling by `np.moveaxis` + `mean`/`max`, then `x @ W + b`), independent of
the layer's implementation.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from helpers import config_round_trip, to_numpy
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary import BinaryConfigError, BinaryHead, BinaryShapeError

BN_EPSILON = 1e-3  # keras.layers.BatchNormalization's default


# ---------------------------------------------------------------------------
# A float64 NumPy reference of the head.


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference_pool(x, pooling, data_format, mask=None):
    """Global pooling of every axis between the batch and the features."""
    x = np.asarray(x, "float64")
    if x.ndim == 2:
        return x
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)  # (N, ..., F)
    if mask is not None:
        rest = tuple(range(2, x.ndim - 1))  # pool everything but time first
        mean_rest = x.mean(axis=rest) if rest else x
        max_rest = x.max(axis=rest) if rest else x
        m = np.asarray(mask, bool)
        avg, mx = [], []
        for i in range(len(x)):
            if m[i].any():
                avg.append(mean_rest[i][m[i]].mean(axis=0))
                mx.append(max_rest[i][m[i]].max(axis=0))
            else:
                avg.append(np.zeros(x.shape[-1]))
                mx.append(np.zeros(x.shape[-1]))
        avg, mx = np.stack(avg), np.stack(mx)
    else:
        axes = tuple(range(1, x.ndim - 1))
        avg, mx = x.mean(axis=axes), x.max(axis=axes)
    return {"avg": avg, "max": mx, "avgmax": np.concatenate([avg, mx], axis=-1)}[pooling]


def reference_head(head, x, mask=None):
    """The head's output in float64, from its weights (inference mode)."""
    h = reference_pool(x, head.pooling, head.data_format, mask)
    denses = [*head.hidden_layers, head.output_dense]
    for i, dense in enumerate(denses):
        if head.norm_layers:
            norm = head.norm_layers[i]
            gamma, beta, mean, var = (
                to_numpy(w) for w in (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance)
            )
            h = (h - mean) / np.sqrt(var + BN_EPSILON) * gamma + beta
        h = h @ to_numpy(dense.kernel) + to_numpy(dense.bias)
        if i < len(denses) - 1:
            h = np.maximum(h, 0.0)  # relu, the default hidden activation
    if head.activation == "sigmoid":
        return _sigmoid(h)
    if head.activation == "softmax":
        return _softmax(h)
    return h


def randomize(layer, rng, scale=0.5):
    """Gives every weight of `layer` random values (variances positive)."""
    for w in layer.weights:
        value = rng.normal(scale=scale, size=tuple(w.shape))
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value.astype(w.dtype))


def feature_shape(rank, features, data_format, size=3, batch=2):
    spatial = tuple(size - i % 2 for i in range(rank - 2))  # e.g. (3, 2, 3)
    if rank == 2:
        return (batch, features)
    if data_format == "channels_first":
        return (batch, features, *spatial)
    return (batch, *spatial, features)


# ---------------------------------------------------------------------------
# Shapes: every rank, data format, pooling and size.

RANKS = [2, 3, 4, 5]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", RANKS)
def test_output_shape_every_rank(rank, data_format):
    shape = feature_shape(rank, 5, data_format)
    x = np.random.default_rng(rank).normal(size=shape).astype("float32")
    for pooling in ("avg", "max", "avgmax"):
        for units in (1, 2):
            case = f"pooling={pooling}, units={units}"
            head = BinaryHead(units=units, pooling=pooling, data_format=data_format)
            symbolic = head(keras.Input(shape[1:]))
            assert tuple(symbolic.shape) == (None, units), case
            assert head.compute_output_shape((None, *shape[1:])) == (None, units), case
            assert head.compute_output_shape(shape) == (2, units), case
            out = to_numpy(head(x))
            assert out.shape == (2, units), case
            np.testing.assert_allclose(out, reference_head(head, x), rtol=1e-5, atol=1e-6, err_msg=case)
            # The kernel has one row per pooled feature.
            pooled = 5 * (2 if pooling == "avgmax" and rank > 2 else 1)
            assert tuple(head.output_dense.kernel.shape) == (pooled, units), case


def test_pooling_none_accepts_features_only():
    assert tuple(BinaryHead(pooling=None)(keras.Input((4,))).shape) == (None, 1)
    for rank in RANKS[1:]:
        shape = feature_shape(rank, 4, "channels_last")
        with pytest.raises(BinaryConfigError) as info:
            BinaryHead(pooling=None)(keras.Input(shape[1:]))
        assert info.value.code == "KB305"
        assert "BinaryHead(pooling='avg')" in str(info.value)
        assert f"{rank - 2} spatial or time axes" in info.value.summary  # names the axes left to pool


def test_unknown_spatial_and_batch_sizes_are_fine():
    head = BinaryHead(units=2, pooling="avgmax")
    out = head(keras.Input((None, None, 6)))
    assert tuple(out.shape) == (None, 2)
    assert tuple(head.output_dense.kernel.shape) == (12, 2)
    for size in (1, 4):
        assert to_numpy(head(np.ones((3, size, size + 1, 6), "float32"))).shape == (3, 2)


def test_default_data_format_follows_keras_config():
    previous = keras.config.image_data_format()
    try:
        keras.config.set_image_data_format("channels_first")
        head = BinaryHead()
        assert head.data_format == "channels_first"
        head(keras.Input((6, 3, 3)))
        assert tuple(head.output_dense.kernel.shape) == (6, 1)
    finally:
        keras.config.set_image_data_format(previous)
    assert BinaryHead().data_format == previous


@given(
    rank=st.sampled_from(RANKS),
    data_format=st.sampled_from(["channels_last", "channels_first"]),
    pooling=st.sampled_from(["avg", "max", "avgmax"]),
    units=st.sampled_from([1, 2]),
    activation=st.sampled_from(["auto", None]),
    hidden=st.sampled_from([(), (3,), (4, 2)]),
    batch_norm=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_values_match_numpy_reference(
    rank, data_format, pooling, units, activation, hidden, batch_norm, seed
):
    rng = np.random.default_rng(seed)
    shape = feature_shape(rank, 3, data_format)
    head = BinaryHead(
        units=units,
        activation=activation,
        pooling=pooling,
        hidden_units=hidden,
        batch_norm=batch_norm,
        dropout=0.5,
        data_format=data_format,
    )
    head.build(shape)
    randomize(head, rng)
    x = rng.normal(size=shape).astype("float32")
    expected = reference_head(head, x)
    np.testing.assert_allclose(to_numpy(head(x, training=False)), expected, rtol=2e-5, atol=2e-6)
    if activation is None:
        assert head.activation is None
    else:
        assert head.activation == ("sigmoid" if units == 1 else "softmax")


# ---------------------------------------------------------------------------
# Masks (sequences).


@pytest.mark.parametrize("rank", [3, 5])
def test_sequence_mask_is_honoured(rank):
    rng = np.random.default_rng(0)
    for data_format in ("channels_last", "channels_first"):
        shape = feature_shape(rank, 4, data_format, size=5, batch=3)
        time = shape[2] if data_format == "channels_first" else shape[1]
        x = rng.normal(size=shape).astype("float32")
        mask = np.ones((3, time), bool)
        mask[0, 2:] = False
        mask[2, :] = False  # a fully masked example: zeros, not NaN
        for pooling in ("avg", "max", "avgmax"):
            case = f"data_format={data_format}, pooling={pooling}"
            head = BinaryHead(units=2, pooling=pooling, data_format=data_format, activation=None)
            head.build(shape)
            randomize(head, rng)
            out = to_numpy(head(x, mask=mask))
            np.testing.assert_allclose(out, reference_head(head, x, mask), rtol=1e-5, atol=1e-6, err_msg=case)
            assert np.all(np.isfinite(out)), case
            # The mask matters: without it the first example differs.
            assert not np.allclose(out[0], to_numpy(head(x))[0]), case


def test_mask_from_masking_layer_reaches_the_head():
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    x[0, 3:] = 0.0  # padding, masked by Masking(0.0)
    inputs = keras.Input((5, 3))
    head = BinaryHead(activation=None)
    model = keras.Model(inputs, head(keras.layers.Masking(0.0)(inputs)))
    mask = np.any(x != 0.0, axis=-1)
    np.testing.assert_allclose(to_numpy(model(x)), reference_head(head, x, mask), rtol=1e-5, atol=1e-6)


def test_mask_that_does_not_fit_is_refused():
    for mask_shape in [(2, 3, 3), (2, 4), (2,)]:
        with pytest.raises(BinaryShapeError) as info:
            BinaryHead()(np.ones((2, 3, 3, 4), "float32"), mask=np.ones(mask_shape, bool))
        assert info.value.code == "KB114", mask_shape
        assert "mask_zero=False" in info.value.fix


# ---------------------------------------------------------------------------
# Configuration errors: code, and the fix in the message.

CONFIG_ERRORS = [
    ({"units": 1, "activation": "softmax"}, "KB302", "BinaryHead(units=1, activation='sigmoid')"),
    ({"units": 1, "activation": keras.activations.softmax}, "KB302", "activation='sigmoid'"),
    ({"units": 2, "activation": "sigmoid"}, "KB303", "BinaryHead(units=2, activation='softmax')"),
    ({"units": 3}, "KB304", "BinaryHead(units=1)"),
    ({"units": 0}, "KB304", "BinaryHead(units=1)"),
    ({"units": True}, "KB304", "BinaryHead(units=1)"),
    ({"units": 1.0}, "KB304", "BinaryHead(units=1)"),
    ({"pooling": "mean"}, "KB305", "BinaryHead(pooling='avg')"),
    ({"pooling": "flatten"}, "KB305", "BinaryHead(pooling='avg')"),
    ({"activation": "relu"}, "KB306", "BinaryHead(activation='auto')"),
    ({"activation": "tanh"}, "KB306", "from_logits=True"),
    ({"dropout": 1.0}, "KB307", "BinaryHead(dropout=0.2)"),
    ({"dropout": -0.1}, "KB307", "BinaryHead(dropout=0.2)"),
    ({"dropout": "0.2"}, "KB307", "BinaryHead(dropout=0.2)"),
    ({"hidden_units": (0,)}, "KB308", "BinaryHead(hidden_units=(256,))"),
    ({"hidden_units": "64"}, "KB308", "BinaryHead(hidden_units=(256,))"),
    ({"hidden_units": (64.0,)}, "KB308", "BinaryHead(hidden_units=(256,))"),
    ({"bias_init_prior": 0.0}, "KB309", "bias_init_prior=float(np.mean(y_train))"),
    ({"bias_init_prior": 1.0}, "KB309", "bias_init_prior=float(np.mean(y_train))"),
    ({"bias_init_prior": float("nan")}, "KB309", "bias_init_prior=float(np.mean(y_train))"),
    ({"data_format": "NHWC"}, "KB310", "BinaryHead(data_format='channels_last')"),
    ({"hidden_activation": "not_an_activation"}, "KB311", "hidden_activation='relu'"),
]


def test_config_errors():
    for kwargs, code, fix in CONFIG_ERRORS:
        with pytest.raises(BinaryConfigError) as info:
            BinaryHead(**kwargs)
        case = f"BinaryHead(**{kwargs})"
        assert isinstance(info.value, ValueError), case
        assert info.value.code == code, case
        assert str(info.value).startswith(code), case
        assert fix in info.value.fix, case
        assert "Received:" in str(info.value) and "Expected:" in str(info.value), case


VALID = [
    ({}, "sigmoid"),
    ({"units": 2}, "softmax"),
    ({"activation": "sigmoid"}, "sigmoid"),
    ({"units": 2, "activation": "softmax"}, "softmax"),
    ({"activation": None}, None),
    ({"units": 2, "activation": "linear"}, None),
    ({"activation": keras.activations.sigmoid}, "sigmoid"),
    ({"pooling": "AVG"}, "sigmoid"),
    ({"hidden_units": 8}, "sigmoid"),
]


def test_valid_configurations():
    for kwargs, activation in VALID:
        head = BinaryHead(**kwargs)
        assert head.activation == activation, kwargs
        assert head.units == kwargs.get("units", 1)
        assert head.pooling == "avg"
        assert head.hidden_units == ((8,) if "hidden_units" in kwargs else ())
        assert head.output_dense.units == head.units
        assert head.output_dense.get_config()["activation"] == "linear"


SHAPE_ERRORS = [
    ((), {}, "KB111", "expand_dims"),
    ((None, None, None), {}, "KB112", "keras.Input((None, None, 3))"),
    ((None, 8, 8), {"data_format": "channels_first"}, "KB112", "keras.Input"),
    ((8, 8, 0), {}, "KB112", "keras.Input"),
    ((0, 4, 8), {}, "KB113", "larger input"),
    ((4, 0, 4, 8), {"pooling": "max"}, "KB113", "larger input"),
]


def test_shape_errors_while_building():
    for shape, kwargs, code, fix in SHAPE_ERRORS:
        case = f"BinaryHead(**{kwargs}) on {shape}"
        with pytest.raises(BinaryShapeError) as info:
            BinaryHead(**kwargs)(keras.Input(shape))
        assert info.value.code == code, case
        assert fix in info.value.fix, case
        with pytest.raises(BinaryShapeError):
            BinaryHead(**kwargs).compute_output_shape((None, *shape))


# ---------------------------------------------------------------------------
# Stacking on a classifier (KB110).


def _stacking_error(build):
    inputs = keras.Input((6,))
    with pytest.raises(BinaryShapeError) as info:
        BinaryHead()(build(inputs))
    assert info.value.code == "KB110"
    assert "include_top=False" in info.value.fix
    assert "allow_classifier_input=True" in info.value.fix
    return str(info.value)


def test_stacking_on_dense_softmax():
    message = _stacking_error(lambda x: keras.layers.Dense(10, activation="softmax", name="predictions")(x))
    assert "'predictions'" in message and "K=10" in message and "10 classes" in message


SOFTMAX_FORMS = {
    "activation-layer": lambda x: keras.layers.Activation("softmax", name="probs")(keras.layers.Dense(5)(x)),
    "softmax-layer": lambda x: keras.layers.Softmax(name="probs")(keras.layers.Dense(5)(x)),
    "through-dropout": lambda x: keras.layers.Dropout(0.5)(
        keras.layers.Dense(5, activation="softmax", name="probs")(x)
    ),
    "log-softmax": lambda x: keras.layers.Activation("linear")(
        keras.layers.Dense(5, activation="log_softmax", name="probs")(x)
    ),
    "ops-softmax": lambda x: keras.ops.softmax(keras.layers.Dense(5)(x)),
}


def test_stacking_on_other_softmax_forms():
    for form, top in SOFTMAX_FORMS.items():
        message = _stacking_error(top)
        assert "K=5" in message, form
        if form != "ops-softmax":
            assert "'probs'" in message, form


def test_stacking_through_nested_models():
    inner_inputs = keras.Input((6,))
    inner = keras.Model(
        inner_inputs,
        keras.layers.Dense(7, activation="softmax", name="predictions")(inner_inputs),
        name="resnet50v2",
    )
    outer_inputs = keras.Input((6,))
    outer = keras.Model(outer_inputs, inner(outer_inputs), name="wrapper")
    message = _stacking_error(lambda x: outer(x))
    assert "'predictions' of model 'resnet50v2'" in message
    assert "keras.applications.ResNet50V2(include_top=False" in message


def test_stacking_in_sequential():
    with pytest.raises(BinaryShapeError) as info:
        keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="softmax"), BinaryHead()])
    assert info.value.code == "KB110"
    # Without an Input, Sequential builds on first use: the error comes then.
    lazy = keras.Sequential([keras.layers.Dense(12, activation="softmax"), BinaryHead()])
    with pytest.raises(BinaryShapeError) as info:
        lazy(np.ones((2, 6), "float32"))
    assert info.value.code == "KB110" and "K=12" in info.value.received


def test_stacking_through_sequential_used_as_layer():
    classifier = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(12, activation="softmax", name="probs")], name="clf"
    )
    message = _stacking_error(lambda x: classifier(x))
    assert "'probs' of model 'clf'" in message and "K=12" in message


NOT_CLASSIFIERS = {
    "binary-softmax": lambda x: keras.layers.Dense(2, activation="softmax")(x),  # K = 2
    "sigmoid": lambda x: keras.layers.Dense(10, activation="sigmoid")(x),  # multi-label features
    "linear": lambda x: keras.layers.Dense(10)(x),
    "softmax-other-axis": lambda x: keras.layers.Softmax(axis=1)(keras.layers.Reshape((3, 2))(x)),
}


def test_not_a_classifier_is_accepted():
    for form, top in NOT_CLASSIFIERS.items():
        inputs = keras.Input((6,))
        assert tuple(BinaryHead()(top(inputs)).shape) == (None, 1), form


def test_allow_classifier_input():
    inputs = keras.Input((6,))
    probs = keras.layers.Dense(10, activation="softmax")(inputs)
    head = BinaryHead(allow_classifier_input=True)
    assert tuple(head(probs).shape) == (None, 1)
    assert config_round_trip(head).allow_classifier_input is True


# ---------------------------------------------------------------------------
# bias_init_prior.


@given(prior=st.floats(1e-4, 1 - 1e-4), units=st.sampled_from([1, 2]), seed=st.integers(0, 1000))
def test_bias_init_prior(prior, units, seed):
    logit = math.log(prior / (1.0 - prior))  # float64 reference
    head = BinaryHead(units=units, bias_init_prior=prior)
    head.build((None, 4, 4, 3))
    bias = to_numpy(head.output_dense.bias)
    expected = [logit] if units == 1 else [0.0, logit]
    np.testing.assert_allclose(bias, expected, rtol=1e-6, atol=1e-6)
    # A zero input predicts the prior exactly; so does any input with a zero kernel.
    head.output_dense.kernel.assign(np.zeros((3, units), "float32"))
    x = np.random.default_rng(seed).normal(size=(3, 4, 4, 3)).astype("float32")
    positive = to_numpy(head(x))[:, -1]
    np.testing.assert_allclose(positive, np.full(3, prior), rtol=1e-5)


def test_bias_init_prior_survives_serialization():
    head = BinaryHead(units=2, bias_init_prior=0.02)
    clone = config_round_trip(head)
    assert clone.bias_init_prior == 0.02
    clone.build((None, 5))
    np.testing.assert_allclose(to_numpy(clone.output_dense.bias), [0.0, math.log(0.02 / 0.98)], rtol=1e-6)


# ---------------------------------------------------------------------------
# Equivalence: a softmax pair and one sigmoid unit with w1 - w0, b1 - b0.


@given(
    rank=st.sampled_from(RANKS),
    pooling=st.sampled_from(["avg", "max", "avgmax"]),
    hidden=st.sampled_from([(), (3,)]),
    features=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_softmax_pair_equals_sigmoid_of_difference(rank, pooling, hidden, features, seed):
    rng = np.random.default_rng(seed)
    shape = feature_shape(rank, features, "channels_last", batch=4)
    pair = BinaryHead(units=2, pooling=pooling, hidden_units=hidden)
    single = BinaryHead(units=1, pooling=pooling, hidden_units=hidden)
    pair.build(shape)
    single.build(shape)
    randomize(pair, rng, scale=1.0)
    for source, target in zip(pair.hidden_layers, single.hidden_layers, strict=True):
        target.set_weights(source.get_weights())
    w, b = (to_numpy(v) for v in (pair.output_dense.kernel, pair.output_dense.bias))
    single.output_dense.kernel.assign((w[:, 1:] - w[:, :1]).astype("float32"))
    single.output_dense.bias.assign((b[1:] - b[:1]).astype("float32"))

    x = rng.normal(size=shape).astype("float32")
    p_pair = to_numpy(pair(x))[:, 1]
    p_single = to_numpy(single(x))[:, 0]
    reference = reference_head(pair, x)[:, 1]
    np.testing.assert_allclose(p_pair, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p_single, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p_single, p_pair, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Training behaviour.


def test_dropout_and_batch_norm_follow_training_flag():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, size=(64, 8)).astype("float32")
    head = BinaryHead(hidden_units=(16,), dropout=0.5, batch_norm=True, activation=None)
    head.build(x.shape)
    inference = to_numpy(head(x, training=False))
    np.testing.assert_allclose(inference, reference_head(head, x), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(inference, to_numpy(head(x, training=False)))
    assert not np.allclose(to_numpy(head(x, training=True)), inference, atol=1e-3)


def test_softmax_head_trains_with_sparse_labels_and_safe_bce():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4, 4, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int64")  # (N,) integer labels
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, BinaryHead(units=2)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=keras_binary.SafeBCE())
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.6 * history[0]
    probs = to_numpy(model.predict(x, verbose=0))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean((probs[:, 1] > 0.5) == y) > 0.9


def test_regularizers_add_losses():
    head = BinaryHead(hidden_units=(4,), kernel_regularizer="l2", bias_regularizer=keras.regularizers.L1(0.5))
    head.build((None, 3))
    for dense in head.hidden_layers + [head.output_dense]:
        dense.bias.assign(np.ones(tuple(dense.bias.shape), "float32"))
    head(np.ones((2, 3), "float32"))
    kernels = sum(0.01 * np.sum(to_numpy(d.kernel) ** 2) for d in head.hidden_layers + [head.output_dense])
    biases = 0.5 * (4 + 1)
    np.testing.assert_allclose(sum(float(to_numpy(v)) for v in head.losses), kernels + biases, rtol=1e-5)


# ---------------------------------------------------------------------------
# Mixed precision.


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.utils.set_random_seed(0)
    compute = "float16" if policy == "mixed_float16" else "bfloat16"
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(policy)
        inputs = keras.Input((4, 4, 3))
        features = keras.layers.Conv2D(8, 3, padding="same")(inputs)
        head = BinaryHead(units=2, hidden_units=(8,), batch_norm=True, dropout=0.1, pooling="avgmax")
        outputs = head(features)
        model = keras.Model(inputs, outputs)
        assert outputs.dtype == "float32"
        assert head.compute_dtype == compute and head.variable_dtype == "float32"
        assert head.hidden_layers[0].compute_dtype == compute
        assert head.norm_layers[0].compute_dtype == compute
        assert head.output_dense.compute_dtype == "float32"
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras_binary.SafeBCE())
        rng = np.random.default_rng(0)
        x = rng.normal(size=(32, 4, 4, 3)).astype("float32")
        y = rng.integers(0, 2, size=32)
        losses = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
        assert np.all(np.isfinite(losses))
        probs = model.predict(x, verbose=0)
        assert probs.dtype == np.float32
        assert np.all(np.isfinite(probs))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
        assert all(np.all(np.isfinite(to_numpy(w))) for w in model.weights)
    finally:
        keras.config.set_dtype_policy(previous)


def test_explicit_mixed_dtype_without_global_policy():
    head = BinaryHead(hidden_units=(4,), dtype="mixed_float16")
    out = head(np.ones((2, 3, 3, 5), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert head.hidden_layers[0].compute_dtype == "float16"
    assert config_round_trip(head).output_dense.compute_dtype == "float32"


# ---------------------------------------------------------------------------
# Serialization, compute_output_shape and summary.


def _full_head():
    return BinaryHead(
        units=2,
        pooling="avgmax",
        hidden_units=(6, 4),
        hidden_activation="gelu",
        dropout=0.25,
        batch_norm=True,
        kernel_initializer=keras.initializers.HeNormal(seed=3),
        bias_initializer="ones",
        kernel_regularizer=keras.regularizers.L2(1e-3),
        bias_regularizer="l1",
        bias_init_prior=0.1,
        data_format="channels_first",
        allow_classifier_input=True,
        name="my_head",
    )


def test_config_round_trip():
    head = _full_head()
    clone = config_round_trip(head)
    assert type(clone) is BinaryHead
    assert clone.get_config() == head.get_config()
    assert BinaryHead.from_config(head.get_config()).get_config() == head.get_config()
    config = head.get_config()
    assert config["hidden_units"] == [6, 4] and config["activation"] == "softmax"
    assert keras.saving.get_registered_name(BinaryHead) == "keras_binary>BinaryHead"


_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_binary  # registers the package's classes: no custom_objects

    path, data = sys.argv[1], np.load(sys.argv[2])
    model = keras.saving.load_model(path)
    head = model.get_layer("my_head")
    before = [w.copy() for w in model.get_weights()]
    iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    predictions = model.predict(data["x"], verbose=0)
    history = model.fit(data["x"], data["y"], epochs=1, batch_size=8, verbose=0).history["loss"]
    changed = any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    print(json.dumps({
        "max_diff": float(np.max(np.abs(predictions - data["expected"]))),
        "loss_class": type(model.loss).__name__,
        "head_class": type(head).__name__,
        "iterations": iterations,
        "loss": history[0],
        "changed": changed,
    }))
    """
)


def test_keras_file_round_trip_in_fresh_process(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3, 4, 4)).astype("float32")  # channels_first
    y = rng.integers(0, 2, size=16)
    inputs = keras.Input((3, 4, 4))
    model = keras.Model(inputs, _full_head()(inputs))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras_binary.SafeBCE(label_smoothing=0.1))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.savez(tmp_path / "data.npz", x=x, y=y, expected=expected)
    script = tmp_path / "load.py"
    script.write_text(_FRESH_PROCESS)
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(script), path, str(tmp_path / "data.npz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["head_class"] == "BinaryHead"
    assert report["loss_class"] == "SafeBCE"
    assert report["max_diff"] <= 1e-6
    assert report["iterations"] == 2  # the optimizer state came back too
    assert np.isfinite(report["loss"]) and report["changed"]


def test_summary_shows_head_and_exact_params():
    inputs = keras.Input((5, 5, 8))
    head = BinaryHead(units=2, pooling="avgmax", hidden_units=(4,), batch_norm=True, name="head")
    model = keras.Model(inputs, head(inputs))
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)
    row = next(line for line in text.splitlines() if "head (BinaryHead)" in line)
    # avgmax: 16 pooled features; BN (4 per feature, 2 of them trainable) before each Dense.
    params = (4 * 16) + (16 * 4 + 4) + (4 * 4) + (4 * 2 + 2)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells == ["head (BinaryHead)", "(None, 2)", str(params)]
    assert f"Total params: {params} " in text
    assert f"Non-trainable params: {2 * 16 + 2 * 4} " in text  # the BN moving statistics
    assert model.count_params() == params
