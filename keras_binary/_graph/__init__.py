"""Walking Keras graphs: the one place that reads a model's structure.

Every other module (BinaryHead's build-time checks, `diagnose`,
`convert_head`, the guard) asks its questions through this package, one
module per concept:

- `_walk`: how a graph is read: what produces a tensor and with which
  activation (`producer`, `describe_output`), the nodes of a model and of the
  models inside it;
- `_classifier`: is there a classifier upstream (`find_classifier`: a softmax
  over K > 2 units on the last axis; `find_logit_classifier`: a top that ends
  in logits), one walk back with a rule for each;
- `_applications`: which `keras.applications` family a model, or the layers
  of a backbone built inline from `base.input`, belong to (`application`,
  `application_upstream`, `backbones`);
- `_input_range`: where a pretrained network starts and what it must
  receive there (`range_entries`), after the user's preprocessing and with
  the family's own preprocessing or a keras-hub `ImageConverter`.
"""

from keras_binary._graph._applications import (
    FAMILIES,
    Application,
    Backbone,
    application,
    application_name,
    application_upstream,
    backbones,
    feature_end,
)
from keras_binary._graph._classifier import (
    TOP_NAME,
    Classifier,
    find_classifier,
    find_logit_classifier,
    is_hub_classifier,
)
from keras_binary._graph._input_range import (
    RangeEntry,
    converter_expects_pixels,
    is_image_converter,
    range_entries,
)
from keras_binary._graph._walk import (
    MAX_WALK,
    TRAINING_NOISE,
    Output,
    Step,
    activation_name,
    activation_of,
    all_nodes,
    call_kwargs,
    calls,
    describe_output,
    graph_nodes,
    input_tensors,
    is_graph_model,
    is_layer,
    model_inputs,
    model_outputs,
    output_layer,
    owner_text,
    producer,
    softmax_axis,
    sublayers,
    upstream_nodes,
)

__all__ = [
    "FAMILIES",
    "MAX_WALK",
    "TOP_NAME",
    "TRAINING_NOISE",
    "Application",
    "Backbone",
    "Classifier",
    "Output",
    "RangeEntry",
    "Step",
    "activation_name",
    "activation_of",
    "all_nodes",
    "application",
    "application_name",
    "application_upstream",
    "backbones",
    "call_kwargs",
    "calls",
    "converter_expects_pixels",
    "describe_output",
    "feature_end",
    "find_classifier",
    "find_logit_classifier",
    "graph_nodes",
    "input_tensors",
    "is_graph_model",
    "is_hub_classifier",
    "is_image_converter",
    "is_layer",
    "model_inputs",
    "model_outputs",
    "output_layer",
    "owner_text",
    "producer",
    "range_entries",
    "softmax_axis",
    "sublayers",
    "upstream_nodes",
]
