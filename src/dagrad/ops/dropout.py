"""Dropout: dropout, dropout1d/2d/3d (whole channels), alpha_dropout and feature_alpha_dropout.

In training each element (or, for the feature variants, each channel of each sample) is kept with probability
1 - p, drawn from dagrad.backend.rng() (seeded by dagrad.manual_seed):
    dropout        y = x * keep / (1 - p)                       (inverted scaling: E[y] = x)
    alpha_dropout  y = a * (x * keep + alpha' * (1 - keep)) + b  (keeps SELU's zero mean and unit variance)
Both are y = x * mask (+ shift) with a fixed random mask, so one op (MaskedScale) does the arithmetic and its
gradient is g * mask. Outside training, or with p = 0, the input is returned unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.ops.arithmetic import Mul
from dagrad.ops.sampling import arr, mask

_SELU_ALPHA = 1.7580993408473766  # -alpha' = SELU's scale * alpha: where SELU saturates for x -> -inf


class MaskedScale(Function):
    """x * mask + shift for a fixed (random) mask and shift that broadcast to x; the gradient is g * mask."""

    __slots__ = ()

    def forward(self, x, mask, shift=None):
        self.cache = mask
        y = x * mask
        if shift is not None:
            y += shift
        return y

    def backward(self, g):
        return Mul.apply(g, self.cache)

    def jvp(self, inputs, out, t):
        return Mul.apply(t[0], self.cache)

    @staticmethod
    def samples():
        def call(x, mask, shift=None):
            return MaskedScale.apply(
                x, mask=mask.astype(x.dtype), shift=None if shift is None else shift.astype(x.dtype)
            )

        def torch(T, x, mask, shift=None):
            y = x * T.from_numpy(mask).to(x.dtype)
            return y if shift is None else y + T.from_numpy(shift).to(x.dtype)

        yield Sample(arr(3, 4), mask=mask(3, 4) * 2.0, call=call, torch=torch)
        c = mask(2, 3, 1) * 1.25
        yield Sample(arr(2, 3, 4), mask=c, shift=c - 0.5, call=call, torch=torch, name="channels-shift")


def _check(op: str, x: Any, p: Any) -> None:
    if not isinstance(x, Tensor):
        raise DtypeError(f"{op}: expected a Tensor input, received {type(x).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ArgumentError(f"{op}: expected p between 0 and 1, received p={p!r}")
    if x.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating point input, received dtype {x.dtype}")


def _keep(x: Tensor, shape: tuple, p: float) -> Any:
    """A float array of `shape` in x's dtype: 1 where kept (probability 1 - p), 0 where dropped."""
    dtype = x.dtype if x.dtype in (backend.float32, backend.float64) else backend.float32
    u = backend.rng().random(shape, dtype=dtype)
    namespace(u).greater_equal(u, p, out=u)  # bool results written as 0.0 / 1.0 into the same buffer
    if x.device != backend.CPU:
        u = backend.to_device(u, x.device)
    return u if u.dtype == x.dtype else u.astype(x.dtype)


def _dropout(x: Tensor, shape: tuple, p: float, alpha: bool) -> Tensor:
    """x with entries dropped by a mask of `shape` (x.shape, or one entry per channel that broadcasts)."""
    keep = _keep(x, shape, p)
    if not alpha:
        keep *= 1 / (1 - p) if p < 1 else 0.0
        return MaskedScale.apply(x, mask=keep)
    a = 1 / math.sqrt((_SELU_ALPHA**2 * p + 1) * (1 - p)) if p < 1 else 0.0
    shift = (keep - 1) * (_SELU_ALPHA * a)
    shift += _SELU_ALPHA * a * p
    keep *= a
    return MaskedScale.apply(x, mask=keep, shift=shift)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) when training; else the input.

    `inplace` is accepted for PyTorch compatibility; the result is always a new tensor.
    """
    _check("dropout", input, p)
    if not training or p == 0 or input.numel() == 0:
        return input
    return _dropout(input, input.shape, p, alpha=False)


def _feature_shape(op: str, x: Tensor, spatial: int | None) -> tuple:
    """The mask shape that drops whole channels: (N, C, 1, ...) for batched input, (C, 1, ...) for unbatched."""
    if spatial is None:
        if x.ndim < 2:
            raise ShapeError(f"{op}: expected an input of shape (N, C, *), received shape {tuple(x.shape)}")
        return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)
    if x.ndim not in (spatial + 1, spatial + 2):
        names = ("L",) if spatial == 1 else ("H", "W") if spatial == 2 else ("D", "H", "W")
        raise ShapeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input of shape "
            f"(N, C, {', '.join(names)}), received shape {tuple(x.shape)}"
        )
    lead = x.ndim - spatial
    return tuple(x.shape[:lead]) + (1,) * spatial


def _feature_dropout(op: str, x: Tensor, p: float, training: bool, spatial: int | None, alpha: bool) -> Tensor:
    _check(op, x, p)
    shape = _feature_shape(op, x, spatial)
    if not training or p == 0 or x.numel() == 0:
        return x
    return _dropout(x, shape, p, alpha)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability p, scaling the rest by 1 / (1 - p)."""
    return _feature_dropout("dropout1d", input, p, training, 1, alpha=False)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability p, scaling the rest by 1 / (1 - p).

    A 3-D input is one unbatched image (C, H, W), the reading PyTorch announces as its future behaviour.
    """
    return _feature_dropout("dropout2d", input, p, training, 2, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p, scaling the rest."""
    return _feature_dropout("dropout3d", input, p, training, 3, alpha=False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements become SELU's negative saturation value and an affine map
    keeps the mean and variance of a standard normal input."""
    _check("alpha_dropout", input, p)
    if not training or p == 0 or input.numel() == 0:
        return input
    return _dropout(input, input.shape, p, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """alpha_dropout of whole channels of (N, C, *) input."""
    return _feature_dropout("feature_alpha_dropout", input, p, training, None, alpha=True)


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
TENSOR_METHODS: dict = {}
