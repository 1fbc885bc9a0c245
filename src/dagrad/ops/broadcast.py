"""Broadcasting in both directions: expand (broadcast_to) and its adjoint sum_to_size."""

from __future__ import annotations

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import ShapeError
from dagrad.ops.sampling import arr


def _sum_axes(shape: tuple, target: tuple) -> tuple[int, tuple[int, ...]]:
    lead = len(shape) - len(target)
    if lead < 0 or any(t != 1 and t != s for t, s in zip(target, shape[lead:])):
        raise ShapeError(
            f"sum_to_size: shape {shape} cannot be summed to {target}; expected {target} to broadcast to it"
        )
    return lead, tuple(range(lead)) + tuple(i + lead for i, t in enumerate(target) if t == 1 and shape[i + lead] != 1)


def _torch_sum_to(T, x, shape):
    return x.sum_to_size(*shape)


class SumTo(Function):
    """Sum a broadcast array back to `shape` (the reduction every broadcasting op's gradient needs)."""

    __slots__ = ("in_shape",)

    def forward(self, x, shape):
        self.in_shape = x.shape
        lead, axes = _sum_axes(x.shape, shape)
        if not axes:
            return x.reshape(shape)
        y = x.sum(axis=axes, keepdims=True)
        return y.reshape(shape) if lead else y

    def backward(self, g):
        return g.expand(self.in_shape)

    def jvp(self, inputs, out, t):
        return t[0].sum_to_size(out.shape)

    @staticmethod
    def samples():
        torch = _torch_sum_to
        yield Sample(arr(2, 3, 4), shape=(3, 1), torch=torch)
        yield Sample(arr(2, 3, 4), shape=(1, 4), torch=torch)
        yield Sample(arr(3, 4), shape=(3, 4), torch=torch)


class Expand(Function):
    """Broadcast to a larger shape without copying (a read-only view)."""

    __slots__ = ("in_shape",)
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return namespace(x).broadcast_to(x, shape)

    def backward(self, g):
        return g.sum_to_size(self.in_shape)

    def jvp(self, inputs, out, t):
        return t[0].expand(out.shape)

    @staticmethod
    def samples():
        yield Sample(arr(3, 1), shape=(2, 3, 4), torch=lambda T, x, shape: x.expand(*shape))
        yield Sample(arr(4), shape=(3, 4), torch=lambda T, x, shape: x.expand(*shape))


def _sizes(sizes: tuple) -> tuple[int, ...]:
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)


def sum_to_size(x: Tensor, *size: int) -> Tensor:
    """Sum x down to `size`, which must broadcast to x.shape (as torch.Tensor.sum_to_size)."""
    size = _sizes(size)
    if x.shape == size:
        return x
    return SumTo.apply(x, shape=size)


def expand(x: Tensor, *sizes: int) -> Tensor:
    """Broadcast x to `sizes` (-1 keeps a dimension) without copying, as torch.Tensor.expand."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's ndim ({x.ndim})")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    if shape == x.shape:
        return x
    return Expand.apply(x, shape=shape)


def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return expand(x, *shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, *other.shape)


__all__ = ["broadcast_to"]
TENSOR_METHODS = {"sum_to_size": sum_to_size, "expand": expand, "expand_as": expand_as, "broadcast_to": broadcast_to}
