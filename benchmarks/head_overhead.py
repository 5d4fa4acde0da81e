"""Overhead of BinaryHead against the hand-written head it replaces.

Compares, on the same backbone output (a random `(N, 7, 7, 1280)` feature
map, MobileNetV2's at 224x224), `keras_binary.BinaryHead()` with
`GlobalAveragePooling2D()` + `Dense(1, "sigmoid")` holding the same weights:

- forward: `model.predict_on_batch(x)`;
- training step: `model.train_on_batch(x, y)`, same loss and optimizer.

Repetitions are interleaved (the order alternates every repetition) and the
ratio BinaryHead / plain is computed per repetition; the script prints the
median ratio of each. Target: <= 1.02 on TensorFlow and JAX.

Run (one backend per run; `--quick` for fewer repetitions, `--json` for JSON):

    KERAS_BACKEND=tensorflow python benchmarks/head_overhead.py
    KERAS_BACKEND=jax python benchmarks/head_overhead.py

Each figure is also printed as `RESULT name=... ratio=... target=...` for
`benchmarks/run_all.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_binary  # noqa: E402

TARGET = 1.02


def build_models(shape: tuple[int, ...]) -> tuple[keras.Model, keras.Model]:
    """The plain head and BinaryHead on the same input, with equal weights."""
    inputs = keras.Input(shape)
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    plain = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled), name="plain")
    inputs = keras.Input(shape)
    head = keras_binary.BinaryHead()
    binary = keras.Model(inputs, head(inputs), name="binary_head")
    head.output_dense.set_weights(plain.layers[-1].get_weights())
    for model in (plain, binary):
        # The same loss and optimizer for both: only the head differs.
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=keras.losses.BinaryCrossentropy())
    return plain, binary


def forward_ops(model: keras.Model, x) -> dict[str, int] | None:
    """How many times each operation occurs in the compiled forward pass.

    TensorFlow: the ops of the traced graph; JAX: the StableHLO ops of the
    lowered function. `None` on other backends.
    """
    backend = keras.backend.backend()
    counts: dict[str, int] = {}
    if backend == "tensorflow":
        import tensorflow as tf

        graph = tf.function(lambda t: model(t, training=False)).get_concrete_function(x).graph
        names = [
            op.type for op in graph.get_operations() if op.type not in ("Placeholder", "Identity", "NoOp")
        ]
        names = [n for n in names if n != "ReadVariableOp"]  # one per weight in both
    elif backend == "jax":
        import re

        import jax

        def forward(trainable, non_trainable, t):
            return model.stateless_call(trainable, non_trainable, t, training=False)[0]

        text = (
            jax.jit(forward)
            .lower(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                x,
            )
            .as_text()
        )
        names = re.findall(r"= (?:stablehlo|mhlo|chlo)\.(\w+)", text)
    else:
        return None
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _time(fn, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def measure(batch: int, reps: int, inner: int, seed: int = 0) -> dict:
    shape = (7, 7, 1280)
    rng = np.random.default_rng(seed)
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, *shape)).astype("float32"))
    y = keras.ops.convert_to_tensor(rng.integers(0, 2, size=(batch, 1)).astype("float32"))
    plain, binary = build_models(shape)
    np.testing.assert_allclose(plain.predict_on_batch(x), binary.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    calls = {
        "forward": {m.name: (lambda m=m: m.predict_on_batch(x)) for m in (plain, binary)},
        "train_step": {m.name: (lambda m=m: m.train_on_batch(x, y)) for m in (plain, binary)},
    }
    for pair in calls.values():  # compile and warm up
        for fn in pair.values():
            for _ in range(3):
                fn()
    results = {}
    plain_ops, binary_ops = forward_ops(plain, x), forward_ops(binary, x)
    results["forward_ops"] = {
        "plain": plain_ops,
        "binary_head": binary_ops,
        "identical": plain_ops == binary_ops,
    }
    for kind, pair in calls.items():
        ratios, times = [], {"plain": [], "binary_head": []}
        for rep in range(reps):
            order = ["plain", "binary_head"] if rep % 2 == 0 else ["binary_head", "plain"]
            for name in order:
                times[name].append(_time(pair[name], inner))
            ratios.append(times["binary_head"][-1] / times["plain"][-1])
        results[kind] = {
            "median_ratio": statistics.median(ratios),
            "plain_ms": 1e3 * statistics.median(times["plain"]),
            "binary_head_ms": 1e3 * statistics.median(times["binary_head"]),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=201, help="interleaved repetitions")
    parser.add_argument("--inner", type=int, default=5, help="calls per timed repetition")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (61 of 3 calls)")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.inner = 61, 3
    results = measure(args.batch, args.reps, args.inner)
    info = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "batch": args.batch,
        "input": "(batch, 7, 7, 1280)",
        "reps": args.reps,
        "inner": args.inner,
    }
    if args.json:
        print(json.dumps({**info, **results}, indent=2))
        return
    print(
        f"BinaryHead() vs GlobalAveragePooling2D() + Dense(1, 'sigmoid'): backend {info['backend']}, "
        f"keras {info['keras']}, input {info['input']} with batch {args.batch}, "
        f"{args.reps} interleaved repetitions of {args.inner} calls"
    )
    ops = results.pop("forward_ops")
    if ops["plain"] is not None:
        same = "identical" if ops["identical"] else "DIFFERENT"
        print(f"  compiled forward ops: {same} (plain {ops['plain']}, BinaryHead {ops['binary_head']})")
    for kind, r in results.items():
        verdict = "ok" if r["median_ratio"] <= TARGET else "ABOVE TARGET"
        print(
            f"  {kind:10s}  median ratio {r['median_ratio']:.3f} ({verdict}, target <= {TARGET})"
            f"   plain {r['plain_ms']:.2f} ms, BinaryHead {r['binary_head_ms']:.2f} ms"
        )
    for kind, r in results.items():  # the lines benchmarks/run_all.py reads
        print(
            f"RESULT name=head_{kind} ratio={r['median_ratio']:.4f} target={TARGET} reference=gap_dense_sigmoid"
        )


if __name__ == "__main__":
    main()
