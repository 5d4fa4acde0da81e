"""More public binary-classification reports, reproduced; and correct tutorial code left alone.

The first part follows tests/test_user_reports.py: each test rebuilds the
model, the compile call and the data of one public report (only
`weights=None`, small shapes, a few generated examples and the Keras 3
spelling differ) and asserts what keras_binary says to that user. The second
part rebuilds correct code from official tutorials and asserts that
keras_binary stays silent: `diagnose` finds nothing, and a `fit` under the
guard extended to every binary model (`set_fit_guard("all")`, what
`keras-binary run` does) trains to the same weights as plain Keras.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from keras.layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)
from keras.models import Model, Sequential
from test_user_reports import binary_labels, findings

import keras_binary
from keras_binary.cli import main as cli_main

RNG = np.random.default_rng(11)


def guarded_fit_error(model, x, y, **fit_kwargs):
    """The coded error of `fit` for a plain-Keras compile, under `set_fit_guard("all")`."""
    keras_binary.config.set_fit_guard("all")
    try:
        with pytest.raises(keras_binary.BinaryModelError) as info:
            model.fit(x, y, epochs=1, batch_size=8, verbose=0, **fit_kwargs)
    finally:
        keras_binary.config.set_fit_guard(True)
    return info.value


def assert_silent(build, x, y, *, class_weight=None, allowed=()):
    """`diagnose` finds nothing, and the guarded `fit` trains as plain Keras does.

    `build` returns a fresh compiled model. Two models are built from the
    same seed: the first is diagnosed (which changes nothing) and trained one
    epoch with the guard off (plain Keras), the second with the guard on for
    every binary model; both must end with the same loss and the same
    weights, hence the same outputs. `allowed` lists info codes that may
    appear (`KBD020` for a subclassed model).
    """
    trained = []
    for setting in (False, "all"):
        keras.utils.set_random_seed(5)
        model = build()
        if setting is False:
            report = keras_binary.diagnose(model, x, y, class_weight=class_weight)
            unexpected = [f for f in report.findings if f.code not in allowed or f.severity != "info"]
            assert not unexpected, str(report)
        keras_binary.config.set_fit_guard(setting)
        try:
            history = model.fit(
                x, y, epochs=1, batch_size=8, shuffle=False, verbose=0, class_weight=class_weight
            )
        finally:
            keras_binary.config.set_fit_guard(True)
        assert np.isfinite(history.history["loss"][-1])
        trained.append((history.history["loss"][-1], [keras.ops.convert_to_numpy(w) for w in model.weights]))
    (plain_loss, plain_weights), (guarded_loss, guarded_weights) = trained
    np.testing.assert_allclose(guarded_loss, plain_loss, rtol=1e-6)
    for guarded, plain in zip(guarded_weights, plain_weights, strict=True):
        np.testing.assert_allclose(guarded, plain, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# Reports: a one-unit output against a categorical loss or encoding.


def test_keras_14729_sigmoid_with_categorical_crossentropy_in_a_sequential_without_input():
    """https://github.com/keras-team/keras/issues/14729

    "too low accuracy": the breast-cancer data (30 features, labels from a
    `LabelEncoder`), a Sequential that starts with `Flatten()` (no Input; the
    `input_dim=30` of the next layer is ignored), `Dense(1, 'sigmoid')` and
    `loss=keras.losses.categorical_crossentropy`. Before this test,
    `diagnose(model, x, y)` only said KBD020 (no graph): it now builds the
    Sequential from the shape of `x`, as `fit` does, and reads its graph.
    """
    X_train = RNG.normal(size=(16, 30)).astype("float32")  # StandardScaler output
    y_train = binary_labels(16)

    def build():
        model3 = Sequential()
        model3.add(Flatten())
        model3.add(Dense(16, activation="relu", kernel_initializer="uniform"))
        model3.add(Dropout(0.1))
        model3.add(Dense(16, activation="relu", kernel_initializer="uniform"))
        model3.add(Dropout(0.1))
        model3.add(Dense(1, activation="sigmoid", kernel_initializer="uniform"))
        model3.compile(
            optimizer=keras.optimizers.Adam(),
            loss=keras.losses.categorical_crossentropy,
            metrics=["accuracy"],
        )
        return model3

    model3 = build()
    assert not model3.built
    report = keras_binary.diagnose(model3, X_train, y_train)
    (finding,) = findings(report, "KBD003")
    assert "SafeBCE" in finding.fix and "KBD020" not in report.codes
    # Without data the graph still cannot be read: the info says so.
    assert keras_binary.diagnose(build()).codes == ["KBD020"]
    # Plain Keras: the categorical loss of one sigmoid unit is 0, whatever the weights.
    assert model3.evaluate(X_train, y_train, verbose=0, return_dict=True)["loss"] < 1e-6
    # The user's unchanged compile under `keras-binary run`: fit stops before the first step.
    model3 = build()
    assert guarded_fit_error(model3, X_train, y_train).code == "KBD003"
    assert int(keras.ops.convert_to_numpy(model3.optimizer.iterations)) == 0


@pytest.mark.parametrize(
    ("report_url", "n_features"),
    [
        # "Cannot compile model": Jason Brownlee's Pima diabetes MLP, Dense(1) then Activation('softmax').
        ("https://github.com/keras-team/keras/issues/6066", 8),
        # "ValueError: setting an array element with a sequence": bag of words, Dense(1) then Activation('softmax').
        ("https://github.com/keras-team/keras/issues/4865", 50),
    ],
)
def test_keras_6066_4865_softmax_activation_after_one_unit(report_url, n_features):
    """https://github.com/keras-team/keras/issues/6066 and https://github.com/keras-team/keras/issues/4865

    Two binary MLPs (diabetes from 8 measurements; documents as word counts)
    end with `Dense(1)` followed by a separate `Activation('softmax')` and
    `binary_crossentropy`: the output is 1.0 for every example.
    """
    model = Sequential()
    model.add(Input((n_features,)))
    model.add(Dense(12))
    model.add(Activation("relu"))
    model.add(Dense(1))
    model.add(Activation("softmax"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    X, Y = RNG.random((16, n_features)).astype("float32"), binary_labels(16)

    (finding,) = findings(keras_binary.diagnose(model, X, Y), "KBD002")
    assert finding.where == f"layer {model.layers[-1].name!r}"
    np.testing.assert_allclose(model.predict(X, verbose=0), 1.0)
    assert guarded_fit_error(model, X, Y).code == "KBD002"


def test_keras_1524_one_hot_labels_against_one_sigmoid_unit():
    """https://github.com/keras-team/keras/issues/1524

    "One class classification": `Dense(1)` + `Activation('sigmoid')` with
    `binary_crossentropy`, on labels of shape (N, 2) (Theano: "Input
    dimension mis-match ... Inputs shapes: [(8, 2), (8, 1)]").
    """
    model = Sequential()
    model.add(Input((1022,)))
    model.add(Dense(256))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(128))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam())
    x, y = RNG.random((8, 1022)).astype("float32"), np.eye(2)[binary_labels(8)]

    (finding,) = findings(keras_binary.diagnose(model, x, y), "KBD008")
    assert "argmax" in finding.fix
    assert keras_binary.diagnose(model, x, y.argmax(-1)).ok


# ---------------------------------------------------------------------------
# Reports: class ids against a two-unit output.


def test_keras_13686_two_sigmoid_units_mse_and_class_id_labels(tmp_path, capsys):
    """https://github.com/keras-team/keras/issues/13686

    "expected activation_92 to have shape (2,) but got array with shape (1,)":
    a CNN for 2 categories ends with `Dense(2)` + `Activation('sigmoid')`
    and `loss='mean_squared_error'`, with one 0/1 label per image. Keras 3
    no longer raises: the mean squared error broadcasts the label over both
    units and trains silently. Before this test keras_binary said nothing
    either; KBD041 now covers the element-wise regression losses.
    """
    model = Sequential()
    model.add(Input((16, 16, 1)))
    model.add(Conv2D(32, (3, 3)))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(64))
    model.add(Activation("relu"))
    model.add(Dense(2))
    model.add(Activation("sigmoid"))
    model.compile(loss="mean_squared_error", optimizer="sgd", metrics=["accuracy"])
    X, Y = RNG.random((8, 16, 16, 1)).astype("float32"), binary_labels(8, (8, 1))

    (finding,) = findings(keras_binary.diagnose(model, X, Y), "KBD041")
    assert "mean_squared_error" in finding.summary and "to_categorical" in finding.fix
    # Plain Keras 3: no error, the one label is compared with both units.
    assert np.isfinite(model.evaluate(X, Y, verbose=0, return_dict=True)["loss"])
    assert "KBD041" not in keras_binary.diagnose(model, X, keras.utils.to_categorical(Y, 2)).codes

    path = os.fspath(tmp_path / "cnn.keras")
    model.save(path)
    np.savez(tmp_path / "data.npz", x=X, y=Y)
    assert cli_main(["doctor", path, "--data", os.fspath(tmp_path / "data.npz")]) == 1
    assert "KBD041" in capsys.readouterr().out


def test_keras_7339_bottleneck_top_model_with_two_units_and_binary_labels():
    """https://github.com/keras-team/keras/issues/7339

    Working through the blog's "very little data" tutorial, the user's top
    model on VGG16 bottleneck features (928, 4, 4, 512) ends with a two-unit
    `Dense` (the summary shows `dense_14 (None, 2)`) while the labels stay
    `[0] * 499 + [1] * 443`: "expected dense_14 to have shape (None, 2) but
    got array with shape (928, 1)". The compile call is not shown; the
    tutorial's is `rmsprop` with `binary_crossentropy` and a sigmoid.
    """
    model = Sequential()
    model.add(Input((4, 4, 512)))
    model.add(Flatten())
    model.add(Dense(256, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(2, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    train_data = RNG.random((8, 4, 4, 512)).astype("float32")
    train_labels = np.array([0] * 4 + [1] * 4)

    (finding,) = findings(keras_binary.diagnose(model, train_data, train_labels), "KBD041")
    assert "SafeBCE" in finding.fix
    assert guarded_fit_error(model, train_data, train_labels).code == "KBD041"


# ---------------------------------------------------------------------------
# Reports: logits and thresholds; labels outside {0, 1}; the backbone's input range.


def _tiny_make_model(input_shape, num_classes):
    """The start and the end of keras.io's `make_model` (one residual block instead of four)."""
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    previous_block_activation = x
    x = keras.layers.SeparableConv2D(32, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    residual = keras.layers.Conv2D(32, 1, strides=2, padding="same")(previous_block_activation)
    x = keras.layers.add([x, residual])
    x = keras.layers.GlobalAveragePooling2D()(x)
    units = 1 if num_classes == 2 else num_classes
    x = keras.layers.Dropout(0.25)(x)
    # We specify activation=None so as to return logits
    outputs = keras.layers.Dense(units, activation=None)(x)
    return keras.Model(inputs, outputs)


def test_keras_io_image_classification_from_scratch_binary_accuracy_on_logits():
    """https://keras.io/examples/vision/image_classification_from_scratch/

    The official cats-vs-dogs example ends `make_model` with a logit
    (`Dense(1, activation=None)`), compiles with
    `BinaryCrossentropy(from_logits=True)` and
    `metrics=[keras.metrics.BinaryAccuracy(name="acc")]`: the metric's
    default threshold 0.5 is applied to the logit (probability 0.62), so the
    reported accuracy is not the model's. keras_binary reports it; with
    `threshold=0` (or keras_binary's metric with `from_logits=True`) it is
    silent.
    """
    model = _tiny_make_model(input_shape=(32, 32, 3), num_classes=2)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
    )
    x, y = RNG.integers(0, 256, (8, 32, 32, 3)).astype("float32"), binary_labels(8)

    (finding,) = findings(keras_binary.diagnose(model, x, y), "KBD021")
    assert "from_logits=True" in finding.fix
    assert guarded_fit_error(model, x, y).code == "KBD021"
    for metric in (
        keras.metrics.BinaryAccuracy(threshold=0.0),
        keras_binary.metrics.BinaryAccuracy(from_logits=True),
    ):
        model.compile(
            optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=[metric]
        )
        assert keras_binary.diagnose(model, x, y).codes == []


def test_keras_io_transfer_learning_guide_binary_accuracy_on_logits():
    """https://keras.io/guides/transfer_learning/

    The guide's "typical transfer-learning workflow": a frozen Xception,
    `Rescaling(scale=1 / 127.5, offset=-1)` in front of it, a `Dense(1)`
    logit, `BinaryCrossentropy(from_logits=True)` and
    `metrics=[keras.metrics.BinaryAccuracy()]` (threshold 0.5 on the logit).
    Everything else is right: the preprocessing matches Xception's and the
    backbone runs with `training=False`.
    """
    base_model = keras.applications.Xception(weights=None, input_shape=(75, 75, 3), include_top=False)
    base_model.trainable = False
    inputs = keras.Input(shape=(75, 75, 3))
    scale_layer = keras.layers.Rescaling(scale=1 / 127.5, offset=-1)
    x = scale_layer(inputs)
    x = base_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    images = RNG.integers(0, 256, (4, 75, 75, 3)).astype("float32")

    report = keras_binary.diagnose(model, images, binary_labels(4))
    assert report.codes == ["KBD021"]  # not KBD014 (the range is right), not KBD013 (training=False)


def test_tf_41413_transfer_learning_tutorial_accuracy_on_logits():
    """https://github.com/tensorflow/tensorflow/issues/41413

    "Threshold to be set 0 when using binary accuracy with raw prediction
    values (from_logits=True)": the TensorFlow transfer-learning tutorial
    compiled its `Dense(1)` logit head with
    `BinaryCrossentropy(from_logits=True)` and `metrics=['accuracy']`, which
    resolves to binary accuracy at 0.5. (The tutorial was fixed with
    `BinaryAccuracy(threshold=0)`; see the correct-code test below.)
    """
    base_model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
    base_model.trainable = False
    model = Sequential([base_model, GlobalAveragePooling2D(), Dense(1)])
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.0001),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x = RNG.uniform(-1.0, 1.0, (8, 32, 32, 3)).astype("float32")

    (finding,) = findings(keras_binary.diagnose(model, x, binary_labels(8)), "KBD021")
    assert "accuracy" in finding.summary


