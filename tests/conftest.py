"""Test configuration: Hypothesis profiles and the backend under test.

Profiles (select with HYPOTHESIS_PROFILE):
- "ci" (default): few examples, so the whole suite stays fast on 2 cores;
- "thorough": many examples, for a local run before a release.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKEND = keras.backend.backend()


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {BACKEND}, hypothesis profile {settings._current_profile}"


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    # free_memory=False: a gc.collect() after every test costs ~0.7 s with TensorFlow loaded.
    keras.backend.clear_session(free_memory=False)
