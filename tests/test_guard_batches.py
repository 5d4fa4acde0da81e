"""Under `set_fit_guard("all")`: the labels of a tf.data.Dataset's and a PyDataset's batches, checked as drawn.

A plain-Keras binary model has no check in its step; the guard checks each
batch's labels on the input side (a `map` at the end of a tf.data pipeline,
`PyDataset.__getitem__`), with the error and message of the array check,
before the bad batch's step changes the weights. A correct pipeline gives the
same numbers as unguarded.
"""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary.guard import _scope
from keras_binary.guard._labels import check_labels

tf = pytest.importorskip("tensorflow")

BATCH = 8
BAD_AT = 2  # the index of the bad batch; batches 0 and 1 are good


@pytest.fixture(autouse=True)
def _guard_all():
    keras_binary.config.set_fit_guard("all")
    yield
    keras_binary.config.set_fit_guard(True)
    _scope.RUN_MODE, _scope.STREAM = None, None


def _model(units=1, activation="sigmoid", loss="binary_crossentropy"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    return model


BAD_LABELS = {
    "labels_1_2": lambda y: y + 1,
    "labels_0_255": lambda y: y * 255,
    "labels_minus1_1": lambda y: y * 2 - 1,
    "three_classes": lambda y: np.arange(len(y)) % 3,
    "nan": lambda y: np.where(np.arange(len(y)) == 3, np.nan, y),
}


def _data(bad=None, n_batches=4, dtype="float32"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_batches * BATCH, 3)).astype("float32")
    y = (np.arange(n_batches * BATCH) % 2).astype(dtype)
    if bad is not None:
        rows = slice(BAD_AT * BATCH, (BAD_AT + 1) * BATCH)
        y = y.astype("float64")
        y[rows] = BAD_LABELS[bad](y[rows])
        y = y.astype(dtype if bad != "nan" else "float32")
    return x, y


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // BATCH

    def __getitem__(self, i):
        return self.x[i * BATCH : (i + 1) * BATCH], self.y[i * BATCH : (i + 1) * BATCH]


def _source(kind, x, y, **kwargs):
    if kind == "tf.data":
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    return Batches(x, y, **kwargs)


