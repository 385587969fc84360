"""Shared test setup: hypothesis profiles, the CuPy stand-in, and the backend fixture.

Profiles: ``ci`` (derandomized, no deadline; chosen when CI=true) and ``dev``
(random, more examples). Pick one with HYPOTHESIS_PROFILE=dev.

CuPy: ``--cupy auto`` (the default) runs every cupy-parametrized test on real CuPy when
it is installed and sees a GPU, and on the strict CPU stand-in in ``tests/fake_cupy``
otherwise; ``--cupy fake`` / ``real`` / ``off`` choose. ``--default-backend cupy`` also
makes cupy the backend every test creates its tensors on.
"""
import importlib.util
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import tinygen as tg

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.cupy)]
FAKE_CUPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_cupy")


def pytest_addoption(parser):
    parser.addoption("--cupy", choices=["auto", "fake", "real", "off"], default="auto",
                     help="where cupy tests run: real CuPy with a GPU, the CPU stand-in, or nowhere "
                          "(auto: real if a GPU is there, else the stand-in)")
    parser.addoption("--default-backend", choices=["numpy", "cupy"], default="numpy",
                     help="the backend tests create tensors on")


def _real_cupy_works():
    if importlib.util.find_spec("cupy") is None or importlib.util.find_spec("cupy").origin.startswith(FAKE_CUPY):
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:        # no driver, no GPU, a broken install
        return False


def _use_stand_in():
    for name in [n for n in sys.modules if n == "cupy" or n.startswith(("cupy.", "cupyx"))]:
        del sys.modules[name]
    sys.path.insert(0, FAKE_CUPY)
    tg.backend._cupy = tg.backend._cupy_error = None


def pytest_configure(config):
    mode = config.getoption("--cupy")
    if mode == "auto":
        mode = "real" if _real_cupy_works() else "fake"
    if mode == "fake":
        _use_stand_in()
    config.cupy_mode = mode
    if config.getoption("--default-backend") == "cupy":
        if mode == "off":
            raise pytest.UsageError("--default-backend cupy needs --cupy auto, fake or real")
        tg.use_backend("cupy")


def pytest_report_header(config):
    return f"tinygen cupy tests: {config.cupy_mode}; default backend: {config.getoption('--default-backend')}"


def pytest_collection_modifyitems(config, items):
    if config.cupy_mode != "off" and tg.cupy_available():
        return
    skip = pytest.mark.skip(reason="CuPy tests are off (--cupy off), or real CuPy sees no GPU")
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


@pytest.fixture
def on_numpy():
    """For tests about the NumPy backend itself: numpy is the default inside, whatever
    --default-backend says."""
    with tg.use_backend("numpy"):
        yield
