"""numba kernels for Winograd's F(4x4, 3x3) convolution (dagrad.ops._winograd): input transform, the 36 GEMMs and
output transform of a chunk of images, chunk after chunk on each of numba's threads (`conv`); for the weight
gradient, the input's and the output gradient's transforms and 36 GEMMs that accumulate per thread (`weight_grad`).

The transforms work on `lanes`: the (image, channel) planes of the chunk, in blocks of BLOCK. A block's planes are
copied into a position-major buffer (positions x lanes) and transformed over all tiles with every inner loop along
the lanes, so LLVM vectorises loops of BLOCK elements instead of a channel's few; the output transform writes its
buffer back into planes. The GEMMs are OpenBLAS's, called by address on the same thread (dagrad.ops._cblas), so a
chunk's transformed input and products stay in that core's cache. This module imports numba."""

import numpy
from numba import njit, prange

from dagrad.ops._cblas import gemm

__all__ = ["BLOCK", "conv", "weight_grad"]

BLOCK = 64  # lanes per block: 64-128 measured alike at ResNet-20's 64-channel stage, 32 slower


@njit(inline="always", fastmath=True)
def _bt(d0, d1, d2, d3, d4, d5, out, ln):
    """out[0:6, :ln] = B^T (d0 .. d5): F(4x4, 3x3)'s input transform along one axis, lane by lane."""
    two, four, five = d0.dtype.type(2), d0.dtype.type(4), d0.dtype.type(5)
    for k in range(ln):
        out[0, k] = four * d0[k] - five * d2[k] + d4[k]
        out[1, k] = -four * (d1[k] + d2[k]) + d3[k] + d4[k]
        out[2, k] = four * (d1[k] - d2[k]) - d3[k] + d4[k]
        out[3, k] = two * (d3[k] - d1[k]) - d2[k] + d4[k]
        out[4, k] = two * (d1[k] - d3[k]) - d2[k] + d4[k]
        out[5, k] = four * d1[k] - five * d3[k] + d5[k]


@njit(inline="always")
def gather(planes, l0, ln, size, buf):
    """buf[p, k] = planes[l0 + k, p] for p < size, k < ln: a block of planes laid out position-major (lanes inner)."""
    for k in range(ln):
        plane = planes[l0 + k]
        for p in range(size):
            buf[p, k] = plane[p]


@njit(inline="always", fastmath=True)
def input_block(xf, l0, ln, h, w, top, left, ty, tx, v, v0, xb, t, zero):
    """v[6i + j, tile, v0 + k] = (B^T d B)[i, j] for the 6x6 window d of plane xf[l0 + k] (H * W, zero outside), k
    < ln <= BLOCK, at tile (a, b) = divmod(tile, tx): rows 4a - top .. 4a - top + 5, columns 4b - left ..
    4b - left + 5; xb (H * W, BLOCK), t (6, 6, BLOCK) scratch, zero (BLOCK,) zeros."""
    gather(xf, l0, ln, h * w, xb)
    for tile in range(ty * tx):
        a, b = tile // tx, tile % tx
        for j in range(6):  # t = B^T d, column by column
            col = 4 * b + j - left
            rows = [zero, zero, zero, zero, zero, zero]
            if 0 <= col < w:
                for i in range(6):
                    row = 4 * a + i - top
                    if 0 <= row < h:
                        rows[i] = xb[row * w + col]
            _bt(rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], t[:, j], ln)
        for i in range(6):  # v = t B, row by row
            _bt(t[i, 0], t[i, 1], t[i, 2], t[i, 3], t[i, 4], t[i, 5], v[6 * i : 6 * i + 6, tile, v0 : v0 + ln], ln)


@njit(inline="always", fastmath=True)
def input_chunk(xf, first, count, c, h, w, top, left, ty, tx, v, xb, t, zero):
    """`input_block` over the count * c planes of images first .. first + count - 1, BLOCK lanes at a time, into
    v[:, :, :count * c]."""
    for lane in range(0, count * c, BLOCK):
        input_block(xf, first * c + lane, min(BLOCK, count * c - lane), h, w, top, left, ty, tx, v, lane, xb, t, zero)


