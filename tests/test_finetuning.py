"""Fine-tuning with BinaryHead: a frozen backbone, then unfrozen with a lower LR.

The backbone is a small CNN with batch normalization, the layer that makes
fine-tuning delicate: it is called with `training=False`, so its statistics
stay fixed in both phases, while its weights move only in phase two, and
only by steps of the (lower) learning rate.
"""

from __future__ import annotations

import keras
import numpy as np
from helpers import to_numpy

import keras_binary
from keras_binary import BinaryHead


def _backbone():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, keras.layers.ReLU()(x), name="backbone")


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int64")
    x[y == 1, :, :, 0] += 0.5
    return x, y


def _values(variables):
    return [to_numpy(v).copy() for v in variables]


def test_frozen_then_unfrozen_with_lower_learning_rate():
    x, y = _data()
    backbone = _backbone()
    backbone.trainable = False
    inputs = keras.Input((8, 8, 3))
    head = BinaryHead(units=2, dropout=0.2)
    model = keras.Model(inputs, head(backbone(inputs, training=False)))

    # Phase 1: only the head trains; the backbone, BN statistics included, is untouched.
    assert len(model.trainable_weights) == len(head.trainable_weights) == 2
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras_binary.SafeBCE(), metrics=["accuracy"])
    backbone_before = _values(backbone.weights)
    head_before = _values(head.weights)
    phase1 = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(phase1["loss"])) and phase1["loss"][-1] < phase1["loss"][0]
    for before, after in zip(backbone_before, _values(backbone.weights)):
        np.testing.assert_array_equal(before, after)
    assert all(not np.array_equal(a, b) for a, b in zip(head_before, _values(head.weights)))

    # Phase 2: unfreeze, recompile with a 1000x lower learning rate.
    backbone.trainable = True
    learning_rate = 1e-5
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras_binary.SafeBCE(), metrics=["accuracy"])
    assert len(model.trainable_weights) > len(head.trainable_weights)
    bn = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    stats_before = _values([bn.moving_mean, bn.moving_variance])
    kernels_before = _values(backbone.trainable_weights)
    steps = 2 * (len(x) // 16)
    phase2 = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(phase2["loss"]))
    # The backbone moves, by at most a few learning rates per step (Adam's step is ~lr).
    moved = [np.max(np.abs(a - b)) for a, b in zip(kernels_before, _values(backbone.trainable_weights))]
    assert max(moved) > 0
    assert max(moved) <= 3 * learning_rate * steps
    # training=False keeps the BN statistics fixed even while the backbone trains.
    for before, after in zip(stats_before, _values([bn.moving_mean, bn.moving_variance])):
        np.testing.assert_array_equal(before, after)

    # The head works in both phases: binary probabilities that separate the classes.
    probs = model.predict(x, verbose=0)
    assert probs.shape == (len(x), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean((probs[:, 1] > 0.5) == y) > 0.75