def test_tf_41952_efficientnet_fed_rescaled_images():
    """https://github.com/tensorflow/tensorflow/issues/41952

    "Model predicts only one class in binary classification" (melanoma,
    benign/malignant): `EfficientNetB7(include_top=False)` + global pooling +
    `Dense(1, 'sigmoid')`, `loss='BinaryCrossentropy'`, AUC, and images from
    `ImageDataGenerator(rescale=1./255)`. Keras's EfficientNets rescale
    inside the model and expect pixels in [0, 255]; inputs in [0, 1] are
    near-black images. (EfficientNetB0 here: the same family and input
    contract, a fraction of B7's size.)
    """
    base_model = keras.applications.EfficientNetB0(input_shape=(32, 32, 3), include_top=False, weights=None)
    global_average_layer = GlobalAveragePooling2D()
    prediction_layer = Dense(1, activation="sigmoid")
    model = Sequential([base_model, global_average_layer, prediction_layer])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.00001),
        loss="BinaryCrossentropy",
        metrics=[keras.metrics.AUC()],
    )
    pixels = RNG.integers(0, 256, (8, 32, 32, 3)).astype("float32")

    (finding,) = findings(keras_binary.diagnose(model, pixels / 255.0, binary_labels(8)), "KBD014")
    assert finding.severity == "error" and "[0, 255]" in finding.summary + finding.fix
    assert keras_binary.diagnose(model, pixels, binary_labels(8)).codes == []


