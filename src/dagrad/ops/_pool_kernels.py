"""numba kernels for 2x2 stride-2 max pooling over planes that the windows tile exactly (LeNet's S2/S4): one pass
that finds each window's maximum and the offset of its first maximum, and one that scatters the gradient there,
both parallel over the planes. Used by dagrad.ops.pool through `kernels()`; this module imports numba."""

import numpy
from numba import njit, prange

__all__ = ["max_pool_2x2", "max_unpool_2x2"]


@njit(parallel=True, fastmath=False, cache=True)
def max_pool_2x2(x, out, idx):
    """out[p, i, j] = max of x[p, 2i:2i+2, 2j:2j+2] (NaN if any is NaN), idx the offset 2 * row + col of the first
    maximum; x (P, 2 Ho, 2 Wo), out and idx (P, Ho, Wo)."""
    for p in prange(x.shape[0]):
        for i in range(out.shape[1]):
            r0 = x[p, 2 * i]
            r1 = x[p, 2 * i + 1]
            for j in range(out.shape[2]):
                a, b, c, d = r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]
                m, k = a, 0
                if b > m:
                    m, k = b, 1
                if c > m:
                    m, k = c, 2
                if d > m:
                    m, k = d, 3
                if numpy.isnan(a) or numpy.isnan(b) or numpy.isnan(c) or numpy.isnan(d):
                    m = numpy.nan
                out[p, i, j] = m
                idx[p, i, j] = k


@njit(parallel=True, cache=True)
def max_unpool_2x2(g, idx, gx):
    """gx (P, 2 Ho, 2 Wo): g[p, i, j] at each window's offset idx[p, i, j], zeros elsewhere."""
    for p in prange(g.shape[0]):
        for i in range(g.shape[1]):
            r0 = gx[p, 2 * i]
            r1 = gx[p, 2 * i + 1]
            for j in range(g.shape[2]):
                k = idx[p, i, j]
                v = g[p, i, j]
                r0[2 * j] = v if k == 0 else 0
                r0[2 * j + 1] = v if k == 1 else 0
                r1[2 * j] = v if k == 2 else 0
                r1[2 * j + 1] = v if k == 3 else 0
