"""Export for serving: a SavedModel from `model.export()`, and TensorFlow Lite.

A model ending in `BinaryHead` (and one converted from 2 softmax units to 1
sigmoid unit by `convert_head`) is exported with `model.export()`, reloaded
with `tf.saved_model.load` and called through its `serve` endpoint, then
converted to TensorFlow Lite (`tf.lite.TFLiteConverter.from_saved_model`)
and run by the TFLite interpreter: every path predicts what the Keras model
predicts, within 1e-5.

The interpreters: `tf.lite.Interpreter`, which TensorFlow 2.21 still ships
but marks as deprecated in favour of LiteRT, and
`ai_edge_litert.interpreter.Interpreter` (LiteRT, `pip install
ai-edge-litert`, 2.3.0 checked with tensorflow-cpu 2.21) when installed:
each one installed runs the same converted model.

TensorFlow backend only: the test exports with the TensorFlow backend's
`model.export()`; the other passes skip it.
"""

from __future__ import annotations

import importlib.util
import warnings

import keras
import numpy as np
import pytest

import keras_binary as kb
from tests.helpers import to_numpy

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="SavedModel export and TFLite conversion use the TensorFlow backend; tensorflow pass only",
)


def _interpreters() -> dict:
    """The TFLite interpreters installed: LiteRT's and TensorFlow's own (deprecated)."""
    import tensorflow as tf

    found = {}
    if importlib.util.find_spec("ai_edge_litert") is not None:
        from ai_edge_litert.interpreter import Interpreter

        found["litert"] = Interpreter
    if hasattr(tf.lite, "Interpreter"):
        found["tf.lite"] = tf.lite.Interpreter
    if not found:
        pytest.skip("no TFLite interpreter: pip install ai-edge-litert")
    return found


def _x(n: int = 6) -> np.ndarray:
    return np.random.default_rng(4).normal(size=(n, 5, 5, 3)).astype("float32")


def _head_model(**head_kwargs) -> keras.Model:
    keras.utils.set_random_seed(2)
    inputs = keras.Input((5, 5, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = kb.BinaryHead(**head_kwargs)(features)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=kb.SafeBCE())
    # One short fit, so that batch-normalisation statistics are not their initial values.
    model.fit(_x(16), np.arange(16) % 2, batch_size=8, epochs=1, verbose=0)
    return model


def _export(model: keras.Model, path) -> str:
    model.export(str(path), format="tf_saved_model", verbose=False)
    return str(path)


def _serve(path: str, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
    return to_numpy(loaded.serve(tf.constant(x)))


def _tflite(path: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """The TFLite conversion of the SavedModel at `path`, run by every interpreter installed."""
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tf.lite's deprecation notice
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    results = {}
    for name, cls in _interpreters().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            interpreter = cls(model_content=flatbuffer)
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(inp["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        results[name] = np.asarray(interpreter.get_tensor(out["index"]), "float64")
    return results


def _assert_exports_predict(model: keras.Model, expected: np.ndarray, path) -> None:
    """The SavedModel's `serve` and every TFLite interpreter give `expected` (1e-5)."""
    x = _x()
    path = _export(model, path)
    served = _serve(path, x)
    assert served.shape == expected.shape
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    for interpreter, lite in _tflite(path, x).items():
        assert lite.shape == expected.shape, interpreter
        np.testing.assert_allclose(lite, expected, rtol=1e-5, atol=1e-5, err_msg=interpreter)
        assert np.all((lite >= 0) & (lite <= 1)), interpreter


def test_sigmoid_head_with_mlp_batch_norm_and_dropout_exports(tmp_path):
    model = _head_model(hidden_units=(8,), dropout=0.3, batch_norm=True, pooling="avgmax")
    _assert_exports_predict(model, to_numpy(model.predict(_x(), verbose=0)), tmp_path / "saved")


def test_softmax_head_and_its_sigmoid_conversion_export(tmp_path):
    """A 2-unit softmax head exports; so does the 1-unit sigmoid model `convert_head` makes of it."""
    model = _head_model(units=2, pooling="max")
    pair = to_numpy(model.predict(_x(), verbose=0))
    _assert_exports_predict(model, pair, tmp_path / "pair")
    small = kb.convert_head(model, to="sigmoid")
    assert small.output_shape == (None, 1)
    np.testing.assert_allclose(to_numpy(small.predict(_x(), verbose=0)), pair[:, 1:], rtol=1e-5, atol=1e-6)
    _assert_exports_predict(small, pair[:, 1:], tmp_path / "sigmoid")
