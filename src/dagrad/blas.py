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

A stack of small GEMMs (a convolution's per-image products) is another case: NumPy calls OpenBLAS once per matrix,
and OpenBLAS runs each small one on a single thread, so the whole stack used one core. Where multi-threaded GEMMs
are allowed, `matmul` splits such a stack (each product below SMALL_MACS, together at least SPLIT_MACS) along its
first axis over as many Python threads as OpenBLAS may use, with OpenBLAS set to one thread meanwhile: ResNet-20's
stride-2 convolutions at batch 1024 (1024 products of 32x144 by 144x256) 38.8 -> 20.4 ms.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy

from dagrad.backend import namespace

SMALL_MACS = 1 << 23  # multiply-adds below which a GEMM runs on one thread
SHARED_MACS = 1 << 27  # the same while numba's kernels are in use
WINDOW = 1.0  # seconds after a numba kernel during which SHARED_MACS applies
SPLIT_MACS = 1 << 24  # multiply-adds from which a stack of small GEMMs is split over threads
_kernels_at = -WINDOW


_NAMES = (("scipy_", "64_"), ("", "64_"), ("", ""))  # symbol prefixes and suffixes of OpenBLAS builds


def _global_setter(setter: Any, getter: Any) -> Callable[[int], int]:
    """A set-and-return-previous function over OpenBLAS's process-wide thread count (builds before 0.3.27)."""

    def swap(n: int) -> int:
        previous = getter()
        setter(n)
        return previous

    return swap


def _library() -> Any:
    """The OpenBLAS that numpy loaded (found in /proc/self/maps; numpy's own before one SciPy may bring), as a
    ctypes library; None off Linux, under DAGRAD_BLAS_SMALL=0 or where numpy uses another BLAS."""
    if not sys.platform.startswith("linux") or os.environ.get("DAGRAD_BLAS_SMALL", "1") == "0":
        return None
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return None
    for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if any(hasattr(lib, f"{p}openblas_get_num_threads{s}") for p, s in _NAMES):
            return lib
    return None


def _openblas(lib: Any) -> tuple[Callable[[int], int] | None, Callable[[], int] | None]:
    """(swap, threads) for that OpenBLAS: a function setting its thread count and returning the previous one
    (`openblas_set_num_threads_local`, which the pthreads builds implement as the process-wide setter), and one
    returning the count; Nones without it."""
    if lib is None:
        return None, None
    getter = next(g for g in (getattr(lib, f"{p}openblas_get_num_threads{s}", None) for p, s in _NAMES) if g)
    getter.restype = ctypes.c_int
    local = getattr(lib, "openblas_set_num_threads_local", None)
    if local is not None:
        local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
        return local, getter
    setters = (getattr(lib, f"{p}openblas_set_num_threads{s}", None) for p, s in _NAMES)
    setter = next((f for f in setters if f is not None), None)
    if setter is None:
        return None, None
    setter.argtypes, setter.restype = [ctypes.c_int], None
    return _global_setter(setter, getter), getter


def _gemms(lib: Any) -> dict[Any, int]:
    """Addresses of that OpenBLAS's cblas_sgemm and cblas_dgemm with 64-bit integers (numpy's own builds since
    2.0: scipy_cblas_sgemm64_), by dtype; empty where it has none (32-bit integer builds are not called)."""
    found = {}
    for dtype, name in ((numpy.dtype(numpy.float32), "sgemm"), (numpy.dtype(numpy.float64), "dgemm")):
        for prefix, suffix in _NAMES[:2]:
            f = getattr(lib, f"{prefix}cblas_{name}{suffix}", None) if lib is not None else None
            if f is not None:
                found[dtype] = ctypes.cast(f, ctypes.c_void_p).value
                break
    return found


_lib = _library()
_swap, _threads = _openblas(_lib)
_gemm_at = _gemms(_lib) if _swap is not None else {}
_pool: ThreadPoolExecutor | None = None  # the workers of split stacks, started on first use


def _forget_pool() -> None:
    """In a forked child: the parent's worker threads do not exist there; start new ones when needed."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


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
        if macs >= SPLIT_MACS and _threads is not None and min(a.ndim, b.ndim) >= 2 and max(a.ndim, b.ndim) > 2:
            return _split(a, b, out, macs)
        return numpy.matmul(a, b, out=out)
    return _single(a, b, out)


def gemm_address(dtype: Any) -> int | None:
    """The address of cblas_sgemm / cblas_dgemm (row-major, 64-bit integers) in the OpenBLAS numpy uses, for numba
    kernels that multiply on their own threads (dagrad.ops._cblas) inside `one_thread()`; None for other dtypes
    and where numpy uses another BLAS."""
    return _gemm_at.get(numpy.dtype(dtype))


@contextmanager
def one_thread() -> Iterator[None]:
    """OpenBLAS limited to one thread meanwhile (process-wide in its pthreads builds): for kernels whose threads
    each call the GEMM at `gemm_address`, which would otherwise queue for OpenBLAS's own workers."""
    previous = _swap(1) if _swap is not None else None
    try:
        yield
    finally:
        if previous is not None:
            _swap(previous)


def _single(a: numpy.ndarray, b: numpy.ndarray, out: Any) -> numpy.ndarray:
    """numpy.matmul with OpenBLAS limited to the calling thread."""
    previous = _swap(1)
    try:
        return numpy.matmul(a, b, out=out)
    finally:
        _swap(previous)


def _split(a: numpy.ndarray, b: numpy.ndarray, out: Any, macs: int) -> numpy.ndarray:
    """A stack of small products split along its first axis over OpenBLAS's thread count of Python threads, each
    part single-threaded; plain numpy.matmul where the products are large or the stack too short."""
    global _pool
    ndim = max(a.ndim, b.ndim)
    batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    count = batch[0]
    threads = min(_threads(), count)
    if threads < 2 or macs // math.prod(batch) >= SMALL_MACS:
        return numpy.matmul(a, b, out=out)
    shape = batch + (a.shape[-2], b.shape[-1])
    if out is None:
        out = numpy.empty(shape, numpy.result_type(a, b))
    split_a, split_b = a.ndim == ndim and a.shape[0] > 1, b.ndim == ndim and b.shape[0] > 1
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="dagrad-blas")
    bounds = [count * i // threads for i in range(threads + 1)]
    parts = [(a[lo:hi] if split_a else a, b[lo:hi] if split_b else b, out[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]
    previous = _swap(1)  # one setting for all the parts: the pthreads builds' "local" setter is process-wide
    try:
        futures = [_pool.submit(numpy.matmul, pa, pb, out=po) for pa, pb, po in parts[1:]]
        numpy.matmul(*parts[0][:2], out=parts[0][2])
        for f in futures:
            f.result()
    finally:
        _swap(previous)
    return out
