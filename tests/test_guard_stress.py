"""CI stress test of the fit guard: fresh processes, the paths where a bad batch used to pass silently.

Two subprocesses (tests/stress/guard_trials.py), each looping over several
fresh models: JAX with an unrelated computation left in flight before each
bad call (arrays, NaN inputs only the step sees, a generator,
`steps_per_execution=4`, `evaluate`), and TensorFlow with `jit_compile=True`
(arrays, a `tf.data` dataset, NaN inputs). Any silent pass, or any error
other than the expected `BinaryLabelError`, fails. The subprocesses set their
own backend, so the test runs in the TensorFlow pass of CI only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.helpers import BACKEND

pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="the subprocesses set their own backend: run once, in the TensorFlow pass",
)

SCRIPT = Path(__file__).parent / "stress" / "guard_trials.py"


def _trials():
    spec = importlib.util.spec_from_file_location("guard_trials", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["guard_trials"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "backend,cases,trials",
    [
        ("jax", ["inflight", "inflight_step", "generator", "spe4", "evaluate"], 2),
        ("tensorflow", ["xla", "xla_dataset", "xla_step"], 2),
    ],
    ids=["jax_in_flight", "tensorflow_xla"],
)
def test_no_silent_pass_in_fresh_processes(backend, cases, trials):
    pytest.importorskip(backend)
    counts = _trials().run_cases(backend, cases, processes=1, trials=trials)
    for case, outcome in counts.items():
        assert outcome == {"coded": trials}, f"{backend} {case}: {dict(outcome)}"
