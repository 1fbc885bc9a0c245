"""Dtype casts, device moves and copies, all differentiable: to, float, double, clone, contiguous."""

from __future__ import annotations

from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import Device
from dagrad.ops.sampling import arr


class Cast(Function):
    """Change dtype; the gradient is cast back to the input's dtype."""

    __slots__ = ("in_dtype",)

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.to(self.in_dtype)

    def jvp(self, inputs, out, t):
        return t[0].to(out.dtype)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), dtype=backend.float64, torch=lambda T, x, dtype: x.to(T.float64))


class ToDevice(Function):
    """Move data between host (NumPy) and GPU (CuPy); the gradient moves back."""

    __slots__ = ("src",)

    def forward(self, x, device):
        self.src = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, g):
        return g.to(self.src)

    def jvp(self, inputs, out, t):
        return t[0].to(out.device)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), device=backend.CPU)


class Clone(Function):
    """A copy with its own memory; gradients pass through."""

    __slots__ = ()

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g

    def jvp(self, inputs, out, t):
        return t[0]

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: x.clone())


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("copy", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, Device)) and (isinstance(a, Device) or a.split(":")[0] in ("cpu", "cuda")):
            device = Device(a)
        else:
            dtype = a
    return (None if dtype is None else backend.numpy.dtype(dtype)), device


def to(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """x converted to a dtype and/or device: to(dtype), to('cuda'), to(other), to(device=, dtype=)."""
    dtype, device = _parse_to(args, dict(kwargs))
    if device is not None and Device(device) != x.device:
        x = ToDevice.apply(x, device=Device(device))
    if dtype is not None and dtype != x.dtype:
        if x.requires_grad and dtype.kind != "f":
            return _make(x.data.astype(dtype), False, None)
        x = Cast.apply(x, dtype=dtype)
    return x


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def contiguous(x: Tensor) -> Tensor:
    return x if x.data.flags.c_contiguous else Clone.apply(x)


def _typed(dtype):
    def convert(x: Tensor) -> Tensor:
        return to(x, dtype)

    convert.__doc__ = f"x converted to {dtype}."
    return convert


def type_as(x: Tensor, other: Tensor) -> Tensor:
    return to(x, other.dtype)


def cpu(x: Tensor) -> Tensor:
    return to(x, "cpu")


def cuda(x: Tensor, device: int | None = None) -> Tensor:
    return to(x, "cuda" if device is None else f"cuda:{device}")


__all__ = ["clone"]
TENSOR_METHODS = {
    "to": to, "clone": clone, "contiguous": contiguous, "type_as": type_as, "cpu": cpu, "cuda": cuda,
    "float": _typed(backend.float32), "double": _typed(backend.float64), "half": _typed(backend.float16),
    "long": _typed(backend.int64), "int": _typed(backend.int32), "bool": _typed(backend.bool_),
}  # fmt: skip
