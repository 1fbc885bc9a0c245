"""numba kernels for batch norm over (N, C, S) arrays with planes of S >= MIN_PLANE (BatchNorm2d/3d): in training
each channel's statistics, normalisation, and gradient in one task, parallel over the channels; with fixed
statistics one multiply-add pass. The sums are kept
in float64, the mean taken before the squared deviations (no E[x^2] - E[x]^2 cancellation). Forward reads x twice
and writes y once, backward reads g and x twice and writes gx once, where the NumPy path makes 5-7 passes. Used by
dagrad.ops.norm; this module imports numba."""

import math

from numba import njit, prange

__all__ = ["MIN_PLANE", "batch_norm_backward", "batch_norm_forward", "channel_affine"]

MIN_PLANE = 16  # below this many positions per plane (BatchNorm1d) the per-channel walks stride too much

# Reassociation (so the float64 sums vectorise) and contraction, but no assumption that values are finite: a NaN in
# x still reaches y, as in the NumPy path.
_FAST = {"reassoc", "contract"}


@njit(parallel=True, fastmath=_FAST, cache=True)
def batch_norm_forward(x, weight, bias, eps, y, mean, var, invstd):
    """y = (x - mean) * invstd * weight + bias per channel of x (N, C, S); mean, biased var, invstd (C,) out."""
    n, c, s = x.shape
    count = n * s
    for ci in prange(c):
        acc = 0.0
        for ni in range(n):
            row = x[ni, ci]
            for k in range(s):
                acc += row[k]
        m = acc / count
        acc = 0.0
        for ni in range(n):
            row = x[ni, ci]
            for k in range(s):
                d = row[k] - m
                acc += d * d
        v = acc / count
        inv = 1.0 / math.sqrt(v + eps)
        scale = x.dtype.type(inv * weight[ci])
        shift = x.dtype.type(bias[ci] - m * inv * weight[ci])
        for ni in range(n):
            row = x[ni, ci]
            out = y[ni, ci]
            for k in range(s):
                out[k] = row[k] * scale + shift
        mean[ci] = m
        var[ci] = v
        invstd[ci] = inv


@njit(parallel=True, fastmath=_FAST, cache=True)
def batch_norm_backward(g, x, mean, invstd, weight, gx, sum_g, sum_g_xhat):
    """sum_g = sum(g), sum_g_xhat = sum(g * xhat) per channel (C,), and, when gx is not empty, the input gradient
    gx = invstd * weight * (g - sum_g / count - xhat * sum_g_xhat / count), all over (N, C, S)."""
    n, c, s = x.shape
    count = n * s
    for ci in prange(c):
        m, inv = mean[ci], invstd[ci]
        sg = 0.0
        sgx = 0.0
        for ni in range(n):
            grow, xrow = g[ni, ci], x[ni, ci]
            for k in range(s):
                sg += grow[k]
                sgx += grow[k] * (xrow[k] - m)
        sgx *= inv
        sum_g[ci] = sg
        sum_g_xhat[ci] = sgx
        if gx.shape[0] == 0:
            continue
        scale = inv * weight[ci]
        gain = g.dtype.type(scale)
        coef = g.dtype.type(-scale * inv * sgx / count)
        const = g.dtype.type(-scale * sg / count - coef * m)
        for ni in range(n):
            grow, xrow, out = g[ni, ci], x[ni, ci], gx[ni, ci]
            for k in range(s):
                out[k] = grow[k] * gain + xrow[k] * coef + const


@njit(parallel=True, fastmath=_FAST, cache=True)
def channel_affine(x, scale, shift, y):
    """y = x * scale + shift per channel of x (N, C, S): batch norm with fixed statistics, one pass over the planes."""
    n, c, s = x.shape
    for p in prange(n * c):
        ni, ci = p // c, p % c
        a, b = scale[ci], shift[ci]
        row, out = x[ni, ci], y[ni, ci]
        for k in range(s):
            out[k] = row[k] * a + b
