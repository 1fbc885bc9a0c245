"""Core engine benchmark, side by side with PyTorch in the same run (2 threads each).

Workloads: (a) tiny tracked adds (µs per op), (b) forward+backward of a 1,000-op chain (µs per op),
(c) 1024x1024 float32 matmul forward+backward (ms), (d) a small MLP training step with and without
detect_anomaly (ms, and the overhead ratio). Each framework runs its own block of iterations: a warm-up,
then the median of repeats. Without PyTorch installed only dagrad's column is printed.

    python benchmarks/core.py [--json out.json] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import dagrad as dg  # noqa: E402
from dagrad.autograd import detect_anomaly  # noqa: E402

try:
    import torch
except ImportError:
    torch = None
else:
    torch.set_num_threads(2)


def timeit(step: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of one call of `step` (each call is a block of iterations)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ---- (a) tiny tracked adds ---------------------------------------------------------------------------------------


def tiny_adds(lib, n: int = 10_000) -> Callable[[], object]:
    a = lib.ones(4, requires_grad=True)
    b = lib.ones(4, requires_grad=True)

    def step():
        for _ in range(n):
            a + b

    return step


# ---- (b) chain forward + backward ------------------------------------------------------------------------------


def chain(lib, n: int = 1_000) -> Callable[[], object]:
    x = lib.ones(4, requires_grad=True)
    g = lib.ones(4)

    def step():
        y = x
        for _ in range(n // 2):
            y = y * 1.0001
            y = y + 0.5
        y.backward(g)
        x.grad = None

    return step


# ---- (c) matmul forward + backward -----------------------------------------------------------------------------


def matmul(lib, n: int = 1024) -> Callable[[], object]:
    if not hasattr(lib, "matmul"):
        raise NotImplementedError
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.standard_normal((n, n), dtype=np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal((n, n), dtype=np.float32), requires_grad=True)
    g = lib.ones(n, n)

    def step():
        (a @ b).backward(g)
        a.grad = b.grad = None

    return step


# ---- (d) MLP training step, with and without anomaly mode ------------------------------------------------------


HAS_MLP_OPS = hasattr(dg, "matmul") and hasattr(dg.Tensor, "relu") and hasattr(dg.Tensor, "sum")


def mlp_step(lib, anomaly: Callable | None, iters: int = 20) -> Callable[[], object]:
    """A 32-64-64-10 MLP (matmul, add, relu, squared error, sum) on a batch of 64, with an SGD update.

    While dagrad lacks matmul/relu/sum, both frameworks run the same arithmetic-only stand-in instead."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((64, 32), dtype=np.float32))
    y = lib.tensor(rng.standard_normal((64, 10), dtype=np.float32))
    if HAS_MLP_OPS:
        shapes = [(32, 64), (64,), (64, 64), (64,), (64, 10), (10,)]
        params = [lib.tensor(rng.standard_normal(s, dtype=np.float32) * 0.1, requires_grad=True) for s in shapes]
    else:
        params = [lib.tensor(rng.standard_normal(32, dtype=np.float32), requires_grad=True) for _ in range(6)]

    def loss_fn():
        if not HAS_MLP_OPS:
            h = x
            for w, b in zip(params[::2], params[1::2]):
                h = h * w + b
            return (h - 0.5) ** 2
        w1, b1, w2, b2, w3, b3 = params
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        return ((h @ w3 + b3 - y) ** 2).sum()

    def one():
        loss = loss_fn()
        loss.backward(None if loss.numel() == 1 else lib.ones(*loss.shape))
        with lib.no_grad():
            for p in params:
                p.data -= 1e-3 * p.grad.data
                p.grad = None

    def step():
        if anomaly is None:
            for _ in range(iters):
                one()
        else:
            with anomaly():
                for _ in range(iters):
                    one()

    return step


