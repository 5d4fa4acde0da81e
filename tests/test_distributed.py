"""Data-parallel training on one machine equals single-device training.

- TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPU devices
  (`tf.config.set_logical_device_configuration`, which must run before
  TensorFlow starts: hence a subprocess).
- JAX: `keras.distribution.DataParallel` over two host devices
  (`XLA_FLAGS=--xla_force_host_platform_device_count=2`, read when JAX
  starts: hence a subprocess).

A model with `BinaryHead`, compiled with `SafeBCE` (with sample weights) and
metrics, trains for several SGD steps on the same global batches with one and
with two devices: the weights agree within 1e-5 and the logged loss and
metrics within 1e-5. SGD (no momentum, no normalisation of the step) makes a
wrong loss scale visible: a loss divided twice by the number of replicas
would halve every update. The head has no dropout and no batch
normalisation, whose per-replica randomness and statistics differ from
single-device training by design.

PyTorch: `keras.distribution` has no PyTorch implementation in Keras 3.15
(there is no `keras/src/backend/torch/distribution_lib.py`), so nothing runs
in the torch pass.

This file is also the subprocess's program:
`python tests/test_distributed.py tensorflow|jax OUT.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SUBPROCESS_TIMEOUT_S = 240
STEPS, GLOBAL_BATCH, EPOCHS = 3, 8, 2


def _data():
    rng = np.random.default_rng(3)
    n = STEPS * GLOBAL_BATCH
    x = rng.normal(size=(n, 3, 3, 4)).astype("float32")
    y = rng.integers(0, 2, size=n)
    w = rng.uniform(0.5, 1.5, size=n).astype("float32")
    return x, y, w


def _build_and_train(scope=None, loss_scale: float = 1.0) -> dict:
    """Builds the same model (same initial weights), trains it, returns weights and logs.

    `loss_scale` != 1 is the control: the error a double scaling would make.
    """
    import contextlib

    import keras

    import keras_binary as kb

    x, y, w = _data()
    with scope if scope is not None else contextlib.nullcontext():
        keras.utils.set_random_seed(11)
        model = keras.Sequential([keras.Input((3, 3, 4)), kb.BinaryHead(hidden_units=(6,), pooling="avgmax")])
        rng = np.random.default_rng(5)
        model.set_weights(
            [rng.normal(scale=0.5, size=v.shape).astype("float32") for v in model.get_weights()]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.5),
            loss=kb.SafeBCE(label_smoothing=0.1),
            loss_weights=[loss_scale],
            metrics=[
                kb.metrics.AUC(num_thresholds=50),
                kb.metrics.F1Score(),
                kb.metrics.BinaryCrossentropy(),
            ],
            weighted_metrics=[kb.metrics.BinaryAccuracy(name="weighted_accuracy")],
        )
        history = model.fit(
            x, y, sample_weight=w, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0
        )
        evaluation = (
            model.evaluate(x, y, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
            if loss_scale == 1.0
            else {}
        )
    sharding = getattr(model.trainable_variables[0].value, "sharding", None)
    return {
        "variable_devices": len(sharding.device_set) if sharding is not None else 0,
        "weights": [np.asarray(v).tolist() for v in model.get_weights()],
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "evaluate": {k: float(v) for k, v in evaluation.items()},
    }


def run_tensorflow() -> dict:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    single = _build_and_train()
    strategy = tf.distribute.MirroredStrategy(devices)
    distributed = _build_and_train(strategy.scope())
    control = _build_and_train(loss_scale=0.5)
    return {
        "later_xla_loss": _xla_after_a_strategy(strategy),
        "report": _report_under(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "single": single,
        "distributed": distributed,
        "control": control,
        "replica_losses": _replica_losses(strategy),
    }


def _report_under(strategy) -> dict:
    """`report` and `calibrate` of a model made under the strategy, and of the same model without it."""
    import keras

    import keras_binary as kb

    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] + rng.normal(size=40) > 0).astype("int32")
    weights = [rng.normal(size=(3, 1)).astype("float32"), np.zeros(1, "float32")]
    out = {}
    for name, scope in (("strategy", strategy.scope()), ("single", None)):
        import contextlib

        with scope if scope is not None else contextlib.nullcontext():
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
            model.set_weights(weights)
            model.compile(loss=kb.SafeBCE())
        report = kb.evaluation.report(model, x, y, batch_size=16, verbose=0, n_bootstrap=20)
        calibrated = kb.evaluation.calibrate(model, x, y, batch_size=16, verbose=0)
        out[name] = {"auc": float(report.auc), "n": int(report.tp + report.fp + report.tn + report.fn)}
        out[name]["calibrated"] = float(np.mean(keras.ops.convert_to_numpy(calibrated(x))))
    return out


def _xla_after_a_strategy(strategy) -> float:
    """A bad XLA fit under the 2-replica strategy, then a good XLA fit outside it: its last loss.

    The poison record of a step traced under the strategy used to be the
    process's one, and broke every later `jit_compile=True` fit.
    """
    import keras
    import tensorflow as tf

    import keras_binary as kb

    x, y, _ = _data()
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((3, 3, 4)), keras.layers.Flatten(), keras.layers.Dense(1, "sigmoid")]
        )
        model.compile(optimizer="sgd", loss=kb.SafeBCE(), jit_compile=True)
        try:  # Keras's own XLA step fails on replicated variables of 2 logical CPUs; any error will do
            model.fit(tf.data.Dataset.from_tensor_slices((x, y + 1)).batch(GLOBAL_BATCH), verbose=0)
        except Exception:  # noqa: BLE001, S110 - what comes after is the test
            pass
    later = keras.Sequential(
        [keras.Input((3, 3, 4)), keras.layers.Flatten(), keras.layers.Dense(1, "sigmoid")]
    )
    later.compile(optimizer="sgd", loss=kb.SafeBCE(), jit_compile=True)
    return float(later.fit(x, y, batch_size=GLOBAL_BATCH, verbose=0).history["loss"][-1])


def _replica_losses(strategy) -> dict:
    """SafeBCE and Keras's BinaryCrossentropy called inside `strategy.run`, each reduction."""
    import keras

    import keras_binary as kb

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(8, 1)).astype("float32")
    p = rng.uniform(0.05, 0.95, size=(8, 1)).astype("float32")
    out = {}
    for reduction in ("sum_over_batch_size", "sum"):
        pair = (kb.SafeBCE(reduction=reduction), keras.losses.BinaryCrossentropy(reduction=reduction))
        per_replica = strategy.run(lambda losses=pair: [loss(y, p) for loss in losses])
        out[reduction] = {
            "safe": [float(v) for v in strategy.experimental_local_results(per_replica[0])],
            "keras": [float(v) for v in strategy.experimental_local_results(per_replica[1])],
            "plain": float(pair[1](y, p)),  # outside the strategy: not scaled
        }
    return out


