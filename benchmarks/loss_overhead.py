"""How much SafeBCE costs over plain Keras, on the active backend.

Run:

    KERAS_BACKEND=tensorflow python benchmarks/loss_overhead.py
    KERAS_BACKEND=jax python benchmarks/loss_overhead.py [--quick]
    KERAS_BACKEND=torch python benchmarks/loss_overhead.py --only b

It prints median time ratios (lower is better, 1.00 = no overhead):

(a) a compiled training step of a small MLP (batch 1024) with
    `SafeBCE(validate=False)` and `SafeBCE(validate=True)` against
    `keras.losses.BinaryCrossentropy` (targets <= 1.03 and <= 1.05);
(b) the loss alone on 4,000,000 logits and on 4,000,000 probabilities,
    compiled, against the floor: the fastest stable form written directly in
    the backend (`jax.numpy` under `jax.jit`, `tf` under `tf.function` with
    and without `jit_compile`, `torch`), interleaved with plain Keras's
    `BinaryCrossentropy` and SafeBCE (`validate=False` and `True`), with
    ratios to both (target <= 1.2 of the floor on TensorFlow and JAX);
(c) the number of traces of the training step when the last batch is smaller.

Repetitions of the variants are interleaved (A B C A B C ...) so that a noisy,
shared machine slows all of them alike; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_binary  # noqa: E402

BACKEND = keras.backend.backend()


def sync(x):
    """Waits for an asynchronous backend result."""
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    return ops.convert_to_numpy(x)


def interleaved(fns: dict, reps: int) -> dict:
    """Times each function `reps` times, interleaved; returns the lists of seconds."""
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def report(
    title: str,
    times: dict,
    baseline: str,
    targets: dict,
    results: dict | None = None,
    also: str | None = None,
) -> None:
    """Prints median and minimum times and their ratios to `baseline`.

    Targets are judged on the median ratio. On a shared, loaded machine the
    minimum (the run least disturbed by other processes) is the steadier
    estimate of the intrinsic cost, so its ratio is printed beside it.
    `also` names a second reference, whose median ratio gets a column too.
    Variants named in `results` are also printed as
    `RESULT name=... ratio=... target=...` lines for benchmarks/run_all.py.
    """
    base = statistics.median(times[baseline])
    base_min = min(times[baseline])
    second = statistics.median(times[also]) if also else None
    print(f"\n{title}")
    extra = f" {'/ keras':>7}" if also else ""
    print(
        f"  {'variant':<42} {'median ms':>10} {'ratio':>6} {'min ms':>9} {'ratio':>6}{extra}  target (median)"
    )
    for name, values in times.items():
        med, low = statistics.median(values), min(values)
        target = targets.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f} " + ("ok" if med / base <= target else "MISSED")
        column = f" {med / second:>7.3f}" if also else ""
        print(
            f"  {name:<42} {med * 1e3:>10.3f} {med / base:>6.3f} {low * 1e3:>9.3f} "
            f"{low / base_min:>6.3f}{column}  {verdict}"
        )
    reference = "floor" if baseline.startswith("floor") else "keras"
    for name, result in (results or {}).items():
        med, low = statistics.median(times[name]), min(times[name])
        target = f" target={targets[name]}" if name in targets else ""
        keras_ratio = f" keras_ratio={med / second:.4f}" if also else ""
        print(
            f"RESULT name={result} ratio={med / base:.4f}{target} "
            f"min_ratio={low / base_min:.4f}{keras_ratio} reference={reference}"
        )


# --- (a) a compiled training step ---------------------------------------------------------


def mlp(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def training_step(steps: int, reps: int, calls: int) -> None:
    batch = 1024
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * steps, 32)).astype("float32")
    y = (x[:, :2].sum(axis=1) > 0).astype("float32")
    losses = {
        "keras.losses.BinaryCrossentropy": keras.losses.BinaryCrossentropy(),
        "SafeBCE(validate=False)": keras_binary.SafeBCE(validate=False),
        "SafeBCE(validate=True)": keras_binary.SafeBCE(validate=True),
    }
    targets = {"SafeBCE(validate=False)": 1.03, "SafeBCE(validate=True)": 1.05}
    models = {}
    for name, loss in losses.items():
        model = mlp(0)
        model.compile(optimizer="sgd", loss=loss)
        model.fit(x[: 2 * batch], y[: 2 * batch], batch_size=batch, epochs=1, verbose=0)  # compile
        model.train_on_batch(x[:batch], y[:batch])
        models[name] = model

    def fit_fn(model):
        return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)

    times = interleaved({name: fit_fn(model) for name, model in models.items()}, reps)
    report(
        f"(a) training step in model.fit, MLP 32-64-64-1, batch {batch}: "
        f"{reps} fits of {steps} steps each, time per step",
        {k: [t / steps for t in v] for k, v in times.items()},
        "keras.losses.BinaryCrossentropy",
        targets,
        {
            "SafeBCE(validate=False)": "fit_step_validate_false",
            "SafeBCE(validate=True)": "fit_step_validate_true",
        },
    )
    xb, yb = x[:batch], y[:batch]

    def batch_fn(model):
        return lambda: model.train_on_batch(xb, yb)

    times = interleaved({name: batch_fn(model) for name, model in models.items()}, calls)
    report(
        f"(a') one compiled step per model.train_on_batch call (waits for the result), {calls} calls each",
        times,
        "keras.losses.BinaryCrossentropy",
        targets,
        {
            "SafeBCE(validate=False)": "train_on_batch_validate_false",
            "SafeBCE(validate=True)": "train_on_batch_validate_true",
        },
    )


# --- (b) the loss alone -------------------------------------------------------------------
#
# The floor is the fastest stable form written directly in the backend, not in
# keras.ops and not the package's own formula, so that a slow formula shows:
# `relu(z) - z * y + log1p(exp(-|z|))` on logits (stable for any finite z,
# though its gradient at z = 0 is one-sided and soft labels near 1 lose
# digits: the package must keep both right at this cost), and
# `-(y log p + (1 - y) log(1 - p))` on probabilities clipped to
# [epsilon, 1 - epsilon], as Keras clips them.


def backend_floors():
    """The floor functions `(y, z) -> mean loss` in the backend's own numerics, uncompiled."""
    eps = keras.config.epsilon()
    if BACKEND == "jax":
        import jax
        import jax.numpy as xp

        relu = jax.nn.relu
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        class xp:  # noqa: N801 - a namespace with jax.numpy's names
            abs, exp, log, log1p, mean = tf.abs, tf.exp, tf.math.log, tf.math.log1p, tf.reduce_mean
            clip = staticmethod(tf.clip_by_value)

        relu = tf.nn.relu
    elif BACKEND == "torch":
        import torch

        class xp:  # noqa: N801
            abs, exp, log, log1p, mean, clip = (
                torch.abs,
                torch.exp,
                torch.log,
                torch.log1p,
                torch.mean,
                torch.clamp,
            )

        relu = torch.relu
    else:
        return None

    def logits(y, z):
        return xp.mean(relu(z) - z * y + xp.log1p(xp.exp(-xp.abs(z))))

    def probabilities(y, p):
        p = xp.clip(p, eps, 1.0 - eps)
        return xp.mean(-(y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p)))

    return logits, probabilities


