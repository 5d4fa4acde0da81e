"""The fit guard among the code users run around `fit` (issue 20).

- MLflow's autologging patches `keras.Model.fit` and restores it on
  `autolog(disable=True)` or the next `autolog()`: the guard holds in every
  order (a fresh process, since the case is MLflow first).
- A keras_binary loss inside the user's own loss (a lambda, a `Loss`
  subclass), and keras_binary metrics kept by a recompile with a plain loss:
  the check's error reaches the caller as the coded class, also under XLA.
- On JAX a caught check error prints nothing to stderr (no "pure_callback
  failed" traceback).
- TensorFlow XLA: a metric's failed check is reported as the metric's; a
  model is never stopped by another model's bad batch in another thread.
- KerasTuner: many models compiled in one process; a bad label fails each
  trial with the coded error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_binary as kb
from tests.helpers import BACKEND, compile_path_ids, compile_paths

N = 16
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 3)).astype("float32")
Y = np.array([0, 1] * (N // 2))
BAD = Y + 1  # labels {1, 2}: KB202


def _model(loss, metrics=None, **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=metrics, **compile_kwargs)
    return model


PATHS = compile_paths()
PATH_IDS = compile_path_ids(PATHS)


class PenalisedLoss(keras.losses.Loss):
    """A user's loss that calls a keras_binary loss."""

    def call(self, y_true, y_pred):
        return kb.SafeBCE()(y_true, y_pred) + 0.01 * keras.ops.mean(y_pred)


def _lambda_loss(**kwargs):
    return _model(lambda y, p: kb.SafeBCE()(y, p) + 0.01 * keras.ops.mean(p), **kwargs)


def _custom_loss(**kwargs):
    return _model(PenalisedLoss(), **kwargs)


def _recompiled(**kwargs):
    # Keras keeps the compiled metrics when `compile(metrics=None)`.
    model = _model(kb.SafeBCE(), metrics=[kb.metrics.AUC(name="auc")], **kwargs)
    model.fit(X, Y, batch_size=8, verbose=0)
    model.compile(optimizer="sgd", loss="mean_squared_error", **kwargs)
    assert not kb.guard.is_guarded(model)  # the configuration shows no keras_binary object
    return model


HIDDEN = {"lambda_loss": _lambda_loss, "custom_loss": _custom_loss, "recompiled_metrics": _recompiled}


