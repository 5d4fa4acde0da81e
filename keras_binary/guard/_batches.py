"""The labels of a plain-Keras binary model's batches, checked on the input side as they are drawn.

Under `keras_binary.config.set_fit_guard("all")` (and `keras-binary run`) a
model compiled only with Keras's own loss and metrics has no check in its
step, and the batches of a Python generator, a `tf.data.Dataset` or a
`keras.utils.PyDataset` cannot be read before the first step without
consuming them (and, for a shuffled dataset, changing its order). Each
batch's labels are checked where the batch is made, never in the step:

- a Python generator: on the host, as Keras draws the batch (`_checked_batches`);
- a `tf.data.Dataset` on TensorFlow: a `map` at the end of the pipeline
  (`_checked_dataset`) tests the labels with a few TensorFlow ops (in
  `[0, 1]`, not NaN, one-hot rows that sum to 1) and only for a batch that
  fails calls the host check, which writes the coded message. TensorFlow
  reads the dataset inside its step function, and a failed batch fails the
  step's `IteratorGetNext` before anything of that step runs;
- a `tf.data.Dataset` on JAX and PyTorch: on the host, where Keras's
  `TFDatasetAdapter` iterates it (`_checked_on_the_host`), the pipeline left
  as built (a map appended to it could change how far a random augmentation
  reads ahead, and so the numbers); with `class_weight`, the `map` above,
  before Keras's own class-weight lookup, which fails on labels outside its
  keys;
- a `keras.utils.PyDataset`: its `__getitem__` (`CheckedPyDataset`), where it
  runs: the host, or a worker thread or process of Keras's enqueuer, whose
  error Keras raises when it hands over that batch, in order.

The check of one batch is `check_labels(y, one_hot_pairs=True)`, the
whole-array check of arrays: the same class, code and message. Labels in a
one-element list or tuple, in a dict keyed by the model's one dict output,
ragged or sparse are checked as the array inside (`_wrappings.label_entry`;
in a `tf.data` pipeline, the entry, the flat values or the sparse values:
`_opened_labels`). No batch,
order or number changes. `fit`'s `validation_data` and `evaluate`'s `x` are
checked the same way.
"""

from __future__ import annotations

import sys
import types
import weakref
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

# What a batch's labels are called in a message.
_NAME = "a batch's y"


