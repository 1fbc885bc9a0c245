"""Matrix products that keep small GEMMs on the calling thread.

OpenBLAS wakes its worker threads for any GEMM above a few thousand multiply-adds, and after each call those
workers spin for about 0.1 s waiting for the next one. Beside numba's parallel kernels (LeNet's convolutions
and pooling) a spinning worker takes one of the cores they run on: measured here, a 0.44 ms convolution took
0.85 ms for the 0.1 s after a 6M multiply-add GEMM, and a LeNet-5 step 12-15 ms against 9 ms with its small
GEMMs single-threaded. Products below SMALL_MACS multiply-adds gain little from a second thread (a 128x400x120
GEMM: 127 against 75 us), so `matmul` runs them with OpenBLAS limited to the calling thread
(`openblas_set_num_threads_local`, or the global setter on older builds). While numba's kernels are in use
(`kernels_ran()` within the last WINDOW seconds) the bar rises to SHARED_MACS: LeNet-5 inference at batch 1024,
whose 49M multiply-add C5 GEMM sits between convolution kernels, took 21 ms so against 39 ms. Larger products use
every thread as before. Without OpenBLAS (MKL, Accelerate, CuPy arrays) it is plain `matmul`. Opt out with
DAGRAD_BLAS_SMALL=0.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy

from dagrad.backend import namespace

SMALL_MACS = 1 << 23  # multiply-adds below which a GEMM runs on one thread
SHARED_MACS = 1 << 27  # the same while numba's kernels are in use
WINDOW = 1.0  # seconds after a numba kernel during which SHARED_MACS applies
_kernels_at = -WINDOW


def _openblas() -> Callable[[int], int] | None:
    """A function setting the calling thread's OpenBLAS thread count and returning the previous one, for the
    OpenBLAS that numpy loaded (found in /proc/self/maps); None elsewhere."""
    if not sys.platform.startswith("linux") or os.environ.get("DAGRAD_BLAS_SMALL", "1") == "0":
        return None
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return None
    for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):  # numpy's own first (SciPy may bring one)
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        local = getattr(lib, "openblas_set_num_threads_local", None)
        if local is not None:
            local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
            return local
        for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("", "")):
            setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                return _global_setter(setter, getter)
    return None


def _global_setter(setter: Any, getter: Any) -> Callable[[int], int]:
    """A set-and-return-previous function over OpenBLAS's process-wide thread count (builds before 0.3.27)."""

    def swap(n: int) -> int:
        previous = getter()
        setter(n)
        return previous

    return swap


_swap = _openblas()


def kernels_ran() -> None:
    """Note that a numba parallel kernel ran now (dagrad.ops calls this), raising the single-thread bar."""
    global _kernels_at
    _kernels_at = time.perf_counter()


def kernels_active() -> bool:
    """Whether numba's parallel kernels ran within the last WINDOW seconds (a convolution network is training)."""
    return time.perf_counter() - _kernels_at <= WINDOW


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """a @ b as numpy.matmul (the array's own matmul for CuPy), single-threaded below SMALL_MACS multiply-adds
    (SHARED_MACS beside numba's kernels): a (..., m, k), b (..., k, n) -> (..., m, n)."""
    if type(a) is not numpy.ndarray:
        return namespace(a).matmul(a, b, out=out)
    macs = max(a.size * b.shape[-1], b.size * a.shape[-2] if a.ndim > 1 else 0)
    if _swap is None or macs >= SMALL_MACS and (macs >= SHARED_MACS or not kernels_active()):
        return numpy.matmul(a, b, out=out)
    previous = _swap(1)
    try:
        return numpy.matmul(a, b, out=out)
    finally:
        _swap(previous)
