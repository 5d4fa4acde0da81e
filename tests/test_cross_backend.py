"""The same numbers on TensorFlow, JAX and PyTorch.

1. Every loss (`SafeBCE`, `SafeFocal`, `safe_loss`) in several encodings and
   every metric of `keras_binary.metrics` (discovered, so a new metric is
   covered without editing this file) on the same fixed data: all backends
   agree within 1e-6.
2. A `.keras` model with `BinaryHead`, compiled with `SafeBCE` and metrics
   and saved under TensorFlow, loads under JAX and PyTorch (no
   `custom_objects`) and predicts and evaluates the same within 1e-5.

The test starts one subprocess per other backend (a process has one Keras
backend), in parallel. It runs in the `KERAS_BACKEND=tensorflow` pass only,
which computes the TensorFlow side in-process and saves the model, so CI
pays for it once, not once per backend. A backend that is not installed is
skipped with the reason.

This file is also the subprocess's program:
`KERAS_BACKEND=jax python tests/test_cross_backend.py OUT.json MODEL_DIR`.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_binary as kb

BACKEND = keras.backend.backend()
OTHER_BACKENDS = ("jax", "torch")
INSTALL_HINT = {"jax": 'pip install -e ".[jax]"', "torch": "pip install torch==2.13.0 (README, Set-up)"}
SUBPROCESS_TIMEOUT_S = 240

# Required arguments of metrics, by name; anything else required is an error
# here, so that a new metric gets a deliberate entry.
REQUIRED_METRIC_ARGS = {"specificity": 0.5, "sensitivity": 0.5, "recall": 0.5, "precision": 0.5}


# ---------------------------------------------------------------------------
# What every backend computes (also run in the subprocesses).


def fixed_data() -> dict[str, np.ndarray]:
    """The same arrays in every process: a seeded NumPy generator."""
    rng = np.random.default_rng(1234)
    n = 24
    y = rng.integers(0, 2, size=n)
    y[:4] = [0, 1, 0, 1]
    p = rng.uniform(0.02, 0.98, size=n)
    p[:4] = [1e-8, 1 - 1e-7, 0.5, 0.5]  # clipping on both sides, a tie at the threshold
    z = rng.normal(size=n) * 4.0
    z[:2] = [30.0, -30.0]  # saturated logits, on the wrong side
    pair_z = rng.normal(size=(n, 2)) * 2.0
    pair_p = np.exp(pair_z) / np.exp(pair_z).sum(axis=1, keepdims=True)
    return {
        "y": y,
        "y_onehot": np.eye(2)[y],
        "y_soft": rng.uniform(0.0, 1.0, size=n),
        "p": p.astype("float32")[:, None],
        "z": z.astype("float32")[:, None],
        "pair_p": pair_p.astype("float32"),
        "pair_z": pair_z.astype("float32"),
        "w": rng.uniform(0.0, 2.0, size=n).astype("float32"),
        "x": rng.normal(size=(n, 3, 3, 4)).astype("float32"),
    }


def _floats(value) -> list[float]:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64").reshape(-1).tolist()


def loss_values(d: dict[str, np.ndarray]) -> dict[str, list[float]]:
    y, w = d["y"], d["w"]
    cases = {
        "bce_prob": (kb.SafeBCE(), y, d["p"], None),
        "bce_logit_weighted": (kb.SafeBCE(from_logits=True), y, d["z"], w),
        "bce_pair_onehot_smooth_posweight": (
            kb.SafeBCE(label_smoothing=0.1, pos_weight=3.0),
            d["y_onehot"],
            d["pair_p"],
            None,
        ),
        "bce_pair_logits_none": (kb.SafeBCE(from_logits=True, reduction="none"), y, d["pair_z"], None),
        "bce_soft_labels_sum": (kb.SafeBCE(reduction="sum"), d["y_soft"], d["p"], None),
        "focal_prob": (kb.SafeFocal(), y, d["p"], None),
        "focal_logit_balanced_weighted": (
            kb.SafeFocal(from_logits=True, apply_class_balancing=True, gamma=1.5),
            y,
            d["z"],
            w,
        ),
        "focal_pair_smooth_none": (
            kb.SafeFocal(label_smoothing=0.05, reduction="none"),
            y,
            d["pair_p"],
            None,
        ),
        "focal_pair_logits": (kb.SafeFocal(from_logits=True, gamma=3.0), d["y_onehot"], d["pair_z"], w),
        "safe_loss_hinge": (kb.safe_loss(keras.losses.Hinge()), y, d["pair_p"], None),
    }
    return {name: _floats(loss(yt, yp, sample_weight=sw)) for name, (loss, yt, yp, sw) in cases.items()}


def metric_classes() -> dict[str, type]:
    return {name: getattr(kb.metrics, name) for name in kb.metrics.__all__}


def make_metric(cls: type, **kwargs):
    params = inspect.signature(cls.__init__).parameters
    for name, param in params.items():
        if (
            name != "self"
            and param.default is inspect.Parameter.empty
            and param.kind == param.POSITIONAL_OR_KEYWORD
        ):
            if name not in REQUIRED_METRIC_ARGS:
                raise TypeError(f"{cls.__name__} requires {name!r}: add it to REQUIRED_METRIC_ARGS")
            kwargs.setdefault(name, REQUIRED_METRIC_ARGS[name])
    return cls(**kwargs)


# The pair-of-logits path (`z1 - z0`, then a sigmoid) is shared by every
# metric (`ContractMetric._prepare`): a few metrics of each family suffice.
PAIR_LOGIT_METRICS = ("AUC", "F1Score", "ECE", "BinaryCrossentropy")


def metric_values(d: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Each metric after two updates (the second weighted), on probabilities and on pair logits."""
    out = {}
    half = len(d["y"]) // 2
    for name, cls in metric_classes().items():
        variants = [("prob", d["p"], {})]
        if name in PAIR_LOGIT_METRICS:
            variants.append(("pair_logits", d["pair_z"], {"from_logits": True}))
        for variant, y_pred, kwargs in variants:
            metric = make_metric(cls, **kwargs)
            metric.update_state(d["y"][:half], y_pred[:half])
            metric.update_state(d["y"][half:], y_pred[half:], sample_weight=d["w"][half:])
            out[f"{name}[{variant}]"] = _floats(metric.result())
    return out


