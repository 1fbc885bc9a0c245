"""Loss forward+backward, dagrad vs PyTorch on the same machine in the same run (torch on 2 threads), float32.

Run: python3 benchmarks/loss.py [--repeat N]. Prints one row per workload: dagrad ms, torch ms, ratio.
The two libraries' steps alternate and each keeps its best time, so both see the same machine load.
The structured loss has no PyTorch counterpart; its torch column is the same objective written with torch ops.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import dagrad as dg
from dagrad.ops import loss

RNG = np.random.default_rng(0)


def _labels(c: int, *shape: int) -> np.ndarray:
    return RNG.integers(0, c, shape)


def _uniform(*shape: int) -> np.ndarray:
    return RNG.uniform(0.05, 0.95, shape).astype(np.float32)


def _torch_structured(x, t, epsilon=1.0):
    rows = 1 - torch.eye(x.shape[1], dtype=x.dtype)[t]
    picked = x.gather(1, t[:, None])[:, 0]
    return (epsilon * torch.logsumexp((rows + x) / epsilon, dim=1) - picked).mean()


WORKLOADS = [  # (label, functional name, input shape, target, kwargs)
    ("cross_entropy", "cross_entropy", (256, 10), _labels(10, 256), {}),
    ("cross_entropy", "cross_entropy", (256, 1000), _labels(1000, 256), {}),
    ("cross_entropy smoothing+weight", "cross_entropy", (256, 1000), _labels(1000, 256),
     {"label_smoothing": 0.1, "weight": RNG.uniform(0.5, 2, 1000).astype(np.float32)}),
    ("cross_entropy segmentation", "cross_entropy", (8, 21, 64, 64), _labels(21, 8, 64, 64), {}),
    ("cross_entropy probabilities", "cross_entropy", (256, 1000), _uniform(256, 1000), {}),
    ("nll_loss", "nll_loss", (256, 1000), _labels(1000, 256), {}),
    ("mse_loss", "mse_loss", (256, 1000), RNG.standard_normal((256, 1000)).astype(np.float32), {}),
    ("l1_loss", "l1_loss", (256, 1000), RNG.standard_normal((256, 1000)).astype(np.float32), {}),
    ("smooth_l1_loss", "smooth_l1_loss", (256, 1000), RNG.standard_normal((256, 1000)).astype(np.float32), {}),
    ("binary_cross_entropy", "binary_cross_entropy", None, _uniform(256, 1000), {}),
    ("bce_with_logits", "binary_cross_entropy_with_logits", (256, 1000), _uniform(256, 1000), {}),
    ("kl_div batchmean", "kl_div", (256, 1000), _uniform(256, 1000), {"reduction": "batchmean"}),
    ("multi_margin_loss", "multi_margin_loss", (256, 100), _labels(100, 256), {}),
    ("structured_loss (torch: same in ops)", "structured_loss", (256, 1000), _labels(1000, 256), {}),
]  # fmt: skip


def train_step(fn: Callable, x, t, kwargs: dict) -> Callable[[], None]:
    """One forward+backward of fn(x, t, **kwargs) (either library: same tensor API)."""

    def step() -> None:
        x.grad = None
        fn(x, t, **kwargs).backward()

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
    print(f"{'workload':<56}{'dagrad ms':>11}{'torch ms':>10}{'ratio':>8}")
    for label, fn, shape, target, kwargs in WORKLOADS:
        x = _uniform(*target.shape) if shape is None else RNG.standard_normal(shape).astype(np.float32)
        theirs = _torch_structured if fn == "structured_loss" else getattr(torch.nn.functional, fn)
        kw_d = {k: dg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        kw_t = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        ours_step = train_step(getattr(loss, fn), dg.tensor(x, requires_grad=True), dg.tensor(target), kw_d)
        torch_step = train_step(theirs, torch.tensor(x, requires_grad=True), torch.tensor(target), kw_t)
        a, b = best_ms([ours_step, torch_step], repeat)
        print(f"{label + ' ' + str(x.shape):<56}{a:>11.3f}{b:>10.3f}{a / b:>8.2f}")


if __name__ == "__main__":
    main()
