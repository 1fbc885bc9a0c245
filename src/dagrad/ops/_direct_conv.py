"""Direct 2-D convolution kernels compiled with numba, parallel over the batch, for stride-1 convolutions with up to
MAX_TAPS multiply-adds per output (LeNet's, ResNet-20's, a VGG stack's up to 128 channels): they read each image
in place where im2col + GEMM first copies it kh * kw times.

Each image is zero-padded onto a flat grid of row width W_pad, so every kernel tap (ki, kj) is a constant shift
ki * W_pad + kj along it. The zeros between two rows serve as the right padding of one and the left padding of the
next, so W_pad = W + max(left, right) (`_row_width`): the input gradient's full padding (LeNet's C3: 10 + 4 + 4)
then computes no discarded column. The output grid (O, H_out * W_pad) is accumulated by contiguous passes of
`out[p] += w0 * x[p] + w1 * x[p + 1] + ...`, one pass per (channel, kernel row) with the row's taps unrolled for
3- and 5-wide kernels and four (else two) output channels per pass, so LLVM vectorises over p and each load of
the input feeds 4 * kw multiply-adds (LeNet's C1/C3 forward 16-25% faster than one channel per pass), and the
columns past W_out are dropped when copying out. The weight gradient is the same walk as dot products; the input
gradient is the forward kernel run on the output gradient with the flipped, transposed kernel and full padding.

Kernels compile on first use (cached on disk by numba) and are used only where numba imports and DAGRAD_NUMBA is
not "0"; `usable()` says whether an array qualifies (a C-contiguous float32/float64 NumPy array). This module
imports NumPy directly because numba compiles NumPy code; callers pass it NumPy arrays only.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Any

import numpy

from dagrad import blas

ENABLED = os.environ.get("DAGRAD_NUMBA", "1") != "0"
# Up to this many multiply-adds per output position (C * kh * kw; for the input gradient O * kh * kw) the direct
# kernels take a stride-1 convolution. Measured against im2col + GEMM (2 threads, in full training steps): LeNet-5
# (25-400 taps) 12-13 -> 6-7 ms, ResNet-20 (144-576) 1.9x PyTorch against 2.8x, the VGG stack (27-1152) 1.4x
# against 2.1x, 64->64 5x5 (1600) 185 against 277 ms; at 2304 and 4608 (256 and 512 channels, 3x3) the GEMMs won
# by 4-17%. The GEMMs also wake OpenBLAS's workers, which then spin beside the kernels (dagrad.blas).
MAX_TAPS = 1600
# Kernel widths the kernels unroll and block; other widths take the NumPy paths (8 images of 256 -> 64 channels at
# 56x56, 1x1: 53 ms direct against 29 ms as a GEMM; 3 -> 64 channels 7x7 at 112x112: 148 against 69 ms).
WIDTHS = (3, 5)
# Output positions per pass the kernels aim for by stacking images (`_group`): passes over LeNet's 10x14 C3 grid or
# ResNet-20's 8x9 third stage are too short to vectorise well; stacked to ~640 the C3 forward and weight gradient
# ran 16-17% faster, its input gradient 18%, ResNet-20's 64-channel forward 40% and weight gradient 29%.
SPAN = 640

_kernels: Any = None  # (forward, weight_grad, threads) once compiled; False when numba is missing or disabled
LOCK = threading.Lock()


def _compile() -> Any:
    """Import (compiling, or loading from numba's disk cache) the kernels; False where numba cannot be imported."""
    try:
        from dagrad.ops import _direct_conv_kernels as k
    except ImportError:
        return False
    return k.forward, k.weight_grad, k.threads


def _prefer_openmp() -> None:
    """Run numba's parallel kernels on its OpenMP layer first (then TBB, then its own workqueue) unless
    NUMBA_THREADING_LAYER or NUMBA_THREADING_LAYER_PRIORITY says otherwise.

    OpenMP's calling thread takes a share of each kernel and its workers poll briefly before sleeping, so a kernel
    starts on every core at once; the workqueue layer wakes sleeping workers, and on this virtual machine the
    second one started ~0.4 ms late, so 0.4 ms kernels ran as if single-threaded (LeNet-5 step 12-15 ms on
    workqueue, 9-10 ms on OpenMP, with dagrad.blas keeping the small GEMMs off OpenBLAS's spinning workers).
    GNU OpenMP is not fork-safe (numba terminates a forked child that enters a parallel region once the parent
    has), so a child forked after the kernels ran takes the NumPy paths instead (`_after_fork`). Set before numba
    reads its configuration (an imported numba is told through its config); LOCK serialises the kernels' calls."""
    if ENABLED and not os.environ.get("NUMBA_THREADING_LAYER") and not os.environ.get(_PRIORITY):
        os.environ[_PRIORITY] = "omp tbb workqueue"
        if "numba" in sys.modules:
            sys.modules["numba"].config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def _after_fork() -> None:
    """In a forked child: drop the kernels if the parent ran them on GNU OpenMP, which cannot run after fork."""
    global _kernels
    if not _kernels:
        return
    try:
        layer = sys.modules["numba"].threading_layer()
    except ValueError:  # no parallel region has run: the child may start its own pool
        return
    if layer == "omp":
        _kernels = False


_PRIORITY = "NUMBA_THREADING_LAYER_PRIORITY"
_prefer_openmp()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def kernels() -> Any:
    """The compiled kernels, or False where numba is missing or DAGRAD_NUMBA=0."""
    global _kernels
    if _kernels is None:
        _kernels = _compile() if ENABLED else False
    return _kernels


def companion(name: str) -> Any:
    """Another numba kernels module of dagrad.ops (`_pool_kernels`, `_norm_kernels`, `_relu_kernels`), imported on
    first use; False where numba is missing or DAGRAD_NUMBA=0."""
    if kernels() is False:
        return False
    return importlib.import_module(f"dagrad.ops.{name}")


def run(kernel: Any, *args: Any, long: bool = True, gemm: bool = False) -> None:
    """Call a parallel numba kernel, one caller at a time (LOCK). A `long` one (convolution, pooling) tells
    dagrad.blas that numba's threads are busy, so that the GEMMs around it keep OpenBLAS's workers asleep; short
    ones (batch norm) do not. One that calls the cblas GEMM itself (`gemm`) runs with OpenBLAS at one thread, set
    inside the lock so that two callers cannot leave it changed."""
    with LOCK:
        if gemm:
            with blas.one_thread():
                kernel(*args)
        else:
            kernel(*args)
    if long:
        blas.kernels_ran()


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


def _group(n: int, plane: int) -> int:
    """How many images the kernels stack on one grid of `plane` output positions each: up to about SPAN positions
    per pass, in stacks that share each thread's images out evenly (numba gives each thread a contiguous block of
    stacks: 64 images of 8x8 in stacks of 9 gave one thread 36 images and the other 28; stacks of 8 give 32 each)."""
    per_thread = -(-n // max(1, kernels()[2]()))
    stacks = -(-per_thread // max(1, -(-SPAN // plane)))
    return max(1, -(-per_thread // stacks))


def _row_width(width: int, left: int, right: int, kw: int) -> int:
    """The flat grid's row width for rows of `width` padded by left/right: room for the larger padding between
    rows, and at least the output width."""
    return max(width + max(left, right), width + left + right - kw + 1)


def conv2d(x: numpy.ndarray, w: numpy.ndarray, b: numpy.ndarray | None, padding: tuple) -> numpy.ndarray:
    """Stride-1 convolution: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None, padding ((top, bottom), (left,
    right)) all >= 0 -> (N, O, H_out, W_out)."""
    forward = kernels()[0]
    (top, bottom), (left, right) = padding
    o, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    hp, wp = x.shape[2] + top + bottom, _row_width(x.shape[3], left, right, kw)
    y = numpy.empty((x.shape[0], o, hp - kh + 1, x.shape[3] + left + right - kw + 1), x.dtype)
    b = numpy.zeros(o, x.dtype) if b is None else numpy.ascontiguousarray(b)
    x, w = numpy.ascontiguousarray(x), numpy.ascontiguousarray(w)
    run(forward, x, w, b, top, left, hp, wp, y, _group(x.shape[0], y.shape[2] * wp))
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
    (top, bottom), (left, right) = padding
    kh, kw = kernel
    hp, wp = x.shape[2] + top + bottom, _row_width(x.shape[3], left, right, kw)
    return _summed(kernels()[1], x, g, kernel, g.shape[2] * wp, kh, kw, top, left, hp, wp)


def _summed(kernel: Any, x: numpy.ndarray, g: numpy.ndarray, size: tuple, plane: int, *args: Any) -> numpy.ndarray:
    """Run a weight-gradient kernel(x, g, *args, parts, gw, group), which leaves one partial sum per thread's slice
    of the batch in parts (T, O, C, *size) and their sum in gw (O, C, *size); `plane` output positions per image."""
    o, c = g.shape[1], x.shape[1]
    parts = numpy.empty((max(1, min(kernels()[2](), x.shape[0])), o, c, *size), x.dtype)
    gw = numpy.zeros((o, c, *size), x.dtype)
    x, g = numpy.ascontiguousarray(x), numpy.ascontiguousarray(g)
    run(kernel, x, g, *args, parts, gw, _group(x.shape[0], plane))
    return gw


def _phase_grid(size: tuple, padding: tuple) -> tuple[int, int]:
    """(hq, wq) of a 3x3 stride-2 convolution of a (H, W) plane padded ((top, bottom), (left, right)): H_out + 1
    phase rows per image, row width W_out + 1."""
    (top, bottom), (left, right) = padding
    return (size[0] + top + bottom - 3) // 2 + 2, (size[1] + left + right - 3) // 2 + 2


def conv2d_stride2(x: numpy.ndarray, w: numpy.ndarray, b: numpy.ndarray | None, padding: tuple) -> numpy.ndarray:
    """A 3x3 stride-2 convolution (dagrad.ops._stride2_kernels.forward): x (N, C, H, W), w (O, C, 3, 3), b (O,) or
    None, padding ((top, bottom), (left, right)) >= 0 -> (N, O, H_out, W_out). Needs blas.gemm_address(x.dtype)."""
    hq, wq = _phase_grid(x.shape[2:], padding)
    o = w.shape[0]
    y = numpy.empty((x.shape[0], o, hq - 1, wq - 1), x.dtype)
    x = numpy.ascontiguousarray(x)
    pairs = x.dtype == numpy.float32 and x.shape[3] % 2 == 0
    xu = x.view(numpy.uint64) if pairs else numpy.empty((0, 0, 0, 0), numpy.uint64)
    b = numpy.zeros(o, x.dtype) if b is None else numpy.ascontiguousarray(b, dtype=x.dtype)
    w = numpy.ascontiguousarray(w, dtype=x.dtype).reshape(o, -1)
    forward = companion("_stride2_kernels").forward
    at = blas.gemm_address(x.dtype)
    run(forward, x, xu, w, b, padding[0][0], padding[1][0], hq, wq, y, kernels()[2](), at, gemm=True)
    return y


def conv2d_stride2_weight_grad(x: numpy.ndarray, g: numpy.ndarray, padding: tuple) -> numpy.ndarray:
    """The weight gradient of a 3x3 stride-2 convolution (dagrad.ops._stride2_kernels): x (N, C, H, W), g (N, O,
    H_out, W_out), padding ((top, bottom), (left, right)) >= 0 -> (O, C, 3, 3)."""
    hq, wq = _phase_grid(x.shape[2:], padding)
    weight_grad = companion("_stride2_kernels").weight_grad
    return _summed(weight_grad, x, g, (3, 3), hq * wq, padding[0][0], padding[1][0], hq, wq)
