"""LeNet-5 on the full Fashion-MNIST, one epoch in dagrad and in PyTorch side by side: time, images/s, accuracy.

Run: python3 benchmarks/train_fashion.py [--root DIR] [--epochs 1] [--optimizer adam|sgd] [--lr LR]
[--batch-size 128] [--threads N] [--limit N] [--trainer]. The data is found as dagrad.data.datasets.FashionMNIST
finds it: --root, $DAGRAD_DATA, /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), the cache.

Both libraries train the same network (dagrad.models.LeNet5 and its layer-for-layer PyTorch twin) from the same
initial weights (dagrad's PyTorch-style init, copied into the twin), on the same shuffled batches, with the same
optimizer and hyper-parameters, each in a plain loop (zero_grad, forward, cross-entropy, backward, step). A few
steps on a throwaway copy warm each library up first (numba compilation, allocator). The epochs alternate between
the libraries so that a machine's background load falls on both; the time shown is each one's fastest epoch.
--trainer adds a row for dagrad.train.Trainer with a DataLoader (the `dagrad train` path). Test accuracy and loss
are measured on the 10,000 test images.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import dagrad as dg
from dagrad.data import DataLoader, TensorDataset
from dagrad.data.datasets import FashionMNIST
from dagrad.models import LeNet5
from dagrad.nn.loss import CrossEntropyLoss
from dagrad.train import Callback, Trainer

OPTIMIZERS = {"adam": ("Adam", {}), "sgd": ("SGD", {"momentum": 0.9})}


def torch_lenet() -> torch.nn.Module:
    """dagrad.models.LeNet5() for 28x28 images, layer for layer, in PyTorch."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def load(root: str | None, limit: int | None) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels): float32 (N, 1, 28, 28) in [0, 1], int64."""
    arrays = []
    for train in (True, False):
        ds = FashionMNIST(root=root, train=train).as_tensor_dataset()
        x, y = (t.data[:limit] for t in ds.tensors)
        arrays += [np.ascontiguousarray(x), np.ascontiguousarray(y)]
    return tuple(arrays)


class Dagrad:
    name = f"dagrad {dg.__version__}"

    def __init__(self, init: dict, opt: str, lr: float) -> None:
        self.model = LeNet5()
        self.model.load_state_dict(init)
        cls, extra = OPTIMIZERS[opt]
        self.opt = getattr(dg.optim, cls)(self.model.parameters(), lr=lr, **extra)
        self.loss_fn = CrossEntropyLoss()

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        self.opt.zero_grad()
        self.loss_fn(self.model(dg.from_numpy(x)), dg.from_numpy(y)).backward()
        self.opt.step()

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        correct = loss = 0.0
        with dg.no_grad():
            for i in range(0, len(x), 1000):
                out = self.model(dg.from_numpy(x[i : i + 1000]))
                t = dg.from_numpy(y[i : i + 1000])
                loss += float(self.loss_fn(out, t).data) * len(t)
                correct += float((out.data.argmax(1) == t.data).sum())
        self.model.train()
        return correct / len(x), loss / len(x)


