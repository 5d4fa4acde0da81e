"""`diagnose`: find the silent mistakes of a binary classifier before training.

Most binary-classification bugs raise nothing: a sigmoid stacked on a 1000-way
softmax, `Dense(1, activation="softmax")`, a sigmoid with a categorical loss,
labels in `{1, 2}`, 0-255 images into a backbone that expects [-1, 1]. Keras
trains all of them without a word. `diagnose(model, x, y)` reads the model
(its functional graph, its layers, its compiled loss and metrics) and, when
given, a sample of the data, and returns a `Report` of findings, each with a
stable code (`KBD001`, ...), a severity, the layer or data it concerns, an
explanation and the fix. `graph_errors(model)` runs the checks that need no
data and returns their errors: the `fit` guard calls it before training.

`diagnose` never modifies the model: it reads the graph and the weights, and
runs no training step. The only computation it runs is the part of the model
in front of a recognised `keras.applications` backbone, on at most
`MAX_SAMPLES` examples of `x`, in inference mode, to see the range of values
the backbone receives.

The graph is read through `keras_binary._graph`, the one module that walks
Keras graphs. The checks are small functions yielding `Finding`s, grouped by
what they read: `_model` (the graph), `_loss` (the loss and the metrics),
`_data` (the inputs and labels); `_report` holds the report types and the
registry of codes, `_diagnose` the entry points. Subclassed models have no
graph: for them only the loss and data checks run (`KBD020`).
"""

from keras_binary._graph import application as _family
from keras_binary.diagnostics._context import IMBALANCE_RATE, MAX_SAMPLES
from keras_binary.diagnostics._data import _range_problem
from keras_binary.diagnostics._diagnose import diagnose, graph_errors, load_model
from keras_binary.diagnostics._report import DIAGNOSTIC_CODES, SEVERITIES, Finding, Report

__all__ = [
    "DIAGNOSTIC_CODES",
    "SEVERITIES",
    "Finding",
    "Report",
    "diagnose",
    "graph_errors",
    "load_model",
]

_ = (_family, _range_problem, IMBALANCE_RATE, MAX_SAMPLES)  # reachable here (tests, users)
