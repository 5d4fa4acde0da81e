"""keras_binary: binary classification in Keras 3 that cannot go silently wrong.

Example:

>>> import keras, keras_binary
>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras_binary.BinaryHead()])
>>> model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
"""

__version__ = "0.1.0"

from keras_binary import _startup

if _startup.lazy_api():
    # The `keras-binary` command: --help, --version and explain import no backend;
    # the public API loads on first use. See keras_binary/_startup.py.

    def __getattr__(name: str):
        if name.startswith("__") or not _startup.lazy_api():
            raise AttributeError(f"module 'keras_binary' has no attribute {name!r}")
        submodule = _startup.submodule(name)  # `from keras_binary import errors` stays light
        if submodule is not None:
            return submodule
        _startup.load_api()
        if name not in globals():
            raise AttributeError(f"module 'keras_binary' has no attribute {name!r}")
        return globals()[name]

else:
    try:
        import keras as _keras  # noqa: F401 - imports the backend: one clear error without it
    except ImportError as _error:
        raise ImportError(_startup.keras_import_error(_error)) from None
    from keras_binary import config, convert, guard, metrics
    from keras_binary._contract import canonicalize
    from keras_binary.convert import (
        convert_head,
        logit_pair_to_logit,
        logit_to_logit_pair,
        logit_to_probability,
        probability_pair_to_probability,
        probability_to_logit,
        probability_to_probability_pair,
    )
    from keras_binary.diagnostics import Finding, Report, diagnose
    from keras_binary.errors import (
        BinaryConfigError,
        BinaryError,
        BinaryLabelError,
        BinaryModelError,
        BinaryShapeError,
        UndefinedMetricWarning,
    )
    from keras_binary.evaluation import (
        BinaryReport,
        Calibration,
        Comparison,
        OperatingPoint,
        TemperatureScaling,
        calibrate,
        compare,
        encode_labels,
        predict_classes,
        report,
        select_threshold,
    )
    from keras_binary.layers import BinaryHead
    from keras_binary.losses import SafeBCE, SafeFocal, safe_loss

    if config.fit_guard_enabled():
        guard.install()

__all__ = [
    "BinaryConfigError",
    "BinaryError",
    "BinaryHead",
    "BinaryLabelError",
    "BinaryModelError",
    "BinaryShapeError",
    "SafeBCE",
    "SafeFocal",
    "canonicalize",
    "config",
    "diagnose",
    "Finding",
    "Report",
    "metrics",
    "convert",
    "convert_head",
    "logit_pair_to_logit",
    "logit_to_logit_pair",
    "logit_to_probability",
    "probability_pair_to_probability",
    "probability_to_logit",
    "probability_to_probability_pair",
    "safe_loss",
    "BinaryReport",
    "Calibration",
    "Comparison",
    "OperatingPoint",
    "TemperatureScaling",
    "calibrate",
    "compare",
    "encode_labels",
    "predict_classes",
    "report",
    "select_threshold",
    "UndefinedMetricWarning",
]
