"""BinaryHead on real backbones: keras.applications, 3-D volumes, sequences.

The `keras.applications` matrix builds every model with `weights=None` (no
downloads) at its smallest input size and a batch of 2; building and
compiling these models is the slow part, hence `@pytest.mark.slow`.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import to_numpy

import keras_binary
from keras_binary import BinaryHead, BinaryShapeError

# (constructor, smallest input size keras.applications accepts)
APPLICATIONS = [
    ("ResNet50V2", 32),
    ("MobileNetV2", 32),
    ("MobileNetV3Small", 32),
    ("EfficientNetB0", 32),
    ("DenseNet121", 32),
    ("ConvNeXtTiny", 32),
    ("Xception", 71),
]
IDS = [name for name, _ in APPLICATIONS]


def _images(size, n=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(n, size, size, 3)).astype("float32")


def _weights(layer):
    return [to_numpy(w) for w in layer.weights]


def _check_fit_and_predict(model, head, x, y, units):
    """One training step changes the head and gives a finite loss; predictions are binary."""
    before = _weights(head)
    history = model.fit(x, y, epochs=1, batch_size=len(x), verbose=0).history["loss"]
    assert len(history) == 1 and np.isfinite(history[0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(head), strict=True))
    probs = model.predict(x, verbose=0)
    assert probs.shape == (len(x), units)
    assert probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))
    if units == 2:
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", [None, "avg"])
@pytest.mark.parametrize("name, size", APPLICATIONS, ids=IDS)
def test_application_without_top(name, size, pooling):
    keras.utils.set_random_seed(0)
    index = IDS.index(name)
    units = 1 + (index + (pooling is None)) % 2  # both output sizes with both poolings
    backbone = getattr(keras.applications, name)(
        include_top=False, weights=None, input_shape=(size, size, 3), pooling=pooling
    )
    features = backbone.output_shape
    assert len(features) == (4 if pooling is None else 2)
    # Transfer learning, phase one: a frozen backbone in inference mode.
    backbone.trainable = False
    inputs = keras.Input((size, size, 3))
    head = BinaryHead(units=units)
    outputs = head(backbone(inputs, training=False))
    assert tuple(outputs.shape) == (None, units)
    assert tuple(head.output_dense.kernel.shape) == (features[-1], units)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras_binary.SafeBCE())
    _check_fit_and_predict(model, head, _images(size), np.array([0, 1]), units)


@pytest.mark.slow
@pytest.mark.parametrize("name, size", APPLICATIONS, ids=IDS)
def test_application_with_top_is_refused(name, size):
    backbone = getattr(keras.applications, name)(include_top=True, weights=None, input_shape=(size, size, 3))
    assert backbone.output_shape == (None, 1000)
    with pytest.raises(BinaryShapeError) as info:
        BinaryHead()(backbone(keras.Input((size, size, 3))))
    error = info.value
    assert error.code == "KB110"
    assert "K=1000" in error.received and "include_top=True" in error.summary
    assert f"keras.applications.{name}(include_top=False" in error.fix
    # Allowed on purpose, it builds.
    out = BinaryHead(allow_classifier_input=True)(backbone(keras.Input((size, size, 3))))
    assert tuple(out.shape) == (None, 1)


# ---------------------------------------------------------------------------
# The three examples of the original question, written with BinaryHead.


@pytest.mark.slow
def test_question_head_on_the_1000_way_output_fails():
    base_model = keras.applications.ResNet50V2(include_top=True, weights=None, input_shape=(32, 32, 3))
    with pytest.raises(BinaryShapeError) as info:
        predictions = BinaryHead()(base_model.output)  # was Dense(1, activation="sigmoid")
        keras.Model(base_model.input, predictions)
    assert info.value.code == "KB110"
    assert "'predictions'" in info.value.summary and "1000 classes" in info.value.summary
    assert "include_top=False" in info.value.fix


@pytest.mark.slow
def test_question_without_top_trains():
    keras.utils.set_random_seed(0)
    base_model = keras.applications.ResNet50V2(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    base_model.trainable = False
    x, y = _images(32, n=4, seed=1), np.array([0, 1, 1, 0])  # sparse integer labels, (N,)
    # Example 2: one sigmoid unit (was Dense(1, activation="sigmoid")).
    # Example 3: two softmax units with integer labels (was Dense(2, activation="softmax")).
    for units in (1, 2):
        head = BinaryHead(units=units)
        model = keras.Model(base_model.input, head(base_model.output))
        model.compile(optimizer="adam", loss=keras_binary.SafeBCE(), metrics=["accuracy"])
        _check_fit_and_predict(model, head, x, y, units)


# ---------------------------------------------------------------------------
# 3-D volumes and sequences.


def test_conv3d_volume_model():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 8, 1)).astype("float32")
    y = (x[:, 2:6, 2:6, 2:6, 0].mean(axis=(1, 2, 3)) > 0).astype("int64")
    x[y == 1, 2:6, 2:6, 2:6] += 1.0  # a brighter cube marks the positives
    inputs = keras.Input((8, 8, 8, 1))
    h = keras.layers.Conv3D(4, 3, activation="relu")(inputs)
    features = keras.layers.Conv3D(8, 3, activation="relu")(h)  # (N, 4, 4, 4, 8)
    head = BinaryHead(hidden_units=(8,), pooling="avgmax")
    model = keras.Model(inputs, head(features))
    assert model.output_shape == (None, 1)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras_binary.SafeBCE())
    losses = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert model.predict(x, verbose=0).shape == (48, 1)


def _token_data(n, length, rng):
    """Token sequences padded with 0; positive when token 1 occurs."""
    lengths = rng.integers(2, length + 1, size=n)
    tokens = np.zeros((n, length), "int64")
    for i, k in enumerate(lengths):
        tokens[i, :k] = rng.integers(2, 6, size=k)
    y = rng.integers(0, 2, size=n)
    for i in np.flatnonzero(y):
        tokens[i, rng.integers(0, lengths[i])] = 1
    return tokens, y


def test_lstm_sequence_model_honours_padding_mask():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    tokens, y = _token_data(64, 6, rng)
    inputs = keras.Input((None,), dtype="int64")
    embedded = keras.layers.Embedding(6, 4, mask_zero=True)(inputs)
    sequence = keras.layers.LSTM(6, return_sequences=True)(embedded)  # (N, T, 6) with mask (N, T)
    head = BinaryHead(units=2, pooling="avgmax")
    model = keras.Model(inputs, head(sequence))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras_binary.SafeBCE())
    losses = model.fit(tokens, y, epochs=4, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    # The mask reaches the pooling: more padding does not change a prediction.
    padded = np.concatenate([tokens, np.zeros((64, 5), "int64")], axis=1)
    np.testing.assert_allclose(to_numpy(model(padded)), to_numpy(model(tokens)), rtol=1e-5, atol=1e-6)


def test_conv1d_sequence_model():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 16, 2)).astype("float32")
    y = (x[:, :, 0].max(axis=1) > 2.0).astype("int64")
    inputs = keras.Input((16, 2))
    features = keras.layers.Conv1D(8, 3, activation="relu")(inputs)
    head = BinaryHead(pooling="max", dropout=0.1)
    model = keras.Model(inputs, head(features))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras_binary.SafeBCE())
    losses = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert model.predict(x, verbose=0).shape == (64, 1)
