"""Fresh-process trials of the fit guard's hardest paths: does any bad batch pass silently?

Each trial builds a fresh model, puts the step in the situation where the
error used to get lost, runs it on bad data, and records what came out:
`coded` (a `keras_binary.BinaryLabelError` with the expected code), `silent`
(no error at all) or `wrong` (another error). Cases:

- JAX (`--backend jax`), each preceded by an unrelated JAX computation left
  in flight (`a @ a @ a`, not waited for), which makes XLA's CPU client
  dispatch the next step asynchronously (the deterministic case of issue 12):
  `inflight` (`fit` on arrays with labels {1, 2}: the host check),
  `inflight_step` (`fit` on arrays whose inputs hold a NaN: KB207 from the
  prediction check, which only the step sees), `generator` (`fit` on a
  generator of {1, 2} labels), `evaluate` (`evaluate` on those inputs) and
  `spe4` (`steps_per_execution=4`, `fit` on a generator).
- TensorFlow (`--backend tensorflow`), `jit_compile=True`: `xla` (arrays, {1, 2}),
  `xla_dataset` (a `tf.data` dataset of {1, 2} labels: the poison record) and
  `xla_step` (the NaN inputs on arrays).

Usage:

    python tests/stress/guard_trials.py --backend jax --processes 20      # 20 fresh processes per case
    python tests/stress/guard_trials.py --backend jax --trials 5 --case inflight   # one process, 5 models

The parent prints one line per case, `CASE coded=N silent=N wrong=N`, and
exits with 1 when any trial was not `coded`. `--no-guard` runs the same
trials with `keras_binary.config.set_fit_guard(False)` (to show the hole).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys

CASES = {
    "jax": ("inflight", "inflight_step", "generator", "evaluate", "spe4"),
    "tensorflow": ("xla", "xla_dataset", "xla_step"),
}
EXPECTED = {
    "inflight": "KB202",
    "inflight_step": "KB207",
    "generator": "KB202",
    "evaluate": "KB207",
    "spe4": "KB202",
    "xla": "KB202",
    "xla_dataset": "KB202",
    "xla_step": "KB207",
}


def _trial(case: str, seed: int) -> str:
    import keras
    import numpy as np

    import keras_binary as kb

    backend = keras.backend.backend()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 8)).astype("float32")
    y01 = rng.integers(0, 2, size=256)
    # The step cases feed inputs with a NaN (KB207 from the prediction check):
    # neither the graph check nor the host label check sees them.
    x_nan = x.copy()
    x_nan[70] = np.nan  # in the second batch
    compile_kwargs = {"jit_compile": True} if backend == "tensorflow" else {}
    if case == "spe4":
        compile_kwargs["steps_per_execution"] = 4
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(keras.optimizers.SGD(0.01), kb.SafeBCE(), **compile_kwargs)
    # Warm up (compile the steps) on valid data: the bad call then runs compiled steps at once.
    if case == "evaluate":
        model.evaluate(x, y01, batch_size=64, verbose=0)
    else:
        model.fit(x, y01, batch_size=64, epochs=1, verbose=0)
    if backend == "jax":
        import jax.numpy as jnp

        a = jnp.ones((1536, 1536))
        _ = a @ a @ a  # in flight: not waited for
    y_bad = y01 + 1
    try:
        if case in ("inflight", "xla"):
            model.fit(x, y_bad, batch_size=64, epochs=1, verbose=0)
        elif case in ("inflight_step", "xla_step"):
            model.fit(x_nan, y01, batch_size=64, epochs=1, verbose=0)
        elif case == "evaluate":
            model.evaluate(x_nan, y01, batch_size=64, verbose=0)
        elif case in ("generator", "spe4"):

            def batches():
                for i in range(0, 256, 64):
                    yield x[i : i + 64], y_bad[i : i + 64]

            model.fit(batches(), epochs=1, verbose=0)
        elif case == "xla_dataset":
            import tensorflow as tf

            data = tf.data.Dataset.from_tensor_slices((x, y_bad)).batch(64)
            model.fit(data, epochs=1, verbose=0)
    except kb.BinaryLabelError as error:
        return "coded" if error.code == EXPECTED[case] else f"wrong:{error.code}"
    except Exception as error:  # noqa: BLE001 - any other type is a failure, reported as such
        return f"wrong:{type(error).__name__}"
    return "silent"


def _child(cases: list[str], trials: int, seed: int, guard: bool) -> None:
    import keras_binary as kb

    kb.config.set_fit_guard(guard)
    outcomes = {case: [_trial(case, seed + i) for i in range(trials)] for case in cases}
    print("OUTCOMES " + json.dumps(outcomes), flush=True)


def run_cases(
    backend: str, cases: list[str], processes: int, trials: int, guard: bool = True
) -> dict[str, collections.Counter]:
    """Runs `processes` fresh processes, each running `trials` fresh models of every case; counts outcomes."""
    counts = {case: collections.Counter() for case in cases}
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    for p in range(processes):
        command = [sys.executable, os.path.abspath(__file__), "--child", "--trials", str(trials)]
        command += ["--seed", str(1000 * p)] + [f"--case={case}" for case in cases]
        command += [] if guard else ["--no-guard"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("OUTCOMES ")]
        if not lines:
            for case in cases:
                counts[case][f"crash(rc={done.returncode}): {done.stderr.strip().splitlines()[-1:]}"] += (
                    trials
                )
            continue
        for case, outcomes in json.loads(lines[-1][len("OUTCOMES ") :]).items():
            counts[case].update(outcomes)
    return counts


def run_case(backend: str, case: str, processes: int, trials: int, guard: bool = True) -> collections.Counter:
    """`run_cases` for one case (one case per fresh process)."""
    return run_cases(backend, [case], processes, trials, guard)[case]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"), choices=sorted(CASES))
    parser.add_argument("--case", action="append", help="a case (repeatable); default: all of the backend")
    parser.add_argument("--processes", type=int, default=1, help="fresh processes per case")
    parser.add_argument("--trials", type=int, default=1, help="fresh models per process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-guard", action="store_true", help="turn the guard off (shows the hole)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.case, args.trials, args.seed, not args.no_guard)
        return 0
    failed = False
    for case in args.case or CASES[args.backend]:
        counts = run_case(args.backend, case, args.processes, args.trials, guard=not args.no_guard)
        coded = counts.pop("coded", 0)
        silent = counts.pop("silent", 0)
        print(
            f"{case} coded={coded} silent={silent} wrong={sum(counts.values())} {dict(counts) or ''}".rstrip(),
            flush=True,
        )
        failed = failed or silent > 0 or bool(counts)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
