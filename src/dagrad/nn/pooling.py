"""Pooling layers (as torch.nn): MaxPool1d/2d/3d, AvgPool1d/2d/3d and the adaptive pools.

Each layer validates its arguments when built (errors name the layer) and calls the functional form in
dagrad.ops.pool on (N, C, *spatial) or unbatched (C, *spatial) inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ShapeError
from dagrad.nn.module import Module
from dagrad.ops import pool


def _single(v: Any) -> tuple:
    """An int as a 1-tuple, as torch.nn.AvgPool1d stores its sizes."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _MaxPoolNd(Module):
    _nd: ClassVar[int]
    _fn: ClassVar[Any]

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        pool.check_pool_args(type(self).__name__, self._nd, kernel_size, stride, padding, dilation, is_max=True)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return self._fn(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L) or (C, L) inputs; stride defaults to kernel_size."""

    _nd, _fn = 1, staticmethod(pool.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W) or (C, H, W) inputs; stride defaults to kernel_size.

    Padding counts as -inf; with return_indices the layer also returns each maximum's flat index in its H*W plane.
    """

    _nd, _fn = 2, staticmethod(pool.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max over sliding windows of (N, C, D, H, W) or (C, D, H, W) inputs; stride defaults to kernel_size."""

    _nd, _fn = 3, staticmethod(pool.max_pool3d)


class _AvgPoolNd(Module):
    _nd: ClassVar[int]
    _fn: ClassVar[Any]

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        pool.check_pool_args(name, self._nd, kernel_size, stride, padding, is_max=False)
        if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override <= 0):
            raise ShapeError(f"{name}: expected a positive divisor_override, received {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        args = (input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)
        return self._fn(*args, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, L) or (C, L) inputs; zero padding counted when count_include_pad."""

    _nd, _fn = 1, staticmethod(pool.avg_pool1d)

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.kernel_size, self.stride, self.padding = (_single(v) for v in (kernel_size, self.stride, padding))

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, H, W) or (C, H, W) inputs; stride defaults to kernel_size.

    Zero padding is counted in the divisor when count_include_pad; divisor_override replaces the divisor.
    """

    _nd, _fn = 2, staticmethod(pool.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, D, H, W) or (C, D, H, W) inputs; stride defaults to kernel_size."""

    _nd, _fn = 3, staticmethod(pool.avg_pool3d)


class _AdaptivePoolNd(Module):
    _fn: ClassVar[Any]

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
        if not all(s is None or (isinstance(s, int) and not isinstance(s, bool) and s > 0) for s in sizes):
            raise ShapeError(
                f"{type(self).__name__}: expected output_size to be positive ints (or None to keep a size), "
                f"received output_size={output_size!r}"
            )
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Average pooling of (N, C, L) or (C, L) inputs to length output_size (windows as in PyTorch)."""

    _fn = staticmethod(pool.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Average pooling of (N, C, H, W) or (C, H, W) inputs to output_size: AdaptiveAvgPool2d(1) is global pooling."""

    _fn = staticmethod(pool.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) inputs to output_size."""

    _fn = staticmethod(pool.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return self._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) inputs to length output_size."""

    _fn = staticmethod(pool.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) or (C, H, W) inputs to output_size; return_indices gives flat H*W indices."""

    _fn = staticmethod(pool.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) inputs to output_size."""

    _fn = staticmethod(pool.adaptive_max_pool3d)


__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
]  # fmt: skip