def model_outputs(model_dir: str, d: dict[str, np.ndarray]) -> dict[str, list[float]]:
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    results = model.evaluate(d["x"], d["y"], batch_size=8, verbose=0, return_dict=True)
    out = {"predict": _floats(model.predict(d["x"], batch_size=8, verbose=0))}
    out.update({f"evaluate[{k}]": _floats(v) for k, v in results.items()})
    out["loss_class"] = [float(type(model.loss).__name__ == "SafeBCE")]
    return out


def compute_all(model_dir: str) -> dict[str, list[float]]:
    d = fixed_data()
    values = {}
    values.update({f"loss:{k}": v for k, v in loss_values(d).items()})
    values.update({f"metric:{k}": v for k, v in metric_values(d).items()})
    values.update({f"model:{k}": v for k, v in model_outputs(model_dir, d).items()})
    return values


# ---------------------------------------------------------------------------
# The test (TensorFlow pass).

pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="starts its own subprocess per backend; runs in the KERAS_BACKEND=tensorflow pass only (saves the model under TF)",
)


def save_model(model_dir: str) -> None:
    """A trained BinaryHead model with SafeBCE and metrics, saved under TensorFlow."""
    d = fixed_data()
    keras.utils.set_random_seed(7)
    inputs = keras.Input((3, 3, 4))
    features = keras.layers.Conv2D(4, 2, activation="relu")(inputs)
    outputs = kb.BinaryHead(hidden_units=(8,), dropout=0.2, batch_norm=True, pooling="avgmax")(features)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam",
        loss=kb.SafeBCE(label_smoothing=0.05),
        metrics=[kb.metrics.AUC(), kb.metrics.F1Score(), kb.metrics.MatthewsCorrelation(), kb.metrics.ECE()],
    )
    model.fit(d["x"], d["y"], batch_size=8, epochs=2, verbose=0)
    model.save(os.path.join(model_dir, "model.keras"))


def _env(backend: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    return env


@pytest.fixture(scope="module")
def results():
    """backend -> values (or the reason it has none); the subprocesses run in parallel."""
    with tempfile.TemporaryDirectory() as tmp:
        save_model(tmp)
        procs, out = {}, {}
        for backend in OTHER_BACKENDS:
            if importlib.util.find_spec(backend) is None:
                out[backend] = f"{backend} is not installed ({INSTALL_HINT[backend]})"
                continue
            path = os.path.join(tmp, f"{backend}.json")
            procs[backend] = (
                path,
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), path, tmp],
                    env=_env(backend),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
            )
        try:
            for backend, (path, proc) in procs.items():
                log, _ = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
                if proc.returncode != 0:
                    raise AssertionError(f"the {backend} subprocess failed:\n{log[-4000:]}")
                with open(path) as f:
                    out[backend] = json.load(f)
        finally:
            for _, proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        out["tensorflow"] = compute_all(tmp)
    return out


def test_every_metric_and_loss_is_covered(results):
    names = set(results["tensorflow"])
    for name in kb.metrics.__all__:
        assert f"metric:{name}[prob]" in names
    for name in PAIR_LOGIT_METRICS:
        assert f"metric:{name}[pair_logits]" in names
    assert {"loss:focal_prob", "loss:bce_prob", "model:predict"} <= names
    for name, values in results["tensorflow"].items():
        if name == "model:evaluate[matthews_correlation]":
            # The small model predicts one class after two epochs: MCC is then
            # undefined, NaN (KB290); the backends must agree on it (below).
            continue
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"


def test_the_saved_model_is_what_was_loaded(results):
    assert results["tensorflow"]["model:loss_class"] == [1.0]
    assert len(results["tensorflow"]["model:predict"]) == len(fixed_data()["y"])


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_losses_and_metrics_agree(results, backend):
    if isinstance(results[backend], str):
        pytest.skip(results[backend])
    reference, other = results["tensorflow"], results[backend]
    assert set(other) == set(reference)
    for name in sorted(n for n in reference if not n.startswith("model:")):
        np.testing.assert_allclose(
            other[name], reference[name], rtol=1e-6, atol=1e-6, err_msg=f"{name} on {backend}"
        )


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_tensorflow_model_loads_and_predicts_the_same(results, backend):
    if isinstance(results[backend], str):
        pytest.skip(results[backend])
    reference, other = results["tensorflow"], results[backend]
    assert other["model:loss_class"] == [1.0], f"{backend} did not restore SafeBCE"
    for name in sorted(n for n in reference if n.startswith("model:")):
        np.testing.assert_allclose(
            other[name], reference[name], rtol=1e-5, atol=1e-5, err_msg=f"{name} on {backend}"
        )


if __name__ == "__main__":  # the subprocess: python tests/test_cross_backend.py OUT.json MODEL_DIR
    out_path, model_dir = sys.argv[1], sys.argv[2]
    with open(out_path, "w") as f:
        json.dump(compute_all(model_dir), f)