@njit(inline="always", fastmath=True)
def output_block(m, m0, ln, bias, ho, wo, ty, tx, yf, l0, yb, s):
    """yf[l0 + k] (Ho * Wo) = the 4x4 tiles A^T M A of m[:, tile, m0 + k] (36, ty * tx, lanes) plus bias[m0 + k],
    cropped to Ho x Wo, k < ln <= BLOCK; yb (16 * ty * tx, BLOCK) and s (4, 6, BLOCK) scratch."""
    two, four, eight = m.dtype.type(2), m.dtype.type(4), m.dtype.type(8)
    width = 4 * tx
    bl = bias[m0 : m0 + ln]
    for tile in range(ty * tx):
        a, b = tile // tx, tile % tx
        for j in range(6):  # s = A^T M, column by column
            c0, c1, c2 = m[j, tile, m0 : m0 + ln], m[6 + j, tile, m0 : m0 + ln], m[12 + j, tile, m0 : m0 + ln]
            c3, c4, c5 = m[18 + j, tile, m0 : m0 + ln], m[24 + j, tile, m0 : m0 + ln], m[30 + j, tile, m0 : m0 + ln]
            s0, s1, s2, s3 = s[0, j], s[1, j], s[2, j], s[3, j]
            for k in range(ln):
                p1, p2, p3, p4 = c1[k] + c2[k], c1[k] - c2[k], c3[k] + c4[k], c3[k] - c4[k]
                s0[k] = c0[k] + p1 + p3
                s1[k] = p2 + two * p4
                s2[k] = p1 + four * p3
                s3[k] = p2 + eight * p4 + c5[k]
        for i in range(4):  # y = s A + bias, row by row
            z0, z1, z2, z3, z4, z5 = s[i, 0], s[i, 1], s[i, 2], s[i, 3], s[i, 4], s[i, 5]
            base = (4 * a + i) * width + 4 * b
            q0, q1, q2, q3 = yb[base], yb[base + 1], yb[base + 2], yb[base + 3]
            for k in range(ln):
                p1, p2, p3, p4 = z1[k] + z2[k], z1[k] - z2[k], z3[k] + z4[k], z3[k] - z4[k]
                q0[k] = z0[k] + p1 + p3 + bl[k]
                q1[k] = p2 + two * p4 + bl[k]
                q2[k] = p1 + four * p3 + bl[k]
                q3[k] = p2 + eight * p4 + z5[k] + bl[k]
    for k in range(ln):
        plane = yf[l0 + k]
        for r in range(ho):
            for c in range(wo):
                plane[r * wo + c] = yb[r * width + c, k]


