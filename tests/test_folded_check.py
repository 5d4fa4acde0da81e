"""The loss's value check folded into its reduction (`losses._FoldedCheck`).

Compiled, a loss makes its element values NaN where a check failed and tests
one scalar, the reduced result; the summary for the message, which says
whether a check failed, is computed only when the result is not finite, and
on the host (`_runtime.HostSummary`) except under TensorFlow's XLA. These
tests hold the folded path to the eager one: the same batches fail, with the
same code, and the other causes of a non-finite result (a NaN sample weight,
an overflow, a wrapped loss) raise nothing.
"""

from __future__ import annotations

import functools
import warnings

import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keras import ops

import keras_binary
from keras_binary import _runtime, _value_checks
from keras_binary._contract import canonical_pair
from keras_binary.errors import BinaryError
from keras_binary.guard._errors import coded_error
from tests.helpers import BACKEND, to_numpy

N = 8

# The compiled paths of the active backend; PyTorch runs eagerly (the check
# then runs before the loss, unfolded), and is held to the same answers.
MODES = {"tensorflow": ["graph", "xla"], "jax": ["jit"], "torch": ["eager"]}.get(BACKEND, ["eager"])


def compile_fn(fn, mode):
    if mode in ("graph", "xla"):
        import tensorflow as tf

        return tf.function(fn, jit_compile=mode == "xla", reduce_retracing=True)
    if mode == "jit":
        import jax

        return jax.jit(fn)
    return fn


@functools.cache
def compiled_loss(mode, from_logits, weighted):
    loss = keras_binary.SafeBCE(from_logits=from_logits)
    if weighted:
        return compile_fn(lambda y, s, w: loss(y, s, sample_weight=w), mode)
    return compile_fn(lambda y, s: loss(y, s), mode)


def outcome(fn, *args, mode="eager"):
    """`(code or None, result)`: what a call gives the user, on the folded path included.

    Under XLA nothing raises inside the step: a failed check writes the
    poison record, which the fit guard reads (`guard._steps.check_poison`).
    """
    from keras_binary.guard import _steps

    if mode == "xla":
        _steps.reset_poison()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the XLA warning outside the guard
            result = to_numpy(fn(*args))
    except Exception as error:  # noqa: BLE001 - the backend's error carries the code
        coded = coded_error(error)
        if coded is None:
            raise
        return coded.code, None
    if mode == "xla":
        try:
            _steps.check_poison()
        except BinaryError as error:
            return error.code, result
    return None, result


labels = st.one_of(
    hnp.arrays("float32", N, elements=st.sampled_from([0.0, 1.0])),
    hnp.arrays("float32", N, elements=st.floats(0.0, 1.0, width=32)),
    hnp.arrays("float32", N, elements=st.sampled_from([1.0, 2.0])),
    hnp.arrays("float32", N, elements=st.sampled_from([-1.0, 1.0])),
    hnp.arrays("float32", N, elements=st.sampled_from([0.0, 1.0, 255.0, np.nan, -0.5, 1.5])),
)
scores = hnp.arrays(
    "float32",
    N,
    elements=st.one_of(
        st.floats(0.0, 1.0, width=32),
        st.floats(-30.0, 30.0, width=32),
        st.sampled_from([np.nan, np.inf, -np.inf, 1.0 + 1e-6, -1e-6]),
    ),
)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@given(y=labels, s=scores)
def test_compiled_loss_fails_exactly_when_the_eager_loss_does(mode, from_logits, y, s):
    eager_code, eager_value = outcome(keras_binary.SafeBCE(from_logits=from_logits), y, s)
    code, value = outcome(compiled_loss(mode, from_logits, False), y, s, mode=mode)
    assert code == eager_code
    if eager_code is None:
        np.testing.assert_allclose(value, eager_value, rtol=1e-5, equal_nan=True)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="only XLA returns a poisoned result instead of raising")
def test_a_failed_check_under_xla_is_nan_with_a_zero_gradient():
    import tensorflow as tf

    loss = keras_binary.SafeBCE(from_logits=True)
    y = tf.constant(np.array([1, 2] * 4, "float32"))
    z = tf.Variable(np.linspace(-2, 2, N).astype("float32"))

    @tf.function(jit_compile=True)
    def value_and_grad():
        with tf.GradientTape() as tape:
            value = loss(y, z)
        return value, tape.gradient(value, z)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, grad = value_and_grad()
    assert np.isnan(value.numpy())
    np.testing.assert_array_equal(grad.numpy(), np.zeros(N))


@pytest.mark.parametrize("mode", MODES)
def test_a_nan_sample_weight_is_not_a_label_error(mode):
    y = np.array([0, 1] * 4, "float32")
    p = np.full(N, 0.25, "float32")
    w = np.ones(N, "float32")
    w[3] = np.nan
    code, value = outcome(compiled_loss(mode, False, True), y, p, w, mode=mode)
    assert code is None
    assert np.isnan(value)


@pytest.mark.parametrize("mode", MODES)
def test_an_overflowing_sum_is_not_a_label_error(mode):
    y = np.zeros(N, "float32")
    z = np.full(N, 3e38, "float32")  # each loss is 3e38: finite; their sum is not
    code, value = outcome(compiled_loss(mode, True, False), y, z, mode=mode)
    assert code is None
    assert np.isposinf(value)


@pytest.mark.parametrize("mode", MODES)
def test_infinite_logits_are_kb207_on_the_folded_path(mode):
    y = np.array([0, 1] * 4, "float32")
    for bad in (np.inf, -np.inf, np.nan):
        for label in (0.0, 1.0):
            z = np.zeros(N, "float32")
            z[2], y[2] = bad, label
            code, _ = outcome(compiled_loss(mode, True, False), y.copy(), z, mode=mode)
            assert code == "KB207", (bad, label)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("loss_class", [keras_binary.SafeBCE, keras_binary.SafeFocal])
