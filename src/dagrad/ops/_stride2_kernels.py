"""numba kernels for 3x3 stride-2 convolutions (ResNet's downsampling layers), on flat grids as the stride-1 kernels
of dagrad.ops._direct_conv_kernels: every kernel tap a constant shift.

The padded input is split into its four phases P[a, b][u, v] = x_pad[2u + a, 2v + b] (`split`), each a flat grid of
row width wq >= W_out + 1; tap (ki, kj) then reads phase (ki % 2, kj % 2) shifted by (ki // 2) * wq + kj // 2. The
weight gradient lays the output gradient out on that grid too and is a set of contiguous dot products, where
im2col + GEMM first writes the input out nine times; the forward copies each tap's run into columns and multiplies
them by the weights on the same thread (dagrad.ops._cblas). Used by dagrad.ops._direct_conv; imports numba."""

import numpy
from numba import njit, prange

from dagrad.ops._cblas import gemm
from dagrad.ops._direct_conv_kernels import quad_row

__all__ = ["forward", "weight_grad"]


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


@njit(inline="always", fastmath=True)
def split_pairs(xu, s, top, left, wq, out):
    """`split` at grid row 0 for float32 images of even width, moving whole words: xu is x (N, C, H, W) seen as
    uint64 pairs (N, C, H, W / 2) and out the phases (C, 4, length) seen as uint32; the low half of pair m is
    column 2m, the high half 2m + 1, so each row splits in one vectorised pass (2-3x faster than stride-2 reads)."""
    h, half = xu.shape[2], xu.shape[3]
    even, odd = left % 2, (left + 1) % 2  # the phase columns of columns 2m and 2m + 1
    even_at, odd_at = left // 2, (left + 1) // 2  # their grid columns minus m
    for ci in range(xu.shape[1]):
        for r in range(h):
            a, u = (r + top) % 2, (r + top) // 2
            src = xu[s, ci, r]
            low = out[ci, 2 * a + even, u * wq + even_at : u * wq + even_at + half]
            high = out[ci, 2 * a + odd, u * wq + odd_at : u * wq + odd_at + half]
            for m in range(half):
                v = src[m]
                low[m] = numpy.uint32(v & 0xFFFFFFFF)
                high[m] = numpy.uint32(v >> 32)


@njit(parallel=True, fastmath=True, cache=True)
def forward(x, xu, w, b, top, left, hq, wq, y, threads, gemm_at):
    """y (N, O, H_out, W_out) = the stride-2 convolution of x (N, C, H, W) padded by (top, left) with w (O, C * 9)
    plus b (O,). Each of `threads` slices of the batch, image by image: its phases (`split_pairs` on xu, x's rows
    as uint64 pairs, when xu is not empty; else `split`), each tap's run copied into columns (C * 9, H_out * wq),
    one GEMM with w by the cblas GEMM at gemm_at, and the columns past W_out dropped while adding b."""
    n, c = x.shape[0], x.shape[1]
    o, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    span, taps = ho * wq, c * 9
    zero = x.dtype.type(0)
    for t in prange(threads):
        ph = numpy.zeros((c, 4, hq * wq + wq + 1), x.dtype)  # zero where no pixel lands: the padding
        words = ph.reshape(ph.size).view(numpy.uint32).reshape((c, 4, -1))  # float32 only
        cols = numpy.empty((taps, span), x.dtype)
        prod = numpy.empty((o, span), x.dtype)
        for s in range(t * n // threads, (t + 1) * n // threads):
            if xu.shape[0]:
                split_pairs(xu, s, top, left, wq, words)
            else:
                split(x, s, top, left, hq, wq, 0, ph)
            for ci in range(c):
                for ki in range(3):
                    for kj in range(3):
                        src = ph[ci, 2 * (ki % 2) + kj % 2, (ki // 2) * wq + kj // 2 :]
                        dst = cols[ci * 9 + ki * 3 + kj]
                        for p in range(span):
                            dst[p] = src[p]
            gemm(gemm_at, 0, o, span, taps, w.ctypes.data, taps, cols.ctypes.data, span, prod.ctypes.data, span, zero)
            for oi in range(o):
                bias, row = b[oi], prod[oi]
                for i in range(ho):
                    out = y[s, oi, i]
                    for j in range(wo):
                        out[j] = row[i * wq + j] + bias


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
