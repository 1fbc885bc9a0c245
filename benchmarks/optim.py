"""dagrad.optim step time side by side with torch.optim on the parameters of an MLP 784-512-512-10 (float32).

Run: python3 benchmarks/optim.py [--blocks N] [--block-seconds S] [--torch-threads T]. torch runs on 2 threads
unless told otherwise. Each row times one optimizer.step() over the six parameter arrays (669,706 values) with
fixed gradients: dagrad with its numba kernels (where numba is importable), dagrad's NumPy path (KERNELS off), and
torch (its default, single-tensor path on the CPU). After a warm-up the three alternate blocks of repeated steps;
each column is the median time per step over the blocks (ms), and ratio is dagrad (kernels) / torch (below 1:
dagrad is faster). On a busy machine torch's 2 threads wait on each other: compare with --torch-threads 1 too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import dagrad as dg
from dagrad.optim import optimizer as optimizer_module

SHAPES = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]

ROWS = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}),
    ("Adam", {"lr": 1e-3}),
    ("Adam", {"lr": 1e-3, "amsgrad": True}),
    ("AdamW", {"lr": 1e-3}),
    ("RMSprop", {"lr": 1e-3, "momentum": 0.9}),
    ("Adagrad", {"lr": 1e-2}),
    ("Adadelta", {}),
]


def _params(lib: Any, rng: np.random.Generator) -> list:
    """MLP-shaped parameters of either library, each with a fixed gradient."""
    params = []
    for shape in SHAPES:
        p = lib.tensor(rng.standard_normal(shape, dtype=np.float32) * 0.05, requires_grad=True)
        p.grad = lib.tensor(rng.standard_normal(shape, dtype=np.float32) * 0.01)
        params.append(p)
    return params


def _with_kernels(step: Callable[[], Any], on: bool) -> Callable[[], None]:
    def run() -> None:
        optimizer_module.KERNELS = on
        step()

    return run


def _median_ms(steps: list[Callable[[], None]], blocks: int, block_seconds: float) -> list[float]:
    """Median per-step time (ms) of each step over `blocks` alternating blocks of repeated calls."""
    counts = []
    for step in steps:  # warm-up (compiles the numba kernels); size each block to about block_seconds
        step()
        t = time.perf_counter()
        step()
        counts.append(max(1, int(block_seconds / max(time.perf_counter() - t, 1e-6))))
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(blocks):
        for i, step in enumerate(steps):
            t = time.perf_counter()
            for _ in range(counts[i]):
                step()
            times[i].append((time.perf_counter() - t) / counts[i])
    return [1e3 * statistics.median(ts) for ts in times]


def bench(name: str, kwargs: dict, blocks: int, block_seconds: float) -> list[float]:
    """(dagrad kernels ms, dagrad NumPy ms, torch ms) for one optimizer configuration."""
    ours = getattr(dg.optim, name)(_params(dg, np.random.default_rng(0)), **kwargs)
    numpy_path = getattr(dg.optim, name)(_params(dg, np.random.default_rng(0)), **kwargs)
    theirs = getattr(torch.optim, name)(_params(torch, np.random.default_rng(0)), **kwargs)
    steps = [_with_kernels(ours.step, True), _with_kernels(numpy_path.step, False), theirs.step]
    try:
        return _median_ms(steps, blocks, block_seconds)
    finally:
        optimizer_module.KERNELS = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7, help="timed blocks per column (median taken)")
    parser.add_argument("--block-seconds", type=float, default=0.2, help="target length of one block")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (2: the project's rule)")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    print(f"{'optimizer.step(), MLP 784-512-512-10 float32':<62}{'kernel ms':>10}{'numpy ms':>10}", end="")
    print(f"{'torch ms':>10}{'ratio':>8}")
    for name, kwargs in ROWS:
        label = name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
        fused, plain, ref = bench(name, kwargs, args.blocks, args.block_seconds)
        print(f"{label:<62}{fused:>10.3f}{plain:>10.3f}{ref:>10.3f}{fused / ref:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
