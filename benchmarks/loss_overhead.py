"""How much SafeBCE costs over plain Keras, on the active backend.

Run:

    KERAS_BACKEND=tensorflow python benchmarks/loss_overhead.py
    KERAS_BACKEND=jax python benchmarks/loss_overhead.py [--quick]

It prints median time ratios (lower is better, 1.00 = no overhead):

(a) a compiled training step of a small MLP (batch 1024) with
    `SafeBCE(validate=False)` and `SafeBCE(validate=True)` against
    `keras.losses.BinaryCrossentropy` (targets <= 1.03 and <= 1.10);
(b) the loss alone on 4,000,000 logits, compiled, against the same stable
    formula written by hand in `keras.ops` on a rank-1 layout (the floor;
    target <= 1.2 with `validate=False`), plus the hand-written formula on an
    `(N, 1)` column layout against rank 1;
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


def report(title: str, times: dict, baseline: str, targets: dict, results: dict | None = None) -> None:
    """Prints median and minimum times and their ratios to `baseline`.

    Targets are judged on the median ratio. On a shared, loaded machine the
    minimum (the run least disturbed by other processes) is the steadier
    estimate of the intrinsic cost, so its ratio is printed beside it.
    Variants named in `results` are also printed as
    `RESULT name=... ratio=... target=...` lines for benchmarks/run_all.py.
    """
    base = statistics.median(times[baseline])
    base_min = min(times[baseline])
    print(f"\n{title}")
    print(f"  {'variant':<42} {'median ms':>10} {'ratio':>6} {'min ms':>9} {'ratio':>6}  target (median)")
    for name, values in times.items():
        med, low = statistics.median(values), min(values)
        target = targets.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.2f} " + ("ok" if med / base <= target else "MISSED")
        print(
            f"  {name:<42} {med * 1e3:>10.3f} {med / base:>6.3f} {low * 1e3:>9.3f} "
            f"{low / base_min:>6.3f}  {verdict}"
        )
    for name, result in (results or {}).items():
        med, low = statistics.median(times[name]), min(times[name])
        target = f" target={targets[name]}" if name in targets else ""
        print(
            f"RESULT name={result} ratio={med / base:.4f}{target} "
            f"min_ratio={low / base_min:.4f} reference={'floor' if '[floor]' in baseline else 'keras'}"
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
    targets = {"SafeBCE(validate=False)": 1.03, "SafeBCE(validate=True)": 1.10}
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


def floor_bce(y, z):
    """The stable logit formula of SafeBCE, by hand in keras.ops, then the mean."""
    nonneg = ops.greater_equal(z, 0.0)
    values = ops.log1p(ops.exp(ops.where(nonneg, -z, z))) + ops.where(nonneg, 1.0 - y, -y) * z
    return ops.mean(values)


def compiled(fn):
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=False), tf.function(fn, jit_compile=True)
    if BACKEND == "jax":
        import jax

        return jax.jit(fn), None
    return fn, None


def loss_alone(n: int, reps: int) -> None:
    rng = np.random.default_rng(1)
    z1 = ops.convert_to_tensor(rng.normal(scale=4.0, size=(n,)).astype("float32"))
    y1 = ops.convert_to_tensor(rng.integers(0, 2, n).astype("float32"))
    z_col = ops.reshape(z1, (n, 1))
    y_col = ops.reshape(y1, (n, 1))
    safe = keras_binary.SafeBCE(from_logits=True, validate=False)
    safe_checked = keras_binary.SafeBCE(from_logits=True, validate=True)
    plain = keras.losses.BinaryCrossentropy(from_logits=True)
    variants = {
        "hand-written, rank 1 (N,) [floor]": (floor_bce, y1, z1),
        "hand-written, column (N, 1)": (floor_bce, y_col, z_col),
        "SafeBCE(validate=False), rank 1 (N,)": (safe, y1, z1),
        "SafeBCE(validate=False), (N,) vs (N, 1)": (safe, y1, z_col),
        "SafeBCE(validate=True), (N,) vs (N, 1)": (safe_checked, y1, z_col),
        "keras BinaryCrossentropy, (N, 1)": (plain, y_col, z_col),
    }
    modes = [("", 0)]
    if BACKEND == "tensorflow":
        modes = [("tf.function", 0), ("tf.function(jit_compile=True)", 1)]
    for mode_name, mode in modes:
        fns = {}
        for name, (fn, y, z) in variants.items():
            step = compiled(fn)[mode]
            sync(step(y, z))  # trace and compile

            def run(step=step, y=y, z=z):
                sync(step(y, z))

            fns[name] = run
        times = interleaved(fns, reps)
        label = f" {mode_name}" if mode_name else (" jax.jit" if BACKEND == "jax" else "")
        suffix = "_xla" if mode == 1 else ""
        report(
            f"(b) the loss alone on {n:,} logits, compiled{label}, {reps} runs each",
            times,
            "hand-written, rank 1 (N,) [floor]",
            {
                "SafeBCE(validate=False), rank 1 (N,)": 1.2,
                "SafeBCE(validate=False), (N,) vs (N, 1)": 1.2,
            },
            {
                "SafeBCE(validate=False), rank 1 (N,)": f"loss_alone_rank1{suffix}",
                "SafeBCE(validate=False), (N,) vs (N, 1)": f"loss_alone_column_logits{suffix}",
                "SafeBCE(validate=True), (N,) vs (N, 1)": f"loss_alone_validate_true{suffix}",
                "hand-written, column (N, 1)": f"floor_column_vs_rank1{suffix}",
                "keras BinaryCrossentropy, (N, 1)": f"keras_bce_column_vs_floor{suffix}",
            },
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
