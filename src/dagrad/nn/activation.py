"""Activation layers (as torch.nn): thin modules over the elementwise and softmax ops in dagrad.ops.

Arguments are validated when the layer is built. `inplace=True` overwrites the input, as in PyTorch (the
version counters then catch a use of the old values in backward).
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError, DtypeError
from dagrad.nn.module import Module
from dagrad.ops import activation as act
from dagrad.ops.softmax import log_softmax, softmax
from dagrad.ops.unary import tanh


def _number(layer: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DtypeError(f"{layer}: expected {name} to be a number, received {name}={v!r}")
    return v


def _inplace(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return act.relu(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class ReLU6(ReLU):
    """min(max(x, 0), 6)."""

    def forward(self, input: Tensor) -> Tensor:
        return act.relu6(input, self.inplace)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return act.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return act.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); approximate='tanh' uses the tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ArgumentError(
                f"GELU: expected approximate to be 'none' or 'tanh', received approximate={approximate!r}"
            )
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return act.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) (swish)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return act.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input: Tensor) -> Tensor:
        return act.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return tanh(input)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, reverting to x where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _number("Softplus", "beta", beta)
        self.threshold = _number("Softplus", "threshold", threshold)

    def forward(self, input: Tensor) -> Tensor:
        return act.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = _number("Hardtanh", "min_val", min_val)
        self.max_val = _number("Hardtanh", "max_val", max_val)
        if min_val > max_val:
            raise ArgumentError(f"Hardtanh: expected min_val <= max_val, received min_val={min_val}, max_val={max_val}")
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return act.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class _Along(Module):
    """A layer normalised along `dim`, which must be given (PyTorch's implicit choice is deprecated)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise ArgumentError(
                f"{type(self).__name__}: expected dim to be an int (the dimension to normalise over), received "
                f"dim={dim!r}"
            )
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_Along):
    """exp(x) / sum(exp(x)) along dim."""

    def forward(self, input: Tensor) -> Tensor:
        return softmax(input, self.dim)


class LogSoftmax(_Along):
    """x - logsumexp(x) along dim."""

    def forward(self, input: Tensor) -> Tensor:
        return log_softmax(input, self.dim)


__all__ = [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Hardtanh",
    "Softmax",
    "LogSoftmax",
]
