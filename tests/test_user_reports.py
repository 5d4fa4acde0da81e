"""Binary-classification mistakes that users reported in public, reproduced.

Each test rebuilds the model, the compile call and the data of one public
report as closely as the report shows them (only `weights=None`, small input
shapes, a few generated examples and the Keras 3 spelling of old APIs
differ), and asserts what keras_binary does for that user: the finding of
`keras_binary.diagnose`, the coded error of the fit guard when the user's loss
or metric is keras_binary's, or the exit code of `keras-binary doctor`. The
docstring of each test cites the report.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from keras.layers import (
    Activation,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    LeakyReLU,
    MaxPooling2D,
)
from keras.models import Model, Sequential

import keras_binary
from keras_binary.cli import main as cli_main

RNG = np.random.default_rng(7)


def binary_labels(n, shape=None):
    """`n` labels in {0, 1}, both classes present."""
    y = np.array([0, 1] * (n // 2) + [0] * (n % 2))
    return y if shape is None else y.reshape(shape)


def findings(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, f"expected {code}, got {report.codes}:\n{report}"
    return found


def fit_error(model, x, y, error_type=keras_binary.BinaryModelError):
    with pytest.raises(error_type) as info:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return info.value


# ---------------------------------------------------------------------------
# A softmax over one unit: always 1.0.


def test_keras_10607_softmax_on_one_unit_with_binary_accuracy():
    """https://github.com/keras-team/keras/issues/10607

    "Why the predict_proba() doesn't work": an MLP on 34 stock indicators ends
    with `Dense(1, activation='softmax')` and `binary_crossentropy`; every
    prediction printed is the same constant.
    """
    model = Sequential()
    model.add(Input((34,)))
    model.add(Dense(512, activation="relu"))
    model.add(Dense(200, activation="relu"))
    model.add(Dense(200, activation="relu"))
    model.add(Dense(128, activation="relu"))
    model.add(Dense(1, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["binary_accuracy"])
    x_train, y_train = RNG.random((16, 34)).astype("float32"), binary_labels(16)

    report = keras_binary.diagnose(model, x_train, y_train)
    (finding,) = findings(report, "KBD002")
    assert finding.severity == "error" and not report.ok
    assert finding.where == f"layer {model.layers[-1].name!r}"
    assert "BinaryHead()" in finding.fix or "sigmoid" in finding.fix
    # Plain Keras: the constant the user saw (a softmax over one unit is 1.0).
    predictions = model.predict(x_train, verbose=0)
    assert np.ptp(predictions) == 0.0
    np.testing.assert_allclose(predictions, 1.0, atol=1e-6)

    # With a keras_binary metric the guard stops fit before the first step.
    model.compile(
        optimizer="rmsprop", loss="binary_crossentropy", metrics=[keras_binary.metrics.BinaryAccuracy()]
    )
    assert fit_error(model, x_train, y_train).code == "KBD002"


def test_so_456718_softmax_activation_layer_after_one_unit():
    """https://techfeed.net/es/456718/

    "Why does a binary Keras CNN always predict 1?" (a translation of a Stack
    Overflow question): a Conv1D network ends with `Dense(1)` followed by a
    separate `Activation('softmax')`; the confusion matrix has every
    prediction in class 1.
    """
    model = Sequential()
    model.add(Input((10, 4)))
    model.add(Conv1D(16, 4, padding="same"))
    model.add(BatchNormalization())
    model.add(LeakyReLU())
    model.add(Dropout(0.2))
    model.add(Conv1D(8, 4, padding="same"))
    model.add(BatchNormalization())
    model.add(LeakyReLU())
    model.add(Dropout(0.2))
    model.add(Flatten())
    model.add(Dense(64))
    model.add(BatchNormalization())
    model.add(LeakyReLU())
    model.add(Dense(1))
    model.add(Activation("softmax"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x_train, y_train = RNG.normal(-1.06, 0.01, (16, 10, 4)).astype("float32"), binary_labels(16, (16, 1))

    report = keras_binary.diagnose(model, x_train, y_train)
    (finding,) = findings(report, "KBD002")
    assert finding.where == f"layer {model.layers[-1].name!r}"  # the Activation layer, not the Dense


def test_keras_126_softmax_on_one_unit_with_mean_squared_error():
    """https://github.com/keras-team/keras/issues/126

    "MLP example doesn't make progress": a toy binary task with
    `Dense(64, 1, activation='softmax')` (Keras 0.x for `Dense(1, ...)`) and
    `mean_squared_error`; `predict_proba` gives all ones. The one-unit softmax
    is reported whatever the loss.
    """
    X = np.array(
        [[0.0, 0.1], [0.6, 0.8], [0.1, 0.2], [0.9, 0.8], [0.9, 0.7], [0.3, 0.0], [0.2, 0.2], [0.5, 0.9]]
    )
    y = (X[:, 0] + X[:, 1] > 0.5).astype("int32")
    model = Sequential()
    model.add(Input((2,)))
    model.add(Dense(64, kernel_initializer="uniform", activation="tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(64, kernel_initializer="uniform", activation="tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(1, kernel_initializer="uniform", activation="softmax"))
    sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    model.compile(loss="mean_squared_error", optimizer=sgd)

    report = keras_binary.diagnose(model, X, y)
    assert report.codes == ["KBD002"]


def test_so_44151760_unpooled_one_unit_softmax_with_sparse_categorical():
    """https://stackoverflow.com/questions/44151760/received-a-label-value-of-1-which-is-outside-the-valid-range-of-0-1-python

    "Received a label value of 1 which is outside the valid range of [0, 1)":
    a CNN on (16, 1, 1) inputs with no Flatten, `Dense(1, activation='softmax')`
    and `sparse_categorical_crossentropy` for a binary task. Three mistakes at
    once, each reported with its own fix.
    """
    model = Sequential()
    model.add(Input((16, 1, 1)))
    model.add(Conv2D(64, (1, 1), kernel_initializer="glorot_uniform", padding="valid", activation="relu"))
    model.add(MaxPooling2D(pool_size=(1, 1)))
    model.add(Conv2D(32, (1, 1), kernel_initializer="glorot_uniform", padding="valid", activation="relu"))
    model.add(MaxPooling2D(pool_size=(1, 1)))
    model.add(Dense(128, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(1, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    training_data, training_labels = RNG.random((8, 16, 1, 1)).astype("float32"), binary_labels(8)

    report = keras_binary.diagnose(model, training_data, training_labels)
    assert {"KBD002", "KBD003", "KBD006"} <= set(report.codes)
    assert "pool" in findings(report, "KBD006")[0].fix.lower()
    assert "SafeBCE" in findings(report, "KBD003")[0].fix


# ---------------------------------------------------------------------------
# The final activation against the loss.


def test_geeksmental_relu_output_with_binary_crossentropy():
    """https://geeksmental.com/question/why-does-accuracy-remain-the-same

    "Why does accuracy remain the same": a threshold task (is x above 50000?)
    with `Dense(1, activation='relu')` as the output and
    `binary_crossentropy`; accuracy stays near 0.5 and the loss near 7.9.
    """
    threshold, samples = 50000, 8
    rng = np.random.default_rng(1)
    train_data = [[rng.integers(0, threshold), 0] for _ in range(samples)]
    train_data += [[rng.integers(threshold, 2 * threshold), 1] for _ in range(samples)]
    data_set = np.array(train_data)
    rng.shuffle(data_set)
    input_value, expected_result = data_set[:, 0:1].astype("float32"), data_set[:, 1]

    model = Sequential()
    model.add(Input((1,)))
    model.add(Dense(3, activation="relu"))
    model.add(Dense(5, activation="relu"))
    model.add(Dense(1, activation="relu"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    report = keras_binary.diagnose(model, input_value, expected_result)
    (finding,) = findings(report, "KBD024")
    assert "relu" in finding.summary and "sigmoid" in finding.fix

    # With SafeBCE the guard names the cause before the first step (the
    # step's KB205 would say "probabilities outside [0, 1]").
    model.compile(loss=keras_binary.SafeBCE(), optimizer="adam")
    assert fit_error(model, input_value, expected_result).code == "KBD024"


def test_keras_17029_categorical_crossentropy_on_one_sigmoid_unit():
    """https://github.com/keras-team/keras/issues/17029

    "Raise an error when use categorical_crossentropy for binary
    classification": a one-unit sigmoid with `categorical_crossentropy` trains
    with every loss equal to 0 and no error.
    """
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x, y = RNG.random((16, 4)).astype("float32"), binary_labels(16)

    report = keras_binary.diagnose(model, x, y)
    (finding,) = findings(report, "KBD003")
    assert "SafeBCE" in finding.fix
    # What the issue describes: plain Keras reports a loss of 0 (up to float32 epsilon).
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] < 1e-6

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=[keras_binary.metrics.AUC()])
    assert fit_error(model, x, y).code == "KBD003"


@pytest.mark.parametrize(
    "report_url",
    [
        # "Discrepancies between evaluate accuracy and predict result": 2 sigmoid
        # units, categorical_crossentropy, Y = dataset[:, [31, 32]] (rows [0, 0]).
        "https://github.com/keras-team/keras/issues/6421",
        # "Prediction on binary classification with softmax": the probabilities do
        # not sum to 1, because the 2-unit output was a sigmoid, not a softmax.
        "https://github.com/keras-team/keras/issues/6327",
    ],
)
def test_keras_6421_6327_two_sigmoid_units_with_categorical_crossentropy(report_url):
    """https://github.com/keras-team/keras/issues/6421 and https://github.com/keras-team/keras/issues/6327

    Two sigmoid units with `categorical_crossentropy`: the two "probabilities"
    do not sum to 1 and the categorical loss is meaningless on them.
    """
    model = Sequential()
    model.add(Input((31,)))
    model.add(Dense(40, activation="relu", kernel_initializer="uniform"))
    model.add(Dense(31, activation="relu", kernel_initializer="uniform"))
    model.add(Dense(2, activation="sigmoid", kernel_initializer="uniform"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["categorical_accuracy"])
    X = RNG.random((16, 31)).astype("float32")
    Y = np.zeros((16, 2))  # the first rows the user printed were [0, 0]
    Y[8:, 1] = 1

    report = keras_binary.diagnose(model, X, Y)
    (finding,) = findings(report, "KBD003")
    assert "2 sigmoid units" in finding.summary


def test_lovedlim_2_from_logits_true_on_a_sigmoid_output():
    """https://github.com/lovedlim/tensorflow/issues/2

    A book's dog/cat classifier ends with a sigmoid but compiles with
    `BinaryCrossentropy(from_logits=True)`; Keras only warns ("Was this
    intended?") and the author confirmed the mistake.
    """
    model = Sequential(
        [
            Input((64, 64, 3)),
            Conv2D(16, 3, activation="relu"),
            MaxPooling2D(),
            Flatten(),
            Dense(32, activation="relu"),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    x, y = RNG.random((8, 64, 64, 3)).astype("float32"), binary_labels(8)

    report = keras_binary.diagnose(model, x, y)
    (finding,) = findings(report, "KBD004")
    assert "from_logits=False" in finding.fix

    model.compile(optimizer="adam", loss=keras_binary.SafeBCE(from_logits=True))
    assert fit_error(model, x, y).code == "KBD004"


def test_tf_28718_transfer_learning_tutorial_logit_with_binary_crossentropy():
    """https://github.com/tensorflow/tensorflow/issues/28718

    "Transfer Learning Using Pretrained ConvNets tutorial should use sigmoid
    activation": the tutorial's MobileNetV2 head is `Dense(1)` (a logit) but it
    compiles with `loss='binary_crossentropy'` (from_logits=False) and
    `metrics=['accuracy']`, which thresholds the logit at 0.5.
    """
    base_model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
    base_model.trainable = False
    global_average_layer = GlobalAveragePooling2D()
    prediction_layer = Dense(1)
    model = Sequential([base_model, global_average_layer, prediction_layer])
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.0001),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    x = RNG.uniform(-1.0, 1.0, (8, 32, 32, 3)).astype("float32")

    report = keras_binary.diagnose(model, x, binary_labels(8))
    assert {"KBD005", "KBD021"} <= set(report.codes)
    assert "from_logits=True" in findings(report, "KBD005")[0].fix


def test_tf_42182_keras_precision_on_a_logit_output():
    """https://github.com/tensorflow/tensorflow/issues/42182

    "Not every keras.metrics.* accept from_logits=True": an output without
    activation and `BinaryCrossentropy(from_logits=True)`, with
    `keras.metrics.Precision`, which thresholds the logits at 0.5.
    keras_binary's Precision takes `from_logits=True`.
    """

    def build(metric):
        model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1)])
        model.compile(
            optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=[metric]
        )
        return model

    x, y = RNG.random((8, 4)).astype("float32"), binary_labels(8)
    report = keras_binary.diagnose(build(keras.metrics.Precision()), x, y)
    (finding,) = findings(report, "KBD021")
    assert "keras_binary.metrics.Precision(from_logits=True)" in finding.fix
    assert keras_binary.diagnose(build(keras_binary.metrics.Precision(from_logits=True)), x, y).ok


def test_ktrain_289_two_logits_with_binary_crossentropy_and_auc():
    """https://github.com/amaiya/ktrain/issues/289

    "Transformers model metrics AUC instead of Accuracy": a two-logit
    sequence classifier compiled with `binary_crossentropy` and
    `tf.keras.metrics.AUC()` fails with "predictions must be >= 0". The head
    of that classifier is a `Dense(2)` without activation on pooled features.
    """
    features = Input((16,))
    logits = Dense(2, name="classifier")(Dense(16, activation="tanh")(features))
    model = Model(features, logits)
    metric_auc = keras.metrics.AUC()
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=[metric_auc])
    x, y = RNG.random((8, 16)).astype("float32"), np.eye(2)[binary_labels(8)]

    report = keras_binary.diagnose(model, x, y)
    assert "KBD005" in report.codes  # two logits read as probabilities
    assert {"KBD021", "KBD022"} & set(report.codes)  # AUC on logits / on a pair


def test_keras_18796_keras_metrics_accuracy_reports_zero():
    """https://github.com/keras-team/keras/issues/18796

    "tf.keras.metrics.Accuracy()" gives 0.0 every epoch where "accuracy" looks
    right: `Accuracy` compares the probabilities with the labels for exact
    equality.
    """
    model = Sequential([Input((8,)), Dense(16, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[keras.metrics.Accuracy()])
    x, y = RNG.random((16, 8)).astype("float32"), binary_labels(16)

    report = keras_binary.diagnose(model, x, y)
    (finding,) = findings(report, "KBD023")
    assert "BinaryAccuracy" in finding.fix


# ---------------------------------------------------------------------------
# Dropout after the output (KBD040, added for this report).


def _feed_forward(input_dim, nb_classes):
    """The `FeedForward` model of keras-team/keras#5992, in Keras 3 spelling."""
    in_x = Input(shape=(input_dim,), name="in_x")
    h1 = Dense(14, name="h1", activation="relu")(in_x)
    h1 = Dropout(0.5)(h1)
    h2 = Dense(8, name="h2", activation="relu")(h1)
    h2 = Dropout(0.5)(h2)
    out = Dense(nb_classes, name="out", activation="softmax")(h2)
    out = Dropout(0.5)(out)
    return Model(inputs=[in_x], outputs=[out])


def test_keras_5992_dropout_after_the_softmax_output():
    """https://github.com/keras-team/keras/issues/5992

    "Keep getting the exact same output for all samples predicted": the
    model's last layer is `Dropout(0.5)` applied to the softmax output, with
    `loss='mse'`. In training the "probabilities" are zeroed or doubled.
    """
    model = _feed_forward(10, 2)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    x, y = RNG.random((16, 10)).astype("float32"), np.eye(2)[binary_labels(16)]

    report = keras_binary.diagnose(model, x, y)
    (finding,) = findings(report, "KBD040")
    assert finding.severity == "error"
    assert finding.where == f"layer {model.layers[-1].name!r}"
    assert "rate=0.5" in finding.summary and "softmax of layer 'out'" in finding.summary
    assert "before the output layer" in finding.fix
    # The dropout layers between the hidden layers are fine: only the last one is reported.
    assert len(report.findings) == 1


def test_keras_5992_guard_names_the_dropout_not_logits():
    """https://github.com/keras-team/keras/issues/5992, with keras_binary's loss.

    Before KBD040, `SafeBCE` stopped at the first step with KB205 ("the model
    outputs logits, or its output layer is not a sigmoid"), a wrong cause for
    a sigmoid followed by dropout. The guard now stops before the first step
    with the graph finding.
    """
    in_x = Input(shape=(10,))
    out = Dense(1, activation="sigmoid", name="out")(Dense(8, activation="relu")(in_x))
    out = Dropout(0.5)(out)
    model = Model(in_x, out)
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    x, y = RNG.random((16, 10)).astype("float32"), binary_labels(16)

    error = fit_error(model, x, y)
    assert error.code == "KBD040" and "Dropout" in str(error)

    # The fix: the dropout before the output layer.
    features = Dropout(0.5)(Dense(8, activation="relu")(in_x))
    fixed = Model(in_x, Dense(1, activation="sigmoid")(features))
    fixed.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert "KBD040" not in keras_binary.diagnose(fixed, x, y).codes
    fixed.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_keras_5992_doctor_exits_1(tmp_path, capsys):
    """https://github.com/keras-team/keras/issues/5992: `keras-binary doctor` on the saved model."""
    model = _feed_forward(10, 2)
    model.compile(optimizer="adam", loss="mse")
    path = os.fspath(tmp_path / "feed_forward.keras")
    model.save(path)
    assert cli_main(["doctor", path]) == 1
    assert "KBD040" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Labels against the output.


def test_keras_13006_default_categorical_labels_with_one_sigmoid_unit(tmp_path):
    """https://github.com/keras-team/keras/issues/13006

    "Keras training and validation accuracy always converges to 0.5": the
    images come from `flow_from_directory` without `class_mode='binary'`, so
    the labels are one-hot (the default, 'categorical'), against one sigmoid
    unit. `image_dataset_from_directory(label_mode='categorical')` is the
    Keras 3 loader of the same labels.
    """
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(4):
            keras.utils.save_img(
                tmp_path / name / f"{i}.png", RNG.integers(0, 255, (32, 32, 3)).astype("uint8")
            )
    model = Sequential(
        [
            Input((32, 32, 3)),
            keras.layers.Rescaling(1.0 / 255),
            Conv2D(8, 3, activation="relu"),
            MaxPooling2D(),
            Flatten(),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])

    def loader(label_mode):
        return keras.utils.image_dataset_from_directory(
            tmp_path, image_size=(32, 32), batch_size=8, label_mode=label_mode, verbose=False
        )

    report = keras_binary.diagnose(model, loader("categorical"))
    (finding,) = findings(report, "KBD008")
    assert "argmax" in finding.fix or "SafeBCE" in finding.fix
    assert "KBD008" not in keras_binary.diagnose(model, loader("binary")).codes

    # SafeBCE reads column 1 of one-hot labels: both loaders give the same loss.
    # (Compiled afresh for each: the TensorFlow trainer retraces a second label
    # shape with relaxed, unknown dimensions.)
    model.compile(loss=keras_binary.SafeBCE(), optimizer="rmsprop")
    categorical = model.evaluate(loader("categorical"), verbose=0, return_dict=True)["loss"]
    model.compile(loss=keras_binary.SafeBCE(), optimizer="rmsprop")
    binary = model.evaluate(loader("binary"), verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(categorical, binary, rtol=1e-5)


def test_kouhan_two_unit_softmax_with_class_id_labels(tmp_path):
    """http://www.kouhan.cn/en/article/00027281

    "Resolving Shape Incompatibility Errors ... Binary Classification" (angry
    vs happy faces): the output was changed from one sigmoid unit to
    `Dense(2, activation='softmax')` with `categorical_crossentropy`, while the
    loader still gives one 0/1 label per image: "Shapes (None, 1) and
    (None, 2) are incompatible". Added for this report: KBD041.
    """
    model = Sequential(
        [
            Input((48, 48, 1)),
            Conv2D(8, 3, activation="relu"),
            MaxPooling2D(),
            Flatten(),
            Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = RNG.random((8, 48, 48, 1)).astype("float32"), binary_labels(8, (8, 1)).astype("float32")

    report = keras_binary.diagnose(model, x, y)
    (finding,) = findings(report, "KBD041")
    assert finding.severity == "error" and finding.where == "labels (y)"
    assert "sparse_categorical_crossentropy" in finding.fix and "to_categorical" in finding.fix
    # What plain Keras says: a shape error that does not mention the labels' encoding.
    with pytest.raises(ValueError, match="same shape"):
        model.fit(x, y, epochs=1, verbose=0)

    # The same labels from a folder of images (label_mode="binary" or "int").
    for name in ("angry", "happy"):
        (tmp_path / name).mkdir()
        for i in range(2):
            keras.utils.save_img(
                tmp_path / name / f"{i}.png", RNG.integers(0, 255, (48, 48, 1)).astype("uint8")
            )
    for label_mode in ("binary", "int"):
        dataset = keras.utils.image_dataset_from_directory(
            tmp_path, image_size=(48, 48), color_mode="grayscale", label_mode=label_mode, verbose=False
        )
        assert "KBD041" in keras_binary.diagnose(model, dataset).codes

    # Each fix the finding names clears it.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert keras_binary.diagnose(model, x, y).ok
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    assert keras_binary.diagnose(model, x, keras.utils.to_categorical(y, 2)).ok
    model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    assert keras_binary.diagnose(model, x, y).ok


def test_discuss_tf_11073_two_unit_softmax_with_one_hot_and_binary_crossentropy():
    """https://discuss.tensorflow.org/t/unexpected-value-of-binary-crossentropy-loss-function-in-classifier-network-with-two-outputs/11073

    "Unexpected value of binary_crossentropy loss ... with two outputs": a
    `Dense(2, activation='softmax')` network with one-hot labels and
    `BinaryCrossentropy`; the user's manual formula and `evaluate` disagreed.
    A softmax pair with one-hot labels is a valid binary encoding: diagnose
    reports nothing about the head or the loss, and SafeBCE's loss is the
    user's manual formula.
    """
    nn = Sequential([Input((1,)), Dense(2**8, activation="relu"), Dense(2, activation="softmax")])
    nn.compile(loss=keras_binary.SafeBCE(), optimizer="adam")
    train_x, train_y = np.array([[0.4]]), np.array([[0, 1]])

    # Nothing about the shapes or the loss; the one example is of one class (KBD011).
    assert keras_binary.diagnose(nn, train_x, train_y).codes == ["KBD011"]
    p = np.asarray(nn.predict(train_x, verbose=0), "float64")
    manual = np.average(-train_y * np.log(p) - (1 - train_y) * np.log(1.0 - p))
    np.testing.assert_allclose(nn.evaluate(train_x, train_y, verbose=0), manual, rtol=1e-5)


# ---------------------------------------------------------------------------
# Inputs against the backbone's preprocessing.


def test_deep_learning_models_96_rescaled_inputs_into_imagenet_backbones():
    """https://github.com/fchollet/deep-learning-models/issues/96

    "Validation accuracy stays 0.5 when Retraining ResNet50, others are fine":
    the generators use `ImageDataGenerator(rescale=1./255)`, inputs in [0, 1],
    for every backbone. ResNet50 expects caffe-style 0-255 pixels with the
    ImageNet mean subtracted (a scale mismatch: error); InceptionV3, the
    backbone in the code shown, expects [-1, 1] (a milder mismatch: warning).
    """
    images = RNG.random((8, 75, 75, 3)).astype("float32")  # rescale=1./255

    def retrain(architecture):
        pretrained_architecture = architecture(include_top=False, weights=None, input_shape=(75, 75, 3))
        x = pretrained_architecture.output
        x = Flatten()(x)
        x = Dense(32, activation="relu")(x)
        predictions = Dense(1, activation="sigmoid")(x)
        model = Model(inputs=pretrained_architecture.input, outputs=predictions)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
        return keras_binary.diagnose(model, images, binary_labels(8))

    (resnet,) = findings(retrain(keras.applications.ResNet50), "KBD014")
    assert resnet.severity == "error" and "preprocess_input" in resnet.fix
    (inception,) = findings(retrain(keras.applications.InceptionV3), "KBD014")
    assert inception.severity == "warning" and "preprocess_input" in inception.fix


# ---------------------------------------------------------------------------
# More reports: a classifier left on top, 0/255 masks, float16 outputs.


def test_tf_22479_layers_pop_leaves_the_imagenet_classifier_on_top():
    """https://github.com/tensorflow/tensorflow/issues/22479

    "Keras: removing layers with model.layers.pop() doesn't work": the user
    pops VGG16's classifier and builds the new head on
    `model.layers[-1].output`; `model.layers` is a copy, so the head sits on
    the 1000-way softmax (the answer: use `model.layers[-2].output`). Here the
    new head is binary, as in the seed report.
    """
    model = keras.applications.VGG16(weights=None, include_top=True, input_shape=(32, 32, 3))
    model.layers.pop()  # removes nothing from the model
    hidden = Dense(120, activation="relu")(model.layers[-1].output)
    output = Dense(1, activation="sigmoid")(hidden)
    new_model = Model(model.input, output)
    new_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    (finding,) = findings(keras_binary.diagnose(new_model), "KBD001")
    assert "softmax over 1000 classes" in finding.summary and "'predictions'" in finding.summary
    assert "include_top=False" in finding.fix
    new_model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
    x, y = RNG.uniform(-120, 150, (8, 32, 32, 3)).astype("float32"), binary_labels(8)
    assert fit_error(new_model, x, y).code == "KBD001"

    # The answer's fix: the head on the layer before the classifier.
    hidden = Dense(120, activation="relu")(model.layers[-2].output)
    fixed = Model(model.input, Dense(1, activation="sigmoid")(hidden))
    fixed.compile(optimizer="adam", loss="binary_crossentropy")
    assert "KBD001" not in keras_binary.diagnose(fixed).codes


def test_image_segmentation_keras_30_masks_of_0_and_255():
    """https://github.com/divamgupta/image-segmentation-keras/issues/30

    "I get all output predicted images of single color": binary segmentation
    with `binary_crossentropy` trained on masks whose pixels are 0 and 255;
    the fix that worked was masks of 0 and 1.
    """
    img_input = Input((32, 32, 3))
    conv1 = Conv2D(8, 3, padding="same", activation="relu")(img_input)
    pool1 = MaxPooling2D()(conv1)
    conv2 = Conv2D(16, 3, padding="same", activation="relu")(pool1)
    up1 = keras.layers.Concatenate()([keras.layers.UpSampling2D()(conv2), conv1])
    out = Conv2D(1, 1, activation="sigmoid")(up1)
    model = Model(img_input, out)
    model.compile(optimizer="adadelta", loss="binary_crossentropy", metrics=["accuracy"])
    x = RNG.random((4, 32, 32, 3)).astype("float32")
    masks = (RNG.random((4, 32, 32, 1)) > 0.7).astype("uint8") * 255

    (finding,) = findings(keras_binary.diagnose(model, x, masks), "KBD009")
    assert "{0, 255}" in finding.summary and "y / 255" in finding.fix
    assert keras_binary.diagnose(model, x, masks // 255).ok

    model.compile(optimizer="adadelta", loss=keras_binary.SafeBCE())
    error = fit_error(model, x, masks, keras_binary.BinaryLabelError)
    assert error.code == "KB201" and "y / 255" in error.fix


@pytest.mark.parametrize(
    ("activation", "code"),
    [
        # "Random NaN loss when using float16 dtype and batch size of 1": Dense(1, activation='tanh', dtype=float16).
        ("tanh", "KBD024"),  # https://github.com/tensorflow/tensorflow/issues/38457
        # The same report again, with Dense(units=1, dtype=float16): a linear output.
        (None, "KBD005"),  # https://github.com/tensorflow/tensorflow/issues/43172
    ],
)
def test_tf_38457_43172_float16_xor_with_binary_crossentropy(activation, code):
    """https://github.com/tensorflow/tensorflow/issues/38457 and https://github.com/tensorflow/tensorflow/issues/43172

    XOR with one float16 `Dense` unit and `BinaryCrossentropy()`: the loss is
    sometimes NaN. The output is a tanh (negative values) or linear (a logit)
    read as a probability: what the user blamed on float16 is the output.
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0], [1], [1], [0]])
    loss_function = keras.losses.BinaryCrossentropy()
    model = Sequential([Input((2,)), Dense(units=1, activation=activation, dtype="float16")])
    model.compile(optimizer="sgd", loss=loss_function)

    assert code in keras_binary.diagnose(model, x, y).codes
    model.compile(optimizer="sgd", loss=keras_binary.SafeBCE())
    assert fit_error(model, x, y).code == code


def test_stackoom_4qojq_rare_frauds_predicted_as_all_zero():
    """https://stackoom.com/en/question/4QOjQ

    "'All zero class' prediction by Neural Network": fraud detection on 5
    autoencoder features, two hidden layers of 10 relu units; 115 frauds in
    71114 test transactions (0.16 %), AUC stuck at 0.500 and every prediction
    0. The output layer is not shown: a one-unit sigmoid, as for any binary
    task. Nothing compensates the imbalance: a warning with the prior and the
    weight that would.
    """
    n_fraud, n = 4, 2500  # 0.16 %
    y_train = np.zeros(n)
    y_train[:n_fraud] = 1
    x_train = RNG.normal(size=(n, 5)).astype("float32")
    model = Sequential(
        [
            Input((5,)),
            Dense(10, activation="relu"),
            Dense(10, activation="relu"),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[keras.metrics.AUC()])

    report = keras_binary.diagnose(model, x_train, y_train)
    (finding,) = findings(report, "KBD012")
    assert finding.severity == "warning" and report.ok  # a warning: the model can still be trained
    assert "bias_init_prior=0.0016" in finding.fix and f"pos_weight={(n - n_fraud) // n_fraud}" in finding.fix
    # Compensated: class weights (told to diagnose, since fit does not store them), or the fix's head and loss.
    weights = {0: 1.0, 1: (n - n_fraud) / n_fraud}
    assert "KBD012" not in keras_binary.diagnose(model, x_train, y_train, class_weight=weights).codes
    fixed = Sequential(
        [
            Input((5,)),
            Dense(10, activation="relu"),
            Dense(10, activation="relu"),
            keras_binary.BinaryHead(bias_init_prior=0.0016),
        ]
    )
    fixed.compile(optimizer="adam", loss=keras_binary.SafeBCE(pos_weight=624))
    assert keras_binary.diagnose(fixed, x_train, y_train).codes == []
