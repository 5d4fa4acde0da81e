"""keras_binary.testing: the strategies draw what they promise, the assertions catch what they should."""

from __future__ import annotations

import sys

import keras
import numpy as np
import pytest
from helpers import bce_reference, to_numpy
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import keras_binary
from keras_binary import testing as kbt
from keras_binary.errors import BinaryConfigError, BinaryShapeError


@pytest.fixture(autouse=True)
def _clear_keras_session():
    # Overrides conftest's fixture: its gc.collect() costs 0.6-0.9 s per test with TensorFlow loaded.
    yield
    keras.backend.clear_session(free_memory=False)


# ---------------------------------------------------------------------------
# Strategies.

# `find` without shrinking: the first match is enough, and shrinking is slow.
FIRST = settings(phases=[Phase.generate], database=None, max_examples=2000)


# A few shapes only: JAX compiles each operation once per shape.
@given(kbt.binary_batches(leading_shape=st.sampled_from([(8,), (2, 3, 2)])))
def test_batch_canonical_form_is_the_contracts(batch):
    """The float64 canonical form a batch carries is what keras_binary.canonicalize computes."""
    labels, scores = keras_binary.canonicalize(batch.y_true, batch.y_pred, from_logits=batch.from_logits)
    np.testing.assert_array_equal(to_numpy(labels), batch.labels)
    np.testing.assert_allclose(to_numpy(scores), batch.scores, rtol=1e-6, atol=1e-6)
    assert batch.from_logits == batch.representation.startswith("logit")
    assert (
        batch.labels.shape
        == batch.scores.shape
        == (int(np.prod(batch.y_pred.shape[:-1] or batch.y_pred.shape)),)
    )


@pytest.mark.parametrize("encoding", kbt.LABEL_ENCODINGS)
def test_labels_have_the_encoding_they_name(encoding):
    @given(kbt.binary_labels(encoding=encoding, leading_shape=(6,), column=False))
    def check(y):
        assert y.shape == ((6, 2) if encoding == "onehot" else (6,))
        values = np.asarray(y, "float64")
        if encoding == "int":
            assert y.dtype.name in ("int32", "int64")
        elif encoding == "bool":
            assert y.dtype == bool
        else:
            assert y.dtype.name == "float32"
        if encoding == "soft":
            assert np.all((values >= 0) & (values <= 1))
        elif encoding == "onehot":
            np.testing.assert_array_equal(values.sum(axis=-1), 1.0)
            assert set(np.unique(values)) <= {0.0, 1.0}
        else:
            assert set(np.unique(values)) <= {0.0, 1.0}

    check()


@pytest.mark.parametrize("representation", kbt.REPRESENTATIONS)
def test_predictions_have_the_representation_they_name(representation):
    @given(
        kbt.binary_predictions(representation=representation, leading_shape=(5,), flat=False, max_logit=4.0)
    )
    def check(y_pred):
        values = np.asarray(y_pred, "float64")
        assert y_pred.dtype.name == "float32"
        assert y_pred.shape == ((5, 2) if representation.endswith("pair") else (5, 1))
        if representation == "probability":
            assert np.all((values > 0) & (values < 1))
        elif representation == "probability_pair":
            np.testing.assert_allclose(values.sum(axis=-1), 1.0, atol=1e-6)
        elif representation == "logit":
            assert np.all(np.abs(values) <= 4.0)
        else:
            assert np.all(np.abs(values[:, 1] - values[:, 0]) <= 8.0 + 1e-5)

    check()


def test_every_combination_can_be_drawn():
    seen = set()

    def all_seen(batch):
        seen.add((batch.encoding, batch.representation))
        return len(seen) == len(kbt.LABEL_ENCODINGS) * len(kbt.REPRESENTATIONS)

    find(kbt.binary_batches(), all_seen, settings=FIRST)
    assert (
        find(kbt.binary_labels(encoding="int"), lambda y: y.ndim == 2, settings=FIRST).shape[-1] == 1
    )  # (N, 1)
    assert (
        find(kbt.binary_predictions("probability"), lambda p: p.ndim == 1, settings=FIRST).ndim == 1
    )  # (N,)


def test_leading_shape_gives_per_pixel_batches():
    batch = find(
        kbt.binary_batches(encoding="onehot", representation="logit", leading_shape=(2, 3, 3)),
        lambda b: True,
        settings=FIRST,
    )
    assert batch.y_true.shape == (2, 3, 3, 2)
    assert batch.y_pred.shape == (2, 3, 3, 1)  # never (N, H, W): rank-1 scores are for rank-1 batches only
    assert batch.labels.shape == (18,)


def test_leading_shape_accepts_a_strategy():
    shapes = st.sampled_from([(4,), (2, 2)])
    y = find(
        kbt.binary_labels(encoding="bool", leading_shape=shapes, column=True),
        lambda y: y.ndim == 3,
        settings=FIRST,
    )
    assert y.shape == (2, 2, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: kbt.binary_labels(encoding="one-hot"),
        lambda: kbt.binary_predictions(representation="probabilities"),
        lambda: kbt.binary_batches(representation=[]),
    ],
)
def test_unknown_names_are_kb301(make):
    with pytest.raises(BinaryConfigError) as info:
        make()
    assert info.value.code == "KB301"
    assert "=" in info.value.fix


