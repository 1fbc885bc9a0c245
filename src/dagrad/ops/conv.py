"""Convolutions: N-d cross-correlation (torch's conv1d/2d/3d), its transpose, and their gradients.

Three Functions close under differentiation, so double backward works to any order:
  Conv            y = x * w + b            x (N, C, *S), w (O, C/groups, *k)  ->  (N, O, *S_out)
  ConvTranspose   the adjoint of Conv in x (Conv's input gradient; conv_transpose*d): (N, O, *S_out) -> (N, C, *S)
  ConvWeightGrad  the adjoint of Conv in w (Conv's weight gradient): x, g -> (O, C/groups, *k)
Each one's gradients are the other two; jvp of a bilinear op is op(tx, w) + op(x, tw).

Kernels picked per call by the memory each would move (and by measured speed); all end in BLAS GEMMs:
  shift   (stride 1, enough channels): the zero-padded input lives on a flat grid (C, N * prod(S_pad));
          every kernel offset is then a constant shift along that axis, so the column buffer is built from
          long contiguous copies (one per offset of the trailing kernel dims) and the offsets of the first
          kernel dim become row blocks of one GEMM, summed back by contiguous shifted adds before one copy
          into the (N, O, *S_out) output. The input gradient is the same kernel run on g with the flipped kernel.
  im2col  (any stride/dilation): columns (N, C, *k, *S_out) copied from prod(k) strided slices, one batched
          GEMM, and col2im as prod(k) strided adds (never np.add.at).
  row grid (stride 1; im2col's input gradient, and its weight gradient for few positions per sample): x or g
          with trailing dims padded to the padded input's, so every kernel offset is one contiguous run per
          sample, and the weight gradient is one skinny GEMM over batch and positions, cut in cache-sized slices.
  dense   (the kernel covers the whole unpadded input, as LeNet's C5): plain GEMMs on the flattened input.
Padding is kept per side ((lo, hi) for each spatial dim) because padding='same' with an even kernel is
asymmetric, as in PyTorch.
"""

from __future__ import annotations

import itertools
from math import prod
from typing import Any

from dagrad import blas
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.ops import _direct_conv, _winograd
from dagrad.ops._util import tsum
from dagrad.ops.sampling import arr

# The weight gradient's shift kernel runs k[0] GEMMs with a tiny output and a huge inner dimension, which
# OpenBLAS does slowly below this many rows (C/groups * prod(k[1:])); im2col's batched GEMMs win there.
_SHIFT_MIN_ROWS = 64
# The row-grid weight gradient's GEMM has a tiny output and an inner dim ~N * L; slices of this many columns keep
# both operands in cache (measured 2-4x faster than one GEMM for LeNet's convolutions at batch 128).
_GEMM_CHUNK = 6272
# With this many output positions per sample, im2col's one GEMM per sample is big enough to run well and beats
# the row-grid weight gradient (which copies g channels-first and pads it).
_PER_SAMPLE_MIN = 512


# ---- geometry ------------------------------------------------------------------------------------------------
def _out_size(size: tuple, k: tuple, stride: tuple, padding: tuple, dilation: tuple) -> tuple[int, ...]:
    """Spatial output size of a convolution: floor((S + lo + hi - d (k - 1) - 1) / s) + 1 per dim."""
    return tuple(
        (n + lo + hi - d * (kk - 1) - 1) // s + 1 for n, kk, s, (lo, hi), d in zip(size, k, stride, padding, dilation)
    )


def _shift_traffic(c_in: int, c_out: int, k: tuple, spad: tuple) -> int:
    """Elements the shift kernel moves per sample: the padded input copied 1 + 2 prod(k[1:]) times, then k[0]
    partial outputs written and read back. im2col moves 2 c_in prod(k) per output position instead."""
    return prod(spad) * (c_in + 2 * c_in * (prod(k) // k[0]) + 2 * k[0] * c_out)


def _nonnegative(x, padding: tuple):
    """Negative padding (Conv's adjoints can ask for it) crops x instead: returns x and padding >= 0."""
    if all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return x, padding
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape[2:], padding))
    return x[(slice(None), slice(None), *crop)], tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding)


# ---- shift kernel (stride 1) -------------------------------------------------------------------------------
def _grid_columns(x, k: tuple, padding: tuple, dilation: tuple):
    """x (N, C, *S) on the zero-padded flat grid, as columns (C, prod(k[1:]), P + ext) with P = N * prod(S_pad).

    Row j of channel c is the grid shifted by the offset of trailing-kernel index j; the first kernel dim is
    left to the caller as shifts by multiples of `step` (its last shift is `ext`). Returns cols, S_pad, step.
    """
    xp = namespace(x)
    n, c = x.shape[:2]
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    strides = [prod(spad[t + 1 :]) for t in range(len(spad))]
    step = dilation[0] * strides[0]
    ext = (k[0] - 1) * step
    offsets = [
        sum(j * d * g for j, d, g in zip(idx, dilation[1:], strides[1:]))
        for idx in itertools.product(*(range(kk) for kk in k[1:]))
    ]
    p = n * prod(spad)
    buf = xp.zeros((c, p + ext + offsets[-1]), x.dtype)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    buf[:, :p].reshape(c, n, *spad)[(slice(None), slice(None), *inner)] = x.swapaxes(0, 1)
    if len(offsets) == 1:
        return buf[:, None, : p + ext], spad, step
    cols = xp.empty((c, len(offsets), p + ext), x.dtype)
    for j, off in enumerate(offsets):
        cols[:, j] = buf[:, off : off + p + ext]
    return cols, spad, step


