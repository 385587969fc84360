"""Shared test setup: hypothesis profiles and the backend fixture.

Profiles: ``ci`` (derandomized, no deadline; chosen when CI=true) and ``dev``
(random, more examples). Pick one with HYPOTHESIS_PROFILE=dev.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import tinygen as tg

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.cupy)]


def pytest_collection_modifyitems(config, items):
    if tg.cupy_available():
        return
    skip = pytest.mark.skip(reason="CuPy backend needs CuPy and an NVIDIA GPU; none here")
    for item in items:
        if "cupy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test once per backend; new tensors are created on it."""
    with tg.use_backend(request.param):
        tg.manual_seed(0)
        yield request.param


@pytest.fixture(autouse=True)
def _seed():
    tg.manual_seed(1234)
    yield
