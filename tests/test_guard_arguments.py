"""The guard reads fit's arguments with the model (issue 20 items 8, 9, 12; issue 19 item 5)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_binary
from keras_binary._value_checks import PADDING_FIX, VOID_FIX
from tests.helpers import bce_reference, to_numpy


def _dense_model(units=1, loss=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss or keras_binary.SafeBCE())
    return model


X = np.zeros((4, 3), "float32")
Y = np.array([0, 1, 1, 0])


# --- item 8: (N, 2) labels read with the model's output shape --------------------------------


def test_per_step_labels_of_a_two_step_sequence_are_not_one_hot():
    model = keras.Sequential(
        [keras.Input((2, 3)), keras.layers.Dense(1, activation="sigmoid")]  # output (N, 2, 1)
    )
    model.compile(
        optimizer="sgd", loss=keras_binary.SafeBCE(), metrics=[keras_binary.metrics.BinaryAccuracy()]
    )
    y = np.array([[1, 1], [0, 0], [0, 1], [1, 0]], "float32")  # rows that are not one-hot
    history = model.fit(np.ones((4, 2, 3), "float32"), y, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_labels_a_custom_compute_loss_unpacks_are_left_to_it():
    class WeightedColumns(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y[:, 0], y_pred, sample_weight=y[:, 1], training=training)

    inputs = keras.Input((3,))
    model = WeightedColumns(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(optimizer="sgd", loss=keras_binary.SafeBCE())
    y = np.array([[0, 2.0], [1, 0.5], [1, 1.0], [0, 3.0]], "float32")  # label, weight
    history = model.fit(np.ones((4, 3), "float32"), y, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_one_hot_labels_of_a_one_unit_output_are_still_checked():
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        _dense_model().fit(X, np.array([[1, 0], [1, 1], [0, 1], [0, 0]]), verbose=0)
    assert info.value.code == "KB208"


# --- item 9: -1 padding without a mask: say how ---------------------------------------------


def test_padding_without_a_mask_says_sample_weight():
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        _dense_model().fit(X, np.array([0, 1, -1, -1]), verbose=0)
    assert info.value.code == "KB209" and info.value.fix == PADDING_FIX


# --- item 12: class_weight -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "class_weight, fix",
    [({"0": 1.0, "1": 4.0}, "int(k)"), ({0: 1.0, 2: 4.0}, "{0: 1.0, 1: n_negative / n_positive}")],
)
def test_class_weight_keys_that_are_not_the_labels_are_kb346(class_weight, fix):
    with pytest.raises(keras_binary.BinaryConfigError) as info:
        _dense_model().fit(X, Y, class_weight=class_weight, verbose=0)
    assert info.value.code == "KB346" and fix in info.value.fix


@pytest.mark.parametrize("calls_before", [0, 3], ids=["first_call", "after_good_calls"])
def test_class_weight_keys_in_train_on_batch_are_kb346(calls_before):
    # Keras's train_on_batch applies class_weight as fit does: string keys weight nothing, silently.
    model = _dense_model()
    for _ in range(calls_before):
        model.train_on_batch(X, Y)  # the plan of later calls is in place
    for call in (
        lambda: model.train_on_batch(X, Y, class_weight={"0": 1.0, "1": 4.0}),
        lambda: model.train_on_batch(X, Y, None, {"0": 1.0, "1": 4.0}),  # positional
    ):
        with pytest.raises(keras_binary.BinaryConfigError) as info:
            call()
        assert info.value.code == "KB346" and "int(k)" in info.value.fix
    model.train_on_batch(X, Y, class_weight={0: 1.0, 1: 4.0})  # the labels as keys: trains


def test_class_weight_with_number_keys_weights_as_keras():
    keras.utils.set_random_seed(1)
    model = _dense_model()
    x = np.random.default_rng(0).random((4, 3)).astype("float32")
    weighted = model.evaluate(x, Y, sample_weight=np.where(Y == 1, 4.0, 1.0), batch_size=4, verbose=0)
    # Float and NumPy keys equal to 0 and 1 are the labels: the one step's loss, at the initial
    # weights, is the weighted loss.
    history = model.fit(x, Y, class_weight={0.0: 1.0, np.int64(1): 4.0}, batch_size=4, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], weighted, rtol=1e-5)


def test_class_weight_on_a_multi_label_output_is_kb347():
    model = _dense_model(units=3, loss=keras_binary.SafeBCE(multi_label=True))
    with pytest.raises(keras_binary.BinaryConfigError) as info:
        model.fit(X, np.eye(4, 3), class_weight={0: 1.0, 1: 2.0}, verbose=0)
    assert info.value.code == "KB347" and "pos_weight" in info.value.fix


# --- item 12: object labels, pandas nullable integers ----------------------------------------


def test_object_labels_are_kb217_with_astype():
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        _dense_model().fit(X, Y.astype(object), verbose=0)
    assert info.value.code == "KB217" and info.value.fix == "y = y.astype('float32')"


def test_kb204_fix_works_on_a_pandas_nullable_column():
    pd = pytest.importorskip("pandas")
    y = pd.Series([0, 1, None, 1], dtype="Int64")
    model = _dense_model()
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(X, y, verbose=0)
    assert info.value.code == "KB204"
    # The fix as the message writes it.
    x = X
    y = np.asarray(y, dtype="float32")
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    assert model.fit(x, y, verbose=0).history["loss"]


# --- item 12: SafeFocal alpha, diagnose a PyDataset -------------------------------------------


def test_focal_alpha_without_class_balancing_is_kb348():
    with pytest.raises(keras_binary.BinaryConfigError) as info:
        keras_binary.SafeFocal(alpha=0.5)
    assert info.value.code == "KB348"
    assert keras_binary.SafeFocal(alpha=0.25).alpha == 0.25  # the default, passed explicitly
    assert keras_binary.SafeFocal(apply_class_balancing=True, alpha=0.5).alpha == 0.5


def test_focal_config_saved_with_an_idle_alpha_loads():
    config = keras_binary.SafeFocal().get_config()
    config["alpha"] = 0.6  # written before KB348; it had no effect
    loss = keras_binary.SafeFocal.from_config(config)
    assert loss.alpha == 0.25 and not loss.apply_class_balancing


def test_diagnose_reads_a_py_dataset_as_fit_does():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.zeros((4, 3), "float32"), np.array([0, 1, 2, 1])

    report = keras_binary.diagnose(_dense_model(), Batches())
    assert "KBD009" in report.codes, str(report)  # the labels of its first batch, {0, 1, 2}


# --- issue 19 item 5: void pixels ---------------------------------------------------------------


@given(seed=st.integers(0, 2**16))
def test_void_fix_is_the_loss_of_the_other_pixels(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array([0, 1, 255]), (2, 4, 4))
    y.flat[:3] = [0, 1, 255]
    p = rng.uniform(0.01, 0.99, (2, 4, 4, 1)).astype("float32")
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        keras_binary.SafeBCE()(y, p)
    assert info.value.code == "KB201" and info.value.fix == VOID_FIX and "void" in info.value.summary
    namespace = {"np": np, "y": y}
    exec(VOID_FIX.split("#")[0], namespace)  # the fix as the message writes it
    loss = keras_binary.SafeBCE(reduction="sum")(namespace["y"], p, sample_weight=namespace["sample_weight"])
    kept = y != 255
    np.testing.assert_allclose(to_numpy(loss), bce_reference(y[kept], p[..., 0][kept]).sum(), rtol=1e-5)


def test_pixel_scale_mask_keeps_divide_by_255():
    y = np.array([[0, 255], [255, 0]])
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        keras_binary.SafeBCE()(y, np.full((2, 2, 1), 0.5, "float32"))
    assert info.value.fix.startswith("y = y / 255")
