"""`diagnose`, `graph_errors` and `load_model`: the entry points."""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from keras_binary import _graph, _model_files
from keras_binary.diagnostics._context import _Context
from keras_binary.diagnostics._data import (
    _as_array,
    _check_class_names,
    _check_input_range,
    _check_inputs,
    _check_labels,
    _from_dataset,
)
from keras_binary.diagnostics._loss import (
    _check_categorical_loss,
    _check_final_activation,
    _check_from_logits,
    _check_metric_encoding,
    _check_metrics,
    _compiled_metrics,
    _describe_loss,
    _losses_per_output,
    _metrics_per_output,
)
from keras_binary.diagnostics._model import (
    _check_batch_norm_mode,
    _check_classifier_stacking,
    _check_first_predictions,
    _check_layer_attributes,
    _check_logit_classifier,
    _check_mixed_precision,
    _check_noise_after_activation,
    _check_not_binary,
    _check_size1_softmax,
    _check_spatial_output,
)
from keras_binary.diagnostics._report import SEVERITIES, Finding, Report, _finding

# The checks, in report order. Those of `_GRAPH_CHECKS` read only the model
# (its graph, compiled loss and metrics): `graph_errors` runs them before `fit`.
_GRAPH_CHECKS = (
    _check_not_binary,
    _check_classifier_stacking,
    _check_logit_classifier,
    _check_size1_softmax,
    _check_categorical_loss,
    _check_from_logits,
    _check_final_activation,
    _check_noise_after_activation,
    _check_metrics,
    _check_metric_encoding,
    _check_spatial_output,
    _check_batch_norm_mode,
    _check_mixed_precision,
)
_CHECKS = (
    _check_inputs,
    *_GRAPH_CHECKS[:10],
    _check_spatial_output,
    _check_labels,
    _check_batch_norm_mode,
    _check_input_range,
    _check_mixed_precision,
    _check_class_names,
)


# ---------------------------------------------------------------------------
# The entry points.


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a `.keras` file for `diagnose`, with clear errors.

    Args:
        path: the path of a `.keras` (or legacy `.h5`) model file, or of a
            `.keras` directory (one holding `config.json`).

    Returns:
        The model, compiled as it was saved.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a Keras model Keras can load.

    Example:

    >>> try:
    ...     load_model("no_such_model.keras")
    ... except FileNotFoundError as error:
    ...     print(error)
    no model file at 'no_such_model.keras'.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        problem = _model_files.describe_directory(path)  # None: a .keras directory, which Keras loads
        if problem is not None:
            raise ValueError(problem)
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}.")
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras model file: a .keras file is a zip archive written by model.save('model.keras')."
        )
    import keras_binary  # noqa: F401 - registers the package's layers, losses and metrics

    try:
        with warnings.catch_warnings():
            # Saved before any training step, a compiled model has fewer optimizer
            # variables than a fresh one: harmless for reading the model.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure means "not a model Keras can load"
        raise ValueError(_model_files.load_failure(path, error)) from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} holds a {type(model).__name__}, not a Keras model.")
    return model


