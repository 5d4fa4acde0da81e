"""The package's errors: three `ValueError` subclasses with stable codes.

Every error raised by keras_binary carries a code (`.code`), which also opens
its message. Codes are grouped by kind:

- `KB1xx`: shapes (`BinaryShapeError`), found while the graph is built;
- `KB2xx`: values (`BinaryLabelError`), found while the model runs;
- `KB3xx`: configuration (`BinaryConfigError`), found when an object is made.

Each code has one section in `docs/errors.md` with a wrong example and its
fix. A message says what was received, what was expected and the one-line fix.
"""

from __future__ import annotations

# Every message ends with the command that prints its catalogue entry offline.
EXPLAIN_COMMAND = "keras-binary explain"
# The line of a `BinaryModelError` that says who found it and how to turn that off (in-process);
# `keras-binary run` prints another (`keras_binary.guard._scope.run_text`).
GUARD_NOTE = (
    "(found before the first step by the fit guard; keras_binary.config.set_fit_guard(False) turns it off)"
)

# code -> (kind, title). The catalogue in docs/errors.md has one section per
# entry, and tests check both directions.
ERROR_CODES: dict[str, tuple[str, str]] = {
    # Shapes, found at trace time.
    "KB101": ("shape", "A prediction or label tensor is a scalar"),
    "KB102": ("shape", "More than two classes on the class axis"),
    "KB103": ("shape", "Spatial predictions against per-example labels"),
    "KB104": ("shape", "Batch sizes differ"),
    "KB105": ("shape", "Label shape does not match the predictions"),
    "KB106": ("shape", "The class axis has an unknown size"),
    "KB107": ("shape", "The class axis is empty"),
    "KB108": ("shape", "Input is not a numeric tensor"),
    "KB109": ("shape", "Input has an unknown rank"),
    "KB110": ("shape", "Binary head stacked on a multi-class classifier"),
    "KB111": ("shape", "Head input of rank below 2"),
    "KB112": ("shape", "Head input with an unknown or empty feature axis"),
    "KB113": ("shape", "Head input with an empty pooled axis"),
    "KB114": ("shape", "Head input with a mask it cannot apply"),
    "KB115": ("shape", "Binary head stacked on a classifier top's logits"),
    "KB120": ("shape", "sample_weight does not match the predictions"),
    "KB130": ("shape", "A score conversion received the wrong class axis"),
    "KB143": ("shape", "compare: predictions of different lengths"),
    "KB144": ("shape", "compare: groups of another length"),
    # Values, found while running.
    "KB201": ("value", "Labels outside [0, 1]"),
    "KB202": ("value", "Labels encoded as {1, 2}"),
    "KB203": ("value", "Labels encoded as {-1, 1}"),
    "KB204": ("value", "Labels contain NaN"),
    "KB205": ("value", "Probabilities outside [0, 1]: these look like logits"),
    "KB206": ("value", "A softmax pair does not sum to 1"),
    "KB207": ("value", "Predictions contain NaN or infinite logits"),
    "KB208": ("value", "Labels of shape (N, 2) are not one-hot"),
    "KB209": ("value", "Labels hold more than two classes"),
    "KB210": ("value", "Labels are strings"),
    # Values, found by the evaluation tools (issue 13).
    "KB211": ("value", "More than two distinct label values"),
    "KB212": ("value", "pos_label does not occur in the labels"),
    "KB213": ("value", "Labels need an explicit pos_label"),
    "KB214": ("value", "Soft labels where 0/1 labels are needed"),
    "KB215": ("value", "Both classes are needed to fit a threshold or a temperature"),
    "KB216": ("value", "No threshold reaches the target rate"),
    # Values, found by the fit guard in the arguments of fit (issue 20).
    "KB217": ("value", "Labels are an object array"),
    # Values, found by the fit guard in labels that are not a plain array.
    "KB221": ("value", "Labels as a dict for a model whose output is not a dict"),
    "KB235": ("value", "No threshold's lower confidence bound reaches the target rate"),
    # Warnings (`UndefinedMetricWarning`), found when a result is read.
    "KB290": ("value", "A metric is undefined on the data it has seen"),
    # Configuration, found when an object is made.
    "KB301": ("config", "Invalid argument value"),
    "KB302": ("config", "One unit with a softmax activation"),
    "KB303": ("config", "Two units with a sigmoid activation"),
    "KB304": ("config", "Unsupported number of units"),
    "KB305": ("config", "Unknown or missing pooling for the input rank"),
    "KB306": ("config", "Unknown output activation for a binary head"),
    "KB307": ("config", "Dropout rate outside [0, 1)"),
    "KB308": ("config", "Invalid hidden_units"),
    "KB309": ("config", "bias_init_prior outside (0, 1)"),
    "KB310": ("config", "Unknown data_format"),
    "KB311": ("config", "Unknown hidden_activation"),
    "KB320": ("config", "Invalid focal loss parameter"),
    "KB321": ("config", "Invalid metric threshold, target rate or beta"),
    "KB322": ("config", "Invalid number of thresholds or bins"),
    "KB323": ("config", "safe_loss needs a loss"),
    "KB324": ("config", "safe_loss from_logits disagrees with the wrapped loss"),
    "KB325": ("config", "safe_loss wraps a multi-class loss"),
    "KB326": ("config", "Invalid AUC curve or summation method"),
    "KB327": ("config", "Both threshold and thresholds given"),
    "KB328": ("config", "A logit-space threshold with from_logits=True"),
    "KB329": ("config", "Invalid class_id"),
    "KB330": ("config", "A Keras argument with no binary meaning"),
    "KB331": ("config", "AUC label arguments without multi_label=True"),
    "KB332": ("config", "Invalid F-score average"),
    "KB333": ("config", "A loss axis other than the class axis"),
    "KB340": ("config", "convert_head: a final layer with more than two units"),
    "KB341": ("config", "convert_head: an activation with no binary equivalent"),
    "KB342": ("config", "convert_head: no recognisable binary output layer"),
    "KB343": ("config", "convert_head: a model with several outputs"),
    "KB344": ("config", "Non-finite weights or inputs"),
    "KB345": ("config", "convert_head: a model that cannot be rebuilt"),
    "KB346": ("config", "class_weight keys are not the labels"),
    "KB347": ("config", "class_weight on a multi-label output"),
    "KB348": ("config", "A focal alpha without class balancing"),
    # Configuration of the evaluation tools (issue 13).
    "KB360": ("config", "The evaluate extra is not installed"),
    "KB361": ("config", "Invalid decision threshold"),
    "KB362": ("config", "Invalid operating-point method or target"),
    "KB363": ("config", "Invalid bootstrap settings"),
    "KB364": ("config", "Invalid temperature"),
    "KB365": ("config", "A model's data without labels"),
    "KB366": ("config", "A model with several outputs"),
    # Intervals of the report (issue 21).
    "KB367": ("config", "Groups that do not match the examples"),
    "KB368": ("config", "A prevalence outside (0, 1)"),
    "KB369": ("config", "Unknown interval method"),
    "KB373": ("config", "A confidence level outside (0, 1)"),
    "KB374": ("config", "A confidence bound for a method without a target rate"),
    "KB375": ("config", "Net benefit threshold probabilities outside (0, 1)"),
    "KB376": ("config", "Newcombe's AUC interval with groups"),
}