def test_strategies_without_hypothesis_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ImportError, match=r"keras-binary\[hypothesis\]"):
        kbt.binary_labels()


# ---------------------------------------------------------------------------
# assert_same_binary_predictions.


def _model(units=2, activation="softmax"):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


X = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")


def test_same_predictions_across_outputs_pass():
    model = _model()
    for to in ("sigmoid", "logits", "softmax"):
        kbt.assert_same_binary_predictions(model, keras_binary.convert_head(model, to=to), X)


def test_different_predictions_fail():
    model = _model()
    other = keras_binary.convert_head(model, to="sigmoid")
    other.layers[-1].bias.assign(other.layers[-1].bias + 0.01)
    with pytest.raises(AssertionError, match="positive-class probabilities differ"):
        kbt.assert_same_binary_predictions(model, other, X)


def test_from_logits_is_read_from_the_model_or_given():
    model = _model()
    logits = keras_binary.convert_head(model, to="logits")
    kbt.assert_same_binary_predictions(model, logits, X, from_logits_b=True)
    with pytest.raises(AssertionError):  # logits read as probabilities
        kbt.assert_same_binary_predictions(model, logits, X, from_logits_b=False)


def test_plain_callables_need_from_logits():
    model = _model()
    # log-probabilities are a pair of logits: log(p1) - log(p0) is the logit of p1.
    kbt.assert_same_binary_predictions(
        model, lambda x, training=False: keras.ops.log(model(x)), X, from_logits_b=True
    )
    with pytest.raises(BinaryConfigError) as info:  # a callable has no final layer to read
        kbt.assert_same_binary_predictions(model, lambda x, training=False: model(x), X)
    assert info.value.code == "KB301"
    assert "from_logits_b=True" in info.value.fix


def test_non_finite_inputs_are_kb344():
    x = X.copy()
    x[0, 0] = np.nan
    with pytest.raises(BinaryConfigError) as info:
        kbt.assert_same_binary_predictions(_model(), _model(), x)
    assert info.value.code == "KB344"
    assert "np.isfinite" in info.value.fix


def test_non_finite_predictions_fail():
    model = _model(1, "sigmoid")
    broken = keras_binary.convert_head(model, to="sigmoid")
    broken.layers[-1].bias.assign(np.array([np.nan], "float32"))
    with pytest.raises(AssertionError, match="non-finite"):
        kbt.assert_same_binary_predictions(model, broken, X)


def test_multi_class_outputs_are_refused_with_a_code():
    model = _model(3, "softmax")
    with pytest.raises(BinaryShapeError) as info:
        kbt.assert_same_binary_predictions(model, model, X, from_logits_a=False, from_logits_b=False)
    assert info.value.code == "KB102"


# ---------------------------------------------------------------------------
# assert_loss_invariant.

Y = np.array([0, 1, 1, 0, 1])
P = np.array([[0.1], [0.8], [0.6], [0.3], [0.45]])


def test_loss_invariant_returns_the_reference_value():
    value = kbt.assert_loss_invariant(keras_binary.SafeBCE(), Y, P)
    assert float(value) == pytest.approx(np.mean(bce_reference(Y, P[:, 0])), rel=1e-6)


def test_loss_invariant_on_logits_pairs_and_weights():
    z = np.array([[-2.0, 1.0], [0.5, 3.0], [1.0, 1.5], [0.0, -1.0], [2.0, 2.0]])
    weights = np.array([1.0, 2.0, 0.5, 0.0, 1.0])
    value = kbt.assert_loss_invariant(
        keras_binary.SafeBCE(from_logits=True), Y, z, from_logits=True, sample_weight=weights
    )
    expected = np.sum(weights * bce_reference(Y, z[:, 1] - z[:, 0], from_logits=True)) / len(Y)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_a_loss_that_depends_on_the_representation_fails():
    def mean_of_outputs(y_true, y_pred):
        return keras.ops.mean(keras.ops.convert_to_tensor(y_pred, "float32"))

    with pytest.raises(AssertionError, match="probability_pair"):
        kbt.assert_loss_invariant(mean_of_outputs, Y, P)


def test_a_loss_whose_logit_twin_disagrees_fails():
    # Keras's BCE on a 2-unit pair is not a binary loss: its twin check fails.
    with pytest.raises((AssertionError, ValueError)):
        kbt.assert_loss_invariant(keras.losses.BinaryCrossentropy(), Y, P, encoding="float")


def test_probabilities_of_0_or_1_have_no_logit_twin():
    p = np.array([[0.0], [1.0], [0.5], [0.5], [0.5]])
    with pytest.raises(BinaryConfigError) as info:
        kbt.assert_loss_invariant(keras_binary.SafeBCE(), Y, p)
    assert info.value.code == "KB301"
    assert "twin=False" in info.value.fix
    kbt.assert_loss_invariant(keras_binary.SafeBCE(), Y, p, twin=False)


def test_soft_labels_skip_int_and_bool():
    soft = np.array([0.2, 0.9, 1.0, 0.0, 0.5])
    value = kbt.assert_loss_invariant(keras_binary.SafeFocal(), soft, P)
    assert np.isfinite(float(value))
