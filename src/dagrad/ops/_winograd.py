"""Winograd's F(4x4, 3x3) convolution (Lavin and Gray, 2016) for wide 3x3 stride-1 convolutions: each 4x4 output
tile costs 36 products per channel pair instead of 144, the products done as 36 GEMMs; its weight gradient is the
transpose of that computation (dU[xi] = sum of V[xi]^T dM[xi] with dM = A dY A^T, then G^T dU G).

One numba kernel (dagrad.ops._winograd_kernels.conv) runs it on each thread's slice of the batch, a chunk of
images at a time sized to CHUNK_BYTES of transformed input: V = B^T d B of every 6x6 input window, M[xi] = V[xi] @
U[xi] for the 36 transform positions xi with U = G g G^T the transformed weights (OpenBLAS's GEMM called from the
kernel: dagrad.blas.gemm_address), then y = A^T M A + bias. Measured against the direct kernels on ResNet-20's
stages: 64 channels on 8x8 planes 13 against 39 ms per convolution at batch 1024 and 2.3 against 2.7 ms at batch
64, 32 channels on 16x16 19 against 37 and 1.5 against 2.3 ms; with 16 channels they tie (GEMMs with K = 16 run
at half speed), so `suits` asks for at least MIN_CHANNELS channels each way and MIN_POSITIONS output positions.
The result differs from the direct sum by rounding only (float32: ~1e-5 of the largest output). This module
imports NumPy directly, as the kernels take NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy

from dagrad import blas
from dagrad.ops import _direct_conv

MIN_CHANNELS = 32
MIN_POSITIONS = 1 << 11  # N * H_out * W_out
CHUNK_BYTES = 1 << 19  # transformed input per thread and chunk (its products take as much): 0.5-1 MB best
# The weights' transform (36 values per channel pair) must pay off over the tiles: 512 channels on 7x7 at batch 64
# (256 tiles) took 181 against im2col + GEMM's 135 ms (40 ms of it the transform), 256 on 14x14 (1,024 tiles) 53
# against 113 ms, 64 on 8x8 (256 tiles) 1.2 against 2.4-3.1 ms for the direct kernels.
WEIGHTS_PER_TILE = 512

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
_GG = numpy.kron(_G, _G)  # (36, 9): vec(G g G^T) = (G (x) G) vec(g), row-major


def suits(x: Any, k: tuple, out_channels: int, padding: tuple) -> bool:
    """Whether the convolution of x (N, C, H, W) by a kernel of size k into out_channels, with this padding ((top,
    bottom), (left, right)), should take this path: 3x3, at least MIN_CHANNELS channels each way, MIN_POSITIONS
    output positions, one 4x4 tile per WEIGHTS_PER_TILE channel pairs, padding >= 0, a NumPy float x and a cblas
    GEMM the kernels can call."""
    if tuple(k) != (3, 3) or min(x.shape[1], out_channels) < MIN_CHANNELS:
        return False
    (top, bottom), (left, right) = padding
    if min(top, bottom, left, right) < 0:
        return False
    ho, wo = x.shape[2] + top + bottom - 2, x.shape[3] + left + right - 2
    tiles = x.shape[0] * -(-ho // 4) * -(-wo // 4)
    return (
        ho > 0
        and wo > 0
        and x.shape[0] * ho * wo >= MIN_POSITIONS
        and tiles * WEIGHTS_PER_TILE >= x.shape[1] * out_channels
        and _direct_conv.usable(x)
        and blas.gemm_address(x.dtype) is not None
    )


def transformed_weights(w: numpy.ndarray) -> numpy.ndarray:
    """U (36, C, O) = G w[o, c] G^T for w (O, C, 3, 3), computed in float64 as one product with G (x) G (36, 9), in
    w's dtype (an einsum over G, w and G took 2 ms at 64 channels, this 0.1 ms). Kept off OpenBLAS's workers,
    which would spin beside the kernel that follows (a 0.2 ms convolution then took 8 ms)."""
    o, c = w.shape[:2]
    u = blas.matmul(_GG, w.reshape(o * c, 9).T.astype(numpy.float64))  # one thread: no OpenBLAS workers woken
    return numpy.ascontiguousarray(u.reshape(36, o, c).transpose(0, 2, 1), dtype=w.dtype)


def conv2d(x: numpy.ndarray, w: numpy.ndarray, b: numpy.ndarray | None, padding: tuple) -> numpy.ndarray:
    """Stride-1 3x3 convolution: x (N, C, H, W), w (O, C, 3, 3), b (O,) or None, padding ((top, bottom), (left,
    right)) >= 0 -> (N, O, H_out, W_out)."""
    conv = _direct_conv.companion("_winograd_kernels").conv
    n, c, h, wd = x.shape
    o = w.shape[0]
    (top, bottom), (left, right) = padding
    ho, wo = h + top + bottom - 2, wd + left + right - 2
    ty, tx = -(-ho // 4), -(-wo // 4)
    u = transformed_weights(numpy.ascontiguousarray(w))
    y = numpy.empty((n, o, ho, wo), x.dtype)
    threads = _direct_conv.kernels()[2]()
    step = max(1, min(-(-n // threads), CHUNK_BYTES // (36 * ty * tx * max(c, o) * x.itemsize)))
    bias = numpy.tile(numpy.zeros(o, x.dtype) if b is None else b.astype(x.dtype), step)
    planes, out = numpy.ascontiguousarray(x).reshape(n * c, h * wd), y.reshape(n * o, ho * wo)
    at = blas.gemm_address(x.dtype)
    _direct_conv.run(conv, planes, u, bias, c, h, wd, top, left, ty, tx, ho, wo, out, threads, step, at, gemm=True)
    return y


def weight_grad(x: numpy.ndarray, g: numpy.ndarray, padding: tuple) -> numpy.ndarray:
    """The weight gradient of conv2d(x, w, padding): x (N, C, H, W), g (N, O, H_out, W_out) -> (O, C, 3, 3), as
    G^T dU G from the transformed weights' gradient dU = sum of V^T dM over the batch (the kernel's threads each sum
    their slice; the slices are added in float64)."""
    weight_grad = _direct_conv.companion("_winograd_kernels").weight_grad
    n, c, h, wd = x.shape
    o, ho, wo = g.shape[1:]
    (top, _), (left, _) = padding
    ty, tx = -(-ho // 4), -(-wo // 4)
    threads = min(_direct_conv.kernels()[2](), n)
    step = max(1, min(-(-n // threads), CHUNK_BYTES // (36 * ty * tx * max(c, o) * x.itemsize)))
    parts = numpy.empty((threads, 36, c, o), x.dtype)
    planes, grads = numpy.ascontiguousarray(x).reshape(n * c, h * wd), numpy.ascontiguousarray(g).reshape(n * o, -1)
    at = blas.gemm_address(x.dtype)
    _direct_conv.run(weight_grad, planes, grads, c, h, wd, top, left, ty, tx, ho, wo, parts, step, at, gemm=True)
    du = parts.sum(axis=0, dtype=numpy.float64).reshape(36, c * o)
    gw = blas.matmul(_GG.T, du).reshape(3, 3, c, o)  # one thread: no OpenBLAS workers woken beside the kernels
    return numpy.ascontiguousarray(gw.transpose(3, 2, 0, 1), dtype=x.dtype)
