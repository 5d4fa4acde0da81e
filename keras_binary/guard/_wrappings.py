"""Labels that are not a plain array, read as the array the loss will receive.

Keras accepts a model's labels in several wrappings (Keras 3.15.1, measured
on TensorFlow, JAX and PyTorch):

- a one-element list or tuple `[y]`, for any single-output model;
- a dict `{"out": y}`, only for a model built with dict outputs
  (`keras.Model(inputs, {"out": outputs})`): for a model whose output is
  one tensor, Keras reads the dict as a structure of its keys and fails on
  the string `"out"` (`KB221`, raised here before the first step);
- a `tf.RaggedTensor` or a sparse tensor (`tf.SparseTensor`, a
  `scipy.sparse` matrix, JAX's `BCOO`, a PyTorch sparse tensor), which some
  data paths densify (a ragged `tf.data.Dataset` on JAX, a
  `tf.SparseTensor` array on PyTorch) and the others refuse.

`label_entry` unwraps them to what the host label check (`check_labels`)
reads: the array inside, the flat values of a ragged tensor, a sparse
tensor densified (labels are small: one or two numbers per example), so
that a bad label gets the code and message of the plain array. A dict of
several outputs is left to the losses and metrics (`None`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_binary.errors import BinaryLabelError


def label_entry(y: Any, model: Any = None) -> Any:
    """The labels inside `y` that the host label check reads, or `None` to leave them.

    Args:
        y: the labels as passed to `fit`, `evaluate`, `train_on_batch`, or a
            batch's labels.
        model: the model (or a callable returning it), to match a dict's
            keys against its outputs; `None`: a dict is left alone.

    Returns:
        `y` itself for an array; the one entry of a one-element list, tuple
        or dict keyed by the model's one dict output; the flat values of a
        ragged tensor; a sparse tensor densified (NumPy); `None` for a dict
        of several outputs.

    Raises:
        BinaryLabelError: `KB221` for a dict of labels given to a model
            whose output is not a dict (Keras would read the dict's keys as
            the labels).

    Example:

    >>> import numpy as np
    >>> y = np.array([0.0, 1.0])
    >>> label_entry([y]) is y
    True
    """
    if type(y) is np.ndarray:
        return y
    if isinstance(y, (list, tuple)) and len(y) == 1:
        return label_entry(y[0], model)
    if isinstance(y, dict):
        return _dict_entry(y, model)
    kind = type(y).__name__
    if "Ragged" in kind and hasattr(y, "flat_values"):
        values = y.flat_values
        return values.numpy() if hasattr(values, "numpy") else values
    if is_sparse(y):
        if kind == "SparseTensor":
            import tensorflow as tf

            return tf.sparse.to_dense(y).numpy()
        if kind in ("BCOO", "BCSR"):
            return np.asarray(y.todense())
        return y.toarray() if hasattr(y, "toarray") else y.to_dense()  # SciPy; PyTorch
    return y


def is_sparse(y: Any) -> bool:
    """Whether `y` is a sparse tensor or matrix (TensorFlow, SciPy, JAX or PyTorch).

    Example:

    >>> import numpy as np
    >>> is_sparse(np.zeros(3))
    False
    """
    kind = type(y).__name__
    return (
        (kind == "SparseTensor" and type(y).__module__.startswith("tensorflow"))
        or kind in ("BCOO", "BCSR")
        or (type(y).__module__.startswith("scipy.sparse") and hasattr(y, "toarray"))
        or bool(getattr(y, "is_sparse", False))
    )


def sparse_labels_error(y: Any) -> Exception:
    """`KB108` for sparse labels where the loss would receive them sparse (Keras's JAX backend).

    Keras's JAX backend hands a sparse `y` to the loss as a JAX `BCOO`, which
    the shape contract refuses while the step is traced; Keras's JAX `fit`
    has by then released the model's variables, so the guard refuses the
    labels on the host, before `fit` starts.

    Args:
        y: the sparse labels.

    Returns:
        The coded `BinaryShapeError`.
    """
    from keras_binary.errors import BinaryShapeError

    kind = type(y).__name__
    fix = "y = y.toarray()" if type(y).__module__.startswith("scipy") else "y = tf.sparse.to_dense(y)"
    return BinaryShapeError(
        "KB108",
        f"y is a {kind}; binary losses and metrics need dense tensors.",
        received=f"type(y)={kind}",
        expected="a dense float, int or bool tensor",
        fix=fix,
    )


def _dict_entry(y: dict, model: Any) -> Any:
    model = _resolve(model)
    if model is None:
        return None
    outputs = model.__dict__.get("_outputs_struct")
    if isinstance(outputs, dict):
        if len(outputs) == 1 and len(y) == 1 and set(y) == set(outputs):
            return label_entry(next(iter(y.values())), model)
        return None  # several outputs (or other keys): left to the losses, metrics and Keras
    if len(y) == 1 and _single_output(model) and _labels_reach_the_loss(model):
        raise dict_labels_error(y, model)
    return None


def dict_labels_error(y: Any, model: Any) -> BinaryLabelError:
    """`KB221`: dict labels for a model whose one output is a tensor, not a dict.

    Args:
        y: the labels (a dict), or the keys of a dataset's label spec.
        model: the model.

    Returns:
        The coded error.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="out")])
    >>> dict_labels_error({"out": None}, model).code
    'KB221'
    """
    keys = list(y)
    key = keys[0] if keys else "out"
    names = list(getattr(model, "output_names", None) or [])
    return BinaryLabelError(
        "KB221",
        f"the labels are a dict keyed {key!r}, but the model's output is one tensor, not a dict: Keras "
        "matches dict labels only to a model built with dict outputs, and reads this dict as its "
        "keys (the string labels "
        f"{key!r}).",
        received=f"y = dict with keys {keys!r}; model output {names[0]!r} (one tensor)"
        if names
        else f"y = dict with keys {keys!r}; model output: one tensor",
        expected="the labels as an array, or a model built with outputs={name: tensor}",
        fix=f"model.fit(x, y[{key!r}])  # or keras.Model(inputs, {{{key!r}: outputs}})",
    )


def _resolve(model: Any) -> Any:
    import keras

    if callable(model) and not isinstance(model, keras.Model):
        return model()
    return model


def _single_output(model: Any) -> bool:
    try:
        return len(model.outputs) == 1
    except Exception:  # noqa: BLE001 - a subclassed or unbuilt model: its last layer decides
        return True


def _labels_reach_the_loss(model: Any) -> bool:
    from keras_binary.guard._arguments import _labels_reach_the_loss

    return _labels_reach_the_loss(model, "fit")
