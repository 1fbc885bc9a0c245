"""Conv2d forward + backward: dagrad against PyTorch in the same run (float32, batch 64, 2 threads).

Run: python benchmarks/conv.py [--repeat N]. Prints one row per workload: dagrad ms, torch ms, ratio.
Both sides compute y = conv2d(x, w, b), then y.backward(g) for the input, weight and bias gradients.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dagrad as dg
from dagrad.ops.conv import conv2d

WORKLOADS = [  # (in_channels, out_channels, kernel, image side); padding k // 2 keeps the side
    (c_in, c_out, k, side) for k in (3, 5) for c_in, c_out in ((1, 32), (64, 64)) for side in (28, 32)
]
BATCH = 64


def _best_of(fn, repeat: int) -> float:
    """Best wall time of fn in milliseconds after two warm-up calls (the least disturbed by other processes)."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * min(times)


def bench(c_in: int, c_out: int, k: int, side: int, repeat: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c_in, side, side), dtype=np.float32)
    w = rng.standard_normal((c_out, c_in, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(c_out, dtype=np.float32)
    g = rng.standard_normal((BATCH, c_out, side, side), dtype=np.float32)

    dx, dw, db = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
    dgrad = dg.tensor(g)

    def ours() -> None:
        dx.grad = dw.grad = db.grad = None
        conv2d(dx, dw, db, padding=k // 2).backward(dgrad)

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tgrad = torch.tensor(g)

    def theirs() -> None:
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2).backward(tgrad)

    return _best_of(ours, repeat), _best_of(theirs, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'workload (batch 64, float32, fwd+bwd)':<42}{'dagrad ms':>10}{'torch ms':>10}{'ratio':>8}")
    for c_in, c_out, k, side in WORKLOADS:
        ours, theirs = bench(c_in, c_out, k, side, args.repeat)
        name = f"Conv2d {c_in:>2}->{c_out:<2} {k}x{k} pad {k // 2} on {side}x{side}"
        print(f"{name:<42}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
