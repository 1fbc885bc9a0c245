"""detect_anomaly(): name the op and source line whose forward or backward first produced NaN/Inf.

Cheap enough to leave on: NumPy's floating-point error state raises inside the producing ufunc, so
forward makes no extra pass over the data, and each node records its user source line. Backward also
checks every gradient an op returns (one BLAS dot each), which catches NaN that flowed in from the data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy

from dagrad.autograd.grad_mode import state

_RAISE = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}
_quiet: dict = {}  # NumPy's error state from before anomaly mode made it raise; restored when switched off


def _switch(mode: bool, check_nan: bool) -> tuple:
    """Set anomaly mode (and whether NaN/Inf raise); return what `_restore` needs to undo it."""
    global _quiet
    prev = (state.anomaly, state.check_nan, numpy.geterr(), _quiet)
    was_raising = state.anomaly and state.check_nan
    raising = mode and check_nan
    if raising and not was_raising:
        _quiet = prev[2]
        numpy.seterr(**_RAISE)
    elif was_raising and not raising:
        numpy.seterr(**_quiet)
    state.anomaly, state.check_nan = bool(mode), bool(check_nan)
    return prev


def _restore(prev: tuple) -> None:
    global _quiet
    state.anomaly, state.check_nan, err, _quiet = prev
    numpy.seterr(**err)


class detect_anomaly:
    """Context manager (and decorator) turning on anomaly detection (as torch.autograd.detect_anomaly).

    check_nan=False only records each op's source line (for in-place and other errors); nothing raises.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = _switch(True, self.check_nan)

    def __exit__(self, *exc: object) -> None:
        _restore(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once, and as a context restoring the previous mode on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = _switch(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _restore(self._prev)


def is_anomaly_enabled() -> bool:
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return state.anomaly and state.check_nan
