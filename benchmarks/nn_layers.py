"""Core layers forward + backward: dagrad against PyTorch in the same run (float32, 2 threads by default).

Run: python benchmarks/nn_layers.py [--repeat N] [--threads T] [--only TEXT]. Prints one row per workload: dagrad
ms, torch ms, ratio (dagrad / torch). Both sides run y = layer(x), then y.backward(g), which fills the input and
parameter gradients. Times are medians over rounds that alternate a dagrad block and a torch block, so that load
from other processes hits both sides alike.
The "x @ W.mT + b" row is the composition that the fused linear op replaces, timed for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import dagrad as dg
from dagrad.nn import activation, dropout, embedding, linear, normalization, pooling


def _block_ms(fn, calls: int = 3) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e3 * (time.perf_counter() - t) / calls


def _best_of(fn, repeat: int) -> float:
    """Median wall time of fn in milliseconds over `repeat` blocks, after two warm-up calls."""
    fn()
    fn()
    return statistics.median(_block_ms(fn) for _ in range(repeat))


def _side_by_side(ours, theirs, repeat: int) -> tuple[float, float]:
    """Median times of two functions over `repeat` rounds, each a block of ours then a block of theirs."""
    for fn in (ours, theirs, ours, theirs):
        fn()
    times = [(_block_ms(ours), _block_ms(theirs)) for _ in range(repeat)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def _same_weights(ours, theirs) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _pair(ours, theirs, x: np.ndarray, repeat: int, grad_input: bool = True) -> tuple[float, float]:
    """Time forward + backward of a dagrad and a torch module on the same input."""
    _same_weights(ours, theirs)
    xd, xt = dg.tensor(x, requires_grad=grad_input), torch.tensor(x, requires_grad=grad_input)
    with torch.no_grad():
        shape = tuple(theirs(xt).shape)
    g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    gd, gt = dg.tensor(g), torch.tensor(g)
    dparams, tparams = list(ours.parameters()), list(theirs.parameters())

    def run_ours() -> None:
        xd.grad = None
        for p in dparams:
            p.grad = None
        ours(xd).backward(gd)

    def run_theirs() -> None:
        xt.grad = None
        for p in tparams:
            p.grad = None
        theirs(xt).backward(gt)

    return _side_by_side(run_ours, run_theirs, repeat)


def _composed_linear(batch: int, n_in: int, n_out: int, repeat: int) -> float:
    """x @ W.mT + b from the general ops, the alternative to the fused linear op."""
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((batch, n_in), dtype=np.float32), requires_grad=True)
    w = dg.tensor(rng.standard_normal((n_out, n_in), dtype=np.float32), requires_grad=True)
    b = dg.tensor(rng.standard_normal(n_out, dtype=np.float32), requires_grad=True)
    g = dg.tensor(rng.standard_normal((batch, n_out), dtype=np.float32))

    def run() -> None:
        x.grad = w.grad = b.grad = None
        (x @ w.mT + b).backward(g)

    return _best_of(run, repeat)


def workloads():
    """(name, dagrad module, torch module, input array, input needs grad)."""
    rng = np.random.default_rng(0)

    def x(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    nn, norm = torch.nn, normalization
    yield "Linear 784->128, batch 64", linear.Linear(784, 128), nn.Linear(784, 128), x(64, 784), True
    yield "Linear 128->10, batch 64", linear.Linear(128, 10), nn.Linear(128, 10), x(64, 128), True
    yield "Linear 1024->1024, batch 256", linear.Linear(1024, 1024), nn.Linear(1024, 1024), x(256, 1024), True
    yield "BatchNorm2d 64 on (64, 64, 16, 16)", norm.BatchNorm2d(64), nn.BatchNorm2d(64), x(64, 64, 16, 16), True
    yield "BatchNorm2d 16 on (64, 16, 32, 32)", norm.BatchNorm2d(16), nn.BatchNorm2d(16), x(64, 16, 32, 32), True
    yield "BatchNorm1d 512 on (128, 512)", norm.BatchNorm1d(512), nn.BatchNorm1d(512), x(128, 512), True
    yield "LayerNorm 512 on (64, 128, 512)", norm.LayerNorm(512), nn.LayerNorm(512), x(64, 128, 512), True
    yield "LayerNorm 768 on (32, 197, 768)", norm.LayerNorm(768), nn.LayerNorm(768), x(32, 197, 768), True
    yield "GroupNorm 8/64 on (32, 64, 16, 16)", norm.GroupNorm(8, 64), nn.GroupNorm(8, 64), x(32, 64, 16, 16), True
    yield (
        "GroupNorm 32/256 on (16, 256, 16, 16)",
        norm.GroupNorm(32, 256),
        nn.GroupNorm(32, 256),
        x(16, 256, 16, 16),
        True,
    )
    idx = rng.integers(0, 10000, (64, 128))
    yield "Embedding 10000x256, (64, 128) ids", embedding.Embedding(10000, 256), nn.Embedding(10000, 256), idx, False
    yield "Dropout 0.5 on (256, 1024)", dropout.Dropout(0.5), nn.Dropout(0.5), x(256, 1024), True
    yield "Dropout2d 0.2 on (64, 64, 16, 16)", dropout.Dropout2d(0.2), nn.Dropout2d(0.2), x(64, 64, 16, 16), True
    yield "GELU on (256, 1024)", activation.GELU(), nn.GELU(), x(256, 1024), True
    yield "GELU on (128, 3072)", activation.GELU(), nn.GELU(), x(128, 3072), True
    yield "GELU on (64, 64, 32, 32)", activation.GELU(), nn.GELU(), x(64, 64, 32, 32), True
    pool, tpool = pooling.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, 1)
    yield "MaxPool2d 3 s2 p1 on (64, 64, 32, 32)", pool, tpool, x(64, 64, 32, 32), True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="run only the workloads whose name contains this text")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'workload (float32, fwd+bwd)':<42}{'dagrad ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name, ours, theirs, x, grad_input in workloads():
        if args.only not in name:
            continue
        t_ours, t_theirs = _pair(ours, theirs, x, args.repeat, grad_input)
        print(f"{name:<42}{t_ours:>10.3f}{t_theirs:>10.3f}{t_ours / t_theirs:>8.2f}")
        if name.startswith("Linear"):
            batch, n_in, n_out = x.shape[0], ours.in_features, ours.out_features
            composed = _composed_linear(batch, n_in, n_out, args.repeat)
            print(f"{'  same, as x @ W.mT + b':<42}{composed:>10.3f}{t_theirs:>10.3f}{composed / t_theirs:>8.2f}")


if __name__ == "__main__":
    main()
