"""Image transforms with torchvision's names, vectorised over a batch.

Each transform takes one image (C, H, W) or a batch (N, C, H, W), as an array or a Tensor, and returns the same
kind. On a batch, random transforms draw one set of parameters per image and apply them all at once: crops are
one strided gather, flips one masked copy, rotations and affine maps one inverse-map plus nearest or bilinear
sampling over the whole batch. Randomness comes from `generator` (dagrad.backend.rng: the global generator,
seeded by dg.manual_seed, when None). Transforms are data preparation: they record no autograd graph.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy
from numpy.lib.stride_tricks import sliding_window_view

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.creation import from_numpy
from dagrad.errors import ArgumentError, ShapeError

__all__ = [
    "Compose",
    "Normalize",
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "ToTensor",
    "Transform",
]


class Transform:
    """Base class: `apply(batch)` maps an (N, C, H, W) array to an array; `__call__` handles the rest.

    `batched = True` tells datasets they may hand the transform a whole batch instead of one image at a time.
    """

    batched = True

    def __call__(self, x: Any) -> Any:
        arr = x.data if isinstance(x, Tensor) else numpy.asarray(x)
        if arr.ndim not in (3, 4):
            raise ShapeError(f"{type(self).__name__}: expected an image (C, H, W) or a batch (N, C, H, W), "
                             f"received shape {tuple(arr.shape)}")  # fmt: skip
        out = self.apply(arr[None]) if arr.ndim == 3 else self.apply(arr)
        out = out[0] if arr.ndim == 3 else out
        return from_numpy(out) if isinstance(x, Tensor) else out

    def apply(self, batch: numpy.ndarray) -> numpy.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


class Compose:
    """Apply `transforms` in order; batched when every one of them is."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        self.batched = all(getattr(t, "batched", False) for t in self.transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t!r}," for t in self.transforms) + "\n)"


class ToTensor:
    """uint8 images to float Tensors in [0, 1] with channels first, as torchvision's ToTensor.

    A uint8 array or PIL image (H, W), (H, W, C) or a batch (N, H, W, C) becomes float32 (1, H, W), (C, H, W) or
    (N, C, H, W) divided by 255. Anything already floating (the image datasets hand their transforms float
    (C, H, W) Tensors) is taken as channels-first and only wrapped in a Tensor.
    """

    batched = True

    def __call__(self, pic: Any) -> Tensor:
        arr = pic.data if isinstance(pic, Tensor) else numpy.asarray(pic)
        if arr.dtype.kind == "f":
            return pic if isinstance(pic, Tensor) else from_numpy(arr)
        if arr.ndim not in (2, 3, 4):
            raise ShapeError(f"ToTensor: expected an image (H, W), (H, W, C) or a batch (N, H, W, C), "
                             f"received shape {tuple(arr.shape)}")  # fmt: skip
        chw = arr[None] if arr.ndim == 2 else numpy.moveaxis(arr, -1, -3)
        out = numpy.empty(chw.shape, backend.float32)
        if arr.dtype == backend.uint8:
            numpy.divide(chw, numpy.float32(255), out=out)
        else:
            out[...] = chw
        return from_numpy(out)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize(Transform):
    """(x - mean) / std per channel; `mean` and `std` are numbers or one value per channel."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = numpy.atleast_1d(numpy.asarray(mean, dtype=backend.float64))
        self.std = numpy.atleast_1d(numpy.asarray(std, dtype=backend.float64))
        if (self.std == 0).any():
            raise ArgumentError(f"Normalize: expected std without zeros, received std={std}")

    def apply(self, batch: numpy.ndarray) -> numpy.ndarray:
        c = batch.shape[1]
        if self.mean.size not in (1, c) or self.std.size not in (1, c):
            raise ShapeError(f"Normalize: expected 1 or {c} values of mean and std for {c} channels, "
                             f"received {self.mean.size} and {self.std.size}")  # fmt: skip
        dtype = batch.dtype if batch.dtype.kind == "f" else backend.get_default_dtype()
        mean = self.mean.astype(dtype).reshape(-1, 1, 1)
        scale = (1 / self.std).astype(dtype).reshape(-1, 1, 1)
        return (batch - mean) * scale


def _pair(value: Any, name: str, what: str) -> tuple:
    """A (first, second) pair from a number (used twice) or a 2-sequence."""
    if isinstance(value, numbers.Number):
        return (value, value)
    if isinstance(value, Sequence) and len(value) == 2:
        return tuple(value)
    raise ArgumentError(f"{name}: expected {what} as a number or a pair, received {value!r}")


def _range(value: Any, name: str, what: str) -> tuple[float, float]:
    """A (low, high) range from a number d (meaning (-d, d), d >= 0) or a 2-sequence."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ArgumentError(f"{name}: expected {what} >= 0 when a single number, received {value}")
        return (-float(value), float(value))
    if isinstance(value, Sequence) and len(value) == 2 and value[0] <= value[1]:
        return (float(value[0]), float(value[1]))
    raise ArgumentError(f"{name}: expected {what} as a number or a (low, high) pair, received {value!r}")