def test_keras_14046_labels_outside_0_1_into_binary_crossentropy():
    """https://github.com/keras-team/keras/issues/14046

    "Add check for ground truth label range in binary_crossentropy":
    `binary_crossentropy(y_true=[[-2.0, 2.0]], y_pred=[[0.4, 0.6]])` returns
    a number (on TensorFlow and JAX; PyTorch's kernel raises an uncoded
    RuntimeError). keras_binary's loss refuses: as written, a (1, 2) label row is
    a one-hot pair that is not one-hot (KB208); as two examples with one
    label each, the labels are outside [0, 1] (KB201).
    """
    y_pred = np.expand_dims(np.array([0.4, 0.6]), axis=0)
    y_true = np.expand_dims(np.array([-2.0, 2.0]), axis=0)
    if keras.backend.backend() == "torch":  # PyTorch's own check, an uncoded RuntimeError
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            keras.losses.binary_crossentropy(y_true, y_pred)
    else:  # TensorFlow and JAX: a number
        assert np.isfinite(keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(y_true, y_pred))).all()

    with pytest.raises(keras_binary.BinaryLabelError) as info:
        keras_binary.SafeBCE()(y_true, y_pred)
    assert info.value.code == "KB208"
    with pytest.raises(keras_binary.BinaryLabelError) as info:
        keras_binary.SafeBCE()(y_true.T, y_pred.T)
    assert info.value.code == "KB201"


