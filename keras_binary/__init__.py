"""keras_binary: binary classification in Keras 3 that cannot go silently wrong.

Example:

>>> import keras, keras_binary
>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras_binary.BinaryHead()])
>>> model.compile(optimizer="adam", loss=keras_binary.SafeBCE())
"""

from keras_binary._contract import canonicalize
from keras_binary.errors import BinaryConfigError, BinaryError, BinaryLabelError, BinaryShapeError
from keras_binary.losses import SafeBCE

__version__ = "0.1.0"

__all__ = [
    "BinaryConfigError",
    "BinaryError",
    "BinaryLabelError",
    "BinaryShapeError",
    "SafeBCE",
    "canonicalize",
]
