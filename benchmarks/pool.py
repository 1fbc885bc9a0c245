"""Pooling forward+backward, dagrad vs PyTorch on the same machine in the same run (torch on 2 threads).

Run: python3 benchmarks/pool.py [--repeat N]. Prints one row per workload: dagrad ms, torch ms, ratio.
The two libraries' steps alternate and each keeps its best time, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import dagrad as dg
from dagrad.ops import pool

WORKLOADS = [  # (label, function name, input shape, args)
    ("MaxPool2d 2x2", "max_pool2d", (64, 32, 28, 28), (2,)),
    ("MaxPool2d 2x2", "max_pool2d", (64, 64, 32, 32), (2,)),
    ("MaxPool2d 3x3 s2 p1", "max_pool2d", (64, 64, 32, 32), (3, 2, 1)),
    ("AvgPool2d 2x2", "avg_pool2d", (64, 64, 32, 32), (2,)),
    ("AdaptiveAvgPool2d(1)", "adaptive_avg_pool2d", (64, 512, 7, 7), (1,)),
]


def train_step(fn: Callable, x, args: tuple, g) -> Callable[[], None]:
    """One forward+backward of fn(x, *args) with cotangent g (either library: same tensor API)."""

    def step() -> None:
        x.grad = None
        fn(x, *args).backward(g)

    return step


def best_ms(steps: list[Callable[[], None]], repeat: int) -> list[float]:
    """Best time of each step over `repeat` alternating rounds after one warm-up, in milliseconds."""
    best = [float("inf")] * len(steps)
    for step in steps:
        step()
    for _ in range(repeat):
        for i, step in enumerate(steps):
            t = time.perf_counter()
            step()
            best[i] = min(best[i], time.perf_counter() - t)
    return [b * 1e3 for b in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    repeat = parser.parse_args().repeat
    torch.set_num_threads(2)
    print(f"{'workload':<44}{'dagrad ms':>11}{'torch ms':>10}{'ratio':>8}")
    for label, fn, shape, args in WORKLOADS:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        theirs = getattr(torch.nn.functional, fn)
        g = np.random.default_rng(1).standard_normal(tuple(theirs(torch.tensor(x), *args).shape)).astype(np.float32)
        ours_step = train_step(getattr(pool, fn), dg.tensor(x, requires_grad=True), args, dg.tensor(g))
        torch_step = train_step(theirs, torch.tensor(x, requires_grad=True), args, torch.tensor(g))
        a, b = best_ms([ours_step, torch_step], repeat)
        print(f"{label + ' ' + str(shape):<44}{a:>11.2f}{b:>10.2f}{a / b:>8.2f}")


if __name__ == "__main__":
    main()
