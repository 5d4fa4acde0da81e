"""Small test helpers on public Keras only (keras.src.testing is private)."""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np

BACKEND = keras.backend.backend()


def to_numpy(x):
    """Any backend tensor (or nested float) as a float64 NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def assert_allclose_rel(actual, expected, rtol=1e-6, atol=1e-7, err_msg=""):
    np.testing.assert_allclose(to_numpy(actual), np.asarray(expected, "float64"), rtol=rtol, atol=atol, err_msg=err_msg)


def config_round_trip(obj):
    """Serializes `obj` with Keras and back; returns the new object."""
    config = keras.saving.serialize_keras_object(obj)
    return keras.saving.deserialize_keras_object(config)


def saved_model_round_trip(model):
    """Saves `model` to a .keras file and loads it back (no custom_objects)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return keras.saving.load_model(path)