class BinaryError(ValueError):
    """Base class of keras_binary's errors; a `ValueError` with a code.

    Args:
        code: the stable error code, e.g. `"KB102"`.
        summary: one sentence saying what is wrong.
        received: what the call received (shapes, dtypes, values).
        expected: what it needed instead.
        fix: one line of code, or one sentence, that fixes it.

    Example:

    >>> err = BinaryShapeError(
    ...     "KB104", "batch sizes differ.",
    ...     received="y_true.shape=(8,), y_pred.shape=(4, 1)",
    ...     expected="the same batch size", fix="pass matching batches")
    >>> err.code
    'KB104'
    >>> str(err).splitlines()[0]
    'KB104: batch sizes differ.'
    """

    kind = ""
    # TensorFlow's autograph rewrites errors raised while a `tf.function` is
    # traced into a `StagingError` unless they carry this flag; with it,
    # `model.fit` raises the coded error itself.
    ag_pass_through = True

    def __init__(
        self,
        code: str,
        summary: str | None = None,
        *,
        received: str | None = None,
        expected: str | None = None,
        fix: str | None = None,
    ):
        if summary is None:
            # Built from a finished message, as Keras does when it re-raises an
            # error from `Layer.call` with `type(e)(message)`: keep the text as is.
            message = str(code)
            self.code = message.split(":", 1)[0].strip() if message[:2] == "KB" else ""
            self.summary, self.received, self.expected, self.fix = message, None, None, None
            self._message = message
            super().__init__(message)
            return
        self._message = None
        if code not in ERROR_CODES:
            raise KeyError(f"Unknown keras_binary error code {code!r}.")
        kind = ERROR_CODES[code][0]
        if self.kind and kind != self.kind:
            raise TypeError(
                f"Error code {code} is a {kind} error and cannot be raised as {type(self).__name__}."
            )
        self.code = code
        self.summary = summary
        self.received = received
        self.expected = expected
        self.fix = fix
        lines = [f"{code}: {summary}"]
        if received:
            lines.append(f"  Received: {received}")
        if expected:
            lines.append(f"  Expected: {expected}")
        if fix:
            lines.append(f"  Fix: {fix}")
        lines.append(f"  See: {EXPLAIN_COMMAND} {code}")
        super().__init__("\n".join(lines))

    def __reduce__(self):
        # Keeps the error picklable (multiprocessing, JAX callbacks).
        if self._message is not None:
            return (type(self), (self._message,))
        return (
            _rebuild,
            (type(self), self.code, self.summary, self.received, self.expected, self.fix),
        )