def test_the_losses_that_skip_the_logit_check_are_non_finite_for_non_finite_logits(mode, loss_class):
    """The folded mask leaves non-finite logits to the loss's own value: it must be non-finite."""
    assert loss_class._non_finite_logits_propagate
    loss = loss_class(from_logits=True, validate=False, reduction="none")
    fn = compile_fn(lambda y, z: loss(y, z), mode)
    y = np.array([0.0, 1.0, 0.3, 0.0, 1.0, 0.7, 0.0, 1.0], "float32")
    z = np.array([np.inf, np.inf, np.inf, -np.inf, -np.inf, -np.inf, np.nan, np.nan], "float32")
    assert not np.isfinite(to_numpy(fn(y, z))).any()


@pytest.mark.parametrize("mode", MODES)
def test_a_wrapped_loss_that_returns_nan_is_not_a_label_error(mode):
    loss = keras_binary.safe_loss(lambda y_true, y_pred: keras.ops.log(y_pred - 2.0))
    fn = compile_fn(lambda y, p: loss(y, p), mode)
    code, value = outcome(fn, np.array([0, 1] * 4, "float32"), np.full(N, 0.5, "float32"), mode=mode)
    assert code is None
    assert np.isnan(value)


@pytest.mark.parametrize("mode", MODES)
def test_a_wrapped_loss_still_checks_its_logits(mode):
    """safe_loss wraps any function, which may stay finite on an infinite logit."""
    loss = keras_binary.safe_loss(lambda y_true, y_pred: keras.ops.tanh(y_pred), from_logits=True)
    assert not type(loss)._non_finite_logits_propagate
    fn = compile_fn(lambda y, z: loss(y, z), mode)
    z = np.zeros(N, "float32")
    z[0] = np.inf
    code, _ = outcome(fn, np.array([0, 1] * 4, "float32"), z, mode=mode)
    assert code == "KB207"


@pytest.mark.parametrize("mode", MODES)
def test_call_on_its_own_checks_before_the_loss(mode):
    loss = keras_binary.SafeBCE()
    fn = compile_fn(lambda y, p: ops.mean(loss.call(y, p)), mode)
    code, _ = outcome(fn, np.array([1, 2] * 4, "float32"), np.full(N, 0.5, "float32"), mode=mode)
    assert code == "KB202"


@pytest.mark.parametrize("mode", MODES)
def test_reduction_none_is_checked(mode):
    loss = keras_binary.SafeBCE(reduction="none")
    fn = compile_fn(lambda y, p: loss(y, p), mode)
    code, _ = outcome(fn, np.array([1, 2] * 4, "float32"), np.full(N, 0.5, "float32"), mode=mode)
    assert code == "KB202"
    code, value = outcome(fn, np.array([0, 1] * 4, "float32"), np.full(N, 0.5, "float32"), mode=mode)
    assert code is None
    np.testing.assert_allclose(value, np.full(N, np.log(2.0)), rtol=1e-6)


# ---------------------------------------------------------------------------
# The summary: one definition, run with keras.ops (XLA) and with NumPy (host).

values = st.one_of(st.floats(-3.0, 3.0, width=32), st.sampled_from([0.0, 1.0, 2.0, -1.0, np.nan, np.inf]))


@st.composite
def batches(draw):
    layout = draw(st.sampled_from(["column", "pair", "onehot"]))
    n = draw(st.integers(1, 12))
    y = draw(hnp.arrays("float32", n, elements=values))
    s = draw(hnp.arrays("float32", n, elements=values))
    if layout == "pair":
        return y, np.stack([1.0 - s, s], axis=-1).astype("float32") + draw(
            hnp.arrays("float32", (n, 2), elements=st.sampled_from([0.0, 0.0, 0.1]))
        )
    if layout == "onehot":
        return draw(hnp.arrays("float32", (n, 2), elements=values)), s[:, None]
    return y, s[:, None]


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@given(batch=batches())
def test_summary_on_the_host_is_the_summary_in_the_step(from_logits, batch):
    y, s = batch
    canonical = canonical_pair(y, s, from_logits)
    ok, summary = _value_checks.value_mask(canonical, s)
    assert isinstance(summary, _runtime.HostSummary) and summary.size == len(_value_checks.STATS)
    on_host = summary.on_host(*[to_numpy(t) for t in summary.tensors])
    on_device = to_numpy(summary.on_device())
    assert on_host.dtype == np.float32 and on_host.shape == (len(_value_checks.STATS),)
    np.testing.assert_array_equal(on_host, on_device)
    # Whether a check failed: the mask, the summary on the host, and in the step.
    failed = not bool(np.all(to_numpy(ok)))
    assert _value_checks.stats_failed(on_host) is failed
    assert bool(to_numpy(_value_checks.stats_failed(ops.convert_to_tensor(on_device)))) is failed


def test_a_wrapped_lambda_gets_a_valid_name_scope():
    """TensorFlow rejects `safe_<lambda>` as a name scope inside `tf.function`."""
    loss = keras_binary.safe_loss(lambda y_true, y_pred: keras.ops.square(y_true - y_pred))
    assert loss.name == "safe_lambda"
    fn = compile_fn(lambda y, p: loss(y, p), MODES[0])
    value = to_numpy(fn(np.array([0, 1] * 4, "float32"), np.full(N, 0.5, "float32")))
    assert value == pytest.approx(0.25)