# ---------------------------------------------------------------------------
# Correct code: reports whose code is right in Keras 3, and official tutorials.


def test_keras_9214_frozen_resnet_batch_norm_is_inference_in_keras_3():
    """https://github.com/keras-team/keras/issues/9214

    "Fine-tune InceptionV3/ResNet50 on a new set of classes doesn't work,
    while VGG16 works (suspect BN)": a ResNet50 whose layers are all set
    `trainable = False`, a two-class softmax head and
    `sparse_categorical_crossentropy`. In Keras 2 the frozen
    BatchNormalization layers still used batch statistics in `fit`; in
    Keras 3 a non-trainable BatchNormalization runs in inference mode, so the
    code is right and nothing is reported (no KBD013).
    """
    base_model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    x = base_model.output
    x = GlobalAveragePooling2D()(x)
    x = Dense(64, activation="relu")(x)
    predictions = Dense(2, activation="softmax")(x)
    model = Model(inputs=base_model.input, outputs=predictions)
    for layer in base_model.layers:
        layer.trainable = False
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=0.0001),
        metrics=["acc"],
    )
    x_train = keras.applications.resnet50.preprocess_input(
        RNG.normal(127, 127, (8, 32, 32, 3)).astype("float32")
    )
    y_train = np.array([0, 1] * 4)

    assert keras_binary.diagnose(model, x_train, y_train).codes == []
    batch_norm = next(la for la in base_model.layers if isinstance(la, keras.layers.BatchNormalization))
    before = keras.ops.convert_to_numpy(batch_norm.moving_mean).copy()
    model.fit(x_train, y_train, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(batch_norm.moving_mean), before)


