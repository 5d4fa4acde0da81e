"""keras_binary: binary classification in Keras 3 that cannot go silently wrong.

Example:

>>> import keras, keras_binary
>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras_binary.BinaryHead()])
>>> model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
"""

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
from keras_binary.diagnostics import diagnose
from keras_binary.errors import (
    BinaryConfigError,
    BinaryError,
    BinaryLabelError,
    BinaryModelError,
    BinaryShapeError,
)
from keras_binary.layers import BinaryHead
from keras_binary.losses import SafeBCE, SafeFocal, safe_loss

if config.fit_guard_enabled():
    guard.install()

__version__ = "0.1.0"

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
]
