"""numba kernels for the input and output transforms of Winograd's F(4x4, 3x3) convolution (dagrad.ops._winograd).

Both work on `lanes`: the (image, channel) planes of a chunk of the batch, in blocks of BLOCK. A job copies its
block of planes into a position-major buffer (positions x lanes) and then runs the transform over all tiles with
every inner loop along the lanes, so LLVM vectorises loops of BLOCK elements instead of a channel's few; the output
transform writes its buffer back into planes. This module imports numba."""

import numpy
from numba import njit, prange

__all__ = ["BLOCK", "input_transform", "output_transform"]

BLOCK = 64  # lanes per job: 64-128 measured alike at ResNet-20's 64-channel stage, 32 slower


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


@njit(parallel=True, fastmath=True, cache=True)
def input_transform(xf, h, w, top, left, ty, tx, v):
    """v[6i + j, tile, lane] = (B^T d B)[i, j] for the 6x6 window d of plane xf[lane] (H * W, zero outside) at
    tile (a, b) = divmod(tile, tx), rows 4a - top .. 4a - top + 5 and columns 4b - left .. 4b - left + 5;
    xf (L, H * W), v (36, ty * tx, L)."""
    lanes = xf.shape[0]
    for blk in prange((lanes + BLOCK - 1) // BLOCK):
        l0 = blk * BLOCK
        ln = min(BLOCK, lanes - l0)
        xb = numpy.empty((h * w, BLOCK), xf.dtype)
        for k in range(ln):
            plane = xf[l0 + k]
            for p in range(h * w):
                xb[p, k] = plane[p]
        zero = numpy.zeros(BLOCK, xf.dtype)
        t = numpy.empty((6, 6, BLOCK), xf.dtype)
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
                _bt(t[i, 0], t[i, 1], t[i, 2], t[i, 3], t[i, 4], t[i, 5], v[6 * i : 6 * i + 6, tile, l0 : l0 + ln], ln)


@njit(parallel=True, fastmath=True, cache=True)
def output_transform(m, bias, ho, wo, ty, tx, yf):
    """yf[lane] (Ho * Wo) = the 4x4 tiles A^T M A of m[:, tile, lane] (36, ty * tx, L) plus bias[lane] (L,),
    cropped to Ho x Wo."""
    lanes = yf.shape[0]
    two, four, eight = m.dtype.type(2), m.dtype.type(4), m.dtype.type(8)
    width = 4 * tx
    for blk in prange((lanes + BLOCK - 1) // BLOCK):
        l0 = blk * BLOCK
        ln = min(BLOCK, lanes - l0)
        yb = numpy.empty((4 * ty * width, BLOCK), m.dtype)
        s = numpy.empty((4, 6, BLOCK), m.dtype)
        bl = bias[l0 : l0 + ln]
        for tile in range(ty * tx):
            a, b = tile // tx, tile % tx
            for j in range(6):  # s = A^T M, column by column
                m0, m1, m2 = m[j, tile, l0 : l0 + ln], m[6 + j, tile, l0 : l0 + ln], m[12 + j, tile, l0 : l0 + ln]
                m3, m4, m5 = m[18 + j, tile, l0 : l0 + ln], m[24 + j, tile, l0 : l0 + ln], m[30 + j, tile, l0 : l0 + ln]
                s0, s1, s2, s3 = s[0, j], s[1, j], s[2, j], s[3, j]
                for k in range(ln):
                    p1, p2, p3, p4 = m1[k] + m2[k], m1[k] - m2[k], m3[k] + m4[k], m3[k] - m4[k]
                    s0[k] = m0[k] + p1 + p3
                    s1[k] = p2 + two * p4
                    s2[k] = p1 + four * p3
                    s3[k] = p2 + eight * p4 + m5[k]
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