class Torch:
    name = f"PyTorch {torch.__version__.split('+')[0]}"

    def __init__(self, init: dict, opt: str, lr: float) -> None:
        self.model = torch_lenet()
        with torch.no_grad():
            for q, p in zip(self.model.parameters(), init.values()):
                q.copy_(torch.from_numpy(np.asarray(p)))
        cls, extra = OPTIMIZERS[opt]
        self.opt = getattr(torch.optim, cls)(self.model.parameters(), lr=lr, **extra)
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        self.opt.zero_grad()
        self.loss_fn(self.model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        self.opt.step()

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        correct = loss = 0.0
        with torch.no_grad():
            for i in range(0, len(x), 1000):
                out = self.model(torch.from_numpy(x[i : i + 1000]))
                t = torch.from_numpy(y[i : i + 1000])
                loss += float(self.loss_fn(out, t)) * len(t)
                correct += float((out.argmax(1) == t).sum())
        self.model.train()
        return correct / len(x), loss / len(x)


def run_epoch(lib: Dagrad | Torch, x: np.ndarray, y: np.ndarray, order: np.ndarray, batch: int) -> float:
    """Seconds for one epoch over x[order] in batches (the gathers included)."""
    start = time.perf_counter()
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        lib.step(x[idx], y[idx])
    return time.perf_counter() - start


class EpochTimer(Callback):
    """Records each epoch's seconds."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def run_trainer(
    init: dict, opt: str, lr: float, x: np.ndarray, y: np.ndarray, batch: int, epochs: int, seed: int
) -> tuple[Dagrad, float]:
    """dagrad's own path, Trainer.fit over a shuffling DataLoader (whose generator draws the same permutations as
    the plain loops): (the trained model as a Dagrad, its fastest epoch's seconds)."""
    lib = Dagrad(init, opt, lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=dg.Generator(seed))
    timer = EpochTimer()
    Trainer(lib.model, lib.loss_fn, lib.opt, callbacks=[timer]).fit(loader, epochs=epochs, verbose=0)
    return lib, min(timer.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="directory holding Fashion-MNIST's IDX files")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    parser.add_argument("--lr", type=float, help="default: 1e-3 for Adam, 0.05 for SGD (momentum 0.9)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="PyTorch's threads")
    parser.add_argument("--limit", type=int, help="use only the first N images of each split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainer", action="store_true", help="also time dagrad.train.Trainer with a DataLoader")
    args = parser.parse_args()
    lr = args.lr if args.lr is not None else (1e-3 if args.optimizer == "adam" else 0.05)
    torch.set_num_threads(args.threads)
    x, y, tx, ty = load(args.root, args.limit)
    dg.manual_seed(args.seed)
    init = {k: v.data.copy() for k, v in LeNet5().state_dict().items()}
    libs = [Torch(init, args.optimizer, lr), Dagrad(init, args.optimizer, lr)]
    for lib in libs:  # warm-up on a throwaway copy
        spare = type(lib)(init, args.optimizer, lr)
        for i in range(0, 3 * args.batch_size, args.batch_size):
            spare.step(x[i : i + args.batch_size], y[i : i + args.batch_size])
    seconds = {lib.name: [] for lib in libs}
    rng = np.random.default_rng(args.seed)
    for _ in range(args.epochs):
        order = rng.permutation(len(x))
        for lib in libs:
            seconds[lib.name].append(run_epoch(lib, x, y, order, args.batch_size))
    rows = [(lib.name, min(seconds[lib.name]), *lib.evaluate(tx, ty)) for lib in libs]
    if args.trainer:
        trained, sec = run_trainer(init, args.optimizer, lr, x, y, args.batch_size, args.epochs, args.seed)
        rows.append(("dagrad Trainer", sec, *trained.evaluate(tx, ty)))
    print(f"LeNet-5 on Fashion-MNIST: {len(x):,} train / {len(tx):,} test images, {args.epochs} epoch(s), "
          f"{args.optimizer} lr={lr:g}, batch {args.batch_size}, PyTorch threads {args.threads}")  # fmt: skip
    print(f"{'':<16}{'epoch (s)':>10}{'images/s':>10}{'test acc':>10}{'test loss':>11}")
    for name, sec, acc, loss in rows:
        print(f"{name:<16}{sec:>10.2f}{len(x) / sec:>10.0f}{100 * acc:>9.2f}%{loss:>11.4f}")
    (_, t_sec, t_acc, _), (_, d_sec, d_acc, _) = rows[:2]
    print(f"dagrad / PyTorch: {d_sec / t_sec:.2f}x the epoch time; test accuracy {100 * (d_acc - t_acc):+.2f} points")


if __name__ == "__main__":
    main()
