"""numba kernels for the im2col / col2im copies of strided 2-D convolutions (ResNet's downsampling layers), parallel
over the (image, channel) planes: each column row is written once from the input rows it reads, where the NumPy
path makes one strided copy of the whole batch per kernel offset. Used by dagrad.ops.conv; imports numba."""

from numba import njit, prange

__all__ = ["col2im", "im2col"]


@njit(parallel=True, cache=True)
def im2col(x, sh, sw, top, left, cols):
    """cols[n, c, ki, kj, i, j] = x[n, c, i * sh + ki - top, j * sw + kj - left], 0 outside x; x (N, C, H, W),
    cols (N, C, kh, kw, Ho, Wo)."""
    n, c, h, w = x.shape
    kh, kw, ho, wo = cols.shape[2], cols.shape[3], cols.shape[4], cols.shape[5]
    for p in prange(n * c):
        ni, ci = p // c, p % c
        plane, out = x[ni, ci], cols[ni, ci]
        for ki in range(kh):
            for kj in range(kw):
                dst = out[ki, kj]
                for i in range(ho):
                    r = i * sh + ki - top
                    row = dst[i]
                    if r < 0 or r >= h:
                        row[:] = 0
                        continue
                    src = plane[r]
                    for j in range(wo):
                        q = j * sw + kj - left
                        row[j] = src[q] if 0 <= q < w else 0


@njit(parallel=True, cache=True)
def col2im(cols, sh, sw, top, left, x):
    """x[n, c, i * sh + ki - top, j * sw + kj - left] += cols[n, c, ki, kj, i, j] inside x, x zeroed first; the
    adjoint of im2col."""
    n, c, h, w = x.shape
    kh, kw, ho, wo = cols.shape[2], cols.shape[3], cols.shape[4], cols.shape[5]
    for p in prange(n * c):
        ni, ci = p // c, p % c
        plane, src = x[ni, ci], cols[ni, ci]
        plane[:, :] = 0
        for ki in range(kh):
            for kj in range(kw):
                for i in range(ho):
                    r = i * sh + ki - top
                    if r < 0 or r >= h:
                        continue
                    row, col = plane[r], src[ki, kj, i]
                    for j in range(wo):
                        q = j * sw + kj - left
                        if 0 <= q < w:
                            row[q] += col[j]
