"""Tensor factories with PyTorch's names: tensor, zeros, ones, full, empty, eye, arange, linspace, rand*."""

from __future__ import annotations

from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.tensor import Tensor, _make, as_array
from dagrad.backend import Device, Generator
from dagrad.errors import ShapeError


def _shape(size: tuple, name: str) -> tuple[int, ...]:
    """The size arguments of factory `name` as a shape: f(2, 3) and f((2, 3)) alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if any(not isinstance(s, (int, numpy.integer)) or isinstance(s, bool) or s < 0 for s in size):
        raise ShapeError(f"{name}: expected the size as non-negative integers, received {size}")
    return tuple(int(s) for s in size)


def _finish(arr, dtype, device, requires_grad: bool) -> Tensor:
    if dtype is not None:
        arr = arr.astype(numpy.dtype(dtype), copy=False)
    if device is not None and Device(device).type != "cpu":
        arr = backend.to_device(arr, Device(device))
    t = _make(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype):
    return backend.get_default_dtype() if dtype is None else numpy.dtype(dtype)


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor copying `data` (float lists become float32, int lists int64, as in PyTorch)."""
    arr = as_array(data, None if dtype is None else numpy.dtype(dtype))
    if isinstance(data, Tensor) or isinstance(data, backend.ndarray_types):
        arr = arr.copy()
    return _finish(arr, None, device, requires_grad)


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """A tensor sharing memory with `data` when it already is an array of the right dtype."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return _finish(as_array(data, None if dtype is None else numpy.dtype(dtype)), None, device, False)


def from_numpy(arr: numpy.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    return _make(arr, False, None)


def zeros(*size: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(numpy.zeros(_shape(size, "zeros"), _float(dtype)), None, device, requires_grad)


def ones(*size: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(numpy.ones(_shape(size, "ones"), _float(dtype)), None, device, requires_grad)


def empty(*size: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(numpy.empty(_shape(size, "empty"), _float(dtype)), None, device, requires_grad)


def full(size, fill_value: float | int | bool, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value` (dtype inferred from the value, as in PyTorch)."""
    if dtype is None:
        dtype = (
            backend.bool_
            if isinstance(fill_value, bool)
            else backend.int64
            if isinstance(fill_value, int)
            else _float(None)
        )
    return _finish(numpy.full(_shape((size,), "full"), fill_value, numpy.dtype(dtype)), None, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(numpy.eye(n, m, dtype=_float(dtype)), None, device, requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Values from start to end (exclusive) by step; int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = backend.int64 if all(isinstance(v, int) for v in (start, end, step)) else _float(None)
    return _finish(numpy.arange(start, end, step, dtype=numpy.dtype(dtype)), None, device, requires_grad)


def linspace(start: float, end: float, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(numpy.linspace(start, end, steps, dtype=_float(dtype)), None, device, requires_grad)


def rand(
    *size: int, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1)."""
    dt = _float(dtype)
    return _finish(
        backend.rng(generator).random(_shape(size, "rand"), dtype=dt if dt.itemsize >= 4 else None),
        dt,
        device,
        requires_grad,
    )


def randn(
    *size: int, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Standard-normal samples."""
    dt = _float(dtype)
    return _finish(
        backend.rng(generator).standard_normal(_shape(size, "randn"), dtype=dt if dt.itemsize >= 4 else None),
        dt,
        device,
        requires_grad,
    )


def randint(
    low: int, high: int | None = None, size: tuple = (), generator: Generator | None = None, dtype=None, device=None
) -> Tensor:
    """Integers uniform in [low, high) (int64), as torch.randint(low, high, size)."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: expected low < high, received low={low}, high={high}")
    return _finish(
        backend.rng(generator).integers(low, high, _shape((size,), "randint")), dtype or backend.int64, device, False
    )


def randperm(n: int, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    return _finish(backend.rng(generator).permutation(n), dtype or backend.int64, device, False)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(*x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return ones(*x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return empty(*x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def rand_like(
    x: Tensor, dtype=None, device=None, requires_grad: bool = False, generator: Generator | None = None
) -> Tensor:
    return rand(
        *x.shape, generator=generator, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad
    )


def randn_like(
    x: Tensor, dtype=None, device=None, requires_grad: bool = False, generator: Generator | None = None
) -> Tensor:
    return randn(
        *x.shape, generator=generator, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad
    )


def randint_like(
    x: Tensor, low: int, high: int | None = None, dtype=None, generator: Generator | None = None
) -> Tensor:
    return randint(low, high, x.shape, generator=generator, dtype=dtype or x.dtype)
