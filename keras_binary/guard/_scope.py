"""Guarding plain-Keras binary models: which models, and the checks before the first step.

With `keras_binary.config.set_fit_guard("all")` (and under `keras-binary
run`), the fit guard also covers models compiled only with Keras's own
objects. This module decides which of them are binary classifiers
(`is_binary`) and runs the checks that need no change to the model
(`check_before_first_step`): the graph, loss and metric checks of `diagnose`,
the label shape against the output (KBD041, KBD008, from static shapes:
also a dataset's `element_spec`), and the whole-array label check. It never swaps a
loss or a metric, and adds nothing to the training step: the numbers are
those of plain Keras.

A model is binary when one of its outputs has one or two units and is
trained with a binary, focal or (sparse) categorical cross-entropy, a sigmoid
or softmax, or a binary metric (accuracy, AUC, precision, recall); or has
K > 2 units that are not sigmoids under a binary loss (a binary loss on an
ImageNet classifier, the founding report's case). K sigmoids under a binary
loss (multi-label) and a K-class softmax under a categorical loss are left
alone.

Under `keras-binary run` an error finding raises `GuardStop`, a
`BaseException`, so that a script's own `except ValueError` or
`except Exception` around `fit` cannot swallow it; the command prints it with
the file and line of the script's `fit` call and exits with status 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import keras

# What the `run` command asked for: None (in-process: raise the coded error),
# "stop" (raise GuardStop) or "warn" (print every finding, raise nothing).
RUN_MODE: str | None = None
# Where findings are printed (the `run` command's stderr).
STREAM = None

# Attribute on a model: (what the checks last ran on, their error findings): they run once per compile.
_REPORTED = "_keras_binary_scope_reported"

_BINARY_LOSSES = ("binary", "focal")
_CATEGORICAL_LOSSES = ("categorical", "sparse_categorical")
_BINARY_METRICS = {
    "accuracy",
    "acc",
    "binary_accuracy",
    "auc",
    "precision",
    "recall",
    "BinaryAccuracy",
    "AUC",
    "Precision",
    "Recall",
}
# Library folders skipped when looking for the user's `fit` call.
_LIBRARY_DIRS: tuple[str, ...] | None = None


class GuardStop(BaseException):
    """An error finding that stops a script under `keras-binary run` (not catchable as `Exception`).

    Args:
        error: the coded error (`BinaryModelError`, `BinaryLabelError`).
        where: `"file:line"` of the script's `fit` call, or `""`.
        when: when it stopped, for the message: `"before the first step"`,
            or `"at a batch, before its step"` (a generator's labels).

    Example:

    >>> from keras_binary.errors import BinaryModelError
    >>> stop = GuardStop(BinaryModelError("KBD002: ..."), "train.py:12")
    >>> isinstance(stop, Exception), stop.where
    (False, 'train.py:12')
    """

    def __init__(self, error: BaseException, where: str = "", when: str = "before the first step"):
        super().__init__(str(error))
        self.error = error
        self.where = where
        self.when = when


def is_binary(model: keras.Model) -> bool | None:
    """Whether a model compiled with Keras's own loss and metrics is a binary classifier.

    Args:
        model: a compiled `keras.Model`.

    Returns:
        `True` or `False`; `None` when it cannot be told yet (a model without
        a graph, or an output of unknown size).

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(loss="binary_crossentropy")
    >>> is_binary(model)
    True
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(10, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> is_binary(model)
    False
    """
    try:
        outputs, losses, metrics = _describe(model)
    except Exception:  # noqa: BLE001 - an unusual model is not guarded, never broken
        return False
    if not outputs:
        return _judged_by_last_layer(model)
    unknown = False
    for out, loss, metric_list in zip(outputs, losses, metrics, strict=False):
        kind = loss.kind if loss is not None else None
        if out.units is None:
            unknown = True
        elif out.units in (1, 2):
            if kind in _BINARY_LOSSES + _CATEGORICAL_LOSSES:
                return True
            if out.activation in ("sigmoid", "softmax"):
                return True
            if any(_metric_name(m) in _BINARY_METRICS for m in metric_list):
                return True
        elif kind in _BINARY_LOSSES and out.activation != "sigmoid":
            return True  # a binary loss on a K-way classifier (multi-label sigmoids are left alone)
    return None if unknown else False


def _judged_by_last_layer(model: keras.Model) -> bool | None:
    """`is_binary` of a `Sequential` not built yet, from its last layer's `units` and activation.

    JAX and PyTorch draw the first batch before they build the model, so the
    batch checks ask before the graph exists: a last `Dense(10, "softmax")`
    under a categorical loss is not binary, whatever its input turns out to be.
    `None` where the last layer says nothing (no `units`).
    """
    from keras_binary import _graph
    from keras_binary.diagnostics._loss import _describe_loss

    try:
        last = model.layers[-1] if isinstance(model, keras.Sequential) and model.layers else None
        units = getattr(last, "units", None)
        if not isinstance(units, int):
            return None
        activation, _ = _graph.activation_of(last)
        loss = _describe_loss(getattr(model, "loss", None))
    except Exception:  # noqa: BLE001 - undecided
        return None
    kind = loss.kind if loss is not None else None
    if units in (1, 2):
        return (
            True
            if kind in _BINARY_LOSSES + _CATEGORICAL_LOSSES or activation in ("sigmoid", "softmax")
            else None
        )
    return kind in _BINARY_LOSSES and activation != "sigmoid"


def _describe(model: keras.Model) -> tuple[list, list, list]:
    from keras_binary import _graph
    from keras_binary.diagnostics._loss import (
        _compiled_metrics,
        _describe_loss,
        _losses_per_output,
        _metrics_per_output,
    )

    outputs = [_graph.describe_output(t) for t in _graph.model_outputs(model)]
    if not outputs:
        return [], [], []
    losses = [_describe_loss(item) for item in _losses_per_output(getattr(model, "loss", None), outputs)]
    metrics = _metrics_per_output(_compiled_metrics(model), model, len(outputs))
    return outputs, losses, metrics


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str):
        return metric
    return type(metric).__name__


def check_before_first_step(model: keras.Model, name: str, args: tuple, kwargs: dict) -> None:
    """The checks the guard runs before a plain-Keras binary model's first step.

    In order: the error findings of `diagnose` on the model (printed with its
    warnings once per compile), the label shape against the output (KBD041,
    KBD008; a dataset's from its `element_spec`), and every label of an array
    `y` (`check_labels`). An error raises the coded error; under
    `keras-binary run`, `GuardStop` ("stop") or a printed line ("warn").

    Args:
        model: the model, guarded because `is_binary(model)`.
        name: the guarded method, `"fit"`, `"evaluate"`, `"train_on_batch"`
            or `"test_on_batch"`.
        args: its positional arguments.
        kwargs: its keyword arguments.
    """
    from keras_binary.guard import _fit_argument

    y = _fit_argument(name, args, kwargs, "y")
    if y is None:
        x = _fit_argument(name, args, kwargs, "x")
        y = x if hasattr(x, "element_spec") else None
    validation_y = None
    if name == "fit":
        validation = _fit_argument(name, args, kwargs, "validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) >= 2:
            validation_y = validation[1]
        elif hasattr(validation, "element_spec"):
            validation_y = validation
    class_weight = kwargs.get("class_weight")
    key = (id(getattr(model, "_compile_loss", None)), bool(model.built), len(model.layers))
    cached = model.__dict__.get(_REPORTED)
    first = cached is None or cached[0] != key
    if first:
        try:
            errors, warnings_ = _model_findings(model, y if name == "fit" else None, class_weight)
        except Exception:  # noqa: BLE001 - a check that fails internally never stops fit
            errors, warnings_ = [], []
        model.__dict__[_REPORTED] = (key, errors)
        for finding in warnings_:
            _say(
                f"warning {finding.code} ({finding.title}) at {finding.where}: {finding.summary}\n"
                f"  Fix: {finding.fix}\n  See: keras-binary explain {finding.code}"
            )
    else:
        errors = cached[1]
    from keras_binary.errors import BinaryModelError

    for finding in errors:
        _stop(BinaryModelError(finding), report=first)
    for labels in (y, validation_y):
        problem = _shape_problem(model, labels, key)
        if problem is not None:
            _stop(problem)
    from keras_binary.errors import BinaryError
    from keras_binary.guard._labels import check_labels
    from keras_binary.guard._wrappings import label_entry

    for labels, name in ((y, "y"), (validation_y, "validation_data y")):
        if labels is None or hasattr(labels, "element_spec"):
            continue
        try:
            check_labels(label_entry(labels, model), one_hot_pairs=True, name=name)
        except BinaryError as error:
            _stop(error)


def stop_at_call(error: BaseException) -> None:
    """Under `keras-binary run` (not `--warn`), stops the script for a coded error that reached the guarded call."""
    from keras_binary.errors import BinaryError

    if RUN_MODE == "stop" and isinstance(error, BinaryError):
        raise GuardStop(error, user_call_site(), when="at a batch, before its step")


def _model_findings(model: keras.Model, y: Any, class_weight: Any) -> tuple[list, list]:
    from keras_binary.diagnostics import diagnose
    from keras_binary.guard._labels import as_label_array

    labels = as_label_array(y)
    report = diagnose(model, y=labels, class_weight=class_weight)
    # Label values are `check_labels`'s (coded KB2xx, judged from all labels).
    errors = [
        f
        for f in report.findings
        if f.severity == "error" and not f.where.startswith("labels") and f.code not in _LABEL_SHAPE_CODES
    ]
    warnings_ = [f for f in report.findings if f.severity == "warning"]
    return errors, warnings_


# Label-shape findings of `diagnose` (class ids against a two-unit output, one-hot
# labels against one unit): errors with Keras's own losses, read from static shapes.
_LABEL_SHAPE_CODES = ("KBD041", "KBD008")
# Attribute on a model: {(compile key, label shape): the label-shape finding or None}.
_SHAPES = "_keras_binary_scope_shapes"


def _shape_problem(model: keras.Model, y: Any, key: tuple) -> Exception | None:
    """KBD041 / KBD008 from the labels' static shape (an array's, or a dataset's `element_spec`)."""
    shape = _label_shape(y, model)
    if shape is None or len(shape) == 0:
        return None
    cache = model.__dict__.setdefault(_SHAPES, {})
    if (key, shape) not in cache:
        import numpy as np

        from keras_binary.diagnostics import diagnose

        finding = None
        try:
            dummy = np.zeros([2 if size is None else size for size in shape], dtype="int64")
            report = diagnose(model, y=dummy)
            finding = next((f for f in report.findings if f.code in _LABEL_SHAPE_CODES), None)
        except Exception:  # noqa: BLE001 - a check that fails internally never stops fit
            finding = None
        cache[(key, shape)] = finding
    finding = cache[(key, shape)]
    if finding is None:
        return None
    from keras_binary.errors import BinaryModelError

    return BinaryModelError(finding)


def _label_shape(y: Any, model: Any = None) -> tuple | None:
    """The static shape of the labels: of an array, or of a `tf.data.Dataset`'s label spec.

    Labels in a one-element list or tuple, or in a dict of one entry keyed
    by `model`'s one dict output, have the shape of the array inside.
    """
    dict_output = isinstance(getattr(model, "__dict__", {}).get("_outputs_struct"), dict)
    spec = getattr(y, "element_spec", None)
    if spec is not None:
        if isinstance(spec, (tuple, list)) and len(spec) >= 2:
            label = _only_entry(spec[1], dict_output)
            shape = getattr(label, "shape", None)
            if shape is None or getattr(shape, "rank", 0) is None:
                return None
            return tuple(shape)
        return None
    y = _only_entry(y, dict_output)
    if isinstance(y, (list, tuple, dict, str, bytes)) or not hasattr(y, "shape"):
        return None
    try:
        return tuple(y.shape)
    except Exception:  # noqa: BLE001
        return None


def _only_entry(y: Any, dict_output: bool) -> Any:
    """The labels of a one-element list or tuple, or dict (`dict_output`: the model's output is one); else `y`."""
    if isinstance(y, (list, tuple)) and len(y) == 1:
        return y[0]
    if isinstance(y, dict) and len(y) == 1 and dict_output:
        return next(iter(y.values()))
    return y


def _stop(error: BaseException, report: bool = True) -> None:
    """Raises `error` in-process, `GuardStop` under `run`, or prints it under `run --warn`."""
    if RUN_MODE is None:
        raise error
    where = user_call_site()
    if RUN_MODE == "warn":
        if report:
            say_error(error, where)
        return
    raise GuardStop(error, where)


def say_error(error: BaseException, where: str) -> None:
    """Prints an error finding under `keras-binary run --warn`, which goes on."""
    _say(f"error (--warn: going on) at {where}:\n{run_text(error)}")


def run_text(error: BaseException) -> str:
    """The coded message as `keras-binary run` prints it: its advice is the command's, not `set_fit_guard`'s.

    In-process, a `BinaryModelError` says that `set_fit_guard(False)` turns
    the guard off; under `run` the user never called it, so that line says
    what found it, and the command says how to go on (fix the line, or
    `--warn`).

    Args:
        error: the coded error.

    Returns:
        Its message, with the guard's note rewritten for `run`.

    Example:

    >>> from keras_binary.errors import BinaryModelError
    >>> from keras_binary.diagnostics import Finding
    >>> error = BinaryModelError(Finding("KBD002", "error", "layer 'dense'", "t.", "s.", "activation='sigmoid'"))
    >>> "set_fit_guard" in run_text(error), "keras-binary run" in run_text(error)
    (False, True)
    """
    from keras_binary.errors import GUARD_NOTE

    note = "(found before the first step by keras-binary run)"
    return str(error).replace(GUARD_NOTE, note)


def _say(text: str) -> None:
    stream = STREAM if STREAM is not None else sys.stderr
    stream.write(f"keras-binary: {text}\n")
    stream.flush()


def user_call_site() -> str:
    """`"file:line"` of the innermost caller outside keras_binary, Keras and the backends."""
    global _LIBRARY_DIRS
    if _LIBRARY_DIRS is None:
        dirs = []
        for name in ("keras_binary", "keras", "tensorflow", "jax", "torch", "optree", "mlflow"):
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if path:
                dirs.append(os.path.dirname(os.path.abspath(path)) + os.sep)
        _LIBRARY_DIRS = tuple(dirs)
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_LIBRARY_DIRS) and not frame.f_code.co_filename.startswith("<"):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return ""