def test_tf_31930_sigmoid_applied_as_a_function_is_a_probability():
    """https://github.com/tensorflow/tensorflow/issues/31930

    "Different results of binary cross entropy loss of the same
    architecture": `Dense(1, activation='sigmoid')` against `Dense(1)`
    followed by the function `sigmoid(...)` in the functional API, both with
    `BinaryCrossentropy(from_logits=False)`. Both are probabilities: no
    finding for either (a false KBD005 would tell the user to pass
    `from_logits=True`).
    """
    x_train, y_train = np.array([[1000.0], [0.0]] * 4, "float32"), np.array([0, 1] * 4)

    def build(functional_sigmoid):
        def make():
            inp = Input((1,))
            if functional_sigmoid:
                out = keras.activations.sigmoid(Dense(1)(inp))
            else:
                out = Dense(1, activation="sigmoid")(inp)
            model = Model(inp, out)
            model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=False))
            return model

        return make

    for functional_sigmoid in (False, True):
        assert_silent(build(functional_sigmoid), x_train, y_train)


def test_tf_transfer_learning_tutorial_logit_head_with_threshold_0():
    """https://www.tensorflow.org/tutorials/images/transfer_learning

    The current tutorial: data augmentation layers, MobileNetV2's
    `preprocess_input` on pixels in [0, 255], the frozen backbone called with
    `training=False`, a `Dense(1)` logit, `BinaryCrossentropy(from_logits=True)`
    and `BinaryAccuracy(threshold=0, name='accuracy')`.
    """
    x_train = RNG.integers(0, 256, (16, 32, 32, 3)).astype("float32")
    y_train = binary_labels(16)

    def build():
        data_augmentation = keras.Sequential(
            [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.2)]
        )
        preprocess_input = keras.applications.mobilenet_v2.preprocess_input
        base_model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
        base_model.trainable = False
        inputs = keras.Input(shape=(32, 32, 3))
        x = data_augmentation(inputs)
        x = preprocess_input(x)
        x = base_model(x, training=False)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dropout(0.2)(x)
        outputs = keras.layers.Dense(1)(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=0.0001),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(threshold=0, name="accuracy")],
        )
        return model

    assert_silent(build, x_train, y_train)