def _shift_conv(x, w, b, padding: tuple, dilation: tuple, groups: int):
    """Stride-1 convolution of x (N, C, *S) with w (O, C/groups, *k)."""
    x, padding = _nonnegative(x, padding)
    xp = namespace(x)
    n = x.shape[0]
    o, cg, k = w.shape[0], w.shape[1], w.shape[2:]
    cols, spad, step = _grid_columns(x, k, padding, dilation)
    rows = cols.shape[1]
    p = n * prod(spad)
    # GEMM rows ordered (o, i): the block of first-kernel-dim offset i is z[:, i], a (O, P + ext) array; the
    # blocks are summed with contiguous shifted adds, then the valid grid positions are copied out once.
    wm = w.reshape(groups, o // groups, cg, k[0], rows).transpose(0, 1, 3, 2, 4).reshape(groups, -1, cg * rows)
    z = blas.matmul(wm, cols.reshape(groups, cg * rows, cols.shape[2])).reshape(o, k[0], cols.shape[2])
    out_size = tuple(sp - d * (kk - 1) for sp, kk, d in zip(spad, k, dilation))
    acc = z[:, 0, :p]
    for i in range(1, k[0]):
        acc += z[:, i, i * step : i * step + p]
    y = xp.empty((n, o, *out_size), x.dtype)
    valid = acc.reshape(o, n, *spad)[(slice(None), slice(None), *(slice(0, s) for s in out_size))]
    if b is None:
        y.swapaxes(0, 1)[...] = valid
    else:
        xp.add(valid, b.reshape(o, *(1,) * (len(spad) + 1)), out=y.swapaxes(0, 1))
    return y


def _shift_weight_grad(x, g, k: tuple, padding: tuple, dilation: tuple, groups: int):
    """Stride-1 weight gradient: sum over the batch and positions of g times the shifted input columns."""
    xp = namespace(x)
    n, o = g.shape[:2]
    x, padding = _nonnegative(x, padding)
    cols, spad, step = _grid_columns(x, k, padding, dilation)
    rows = cols.shape[1]
    cg = x.shape[1] // groups
    p = n * prod(spad)
    span = p - (k[0] - 1) * step
    gg = xp.zeros((o, p), g.dtype)
    gg.reshape(o, n, *spad)[(slice(None), slice(None), *(slice(0, s) for s in g.shape[2:]))] = g.swapaxes(0, 1)
    gm = gg[:, :span].reshape(groups, o // groups, span)
    cm = cols.reshape(groups, cg * rows, cols.shape[2])
    gw = xp.empty((groups, o // groups, cg, k[0], rows), g.dtype)
    for i in range(k[0]):
        part = blas.matmul(gm, cm[:, :, i * step : i * step + span].swapaxes(1, 2))
        gw[:, :, :, i] = part.reshape(groups, o // groups, cg, rows)
    return gw.reshape(o, cg, *k)


def _flipped(w, groups: int):
    """The kernel of Conv's input gradient as a stride-1 conv: (O, C/g, *k) -> (C, O/g, *k) flipped in space."""
    o, cg = w.shape[:2]
    k = w.shape[2:]
    wt = w.reshape(groups, o // groups, cg, *k).swapaxes(1, 2).reshape(groups * cg, o // groups, *k)
    return wt[(slice(None), slice(None), *(slice(None, None, -1),) * len(k))]


# ---- im2col kernel (any stride) --------------------------------------------------------------------------------
def _windows(k: tuple, stride: tuple, dilation: tuple, out_size: tuple):
    """For every kernel offset: its index and the strided slices of the padded input it reads."""
    for idx in itertools.product(*(range(kk) for kk in k)):
        yield (
            idx,
            tuple(slice(i * d, i * d + s * (m - 1) + 1, s) for i, d, s, m in zip(idx, dilation, stride, out_size)),
        )


def _pointwise(k: tuple, stride: tuple, padding: tuple) -> bool:
    """A 1x1 kernel with stride 1 and no padding: the input already is its own column buffer."""
    return all(kk == 1 and s == 1 and lo == hi == 0 for kk, s, (lo, hi) in zip(k, stride, padding))


_im2col_kernels: Any = None  # dagrad.ops._im2col_kernels once imported; False where numba is missing or disabled


def _im2col_jit(a: Any, k: tuple, dilation: tuple) -> Any:
    """The numba im2col/col2im kernels for a 2-D, undilated window over the NumPy float array a; else None (they
    build ResNet's stride-2 columns 2-4x faster than one strided copy per kernel offset)."""
    global _im2col_kernels
    if len(k) != 2 or dilation != (1, 1):
        return None
    if _im2col_kernels is None:
        _im2col_kernels = _direct_conv.companion("_im2col_kernels")
    return _im2col_kernels if _im2col_kernels is not False and _direct_conv.usable(a) else None


def _im2col(x, k: tuple, stride: tuple, padding: tuple, dilation: tuple):
    """Columns (N, C, *k, *S_out) of x (N, C, *S): one strided-slice copy per kernel offset."""
    xp = namespace(x)
    n, c = x.shape[:2]
    x, padding = _nonnegative(x, padding)
    out_size = _out_size(x.shape[2:], k, stride, padding, dilation)
    if _pointwise(k, stride, padding):
        return x.reshape(n, c, *k, *out_size), out_size
    jit = _im2col_jit(x, k, dilation)
    if jit is not None:
        cols = xp.empty((n, c, *k, *out_size), x.dtype)
        _direct_conv.run(jit.im2col, xp.ascontiguousarray(x), *stride, padding[0][0], padding[1][0], cols)
        return cols, out_size
    if any(lo or hi for lo, hi in padding):
        spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
        xpad = xp.zeros((n, c, *spad), x.dtype)
        xpad[(slice(None), slice(None), *(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding)))] = x
    else:
        xpad = x
    cols = xp.empty((n, c, *k, *out_size), x.dtype)
    for idx, sl in _windows(k, stride, dilation, out_size):
        cols[(slice(None), slice(None), *idx)] = xpad[(slice(None), slice(None), *sl)]
    return cols, out_size


def _gemm_conv(x, w, b, stride: tuple, padding: tuple, dilation: tuple, groups: int):
    """Convolution as w (G, O/G, C/G * prod(k)) @ columns (N, G, C/G * prod(k), L): lands in (N, O, *S_out)."""
    n = x.shape[0]
    o = w.shape[0]
    cols, out_size = _im2col(x, w.shape[2:], stride, padding, dilation)
    rows = w.shape[1] * prod(w.shape[2:])
    y = blas.matmul(w.reshape(groups, o // groups, rows), cols.reshape(n, groups, rows, prod(out_size)))
    y = y.reshape(n, o, *out_size)
    if b is not None:
        y += b.reshape(o, *(1,) * len(out_size))
    return y


def _gemm_weight_grad(x, g, k: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int):
    """Weight gradient as g (N, G, O/G, L) @ columns^T, one GEMM per sample summed over the batch."""
    n, o = g.shape[:2]
    cols, out_size = _im2col(x, k, stride, padding, dilation)
    rows, cols_n = x.shape[1] // groups * prod(k), prod(out_size)
    gm = g.reshape(n, groups, o // groups, cols_n)
    gw = blas.matmul(gm, cols.reshape(n, groups, rows, cols_n).swapaxes(2, 3)).sum(axis=0)
    return gw.reshape(o, x.shape[1] // groups, *k)


def _row_grid(spad: tuple, k: tuple, dilation: tuple, out0: int):
    """Geometry of the row grid: arrays (N, out0, *S_pad[1:]) flattened per sample. Returns the run
    out0 * prod(S_pad[1:]), the per-sample length spad[0] * prod(S_pad[1:]) + the largest trailing offset, and
    the flat offset of every kernel offset (in itertools.product order)."""
    strides = [prod(spad[t + 1 :]) for t in range(len(spad))]
    last = sum(d * (kk - 1) * st for kk, d, st in zip(k[1:], dilation[1:], strides[1:]))
    offsets = [
        sum(i * d * st for i, d, st in zip(idx, dilation, strides))
        for idx in itertools.product(*(range(kk) for kk in k))
    ]
    return out0 * strides[0], spad[0] * strides[0] + last, offsets


def _on_rows(a, spad: tuple):
    """a (N, C, *S) as a zero-padded channels-first (C, N, S[0], *S_pad[1:]) array (a in the leading corner)."""
    out = namespace(a).zeros((a.shape[1], a.shape[0], a.shape[2], *spad[1:]), a.dtype)
    out[(slice(None), slice(None), slice(None), *(slice(0, m) for m in a.shape[3:]))] = a.swapaxes(0, 1)
    return out


def _grid_weight_grad(x, g, k: tuple, padding: tuple, dilation: tuple, groups: int):
    """Stride-1 weight gradient for few output positions per sample: the padded x and g both live on the row grid
    (trailing dims padded to S_pad's, g's pad entries zero), so every kernel offset's columns are contiguous runs
    of x, and one skinny GEMM columns (G, C/G * prod(k), N * run) @ g^T contracts batch and positions, summed
    over slices of at most _GEMM_CHUNK of its inner dim so that both operands stay in cache."""
    xp = namespace(x)
    n, o = g.shape[:2]
    x, padding = _nonnegative(x, padding)
    c = x.shape[1]
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    run, length, offsets = _row_grid(spad, k, dilation, g.shape[2])
    xf = xp.zeros((c, n, length), x.dtype)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    xf[:, :, : prod(spad)].reshape(c, n, *spad)[(slice(None), slice(None), *inner)] = x.swapaxes(0, 1)
    cols = xp.empty((c, len(offsets), n, run), x.dtype)
    for j, off in enumerate(offsets):
        cols[:, j] = xf[:, :, off : off + run]
    rows, depth = c // groups * len(offsets), n * run
    cm = cols.reshape(groups, rows, depth)
    gm = _on_rows(g, spad).reshape(groups, o // groups, depth)
    acc = blas.matmul(cm[:, :, :_GEMM_CHUNK], gm[:, :, :_GEMM_CHUNK].swapaxes(1, 2))
    for s in range(_GEMM_CHUNK, depth, _GEMM_CHUNK):
        acc += blas.matmul(cm[:, :, s : s + _GEMM_CHUNK], gm[:, :, s : s + _GEMM_CHUNK].swapaxes(1, 2))
    return xp.ascontiguousarray(acc.swapaxes(1, 2)).reshape(o, c // groups, *k)


def _grid_col2im(g, w, size: tuple, padding: tuple, dilation: tuple, groups: int):
    """Stride-1 input gradient: g lives on the row grid (its trailing dims padded to S_pad's, pad entries zero),
    so every kernel offset's columns land by one add along a contiguous run (the zeros add nothing) instead of a
    strided add with a short inner dim."""
    xp = namespace(g)
    n, o = g.shape[:2]
    c = groups * w.shape[1]
    spad = tuple(s + lo + max(hi, 0) for s, (lo, hi) in zip(size, padding))
    run, length, offsets = _row_grid(spad, w.shape[2:], dilation, g.shape[2])
    wm = w.reshape(groups, o // groups, -1).swapaxes(1, 2)
    cols = blas.matmul(wm, _on_rows(g, spad).reshape(groups, o // groups, n * run)).reshape(c, len(offsets), n, run)
    acc = xp.zeros((c, n, length), g.dtype)
    for j, off in enumerate(offsets):
        acc[:, :, off : off + run] += cols[:, j]
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    gx = xp.empty((n, c, *size), g.dtype)
    gx.swapaxes(0, 1)[...] = acc[:, :, : prod(spad)].reshape(c, n, *spad)[(slice(None), slice(None), *inner)]
    return gx


def _col2im_transpose(g, w, size: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int):
    """Conv's input gradient by GEMM into columns, then one strided add per kernel offset (col2im)."""
    xp = namespace(g)
    n, o = g.shape[:2]
    cg, k, out_size = w.shape[1], w.shape[2:], g.shape[2:]
    wm = w.reshape(groups, o // groups, -1).swapaxes(1, 2)
    cols = blas.matmul(wm, g.reshape(n, groups, o // groups, prod(out_size))).reshape(n, groups * cg, *k, *out_size)
    if _pointwise(k, stride, padding) and tuple(size) == out_size:
        return cols.reshape(n, groups * cg, *size)
    jit = _im2col_jit(cols, k, dilation)
    if jit is not None:
        gx = xp.empty((n, groups * cg, *size), g.dtype)
        _direct_conv.run(jit.col2im, xp.ascontiguousarray(cols), *stride, padding[0][0], padding[1][0], gx)
        return gx
    spad = tuple(s + lo + max(hi, 0) for s, (lo, hi) in zip(size, padding))
    gx = xp.zeros((n, groups * cg, *spad), g.dtype)
    for idx, sl in _windows(k, stride, dilation, out_size):
        gx[(slice(None), slice(None), *sl)] += cols[(slice(None), slice(None), *idx)]
    return gx[(slice(None), slice(None), *(slice(lo, lo + s) for s, (lo, _) in zip(size, padding)))]


# ---- dense kernel (the kernel covers the whole input: one output position) --------------------------------------
def _dense(size: tuple, k: tuple, padding: tuple, dilation: tuple, groups: int) -> bool:
    """No padding, no dilation, one group and a kernel the size of the input (LeNet's C5): every op is one GEMM
    on the flattened input (N, C * prod(k)), with no columns to build."""
    return groups == 1 and tuple(size) == tuple(k) and all(d == 1 for d in dilation) and not any(map(any, padding))


def _dense_conv(x, w, b):
    """x (N, C, *k) flattened @ w (O, C * prod(k))^T -> (N, O, 1, ...)."""
    y = blas.matmul(x.reshape(x.shape[0], -1), w.reshape(w.shape[0], -1).T)
    if b is not None:
        y += b
    return y.reshape(*y.shape, *(1,) * (w.ndim - 2))


def _dense_transpose(g, w, b):
    """g (N, O, 1, ...) flattened @ w (O, C * prod(k)) -> (N, C, *k)."""
    gx = blas.matmul(g.reshape(g.shape[0], -1), w.reshape(w.shape[0], -1)).reshape(g.shape[0], *w.shape[1:])
    if b is not None:
        gx += b.reshape(-1, *(1,) * (w.ndim - 2))
    return gx


def _dense_weight_grad(x, g):
    """g (N, O)^T @ x (N, C * prod(k)) -> (O, C, *k)."""
    n, o = g.shape[:2]
    return blas.matmul(g.reshape(n, o).T, x.reshape(n, -1)).reshape(o, *x.shape[1:])


# ---- dispatch on arrays: the kernel that moves less memory ------------------------------------------------------
def _direct(a, w, stride: tuple, padding: tuple, dilation: tuple, groups: int, taps: int, width: int) -> bool:
    """Whether the numba direct kernels take this 2-D stride-1 convolution: a kernel `width` they unroll (3 or 5;
    1x1 and 7x7 convolutions measured 2x faster as GEMMs), few multiply-adds per output (`taps`), padding >= 0,
    NumPy float arrays and numba available."""
    return (
        len(stride) == 2
        and width in _direct_conv.WIDTHS
        and taps <= _direct_conv.MAX_TAPS
        and stride == (1, 1)
        and dilation == (1, 1)
        and groups == 1
        and min(min(p) for p in padding) >= 0
        and _direct_conv.usable(a, w)
    )


def _winograd_takes(
    x, k: tuple, out_channels: int, stride: tuple, padding: tuple, dilation: tuple, groups: int
) -> bool:
    """Whether Winograd's F(4x4, 3x3) takes this 2-D convolution of x (or, with the input gradient's padding, the
    convolution that is its input gradient, or its weight gradient): stride 1, undilated, ungrouped, and what
    _winograd.suits asks (3x3, >= 32 channels each way, enough output positions). Unlike the direct kernels it has
    no cap on the channels: at 256 channels on 14x14 (batch 16) the forward took 19 against im2col + GEMM's 35 ms,
    the input gradient 22 against 26, the weight gradient 26 against 28."""
    return len(k) == 2 and stride == dilation == (1, 1) and groups == 1 and _winograd.suits(x, k, out_channels, padding)


def _stride2(x, a, k: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int) -> bool:
    """Whether the numba kernels take this 3x3 stride-2 convolution (ResNet's downsampling) of x with a (its
    weight or output gradient): padding >= 0, at most MAX_TAPS taps, NumPy float arrays. Against im2col + GEMM at
    ResNet-20's sizes the weight gradient is 3-4x faster; the forward, which also needs blas.gemm_address,
    1.5x at batch 64 and 1024."""
    return k == (3, 3) and stride == (2, 2) and _direct(x, a, (1, 1), padding, dilation, groups, x.shape[1] * 9, 3)


def _conv(x, w, b, stride, padding, dilation, groups):
    """Forward convolution on arrays: x (N, C, *S), w (O, C/groups, *k), b (O,) or None."""
    c, o, k = x.shape[1], w.shape[0], w.shape[2:]
    if _dense(x.shape[2:], k, padding, dilation, groups):
        return _dense_conv(x, w, b)
    if _winograd_takes(x, k, o, stride, padding, dilation, groups):
        return _winograd.conv2d(x, w, b, padding)
    if _direct(x, w, stride, padding, dilation, groups, c * prod(k), k[-1]):
        return _direct_conv.conv2d(x, w, b, padding)
    if _stride2(x, w, k, stride, padding, dilation, groups) and blas.gemm_address(x.dtype) is not None:
        return _direct_conv.conv2d_stride2(x, w, b, padding)
    spad = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
    out = _out_size(x.shape[2:], k, stride, padding, dilation)
    if all(s == 1 for s in stride) and _shift_traffic(c, o, k, spad) < 2 * c * prod(k) * prod(out):
        return _shift_conv(x, w, b, padding, dilation, groups)
    return _gemm_conv(x, w, b, stride, padding, dilation, groups)


def _conv_transpose(g, w, b, size, stride, padding, dilation, groups):
    """Conv's input gradient (= transposed conv) on arrays: g (N, O, *S_out) -> (N, C, *size)."""
    o, k = g.shape[1], w.shape[2:]
    if _dense(size, k, padding, dilation, groups):
        return _dense_transpose(g, w, b)
    c = w.shape[1] * groups
    full = tuple(m + kk - 1 - lo - hi for m, kk, (lo, hi) in zip(g.shape[2:], k, padding))
    inside = all(lo < kk and hi < kk for (lo, hi), kk in zip(padding, k))
    flip = tuple((kk - 1 - lo, kk - 1 - hi) for kk, (lo, hi) in zip(k, padding))  # padding as a stride-1 conv
    if full == tuple(size) and _winograd_takes(g, k, c, stride, flip, dilation, groups):
        return _winograd.conv2d(g, _flipped(w, 1), b, flip)
    if inside and full == tuple(size) and _direct(g, w, stride, padding, dilation, groups, o * prod(k), k[-1]):
        gx = _direct_conv.conv2d_input_grad(g, w, padding)
        return gx if b is None else gx + b.reshape(-1, 1, 1)
    spad = tuple(n + d * (kk - 1) for n, kk, d in zip(size, k, dilation))
    if all(s == 1 for s in stride) and _shift_traffic(o, c, k, spad) < 4 * c * prod(k) * prod(g.shape[2:]):
        flip = tuple(
            (d * (kk - 1) - lo, n - m + lo) for n, m, kk, d, (lo, _) in zip(size, g.shape[2:], k, dilation, padding)
        )
        return _shift_conv(g, _flipped(w, groups), b, flip, dilation, groups)
    # The row grid relays g out channels-first: measured faster than col2im's strided adds unless g has many more
    # channels than the result (1 -> 32 channels: 2x slower; 6 -> 16, 8 -> 8, 16 -> 16: 1.4-2x faster).
    if all(s == 1 for s in stride) and o <= 4 * c and not _pointwise(k, stride, padding):
        gx = _grid_col2im(g, w, size, padding, dilation, groups)
    else:
        gx = _col2im_transpose(g, w, size, stride, padding, dilation, groups)
    if b is not None:
        gx += b.reshape(-1, *(1,) * len(k))
    return gx


def _weight_grad(x, g, k, stride, padding, dilation, groups):
    """Conv's weight gradient on arrays: x (N, C, *S), g (N, O, *S_out) -> (O, C/groups, *k)."""
    if _dense(x.shape[2:], k, padding, dilation, groups):
        return _dense_weight_grad(x, g)
    if _winograd_takes(x, k, g.shape[1], stride, padding, dilation, groups):
        return _winograd.weight_grad(x, g, padding)
    if _direct(x, g, stride, padding, dilation, groups, x.shape[1] * prod(k), k[-1]):
        return _direct_conv.conv2d_weight_grad(x, g, k, padding)
    if _stride2(x, g, k, stride, padding, dilation, groups):
        return _direct_conv.conv2d_stride2_weight_grad(x, g, padding)
    if all(s == 1 for s in stride) and x.shape[1] // groups * prod(k[1:]) >= _SHIFT_MIN_ROWS:
        return _shift_weight_grad(x, g, k, padding, dilation, groups)
    if all(s == 1 for s in stride) and prod(g.shape[2:]) < _PER_SAMPLE_MIN:
        return _grid_weight_grad(x, g, k, padding, dilation, groups)
    return _gemm_weight_grad(x, g, k, stride, padding, dilation, groups)


def _bias_grad(g: Tensor, spatial: int) -> Tensor:
    """Sum of g over every axis but the channel axis (which is axis -spatial-1); outside a recorded graph as one
    einsum, which NumPy runs 3.4x faster than sum over several axes (LeNet's C1: 43 against 146 us)."""
    channel = g.ndim - spatial - 1
    if state.grad and g.requires_grad:
        return g.sum(dim=tuple(a for a in range(g.ndim) if a != channel))
    axes = "abcdefgh"[: g.ndim]
    return _make(namespace(g.data).einsum(f"{axes}->{axes[channel]}", g.data))


def _bias_tangent(t: Tensor, spatial: int) -> Tensor:
    return t.reshape(t.shape[0], *(1,) * spatial)


# ---- Functions -----------------------------------------------------------------------------------------------
class Conv(Function):
    """y = x * w + b, N-d cross-correlation: x (N, C, *S) or (C, *S), w (O, C/groups, *k), b (O,) or None."""

    __slots__ = ("args",)
    retain = (0, 1)

    def forward(self, x, w, b, stride, padding, dilation, groups):
        self.args = (stride, padding, dilation, groups)
        if x.ndim == w.ndim:
            return _conv(x, w, b, stride, padding, dilation, groups)
        return _conv(x[None], w, b, stride, padding, dilation, groups)[0]

    def backward(self, g):
        x, w = self.saved
        stride, padding, dilation, groups = self.args
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        gx = ConvTranspose.apply(g, w, None, size=x.shape[-len(stride) :], **kw) if self.needs(0) else None
        gw = ConvWeightGrad.apply(x, g, kernel=w.shape[2:], **kw) if self.needs(1) else None
        gb = _bias_grad(g, len(stride)) if self.needs(2) else None
        return gx, gw, gb

    def jvp(self, inputs, out, t):
        x, w = inputs[:2]
        stride, padding, dilation, groups = self.args
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return tsum(
            None if t[0] is None else Conv.apply(t[0], w, None, **kw),
            None if t[1] is None else Conv.apply(x, t[1], None, **kw),
            None if t[2] is None else _bias_tangent(t[2], len(stride)),
        )

    @staticmethod
    def samples():
        yield _sample("conv2d", arr(2, 2, 4, 4), arr(3, 2, 3, 3), arr(3), padding=1)
        yield _sample("conv2d", arr(1, 2, 5, 5), arr(2, 2, 3, 3), None, stride=2, padding=(1, 0), name="stride")
        yield _sample("conv2d", arr(1, 4, 5, 4), arr(4, 2, 2, 3), arr(4), padding="same", dilation=2, groups=2)
        yield _sample("conv1d", arr(1, 8, 8), arr(1, 8, 3), arr(1), name="shift")
        yield _sample("conv3d", arr(2, 3, 3, 3), arr(2, 2, 2, 2, 2), arr(2), padding=(1, 0, 1), name="unbatched")


class ConvTranspose(Function):
    """The adjoint of Conv in x: g (N, O, *S_out) or (O, *S_out), w (O, C/groups, *k) -> (N, C, *size) (+ b).

    Conv's input gradient, and conv_transpose*d (whose weight layout (C_in, C_out/groups, *k) is Conv's).
    """

    __slots__ = ("args",)
    retain = (0, 1)

    def forward(self, g, w, b, size, stride, padding, dilation, groups):
        self.args = (size, stride, padding, dilation, groups)
        if g.ndim == w.ndim:
            return _conv_transpose(g, w, b, size, stride, padding, dilation, groups)
        return _conv_transpose(g[None], w, b, size, stride, padding, dilation, groups)[0]

    def backward(self, gz):
        g, w = self.saved
        size, stride, padding, dilation, groups = self.args
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        gg = Conv.apply(gz, w, None, **kw) if self.needs(0) else None
        gw = ConvWeightGrad.apply(gz, g, kernel=w.shape[2:], **kw) if self.needs(1) else None
        gb = _bias_grad(gz, len(stride)) if self.needs(2) else None
        return gg, gw, gb

    def jvp(self, inputs, out, t):
        g, w = inputs[:2]
        size, stride, padding, dilation, groups = self.args
        kw = {"size": size, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return tsum(
            None if t[0] is None else ConvTranspose.apply(t[0], w, None, **kw),
            None if t[1] is None else ConvTranspose.apply(g, t[1], None, **kw),
            None if t[2] is None else _bias_tangent(t[2], len(stride)),
        )

    @staticmethod
    def samples():
        yield _sample("conv_transpose2d", arr(2, 2, 3, 3), arr(2, 3, 3, 3), arr(3), padding=1, name="shift")
        yield _sample(
            "conv_transpose2d", arr(1, 2, 3, 3), arr(2, 2, 3, 2), None, stride=2, padding=1, output_padding=1,
            name="stride",
        )  # fmt: skip
        yield _sample(
            "conv_transpose2d", arr(1, 4, 3, 3), arr(4, 1, 2, 2), arr(2), groups=2, dilation=2, output_padding=1
        )
        yield _sample("conv_transpose1d", arr(2, 8, 3), arr(8, 2, 2), arr(2), name="1d")
        yield _sample("conv_transpose3d", arr(2, 2, 2, 2), arr(2, 2, 2, 2, 2), None, stride=(1, 2, 1), name="3d")


class ConvWeightGrad(Function):
    """The adjoint of Conv in w: x (N, C, *S), g (N, O, *S_out) (or both unbatched) -> (O, C/groups, *kernel)."""

    __slots__ = ("args",)
    retain = (0, 1)

    def forward(self, x, g, kernel, stride, padding, dilation, groups):
        self.args = (kernel, stride, padding, dilation, groups)
        if x.ndim == len(kernel) + 1:
            x, g = x[None], g[None]
        return _weight_grad(x, g, kernel, stride, padding, dilation, groups)

    def backward(self, gw):
        x, g = self.saved
        kernel, stride, padding, dilation, groups = self.args
        kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        gx = ConvTranspose.apply(g, gw, None, size=x.shape[-len(kernel) :], **kw) if self.needs(0) else None
        gg = Conv.apply(x, gw, None, **kw) if self.needs(1) else None
        return gx, gg

    def jvp(self, inputs, out, t):
        x, g = inputs
        kernel, stride, padding, dilation, groups = self.args
        kw = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return tsum(
            None if t[0] is None else ConvWeightGrad.apply(t[0], g, **kw),
            None if t[1] is None else ConvWeightGrad.apply(x, t[1], **kw),
        )

    @staticmethod
    def samples():
        yield _grad_sample(arr(2, 2, 4, 4), arr(2, 3, 4, 4), (3, 2, 3, 3), padding=1)
        yield _grad_sample(arr(1, 2, 5, 5), arr(1, 2, 2, 3), (2, 2, 3, 3), stride=2, padding=(0, 1), name="stride")
        yield _grad_sample(arr(1, 4, 5, 5), arr(1, 4, 3, 3), (4, 2, 2, 2), dilation=2, groups=2, name="groups")
        yield _grad_sample(arr(2, 8, 3), arr(2, 2, 4), (2, 8, 2), padding=1, name="1d")


# ---- argument checks (errors name the op or layer, what was expected and what was received) --------------------
_DIMS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _ints(name: str, what: str, v: Any, d: int, low: int) -> tuple[int, ...]:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,) * d
    if len(t) != d or not all(isinstance(i, int) and i >= low for i in t):
        raise ArgumentError(
            f"{name}: expected {what} to be an int >= {low} or a tuple of {d} such ints, received {v!r}"
        )
    return t


def _check(name: str, d: int, x: Any, w: Any, b: Any, groups: Any, transposed: bool) -> None:
    """Ranks, dtypes, groups and channel counts of a (transposed) convolution's operands."""
    for what, t in (("input", x), ("weight", w), ("bias", b)):
        if t is not None and not isinstance(t, Tensor):
            raise DtypeError(f"{name}: expected {what} to be a Tensor, received {type(t).__name__}")
    sp = ", ".join(_DIMS[d])
    if w.ndim != d + 2:
        layout = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        ks = ", ".join("k" + s for s in _DIMS[d])
        raise ShapeError(f"{name}: expected a {d + 2}-D weight of shape ({layout}, {ks}), received shape {w.shape}")
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(
            f"{name}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input of shape (N, C, {sp}), "
            f"received shape {x.shape}"
        )
    for what, t in (("input", x), ("weight", w), ("bias", b)):
        if t is not None and (t.dtype.kind != "f" or t.dtype != x.dtype):
            raise DtypeError(
                f"{name}: expected floating {what} of the input's dtype {x.dtype}, received dtype {t.dtype}"
            )
    if not isinstance(groups, int) or groups < 1:
        raise ArgumentError(f"{name}: expected groups to be a positive int, received {groups!r}")
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    c_out = w.shape[1] * groups if transposed else w.shape[0]
    if (w.shape[0] if transposed else c_out) % groups:
        which = "in_channels" if transposed else "out_channels"
        raise ShapeError(f"{name}: expected {which} ({w.shape[0]}) to be divisible by groups ({groups})")
    c = x.shape[-d - 1]
    if c != c_in:
        shape = f"(N, {c_in}, {sp})" if x.ndim == d + 2 else f"({c_in}, {sp})"
        raise ShapeError(f"{name}: expected input with {c_in} channels (shape {shape}), received shape {x.shape}")
    if b is not None and b.shape != (c_out,):
        raise ShapeError(f"{name}: expected a bias of shape ({c_out},), received shape {b.shape}")


def _padding(name: str, padding: Any, d: int, k: tuple, stride: tuple, dilation: tuple) -> tuple:
    """Per-side padding ((lo, hi), ...) from an int, a tuple, 'valid' or 'same' (lo = total // 2, as PyTorch)."""
    if padding == "valid":
        return ((0, 0),) * d
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ArgumentError(f"{name}: padding='same' needs stride 1, received stride {stride}")
        total = [di * (kk - 1) for di, kk in zip(dilation, k)]
        return tuple((t // 2, t - t // 2) for t in total)
    if isinstance(padding, str):
        raise ArgumentError(f"{name}: expected padding to be 'same', 'valid', an int or a tuple, received {padding!r}")
    return tuple((p, p) for p in _ints(name, "padding", padding, d, 0))


def _convnd(name: str, d: int, x, w, b, stride, padding, dilation, groups) -> Tensor:
    """conv{d}d after checking its arguments; `name` is the op or layer that errors name."""
    _check(name, d, x, w, b, groups, transposed=False)
    stride = _ints(name, "stride", stride, d, 1)
    dilation = _ints(name, "dilation", dilation, d, 1)
    k = w.shape[2:]
    pads = _padding(name, padding, d, k, stride, dilation)
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[-d:], pads))
    if any(sp < di * (kk - 1) + 1 for sp, di, kk in zip(spad, dilation, k)):
        extent = tuple(di * (kk - 1) + 1 for di, kk in zip(dilation, k))
        raise ShapeError(
            f"{name}: expected a kernel no larger than the padded input; received kernel size {k} "
            f"(dilated {extent}) for padded input size {spad} (input shape {x.shape}, padding {padding!r})"
        )
    return Conv.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)


def _conv_transposend(name: str, d: int, x, w, b, stride, padding, output_padding, groups, dilation) -> Tensor:
    """conv_transpose{d}d after checking its arguments; `name` is the op or layer that errors name."""
    _check(name, d, x, w, b, groups, transposed=True)
    stride = _ints(name, "stride", stride, d, 1)
    dilation = _ints(name, "dilation", dilation, d, 1)
    pad = _ints(name, "padding", padding, d, 0)
    extra = _ints(name, "output_padding", output_padding, d, 0)
    if any(e >= max(s, di) for e, s, di in zip(extra, stride, dilation)):
        raise ArgumentError(
            f"{name}: expected output_padding smaller than stride or dilation, received output_padding {extra} "
            f"with stride {stride} and dilation {dilation}"
        )
    k = w.shape[2:]
    size = tuple(
        (n - 1) * s - 2 * p + di * (kk - 1) + e + 1
        for n, s, p, di, kk, e in zip(x.shape[-d:], stride, pad, dilation, k, extra)
    )
    if any(n < 1 for n in size):
        raise ShapeError(
            f"{name}: expected a positive output size, received output size {size} from input shape {x.shape}, "
            f"kernel size {k}, stride {stride}, padding {pad} and dilation {dilation}"
        )
    # Conv must map `size` back to the input's size exactly; output_padding >= stride (allowed below the dilation)
    # adds positions that no input reaches, so the high side's padding is trimmed by them (it may go negative).
    pads = tuple((p, p - e // s * s) for p, e, s in zip(pad, extra, stride))
    return ConvTranspose.apply(x, w, b, size=size, stride=stride, padding=pads, dilation=dilation, groups=groups)


# ---- public functional forms (torch.nn.functional's signatures) --------------------------------------------------
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of input (N, C, L) or (C, L) with weight (O, C/groups, kL), as F.conv1d."""
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of input (N, C, H, W) or (C, H, W) with weight (O, C/groups, kH, kW), as F.conv2d."""
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation of input (N, C, D, H, W) with weight (O, C/groups, kD, kH, kW), as F.conv3d."""
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1,
) -> Tensor:  # fmt: skip
    """Transposed 1-D convolution: input (N, C_in, L), weight (C_in, C_out/groups, kL), as F.conv_transpose1d."""
    return _conv_transposend(
        "conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1,
) -> Tensor:  # fmt: skip
    """Transposed 2-D convolution (the input gradient of conv2d): input (N, C_in, H, W),
    weight (C_in, C_out/groups, kH, kW); output side (S - 1) * stride - 2 * padding + dilation * (k - 1)
    + output_padding + 1, as F.conv_transpose2d."""
    return _conv_transposend(
        "conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1,
) -> Tensor:  # fmt: skip
    """Transposed 3-D convolution: input (N, C_in, D, H, W), weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transposend(
        "conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


# ---- samples --------------------------------------------------------------------------------------------------
def _sample(fn: str, x, w, b, name: str = "", **kwargs: Any) -> Sample:
    """A sample that runs the public function `fn` here and torch.nn.functional.`fn` in PyTorch."""

    def torch(T, *ts, **kw):
        return getattr(T.nn.functional, fn)(*ts, **kw)

    inputs = (x, w) if b is None else (x, w, b)
    return Sample(*inputs, call=globals()[fn], torch=torch, name=name, **kwargs)


def _weight_grad_call(x: Tensor, g: Tensor, weight_size, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    d = len(weight_size) - 2
    return ConvWeightGrad.apply(
        x, g, kernel=tuple(weight_size[2:]), stride=_ints("conv_weight", "stride", stride, d, 1),
        padding=tuple((p, p) for p in _ints("conv_weight", "padding", padding, d, 0)),
        dilation=_ints("conv_weight", "dilation", dilation, d, 1), groups=groups,
    )  # fmt: skip


def _grad_sample(x, g, weight_size: tuple, name: str = "", **kwargs: Any) -> Sample:
    """A ConvWeightGrad sample checked against torch.nn.grad.conv{d}d_weight."""

    def torch(T, x, g, weight_size, **kw):
        return getattr(T.nn.grad, f"conv{len(weight_size) - 2}d_weight")(x, weight_size, g, **kw)

    return Sample(x, g, call=_weight_grad_call, torch=torch, name=name, weight_size=weight_size, **kwargs)


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
TENSOR_METHODS: dict = {}
