"""The numba kernels of dagrad.ops._direct_conv, at module level so that numba's on-disk cache (cache=True) finds
them again in every new process; imported only when numba is (this module imports it)."""

import numba
import numpy
from numba import njit, prange

__all__ = ["forward", "weight_grad", "threads"]

threads = numba.get_num_threads


@njit(inline="always", fastmath=True)
def pad_image(x, s, ph, pw, wp, out):
    """Image s of x (N, C, H, W) into the zeroed flat grid out (C, length) at row offset ph, column pw."""
    for ci in range(x.shape[1]):
        for i in range(x.shape[2]):
            row = out[ci, (i + ph) * wp + pw : (i + ph) * wp + pw + x.shape[3]]
            src = x[s, ci, i]
            for j in range(x.shape[3]):
                row[j] = src[j]


@njit(parallel=True, fastmath=True, cache=True)
def forward(x, w, b, ph, pw, hp, wp, y):
    """y (N, O, H_out, W_out) = x (N, C, H, W) * w (O, C, kh, kw) + b (O,), x padded to (hp, wp) at (ph, pw)."""
    n, c = x.shape[0], x.shape[1]
    o, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    ho, wo = y.shape[2], y.shape[3]
    span = ho * wp
    for s in prange(n):
        xp = numpy.zeros((c, hp * wp + kw), x.dtype)
        pad_image(x, s, ph, pw, wp, xp)
        acc = numpy.empty((o, span), x.dtype)
        for oi in range(o):
            acc[oi, :] = b[oi]
        for ci in range(c):
            for ki in range(kh):
                xs = xp[ci, ki * wp : ki * wp + span + kw]
                for oi in range(o):
                    a = acc[oi]
                    if kw == 5:
                        w0, w1, w2, w3, w4 = (
                            w[oi, ci, ki, 0],
                            w[oi, ci, ki, 1],
                            w[oi, ci, ki, 2],
                            w[oi, ci, ki, 3],
                            w[oi, ci, ki, 4],
                        )
                        for p in range(span):
                            a[p] += w0 * xs[p] + w1 * xs[p + 1] + w2 * xs[p + 2] + w3 * xs[p + 3] + w4 * xs[p + 4]
                    elif kw == 3:
                        w0, w1, w2 = w[oi, ci, ki, 0], w[oi, ci, ki, 1], w[oi, ci, ki, 2]
                        for p in range(span):
                            a[p] += w0 * xs[p] + w1 * xs[p + 1] + w2 * xs[p + 2]
                    else:
                        for kj in range(kw):
                            wv = w[oi, ci, ki, kj]
                            for p in range(span):
                                a[p] += wv * xs[p + kj]
        for oi in range(o):
            for i in range(ho):
                y[s, oi, i, :] = acc[oi, i * wp : i * wp + wo]


@njit(parallel=True, fastmath=True, cache=True)
def weight_grad(x, g, kh, kw, ph, pw, hp, wp, parts, gw):
    """gw (O, C, kh, kw) = sum over images and positions of g (N, O, H_out, W_out) times the shifted padded x;
    `parts` (T, O, C, kh, kw) holds one partial sum per slice of the batch."""
    n, c = x.shape[0], x.shape[1]
    o, ho, wo = g.shape[1], g.shape[2], g.shape[3]
    span = ho * wp
    t_count = parts.shape[0]
    for t in prange(t_count):
        part = parts[t]
        part[...] = 0
        xp = numpy.zeros((c, hp * wp + kw), x.dtype)
        gg = numpy.zeros((o, span), x.dtype)
        for s in range(t * n // t_count, (t + 1) * n // t_count):
            pad_image(x, s, ph, pw, wp, xp)
            for oi in range(o):
                for i in range(ho):
                    gg[oi, i * wp : i * wp + wo] = g[s, oi, i, :]
            for oi in range(o):
                ga = gg[oi]
                for ci in range(c):
                    for ki in range(kh):
                        xs = xp[ci, ki * wp : ki * wp + span + kw]
                        if kw == 5:
                            s0 = s1 = s2 = s3 = s4 = x.dtype.type(0)
                            for p in range(span):
                                gv = ga[p]
                                s0 += gv * xs[p]
                                s1 += gv * xs[p + 1]
                                s2 += gv * xs[p + 2]
                                s3 += gv * xs[p + 3]
                                s4 += gv * xs[p + 4]
                            part[oi, ci, ki, 0] += s0
                            part[oi, ci, ki, 1] += s1
                            part[oi, ci, ki, 2] += s2
                            part[oi, ci, ki, 3] += s3
                            part[oi, ci, ki, 4] += s4
                        elif kw == 3:
                            s0 = s1 = s2 = x.dtype.type(0)
                            for p in range(span):
                                gv = ga[p]
                                s0 += gv * xs[p]
                                s1 += gv * xs[p + 1]
                                s2 += gv * xs[p + 2]
                            part[oi, ci, ki, 0] += s0
                            part[oi, ci, ki, 1] += s1
                            part[oi, ci, ki, 2] += s2
                        else:
                            for kj in range(kw):
                                acc = x.dtype.type(0)
                                for p in range(span):
                                    acc += ga[p] * xs[p + kj]
                                part[oi, ci, ki, kj] += acc
    for t in range(t_count):
        gw += parts[t]
