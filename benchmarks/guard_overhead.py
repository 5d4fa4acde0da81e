"""Overhead of the fit guard: a guarded `fit` step against plain Keras, and the host label check.

(a) Training step, batch 1024, an MLP on 64 features, SGD: `model.fit` over
    `STEPS` steps with `SafeBCE(validate=True)` (so the guard is on: host
    label check, step watcher, error conversion) against the same model with
    plain `keras.losses.BinaryCrossentropy()` (no guard). TensorFlow runs it
    with and without XLA (`jit_compile=True/False`), JAX with `jax.jit`,
    PyTorch eagerly. Repetitions are interleaved and the ratio is computed per
    repetition; the median is reported. Target: <= 1.05. The same step with
    the guard switched off (`keras_binary.config.set_fit_guard(False)`) is
    printed too, to separate the guard from the loss's own checks.
(c) A plain-Keras model (`"binary_crossentropy"`, `"accuracy"`) under
    `keras_binary.config.set_fit_guard("all")` (what `keras-binary run`
    does: graph checks once per compile, the host label check on every
    `fit`, no change to the step) against the same model unguarded, same
    protocol. Target: <= 1.02.
(d) `train_on_batch`, the call a GAN or a custom loop makes every step: a
    32-64-1 MLP, batch 1024 (a step of about 0.6 ms), `SafeBCE(validate=True)`
    guarded against the same model with the guard off, `TOB_CALLS` calls per
    repetition, interleaved. Target: <= 1.02 (the guard's fixed cost per
    call: after the first call, the plan's test, the short label test of
    the batch, the step watcher). Also printed: the quartiles of the ratio,
    and the guard's own CPU time per call on the calling thread (guarded
    minus guard off), which a busy machine disturbs less than the wall
    clock. Measured with
    `KERAS_BACKEND=... python benchmarks/guard_overhead.py --only-train-on-batch --repeats 21`
    on the shared 2-core machine, busy (steps of 0.9-2 ms instead of
    0.6 ms; docs/guard.md has the table), two runs each: TensorFlow 1.015
    and 1.015 (before the per-model plan: 1.072, 1.063), TF + XLA 1.039 and
    1.055 (1.129, 1.146), JAX 1.015 and 1.025 (1.079, 1.091); the guard's
    CPU time per call 20-25, 56-62 and 16-27 us (62-68, 163-177, 73-74 us
    before). Since the XLA step carries its check's count in its logs (no
    read of the poison record per step), alternated with the code before
    it on a slower machine (steps of 1.2-1.6 ms): TensorFlow 1.017, 0.998
    (before 1.028, 1.033), XLA 1.032, 1.022 (1.037, 1.059), JAX 1.009,
    1.001 (1.036, 1.027); docs/guard.md. The part also times the same
    model compiled with Keras's own `"binary_crossentropy"` under
    `set_fit_guard("all")` against the guard's default scope (which leaves
    it to Keras): the plan covers it too.
(e) The same plain-Keras model fed a `tf.data.Dataset` (`from_tensor_slices`,
    batch 1024, `prefetch`) and a `keras.utils.PyDataset` (one NumPy slice per
    `__getitem__`) under `set_fit_guard("all")`, whose batches' labels are
    checked as they are drawn (a `map` of a few TensorFlow ops at the end of
    the pipeline; the host check in `__getitem__`), against the same model and
    data unguarded, same protocol, 100 steps per epoch. Target: <= 1.02.
    `--only-datasets` runs this part alone. (TensorFlow opens a mapped
    dataset's iterator once per epoch, a few ms more than an unmapped one:
    a cost per epoch, not per step.)
(b) The host label check (`keras_binary.guard.check_labels`) on 10 million
    valid float32 labels, against one `np.max` over them (a single reduction
    pass, the floor). Target: <= 2.5 (the check does a minimum and a maximum
    in one pass over memory).

Run (one backend per run; `--quick` for fewer repetitions):

    KERAS_BACKEND=tensorflow python benchmarks/guard_overhead.py
    KERAS_BACKEND=jax python benchmarks/guard_overhead.py
    KERAS_BACKEND=torch python benchmarks/guard_overhead.py

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
import numpy as np  # noqa: E402

import keras_binary  # noqa: E402
from keras_binary.guard import check_labels  # noqa: E402

BATCH = 1024
STEPS = 20
TARGET = 1.05
PLAIN_TARGET = 1.02
CHECK_TARGET = 2.5
TOB_CALLS = 200
# Steps per epoch of part (e): opening a mapped dataset's iterator costs a few ms once per epoch.
DATASET_STEPS = 100
TOB_TARGET = 1.02


def build(loss, **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(256, "relu"),
            keras.layers.Dense(256, "relu"),
            keras.layers.Dense(1, "sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss, **compile_kwargs)
    return model


def time_fit(model: keras.Model, x, y, guard: bool = True) -> float:
    keras_binary.config.set_fit_guard(guard)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    keras_binary.config.set_fit_guard(True)
    return seconds / STEPS * 1000


def step_overhead(repeats: int, **compile_kwargs) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 64)).astype("float32")
    y = rng.integers(0, 2, size=BATCH * STEPS).astype("float32")
    plain = build(keras.losses.BinaryCrossentropy(), **compile_kwargs)
    safe = build(keras_binary.SafeBCE(validate=True), **compile_kwargs)
    for model in (plain, safe):  # compile and warm up
        time_fit(model, x, y)
        time_fit(model, x, y)
    times: dict[str, list[float]] = {"keras BCE": [], "SafeBCE guarded": [], "SafeBCE guard off": []}
    for r in range(repeats):
        order = list(times) if r % 2 == 0 else list(reversed(times))
        for name in order:
            if name == "keras BCE":
                times[name].append(time_fit(plain, x, y))
            else:
                times[name].append(time_fit(safe, x, y, guard=name == "SafeBCE guarded"))
    base = times["keras BCE"]
    figures = {
        name: (statistics.median(t), statistics.median(a / b for a, b in zip(t, base, strict=True)))
        for name, t in times.items()
    }
    alone = statistics.median(
        a / b for a, b in zip(times["SafeBCE guarded"], times["SafeBCE guard off"], strict=True)
    )
    figures["guard alone"] = (0.0, alone)
    return figures


def time_plain(model: keras.Model, x, y, scope: bool | str) -> float:
    keras_binary.config.set_fit_guard(scope)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    keras_binary.config.set_fit_guard(True)
    return seconds / STEPS * 1000


def plain_overhead(repeats: int, **compile_kwargs) -> tuple[float, float, float]:
    """(c): a plain-Keras model guarded under "all" against the same model unguarded."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 64)).astype("float32")
    y = rng.integers(0, 2, size=BATCH * STEPS).astype("float32")
    model = build("binary_crossentropy", metrics=["accuracy"], **compile_kwargs)
    for scope in (True, "all", True, "all"):  # compile, warm up, run the once-per-compile checks
        time_plain(model, x, y, scope)
    guarded, plain = [], []
    for r in range(repeats):
        for scope in ("all", True) if r % 2 == 0 else (True, "all"):
            (guarded if scope == "all" else plain).append(time_plain(model, x, y, scope))
    ratio = statistics.median(a / b for a, b in zip(guarded, plain, strict=True))
    return statistics.median(guarded), statistics.median(plain), ratio


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x) // BATCH

    def __getitem__(self, i: int):
        return self.x[i * BATCH : (i + 1) * BATCH], self.y[i * BATCH : (i + 1) * BATCH]


