"""Labels that are not a plain array reach the fit guard's checks: dicts, one-element lists, ragged and sparse.

Each case runs the same call twice, with the labels as a plain array and in a
wrapping, on a model compiled with `SafeBCE()` (the guard on) and on a
plain-Keras model under `set_fit_guard("all")`. Measured with Keras 3.15.1:

- `{"out": y}` is accepted for a model built with dict outputs
  (`keras.Model(inputs, {"out": outputs})`) and `[y]` for any single-output
  model, on every backend: bad labels give the plain array's outcome;
- a dict for a model whose output is one tensor is refused by Keras on every
  backend (it reads the dict's key as the labels): `KB221`;
- ragged and sparse labels: their values are checked, so that bad ones give
  the plain array's code where the guard reads the labels (the host check,
  the batches under "all"); no such call trains.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_binary
from keras_binary.errors import BinaryLabelError
from keras_binary.guard._wrappings import label_entry

tf = pytest.importorskip("tensorflow")
sparse = pytest.importorskip("scipy.sparse")

BACKEND = keras.backend.backend()
N, BATCH = 16, 8
_X = np.random.default_rng(0).normal(size=(N, 3)).astype("float32")
_Y = (np.arange(N) % 2).astype("float32")[:, None]
LABELS = {
    "good": _Y,
    "labels_1_2": _Y + 1,
    "one_hot_one_unit": keras.utils.to_categorical(_Y[:, 0], 2).astype("float32"),
    "nan": np.where(np.arange(N)[:, None] == 3, np.nan, _Y).astype("float32"),
}
WRAPS = {
    "plain": lambda y: y,
    "dict": lambda y: {"out": y},
    "list": lambda y: [y],
    "ragged": lambda y: tf.RaggedTensor.from_tensor(tf.constant(y)),
    "sparse": lambda y: tf.sparse.from_dense(tf.constant(y)),
    "scipy": lambda y: sparse.csr_matrix(y),
}
SOURCES = ("arrays", "generator", "tf.data", "PyDataset", "train_on_batch")
COMPILES = ("SafeBCE", "plain_under_all")


@pytest.fixture(autouse=True)
def _restore_guard():
    yield
    keras_binary.config.set_fit_guard(True)


def _model(compile_: str, dict_output: bool = False, guard: bool = True) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out")(inputs)
    model = keras.Model(inputs, {"out": outputs} if dict_output else outputs)
    if compile_ == "SafeBCE":
        keras_binary.config.set_fit_guard(guard)
        model.compile(optimizer="sgd", loss=keras_binary.SafeBCE())
    else:
        keras_binary.config.set_fit_guard("all" if guard else False)
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class _Batches(keras.utils.PyDataset):
    def __init__(self, y, wrap):
        super().__init__()
        self.y, self.wrap = y, wrap

    def __len__(self):
        return N // BATCH

    def __getitem__(self, i):
        rows = slice(i * BATCH, (i + 1) * BATCH)
        return _X[rows], self.wrap(self.y[rows])


def _train(model: keras.Model, source: str, wrap: str, y: np.ndarray) -> None:
    w = WRAPS[wrap]
    if source == "arrays":
        model.fit(_X, w(y), batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    elif source == "generator":
        batches = ((_X[i : i + BATCH], w(y[i : i + BATCH])) for i in range(0, N, BATCH))
        model.fit(batches, epochs=1, verbose=0)
    elif source == "tf.data":
        labels = (y,) if wrap == "list" else w(y)
        model.fit(tf.data.Dataset.from_tensor_slices((_X, labels)).batch(BATCH), epochs=1, verbose=0)
    elif source == "PyDataset":
        model.fit(_Batches(y, w), epochs=1, verbose=0)
    else:
        model.train_on_batch(_X[:BATCH], w(y[:BATCH]))


def _outcome(compile_: str, source: str, wrap: str, labels: str) -> tuple[str, str]:
    """(what happened: "trains", a code, or the class of Keras's own error; whether the weights moved)."""
    model = _model(compile_, dict_output=wrap == "dict")
    before = model.get_weights()
    try:
        _train(model, source, wrap, LABELS[labels])
        result = "trains"
    except Exception as error:  # noqa: BLE001 - the outcome is the point
        result = getattr(error, "code", None) or type(error).__name__
    try:
        after = model.get_weights()
    except Exception:  # noqa: BLE001 - Keras's JAX fit left the variables released (see below)
        return result, "released"
    moved = any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    return result, "moved" if moved else "unchanged"


def _skip_keras_rejects(source: str, wrap: str) -> None:
    if wrap == "list" and source in ("generator", "PyDataset") and BACKEND == "tensorflow":
        pytest.skip(
            "measured: on TensorFlow Keras itself rejects a list of labels in a generator's or a "
            "PyDataset's batch (TypeError: output_signature must contain tf.TypeSpec objects)"
        )


@pytest.mark.parametrize("labels", ["labels_1_2", "one_hot_one_unit", "nan"])
@pytest.mark.parametrize("wrap", ["dict", "list"])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("compile_", COMPILES)
def test_bad_labels_in_a_dict_or_list_give_the_plain_arrays_outcome(compile_, source, wrap, labels):
    _skip_keras_rejects(source, wrap)
    plain = _outcome(compile_, source, "plain", labels)
    wrapped = _outcome(compile_, source, wrap, labels)
    assert wrapped == plain
    if plain[0].startswith("KB"):
        # TensorFlow without XLA applies the refused batch's update of a SafeBCE step
        # (docs/guard.md, "After a failed step"): the plain array's batches do the same.
        assert wrapped[1] == "unchanged" or plain[1] == "moved"
        if source in ("arrays", "train_on_batch") or compile_ == "plain_under_all":
            assert wrapped[1] == "unchanged"  # checked on the host, before any step


@pytest.mark.parametrize("wrap", ["dict", "list"])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("compile_", COMPILES)
def test_good_labels_in_a_dict_or_list_train_as_plain_keras(compile_, source, wrap):
    _skip_keras_rejects(source, wrap)
    weights = []
    for guard in (True, False):
        model = _model(compile_, dict_output=wrap == "dict", guard=guard)
        _train(model, source, wrap, LABELS["good"])
        weights.append(model.get_weights())
    for guarded, unguarded in zip(*weights, strict=True):
        np.testing.assert_array_equal(guarded, unguarded)
    assert not np.array_equal(weights[0][0], _model(compile_).get_weights()[0])  # it trained


def _values_checked(compile_: str, source: str) -> bool:
    """Whether the guard reads each batch's labels on the host (else the loss does, in the step)."""
    return source in ("arrays", "train_on_batch") or compile_ == "plain_under_all"


@pytest.mark.parametrize("labels", ["labels_1_2", "nan"])
@pytest.mark.parametrize("wrap", ["ragged", "sparse", "scipy"])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("compile_", COMPILES)
def test_bad_ragged_or_sparse_labels_never_train(compile_, source, wrap, labels):
    if wrap == "scipy" and source == "tf.data":
        pytest.skip("a tf.data.Dataset cannot be built from a scipy.sparse matrix")
    plain_code = {"labels_1_2": "KB202", "nan": "KB204"}[labels]
    result, weights = _outcome(compile_, source, wrap, labels)
    assert result != "trains"
    if _values_checked(compile_, source) and not (source == "tf.data" and BACKEND == "tensorflow"):
        assert (result, weights) == (plain_code, "unchanged")
    elif _values_checked(compile_, source):
        # Measured: TensorFlow traces the step before it draws a batch, and Keras's own
        # binary_crossentropy fails on ragged or sparse labels there (TypeError), good or bad.
        assert result in (plain_code, "TypeError") and weights == "unchanged"
    else:
        # A SafeBCE model's batches reach its loss: KB108 (dense tensors needed) or, where Keras's
        # JAX or PyTorch data adapter cannot convert the batch, Keras's own ValueError.
        assert result in (plain_code, "KB108", "ValueError")
        assert weights in ("unchanged", "released")


@pytest.mark.skipif(BACKEND != "jax", reason="Keras's JAX backend hands sparse labels to the loss as a BCOO")
@pytest.mark.parametrize("wrap", ["sparse", "scipy"])
def test_sparse_labels_on_jax_are_refused_before_fit_releases_the_model(wrap):
    # Measured: the loss's KB108 at trace time leaves the variables that Keras's JAX fit released
    # unusable (get_weights raises TypeError); the guard refuses sparse labels on the host first.
    model = _model("SafeBCE")
    with pytest.raises(keras_binary.BinaryShapeError) as info:
        _train(model, "arrays", wrap, LABELS["good"])
    assert info.value.code == "KB108" and "dense" in str(info.value)
    assert model.predict(_X, verbose=0).shape == (N, 1)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("compile_", COMPILES)
def test_kb221_dict_labels_for_a_model_whose_output_is_one_tensor(compile_, source):
    model = _model(compile_)  # output: one tensor, not a dict
    before = model.get_weights()
    with pytest.raises(keras_binary.BinaryError) as info:
        _train(model, source, "dict", LABELS["good"])
    if compile_ == "SafeBCE" and source in ("generator", "tf.data", "PyDataset"):
        # A SafeBCE model's batches are read by its loss, in the step: Keras hands it the key.
        assert info.value.code == "KB108" and "y_true is the string 'out'" in str(info.value)
    else:
        assert isinstance(info.value, BinaryLabelError) and info.value.code == "KB221"
    assert info.value.fix == "model.fit(x, y['out'])  # or keras.Model(inputs, {'out': outputs})"
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_label_entry_unwraps_what_the_loss_receives():
    y = np.array([[0.0], [1.0], [1.0]])
    assert label_entry([y]) is y and label_entry((y,)) is y
    np.testing.assert_array_equal(label_entry(tf.RaggedTensor.from_tensor(tf.constant(y))), y[:, 0])
    np.testing.assert_array_equal(label_entry(sparse.csr_matrix(y)), y)
    np.testing.assert_array_equal(label_entry(tf.sparse.from_dense(tf.constant(y))), y)
    inputs = keras.Input((3,))
    two = keras.Model(inputs, {"a": keras.layers.Dense(1)(inputs), "b": keras.layers.Dense(1)(inputs)})
    assert label_entry({"a": y, "b": y}, two) is None  # several outputs: left to the losses
    one = keras.Model(inputs, {"a": keras.layers.Dense(1)(inputs)})
    assert label_entry({"a": y}, one) is y
    assert label_entry({"a": y}) is None  # no model to match the key against
