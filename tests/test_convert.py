"""keras_binary.convert: score conversions and convert_head.

Score conversions are checked against float64 NumPy references; convert_head
against the original model's positive-class probability, over random weights
and inputs (Hypothesis), and for every error it refuses with.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
from helpers import saved_model_round_trip, to_numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_binary
from keras_binary import convert
from keras_binary.errors import BinaryConfigError, BinaryLabelError, BinaryShapeError
from keras_binary.testing import assert_same_binary_predictions


@pytest.fixture(autouse=True)
def _clear_keras_session():
    # Overrides conftest's fixture: its gc.collect() costs 0.6-0.9 s per test with TensorFlow loaded.
    yield
    keras.backend.clear_session(free_memory=False)


# XLA on CPU flushes subnormal floats to zero: "exact" means for normal floats.
FLOATS = st.floats(-30.0, 30.0, width=32, allow_subnormal=False)
PROBS = st.floats(0.0, 1.0, width=32, allow_subnormal=False)


def sigmoid64(z):
    z = np.asarray(z, "float64")
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def logit64(p):
    p = np.asarray(p, "float64")
    return np.log(p) - np.log1p(-p)


def weights_of(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights]


# ---------------------------------------------------------------------------
# Score conversions.


# Fixed shapes in property tests: JAX compiles each op once per shape.
@given(hnp.arrays("float32", (8, 1), elements=st.floats(-1e4, 1e4, width=32, allow_subnormal=False)))
def test_logit_to_probability_matches_float64(z):
    p = to_numpy(convert.logit_to_probability(z))
    np.testing.assert_allclose(p, sigmoid64(z), rtol=1e-6, atol=1e-7)


@given(hnp.arrays("float32", (8, 1), elements=PROBS))
def test_probability_to_logit_matches_float64_with_clipping(p):
    eps = keras.config.epsilon()
    z = to_numpy(convert.probability_to_logit(p))
    clipped = np.clip(p, np.float32(eps), np.float32(1 - eps)).astype("float64")
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, logit64(clipped), rtol=1e-5, atol=1e-5)


def test_probability_to_logit_is_finite_at_0_and_1_and_infinite_without_epsilon():
    p = np.array([[0.0], [1.0]], "float32")
    z = to_numpy(convert.probability_to_logit(p))
    np.testing.assert_allclose(
        z.ravel(), logit64(np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7))).ravel(), rtol=1e-5
    )
    z0 = to_numpy(convert.probability_to_logit(p, epsilon=0))
    assert z0.ravel().tolist() == [-np.inf, np.inf]


def test_probability_to_logit_refuses_logits_with_kb205():
    with pytest.raises(BinaryLabelError) as info:
        convert.probability_to_logit(np.array([[0.2], [3.0]]))
    assert info.value.code == "KB205"
    assert "logit_to_probability" in str(info.value)
    z = to_numpy(
        convert.probability_to_logit(np.array([[3.0]], "float32"), validate=False)
    )  # clipped, as documented
    np.testing.assert_allclose(z, logit64(np.float32(1 - 1e-7)), rtol=1e-5)


def test_nan_passes_through_the_conversions():
    z = to_numpy(convert.probability_to_logit(np.array([[np.nan], [0.5]])))
    assert np.isnan(z[0, 0]) and z[1, 0] == 0.0
    assert np.isnan(to_numpy(convert.logit_to_probability(np.array([np.nan])))[0])


@pytest.mark.parametrize("epsilon", [-0.1, 0.5, float("nan"), "small", True])
def test_probability_to_logit_refuses_a_bad_epsilon(epsilon):
    with pytest.raises(BinaryConfigError) as info:
        convert.probability_to_logit(np.array([[0.5]]), epsilon=epsilon)
    assert info.value.code == "KB301"
    assert "epsilon=1e-7" in str(info.value)


@given(hnp.arrays("float32", (4, 3, 2), elements=FLOATS))
def test_logit_pair_to_logit_is_the_difference(pair):
    z = to_numpy(convert.logit_pair_to_logit(pair))
    assert z.shape == pair.shape[:-1] + (1,)
    np.testing.assert_allclose(z[..., 0], pair[..., 1].astype("float64") - pair[..., 0], rtol=1e-6, atol=1e-6)
    # The identity it rests on: softmax([z0, z1])[1] == sigmoid(z1 - z0).
    softmax = to_numpy(keras.ops.softmax(pair, axis=-1))[..., 1]
    np.testing.assert_allclose(softmax, sigmoid64(pair[..., 1].astype("float64") - pair[..., 0]), atol=1e-6)


@given(hnp.arrays("float32", (6, 1), elements=PROBS))
def test_probability_pair_round_trip_is_exact(p):
    pair = to_numpy(convert.probability_to_probability_pair(p))
    assert pair.shape == (len(p), 2)
    np.testing.assert_array_equal(pair[:, 1:], p)
    np.testing.assert_allclose(pair.sum(axis=-1), 1.0, atol=1e-7)
    np.testing.assert_array_equal(to_numpy(convert.probability_pair_to_probability(pair)), p)


@given(hnp.arrays("float32", (6,), elements=FLOATS))
def test_logit_pair_round_trip_is_exact_for_rank_1(z):
    pair = to_numpy(convert.logit_to_logit_pair(z))
    assert pair.shape == (len(z), 2)
    np.testing.assert_array_equal(pair[:, 0], 0.0)
    np.testing.assert_array_equal(to_numpy(convert.logit_pair_to_logit(pair))[:, 0], z)


@pytest.mark.parametrize("shape", [(0, 1), (0,), (2, 3, 1)])
def test_pair_conversions_keep_leading_axes(shape):
    p = np.full(shape, 0.25, "float32")
    pair = to_numpy(convert.probability_to_probability_pair(p))
    expected = (shape[0], 2) if len(shape) == 1 else shape[:-1] + (2,)
    assert pair.shape == expected
    assert to_numpy(convert.probability_pair_to_probability(pair)).shape == expected[:-1] + (1,)
    assert to_numpy(convert.logit_to_logit_pair(p)).shape == expected


def test_probability_pair_that_does_not_sum_to_1_is_kb206():
    with pytest.raises(BinaryLabelError) as info:
        convert.probability_pair_to_probability(np.array([[0.9, 0.8], [0.5, 0.5]]))
    assert info.value.code == "KB206"
    assert "logit_pair_to_logit" in str(info.value)


@pytest.mark.parametrize(
    "function,shape",
    [
        (convert.logit_pair_to_logit, (4, 1)),
        (convert.logit_pair_to_logit, (4, 3)),
        (convert.probability_pair_to_probability, (4,)),
        (convert.logit_to_logit_pair, (4, 2)),
        (convert.probability_to_probability_pair, (2, 3, 2)),
        (convert.probability_to_probability_pair, ()),
    ],
)
def test_wrong_class_axis_is_kb130(function, shape):
    with pytest.raises(BinaryShapeError) as info:
        function(np.full(shape, 0.5, "float32"))
    assert info.value.code == "KB130"
    assert "Fix: " in str(info.value)


def test_conversions_trace_inside_a_model():
    """The conversions are plain keras.ops: they work in a compiled predict."""
    inputs = keras.Input((2,))
    z = convert.logit_pair_to_logit(inputs)
    p = convert.logit_to_probability(z)
    model = keras.Model(
        inputs, [z, convert.probability_to_logit(p), convert.probability_to_probability_pair(p)]
    )
    pair = np.array([[0.0, 1.5], [2.0, -1.0]], "float32")
    z_out, z_back, pairs = model.predict(pair, verbose=0)
    np.testing.assert_allclose(z_out[:, 0], [1.5, -3.0], rtol=1e-6)
    np.testing.assert_allclose(z_back[:, 0], [1.5, -3.0], rtol=1e-5)
    np.testing.assert_allclose(pairs[:, 1], sigmoid64([1.5, -3.0]), rtol=1e-6)


# ---------------------------------------------------------------------------
# convert_head: models.


def _sequential(units, activation):
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="tanh", name="hidden"),
            keras.layers.Dense(units, activation=activation, name="out"),
        ],
        name="seq",
    )


def _functional_activation_layer(units, activation):
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    z = keras.layers.Dense(units, name="out")(h)
    layer = (
        keras.layers.Softmax(name="act")
        if activation == "softmax_layer"
        else keras.layers.Activation(activation, name="act")
    )
    return keras.Model(inputs, layer(z), name="fun")


def _functional_binary_head(units, activation):
    inputs = keras.Input((3, 3, 2))
    features = keras.layers.Conv2D(3, 2, name="conv")(inputs)
    outputs = keras_binary.BinaryHead(units, activation, hidden_units=(4,), batch_norm=True, name="head")(
        features
    )
    return keras.Model(inputs, outputs, name="bh")


def _nested_backbone(units, activation):
    backbone = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu")], name="backbone"
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(units, activation=activation, name="out")(backbone(inputs))
    return keras.Model(inputs, outputs, name="nested")


# (builder, units, activation): every kind of final layer convert_head rewrites.
MODELS = {
    "seq_softmax": (_sequential, 2, "softmax"),
    "seq_sigmoid": (_sequential, 1, "sigmoid"),
    "seq_logit": (_sequential, 1, None),
    "seq_logit_pair": (_sequential, 2, None),
    "fun_softmax_layer": (_functional_activation_layer, 2, "softmax_layer"),
    "fun_activation_sigmoid": (_functional_activation_layer, 1, "sigmoid"),
    "binary_head_softmax": (_functional_binary_head, 2, "softmax"),
    "binary_head_sigmoid": (_functional_binary_head, 1, "sigmoid"),
    "binary_head_logits": (_functional_binary_head, 1, None),
    "nested_softmax": (_nested_backbone, 2, "softmax"),
}
TARGETS = ["sigmoid", "logits", "softmax"]


@functools.cache
def _model(name):
    builder, units, activation = MODELS[name]
    model = builder(units, activation)
    rng = np.random.default_rng(len(name))
    model.set_weights(
        [
            rng.uniform(0.1 if "moving_variance" in v.path else -1, 1, size=v.shape).astype(v.dtype)
            for v in model.weights
        ]
    )
    return model


def _inputs(model, n, rng):
    return rng.uniform(-2, 2, size=(n,) + tuple(model.input_shape[1:])).astype("float32")


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_convert_head_preserves_predictions_and_leaves_the_model_untouched(name, to):
    model = _model(name)
    before = weights_of(model)
    config = model.get_config()
    converted = keras_binary.convert_head(model, to=to)

    assert converted is not model
    assert type(converted) is type(model)
    assert converted.output_shape == (None, 2 if to == "softmax" else 1)
    x = _inputs(model, 6, np.random.default_rng(0))
    assert_same_binary_predictions(model, converted, x, atol=1e-6)
    assert_same_binary_predictions(converted, model, x, from_logits_a=to == "logits", atol=1e-6)
    # The input model is untouched, and shares no weights with the new one.
    assert model.get_config() == config
    for old, new in zip(before, weights_of(model), strict=True):
        np.testing.assert_array_equal(old, new)
    for variable in converted.weights:
        variable.assign(np.zeros(variable.shape, variable.dtype))
    for old, new in zip(before, weights_of(model), strict=True):
        np.testing.assert_array_equal(old, new)


def _final_dense(model):
    last = model.layers[-1]
    if isinstance(last, keras_binary.BinaryHead):
        return last.output_dense
    return last if isinstance(last, keras.layers.Dense) else model.layers[-2]


@pytest.mark.parametrize("name", ["seq_softmax", "binary_head_softmax", "fun_softmax_layer"])
def test_two_units_become_w1_minus_w0_and_back_zero_w(name):
    model = _model(name)
    dense = _final_dense(model)
    w, b = (np.asarray(keras.ops.convert_to_numpy(v), "float64") for v in (dense.kernel, dense.bias))

    small = keras_binary.convert_head(model, to="sigmoid")
    small_dense = _final_dense(small)
    np.testing.assert_allclose(to_numpy(small_dense.kernel), w[:, 1:] - w[:, :1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(to_numpy(small_dense.bias), b[1:] - b[:1], rtol=1e-6, atol=1e-7)
    assert small.layers[-1].name == model.layers[-1].name

    back = keras_binary.convert_head(small, to="softmax")
    back_dense = _final_dense(back)
    np.testing.assert_array_equal(to_numpy(back_dense.kernel)[:, 0], 0.0)
    np.testing.assert_array_equal(to_numpy(back_dense.kernel)[:, 1:], to_numpy(small_dense.kernel))
    np.testing.assert_array_equal(to_numpy(back_dense.bias), [0.0, to_numpy(small_dense.bias)[0]])


@pytest.mark.parametrize("name", ["seq_sigmoid", "binary_head_sigmoid", "fun_activation_sigmoid"])
def test_sigmoid_to_logits_and_back_keeps_the_weights_exactly(name):
    model = _model(name)
    logits = keras_binary.convert_head(model, to="logits")
    back = keras_binary.convert_head(logits, to="sigmoid")
    for old, new in zip(weights_of(model), weights_of(back), strict=True):
        np.testing.assert_array_equal(old, new)
    x = _inputs(model, 4, np.random.default_rng(1))
    np.testing.assert_allclose(to_numpy(keras.ops.sigmoid(logits(x))), to_numpy(model(x)), atol=1e-7)


@given(data=st.data())
def test_convert_head_property_over_random_weights_and_inputs(data):
    """Converted predictions equal the original positive-class probability within 1e-6."""
    name = data.draw(st.sampled_from(["seq_softmax", "seq_sigmoid", "seq_logit_pair", "binary_head_softmax"]))
    to = data.draw(st.sampled_from(TARGETS))
    model = _model(name)
    weights = [
        data.draw(hnp.arrays("float32", w.shape, elements=st.floats(-1, 1, width=32)))
        if "moving_variance" not in v.path
        else data.draw(hnp.arrays("float32", w.shape, elements=st.floats(0.125, 2, width=32)))
        for v, w in zip(model.weights, model.get_weights(), strict=True)
    ]
    model.set_weights(weights)
    shape = (4,) + tuple(model.input_shape[1:])  # one shape: no recompilation per example
    x = data.draw(hnp.arrays("float32", shape, elements=st.floats(-2, 2, width=32)))
    converted = keras_binary.convert_head(model, to=to)
    assert_same_binary_predictions(model, converted, x, atol=1e-6)


def test_bias_init_prior_does_not_survive_as_an_initializer():
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras_binary.BinaryHead(units=2, bias_init_prior=0.1, name="head")(inputs))
    converted = keras_binary.convert_head(model, to="sigmoid")
    assert converted.get_layer("head").bias_init_prior is None
    assert_same_binary_predictions(model, converted, np.ones((3, 5), "float32"))


def test_converted_model_saves_and_loads():
    converted = keras_binary.convert_head(_model("binary_head_softmax"), to="logits")
    loaded = saved_model_round_trip(converted)
    x = _inputs(converted, 3, np.random.default_rng(2))
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(converted(x)), rtol=1e-6, atol=1e-6)


def test_converted_model_is_not_compiled_with_the_old_loss():
    model = _sequential(2, "softmax")
    model.compile(loss="categorical_crossentropy")
    converted = keras_binary.convert_head(model, to="sigmoid")
    assert not converted.compiled


# ---------------------------------------------------------------------------
# convert_head: what it refuses.


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return self.dense(x)


def _two_outputs():
    inputs = keras.Input((3,))
    return keras.Model(
        inputs, [keras.layers.Dense(1, activation="sigmoid")(inputs), keras.layers.Dense(1)(inputs)]
    )


def _nan_weights():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].kernel.assign(np.full((3, 2), np.nan, "float32"))
    return model


def _subclassed():
    model = Subclassed()
    model(np.ones((1, 3), "float32"))
    return model


def _double(x):
    return 2 * x


def _seq(*layers):
    return keras.Sequential([keras.Input((3,)), *layers])


REFUSED = {
    "three_units": (lambda: _seq(keras.layers.Dense(3, activation="softmax")), "KB340", "BinaryHead"),
    "imagenet_top": (lambda: _seq(keras.layers.Dense(1000, activation="softmax")), "KB340", "BinaryHead"),
    "tanh": (lambda: _seq(keras.layers.Dense(1, activation="tanh")), "KB341", "activation='sigmoid'"),
    "custom_activation": (
        lambda: _seq(keras.layers.Dense(1, activation=_double)),
        "KB341",
        "activation=",
    ),
    "relu_layer": (
        lambda: _seq(keras.layers.Dense(1), keras.layers.Activation("relu")),
        "KB341",
        "activation=",
    ),
    "dropout_last": (lambda: _seq(keras.layers.Dense(1), keras.layers.Dropout(0.5)), "KB342", "BinaryHead"),
    "activation_after_sigmoid": (
        lambda: _seq(keras.layers.Dense(1, activation="sigmoid"), keras.layers.Activation("sigmoid")),
        "KB342",
        "BinaryHead",
    ),
    "two_outputs": (_two_outputs, "KB343", "model.outputs[0]"),
    "nan_weights": (_nan_weights, "KB344", "load_weights"),
    "subclassed": (_subclassed, "KB345", "keras.Model(inputs"),
    "unbuilt": (
        lambda: keras.Sequential([keras.layers.Dense(2, activation="softmax")]),
        "KB345",
        "keras.Input",
    ),
    "one_unit_softmax": (lambda: _seq(keras.layers.Dense(1, activation="softmax")), "KB302", "sigmoid"),
    "two_unit_sigmoid": (lambda: _seq(keras.layers.Dense(2, activation="sigmoid")), "KB303", "softmax"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_convert_head_refuses_with_a_coded_error(case):
    build, code, fix = REFUSED[case]
    model = build()
    with pytest.raises(BinaryConfigError) as info:
        keras_binary.convert_head(model, to="sigmoid")
    assert info.value.code == code
    assert fix in info.value.fix
    assert str(info.value).startswith(code)


@pytest.mark.parametrize("to", ["tanh", "probability", None])
def test_convert_head_refuses_an_unknown_target(to):
    with pytest.raises(BinaryConfigError) as info:
        keras_binary.convert_head(_model("seq_softmax"), to=to)
    assert info.value.code == "KB301"
    assert "to='sigmoid'" in info.value.fix


def test_convert_head_refuses_a_layer():
    with pytest.raises(BinaryConfigError) as info:
        keras_binary.convert_head(keras.layers.Dense(2), to="sigmoid")
    assert info.value.code == "KB301"


def test_infinite_bias_is_refused_too():
    model = _seq(keras.layers.Dense(1, activation="sigmoid"))
    model.layers[-1].bias.assign(np.array([np.inf], "float32"))
    with pytest.raises(BinaryConfigError) as info:
        keras_binary.convert_head(model, to="softmax")
    assert info.value.code == "KB344"
    assert "bias" in info.value.received
