"""Measuring instruments of the benchmark: thread limits, the sgemm ceiling, block timing, FLOP counting.

Timing: each framework runs its own block of steps (long enough to smooth out the timer and the caches) in its own
worker process, the frameworks' blocks alternate (dagrad, PyTorch, PyTorch, dagrad, ...), and a framework's time is
the median over its blocks; the ratio is the median of the ratios of neighbouring blocks, so a drifting machine load
cancels.
"""

from __future__ import annotations

import contextlib
import importlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dagrad.bench.workloads import Side

__all__ = ["Timing", "count_flops", "limit_threads", "sgemm_ceiling", "time_blocks"]


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@contextlib.contextmanager
def limit_threads(n: int, torch: Any = None) -> Iterator[str]:
    """Run the block with n BLAS/OpenMP threads (threadpoolctl, when installed), n numba threads (dagrad's
    compiled kernels) and n PyTorch threads; yields a line saying what was limited."""
    numba, threadpoolctl = _optional("numba"), _optional("threadpoolctl")
    saved = [(m, m.get_num_threads()) for m in (torch, numba) if m is not None]
    if torch is not None:
        torch.set_num_threads(n)
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        if threadpoolctl is None:
            yield f"threads: {n} for PyTorch and numba; NumPy's BLAS not limited (pip install threadpoolctl)"
        else:
            with threadpoolctl.threadpool_limits(limits=n):
                yield f"threads: {n} each (threadpoolctl, torch.set_num_threads, numba.set_num_threads)"
    finally:
        for module, threads in saved:
            module.set_num_threads(threads)


def sgemm_ceiling(n: int, repeat: int) -> float:
    """GFLOP/s of NumPy's float32 n x n x n matrix product (median of `repeat` after a warm-up): what the BLAS
    reaches on this machine with the current thread limit, the ceiling for GEMM-bound work."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / statistics.median(times) / 1e9


class Timing:
    """Per-step seconds of each framework's blocks (`seconds[name]`), their medians, spread and paired ratio."""

    def __init__(self, seconds: dict[str, list[float]]) -> None:
        self.seconds = seconds

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def spread(self) -> float:
        """Slowest over fastest block of the noisier framework: near 1 on a quiet machine."""
        return max(max(t) / min(t) for t in self.seconds.values())

    def ratio(self, a: str, b: str) -> float:
        """Median over the repeats of a's block time / b's neighbouring block time."""
        return statistics.median(x / y for x, y in zip(self.seconds[a], self.seconds[b]))


def time_blocks(
    runs: dict[str, Callable[[int], float]], repeat: int, block_s: float, warmup: int = 2, settle_s: float = 0.0
) -> Timing:
    """Time each framework in blocks: runs[name](n) takes n steps and returns the seconds per step. `warmup` steps
    first (their time sets each block's length k to about block_s seconds), then `repeat` rounds in which every
    framework runs one block of k steps, in alternating order.

    settle_s: an untimed pause before each block. BLAS and OpenMP worker threads busy-wait for a while after their
    last call (OpenBLAS for about 0.1 s); without the pause the previous framework's spinning threads take a core
    from the next block (measured here: PyTorch's LeNet-5 step 30-70% slower right after a dagrad block)."""
    k = {name: max(1, round(block_s / max(run(warmup) if warmup else block_s, 1e-9))) for name, run in runs.items()}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for r in range(repeat):
        for name in order if r % 2 == 0 else order[::-1]:
            time.sleep(settle_s)
            seconds[name].append(runs[name](k[name]))
    return Timing(seconds)


def _layer_flops(module: Any, inputs: tuple, output: Any) -> float:
    """Forward FLOPs (2 per multiply-add) of a Conv2d or Linear call."""
    if type(module).__name__ == "Linear":
        return 2.0 * output.numel() * module.in_features
    kh, kw = module.kernel_size
    return 2.0 * output.numel() * module.in_channels // module.groups * kh * kw


def count_flops(side: Side) -> tuple[Any, float | None]:
    """Run side.step() once, counting the FLOPs of its Conv2d and Linear layers through forward hooks: the forward
    product, and in training the weight gradient plus the input gradient where the input requires one.
    Returns (the step's result, FLOPs), or FLOPs = side.flops where the side sets them, None without a model."""
    if side.flops is not None or side.model is None:
        return side.step(), side.flops
    total = [0.0]

    def hook(module: Any, inputs: tuple, output: Any) -> None:
        forward = _layer_flops(module, inputs, output)
        backward = (1 + bool(getattr(inputs[0], "requires_grad", False))) if side.train else 0
        total[0] += forward * (1 + backward)

    layers = [m for m in side.model.modules() if type(m).__name__ in ("Conv2d", "Linear")]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        result = side.step()
    finally:
        for h in handles:
            h.remove()
    return result, total[0] or None
