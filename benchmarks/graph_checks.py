"""Time of the graph checks on a ResNet50V2: `graph_errors` (run before every `fit`) and `diagnose`.

The model is the seed report's: `keras.applications.ResNet50V2(weights=None,
input_shape=(224, 224, 3))` with its ImageNet top, then `Flatten` and
`Dense(1, "sigmoid")`, compiled with `binary_crossentropy` and
`metrics=["accuracy"]` (so every check has something to read, and KBD001 is
found). Each figure is the median over repetitions of one call; the ratio is
that time over the time it takes to build the model (the backbone and the
head), which a user waits for anyway: the checks must not be noticeable next
to it. Also timed: the classifier search `BinaryHead` runs when it is called
(`_graph.find_classifier` on the `Flatten` output).

Run (one backend per run; `--quick` for fewer repetitions):

    KERAS_BACKEND=tensorflow python benchmarks/graph_checks.py
    KERAS_BACKEND=jax python benchmarks/graph_checks.py --quick

Each figure is printed as `RESULT name=... ratio=... target=...` for
`benchmarks/run_all.py`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_binary  # noqa: E402
from keras_binary import _graph  # noqa: E402
from keras_binary.diagnostics import graph_errors  # noqa: E402

# The checks may take at most this fraction of the time to build the model.
TARGET = 0.05


def build(size: int) -> tuple[keras.Model, float]:
    """The seed model, and the seconds it took to build."""
    start = time.perf_counter()
    base_model = keras.applications.ResNet50V2(weights=None, input_shape=(size, size, 3))
    x = keras.layers.Flatten()(base_model.output)
    predictions = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=base_model.input, outputs=predictions)
    seconds = time.perf_counter() - start
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model, seconds


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--size", type=int, default=224, help="input size of the ResNet50V2")
    args = parser.parse_args()
    repeats = 5 if args.quick else 30

    model, build_s = build(args.size)
    flatten = model.layers[-2].output
    figures = {
        "graph_errors": lambda: graph_errors(model),
        "diagnose": lambda: keras_binary.diagnose(model),
        "find_classifier": lambda: _graph.find_classifier(flatten),
    }
    if [f.code for f in graph_errors(model)] != ["KBD001"]:
        raise SystemExit(
            "graph_errors no longer finds KBD001 in the seed model: the figures would mean nothing"
        )
    print(
        f"ResNet50V2 {args.size}x{args.size} + Flatten + Dense(1), backend {keras.backend.backend()}: "
        f"model built in {build_s * 1000:.0f} ms ({len(model.layers)} layers)"
    )
    print(f"  {'check':16s} {'median ms':>10s} {'ratio to build':>15s}")
    for name, fn in figures.items():
        seconds = median_seconds(fn, repeats)
        ratio = seconds / build_s
        print(f"  {name:16s} {seconds * 1000:10.2f} {ratio:15.4f}")
        print(
            f"RESULT name={name} ratio={ratio:.4f} target={TARGET} reference=model_build "
            f"ms={seconds * 1000:.2f} build_ms={build_s * 1000:.0f}"
        )


if __name__ == "__main__":
    main()
