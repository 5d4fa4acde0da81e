"""The guard's reading of `fit`'s (and `evaluate`'s) arguments, judged with the model.

The whole-array label check (`_labels.check_labels`) reads `y` as the loss
will; this module decides how, from the model:

- `(N, 2)` labels are one-hot pairs only where the shape contract reads them
  so against the model's output: per-step labels of a `(N, 2, 1)` sequence
  output are not;
- a model whose `compute_loss`, `train_step` or `test_step` is its own may
  unpack `y` (label and weight columns): what reaches the loss is not `y`,
  and the losses and metrics check what they receive;
- a model whose output carries a Keras mask pads its labels at the masked
  steps, by convention with `-1`, which nothing reads (`_masks`);
- `class_weight` must be keyed by the labels, 0 and 1, and means nothing on a
  multi-label output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np

from keras_binary._masks import PADDING_ATTRIBUTE
from keras_binary.errors import BinaryConfigError
from keras_binary.guard._labels import as_label_array, check_labels
from keras_binary.guard._wrappings import is_sparse, label_entry, sparse_labels_error

# The label value of the "ignore" convention at masked steps.
PADDING_LABEL = -1.0


def check_call_arguments(
    model: Any, name: str, argument: Callable[[str], Any], objects: Iterable[Any]
) -> None:
    """The host checks of a guarded call's arguments: labels, then `class_weight`.

    Args:
        model: the guarded model.
        name: `"fit"`, `"evaluate"`, `"train_on_batch"` or `"test_on_batch"`.
        argument: returns the call's argument of a given name, or `None`.
        objects: the keras_binary losses and metrics the model was compiled with.

    Raises:
        BinaryLabelError: as `check_labels`.
        BinaryConfigError: `KB346` (class_weight keys), `KB347` (class_weight
            on a multi-label output).
    """
    objects = list(objects)
    multi_label = any(
        getattr(o, "multi_label", False) or getattr(o, "_pooled_multi_label", False) for o in objects
    )
    given = y = argument("y")
    if _labels_reach_the_loss(model, name):
        y = label_entry(y, model)
        output_shape = _output_shape(model)
        padding = PADDING_LABEL if _output_is_masked(model) else None
        for obj in objects:
            if isinstance(obj, keras.metrics.Metric):
                setattr(obj, PADDING_ATTRIBUTE, padding)
        check_labels(y, one_hot_pairs=_reads_pairs(y, output_shape, multi_label), padding=padding)
        _refuse_sparse_on_jax(given)
        if name == "fit":
            validation = argument("validation_data")
            if isinstance(validation, (tuple, list)) and len(validation) >= 2:
                validation_y = label_entry(validation[1], model)
                check_labels(
                    validation_y,
                    one_hot_pairs=_reads_pairs(validation_y, output_shape, multi_label),
                    name="validation_data y",
                    padding=padding,
                )
                _refuse_sparse_on_jax(validation[1])
    if name in ("fit", "train_on_batch"):
        check_class_weight(argument("class_weight"), multi_label=multi_label, y=y)


def _refuse_sparse_on_jax(y: Any) -> None:
    """`KB108` for sparse labels on JAX, after their values passed (`_wrappings.sparse_labels_error`)."""
    if keras.backend.backend() == "jax" and is_sparse(y):
        raise sparse_labels_error(y)


def _labels_reach_the_loss(model: Any, name: str) -> bool:
    """Whether `y` reaches the loss as passed: no `compute_loss` or step of the user's own."""
    methods = ("compute_loss", "train_step") if name in ("fit", "train_on_batch") else ("compute_loss",)
    methods += ("test_step",) if name in ("fit", "evaluate", "test_on_batch") else ()
    for method in methods:
        function = getattr(type(model), method, None)
        module = getattr(function, "__module__", "") or ""
        if not module.startswith("keras"):
            return False
    return True


def _output_shape(model: Any) -> tuple | None:
    """The static shape of the model's single output, or `None` (several, or not known)."""
    try:
        outputs = model.outputs
    except Exception:  # noqa: BLE001 - a subclassed or unbuilt model has none
        return None
    if not outputs or len(outputs) != 1:
        return None
    return tuple(outputs[0].shape)


def _output_is_masked(model: Any) -> bool:
    try:
        outputs = model.outputs or ()
    except Exception:  # noqa: BLE001 - a subclassed or unbuilt model has none
        return False
    return any(getattr(output, "_keras_mask", None) is not None for output in outputs)


def _reads_pairs(y: Any, output_shape: tuple | None, multi_label: bool) -> bool:
    """Whether the shape contract reads a last label axis of size 2 as one-hot pairs."""
    if multi_label:
        return False
    if output_shape is None:
        return True
    array = as_label_array(y)
    if array is None or array.ndim < 2 or array.shape[-1] != 2:
        return True
    from keras_binary._contract import plan_layout

    try:
        layout = plan_layout(tuple(array.shape), (array.shape[0], *output_shape[1:]), False)
    except Exception:  # noqa: BLE001 - the contract raises its shape error in the step
        return True
    return layout.label == "onehot"


def check_class_weight(class_weight: Any, *, multi_label: bool, y: Any = None) -> None:
    """Refuses a `class_weight` that Keras would apply wrongly, silently.

    Keras looks each example's weight up by its label, `int(round(y))`, and
    gives 1 to a label that is not a key; on a multi-label `(N, K)` output it
    uses the row's argmax.

    Args:
        class_weight: `fit`'s argument.
        multi_label: whether the model's loss or metrics read `(N, K)` labels.
        y: the labels, when an array (to spot a multi-label output).

    Raises:
        BinaryConfigError: `KB347` on a multi-label output, `KB346` for keys
            that are not the labels 0 and 1.

    Example:

    >>> check_class_weight({0: 1.0, 1: 4.0}, multi_label=False)
    >>> try:
    ...     check_class_weight({"0": 1.0, "1": 4.0}, multi_label=False)
    ... except BinaryConfigError as error:
    ...     print(error.code)
    KB346
    """
    if class_weight is None or not isinstance(class_weight, dict):
        return
    array = as_label_array(y)
    if multi_label or (array is not None and array.ndim >= 2 and array.shape[-1] > 2):
        raise BinaryConfigError(
            "KB347",
            "class_weight weights each example by one class, but this output has several independent "
            "labels: Keras would weight each row by the label of its largest column.",
            received=f"class_weight={class_weight!r} with a multi-label output",
            expected="no class_weight; a positive-class weight in the loss (one for all labels)",
            fix="loss=keras_binary.SafeBCE(multi_label=True, pos_weight=n_negative / n_positive)",
        )
    bad = [key for key in class_weight if not _is_label_key(key)]
    if bad:
        numeric = all(_parses_as_label(key) for key in bad)
        fix = (
            "class_weight = {int(k): v for k, v in class_weight.items()}  # keys as numbers"
            if numeric
            else "class_weight = {0: 1.0, 1: n_negative / n_positive}"
        )
        raise BinaryConfigError(
            "KB346",
            "class_weight is keyed by the labels, 0 and 1: Keras gives weight 1 to every label that "
            "is not a key, and would train unweighted, silently.",
            received=f"class_weight={class_weight!r}",
            expected="class_weight={0: weight_of_class_0, 1: weight_of_class_1} (integer keys)",
            fix=fix,
        )


def _is_label_key(key: Any) -> bool:
    if isinstance(key, (int, float, np.integer, np.floating)):
        return key in (0, 1)
    return False


def _parses_as_label(key: Any) -> bool:
    try:
        return float(key) in (0.0, 1.0)
    except (TypeError, ValueError):
        return False
