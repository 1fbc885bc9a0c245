"""Winograd's F(4x4, 3x3) convolution (Lavin and Gray, 2016) for wide 3x3 stride-1 convolutions on large batches:
each 4x4 output tile costs 36 products per channel pair instead of 144, the products done as 36 GEMMs.

Per chunk of CHUNK_BYTES of transformed input: V = B^T d B of every 6x6 input window (numba, dagrad.ops.
_winograd_kernels), M[xi] = V[xi] @ U[xi] for the 36 transform positions xi with U = G g G^T the transformed
weights (dagrad.blas.matmul, its stack split over the threads), then y = A^T M A + bias. Measured on ResNet-20's
stages at batch 1024: 64 channels on 8x8 planes (where the direct kernels drop a fifth of each grid) 20 against
39 ms per convolution, 32 channels on 16x16 29 against 37 ms; with 16 channels the direct kernels are twice as
fast (GEMMs with K = 16 run at half speed), and at batch 64 the two tie at ~2-3 ms, so `suits` asks for at least
MIN_CHANNELS channels each way and MIN_POSITIONS output positions. The result differs from the direct sum by
rounding only (float32: ~1e-5 of the largest output). This module imports NumPy directly, as the kernels take
NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy

from dagrad import blas
from dagrad.ops import _direct_conv

MIN_CHANNELS = 32
MIN_POSITIONS = 1 << 15  # N * H_out * W_out
CHUNK_BYTES = 2 << 20  # transformed input per chunk: 1-2 MB best at 64 channels, 2 MB at 32; 4 MB slower (out of cache)

# G of F(4x4, 3x3): U = G g G^T maps a 3x3 kernel to its 6x6 transform.
_G = numpy.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ]
)


def suits(x: Any, w: Any, padding: tuple) -> bool:
    """Whether conv2d(x, w) with this padding ((top, bottom), (left, right)) should take this path: a 3x3 kernel,
    at least MIN_CHANNELS input and output channels, MIN_POSITIONS output positions, padding >= 0, NumPy floats."""
    if w.shape[2:] != (3, 3) or min(w.shape[0], w.shape[1]) < MIN_CHANNELS:
        return False
    (top, bottom), (left, right) = padding
    if min(top, bottom, left, right) < 0:
        return False
    ho, wo = x.shape[2] + top + bottom - 2, x.shape[3] + left + right - 2
    return ho > 0 and wo > 0 and x.shape[0] * ho * wo >= MIN_POSITIONS and _direct_conv.usable(x, w)


def transformed_weights(w: numpy.ndarray) -> numpy.ndarray:
    """U (36, C, O) = G w[o, c] G^T for w (O, C, 3, 3), computed in float64, in w's dtype."""
    u = numpy.einsum("ia,ocab,kb->ikco", _G, w.astype(numpy.float64), _G)
    return numpy.ascontiguousarray(u.reshape(36, w.shape[1], w.shape[0]), dtype=w.dtype)


def conv2d(x: numpy.ndarray, w: numpy.ndarray, b: numpy.ndarray | None, padding: tuple) -> numpy.ndarray:
    """Stride-1 3x3 convolution: x (N, C, H, W), w (O, C, 3, 3), b (O,) or None, padding ((top, bottom), (left,
    right)) >= 0 -> (N, O, H_out, W_out)."""
    k = _direct_conv.companion("_winograd_kernels")
    n, c, h, wd = x.shape
    o = w.shape[0]
    (top, bottom), (left, right) = padding
    ho, wo = h + top + bottom - 2, wd + left + right - 2
    ty, tx = -(-ho // 4), -(-wo // 4)
    u = transformed_weights(numpy.ascontiguousarray(w))
    y = numpy.empty((n, o, ho, wo), x.dtype)
    step = max(1, CHUNK_BYTES // (36 * ty * tx * max(c, o) * x.itemsize))
    bias = numpy.tile(numpy.zeros(o, x.dtype) if b is None else b.astype(x.dtype), min(step, n))
    planes, out = numpy.ascontiguousarray(x).reshape(n * c, h * wd), y.reshape(n * o, ho * wo)
    for first in range(0, n, step):
        count = min(step, n - first)
        v = numpy.empty((36, ty * tx, count * c), x.dtype)
        _direct_conv.run(k.input_transform, planes[first * c : (first + count) * c], h, wd, top, left, ty, tx, v)
        m = blas.matmul(v.reshape(36, ty * tx * count, c), u).reshape(36, ty * tx, count * o)
        _direct_conv.run(k.output_transform, m, bias[: count * o], ho, wo, ty, tx, out[first * o : (first + count) * o])
    return y