def _rebuild(cls, code, summary, received, expected, fix):
    return cls(code, summary, received=received, expected=expected, fix=fix)


class BinaryShapeError(BinaryError):
    """Predictions and labels have shapes no binary encoding explains (`KB1xx`).

    Raised while the model is built or its step is traced, from static shapes.

    Example:

    >>> import numpy as np, keras_binary
    >>> try:
    ...     keras_binary.SafeBCE()(np.zeros(8), np.zeros((8, 1000)))
    ... except BinaryShapeError as error:
    ...     print(error.code, "include_top=False" in str(error))
    KB102 True
    """

    kind = "shape"


class BinaryLabelError(BinaryError):
    """Labels or predictions hold values a binary loss cannot use (`KB2xx`).

    Raised while running, by the value checks of `validate=True`.

    Example:

    >>> import numpy as np, keras_binary
    >>> try:
    ...     keras_binary.SafeBCE()(np.array([1, 2]), np.array([[0.3], [0.8]]))
    ... except BinaryLabelError as error:
    ...     print(error.code, error.fix.split("  #")[0])
    KB202 y = y - 1
    """

    kind = "value"


class BinaryConfigError(BinaryError):
    """A keras_binary object was configured in a way that cannot work (`KB3xx`).

    Example:

    >>> import keras_binary
    >>> try:
    ...     keras_binary.SafeBCE(label_smoothing=2.0)
    ... except BinaryConfigError as error:
    ...     print(error.code)
    KB301
    """

    kind = "config"


class BinaryModelError(BinaryConfigError):
    """The fit guard stopped `fit` on an error finding of `diagnose` (`KBDxxx`).

    Raised before the first step by the guard around `fit`, `evaluate` and
    `train_on_batch` (docs/guard.md) when the model's graph cannot learn a
    binary task as written, e.g. a one-unit softmax. `.code` is the finding's
    code (`KBD001`, ...: see `keras_binary.diagnostics.DIAGNOSTIC_CODES` and
    docs/diagnose.md), and `.finding` the finding itself.

    Args:
        finding: the `keras_binary.diagnostics.Finding`, or a finished
            message (the error is then rebuilt from its text).

    Example:

    >>> from keras_binary.diagnostics import Finding
    >>> error = BinaryModelError(Finding("KBD002", "error", "layer 'dense'",
    ...     "Dense(1) ends in a softmax.", "a softmax over one unit is always 1.",
    ...     "activation='sigmoid'"))
    >>> error.code, error.fix
    ('KBD002', "activation='sigmoid'")
    >>> isinstance(error, BinaryConfigError)
    True
    """

    def __init__(self, finding):
        if isinstance(finding, str):
            super().__init__(finding)
            self.code = finding.split(":", 1)[0].strip() if finding[:3] == "KBD" else ""
            self.finding = None
            return
        self.finding = finding
        self.code = finding.code
        self.summary = f"{finding.title} ({finding.where}): {finding.summary}"
        self.received = None
        self.expected = None
        self.fix = finding.fix
        self._message = "\n".join(
            [
                f"{finding.code}: {self.summary}",
                f"  Why: {finding.explanation}",
                f"  Fix: {finding.fix}",
                f"  {GUARD_NOTE}",
                f"  See: {EXPLAIN_COMMAND} {finding.code}",
            ]
        )
        ValueError.__init__(self, self._message)

    def __reduce__(self):
        return (type(self), (self._message,))


def error_class(code: str) -> type[BinaryError]:
    """Returns the error class that raises `code`.

    Args:
        code: an error code such as `"KB205"`.

    Returns:
        `BinaryShapeError`, `BinaryLabelError` or `BinaryConfigError`.

    Example:

    >>> error_class("KB205").__name__
    'BinaryLabelError'
    """
    kind = ERROR_CODES[code][0]
    return {"shape": BinaryShapeError, "value": BinaryLabelError, "config": BinaryConfigError}[kind]


class UndefinedMetricWarning(UserWarning):
    """A metric's result is undefined on the data it has seen (`KB290`).

    Precision without predicted positives, recall, AUC or balanced accuracy
    with one class only, and the like: the metric's result is NaN, never a
    plausible-looking 0, and this warning (once per metric object, when the
    result is read outside a compiled function) names the metric and what
    is missing. Filter it as any warning:
    `warnings.simplefilter("error", UndefinedMetricWarning)` turns it into an
    exception.

    Example:

    >>> import warnings
    >>> import numpy as np, keras_binary
    >>> m = keras_binary.metrics.Recall()
    >>> m.update_state(np.zeros(4), np.array([0.1, 0.6, 0.2, 0.9]))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", UndefinedMetricWarning)
    ...     value = float(m.result())
    >>> value, [w.category.__name__ for w in caught if w.category is UndefinedMetricWarning]
    (nan, ['UndefinedMetricWarning'])
    """

    code = "KB290"
