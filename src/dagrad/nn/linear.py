"""Linear layers (as torch.nn): Identity, Linear, Bilinear, Flatten, Unflatten.

Weights use PyTorch's layout and default init: Linear's weight (out, in) is kaiming_uniform_(a=sqrt(5)), which is
U(-1/sqrt(in), 1/sqrt(in)), as is its bias; Bilinear's weight (out, in1, in2) and bias are U(-1/sqrt(in1),
1/sqrt(in1)). The functional forms live in dagrad.ops.linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dagrad import backend
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError, ShapeError
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops.linear import bilinear, linear


def _positive(layer: str, name: str, v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ArgumentError(f"{layer}: expected {name} to be a positive int, received {name}={v!r}")
    return v


def _empty(shape: tuple, dtype: Any, device: Any) -> Parameter:
    data = backend.numpy.empty(shape, backend.get_default_dtype() if dtype is None else backend.numpy.dtype(dtype))
    if device is not None:
        data = backend.to_device(data, backend.Device(device))
    return Parameter(data)


def _uniform_(p: Parameter | None, bound: float) -> None:
    """Fill p in place with U(-bound, bound) draws from dagrad's generator (seeded by dagrad.manual_seed)."""
    if p is None:
        return
    draws = backend.rng().uniform(-bound, bound, p.shape).astype(p.dtype)
    with no_grad():
        p.data[...] = backend.to_device(draws, p.device)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments, as torch.nn.Identity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x @ weight^T + bias over the last dim: (*, in_features) -> (*, out_features)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = _positive("Linear", "in_features", in_features)
        self.out_features = _positive("Linear", "out_features", out_features)
        self.weight = _empty((out_features, in_features), dtype, device)
        self.register_parameter("bias", _empty((out_features,), dtype, device) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features)
        _uniform_(self.weight, bound)
        _uniform_(self.bias, bound)

    def forward(self, input: Tensor) -> Tensor:
        shape = getattr(input, "shape", ())
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear: expected input with last dimension {self.in_features}, received shape {tuple(shape)}"
            )
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y = x1^T A x2 + b per output feature: (*, in1_features), (*, in2_features) -> (*, out_features)."""

    def __init__(
        self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device: Any = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.in1_features = _positive("Bilinear", "in1_features", in1_features)
        self.in2_features = _positive("Bilinear", "in2_features", in2_features)
        self.out_features = _positive("Bilinear", "out_features", out_features)
        self.weight = _empty((out_features, in1_features, in2_features), dtype, device)
        self.register_parameter("bias", _empty((out_features,), dtype, device) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features)
        _uniform_(self.weight, bound)
        _uniform_(self.bias, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        s1, s2 = tuple(getattr(input1, "shape", ())), tuple(getattr(input2, "shape", ()))
        if not s1 or not s2 or s1[-1] != self.in1_features or s2[-1] != self.in2_features:
            raise ShapeError(
                f"Bilinear: expected inputs with last dimensions {self.in1_features} and {self.in2_features}, "
                f"received shapes {s1} and {s2}"
            )
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge dims start_dim..end_dim into one (default: all but the batch dim): (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size`: Unflatten(1, (C, H, W)) turns (N, C*H*W) into (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, (tuple, list)) else None
        if not sizes or any(not isinstance(s, int) or isinstance(s, bool) for s in sizes):
            raise ArgumentError(
                f"Unflatten: expected unflattened_size to be a tuple of ints, received {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]