class RandomCrop(Transform):
    """Crop a random (h, w) window of each image, after optional padding, as torchvision's RandomCrop.

    padding: an int (all sides), a pair (left/right, top/bottom) or four values (left, top, right, bottom);
    pad_if_needed pads images smaller than the crop; padding_mode is 'constant' (with `fill`), 'edge', 'reflect'
    or 'symmetric'. The crop of the whole batch is one gather from a strided window view.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
        generator: backend.Generator | None = None,
    ) -> None:
        self.size = tuple(int(s) for s in _pair(size, "RandomCrop", "size"))
        if min(self.size) < 1:
            raise ArgumentError(f"RandomCrop: expected a positive size, received {size!r}")
        if padding is None:
            pad = (0, 0, 0, 0)
        elif isinstance(padding, numbers.Integral):
            pad = (padding,) * 4
        elif isinstance(padding, Sequence) and len(padding) in (2, 4):
            pad = tuple(padding) * 2 if len(padding) == 2 else tuple(padding)
        else:
            raise ArgumentError(f"RandomCrop: expected padding as an int, 2 or 4 ints, received {padding!r}")
        if min(pad) < 0:
            raise ArgumentError(f"RandomCrop: expected non-negative padding, received {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ArgumentError(f"RandomCrop: expected padding_mode 'constant', 'edge', 'reflect' or 'symmetric', "
                                f"received {padding_mode!r}")  # fmt: skip
        self.padding = pad  # left, top, right, bottom
        self.pad_if_needed, self.fill, self.padding_mode, self.generator = pad_if_needed, fill, padding_mode, generator

    def _pad(self, batch: numpy.ndarray) -> numpy.ndarray:
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            extra_h = max(0, h - (batch.shape[2] + top + bottom))
            extra_w = max(0, w - (batch.shape[3] + left + right))
            top, bottom, left, right = top + extra_h, bottom + extra_h, left + extra_w, right + extra_w
        if not (left or top or right or bottom):
            return batch
        if self.padding_mode == "constant":  # a filled array and one copy: several times faster than numpy.pad
            n, c, height, width = batch.shape
            out = numpy.full((n, c, top + height + bottom, left + width + right), self.fill, dtype=batch.dtype)
            out[:, :, top : top + height, left : left + width] = batch
            return out
        return numpy.pad(batch, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=self.padding_mode)

    def apply(self, batch: numpy.ndarray) -> numpy.ndarray:
        batch = self._pad(batch)
        n, _, height, width = batch.shape
        h, w = self.size
        if height < h or width < w:
            raise ShapeError(f"RandomCrop: expected images of at least {h}x{w} after padding, "
                             f"received {height}x{width}")  # fmt: skip
        rng = backend.rng(self.generator)
        top = rng.integers(0, height - h + 1, size=n)
        left = rng.integers(0, width - w + 1, size=n)
        windows = sliding_window_view(batch, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w), a view
        return windows[numpy.arange(n), :, top, left]


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability p."""

    axis = -1

    def __init__(self, p: float = 0.5, generator: backend.Generator | None = None) -> None:
        if not 0 <= p <= 1:
            raise ArgumentError(f"{type(self).__name__}: expected p in [0, 1], received p={p}")
        self.p, self.generator = p, generator

    def apply(self, batch: numpy.ndarray) -> numpy.ndarray:
        flip = backend.rng(self.generator).random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = numpy.flip(batch[flip], self.axis)
        return out


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability p."""

    axis = -2


class RandomAffine(Transform):
    """A random affine map per image about its centre: rotation, translation, scale and shear.

    degrees: rotation range (d means (-d, d)), counter-clockwise; translate: (a, b) maximal shifts as fractions
    of width and height (whole pixels, as torchvision); scale: (low, high); shear: x-shear range in degrees (d or
    (low, high)), or four values adding a y-shear range. interpolation: 'nearest' or 'bilinear'; pixels mapped
    from outside the image get `fill`.
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: float | Sequence[float] | None = None,
        interpolation: str = "nearest",
        fill: float = 0,
        generator: backend.Generator | None = None,
    ) -> None:
        name = type(self).__name__
        self.degrees = _range(degrees, name, "degrees")
        if translate is not None and not (len(translate) == 2 and all(0 <= t <= 1 for t in translate)):
            raise ArgumentError(f"{name}: expected translate as two fractions in [0, 1], received {translate!r}")
        if scale is not None and not (len(scale) == 2 and 0 < scale[0] <= scale[1]):
            raise ArgumentError(f"{name}: expected scale as a (low, high) pair with 0 < low <= high, "
                                f"received {scale!r}")  # fmt: skip
        if shear is None or isinstance(shear, numbers.Number) or len(shear) == 2:
            self.shear = (_range(shear, name, "shear") if shear is not None else (0.0, 0.0)) + (0.0, 0.0)
        elif len(shear) == 4:
            self.shear = _range(shear[:2], name, "shear") + _range(shear[2:], name, "shear")
        else:
            raise ArgumentError(f"{name}: expected shear as a number, 2 or 4 values, received {shear!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ArgumentError(f"{name}: expected interpolation 'nearest' or 'bilinear', received {interpolation!r}")
        self.translate, self.scale, self.interpolation = translate, scale, interpolation
        self.fill, self.generator = fill, generator

    def _inverse_maps(self, n: int, height: int, width: int) -> numpy.ndarray:
        """(N, 2, 3) maps from output to input pixel coordinates, both measured from the image centre."""
        rng = backend.rng(self.generator)
        angle = numpy.radians(rng.uniform(*self.degrees, size=n))
        scale = rng.uniform(*self.scale, size=n) if self.scale else numpy.ones(n)
        shear_x = numpy.tan(numpy.radians(rng.uniform(*self.shear[:2], size=n)))
        shear_y = numpy.tan(numpy.radians(rng.uniform(*self.shear[2:], size=n)))
        shift = numpy.zeros((n, 2))
        if self.translate:
            limits = numpy.array([self.translate[0] * width, self.translate[1] * height])
            shift = numpy.round(rng.uniform(-limits, limits, size=(n, 2)))
        # forward map: scale * R(-angle) @ shear (y grows downwards, so R(-angle) turns counter-clockwise on screen)
        cos, sin = numpy.cos(angle), numpy.sin(angle)
        rotation = numpy.stack([numpy.stack([cos, sin], -1), numpy.stack([-sin, cos], -1)], -2)
        shear = numpy.stack([numpy.stack([numpy.ones(n), shear_x], -1), numpy.stack([shear_y, numpy.ones(n)], -1)], -2)
        inverse = numpy.linalg.inv(scale[:, None, None] * rotation @ shear)
        offset = -(inverse @ shift[:, :, None])
        return numpy.concatenate([inverse, offset], axis=2)

    def apply(self, batch: numpy.ndarray) -> numpy.ndarray:
        n, _, height, width = batch.shape
        return _warp(batch, self._inverse_maps(n, height, width), self.interpolation, self.fill)


class RandomRotation(RandomAffine):
    """Rotate each image by a random angle in `degrees` (d means (-d, d)), counter-clockwise, about its centre."""

    def __init__(
        self,
        degrees: float | Sequence[float],
        interpolation: str = "nearest",
        fill: float = 0,
        generator: backend.Generator | None = None,
    ) -> None:
        super().__init__(degrees, interpolation=interpolation, fill=fill, generator=generator)


def _warp(batch: numpy.ndarray, maps: numpy.ndarray, interpolation: str, fill: float) -> numpy.ndarray:
    """Resample every image of `batch` (N, C, H, W) through its own inverse map (N, 2, 3), in one pass.

    Output pixel (y, x) reads input point maps[n] @ (x - cx, y - cy, 1) + (cx, cy), by nearest or bilinear
    sampling; points outside the image read `fill`. The images get a one-pixel border of `fill` and source
    coordinates are clamped onto it, so every read is one flat `take` with no masks.
    """
    n, c, height, width = batch.shape
    work = batch.dtype if batch.dtype.kind == "f" else backend.float32
    padded = numpy.full((n, c, height + 2, width + 2), fill, dtype=work)
    padded[:, :, 1:-1, 1:-1] = batch
    flat = padded.reshape(-1)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    ys, xs = numpy.mgrid[0:height, 0:width].astype(backend.float32)
    xs, ys = (xs - cx).ravel(), (ys - cy).ravel()
    m = maps.astype(backend.float32)[:, :, :, None]  # (N, 2, 3, 1) against (H*W,) pixels
    src_x = m[:, 0, 0] * xs + m[:, 0, 1] * ys + (m[:, 0, 2] + cx + 1)  # (N, H*W), in padded coordinates
    src_y = m[:, 1, 0] * xs + m[:, 1, 1] * ys + (m[:, 1, 2] + cy + 1)
    base = (numpy.arange(n)[:, None] * c + numpy.arange(c)) * ((height + 2) * (width + 2))  # (N, C) image starts

    def column(x: numpy.ndarray) -> numpy.ndarray:
        """Whole x coordinates (N, H*W) clamped onto the border, as (N, 1, H*W) offsets."""
        return numpy.clip(x, 0, width + 1).astype(numpy.intp)[:, None, :]

    def row(y: numpy.ndarray) -> numpy.ndarray:
        """Whole y coordinates clamped onto the border, as (N, C, H*W) offsets of row starts in `flat`."""
        return numpy.clip(y, 0, height + 1).astype(numpy.intp)[:, None, :] * (width + 2) + base[:, :, None]

    if interpolation == "nearest":
        out = flat.take(row(numpy.rint(src_y)) + column(numpy.rint(src_x)))
    else:
        x0, y0 = numpy.floor(src_x), numpy.floor(src_y)
        wx, wy = (src_x - x0)[:, None, :], (src_y - y0)[:, None, :]
        left, right, upper, lower = column(x0), column(x0 + 1), row(y0), row(y0 + 1)
        top, bottom = flat.take(upper + left), flat.take(lower + left)
        top += (flat.take(upper + right) - top) * wx
        bottom += (flat.take(lower + right) - bottom) * wx
        out = top + (bottom - top) * wy
    if batch.dtype.kind != "f":
        out = numpy.rint(out)
    return out.astype(batch.dtype, copy=False).reshape(n, c, height, width)
