"""Convolution layers (as torch.nn): Conv1d, Conv2d, Conv3d and ConvTranspose1d/2d/3d.

Weights use PyTorch's layout and default init: weight (out, in/groups, *k) for Conv, (in, out/groups, *k) for
ConvTranspose, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a=sqrt(5)), as is the bias.
"""

from __future__ import annotations

import math
from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops.conv import _conv_transposend, _convnd, _ints, _padding

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _uniform(shape: tuple, bound: float, dtype: Any, device: Any) -> Parameter:
    data = backend.rng().uniform(-bound, bound, shape).astype(backend.get_default_dtype() if dtype is None else dtype)
    if device is not None:
        data = backend.to_device(data, backend.Device(device))
    return Parameter(data)


class _ConvNd(Module):
    """Shared by every convolution layer: argument checks, parameters, init and repr."""

    spatial = 2
    transposed = False

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", output_padding: Any = 0,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        name, d = type(self).__name__, self.spatial
        for what, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, int) or v < 1:
                raise ArgumentError(f"{name}: expected {what} to be a positive int, received {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(
                f"{name}: expected in_channels ({in_channels}) and out_channels ({out_channels}) to be divisible "
                f"by groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ArgumentError(
                f"{name}: expected padding_mode to be one of {_PADDING_MODES}, received {padding_mode!r}"
            )
        if self.transposed and (isinstance(padding, str) or padding_mode != "zeros"):
            raise ArgumentError(
                f"{name}: expected integer padding and padding_mode='zeros', received padding={padding!r}, "
                f"padding_mode={padding_mode!r}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ints(name, "kernel_size", kernel_size, d, 1)
        self.stride = _ints(name, "stride", stride, d, 1)
        self.dilation = _ints(name, "dilation", dilation, d, 1)
        self.output_padding = _ints(name, "output_padding", output_padding, d, 0)
        self.padding = padding if isinstance(padding, str) else _ints(name, "padding", padding, d, 0)
        self._sides = _padding(name, self.padding, d, self.kernel_size, self.stride, self.dilation)
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        self.weight = _uniform(shape, bound, dtype, device)
        self.register_parameter("bias", _uniform((out_channels,), bound, dtype, device) if bias else None)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        zero = (0,) * self.spatial
        if self.padding != zero:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.spatial:
            s += f", dilation={self.dilation}"
        if self.output_padding != zero:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            device=device, dtype=dtype,
        )  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        name, d = type(self).__name__, self.spatial
        if self.padding_mode == "zeros":
            return _convnd(
                name, d, input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
            )
        from dagrad.ops.shape import pad

        widths = tuple(p for lo_hi in reversed(self._sides) for p in lo_hi)
        x = pad(input, widths, mode=self.padding_mode)
        return _convnd(name, d, x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            output_padding, device, dtype,
        )  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        return _conv_transposend(
            type(self).__name__, self.spatial, input, self.weight, self.bias, self.stride, self.padding,
            self.output_padding, self.groups, self.dilation,
        )  # fmt: skip


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L): weight (C_out, C_in/groups, kL), bias (C_out,)."""

    spatial = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W): weight (C_out, C_in/groups, kH, kW), bias (C_out,).

    padding: int, tuple, 'valid' or 'same' (stride 1); padding_mode: 'zeros', 'reflect', 'replicate', 'circular'.
    """

    spatial = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W): weight (C_out, C_in/groups, kD, kH, kW), bias (C_out,)."""

    spatial = 3


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution over (N, C_in, L): weight (C_in, C_out/groups, kL), bias (C_out,)."""

    spatial = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (the adjoint of Conv2d, an upsampling layer) over (N, C_in, H, W):
    weight (C_in, C_out/groups, kH, kW), bias (C_out,); output side (S - 1) * stride - 2 * padding
    + dilation * (k - 1) + output_padding + 1."""

    spatial = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution over (N, C_in, D, H, W): weight (C_in, C_out/groups, kD, kH, kW)."""

    spatial = 3


__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
