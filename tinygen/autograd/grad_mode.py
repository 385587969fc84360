"""Switches that decide whether ops record a graph, and whether they look for NaN.

``no_grad`` and ``enable_grad`` work as context managers and as decorators,
like PyTorch's. ``detect_anomaly`` makes every op check its forward outputs and
its backward gradients for NaN/Inf, and name itself when it finds one.
"""
from __future__ import annotations

import functools


class _State:
    grad_enabled = True
    anomaly = False


state = _State()


def is_grad_enabled() -> bool:
    return state.grad_enabled


class _GradSwitch:
    """Base for no_grad/enable_grad/set_grad_enabled: restore the old mode on exit."""

    mode = True

    def __enter__(self):
        self.previous = state.grad_enabled
        state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self.previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradSwitch):
    """Ops inside build no graph: outputs have ``requires_grad=False``."""
    mode = False


class enable_grad(_GradSwitch):
    """Ops inside record a graph again, even within ``no_grad``."""
    mode = True


class set_grad_enabled(_GradSwitch):
    """``set_grad_enabled(False)`` is ``no_grad()``; also usable as a plain call."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.previous = state.grad_enabled
        state.grad_enabled = self.mode

    def __enter__(self):
        return self


class detect_anomaly:
    """Raise at the first op whose forward or backward yields NaN or Inf.

    The error names the op and the shapes of its inputs, so a NaN in a loss can
    be traced to where it was born. Checking costs one reduction per op, so it
    is off unless asked for.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self.previous = state.anomaly
        state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly = self.previous
        return False


def is_anomaly_enabled() -> bool:
    return state.anomaly
