"""Tests of the coded errors: every foundation code raised by a minimal example.

Each case asserts the code, the class (and that it is a `ValueError`), that the
message names what was received, and that it carries the fix.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import keras_binary
from keras_binary import _contract
from keras_binary.errors import (
    ERROR_CODES,
    BinaryConfigError,
    BinaryError,
    BinaryLabelError,
    BinaryShapeError,
    error_class,
)
from tests.helpers import BACKEND


def f32(x):
    return np.asarray(x, "float32")


def bce(**kwargs):
    return keras_binary.SafeBCE(**kwargs)


# code -> (a call that raises it, texts the message must contain: received..., fix...)
CASES = {
    "KB101": (lambda: bce()(1.0, 0.7), ["y_pred.shape=()", "y_true.shape=()", "np.reshape"]),
    "KB102": (
        lambda: bce()(np.zeros(4), f32(np.full((4, 5), 0.2))),
        ["5 classes", "y_pred.shape=(4, 5)", "BinaryHead()", "multi_label=True"],
    ),
    "KB103": (
        lambda: bce()(np.zeros(4), f32(np.full((4, 3, 3, 1), 0.5))),
        ["y_pred.shape=(4, 3, 3, 1)", "y_true.shape=(4,)", "pool", "BinaryHead()"],
    ),
    "KB104": (
        lambda: bce()(np.zeros(8), f32(np.full((4, 1), 0.5))),
        ["8 labels for 4 predictions", "y_true.shape=(8,)", "y_pred.shape=(4, 1)", "y[:len(x)]"],
    ),
    "KB105": (
        lambda: bce()(np.zeros((4, 3)), f32(np.full((4, 1), 0.5))),
        ["y_true.shape=(4, 3)", "size 3", "np.argmax(y, axis=-1)"],
    ),
    "KB106": (
        lambda: _contract.plan_layout((None,), (None, None)),
        ["y_pred.shape=(None, None)", "unknown size", "BinaryHead()"],
    ),
    "KB107": (
        lambda: bce()(np.zeros(4), np.zeros((4, 0), "float32")),
        ["y_pred.shape=(4, 0)", "empty", "BinaryHead()"],
    ),
    "KB108": (
        lambda: bce()(np.array(["cat", "dog"]), f32([[0.2], [0.9]])),
        ["y_true.dtype=<U3", "== 'positive'"],
    ),
    "KB201": (
        lambda: bce()(np.array([0, 3, 1, 0]), f32([[0.1], [0.8], [0.7], [0.3]])),
        ["1 of 4 labels", "labels from 0 to 3", "3 is a class of its own", "y = (y == 1)"],
    ),
    "KB202": (
        lambda: bce()(np.array([1, 2, 2, 1]), f32([[0.1], [0.8], [0.7], [0.3]])),
        ["labels from 1 to 2", "{1, 2}", "y = y - 1"],
    ),
    "KB203": (
        lambda: bce()(np.array([-1, 1, 1, -1]), f32([[0.1], [0.8], [0.7], [0.3]])),
        ["labels from -1 to 1", "{-1, 1}", "y = (y + 1) / 2"],
    ),
    "KB204": (
        lambda: bce()(f32([0, np.nan, 1, 0]), f32([[0.1], [0.8], [0.7], [0.3]])),
        ["1 NaN labels", "1 of 4 labels are NaN", "~np.isnan(y)"],
    ),
    "KB205": (
        lambda: bce()(np.array([0, 1, 1, 0]), f32([[-2.5], [3.0], [1.5], [-0.5]])),
        [
            "predictions from -2.5 to 3",
            "from_logits=False",
            "outputs logits",
            "SafeBCE(from_logits=True)",
            "not a sigmoid",
            "BinaryHead()",
        ],
    ),
    "KB206": (
        lambda: bce()(np.array([0, 1]), f32([[0.9, 0.8], [0.4, 0.7]])),
        ["pair sums off by up to 0.7", "does not sum to 1", "BinaryHead(units=2, activation='softmax')"],
    ),
    "KB207": (
        lambda: bce()(np.array([0, 1]), f32([[np.nan], [0.7]])),
        ["1 NaN or infinite predictions", "np.isnan(x).any()"],
    ),
    "KB208": (
        lambda: bce()(np.array([[1, 0], [1, 1], [0, 0]]), f32([[0.1], [0.8], [0.7]])),
        ["2 of 3 label rows", "not one-hot", "to_categorical(y[:, 1], 2)"],
    ),
    "KB301": (
        lambda: bce(label_smoothing=1.5),
        ["label_smoothing=1.5", "[0.0, 1.0]", "label_smoothing=0.1"],
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_raised_with_received_and_fix(code):
    make, texts = CASES[code]
    with pytest.raises(BinaryError) as info:
        make()
    err = info.value
    assert err.code == code
    assert isinstance(err, ValueError)
    assert isinstance(err, error_class(code))
    message = str(err)
    assert message.startswith(f"{code}: ")
    assert "Received: " in message and "Expected: " in message and "Fix: " in message
    assert err.fix and err.fix in message
    for text in texts:
        assert text in message, f"{text!r} not in:\n{message}"


def test_every_foundation_code_has_a_case():
    # KB109 (unknown rank) has tests of its own below.
    foundation = {f"KB{n}" for n in (*range(101, 109), *range(201, 208), 301)}
    assert foundation <= set(CASES)
    assert set(CASES) <= set(ERROR_CODES)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="only TensorFlow has tensors of unknown rank")
def test_kb109_unknown_rank_in_tf_function():
    import tensorflow as tf

    # Labels of unknown rank are read while running (tests/test_relaxed_shapes.py);
    # predictions of unknown rank are not.
    @tf.function(input_signature=[tf.TensorSpec((None,), tf.float32), tf.TensorSpec(None, tf.float32)])
    def step(y_true, y_pred):
        return keras_binary.SafeBCE()(y_true, y_pred)

    with pytest.raises(BinaryShapeError) as info:
        step(np.zeros(2, "float32"), np.zeros((2, 1), "float32"))
    assert info.value.code == "KB109"
    assert "shape=<unknown>" in str(info.value) and "tf.ensure_shape" in info.value.fix


def test_kb109_static_shape_of_unknown_rank():
    class UnknownRank:  # what TensorFlow's TensorShape(None) exposes
        rank = None

        def __iter__(self):
            raise TypeError("unknown rank")

    class Tensor:
        shape = UnknownRank()

    with pytest.raises(BinaryShapeError) as info:
        _contract.static_shape(Tensor())
    assert info.value.code == "KB109"


def test_kb102_imagenet_top_names_include_top_and_binary_head():
    with pytest.raises(BinaryShapeError) as info:
        bce()(np.zeros(8), np.full((8, 1000), 1e-3, "float32"))
    message = str(info.value)
    assert info.value.code == "KB102"
    assert "1000 classes" in message and "include_top=True" in message
    assert "include_top=False" in info.value.fix and "keras_binary.BinaryHead()" in info.value.fix
    assert "y_pred.shape=(8, 1000)" in message


def test_kb102_unpooled_feature_map_says_pool():
    with pytest.raises(BinaryShapeError) as info:
        bce()(np.zeros(2), np.zeros((2, 2, 2, 1280), "float32"))
    assert info.value.code == "KB102"
    assert "1280 channels" in str(info.value) and "unpooled feature map" in str(info.value)
    assert "BinaryHead()" in info.value.fix


def test_kb103_names_binary_head_which_pools():
    with pytest.raises(BinaryShapeError) as info:
        _contract.plan_layout((8,), (8, 4, 4, 1))
    assert "2 spatial or time axes" in str(info.value)
    assert "pool" in info.value.fix and "keras_binary.BinaryHead()" in info.value.fix


def test_kb104_names_both_batch_sizes():
    with pytest.raises(BinaryShapeError) as info:
        _contract.plan_layout((32,), (30, 1))
    assert "32 labels for 30 predictions" in str(info.value)
    assert "y_true.shape=(32,), y_pred.shape=(30, 1)" in str(info.value)


def test_kb201_pixel_scale_labels_hint():
    with pytest.raises(BinaryLabelError) as info:
        bce()(np.array([0, 255, 255, 0]), f32([[0.1], [0.8], [0.7], [0.3]]))
    assert info.value.code == "KB201" and "y = y / 255" in info.value.fix


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"label_smoothing": -0.1}, "label_smoothing=-0.1"),
        ({"label_smoothing": "0.1"}, "label_smoothing='0.1'"),
        ({"label_smoothing": float("nan")}, "label_smoothing=nan"),
        ({"pos_weight": 0}, "pos_weight=0"),
        ({"pos_weight": -2.0}, "pos_weight=-2.0"),
        ({"pos_weight": float("inf")}, "pos_weight=inf"),
        ({"pos_weight": True}, "pos_weight=True"),
    ],
)
def test_kb301_invalid_arguments(kwargs, text):
    with pytest.raises(BinaryConfigError) as info:
        bce(**kwargs)
    assert info.value.code == "KB301" and text in str(info.value)
    # The fix it proposes is itself accepted.
    name, value = info.value.fix.split("=")
    bce(**{name: float(value)})


def test_error_class_matches_registry_kind():
    classes = {"shape": BinaryShapeError, "value": BinaryLabelError, "config": BinaryConfigError}
    for code, (kind, title) in ERROR_CODES.items():
        assert error_class(code) is classes[kind]
        assert code[:3] == {"shape": "KB1", "value": "KB2", "config": "KB3"}[kind]
        assert title


def test_unknown_code_and_wrong_kind_are_rejected():
    with pytest.raises(KeyError):
        BinaryShapeError("KB999", "no such code")
    with pytest.raises(TypeError):
        BinaryShapeError("KB201", "a value code raised as a shape error")


@pytest.mark.parametrize("code", ["KB104", "KB202", "KB301"])
def test_errors_pickle_round_trip(code):
    err = error_class(code)(code, "summary.", received="r", expected="e", fix="f")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err) and copy.code == code and str(copy) == str(err)


def test_message_layout():
    err = BinaryShapeError("KB104", "the batch sizes differ.", received="R", expected="E", fix="F")
    assert str(err).splitlines() == [
        "KB104: the batch sizes differ.",
        "  Received: R",
        "  Expected: E",
        "  Fix: F",
        "  See: keras-binary explain KB104",
    ]