def time_source(model: keras.Model, source, scope: bool | str) -> float:
    keras_binary.config.set_fit_guard(scope)
    start = time.perf_counter()
    model.fit(source, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    keras_binary.config.set_fit_guard(True)
    return seconds / DATASET_STEPS * 1000


def dataset_overhead(repeats: int, kind: str, **compile_kwargs) -> tuple[float, float, float]:
    """(e): a plain-Keras model on a tf.data.Dataset or a PyDataset, guarded under "all" against unguarded."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * DATASET_STEPS, 64)).astype("float32")
    y = rng.integers(0, 2, size=BATCH * DATASET_STEPS).astype("float32")
    if kind == "tf.data":
        import tensorflow as tf

        source = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    else:
        source = _Batches(x, y)
    model = build("binary_crossentropy", metrics=["accuracy"], **compile_kwargs)
    for scope in (True, "all", True, "all"):  # compile, warm up, wrap the dataset once
        time_source(model, source, scope)
    guarded, plain = [], []
    for r in range(repeats):
        for scope in ("all", True) if r % 2 == 0 else (True, "all"):
            (guarded if scope == "all" else plain).append(time_source(model, source, scope))
    ratio = statistics.median(a / b for a, b in zip(guarded, plain, strict=True))
    return statistics.median(guarded), statistics.median(plain), ratio


def train_on_batch_overhead(
    repeats: int, plain: bool = False, **compile_kwargs
) -> tuple[float, float, float, list, float]:
    """Median ms per guarded and unguarded `train_on_batch` call, the median ratio and its quartiles.

    `plain`: the model is compiled with Keras's own `"binary_crossentropy"`,
    guarded under `set_fit_guard("all")` against the guard's default scope
    (which leaves it to Keras), as in part (c).

    Also the guard's own cost in CPU time of the calling thread, in
    microseconds per call (median of the paired differences): the host
    checks, the watcher and the wrapper run there, the step's kernels mostly
    in the backend's threads. It does not count the time the thread waits
    for a core, so it varies less than the wall-clock ratio on a busy machine.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 32)).astype("float32")
    y = rng.integers(0, 2, size=BATCH).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, "relu"), keras.layers.Dense(1, "sigmoid")]
    )
    loss = "binary_crossentropy" if plain else keras_binary.SafeBCE(validate=True)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss, **compile_kwargs)

    cpu = {True: [], False: []}

    def run(guard: bool) -> float:
        keras_binary.config.set_fit_guard(("all" if guard else True) if plain else guard)
        start, start_cpu = time.perf_counter(), time.thread_time()
        for _ in range(TOB_CALLS):
            model.train_on_batch(x, y)
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - start_cpu
        keras_binary.config.set_fit_guard(True)
        cpu[guard].append(cpu_seconds / TOB_CALLS * 1e6)
        return seconds / TOB_CALLS * 1000

    run(True), run(False)  # compile and warm up
    cpu[True].clear(), cpu[False].clear()
    guarded, off = [], []
    for r in range(repeats):
        if r % 2 == 0:
            guarded.append(run(True)), off.append(run(False))
        else:
            off.append(run(False)), guarded.append(run(True))
    ratios = [a / b for a, b in zip(guarded, off, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    cpu_us = statistics.median(a - b for a, b in zip(cpu[True], cpu[False], strict=True))
    return statistics.median(guarded), statistics.median(off), statistics.median(ratios), quartiles, cpu_us


def label_check(repeats: int) -> tuple[float, float, float]:
    y = (np.arange(10_000_000) % 2).astype("float32")
    floor, check = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        np.max(y)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        check_labels(y)
        check.append(time.perf_counter() - start)
    ratios = [c / f for c, f in zip(check, floor, strict=True)]
    return statistics.median(check) * 1000, statistics.median(floor) * 1000, statistics.median(ratios)


def report_plain(backend: str, label: str, figures: tuple[float, float, float]) -> None:
    g_ms, p_ms, ratio = figures
    verdict = "ok" if ratio <= PLAIN_TARGET else "MISSED"
    print(
        f"(c) plain Keras BCE per step, {backend} {label}: guarded under 'all' {g_ms:.3f} ms, "
        f"unguarded {p_ms:.3f} ms, ratio {ratio:.3f} (<= {PLAIN_TARGET} {verdict})"
    )
    print(
        f"RESULT name=fit_step_{label}_plain_all ratio={ratio:.3f} target={PLAIN_TARGET} reference=unguarded"
    )


def report_train_on_batch(backend: str, label: str, figures: tuple, plain: bool = False) -> None:
    guarded_ms, off_ms, ratio, quartiles, cpu_us = figures
    verdict = "ok" if ratio <= TOB_TARGET else "MISSED"
    what = "plain Keras BCE under 'all'" if plain else "guarded"
    reference = "unguarded" if plain else "guard off"
    print(
        f"(d) train_on_batch, 32-64-1 MLP, {backend} {label}: {what} {guarded_ms:.3f} ms, "
        f"{reference} {off_ms:.3f} ms, ratio {ratio:.3f} (quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}; "
        f"<= {TOB_TARGET} {verdict}); the guard's own CPU time on the calling thread {cpu_us:.1f} us per call"
    )
    name = f"train_on_batch_{label}_plain_all" if plain else f"train_on_batch_{label}_guard"
    print(f"RESULT name={name} ratio={ratio:.3f} target={TOB_TARGET} reference={reference.replace(' ', '_')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only-train-on-batch", action="store_true", help="part (d) only")
    parser.add_argument("--only-datasets", action="store_true", help="part (e) only")
    parser.add_argument("--only-plain", action="store_true", help="part (c) only")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repetitions (default 15)")
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 15)
    backend = keras.backend.backend()
    settings = {"tensorflow": [("graph", {"jit_compile": False}), ("xla", {"jit_compile": True})]}.get(
        backend, [("jit" if backend == "jax" else "eager", {})]
    )
    print(f"backend {backend}, batch {BATCH}, {STEPS} steps per fit, {repeats} interleaved repetitions")
    for label, kwargs in settings:
        if args.only_datasets or not (args.only_train_on_batch or args.only_plain):
            for kind in ("tf.data", "PyDataset"):
                g_ms, p_ms, ratio = dataset_overhead(repeats, kind, **kwargs)
                verdict = "ok" if ratio <= PLAIN_TARGET else "MISSED"
                print(
                    f"(e) plain Keras BCE on a {kind} per step, {backend} {label}: guarded under 'all' "
                    f"{g_ms:.3f} ms, unguarded {p_ms:.3f} ms, ratio {ratio:.3f} (<= {PLAIN_TARGET} {verdict})"
                )
                name = "tfdata" if kind == "tf.data" else "pydataset"
                print(
                    f"RESULT name=fit_step_{label}_plain_all_{name} ratio={ratio:.3f} "
                    f"target={PLAIN_TARGET} reference=unguarded"
                )
            if args.only_datasets:
                continue
        if args.only_train_on_batch:
            report_train_on_batch(backend, label, train_on_batch_overhead(repeats, **kwargs))
            report_train_on_batch(backend, label, train_on_batch_overhead(repeats, True, **kwargs), True)
            continue
        if args.only_plain:
            report_plain(backend, label, plain_overhead(repeats, **kwargs))
            continue
        figures = step_overhead(repeats, **kwargs)
        print(f"(a) fit step per step, {backend} {label}")
        print("  variant                 median ms   ratio  target")
        for name, (ms, ratio) in figures.items():
            if name == "guard alone":
                continue
            target = (
                f"  <= {TARGET} {'ok' if ratio <= TARGET else 'MISSED'}" if name == "SafeBCE guarded" else ""
            )
            print(f"  {name:<22}{ms:>10.3f}  {ratio:6.3f}{target}")
        ratio = figures["SafeBCE guarded"][1]
        print(f"RESULT name=fit_step_{label}_guarded ratio={ratio:.3f} target={TARGET} reference=keras_bce")
        own = figures["guard alone"][1]
        print(f"RESULT name=fit_step_{label}_guard_alone ratio={own:.3f} target={TARGET} reference=guard_off")
        report_plain(backend, label, plain_overhead(repeats, **kwargs))
        report_train_on_batch(backend, label, train_on_batch_overhead(repeats, **kwargs))
        report_train_on_batch(backend, label, train_on_batch_overhead(repeats, True, **kwargs), True)
    if args.only_train_on_batch or args.only_plain or args.only_datasets:
        return
    ms, floor_ms, ratio = label_check(repeats)
    print(f"(b) host label check on 10,000,000 float32 labels: {ms:.2f} ms (one np.max: {floor_ms:.2f} ms)")
    print(f"RESULT name=label_check_10M ratio={ratio:.3f} target={CHECK_TARGET} reference=np_max ms={ms:.2f}")


if __name__ == "__main__":
    main()