def torch_anomaly():
    """torch.autograd.detect_anomaly without its warning on entry (it says that it slows things down)."""
    import warnings

    class _quiet:
        def __enter__(self):
            self._w = warnings.catch_warnings()
            self._w.__enter__()
            warnings.simplefilter("ignore")
            self._a = torch.autograd.detect_anomaly()
            self._a.__enter__()

        def __exit__(self, *exc):
            self._a.__exit__(*exc)
            self._w.__exit__(*exc)

    return _quiet()


ANOMALY = {"dagrad": detect_anomaly, "torch": torch_anomaly}


WORKLOADS = [  # (name, unit, make(module) -> step, scale, repeats factor); make may raise NotImplementedError
    ("(a) tiny tracked add, 10k ops", "us/op", tiny_adds, 1e6 / 10_000, 1.0),
    ("(b) chain fwd+bwd, 1k ops", "us/op", chain, 1e6 / 1_000, 1.0),
    ("(c) matmul 1024^2 fwd+bwd f32", "ms", matmul, 1e3, 0.5),
]


def paired(plain: Callable, anomalous: Callable, repeats: int, warmup: int = 2) -> tuple[float, float, float]:
    """Median seconds of each of two steps timed in alternating blocks, and the median of their ratios
    (alternating keeps a drifting machine load from landing on one side of the overhead ratio)."""
    for _ in range(warmup):
        plain()
        anomalous()
    a, b = [], []
    for _ in range(repeats):
        for step, out in ((plain, a), (anomalous, b)):
            t0 = time.perf_counter()
            step()
            out.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b), statistics.median(y / x for x, y in zip(a, b))


def run(repeats: int) -> list[dict]:
    """Time every workload, all of dagrad's first and then all of PyTorch's, so that neither framework's
    worker threads (still spinning after its last call) slow the other down; then print the table."""
    libs = [("dagrad", dg)] + ([("torch", torch)] if torch is not None else [])
    names = [(name, unit) for name, unit, *_ in WORKLOADS] + [
        ("(d) MLP step", "ms"),
        ("(d) MLP step, detect_anomaly", "ms"),
        ("(d) anomaly overhead", "x"),
    ]
    rows = [{"workload": name, "unit": unit} for name, unit in names]
    for lib_name, lib in libs:
        plain, anom, ratio = paired(mlp_step(lib, None), mlp_step(lib, ANOMALY[lib_name]), repeats)
        rows[-3][lib_name], rows[-2][lib_name], rows[-1][lib_name] = plain * 1e3 / 20, anom * 1e3 / 20, ratio
        for r, (_, _, make, scale, factor) in zip(rows, WORKLOADS):
            try:
                step = make(lib)
            except NotImplementedError:
                r[lib_name] = None
                continue
            r[lib_name] = timeit(step, max(3, int(repeats * factor))) * scale
    if not HAS_MLP_OPS:
        print("(d) uses the arithmetic-only stand-in: dagrad has no matmul/relu/sum yet")
    print_header(len(libs) > 1)
    for r in rows:
        print_row(r, len(libs) > 1)
    return rows


def print_header(have_torch: bool) -> None:
    head = f"{'workload':34s} {'unit':6s} {'dagrad':>10s}"
    if have_torch:
        head += f" {'torch':>10s} {'ratio':>7s}"
    print(head)
    print("-" * len(head))


def _fmt(v: float | None, width: int) -> str:
    return f"{'n/a':>{width}s}" if v is None else f"{v:{width}.3f}"


def print_row(r: dict, have_torch: bool) -> None:
    line = f"{r['workload']:34s} {r['unit']:6s} {_fmt(r['dagrad'], 10)}"
    if have_torch:
        ratio = None if r["dagrad"] is None else r["dagrad"] / r["torch"]
        line += f" {_fmt(r['torch'], 10)} {_fmt(ratio, 7)}"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--repeats", type=int, default=9, help="timed repeats per workload (median reported)")
    args = ap.parse_args(argv)
    print(
        f"dagrad {dg.__version__}, numpy {np.__version__}, "
        + (f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "torch not installed"),
        flush=True,
    )
    rows = run(args.repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version.split()[0], "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
