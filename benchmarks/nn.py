"""dagrad.nn layers forward + backward side by side with torch.nn (float32, same weights, same machine, same run).

Run: python3 benchmarks/nn.py [--blocks N] [--block-seconds S]. torch runs on 2 threads. Each row times one
training step of the layer, y = layer(x); y.backward(g), which fills the input and parameter gradients: after
a warm-up, the two libraries alternate blocks of repeated steps and each row shows the median time per step over
the blocks (ms) and the ratio dagrad / torch (below 1: dagrad is faster). Layers dagrad lacks are skipped with a
note.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

import dagrad as dg

FAMILIES = ("linear", "conv", "pooling", "normalization", "rnn", "blocks")


class Workload(NamedTuple):
    label: str
    layer: str  # class name in dagrad.nn and torch.nn (blocks: dagrad.nn.blocks and a torch builder below)
    args: tuple
    kwargs: dict
    shape: tuple  # input shape


def _conv_rows() -> list[Workload]:
    rows = []
    for k in (3, 5):
        for c_in, c_out in ((1, 32), (64, 64)):
            for side in (28, 32):
                label = f"Conv2d {c_in}->{c_out} {k}x{k} pad {k // 2}, {side}x{side}"
                rows.append(Workload(label, "Conv2d", (c_in, c_out, k), {"padding": k // 2}, (64, c_in, side, side)))
    return rows


WORKLOADS = [
    Workload("Linear 784->512, batch 128", "Linear", (784, 512), {}, (128, 784)),
    *_conv_rows(),
    Workload("MaxPool2d 2x2, 64x32x28x28", "MaxPool2d", (2,), {}, (64, 32, 28, 28)),
    Workload("MaxPool2d 2x2, 64x64x32x32", "MaxPool2d", (2,), {}, (64, 64, 32, 32)),
    Workload("MaxPool2d 3x3 s2 p1, 64x64x32x32", "MaxPool2d", (3, 2, 1), {}, (64, 64, 32, 32)),
    Workload("BatchNorm2d train, 64x32x28x28", "BatchNorm2d", (32,), {}, (64, 32, 28, 28)),
    Workload("BatchNorm2d train, 64x64x32x32", "BatchNorm2d", (64,), {}, (64, 64, 32, 32)),
    Workload("LSTM 128->256, seq 32, batch 64", "LSTM", (128, 256), {}, (32, 64, 128)),
    Workload("BasicBlock 64, 32x64x16x16", "BasicBlock", (64, 64), {}, (32, 64, 16, 16)),
    Workload("Bottleneck 256->64->256, 32x256x8x8", "Bottleneck", (256, 64), {}, (32, 256, 8, 8)),
    Workload("Inception 3a (192ch), 16x192x14x14", "Inception", (192, 64, 96, 128, 16, 32, 32), {}, (16, 192, 14, 14)),
]


def _torch_block(name: str, args: tuple) -> torch.nn.Module:
    """torchvision's BasicBlock / Bottleneck / Inception written with torch.nn layers (torchvision may be absent)."""
    nn = torch.nn

    def conv_bn(cin: int, cout: int, k: int, eps: float = 1e-5, **kw: Any) -> list:
        return [nn.Conv2d(cin, cout, k, bias=False, **kw), nn.BatchNorm2d(cout, eps=eps)]

    class Residual(nn.Module):
        def __init__(self, body: nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + x)

    class Branches(nn.Module):
        def __init__(self, *branches: nn.Module) -> None:
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([b(x) for b in self.branches], 1)

    relu = nn.ReLU(inplace=True)
    if name == "BasicBlock":
        c = args[1]
        return Residual(nn.Sequential(*conv_bn(c, c, 3, padding=1), relu, *conv_bn(c, c, 3, padding=1)))
    if name == "Bottleneck":
        cin, w = args
        body = [*conv_bn(cin, w, 1), relu, *conv_bn(w, w, 3, padding=1), relu, *conv_bn(w, 4 * w, 1)]
        return Residual(nn.Sequential(*body))
    cin, c1, c3r, c3, c5r, c5, pp = args

    def unit(a: int, b: int, k: int, **kw: Any) -> list:
        return [*conv_bn(a, b, k, eps=1e-3, **kw), nn.ReLU(inplace=True)]

    return Branches(
        nn.Sequential(*unit(cin, c1, 1)),
        nn.Sequential(*unit(cin, c3r, 1), *unit(c3r, c3, 3, padding=1)),
        nn.Sequential(*unit(cin, c5r, 1), *unit(c5r, c5, 3, padding=1)),
        nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), *unit(cin, pp, 1)),
    )


def _find(name: str) -> Any:
    """The dagrad layer class `name` from dagrad.nn or its family module, or None."""
    for where in ("dagrad.nn", *(f"dagrad.nn.{f}" for f in FAMILIES)):
        try:
            mod = importlib.import_module(where)
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    return None


def _step(layer: Any, x: Any, g: Any) -> Callable[[], None]:
    """One training step of either library: forward, backward of <y, g>, gradients cleared before each step."""
    params = list(layer.parameters())

    def step() -> None:
        x.grad = None
        for p in params:
            p.grad = None
        y = layer(x)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(g)

    return step


def _median_ms(steps: list[Callable[[], None]], blocks: int, block_seconds: float) -> list[float]:
    """Median per-step time (ms) of each step over `blocks` alternating blocks of repeated calls."""
    counts = []
    for step in steps:  # warm-up; size each library's block to about block_seconds
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


def bench(w: Workload, blocks: int, block_seconds: float) -> tuple[float, float] | str:
    """(dagrad ms, torch ms) for one workload, or the reason it was skipped."""
    cls = _find(w.layer)
    if cls is None:
        return f"skipped: dagrad has no {w.layer} yet"
    torch.manual_seed(0)
    theirs = getattr(torch.nn, w.layer, None)
    t = theirs(*w.args, **w.kwargs) if theirs is not None else _torch_block(w.layer, w.args)
    ours = cls(*w.args, **w.kwargs)
    if theirs is not None:  # same weights (blocks: torch's keys differ, so each keeps its own init)
        ours.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal(w.shape, dtype=np.float32)
    with torch.no_grad():
        y = t(torch.tensor(x))
    y = y[0] if isinstance(y, tuple) else y
    g = rng.standard_normal(tuple(y.shape), dtype=np.float32)
    steps = [
        _step(ours, dg.tensor(x, requires_grad=True), dg.tensor(g)),
        _step(t, torch.tensor(x, requires_grad=True), torch.tensor(g)),
    ]
    a, b = _median_ms(steps, blocks, block_seconds)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7, help="timed blocks per library (median taken)")
    parser.add_argument("--block-seconds", type=float, default=0.2, help="target length of one block")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'layer (float32, forward + backward)':<48}{'dagrad ms':>11}{'torch ms':>10}{'ratio':>8}")
    for w in WORKLOADS:
        res = bench(w, args.blocks, args.block_seconds)
        if isinstance(res, str):
            print(f"{w.label:<48}  {res}")
        else:
            print(f"{w.label:<48}{res[0]:>11.2f}{res[1]:>10.2f}{res[0] / res[1]:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
