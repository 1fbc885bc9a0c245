"""Normalisation layers (as torch.nn): BatchNorm1d/2d/3d, LayerNorm, GroupNorm.

BatchNorm normalises each channel with the batch's mean and (biased) variance in training and tracks running
estimates in buffers: running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance;
momentum=None gives the cumulative average 1 / num_batches_tracked. In eval mode it normalises with the running
estimates (or, with track_running_stats=False, with the batch's statistics again). LayerNorm and GroupNorm
normalise each sample on its own and behave the same in both modes. Kernels: dagrad.ops.norm.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagrad import backend
from dagrad.autograd.tensor import Tensor, _make
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops.norm import batch_norm, group_norm, layer_norm


def _positive(layer: str, name: str, v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ArgumentError(f"{layer}: expected {name} to be a positive int, received {name}={v!r}")
    return v


def _eps(layer: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        raise ArgumentError(f"{layer}: expected eps to be a number >= 0, received eps={eps!r}")
    return eps


def _array(shape: tuple, fill: float, dtype: Any, device: Any) -> Any:
    dt = backend.get_default_dtype() if dtype is None else backend.numpy.dtype(dtype)
    data = backend.numpy.full(shape, fill, dt)
    return data if device is None else backend.to_device(data, backend.Device(device))


def _affine(module: Module, shape: tuple, weight: bool, bias: bool, dtype: Any, device: Any) -> None:
    """Register weight (ones) and bias (zeros) of `shape`, or None for the ones switched off."""
    module.register_parameter("weight", Parameter(_array(shape, 1.0, dtype, device)) if weight else None)
    module.register_parameter("bias", Parameter(_array(shape, 0.0, dtype, device)) if bias else None)


class _BatchNorm(Module):
    _dims: ClassVar[tuple[int, ...]]  # accepted input ndims
    _expected: ClassVar[str]  # the accepted inputs, in words
    _shape: ClassVar[str]  # the input shape for {c} channels

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
        track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive(name, "num_features", num_features)
        self.eps = _eps(name, eps)
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float))):
            raise DtypeError(f"{name}: expected momentum to be a number or None, received momentum={momentum!r}")
        self.momentum, self.affine, self.track_running_stats = momentum, affine, track_running_stats
        _affine(self, (num_features,), affine, affine and bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", _make(_array((num_features,), 0.0, dtype, device)))
            self.register_buffer("running_var", _make(_array((num_features,), 1.0, dtype, device)))
            self.register_buffer("num_batches_tracked", _make(_array((), 0, backend.int64, device)))
        else:
            for b in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(b, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(getattr(input, "shape", ()))
        name, c = type(self).__name__, self.num_features
        if len(shape) not in self._dims:
            raise ShapeError(f"{name}: expected {self._expected}, received input of shape {shape}")
        if shape[1] != c:
            raise ShapeError(
                f"{name}: expected input with {c} channels (shape {self._shape.format(c=c)}), received shape {shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return batch_norm(
            input, self.running_mean if track else None, self.running_var if track else None, self.weight,
            self.bias, use_batch, factor, self.eps,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""

    _dims, _expected, _shape = (2, 3), "a 2-D (N, C) or 3-D (N, C, L) input", "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C."""

    _dims, _expected, _shape = (4,), "a 4-D input (N, C, H, W)", "(N, {c}, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, per channel C."""

    _dims, _expected, _shape = (5,), "a 5-D input (N, C, D, H, W)", "(N, {c}, D, H, W)"


class LayerNorm(Module):
    """Normalisation of each sample over its trailing dims `normalized_shape`, with elementwise weight and bias."""

    def __init__(
        self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in shape):
            raise ArgumentError(
                f"LayerNorm: expected normalized_shape to be positive ints, received {normalized_shape!r}"
            )
        self.normalized_shape, self.eps, self.elementwise_affine = shape, _eps("LayerNorm", eps), elementwise_affine
        _affine(self, shape, elementwise_affine, elementwise_affine and bias, dtype, device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        shape, k = tuple(getattr(input, "shape", ())), len(self.normalized_shape)
        if shape[len(shape) - k :] != self.normalized_shape or len(shape) < k:
            dims = ", ".join(map(str, self.normalized_shape))
            raise ShapeError(f"LayerNorm: expected input with shape (*, {dims}), received shape {shape}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        return f"{self.normalized_shape}, eps={self.eps}, {affine}"


class GroupNorm(Module):
    """Normalisation of each sample of (N, C, *) input over groups of C / num_groups channels, then a weight and
    bias per channel."""

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device: Any = None,
        dtype: Any = None, *, bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_groups = _positive("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ArgumentError(
                f"GroupNorm: expected num_channels ({num_channels}) to be divisible by num_groups ({num_groups})"
            )
        self.eps, self.affine = _eps("GroupNorm", eps), affine
        _affine(self, (num_channels,), affine, affine and bias, dtype, device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        shape, c = tuple(getattr(input, "shape", ())), self.num_channels
        if len(shape) < 2 or shape[1] != c:
            raise ShapeError(f"GroupNorm: expected input with {c} channels (shape (N, {c}, *)), received shape {shape}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"affine={self.affine}, bias={self.bias is not None}"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, {affine}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm"]
