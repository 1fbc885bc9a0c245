"""detect_anomaly(): name the op and source line whose forward or backward first produced NaN/Inf.

Cheap enough to leave on: NumPy's floating-point error state raises inside the producing ufunc,
so no extra pass over the data is made in forward; each node records its user source line.
"""

from __future__ import annotations

import numpy

from dagrad.autograd.grad_mode import state


class detect_anomaly:
    """Context manager (and decorator) turning on anomaly detection (as torch.autograd.detect_anomaly)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = state.anomaly
        state.anomaly = True
        self._err = numpy.seterr(over="raise", invalid="raise", divide="raise", under="ignore") if self.check_nan else None

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._prev
        if self._err is not None:
            numpy.seterr(**self._err)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off: at once, and as a context restoring on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.check_nan = check_nan and mode
        self._mode = mode
        self._prev = state.anomaly
        state.anomaly = mode
        self._err = numpy.seterr(over="raise", invalid="raise", divide="raise", under="ignore") if self.check_nan else None

    def __enter__(self) -> None:
        state.anomaly = self._mode

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._prev
        if self._err is not None:
            numpy.seterr(**self._err)


def is_anomaly_enabled() -> bool:
    return state.anomaly
