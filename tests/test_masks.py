"""Keras masks in the package's losses and metrics (issue 20 items 9 and 11).

A masked step counts for nothing, as in Keras's losses and its
`BinaryAccuracy`, and its label (`-1` padding, the "ignore" convention) is
read by nothing. Keras's own `AUC` ignores masks: the package's honours them,
so it is compared with Keras's `AUC` given the mask as `sample_weight`.
"""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from keras.src.backend.common.masking import set_keras_mask  # how Keras attaches a mask

import keras_binary
from tests.helpers import bce_reference, to_numpy


def _masked(p, mask):
    tensor = keras.ops.convert_to_tensor(p)
    set_keras_mask(tensor, keras.ops.convert_to_tensor(mask))
    return tensor


@given(seed=st.integers(0, 2**16), pad=st.sampled_from([-1.0, 0.0, 7.0]), per_step_axis=st.booleans())
def test_masked_steps_count_for_nothing(seed, pad, per_step_axis):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (4, 5)).astype("float32")
    p = rng.uniform(0.01, 0.99, (4, 5, 1)).astype("float32")
    mask = rng.random((4, 5)) < 0.7
    mask[0, 0] = True
    padded = np.where(mask, y, pad).astype("float32")
    labels = padded[..., None] if per_step_axis else padded
    kept_y, kept_p = y[mask], p[..., 0][mask]
    # The loss: Keras's reduction with a mask, the mean over the unmasked steps.
    loss = to_numpy(keras_binary.SafeBCE()(labels, _masked(p, mask)))
    np.testing.assert_allclose(loss, bce_reference(kept_y, kept_p).mean(), rtol=1e-5)
    accuracy = keras_binary.metrics.BinaryAccuracy()
    accuracy.update_state(labels, _masked(p, mask))
    np.testing.assert_allclose(to_numpy(accuracy.result()), np.mean((kept_p > 0.5) == kept_y), rtol=1e-6)
    # AUC: the same as the mask given as sample weights (same shapes: one JAX compilation).
    masked_auc, kept_auc = keras_binary.metrics.AUC(), keras_binary.metrics.AUC()
    masked_auc.update_state(labels, _masked(p, mask))
    kept_auc.update_state(y, p, sample_weight=mask.astype("float32"))
    np.testing.assert_allclose(to_numpy(masked_auc.result()), to_numpy(kept_auc.result()), rtol=1e-6)


def _sequence_data(n=16, t=5):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, (n, t))
    for i, length in enumerate(rng.integers(2, t + 1, n)):
        x[i, length:] = 0
    y = rng.integers(0, 2, (n, t, 1)).astype("float32")
    return x, y, (x != 0)


def _sequence_model(t=5):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((t,)),
            keras.layers.Embedding(20, 4, mask_zero=True),
            keras.layers.SimpleRNN(4, return_sequences=True),  # masks as LSTM does; compiles faster
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_masked_sequence_model_metrics_match_keras():
    x, y, mask = _sequence_data()
    y_padded = np.where(mask[..., None], y, -1.0).astype("float32")  # -1 at the padded steps
    model = _sequence_model()
    model.compile(
        optimizer="sgd",
        loss=keras_binary.SafeBCE(),
        metrics=[
            keras.metrics.BinaryAccuracy(name="keras_accuracy"),
            keras_binary.metrics.BinaryAccuracy(name="accuracy"),
            keras_binary.metrics.AUC(name="auc"),
        ],
    )
    result = model.evaluate(x, y_padded, batch_size=16, verbose=0, return_dict=True)
    p = model.predict(x, batch_size=16, verbose=0)
    keras_auc = keras.metrics.AUC()
    keras_auc.update_state(y, p, sample_weight=mask.astype("float32"))
    keras_loss = keras.losses.BinaryCrossentropy()(y, _masked(p, mask))
    assert abs(result["accuracy"] - result["keras_accuracy"]) < 1e-6
    np.testing.assert_allclose(result["auc"], to_numpy(keras_auc.result()), rtol=1e-5)
    np.testing.assert_allclose(result["loss"], to_numpy(keras_loss), rtol=1e-5)
    # Trains on the -1 padding, through a dataset too (the step checks see the mask).
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y_padded)).batch(8)
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _fit_accuracies(x, y, weighted=False, **fit_kwargs):
    """The training accuracy of Keras's `BinaryAccuracy` and the package's, weights frozen (SGD at 0)."""
    model = _sequence_model()
    metrics = [
        keras.metrics.BinaryAccuracy(name="keras_accuracy"),
        keras_binary.metrics.BinaryAccuracy(name="accuracy"),
    ]
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=keras_binary.SafeBCE(),
        **{"weighted_metrics" if weighted else "metrics": metrics},
    )
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, **fit_kwargs).history
    hit = ((model.predict(x, batch_size=8, verbose=0) > 0.5) == (y > 0.5))[..., 0]
    return history["keras_accuracy"][0], history["accuracy"][0], hit


def test_training_metrics_with_a_mask_are_keras_own_on_every_backend():
    """0-padded labels during `fit`: the package's metric gives what Keras's `BinaryAccuracy` gives.

    Measured on Keras 3.15.1: Keras's JAX train step hands the training
    metrics a `y_pred` without its mask, so Keras's own `BinaryAccuracy`
    counts the padded steps there too (`evaluate` and the other backends
    honour the mask). Pinned: if Keras starts passing the mask on JAX, the
    JAX branch fails and the note in docs/keras-compatibility.md goes.
    """
    x, y, mask = _sequence_data()
    y_zero = np.where(mask[..., None], y, 0.0).astype("float32")  # 0 at the padded steps
    keras_accuracy, accuracy, hit = _fit_accuracies(x, y_zero)
    assert abs(accuracy - keras_accuracy) < 1e-6
    counted = hit.mean() if keras.backend.backend() == "jax" else hit[mask].mean()
    assert hit.mean() != hit[mask].mean()  # the padded steps change the figure
    np.testing.assert_allclose(accuracy, counted, rtol=1e-6)


def test_training_metrics_workarounds_honour_the_mask_on_every_backend():
    """`-1` at the padded steps (the package's metrics skip it), or the mask as `sample_weight` (both).

    Keras hands `sample_weight` to `weighted_metrics` only: with `metrics=`
    the weights are not seen (on JAX the padded steps are then counted).
    """
    x, y, mask = _sequence_data()
    y_padded = np.where(mask[..., None], y, -1.0).astype("float32")
    _, accuracy, hit = _fit_accuracies(x, y_padded)
    np.testing.assert_allclose(accuracy, hit[mask].mean(), rtol=1e-6)
    y_zero = np.where(mask[..., None], y, 0.0).astype("float32")
    keras_accuracy, accuracy, hit = _fit_accuracies(
        x, y_zero, weighted=True, sample_weight=mask.astype("float32")
    )
    np.testing.assert_allclose([accuracy, keras_accuracy], [hit[mask].mean()] * 2, rtol=1e-6)