def compiled(fn, mode):
    """`fn` compiled as the backend compiles a step: mode 0 default, 1 XLA (TensorFlow)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=bool(mode))
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    return fn  # PyTorch: eager, as Keras runs a step by default


def interleaved_with_cpu(fns: dict, reps: int) -> tuple[dict, dict]:
    """As `interleaved`, also returning the process CPU time of each run.

    On a machine shared with other work, the CPU time a run spends (on all
    its threads) moves much less than its wall time.
    """
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


FLOOR_TARGET = 1.2


def loss_alone(n: int, reps: int) -> None:
    floors = backend_floors()
    if floors is None:
        print(f"\n(b) skipped: no floor written for the {BACKEND} backend")
        return
    floor_logits, floor_probabilities = floors
    rng = np.random.default_rng(1)
    z1 = ops.convert_to_tensor(rng.normal(scale=4.0, size=(n,)).astype("float32"))
    p1 = ops.sigmoid(z1)
    y1 = ops.convert_to_tensor(rng.integers(0, 2, n).astype("float32"))
    z_col, p_col, y_col = (ops.reshape(t, (n, 1)) for t in (z1, p1, y1))
    modes = (
        [("tf.function", 0), ("tf.function(jit_compile=True)", 1)] if BACKEND == "tensorflow" else [("", 0)]
    )
    for from_logits, floor, s1, s_col in (
        (True, floor_logits, z1, z_col),
        (False, floor_probabilities, p1, p_col),
    ):
        kind = "logits" if from_logits else "probabilities"
        floor_name = f"floor: {BACKEND} by hand, (N,)"
        keras_name = "keras BinaryCrossentropy, (N, 1)"
        variants = {
            floor_name: (floor, y1, s1),
            keras_name: (keras.losses.BinaryCrossentropy(from_logits=from_logits), y_col, s_col),
        }
        for validate in (False, True):
            loss = keras_binary.SafeBCE(from_logits=from_logits, validate=validate)
            variants[f"SafeBCE(validate={validate}), (N,)"] = (loss, y1, s1)
            variants[f"SafeBCE(validate={validate}), (N,) vs (N, 1)"] = (loss, y1, s_col)
        for mode_name, mode in modes:
            fns = {}
            for name, (fn, y, s) in variants.items():
                step = compiled(fn, mode)
                sync(step(y, s))  # trace and compile

                def run(step=step, y=y, s=s):
                    sync(step(y, s))

                fns[name] = run
            wall, cpu = interleaved_with_cpu(fns, reps)
            label = (
                f" {mode_name}" if mode_name else {"jax": " jax.jit", "torch": " (eager)"}.get(BACKEND, "")
            )
            suffix = ("_xla" if mode == 1 else "") + ("" if from_logits else "_probabilities")
            results = {}
            for validate in (False, True):
                tag = "validate_true" if validate else "validate_false"
                results[f"SafeBCE(validate={validate}), (N,)"] = f"loss_alone_{tag}_rank1{suffix}"
                results[f"SafeBCE(validate={validate}), (N,) vs (N, 1)"] = f"loss_alone_{tag}_column{suffix}"
            targets = {name: FLOOR_TARGET for name in results} if BACKEND in ("tensorflow", "jax") else {}
            title = f"(b) the loss alone on {n:,} {kind}, compiled{label}, {reps} runs each"
            report(title + ": wall time", wall, floor_name, targets, results, also=keras_name)
            report_cpu(cpu, floor_name, keras_name, targets, results)


def report_cpu(cpu: dict, floor_name: str, keras_name: str, targets: dict, results: dict) -> None:
    """Median process CPU time, as ratios to the floor and to plain Keras."""
    floor, plain = statistics.median(cpu[floor_name]), statistics.median(cpu[keras_name])
    print(f"  CPU time (all threads), median:  {'ms':>8} {'/ floor':>8} {'/ keras':>8}")
    for name, values in cpu.items():
        med = statistics.median(values)
        target = targets.get(name)
        verdict = (
            "" if target is None else f"  <= {target:.2f} " + ("ok" if med / floor <= target else "MISSED")
        )
        print(f"  {name:<42} {med * 1e3:>8.3f} {med / floor:>8.3f} {med / plain:>8.3f}{verdict}")
    for name, result in results.items():
        med = statistics.median(cpu[name])
        target = f" target={targets[name]}" if name in targets else ""
        print(
            f"RESULT name={result}_cpu ratio={med / floor:.4f}{target} keras_ratio={med / plain:.4f} reference=floor"
        )


# --- (c) retracing ------------------------------------------------------------------------


def retracing() -> None:
    class Counting(keras_binary.SafeBCE):
        traces = 0

        def call(self, y_true, y_pred):
            type(self).traces += 1
            return super().call(y_true, y_pred)

    class CountingKeras(keras.losses.BinaryCrossentropy):
        traces = 0

        def call(self, y_true, y_pred):
            type(self).traces += 1
            return super().call(y_true, y_pred)

    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 32)).astype("float32")  # batches of 256, 256, 256, 232
    y = (x[:, 0] > 0).astype("float32")
    print("\n(c) traces of the loss over 2 epochs of 1000 examples, batch 256 (last batch 232)")
    for cls in (CountingKeras, Counting):
        model = mlp(0)
        model.compile(optimizer="sgd", loss=cls())
        model.fit(x, y, batch_size=256, epochs=2, verbose=0)
        print(f"  {cls.__mro__[1].__name__:<32} {cls.traces} trace(s)")
    # SafeBCE traces as often as Keras's own loss: the ratio must be 1.
    print(f"RESULT name=traces_vs_keras ratio={Counting.traces / CountingKeras.traces:.4f} target=1.0")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (noisier)")
    parser.add_argument("--only", default="abc", help="which parts to run, e.g. --only a")
    args = parser.parse_args(argv)
    steps, fits, calls, n, runs = (10, 5, 50, 1_000_000, 9) if args.quick else (20, 60, 400, 4_000_000, 31)
    print(
        f"keras {keras.__version__}, backend {BACKEND}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"
    )
    if BACKEND == "tensorflow":
        import tensorflow as tf

        print(f"tensorflow {tf.__version__}")
    elif BACKEND == "jax":
        import jax

        print(f"jax {jax.__version__}, devices {jax.devices()}")
    print("command: KERAS_BACKEND=" + BACKEND + " python " + " ".join(sys.argv))
    if "a" in args.only:
        training_step(steps, fits, calls)
    if "b" in args.only:
        loss_alone(n, runs)
    if "c" in args.only:
        retracing()


if __name__ == "__main__":
    main()