def run_jax() -> dict:
    import jax
    import keras

    devices = keras.distribution.list_devices("cpu")
    single = _build_and_train()
    distribution = keras.distribution.DataParallel(devices=devices)
    distributed = _build_and_train(distribution.scope())
    control = _build_and_train(loss_scale=0.5)
    return {
        "replicas": len(jax.devices()),
        "mesh": int(np.prod(distribution.device_mesh.shape)),
        "single": single,
        "distributed": distributed,
        "control": control,
    }


def run_jax_bad_batches() -> dict:
    """One bad batch (labels {1, 2}) from a PyDataset, a generator, and with only a metric, on 2 devices.

    Used to hang ~60 s in the gradients' all-reduce and abort the process
    (the failed host callback stopped one device's step only).
    """
    import keras

    import keras_binary as kb

    devices = keras.distribution.list_devices("cpu")
    distribution = keras.distribution.DataParallel(devices=devices)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.integers(0, 2, size=32)
    y_bad = y.copy()
    y_bad[8:16] += 1

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[8 * i : 8 * i + 8], y_bad[8 * i : 8 * i + 8]

    def batches():
        for i in range(4):
            yield x[8 * i : 8 * i + 8], y_bad[8 * i : 8 * i + 8]

    out = {}
    for case in ("pydataset", "generator", "metric_only"):
        with distribution.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
            if case == "metric_only":
                model.compile("sgd", "mse", metrics=[kb.metrics.AUC()])
            else:
                model.compile("sgd", kb.SafeBCE())
            model.fit(x, y, batch_size=8, verbose=0)
            try:
                model.fit(Batches() if case == "pydataset" else batches(), epochs=2, verbose=0)
                out[case] = "silent"
            except kb.BinaryLabelError as e:
                out[case] = e.code
            except Exception as e:  # noqa: BLE001 - any other type is a failure, reported by name
                out[case] = type(e).__name__
    out["rollback"] = _jax_rollback(distribution, x, y, y_bad)
    out["threads"] = _jax_threads(distribution, x, y, y_bad)
    return out