@pytest.mark.parametrize("kwargs", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("make", list(HIDDEN.values()), ids=list(HIDDEN))
@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate"])
def test_checks_hidden_from_the_configuration_raise_the_coded_error(make, method, kwargs):
    model = make(**kwargs)
    with pytest.raises(kb.BinaryLabelError) as excinfo:
        if method == "train_on_batch":
            model.train_on_batch(X, BAD)
        else:
            getattr(model, method)(X, BAD, batch_size=8, verbose=0)
    assert excinfo.value.code == "KB202" and excinfo.value.fix
    # ... and the model is guarded from then on: a later bad call stops at its batch.
    if BACKEND != "jax":  # a failed JAX step may have left the model unusable
        with pytest.raises(kb.BinaryLabelError):
            model.fit(X, BAD, batch_size=8, verbose=0)


def test_plain_model_is_not_marked():
    model = _model("binary_crossentropy")
    model.fit(X, Y, batch_size=8, verbose=0)
    assert not kb.guard._checks_traced(model)


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's host callbacks")
def test_jax_caught_error_prints_nothing(capfd):
    model = _model(kb.SafeBCE())
    model.fit(X, Y, batch_size=8, verbose=0)
    capfd.readouterr()

    def batches():
        for i in range(0, N, 8):
            yield X[i : i + 8], BAD[i : i + 8]

    with pytest.raises(kb.BinaryLabelError) as excinfo:
        model.fit(batches(), epochs=1, verbose=0)
    assert excinfo.value.code == "KB202"
    err = capfd.readouterr().err
    assert "pure_callback" not in err and "Traceback" not in err, err
    # The bad batch's loss was NaN with a zero gradient: the model is still usable.
    assert np.all(np.isfinite(model.predict(X, verbose=0)))


# ---------------------------------------------------------------------------
# TensorFlow XLA: the poison records belong to the model and to the check.

tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA poison records are TensorFlow's")


def _bad_dataset():
    import tensorflow as tf

    y = Y.copy()
    y[8:] += 1
    return tf.data.Dataset.from_tensor_slices((X, y)).batch(8)


@tf_only
def test_xla_metric_failure_is_reported_as_the_metric_s():
    messages = {}
    for jit in (False, True):
        model = _model("mean_squared_error", metrics=[kb.metrics.AUC(name="auc")], jit_compile=jit)
        with pytest.raises(kb.BinaryLabelError) as excinfo:
            model.fit(_bad_dataset(), epochs=1, verbose=0)
        messages[jit] = excinfo.value
    assert "in metric 'auc'" in messages[True].summary, messages[True].summary
    assert (messages[True].summary, messages[True].fix) == (messages[False].summary, messages[False].fix)


@tf_only
def test_xla_threads_do_not_stop_each_other():
    good = _model(kb.SafeBCE(), jit_compile=True)
    bad = _model(kb.SafeBCE(), jit_compile=True)
    good.fit(X, Y, batch_size=8, verbose=0)
    bad.fit(X, Y, batch_size=8, verbose=0)
    outcomes = {"good": [], "bad": []}
    start = threading.Barrier(2)

    def train(name, model, data):
        start.wait()
        for _ in range(6):
            try:
                model.fit(data(), epochs=1, verbose=0)
                outcomes[name].append("ok")
            except kb.BinaryLabelError as error:
                outcomes[name].append(error.code)

    import tensorflow as tf

    threads = [
        threading.Thread(
            target=train, args=("good", good, lambda: tf.data.Dataset.from_tensor_slices((X, Y)).batch(8))
        ),
        threading.Thread(target=train, args=("bad", bad, _bad_dataset)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"good": ["ok"] * 6, "bad": ["KB202"] * 6}


# ---------------------------------------------------------------------------
# KerasTuner: many models in one process.


def test_keras_tuner_search(tmp_path, monkeypatch):
    keras_tuner = pytest.importorskip("keras_tuner")
    # Under the TensorFlow backend KerasTuner imports tensorboard (not a dependency here) for its
    # TensorBoard callback patching; no TensorBoard callback is used.
    monkeypatch.setattr(keras_tuner.Tuner, "_configure_tensorboard_dir", lambda *args, **kwargs: None)

    def build(hp):
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(hp.Choice("units", [2, 4]), "relu"), keras.layers.Dense(1)]
        )
        model.compile(
            optimizer="sgd",
            loss=kb.SafeBCE(from_logits=True),
            metrics=[kb.metrics.AUC(name="auc", from_logits=True)],
        )
        return model

    tuner = keras_tuner.RandomSearch(
        build, objective="loss", max_trials=2, directory=str(tmp_path), project_name="good", overwrite=True
    )
    tuner.search(X, Y, epochs=1, batch_size=8, verbose=0)
    assert len(tuner.oracle.trials) == 2
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    bad = keras_tuner.RandomSearch(
        build,
        objective="loss",
        max_trials=2,
        max_consecutive_failed_trials=1,
        directory=str(tmp_path),
        project_name="bad",
        overwrite=True,
    )
    with pytest.raises(RuntimeError) as excinfo:  # KerasTuner stops at the first failed trial
        bad.search(X, BAD, epochs=1, batch_size=8, verbose=0)
    assert "keras_binary.errors.BinaryLabelError: KB202" in str(excinfo.value)


# ---------------------------------------------------------------------------
# MLflow autologging, in a fresh process: MLflow first, then keras_binary.

MLFLOW_CHILD = Path(__file__).parent / "_mlflow_child.py"


@pytest.mark.slow
def test_mlflow_autolog_in_every_order(tmp_path):
    pytest.importorskip("mlflow")
    out = tmp_path / "out.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.run(
        [sys.executable, str(MLFLOW_CHILD), str(tmp_path / "mlruns"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    result = json.loads(out.read_text())
    assert len(result["steps"]) >= 8
    assert result["outcomes"] == ["KB202"] * len(result["steps"]), result
    assert result["runs"] > 0  # autologging was really on: it started runs


def test_mlflow_still_keeps_the_original_under_the_gorilla_name():
    """The guard wraps MLflow's stored original under gorilla's private `_gorilla_original_<name>`.

    If MLflow renames it, a guard installed after `mlflow.autolog()` is lost
    again on `autolog(disable=True)`: fail loudly, naming the private name.
    """
    gorilla = pytest.importorskip("mlflow.utils.gorilla")
    from keras_binary.guard import _PATCHED_ORIGINAL

    assert gorilla._ORIGINAL_NAME == _PATCHED_ORIGINAL, (
        f"MLflow's gorilla now stores a patched method's original as {gorilla._ORIGINAL_NAME!r}, "
        f"not {_PATCHED_ORIGINAL!r}: keras_binary.guard.install must wrap the new name"
    )

    class Target:
        def fit(self):
            return "original"

    patch = gorilla.Patch(
        Target, "fit", lambda self: "patched", gorilla.Settings(allow_hit=True, store_hit=True)
    )
    gorilla.apply(patch)
    try:
        stored = _PATCHED_ORIGINAL % "fit"
        assert stored in Target.__dict__, f"gorilla.apply no longer stores the original as {stored!r}"
        assert Target.__dict__[stored](Target()) == "original"
    finally:
        gorilla.revert(patch)