def test_tf_text_classification_tutorial_sequential_without_input():
    """https://www.tensorflow.org/tutorials/keras/text_classification

    The IMDB sentiment model: a Sequential without `keras.Input`
    (`Embedding`, dropout, `GlobalAveragePooling1D`, `Dense(1)`), compiled with
    `BinaryCrossentropy(from_logits=True)` and
    `metrics=tf.metrics.BinaryAccuracy(threshold=0.0)` (one metric, which
    Keras 3 wants in a list). `diagnose` builds it from the token ids.
    """
    max_features, sequence_length, embedding_dim = 100, 12, 16
    x_train = RNG.integers(0, max_features + 1, (16, sequence_length))
    y_train = binary_labels(16)

    def build():
        model = keras.Sequential(
            [
                Embedding(max_features + 1, embedding_dim),
                Dropout(0.2),
                GlobalAveragePooling1D(),
                Dropout(0.2),
                Dense(1),
            ]
        )
        model.compile(
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            optimizer="adam",
            metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
        )
        return model

    assert_silent(build, x_train, y_train)


def test_keras_io_imbalanced_classification_with_class_weight():
    """https://keras.io/examples/structured_data/imbalanced_classification/

    Credit-card fraud (0.17 % positives in the data, more here to keep the
    test small): a sigmoid MLP, `binary_crossentropy`, counts, precision and
    recall, and `class_weight = {0: 1 / counts[0], 1: 1 / counts[1]}` passed
    to `fit` (and to `diagnose`, which cannot read it from the model).
    """
    n, positives = 64, 2
    train_targets = np.zeros(n)
    train_targets[:positives] = 1
    train_features = RNG.normal(size=(n, 30)).astype("float32")
    counts = np.bincount(train_targets.astype("int64"))
    class_weight = {0: 1.0 / counts[0], 1: 1.0 / counts[1]}

    def build():
        model = keras.Sequential(
            [
                keras.Input(shape=train_features.shape[1:]),
                Dense(32, activation="relu"),
                Dense(32, activation="relu"),
                Dropout(0.3),
                Dense(1, activation="sigmoid"),
            ]
        )
        metrics = [
            keras.metrics.FalseNegatives(name="fn"),
            keras.metrics.FalsePositives(name="fp"),
            keras.metrics.TrueNegatives(name="tn"),
            keras.metrics.TruePositives(name="tp"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ]
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics)
        return model

    assert_silent(build, train_features, train_targets, class_weight=class_weight)
    # The same data without the weights: the imbalance warning, a warning only.
    report = keras_binary.diagnose(build(), train_features, train_targets)
    assert report.codes == ["KBD012"] and report.ok


