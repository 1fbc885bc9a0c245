"""numba kernel for the weight gradient of 3x3 stride-2 convolutions (ResNet's downsampling layers), on flat grids
as the stride-1 kernels of dagrad.ops._direct_conv_kernels: every kernel tap a constant shift.

The padded input is split into its four phases P[a, b][u, v] = x_pad[2u + a, 2v + b] (`split`), each a flat grid of
row width wq >= W_out + 1 on which the output gradient is laid out too; tap (ki, kj) then reads phase
(ki % 2, kj % 2) shifted by (ki // 2) * wq + kj // 2, and the gradient is a set of contiguous dot products, where
im2col + GEMM first writes the input out nine times. Used by dagrad.ops._direct_conv; this module imports numba."""

import numpy
from numba import njit, prange

from dagrad.ops._direct_conv_kernels import quad_row

__all__ = ["weight_grad"]


@njit(inline="always", fastmath=True)
def split(x, s, top, left, hq, wq, row0, out):
    """Image s of x (N, C, H, W), padded by (top, left), into its four phases out (C, 4, length) at grid row row0:
    out[c, 2a + b, (row0 + u) * wq + v] = x[s, c, 2u + a - top, 2v + b - left], zero outside x."""
    h, w = x.shape[2], x.shape[3]
    for ci in range(x.shape[1]):
        for u in range(hq):
            for a in range(2):
                r = 2 * u + a - top
                if r < 0 or r >= h:
                    continue
                src = x[s, ci, r]
                for b in range(2):
                    dst = out[ci, 2 * a + b, (row0 + u) * wq : (row0 + u + 1) * wq]
                    first = (left - b + 1) // 2  # the first v with 2v + b - left >= 0
                    last = min(wq, (w - 1 - b + left) // 2 + 1)
                    for v in range(first, last):
                        dst[v] = src[2 * v + b - left]


@njit(parallel=True, fastmath=True, cache=True)
def weight_grad(x, g, top, left, hq, wq, parts, gw, group):
    """gw (O, C, 3, 3) = the weight gradient of the stride-2 convolution of x (N, C, H, W) padded by (top, left):
    the sum over images and output positions of g (N, O, H_out, W_out) times each tap's phase-shifted input.
    hq = H_out + 1 phase rows per image, wq >= W_out + 1; `group` images stacked per grid, hq rows apart (g is zero
    on the rows and columns between them); `parts` (T, O, C, 3, 3) holds one partial sum per slice of the batch."""
    n, c = x.shape[0], x.shape[1]
    o, ho, wo = g.shape[1], g.shape[2], g.shape[3]
    span = ((group - 1) * hq + ho) * wq
    t_count = parts.shape[0]
    for t in prange(t_count):
        part = parts[t]
        part[...] = 0
        last = (t + 1) * n // t_count
        for first in range(t * n // t_count, last, group):
            ph = numpy.zeros((c, 4, group * hq * wq + wq + 1), x.dtype)
            gg = numpy.zeros((o, span), x.dtype)
            for gi in range(min(group, last - first)):
                split(x, first + gi, top, left, hq, wq, gi * hq, ph)
                for oi in range(o):
                    for i in range(ho):
                        r = (gi * hq + i) * wq
                        gg[oi, r : r + wo] = g[first + gi, oi, i, :]
            for ci in range(c):
                for ki in range(3):
                    a, sh = ki % 2, (ki // 2) * wq
                    xs0 = ph[ci, 2 * a, sh : sh + span]
                    xs1 = ph[ci, 2 * a + 1, sh : sh + span]
                    xs2 = ph[ci, 2 * a, sh + 1 : sh + 1 + span]
                    oi = 0
                    while oi + 4 <= o:
                        quad_row(gg[oi], gg[oi + 1], gg[oi + 2], gg[oi + 3], xs0, xs1, xs2, part, oi, ci, ki, span)
                        oi += 4
                    while oi < o:
                        ga = gg[oi]
                        s0 = s1 = s2 = x.dtype.type(0)
                        for p in range(span):
                            s0 += ga[p] * xs0[p]
                            s1 += ga[p] * xs1[p]
                            s2 += ga[p] * xs2[p]
                        part[oi, ci, ki, 0] += s0
                        part[oi, ci, ki, 1] += s1
                        part[oi, ci, ki, 2] += s2
                        oi += 1
    for t in range(t_count):
        gw += parts[t]
