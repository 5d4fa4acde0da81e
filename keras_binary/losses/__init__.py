"""Binary losses that follow the shape contract.

The math lives in plain functions of canonical, rank-1 tensors
(`binary_crossentropy_values`); the classes hold configuration, bring their
inputs to canonical form (`keras_binary._contract`), run the value checks and
hand per-example values to Keras's own reduction, so sample weights, masks,
reductions and distribution strategies behave exactly as in Keras.
"""

from keras_binary.losses._base import ContractLoss, smooth_labels
from keras_binary.losses.bce import SafeBCE, binary_crossentropy_values
from keras_binary.losses.focal import SafeFocal, binary_focal_crossentropy_values
from keras_binary.losses.wrapper import SafeLossWrapper, safe_loss

__all__ = [
    "ContractLoss",
    "SafeBCE",
    "SafeFocal",
    "SafeLossWrapper",
    "binary_crossentropy_values",
    "binary_focal_crossentropy_values",
    "safe_loss",
    "smooth_labels",
]
