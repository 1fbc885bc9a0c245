"""Recurrent layers forward + backward: dagrad against PyTorch in the same run (float32, 2 threads).

Run: python benchmarks/rnn.py [--repeat N] [--threads T]. Prints one row per workload: dagrad ms, torch ms, ratio.
--threads sets PyTorch's threads; NumPy's BLAS reads OPENBLAS_NUM_THREADS at start, so for a single-thread
comparison run OPENBLAS_NUM_THREADS=1 python benchmarks/rnn.py --threads 1 --clock cpu: with one thread, process CPU
time stays steady on a busy machine where wall time does not.
Both sides load the same weights, compute (output, state) = layer(x), then output.backward(g) for the input and
parameter gradients; the 'forward' rows time inference under no_grad.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dagrad as dg
from dagrad.nn.rnn import GRU, LSTM, RNN, LSTMCell

WORKLOADS = [  # (name, dagrad class, torch class, kwargs, (seq, batch, input))
    ("LSTM 128->256", LSTM, torch.nn.LSTM, {"input_size": 128, "hidden_size": 256}, (32, 64, 128)),
    ("GRU 128->256", GRU, torch.nn.GRU, {"input_size": 128, "hidden_size": 256}, (32, 64, 128)),
    ("RNN tanh 128->256", RNN, torch.nn.RNN, {"input_size": 128, "hidden_size": 256}, (32, 64, 128)),
    (
        "LSTM 2 layers bidirectional",
        LSTM,
        torch.nn.LSTM,
        {"input_size": 128, "hidden_size": 256, "num_layers": 2, "bidirectional": True},
        (32, 64, 128),
    ),
    ("LSTM 64->128 seq 100 batch 32", LSTM, torch.nn.LSTM, {"input_size": 64, "hidden_size": 128}, (100, 32, 64)),
]


CLOCK = time.perf_counter


def _best_of(fn, repeat: int) -> float:
    """Best time of fn in milliseconds after two warm-up calls (the least disturbed by other processes)."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return 1e3 * min(times)


def _pair(ours_cls, theirs_cls, kwargs):
    """The two layers with torch's weights copied into dagrad's."""
    theirs = theirs_cls(**kwargs)
    ours = ours_cls(**kwargs)
    ours.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def bench(ours_cls, theirs_cls, kwargs, shape, repeat: int) -> tuple[float, float, float, float]:
    """(dagrad fwd+bwd, torch fwd+bwd, dagrad forward, torch forward) in ms."""
    ours, theirs = _pair(ours_cls, theirs_cls, kwargs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    dirs = 2 if kwargs.get("bidirectional") else 1
    g = rng.standard_normal((*shape[:2], dirs * kwargs["hidden_size"]), dtype=np.float32)
    dx, dgrad = dg.tensor(x, requires_grad=True), dg.tensor(g)
    tx, tgrad = torch.tensor(x, requires_grad=True), torch.tensor(g)

    def ours_step() -> None:
        dx.grad = None
        ours.zero_grad()
        ours(dx)[0].backward(dgrad)

    def theirs_step() -> None:
        tx.grad = None
        theirs.zero_grad()
        theirs(tx)[0].backward(tgrad)

    def ours_fwd() -> None:
        with dg.no_grad():
            ours(dx)

    def theirs_fwd() -> None:
        with torch.no_grad():
            theirs(tx)

    return (
        _best_of(ours_step, repeat),
        _best_of(theirs_step, repeat),
        _best_of(ours_fwd, repeat),
        _best_of(theirs_fwd, repeat),
    )


def bench_cell(repeat: int, seq: int = 32, batch: int = 64, n_in: int = 128, hidden: int = 256) -> tuple[float, float]:
    """An LSTMCell looped over a sequence by the caller, the loss on the last h: fwd+bwd ms (dagrad, torch)."""
    ours, theirs = _pair(LSTMCell, torch.nn.LSTMCell, {"input_size": n_in, "hidden_size": hidden})
    x = np.random.default_rng(0).standard_normal((seq, batch, n_in), dtype=np.float32)
    dx, tx = dg.tensor(x), torch.tensor(x)

    def ours_step() -> None:
        ours.zero_grad()
        hc = None
        for t in range(seq):
            hc = ours(dx[t], hc)
        hc[0].sum().backward()

    def theirs_step() -> None:
        theirs.zero_grad()
        hc = None
        for t in range(seq):
            hc = theirs(tx[t], hc)
        hc[0].sum().backward()

    return _best_of(ours_step, repeat), _best_of(theirs_step, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    print(f"{'workload (float32)':<44}{'dagrad ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name, ours_cls, theirs_cls, kwargs, shape in WORKLOADS:
        ours, theirs, ours_fwd, theirs_fwd = bench(ours_cls, theirs_cls, kwargs, shape, args.repeat)
        label = f"{name} {shape[0]}x{shape[1]}"
        print(f"{label + ' fwd+bwd':<44}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}")
        print(f"{label + ' forward':<44}{ours_fwd:>10.2f}{theirs_fwd:>10.2f}{ours_fwd / theirs_fwd:>8.2f}")
    ours, theirs = bench_cell(args.repeat)
    print(f"{'LSTMCell 128->256 looped 32x64 fwd+bwd':<44}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
