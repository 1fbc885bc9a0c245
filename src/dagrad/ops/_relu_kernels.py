"""numba kernels for ReLU over float arrays: forward and backward in one pass each, where NumPy makes two (a zeroed
buffer then `maximum`; a boolean mask then a product): 2-4x faster single-threaded up to 1M elements, 5x on two
threads. The threaded pair is for convolution networks, whose GEMMs dagrad.blas keeps off OpenBLAS's workers; an
MLP's ReLUs sit between multi-threaded GEMMs, where OpenMP workers fought OpenBLAS's spinning ones (MLP step 3 ->
30 ms), so it gets the single-threaded pair. Same results as the NumPy path, NaN included: a NaN input stays NaN,
a NaN gradient stays NaN even where the unit is off. Used by dagrad.ops.activation; this module imports numba."""

from numba import njit, prange

__all__ = ["MIN_SIZE", "relu_backward", "relu_backward_threaded", "relu_forward", "relu_forward_threaded"]

MIN_SIZE = 1 << 12  # elements below which the call costs more than the pass saves


@njit(cache=True)
def relu_forward(x, out):
    """out = max(x, 0) over flat arrays, NaN kept."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v


@njit(cache=True)
def relu_backward(g, y, out):
    """out = g * (y > 0) over flat arrays (a NaN in g stays NaN, as NaN * 0 does)."""
    for i in range(g.size):
        out[i] = g[i] * (1 if y[i] > 0 else 0)


@njit(parallel=True, cache=True)
def relu_forward_threaded(x, out):
    """relu_forward on numba's threads."""
    for i in prange(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v


@njit(parallel=True, cache=True)
def relu_backward_threaded(g, y, out):
    """relu_backward on numba's threads."""
    for i in prange(g.size):
        out[i] = g[i] * (1 if y[i] > 0 else 0)
