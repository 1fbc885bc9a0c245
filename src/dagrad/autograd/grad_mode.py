"""Global autograd switches: grad recording, forward-mode level, anomaly mode, in-place epoch."""

from __future__ import annotations

import functools
from collections.abc import Callable


class _State:
    """One mutable object read on every op; attribute reads on it are the cheapest global check."""

    __slots__ = ("grad", "fw", "anomaly", "check_nan", "epoch", "vmap")

    def __init__(self) -> None:
        self.grad = True  # record graphs
        self.fw = 0  # forward-mode (dual) level; 0 = off
        self.anomaly = False  # detect_anomaly()
        self.check_nan = True  # detect_anomaly(check_nan=...): check each backward's gradients for NaN/Inf
        self.epoch = 0  # bumped by every in-place op; stamps tensors and nodes
        self.vmap = 0  # vmap nesting depth


state = _State()
_inference = False  # inside inference_mode(); read only by is_inference_mode_enabled, never on the hot path


class _GradModeContext:
    """Context manager and decorator that sets grad recording and restores it on exit."""

    _mode = True

    def __enter__(self) -> None:
        self._prev = state.grad
        state.grad = self._mode

    def __exit__(self, *exc: object) -> None:
        state.grad = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Record no graph and save nothing for backward inside the block (as torch.no_grad)."""

    _mode = False


class enable_grad(_GradModeContext):
    """Turn graph recording back on inside a no_grad block (as torch.enable_grad)."""

    _mode = True


class inference_mode(_GradModeContext):
    """Like no_grad, for pure inference: nothing recorded, no intermediate kept (as torch.inference_mode)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode
        self._inference = bool(mode)

    def __enter__(self) -> None:
        global _inference
        super().__enter__()
        self._prev_inference, _inference = _inference, self._inference

    def __exit__(self, *exc: object) -> None:
        global _inference
        super().__exit__()
        _inference = self._prev_inference

    def __call__(self, fn: Callable) -> Callable:
        mode = not self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """Enable or disable grad recording: takes effect at once, and as a context restores on exit."""

    def __init__(self, mode: bool) -> None:
        self._prev = state.grad
        self._mode = bool(mode)
        state.grad = self._mode

    def __enter__(self) -> None:
        state.grad = self._mode

    def __call__(self, fn: Callable) -> Callable:
        state.grad = self._prev
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled() -> bool:
    return state.grad


def is_inference_mode_enabled() -> bool:
    """True inside inference_mode() (not merely no_grad)."""
    return _inference
