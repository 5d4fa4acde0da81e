"""Binary losses that follow the shape contract.

The math lives in plain functions of canonical, rank-1 tensors
(`binary_crossentropy_values`); the classes hold configuration, bring their
inputs to canonical form (`keras_binary._contract`), run the value checks and
hand per-example values to Keras's own reduction, so sample weights, masks,
reductions and distribution strategies behave exactly as in Keras.
"""

from keras_binary.losses._base import ContractLoss as ContractLoss
from keras_binary.losses._base import smooth_labels as smooth_labels
from keras_binary.losses.bce import SafeBCE
from keras_binary.losses.bce import binary_crossentropy_values as binary_crossentropy_values
from keras_binary.losses.focal import SafeFocal
from keras_binary.losses.focal import binary_focal_crossentropy_values as binary_focal_crossentropy_values
from keras_binary.losses.wrapper import SafeLossWrapper as SafeLossWrapper
from keras_binary.losses.wrapper import safe_loss

# The public names, as in 0.1.0 (the rest is importable for the package's own use).
__all__ = ["SafeBCE", "SafeFocal", "safe_loss"]