class WeightsAtBatchEnd(keras.callbacks.Callback):
    """The weights before the first step and after each step that ran.

    JAX and PyTorch draw the first batch before `on_train_begin` (to build),
    so the weights before `fit` are taken when the callback is made.
    """

    def __init__(self, model):
        super().__init__()
        self.weights = [model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append(self.model.get_weights())


def _expected_error(y_batch):
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        check_labels(y_batch, one_hot_pairs=True, name="a batch's y")
    return info.value


@pytest.mark.parametrize("bad", sorted(BAD_LABELS))
def test_bad_tf_data_labels_raise_the_array_error_before_their_step(bad):
    x, y = _data(bad)
    model = _model()
    record = WeightsAtBatchEnd(model)
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(_source("tf.data", x, y), epochs=1, verbose=0, callbacks=[record])
    expected = _expected_error(y[BAD_AT * BATCH : (BAD_AT + 1) * BATCH])
    assert info.value.code == expected.code
    assert str(info.value) == str(expected)
    # The two good batches trained; the bad batch's step did not change the weights.
    assert len(record.weights) == BAD_AT + 1
    for got, want in zip(model.get_weights(), record.weights[-1], strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bad", ["labels_1_2", "three_classes"])
def test_bad_py_dataset_labels_raise_the_array_error_before_their_step(bad):
    x, y = _data(bad)
    model = _model()
    record = WeightsAtBatchEnd(model)
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(_source("PyDataset", x, y), epochs=1, verbose=0, callbacks=[record])
    expected = _expected_error(y[BAD_AT * BATCH : (BAD_AT + 1) * BATCH])
    assert (info.value.code, str(info.value)) == (expected.code, str(expected))
    # Keras may draw batches ahead (to read their spec): never later than the bad batch's step.
    assert len(record.weights) <= BAD_AT + 1
    for got, want in zip(model.get_weights(), record.weights[-1], strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "workers", [{"workers": 2}, {"workers": 2, "use_multiprocessing": True}], ids=["threads", "processes"]
)
def test_py_dataset_workers_raise_the_coded_error(workers):
    x, y = _data("labels_0_255")
    model = _model()
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(_source("PyDataset", x, y, **workers), epochs=1, verbose=0)
    assert info.value.code == "KB201"


def test_one_hot_rows_that_are_not_one_hot():
    x, _ = _data()
    y = keras.utils.to_categorical(np.arange(len(x)) % 2, 2)
    y[BAD_AT * BATCH + 1] = [1.0, 1.0]
    model = _model(2, "softmax", "categorical_crossentropy")
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(_source("tf.data", x, y), epochs=1, verbose=0)
    assert info.value.code == "KB208"


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_validation_data_and_evaluate_are_checked(kind):
    x, y = _data()
    bad_x, bad_y = _data("labels_1_2")
    model = _model()
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.fit(_source(kind, x, y), validation_data=_source(kind, bad_x, bad_y), epochs=1, verbose=0)
    assert info.value.code == "KB202"
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        model.evaluate(_source(kind, bad_x, bad_y), verbose=0)
    assert info.value.code == "KB202"


def test_not_checked_without_all_or_for_a_multi_class_model():
    x, y = _data()
    keras_binary.config.set_fit_guard(True)
    dataset = _source("tf.data", x, y)
    _model().fit(dataset, epochs=1, verbose=0)
    assert not {"_keras_binary_checked", "_keras_binary_host_checked"} & set(dataset.__dict__)  # left alone
    keras_binary.config.set_fit_guard("all")
    # A Sequential without keras.Input ending in a 10-way softmax: judged from its last layer
    # (JAX and PyTorch draw the first batch before they build the model).
    classes = np.arange(len(x)) % 10
    for source in (_source("tf.data", x, classes), _source("PyDataset", x, classes)):
        model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        assert len(model.fit(source, epochs=1, verbose=0).history["loss"]) == 1


def test_warn_prints_once_and_trains():
    # Rows that are not one-hot in two batches (labels a loss of every backend takes, and trains on).
    x, _ = _data(n_batches=6)
    y = keras.utils.to_categorical(np.arange(len(x)) % 2, 2)
    y[BAD_AT * BATCH + 1] = y[-1] = [1.0, 1.0]
    err = io.StringIO()
    _scope.RUN_MODE, _scope.STREAM = "warn", err
    model = _model(2, "softmax", "categorical_crossentropy")
    history = model.fit(_source("tf.data", x, y), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert err.getvalue().count("keras-binary: error (--warn: going on) at ") == 1
    assert "KB208:" in err.getvalue() and "test_guard_batches.py:" in err.getvalue()


def _image_folder(root, n=6, size=8):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = (rng.random((size, size, 3)) * 255).astype("uint8")
            keras.utils.save_img(str(root / label / f"{i}.png"), image)
    return root


def _train_image_model(root, label_mode, scope):
    keras_binary.config.set_fit_guard(scope)
    keras.utils.set_random_seed(0)
    ds = keras.utils.image_dataset_from_directory(
        str(root), image_size=(8, 8), batch_size=4, seed=1337, label_mode=label_mode, verbose=False
    )
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Rescaling(1.0 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", keras.metrics.AUC(name="auc")]
    )
    history = model.fit(ds, validation_data=ds, epochs=2, verbose=0)
    return model.get_weights(), history.history, ds


@pytest.mark.parametrize("label_mode", ["binary", "int"])
def test_a_correct_pipeline_gives_the_same_numbers(tmp_path, label_mode):
    root = _image_folder(tmp_path / "images")
    guarded, guarded_history, ds = _train_image_model(root, label_mode, "all")
    assert {"_keras_binary_checked", "_keras_binary_host_checked"} & set(ds.__dict__)  # checked
    plain, plain_history, _ = _train_image_model(root, label_mode, True)
    for a, b in zip(guarded, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    assert guarded_history == plain_history


def test_a_correct_py_dataset_gives_the_same_numbers():
    x, y = _data()
    results = []
    for scope in ("all", True):
        keras_binary.config.set_fit_guard(scope)
        model = _model()
        history = model.fit(_source("PyDataset", x, y), epochs=2, verbose=0)
        results.append((model.get_weights(), history.history))
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert results[0][1] == results[1][1]


def test_the_private_keras_names_the_host_check_relies_on_are_still_there():
    # On JAX and PyTorch the batches of a tf.data.Dataset are checked inside Keras's
    # TFDatasetAdapter (keras_binary/guard/_batches.py). Were a name below to move, the check
    # would be skipped without a word: this test says which name moved.
    from keras.src.trainers.data_adapters import data_adapter_utils, tf_dataset_adapter

    adapter_class = getattr(tf_dataset_adapter, "TFDatasetAdapter", None)
    assert adapter_class is not None, "keras.src...tf_dataset_adapter.TFDatasetAdapter moved"
    for name in ("get_jax_iterator", "get_numpy_iterator", "get_torch_dataloader"):
        assert callable(getattr(adapter_class, name, None)), f"TFDatasetAdapter.{name} moved"
    assert callable(getattr(data_adapter_utils, "get_torch_dataloader", None)), (
        "keras.src...data_adapter_utils.get_torch_dataloader moved"
    )
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(2)
    adapter = adapter_class(dataset)
    assert adapter.__dict__.get("_dataset") is dataset, "TFDatasetAdapter no longer keeps `_dataset`"
    mapped = dataset.map(lambda x, y: (x, y))  # Keras's class_weight map is such a map
    assert getattr(mapped, "_input_dataset", None) is dataset, "tf.data's `_input_dataset` moved"