@njit(parallel=True, fastmath=True, cache=True)
def conv(xf, u, bias, c, h, w, top, left, ty, tx, ho, wo, yf, threads, step, gemm_at):
    """yf (N * O, Ho * Wo) = the convolution of the planes xf (N * C, H * W), padded by (top, left), whose
    transformed weights are u (36, C, O), plus bias (O tiled `step` times). Each of `threads` slices of the batch
    goes `step` images at a time: V (36, tiles, images * C) by `input_block`, M[xi] = V[xi] @ U[xi] as
    (tiles * images, C) @ (C, O) by the cblas GEMM at gemm_at (one per tile where the last chunk is short), and
    `output_block` from M (36, tiles, images * O)."""
    n, o, tiles = xf.shape[0] // c, u.shape[2], ty * tx
    zero = xf.dtype.type(0)
    for t in prange(threads):
        v = numpy.empty((36, tiles, step * c), xf.dtype)
        m = numpy.empty((36, tiles, step * o), xf.dtype)
        xb, tb = numpy.empty((h * w, BLOCK), xf.dtype), numpy.empty((6, 6, BLOCK), xf.dtype)
        yb, sb = numpy.empty((16 * tiles, BLOCK), xf.dtype), numpy.empty((4, 6, BLOCK), xf.dtype)
        zeros = numpy.zeros(BLOCK, xf.dtype)
        last = (t + 1) * n // threads
        for first in range(t * n // threads, last, step):
            count = min(step, last - first)
            input_chunk(xf, first, count, c, h, w, top, left, ty, tx, v, xb, tb, zeros)
            for xi in range(36):
                ua = u[xi].ctypes.data
                if count == step:  # the chunk's rows (tile, image) are evenly spaced: one GEMM
                    gemm(gemm_at, 0, tiles * count, o, c, v[xi].ctypes.data, c, ua, o, m[xi].ctypes.data, o, zero)
                else:
                    for tile in range(tiles):
                        va, ma = v[xi, tile].ctypes.data, m[xi, tile].ctypes.data
                        gemm(gemm_at, 0, count, o, c, va, c, ua, o, ma, o, zero)
            for lane in range(0, count * o, BLOCK):
                ln = min(BLOCK, count * o - lane)
                output_block(m, lane, ln, bias, ho, wo, ty, tx, yf, first * o + lane, yb, sb)


@njit(inline="always", fastmath=True)
def _a(d0, d1, d2, d3, out, ln):
    """out[0:6, :ln] = A (d0 .. d3): the adjoint of the output transform A^T along one axis, lane by lane."""
    two, four, eight = d0.dtype.type(2), d0.dtype.type(4), d0.dtype.type(8)
    for k in range(ln):
        p1, p2, p3, p4 = d0[k] + d2[k], d1[k] + d3[k], d0[k] + four * d2[k], two * d1[k] + eight * d3[k]
        out[0, k] = d0[k]
        out[1, k] = p1 + p2
        out[2, k] = p1 - p2
        out[3, k] = p3 + p4
        out[4, k] = p3 - p4
        out[5, k] = d3[k]


@njit(inline="always", fastmath=True)
def gradient_block(gf, l0, ln, ho, wo, ty, tx, dm, m0, gb, t, zero):
    """dm[6i + j, tile, m0 + k] = (A dY A^T)[i, j] for the 4x4 tile (a, b) = divmod(tile, tx) of the output
    gradient plane gf[l0 + k] (Ho * Wo, zero past its edges), k < ln <= BLOCK: the gradient of the products M that
    `output_block` maps to that tile; gb (Ho * Wo, BLOCK) and t (6, 4, BLOCK) scratch, zero (BLOCK,) zeros."""
    gather(gf, l0, ln, ho * wo, gb)
    for tile in range(ty * tx):
        a, b = tile // tx, tile % tx
        for j in range(4):  # t = A dY, column by column
            col = 4 * b + j
            rows = [zero, zero, zero, zero]
            if col < wo:
                for i in range(4):
                    row = 4 * a + i
                    if row < ho:
                        rows[i] = gb[row * wo + col]
            _a(rows[0], rows[1], rows[2], rows[3], t[:, j], ln)
        for i in range(6):  # dm = t A^T, row by row
            _a(t[i, 0], t[i, 1], t[i, 2], t[i, 3], dm[6 * i : 6 * i + 6, tile, m0 : m0 + ln], ln)


@njit(parallel=True, fastmath=True, cache=True)
def weight_grad(xf, gf, c, h, w, top, left, ty, tx, ho, wo, parts, step, gemm_at):
    """parts[t] (36, C, O) = the gradient of the transformed weights U from slice t of the batch: sum over its
    images and tiles of V[xi]^T @ dM[xi], V = B^T d B of the input planes xf (N * C, H * W) padded by (top, left)
    (`input_block`), dM = A dY A^T of the output gradient planes gf (N * O, Ho * Wo) (`gradient_block`), `step`
    images at a time, the products accumulated by the cblas GEMM at gemm_at (a^T b with beta = 1)."""
    threads, o = parts.shape[0], parts.shape[3]
    n, tiles = xf.shape[0] // c, ty * tx
    one = xf.dtype.type(1)
    for t in prange(threads):
        part = parts[t]
        part[...] = 0
        v = numpy.empty((36, tiles, step * c), xf.dtype)
        dm = numpy.empty((36, tiles, step * o), xf.dtype)
        xb, tb = numpy.empty((h * w, BLOCK), xf.dtype), numpy.empty((6, 6, BLOCK), xf.dtype)
        gb, sb = numpy.empty((ho * wo, BLOCK), xf.dtype), numpy.empty((6, 4, BLOCK), xf.dtype)
        zeros = numpy.zeros(BLOCK, xf.dtype)
        last = (t + 1) * n // threads
        for first in range(t * n // threads, last, step):
            count = min(step, last - first)
            input_chunk(xf, first, count, c, h, w, top, left, ty, tx, v, xb, tb, zeros)
            for lane in range(0, count * o, BLOCK):
                ln = min(BLOCK, count * o - lane)
                gradient_block(gf, first * o + lane, ln, ho, wo, ty, tx, dm, lane, gb, sb, zeros)
            for xi in range(36):
                pa = part[xi].ctypes.data
                if count == step:  # rows (tile, image) evenly spaced: one GEMM
                    gemm(gemm_at, 1, c, o, tiles * count, v[xi].ctypes.data, c, dm[xi].ctypes.data, o, pa, o, one)
                else:
                    for tile in range(tiles):
                        va, ga = v[xi, tile].ctypes.data, dm[xi, tile].ctypes.data
                        gemm(gemm_at, 1, c, o, count, va, c, ga, o, pa, o, one)