def _jax_model(distribution):
    import keras

    import keras_binary as kb

    keras.utils.set_random_seed(1)
    with distribution.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
        model.compile(keras.optimizers.Adam(0.05), kb.SafeBCE(), metrics=[kb.metrics.AUC()])
    return model


def _jax_rollback(distribution, x, y, y_bad) -> dict:
    """Adam on 2 devices: after the coded error every variable equals the model trained up to the refused batch."""
    import keras

    def state(model):
        values = model.variables + model.optimizer.variables + model.metrics_variables
        return [np.asarray(keras.ops.convert_to_numpy(v.value)) for v in values]

    def batches(labels, count):
        for i in range(count):
            yield x[8 * i : 8 * i + 8], labels[8 * i : 8 * i + 8]

    reference = _jax_model(distribution)
    with distribution.scope():
        reference.fit(batches(y, 1), verbose=0)  # the batch before the refused one
    model = _jax_model(distribution)
    try:
        with distribution.scope():
            model.fit(batches(y_bad, 4), verbose=0)  # good, refused, good, good
        code = "silent"
    except Exception as e:  # noqa: BLE001 - reported by code or name
        code = getattr(e, "code", type(e).__name__)
    identical = all(np.array_equal(a, b) for a, b in zip(state(model), state(reference), strict=True))
    return {"code": code, "identical": identical}


