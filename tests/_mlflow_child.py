"""The MLflow child of tests/test_guard_field.py: MLflow's autologging first, then keras_binary.

`python tests/_mlflow_child.py TRACKING_DIR OUT.json`: turns autologging on
before keras_binary is imported, then after each further `autolog` call
(`mlflow.autolog`, `mlflow.keras.autolog`, `mlflow.tensorflow.autolog`, and
their `disable=True`) fits a guarded model on labels {1, 2}, and writes the
outcomes (the error code, `silent`, or another error's type).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# MLflow 3 refuses the file store (used here as a temporary directory) without it.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402

STEPS = ["autolog", "keras", "tensorflow", "disable", "keras_disable", "autolog", "autolog", "disable"]


def main(tracking: str) -> dict:
    mlflow.set_tracking_uri("file:" + tracking)
    mlflow.autolog(log_models=False, silent=True)  # before keras_binary is imported
    import keras
    import numpy as np

    import keras_binary

    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    bad = np.array([1, 2] * 8)
    calls = {
        "autolog": lambda: mlflow.autolog(log_models=False, silent=True),
        "keras": lambda: mlflow.keras.autolog(log_models=False, silent=True),
        "tensorflow": lambda: mlflow.tensorflow.autolog(log_models=False, silent=True),
        "disable": lambda: mlflow.autolog(disable=True),
        "keras_disable": lambda: mlflow.keras.autolog(disable=True),
    }
    steps, outcomes = ["imported", *STEPS], []
    for step in steps:
        if step in calls:
            calls[step]()
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, "sigmoid")])
        model.compile(optimizer="sgd", loss=keras_binary.SafeBCE())
        try:
            model.fit(x, bad, batch_size=8, verbose=0)
            outcomes.append("silent")
        except keras_binary.BinaryLabelError as error:
            outcomes.append(error.code)
        except Exception as error:  # noqa: BLE001 - any other type is a failure, reported by name
            outcomes.append(type(error).__name__)
    runs = len(mlflow.search_runs(search_all_experiments=True))
    return {"steps": steps, "outcomes": outcomes, "runs": runs}


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(main(sys.argv[1])))
