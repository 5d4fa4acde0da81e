"""Fine-tuning with BinaryHead: a frozen backbone, then unfrozen with a lower LR.

The backbone is a small CNN with batch normalization, the layer that makes
fine-tuning delicate. Its statistics must stay fixed in both phases, while
its weights move only in phase two, and only by steps of the (lower)
learning rate.

In Keras 3, `backbone(inputs, training=False)` alone does not keep the
BatchNormalization layers in inference mode once the backbone is unfrozen:
`fit` calls the outer model with `training=True`, which overrides the
`training=False` recorded in the functional graph (keras-team/keras#20285).
Phase two therefore unfreezes the backbone but keeps its BatchNormalization
layers frozen (`trainable=False` runs them in inference mode);
`test_training_false_alone_does_not_freeze_batch_norm` pins that behaviour.
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
    x[y == 1, :, :, 0] += 2.0
    return x, y


def _values(variables):
    return [to_numpy(v).copy() for v in variables]


def test_frozen_then_unfrozen_with_lower_learning_rate():
    keras.utils.set_random_seed(0)
    x, y = _data()
    backbone = _backbone()
    backbone.trainable = False
    inputs = keras.Input((8, 8, 3))
    head = BinaryHead(units=2, dropout=0.2)
    model = keras.Model(inputs, head(backbone(inputs, training=False)))

    # Phase 1: only the head trains; the backbone, BN statistics included, is untouched.
    assert len(model.trainable_weights) == len(head.trainable_weights) == 2
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras_binary.SafeBCE())
    backbone_before = _values(backbone.weights)
    head_before = _values(head.weights)
    phase1 = model.fit(x, y, epochs=10, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(phase1["loss"])) and phase1["loss"][-1] < phase1["loss"][0]
    for before, after in zip(backbone_before, _values(backbone.weights), strict=True):
        np.testing.assert_array_equal(before, after)
    assert all(not np.array_equal(a, b) for a, b in zip(head_before, _values(head.weights), strict=True))
    accuracy1 = np.mean((model.predict(x, verbose=0)[:, 1] > 0.5) == y)
    assert accuracy1 > 0.9

    # Phase 2: unfreeze all but the BN layers, recompile with a 5000x lower learning rate.
    backbone.trainable = True
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    learning_rate = 1e-5
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras_binary.SafeBCE())
    assert len(model.trainable_weights) > len(head.trainable_weights)
    bn = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    stats_before = _values([bn.moving_mean, bn.moving_variance])
    kernels_before = _values(backbone.trainable_weights)
    steps = 2 * (len(x) // 16)
    phase2 = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(phase2["loss"]))
    # The backbone moves, by at most a few learning rates per step (Adam's step is ~lr).
    moved = [
        np.max(np.abs(a - b))
        for a, b in zip(kernels_before, _values(backbone.trainable_weights), strict=True)
    ]
    assert max(moved) > 0
    assert max(moved) <= 3 * learning_rate * steps
    # Frozen BN layers keep their statistics while the rest of the backbone trains.
    for before, after in zip(stats_before, _values([bn.moving_mean, bn.moving_variance]), strict=True):
        np.testing.assert_array_equal(before, after)

    # The head works in both phases: binary probabilities that separate the classes.
    probs = model.predict(x, verbose=0)
    assert probs.shape == (len(x), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean((probs[:, 1] > 0.5) == y) >= accuracy1 - 0.05


def test_training_false_alone_does_not_freeze_batch_norm():
    """Keras 3: `fit` overrides the recorded `training=False` of a trainable backbone."""
    keras.utils.set_random_seed(0)
    x, y = _data(n=16)
    backbone = _backbone()
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, BinaryHead()(backbone(inputs, training=False)))
    model.compile(optimizer=keras.optimizers.SGD(1e-5), loss=keras_binary.SafeBCE())
    bn = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    before = to_numpy(bn.moving_mean).copy()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    # If this starts failing, Keras honours training=False again: update the fine-tuning docs.
    assert not np.array_equal(before, to_numpy(bn.moving_mean))