def diagnose(
    model: keras.Model | str | os.PathLike,
    x: Any = None,
    y: Any = None,
    loss: Any = None,
    class_weight: Mapping[int, float] | None = None,
) -> Report:
    """Finds the silent mistakes of a binary classifier, before training.

    Reads the model's functional graph, its layers and its loss, and the data
    when given, and reports each problem with a stable code (`KBD001`, ...;
    see `DIAGNOSTIC_CODES` and docs/diagnose.md), a severity, the layer or
    data concerned, an explanation and the fix. It checks:

    - a binary head stacked on a K > 2 softmax (`include_top=True` left on);
    - a softmax over an axis of size 1 (`Dense(1, activation="softmax")`);
    - a sigmoid or one-unit output with a categorical cross-entropy;
    - `from_logits` disagreeing with the final activation;
    - an unpooled spatial output against per-example labels;
    - labels: outside {0, 1}, one-hot against one unit, NaN, a single
      class, strong imbalance with no `pos_weight`, class weight or bias
      prior (with the values to use);
    - BatchNormalization layers of a frozen (or `training=False`)
      backbone that `fit` runs in training mode, and inputs outside the range the backbone's
      `preprocess_input` produces (known `keras.applications` families,
      recognised by their model name, when `x` is given);
    - a sigmoid or softmax output computed in float16 or bfloat16.

    The model is never modified: no training step runs, no weight or
    compile setting changes. A Sequential model without `keras.Input` is
    built from the shape of `x`, as `fit` would build it, so that its graph
    can be read.

    Args:
        model: a `keras.Model`, or the path of a `.keras` file.
        x: optional inputs (a NumPy array or tensor; a sample is enough).
        y: optional labels for `x`.
        loss: the loss to check; `None` takes the model's compiled loss.
        class_weight: the `class_weight` you pass to `fit`, if any (it is not
            stored in the model); it counts as compensating an imbalance.

    Returns:
        A `Report`: `report.ok` is `False` when an error was found;
        `str(report)` reads well; `report.to_dict()` is JSON-ready.

    Raises:
        FileNotFoundError: `model` is a path to no file.
        ValueError: `model` is a file that is not a loadable Keras model.
        TypeError: `model` is neither a model nor a path.

    Example:

    >>> backbone = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    >>> model = keras.Sequential([backbone, keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy")
    >>> report = diagnose(model)
    >>> report.codes
    ['KBD001']
    >>> print(str(report).splitlines()[1])
    error KBD001 at layer 'dense_1': the binary head's input is a softmax over 10 classes ...
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"diagnose needs a keras.Model or the path of a .keras file, received {type(model).__name__}."
        )
    x, y, class_names = _from_dataset(x, y)
    x = _as_array(x)
    y = _as_array(y)
    _build_from_inputs(model, x)
    if loss is None:
        loss = getattr(model, "loss", None)
    try:
        ctx = _context(model, loss, x, y, class_weight, class_names)
        failed: list[Finding] = []
    except Exception as error:  # noqa: BLE001 - an unusual model: report it, read no graph
        ctx = _Context(model, [], [], x, y, class_weight, [], class_names)
        failed = [_could_not_run("reading the model's outputs", error)]
    outputs = ctx.outputs

    findings: list[Finding] = []
    if not outputs:
        findings += (
            []
            if failed
            else [
                _finding(
                    "KBD020",
                    "model",
                    f"model {model.name!r} has no functional graph (a subclassed model, or a Sequential model "
                    "without an Input): only the loss and data checks ran.",
                    "the layer checks read the graph of layer calls, which only functional and built "
                    "Sequential models record.",
                    "start a Sequential model with keras.Input(shape), or build the model with the functional API",
                )
            ]
        )
        described = _describe_loss(loss if not isinstance(loss, (list, tuple, Mapping)) else None)
        ctx = ctx._replace(losses=[described])
        for check in (
            _check_inputs,
            _check_layer_attributes,
            _check_first_predictions,
            _check_labels,
            _check_class_names,
        ):
            findings += _run_check(check, ctx)
    else:
        for check in _CHECKS:
            findings += _run_check(check, ctx)
    findings += failed
    if loss is None:
        findings.append(
            _finding(
                "KBD018",
                "loss",
                "the model is not compiled and no loss was given: the loss checks were skipped.",
                "the loss must agree with the output (from_logits, binary or categorical).",
                "diagnose(model, x, y, loss=keras_binary.SafeBCE())  # or compile the model first",
            )
        )
    findings = _deduplicate(findings)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: order[f.severity])
    described = [d for d in ctx.losses if d is not None]
    checked = {
        "graph": bool(outputs),
        "loss": described[0].name if described else None,
        "labels": isinstance(y, np.ndarray),
        "inputs": x is not None,
    }
    return Report(findings, model.name, checked)


def _build_from_inputs(model: keras.Model, x: Any) -> None:
    """Builds a Sequential model without `keras.Input` from the shape of `x`, as `fit` would.

    Such a model has no graph until it is built; once built from the inputs'
    shape it has one, and the graph checks read it. A model whose build fails
    on these inputs is left as it is (`KBD019` and `KBD020` then say why).
    """
    if not isinstance(model, keras.Sequential) or model.built:
        return
    if not isinstance(x, np.ndarray) or x.ndim < 1 or x.dtype.kind not in "fiub":
        return
    try:
        model.build((None, *x.shape[1:]))
    except Exception:  # noqa: BLE001,S110 - inputs the model cannot take: the data checks report them
        pass


def _run_check(check: Any, ctx: _Context) -> list[Finding]:
    """The findings of one check; a check that fails on this model gives a `KBD026` info instead."""
    try:
        return list(check(ctx))
    except Exception as error:  # noqa: BLE001 - a check must never stop diagnose
        return [_could_not_run(check.__name__.removeprefix("_check_").replace("_", " "), error)]


def _could_not_run(what: str, error: BaseException) -> Finding:
    reason = f"{type(error).__name__}: {error}".strip()
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return _finding(
        "KBD026",
        "model",
        f"the check {what!r} could not run on this model ({reason}); the other checks ran.",
        "the checks read the model's graph and layers; an unusual layer or graph can defeat one of them, "
        "which then finds nothing rather than stopping diagnose (please report it).",
        "nothing to change in your model; report the model's construction to keras_binary",
    )


def _deduplicate(findings: Sequence[Finding]) -> list[Finding]:
    seen, result = set(), []
    for f in findings:
        key = (f.code, f.where, f.summary)
        if key not in seen:
            seen.add(key)
            result.append(f)
    return result


def _context(model: Any, loss: Any, x: Any, y: Any, class_weight: Any, class_names: Any) -> _Context:
    outputs = [_graph.describe_output(t) for t in _graph.model_outputs(model)]
    losses = [_describe_loss(item) for item in _losses_per_output(loss, outputs)] if outputs else []
    metrics = _metrics_per_output(_compiled_metrics(model), model, len(outputs))
    return _Context(model, outputs, losses, x, y, class_weight, metrics, class_names)


def graph_errors(model: keras.Model, loss: Any = None) -> list[Finding]:
    """The errors `diagnose` finds in a model alone: its graph, compiled loss and metrics.

    The checks of `diagnose` that need no data (a binary head on a K-way
    softmax, a softmax over one unit, a categorical loss on a sigmoid,
    `from_logits` against the final activation, an activation that is
    neither a probability nor a logit, threshold metrics on logits or on a
    softmax pair, an output that is not binary with a binary loss), keeping
    the findings of severity `"error"`. It is fast (it reads the graph once,
    runs no computation) and never raises: a check that fails on an unusual
    model is skipped, and a model without a graph is checked by its layers only
    (a `Dense(1)` with a softmax among them). The
    `fit` guard calls it before the first step.

    Args:
        model: a `keras.Model`, compiled or not.
        loss: the loss to check; `None` takes the compiled loss.

    Returns:
        A list of `Finding`s of severity `"error"`, in report order; empty when
        none was found.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    >>> [finding.code for finding in graph_errors(model)]
    ['KBD005', 'KBD021']
    """
    try:
        if loss is None:
            loss = getattr(model, "loss", None)
        ctx = _context(model, loss, None, None, None, None)
    except Exception:  # noqa: BLE001 - never stop a fit for an unusual model
        return []
    if not ctx.outputs:
        try:  # a model without a graph: what its layers alone tell
            return [f for f in _check_layer_attributes(ctx) if f.severity == "error"]
        except Exception:  # noqa: BLE001 - never stop a fit for an unusual model
            return []
    findings: list[Finding] = []
    for check in _GRAPH_CHECKS:
        try:
            findings.extend(f for f in check(ctx) if f.severity == "error")
        except Exception:  # noqa: BLE001,S112 - a check that cannot read this model finds nothing
            continue
    return _deduplicate(findings)
