"""numba kernels for ReLU over large float arrays: forward and backward in one parallel pass each, where NumPy
makes two (a zeroed buffer then `maximum`; a boolean mask then a product). Same results as the NumPy path, NaN
included: a NaN input stays NaN, a NaN gradient stays NaN even where the unit is off. Used by
dagrad.ops.activation; this module imports numba."""

from numba import njit, prange

__all__ = ["MIN_SIZE", "relu_backward", "relu_forward"]

MIN_SIZE = 1 << 15  # elements below which starting the threads costs more than the pass


@njit(parallel=True, cache=True)
def relu_forward(x, out):
    """out = max(x, 0) over flat arrays, NaN kept."""
    for i in prange(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v


@njit(parallel=True, cache=True)
def relu_backward(g, y, out):
    """out = g * (y > 0) over flat arrays (a NaN in g stays NaN, as NaN * 0 does)."""
    for i in prange(g.size):
        out[i] = g[i] * (1 if y[i] > 0 else 0)
