"""Direct 2-D convolution kernels compiled with numba, parallel over the batch: for convolutions with few channels
(LeNet's), whose GEMMs are too skinny to pay for the im2col copies they need.

Each image is zero-padded onto a flat grid of row width W_pad, so every kernel tap (ki, kj) is a constant shift
ki * W_pad + kj along it: the output grid (O, H_out * W_pad) is accumulated by contiguous passes of
`out[p] += w0 * x[p] + w1 * x[p + 1] + ...`, one pass per (channel, kernel row) with the row's taps unrolled for
3- and 5-wide kernels (so LLVM vectorises over p and each load of the output feeds kw multiply-adds), and the
columns past W_out are dropped when copying out. The weight gradient is the same walk as dot products; the input
gradient is the forward kernel run on the output gradient with the flipped, transposed kernel and full padding.

Kernels compile on first use (cached on disk by numba) and are used only where numba imports and DAGRAD_NUMBA is
not "0"; `usable()` says whether an array qualifies (a C-contiguous float32/float64 NumPy array). This module
imports NumPy directly because numba compiles NumPy code; callers pass it NumPy arrays only.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy

ENABLED = os.environ.get("DAGRAD_NUMBA", "1") != "0"
# Up to this many multiply-adds per output position (C * kh * kw) the direct kernels beat im2col + GEMM here
# (LeNet's C1 has 25, C3 150; ResNet-20's first stage 144); above it the GEMMs win.
MAX_TAPS = 160

_kernels: Any = None  # (forward, weight_grad, threads) once compiled; False when numba is missing or disabled
LOCK = threading.Lock()


def _compile() -> Any:
    """Import (compiling, or loading from numba's disk cache) the kernels; False where numba cannot be imported."""
    try:
        from dagrad.ops import _direct_conv_kernels as k
    except ImportError:
        return False
    return k.forward, k.weight_grad, k.threads


def _prefer_workqueue() -> None:
    """Run numba's parallel kernels on its own 'workqueue' threads unless NUMBA_THREADING_LAYER says otherwise.

    Its default OpenMP layer binds to the libgomp that PyTorch may have loaded, whose workers spin between parallel
    regions and starve OpenBLAS's threads (a LeNet step measured 2x slower beside PyTorch). Set before numba
    starts its threads (numba reads the variable on import; an imported numba is told through its config). The
    workqueue layer takes one caller at a time, so the kernels' calls are serialised by LOCK."""
    if ENABLED and not os.environ.get("NUMBA_THREADING_LAYER"):
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        if "numba" in sys.modules:
            sys.modules["numba"].config.THREADING_LAYER = "workqueue"


_prefer_workqueue()


def kernels() -> Any:
    """The compiled kernels, or False where numba is missing or DAGRAD_NUMBA=0."""
    global _kernels
    if _kernels is None:
        _kernels = _compile() if ENABLED else False
    return _kernels


def usable(*arrays: Any) -> bool:
    """Whether the direct kernels can run on these arrays: NumPy float32/float64 arrays of one dtype (the kernels
    take C-contiguous copies of strided ones)."""
    dtype = arrays[0].dtype
    if dtype != numpy.float32 and dtype != numpy.float64:
        return False
    for a in arrays:
        if type(a) is not numpy.ndarray or a.dtype != dtype:
            return False
    return kernels() is not False


def conv2d(x: numpy.ndarray, w: numpy.ndarray, b: numpy.ndarray | None, padding: tuple) -> numpy.ndarray:
    """Stride-1 convolution: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None, padding ((top, bottom), (left,
    right)) all >= 0 -> (N, O, H_out, W_out)."""
    forward = kernels()[0]
    (top, bottom), (left, right) = padding
    hp, wp = x.shape[2] + top + bottom, x.shape[3] + left + right
    o, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    y = numpy.empty((x.shape[0], o, hp - kh + 1, wp - kw + 1), x.dtype)
    b = numpy.zeros(o, x.dtype) if b is None else numpy.ascontiguousarray(b)
    x, w = numpy.ascontiguousarray(x), numpy.ascontiguousarray(w)
    with LOCK:
        forward(x, w, b, top, left, hp, wp, y)
    return y


def conv2d_input_grad(g: numpy.ndarray, w: numpy.ndarray, padding: tuple) -> numpy.ndarray:
    """The input gradient of conv2d(x, w, padding): g (N, O, H_out, W_out) -> (N, C, H, W), as the stride-1
    convolution of g with w flipped in space and transposed to (C, O, kh, kw), padded by k - 1 - padding."""
    kh, kw = w.shape[2:]
    wt = numpy.ascontiguousarray(w.swapaxes(0, 1)[:, :, ::-1, ::-1])
    (top, bottom), (left, right) = padding
    return conv2d(g, wt, None, ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right)))


def conv2d_weight_grad(x: numpy.ndarray, g: numpy.ndarray, kernel: tuple, padding: tuple) -> numpy.ndarray:
    """The weight gradient of conv2d: x (N, C, H, W), g (N, O, H_out, W_out) -> (O, C, kh, kw)."""
    _, weight_grad, threads = kernels()
    (top, bottom), (left, right) = padding
    hp, wp = x.shape[2] + top + bottom, x.shape[3] + left + right
    kh, kw = kernel
    o, c = g.shape[1], x.shape[1]
    parts = numpy.empty((max(1, min(threads(), x.shape[0])), o, c, kh, kw), x.dtype)
    gw = numpy.zeros((o, c, kh, kw), x.dtype)
    x, g = numpy.ascontiguousarray(x), numpy.ascontiguousarray(g)
    with LOCK:
        weight_grad(x, g, kh, kw, top, left, hp, wp, parts, gw)
    return gw