def _jax_threads(distribution, x, y, y_bad) -> dict:
    """Two models in two threads on 2 devices: one's refused batch stops it alone.

    Deterministic: the good model draws its first batch, then waits until the
    bad model's `fit` has ended (with its error) before it draws the others.
    """
    import threading

    import keras

    good, bad = _jax_model(distribution), _jax_model(distribution)
    for model in (good, bad):  # build and compile the steps first
        with distribution.scope():
            model.fit(x, y, batch_size=8, verbose=0)
    good_started, bad_done = threading.Event(), threading.Event()
    outcome = {}

    def good_batches():
        for i in range(4):
            yield x[8 * i : 8 * i + 8], y[8 * i : 8 * i + 8]
            if i == 0:
                good_started.set()
                bad_done.wait(120)

    def bad_batches():
        for i in range(4):
            yield x[8 * i : 8 * i + 8], y_bad[8 * i : 8 * i + 8]

    def train(name, model, data, before=None, after=None):
        if before is not None:
            before.wait(120)
        try:
            with distribution.scope():
                model.fit(data(), verbose=0)
            outcome[name] = "ok"
        except Exception as e:  # noqa: BLE001 - reported by code or name
            outcome[name] = getattr(e, "code", type(e).__name__)
        finally:
            if after is not None:
                after.set()

    threads = [
        threading.Thread(target=train, args=("good", good, good_batches)),
        threading.Thread(target=train, args=("bad", bad, bad_batches, good_started, bad_done)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    outcome["good_finite"] = bool(np.all(np.isfinite(keras.ops.convert_to_numpy(good.predict(x, verbose=0)))))
    return outcome


# ---------------------------------------------------------------------------
# The tests.


def _env(backend: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    if backend == "jax":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    return env


def _subprocess(
    backend: str, tmp_path: Path, mode: str | None = None, timeout: int = SUBPROCESS_TIMEOUT_S
) -> dict:
    env = _env(backend)
    out = tmp_path / f"{backend}.json"
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), mode or backend, str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed it
        raise AssertionError(f"the {backend} subprocess ran past {timeout} s") from exc
    assert proc.returncode == 0, f"the {backend} subprocess failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return json.loads(out.read_text())


def _assert_same_training(result: dict) -> None:
    single, distributed = result["single"], result["distributed"]
    assert len(single["weights"]) == len(distributed["weights"])
    for i, (a, b) in enumerate(zip(single["weights"], distributed["weights"], strict=True)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=f"weight {i}")
    assert set(single["history"]) == set(distributed["history"])
    for name, values in single["history"].items():
        np.testing.assert_allclose(distributed["history"][name], values, rtol=1e-5, atol=1e-5, err_msg=name)
    for name, value in single["evaluate"].items():
        np.testing.assert_allclose(distributed["evaluate"][name], value, rtol=1e-5, atol=1e-5, err_msg=name)
    # The comparison means something: training moved the weights and logged finite values.
    assert all(np.all(np.isfinite(v)) for v in single["history"].values())
    assert single["history"]["loss"][0] != single["history"]["loss"][-1]
    # ... and a loss scaled by 1/2 (what dividing twice by 2 replicas does) moves them visibly.
    moved = max(
        np.max(np.abs(np.subtract(a, b)))
        for a, b in zip(single["weights"], result["control"]["weights"], strict=True)
    )
    assert moved > 1e-3, moved


@pytest.fixture(scope="module")
def tf_result(tmp_path_factory) -> dict:
    """The TensorFlow subprocess's result, run once for the tests that read it."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip(
            "tf.distribute.MirroredStrategy needs the TensorFlow backend; runs in the tensorflow pass"
        )
    return _subprocess("tensorflow", tmp_path_factory.mktemp("mirrored"))


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(tf_result):
    assert tf_result["replicas"] == 2
    _assert_same_training(tf_result)


@pytest.mark.slow
def test_report_and_calibrate_under_a_strategy(tf_result):
    """`predict_on_batch` under 2 replicas gives 2 copies of the rows: report reads one."""
    result = tf_result["report"]
    assert result["strategy"]["n"] == result["single"]["n"] == 40
    for key in ("auc", "calibrated"):
        np.testing.assert_allclose(result["strategy"][key], result["single"][key], rtol=1e-5)


def test_xla_fit_after_a_strategy_trains(tf_result):
    assert np.isfinite(tf_result["later_xla_loss"])


@pytest.mark.slow
def test_loss_reduction_under_a_strategy_is_keras_own(tf_result):
    """Inside `strategy.run`, SafeBCE scales as Keras's losses do: a mean by 1/replicas, a sum not at all."""
    losses = tf_result["replica_losses"]
    mean, total = losses["sum_over_batch_size"], losses["sum"]
    np.testing.assert_allclose(mean["safe"], mean["keras"], rtol=1e-6)
    np.testing.assert_allclose(mean["safe"], [mean["plain"] / 2] * 2, rtol=1e-6)  # scaled once, not twice
    np.testing.assert_allclose(total["safe"], total["keras"], rtol=1e-6)
    np.testing.assert_allclose(total["safe"], [total["plain"]] * 2, rtol=1e-6)


@pytest.mark.slow
def test_jax_data_parallel_matches_single_device(tmp_path):
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras.distribution.DataParallel is implemented for JAX only; runs in the jax pass")
    result = _subprocess("jax", tmp_path)
    assert result["replicas"] == 2 and result["mesh"] == 2
    assert result["distributed"]["variable_devices"] == 2  # replicated on both devices
    _assert_same_training(result)


@pytest.fixture(scope="module")
def jax_bad_result(tmp_path_factory) -> dict:
    """The JAX bad-batch subprocess's result (2 devices), run once for the tests that read it."""
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras.distribution.DataParallel is implemented for JAX only; runs in the jax pass")
    return _subprocess("jax", tmp_path_factory.mktemp("data_parallel_bad"), mode="jax_bad", timeout=240)


@pytest.mark.slow
def test_jax_data_parallel_bad_batch_raises_the_coded_error(jax_bad_result):
    """The guard's claim holds on 2 devices: the coded error at the step boundary, no hang, no abort."""
    result = jax_bad_result
    assert {key: result[key] for key in ("pydataset", "generator", "metric_only")} == {
        "pydataset": "KB202",
        "generator": "KB202",
        "metric_only": "KB202",
    }


@pytest.mark.slow
def test_jax_data_parallel_refused_batch_leaves_every_variable(jax_bad_result):
    """Adam on 2 devices: the refused batch, and the batches after it, moved nothing."""
    assert jax_bad_result["rollback"] == {"code": "KB202", "identical": True}


@pytest.mark.slow
def test_jax_data_parallel_threads_do_not_stop_each_other(jax_bad_result):
    """The bad model's error is its own: the good model, mid-fit in another thread, trains on."""
    assert jax_bad_result["threads"] == {"good": "ok", "bad": "KB202", "good_finite": True}


if __name__ == "__main__":  # the subprocess: python tests/test_distributed.py MODE OUT.json
    mode, out_path = sys.argv[1], sys.argv[2]
    runs = {"tensorflow": run_tensorflow, "jax": run_jax, "jax_bad": run_jax_bad_batches}
    result = runs[mode]()
    Path(out_path).write_text(json.dumps(result))
