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
    np.testing.assert_allclose(
        to_numpy(actual), np.asarray(expected, "float64"), rtol=rtol, atol=atol, err_msg=err_msg
    )


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


# float64 references of the package's element-wise losses, on canonical
# labels `y` and scores `s` (probabilities, or logits with from_logits=True).
# Probabilities are clipped to float32 [epsilon, 1 - epsilon], as Keras does.


def bce_reference(y, s, from_logits=False, pos_weight=None):
    """Element-wise binary cross-entropy in float64."""
    y, s = np.asarray(y, "float64"), np.asarray(s, "float64")
    w = 1.0 if pos_weight is None else pos_weight
    if from_logits:
        softplus_neg = np.logaddexp(0.0, -s)  # log(1 + exp(-z)), exact for any finite z
        return (1.0 - y) * s + (1.0 + (w - 1.0) * y) * softplus_neg
    eps = float(np.float32(keras.config.epsilon()))
    p = np.clip(s, eps, float(np.float32(1.0 - keras.config.epsilon())))
    return -(w * y * np.log(p) + (1.0 - y) * np.log1p(-p))


def focal_reference(y, s, from_logits=False, gamma=2.0, alpha=0.25, apply_class_balancing=False):
    """Element-wise binary focal cross-entropy in float64 (Keras's formula)."""
    y, s = np.asarray(y, "float64"), np.asarray(s, "float64")
    if from_logits:  # sigmoid(x) = exp(-log(1 + exp(-x))): no overflow, accurate tails
        one_minus_pt = y * np.exp(-np.logaddexp(0.0, s)) + (1.0 - y) * np.exp(-np.logaddexp(0.0, -s))
    else:
        one_minus_pt = 1.0 - (y * s + (1.0 - y) * (1.0 - s))
    loss = one_minus_pt**gamma * bce_reference(y, s, from_logits)
    if apply_class_balancing:
        loss = (y * alpha + (1.0 - y) * (1.0 - alpha)) * loss
    return loss


def compile_paths():
    """The compile settings a guard test runs on: TensorFlow with and without XLA, one elsewhere."""
    if BACKEND == "tensorflow":
        return [{"jit_compile": False}, {"jit_compile": True}]
    return [{}]


def compile_path_ids(paths):
    return [("xla" if p.get("jit_compile") else "default") for p in paths]


def small_hub_resnet_backbone(keras_hub, size):
    """A one-block keras-hub ResNet backbone from a config, random weights (nothing can be downloaded)."""
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(size, size, 3),
    )