def checked_inputs(model: keras.Model, name: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """`fit`'s or `evaluate`'s arguments, with each batch source wrapped so that its labels are checked.

    Args:
        model: the guarded model (a plain-Keras binary model).
        name: the guarded method; only `"fit"` and `"evaluate"` take batch sources.
        args: its positional arguments.
        kwargs: its keyword arguments.

    Returns:
        `(args, kwargs)`, with `x` (and `fit`'s `validation_data`) wrapped
        when it is a generator, a `tf.data.Dataset` or a `PyDataset`; other
        inputs as they are.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, "sigmoid")])
    >>> x, y = np.zeros((4, 3)), np.ones(4)
    >>> checked_inputs(model, "fit", (x, y), {})[0][0] is x
    True
    """
    from keras_binary.guard import _POSITIONS

    if name not in ("fit", "evaluate"):
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    names = ("x", "validation_data") if name == "fit" else ("x",)
    # Keras maps class_weight over a tf.data pipeline (a lookup by label that fails on a label
    # outside the keys): the labels are checked in the pipeline before it, on every backend.
    class_weight = name == "fit" and _argument(name, args, kwargs, "class_weight") is not None
    for argument in names:
        position = _POSITIONS[name].index(argument)
        in_pipeline = class_weight and argument == "x"
        if argument in kwargs:
            kwargs[argument] = checked_source(model, kwargs[argument], in_pipeline)
        elif position < len(args):
            args[position] = checked_source(model, args[position], in_pipeline)
    return tuple(args), kwargs


def _argument(name: str, args: list, kwargs: dict, argument: str) -> Any:
    from keras_binary.guard import _fit_argument

    return _fit_argument(name, tuple(args), kwargs, argument)


def checked_source(model: keras.Model, source: Any, in_pipeline: bool = False) -> Any:
    """`source` wrapped so that each batch's labels are checked as it is drawn; else `source` itself.

    `in_pipeline`: a `tf.data.Dataset` is checked by a map in its pipeline
    on every backend (else on the host where Keras iterates it on the host).
    """
    if isinstance(source, types.GeneratorType):
        return _checked_batches(model, source, _Where())
    if isinstance(source, keras.utils.PyDataset) and not isinstance(source, CheckedPyDataset):
        return CheckedPyDataset(source, _run_mode(), _call_site(), _ModelRef(model))
    if _is_tf_dataset(source):
        return _checked_dataset(model, source, in_pipeline)
    return source


def _is_tf_dataset(source: Any) -> bool:
    if "tensorflow" not in sys.modules or not type(source).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(source, tf.data.Dataset)


# ---------------------------------------------------------------------------
# One batch.


def check_batch(batch: Any, model: Any, mode: str | None, where: Any) -> None:
    """Checks the labels of one `(x, y[, sample_weight])` batch; a dict or `(x,)` has none.

    Args:
        batch: the batch as Keras receives it.
        model: the model, or a callable returning it (`None`: judged binary).
        mode: `keras-binary run`'s mode (`"warn"` prints, else the coded error is raised).
        where: the `_Where` of the guarded call (for `--warn`'s message).

    Raises:
        BinaryLabelError: as `check_labels`, unless the model turned out not to be binary.
    """
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        check_label_values(batch[1], model, mode, where)


def check_label_values(y: Any, model: Any, mode: str | None, where: Any) -> None:
    """Checks one batch's labels with `check_labels`; arguments as `check_batch`.

    A failing batch of a model that its build showed not to be binary passes
    (a `Sequential` judged before it was built). Under `--warn` the first
    failing batch of a source is printed, with the guarded call's site, and
    the batch goes on.
    """
    from keras_binary.errors import BinaryError
    from keras_binary.guard._labels import check_labels

    try:
        if type(y) is not np.ndarray:  # a list or dict of one entry, ragged or sparse labels
            from keras_binary.guard._wrappings import label_entry

            y = label_entry(y, model)
            if type(y).__module__.startswith("tensorflow") and hasattr(y, "numpy"):
                y = y.numpy()  # a tf.data batch iterated on the host (PyTorch's loader)
        check_labels(y, one_hot_pairs=True, name=_NAME)
    except BinaryError as error:
        model = model() if callable(model) and not isinstance(model, keras.Model) else model
        if model is not None and not _still_binary(model):
            return  # an unbuilt model that its build showed is not binary (a K-way softmax)
        if mode != "warn":
            raise
        if not where.warned:
            where.warned = True
            from keras_binary.guard import _scope

            _scope.say_error(error, where.site)


def _still_binary(model: keras.Model) -> bool:
    from keras_binary.guard import is_guarded

    try:
        return bool(is_guarded(model))
    except Exception:  # noqa: BLE001 - undecided: checked
        return True


class _Where:
    """The guarded call's site, for `--warn` (batches may be made in another thread), and whether it warned."""

    def __init__(self) -> None:
        self.site = _call_site()
        self.warned = False

    def __getstate__(self) -> dict:
        return {"site": self.site, "warned": self.warned}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _run_mode() -> str | None:
    from keras_binary.guard import _scope

    return _scope.RUN_MODE


def _call_site() -> str:
    from keras_binary.guard import _scope

    return _scope.user_call_site() if _scope.RUN_MODE is not None else ""


class _ModelRef:
    """A weak, picklable reference to the model (a `PyDataset` may go to worker processes)."""

    def __init__(self, model: keras.Model) -> None:
        self.ref = weakref.ref(model)

    def __call__(self) -> keras.Model | None:
        return self.ref() if self.ref is not None else None

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.ref = None


# ---------------------------------------------------------------------------
# A Python generator.


def _checked_batches(model: keras.Model, batches: Iterator, where: _Where) -> Iterator:
    mode = _run_mode()
    for batch in batches:
        # A coded error is raised as itself: TensorFlow draws the batches in a thread of its own and
        # hands it back; the guard stops `run` at the call (`_scope.stop_at_call`).
        check_batch(batch, model, mode, where)
        yield batch


# ---------------------------------------------------------------------------
# A PyDataset.


class CheckedPyDataset(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` whose `__getitem__` checks each batch's labels; everything else is the user's.

    `workers`, `use_multiprocessing`, `max_queue_size`, `num_batches`,
    `__len__` and the epoch hooks are the wrapped dataset's; so is any other
    attribute. It pickles with the wrapped dataset (worker processes).

    Args:
        dataset: the user's `PyDataset`.
        mode: `keras-binary run`'s mode, or `None`.
        site: the guarded call's `"file:line"`, for `--warn`.
        model: a callable returning the model, or `None`.
    """

    def __init__(self, dataset: keras.utils.PyDataset, mode: str | None, site: str, model: Any = None):
        self.__dict__.update(_dataset=dataset, _mode=mode, _model=model, _where=_Where())
        self._where.site = site

    def __getattr__(self, name: str) -> Any:
        dataset = self.__dict__.get("_dataset")
        if dataset is None:
            raise AttributeError(name)
        return getattr(dataset, name)

    workers = property(lambda self: self._dataset.workers)
    use_multiprocessing = property(lambda self: self._dataset.use_multiprocessing)
    max_queue_size = property(lambda self: self._dataset.max_queue_size)
    num_batches = property(lambda self: self._dataset.num_batches)

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, index: int) -> Any:
        batch = self._dataset[index]
        check_batch(batch, self._model, self._mode, self._where)
        return batch

    def on_epoch_begin(self) -> None:
        self._dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self._dataset.on_epoch_end()


# ---------------------------------------------------------------------------
# A tf.data.Dataset.

# Attribute on a user's dataset: (run mode, the model's _ModelRef, the checked dataset, its _Where). A
# dataset passed to `fit` again is not traced again (a map costs about 20 ms); the cycle it makes
# (the checked dataset reads the user's) is the garbage collector's.
_CHECKED = "_keras_binary_checked"


def _checked_dataset(model: keras.Model, dataset: Any, in_pipeline: bool = False) -> Any:
    if keras.backend.backend() != "tensorflow" and not in_pipeline:
        return _checked_on_the_host(model, dataset)
    import tensorflow as tf

    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        return dataset  # no labels
    opened = _opened_labels(spec[1], model)
    if opened is None:
        return dataset  # labels of several outputs
    label, take, put = opened
    if not (label.dtype.is_floating or label.dtype.is_integer):
        return dataset  # booleans: nothing to check; strings: TensorFlow cannot build the step
    mode = _run_mode()
    cached = getattr(dataset, "__dict__", {}).get(_CHECKED)
    if cached is not None and cached[0] == mode and cached[1]() is model:
        cached[3].site, cached[3].warned = _call_site(), False
        return cached[2]
    where = _Where()
    model_ref = _ModelRef(model)

    def host_check(y: np.ndarray) -> np.ndarray:
        check_label_values(y, model_ref, mode, where)
        return y

    host_check = tf.autograph.experimental.do_not_convert(host_check)

    def check(*element: Any) -> tuple:
        y = take(element[1])
        checked = tf.cond(
            _labels_pass(y),
            lambda: tf.identity(y),
            lambda: tf.numpy_function(host_check, [y], y.dtype),
        )
        checked.set_shape(y.shape)
        return (element[0], put(element[1], checked), *element[2:])

    checked_dataset = dataset.map(check)
    try:
        dataset.__dict__[_CHECKED] = (mode, model_ref, checked_dataset, where)
    except AttributeError:
        pass
    return checked_dataset


def _opened_labels(spec: Any, model: keras.Model) -> tuple | None:
    """`(spec of the tensor to check, take, put)` for a batch's labels of spec `spec`; `None`: unchecked.

    `take(labels)` returns the dense tensor whose values are checked: the
    labels, the one entry of a tuple or of a dict keyed by the model's one
    dict output, the flat values of a ragged tensor, the values of a sparse
    one. `put(labels, checked)` puts the checked tensor back in their place.

    Raises:
        BinaryLabelError: `KB221` for dict labels to a model whose output is not a dict.
    """
    import tensorflow as tf

    if isinstance(spec, tf.TensorSpec):
        return spec, lambda y: y, lambda y, checked: checked
    if isinstance(spec, (tuple, list)) and len(spec) == 1:
        inner = _opened_labels(spec[0], model)
        if inner is None:
            return None
        return inner[0], lambda y: inner[1](y[0]), lambda y, checked: type(y)([inner[2](y[0], checked)])
    if isinstance(spec, dict) and len(spec) == 1:
        (key,) = spec
        outputs = model.__dict__.get("_outputs_struct")
        if not isinstance(outputs, dict):
            from keras_binary.guard import _wrappings

            if _wrappings._single_output(model) and _wrappings._labels_reach_the_loss(model):
                raise _wrappings.dict_labels_error(spec, model)
            return None
        inner = _opened_labels(spec[key], model) if set(outputs) == {key} else None
        if inner is None:
            return None
        return inner[0], lambda y: inner[1](y[key]), lambda y, checked: {key: inner[2](y[key], checked)}
    if isinstance(spec, tf.RaggedTensorSpec):
        flat = tf.TensorSpec(None, spec.dtype)
        return flat, lambda y: y.flat_values, lambda y, checked: y.with_flat_values(checked)
    if isinstance(spec, tf.SparseTensorSpec):
        values = tf.TensorSpec([None], spec.dtype)
        return (
            values,
            lambda y: y.values,
            lambda y, checked: tf.SparseTensor(y.indices, checked, y.dense_shape),
        )
    return None


def _labels_pass(y: Any) -> Any:
    """A scalar tensor: whether the batch's labels certainly pass `check_labels` (TensorFlow ops only).

    Conservative: `False` sends the batch to the host check, which decides
    (and writes the message).
    """
    import tensorflow as tf

    from keras_binary._value_checks import PAIR_SUM_TOLERANCE

    if y.shape.rank is None:
        return tf.constant(False)
    ok = tf.reduce_all(tf.logical_and(y >= tf.zeros([], y.dtype), y <= tf.ones([], y.dtype)))  # NaN fails
    if y.shape.rank >= 2 and y.shape[-1] in (2, None):

        def pairs_ok() -> Any:
            sums = tf.cast(y[..., 0] + y[..., 1], tf.float32)
            return tf.reduce_all(tf.abs(sums - 1.0) <= PAIR_SUM_TOLERANCE)

        is_pair = tf.equal(tf.shape(y)[-1], 2)
        ok = tf.logical_and(ok, tf.cond(is_pair, pairs_ok, lambda: tf.constant(True)))
    return ok


# ---------------------------------------------------------------------------
# A tf.data.Dataset on JAX and PyTorch: Keras iterates it on the host.

# Attribute on a user's dataset: (run mode, the model's _ModelRef, its _Where): check its batches at draw.
_HOST_CHECKED = "_keras_binary_host_checked"


def _checked_on_the_host(model: keras.Model, dataset: Any) -> Any:
    """Marks `dataset` so that Keras's iterator checks its batches on the host, as it draws them.

    JAX and PyTorch iterate a `tf.data.Dataset` on the host (Keras's
    `TFDatasetAdapter`): the check goes there, on each batch as Keras
    converts it, and the pipeline is left exactly as the user built it (a map
    appended to it could change how far a random augmentation reads ahead,
    and so the numbers).
    """
    _hook_tf_dataset_adapter()
    where = _Where()
    dataset.__dict__[_HOST_CHECKED] = (_run_mode(), _ModelRef(model), where)
    return dataset


def _hook_tf_dataset_adapter() -> None:
    """Wraps Keras's `TFDatasetAdapter` iterators once: a marked dataset's batches are checked as drawn."""
    from keras.src.trainers.data_adapters import tf_dataset_adapter

    adapter = tf_dataset_adapter.TFDatasetAdapter
    if getattr(adapter, "_keras_binary_hooked", False):
        return
    for name in ("get_jax_iterator", "get_numpy_iterator"):
        setattr(adapter, name, _checking_iterator(getattr(adapter, name)))
    original = adapter.get_torch_dataloader

    def get_torch_dataloader(self):
        mark = _host_mark(self)
        if mark is None:
            return original(self)
        from keras.src.trainers.data_adapters import data_adapter_utils

        return data_adapter_utils.get_torch_dataloader(_CheckedIterable(self._dataset, mark))

    adapter.get_torch_dataloader = get_torch_dataloader
    adapter._keras_binary_hooked = True


def _host_mark(adapter: Any) -> tuple | None:
    """The mark of the dataset an adapter iterates (the user's, or Keras's class_weight map of it)."""
    dataset = getattr(adapter, "_dataset", None)
    for _ in range(8):
        if dataset is None:
            return None
        mark = getattr(dataset, "__dict__", {}).get(_HOST_CHECKED)
        if mark is not None:
            model = mark[1]()
            return mark if model is not None and _guarded_call_of(model) else None
        dataset = getattr(dataset, "_input_dataset", None)
    return None


def _guarded_call_of(model: keras.Model) -> bool:
    from keras_binary.guard import _ACTIVE

    return bool(model.__dict__.get(_ACTIVE))


def _checking_iterator(method: Any) -> Any:
    def iterate(self):
        mark = _host_mark(self)
        batches = method(self)
        if mark is None:
            return batches
        return _checked_draws(batches, mark)

    iterate.__wrapped__ = method
    return iterate


def _checked_draws(batches: Iterator, mark: tuple) -> Iterator:
    mode, model, where = mark
    for batch in batches:
        check_batch(batch, model, mode, where)
        yield batch


class _CheckedIterable:
    """A dataset iterated again each epoch (PyTorch's loader), its batches checked as drawn."""

    def __init__(self, dataset: Any, mark: tuple) -> None:
        self.dataset, self.mark = dataset, mark

    def __iter__(self) -> Iterator:
        return _checked_draws(iter(self.dataset), self.mark)
