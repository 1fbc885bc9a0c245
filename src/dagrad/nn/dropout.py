"""Dropout layers (as torch.nn): Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout.

Active in training mode only (a no-op after .eval()); kept values are scaled by 1 / (1 - p) so the expected
output equals the input. Masks come from dagrad's generator, so dagrad.manual_seed makes them repeatable.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn.module import Module
from dagrad.ops import dropout as ops


class _DropoutNd(Module):
    _fn: ClassVar[Any]

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ArgumentError(f"{type(self).__name__}: expected p between 0 and 1, received p={p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p in training, scaling the rest by 1 / (1 - p)."""

    _fn = staticmethod(ops.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p in training."""

    _fn = staticmethod(ops.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability p in training."""

    _fn = staticmethod(ops.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p in training."""

    _fn = staticmethod(ops.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (dropped values become SELU's floor)."""

    _fn = staticmethod(ops.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout of whole channels of (N, C, *) input."""

    _fn = staticmethod(ops.feature_alpha_dropout)


__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