def test_tf_imbalanced_data_tutorial_initial_bias_and_brier_score():
    """https://www.tensorflow.org/tutorials/structured_data/imbalanced_data

    `make_model(output_bias=np.log([pos / neg]))`: `Dense(16, activation='relu',
    input_shape=...)` (no `keras.Input`), dropout, a sigmoid unit whose bias
    starts at the log prior, `BinaryCrossentropy()`, and the tutorial's
    metrics (including a `MeanSquaredError` named 'Brier score' and a PR AUC),
    trained with the tutorial's class weights.
    """
    n, pos = 64, 4
    neg = n - pos
    train_labels = np.zeros(n)
    train_labels[:pos] = 1
    train_features = RNG.normal(size=(n, 29)).astype("float32")
    weight_for_0 = (1 / neg) * (n / 2.0)
    weight_for_1 = (1 / pos) * (n / 2.0)
    class_weight = {0: weight_for_0, 1: weight_for_1}
    initial_bias = np.log([pos / neg])

    def build():
        model = keras.Sequential(
            [
                Dense(16, activation="relu", input_shape=(train_features.shape[-1],)),
                Dropout(0.5),
                Dense(1, activation="sigmoid", bias_initializer=keras.initializers.Constant(initial_bias)),
            ]
        )
        metrics = [
            keras.metrics.BinaryCrossentropy(name="cross entropy"),
            keras.metrics.MeanSquaredError(name="Brier score"),
            keras.metrics.TruePositives(name="tp"),
            keras.metrics.FalsePositives(name="fp"),
            keras.metrics.TrueNegatives(name="tn"),
            keras.metrics.FalseNegatives(name="fn"),
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
            keras.metrics.AUC(name="auc"),
            keras.metrics.AUC(name="prc", curve="PR"),
        ]
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-3),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=metrics,
        )
        return model

    # The tutorial's labels are (N,); Keras 3's `keras.metrics.BinaryCrossentropy` needs the
    # output's rank (see the xfail test below), so they get their column axis here.
    assert_silent(build, train_features, train_labels[:, None], class_weight=class_weight)


@pytest.mark.xfail(
    strict=True,
    reason="diagnose does not check that Keras's own metrics accept the labels' rank: "
    "keras.metrics.BinaryCrossentropy with labels (N,) against a (N, 1) output fails in fit "
    "on every Keras 3 backend ('target and output must have the same rank/shape'), and "
    "diagnose reports nothing",
)
def test_tf_imbalanced_data_tutorial_metric_rejects_rank_1_labels_in_keras_3():
    """https://www.tensorflow.org/tutorials/structured_data/imbalanced_data, run on Keras 3.

    The tutorial (written for Keras 2) passes labels of shape (N,) with
    `keras.metrics.BinaryCrossentropy(name='cross entropy')` among its
    metrics. Keras 3's loss accepts them, its metric does not: plain `fit`
    raises "Arguments `target` and `output` must have the same rank" (shape
    on JAX and PyTorch). keras_binary says nothing before that error.
    """
    model = keras.Sequential([keras.Input((5,)), Dense(1, activation="sigmoid")])
    model.compile(
        optimizer="adam",
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryCrossentropy(name="cross entropy")],
    )
    x, y = RNG.normal(size=(8, 5)).astype("float32"), binary_labels(8)
    with pytest.raises(ValueError, match="same (rank|shape)"):
        model.evaluate(x, y, verbose=0)
    assert keras_binary.diagnose(model, x, y).codes != []


class BinaryClassifier(keras.Model):
    """The subclassing example of https://keras.io/api/models/model/, with a binary output."""

    def __init__(self):
        super().__init__()
        self.dense1 = keras.layers.Dense(32, activation="relu")
        self.dense2 = keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        x = self.dense1(inputs)
        return self.dense2(x)


def test_keras_io_subclassed_model_with_a_sigmoid_output():
    """https://keras.io/api/models/model/ ("By subclassing the Model class")

    The page's `MyModel` (`Dense(32, 'relu')`, then the output layer) with one
    sigmoid unit, compiled with `binary_crossentropy` and `accuracy`. A
    subclassed model has no graph to read: only the info KBD020 says so, and
    the guarded fit trains as plain Keras does.
    """
    x, y = RNG.normal(size=(16, 6)).astype("float32"), binary_labels(16)

    def build():
        model = BinaryClassifier()
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    assert_silent(build, x, y, allowed=("KBD020",))
