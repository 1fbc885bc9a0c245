"""One LeNet-5 training epoch on Fashion-MNIST, as benchmarks/train_fashion.py runs it: the same initial weights in
both frameworks, the same shuffled batches of 128, Adam (lr 1e-3), a plain loop (zero_grad, forward,
cross-entropy, backward, step) whose time includes gathering each batch.

The data is the full training set where dagrad.data.datasets.FashionMNIST finds it ($DAGRAD_DATA,
/usr/share/datasets/fashion-mnist, the cache), else the 10,000-image subset shipped with dagrad; --quick uses 256
images of that subset.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import numpy as np

from dagrad.bench.measure import count_flops
from dagrad.bench.nets import load_arrays, state_arrays
from dagrad.bench.workloads import Side, lenet5_model, to_float
from dagrad.data.datasets import EmbeddedFashionMNIST, FashionMNIST
from dagrad.errors import DagradError

__all__ = ["BATCH", "EpochRun", "load_images"]

BATCH = 128


def load_images(quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """(float32 (N, 1, 28, 28) images in [0, 1], int64 labels, a description of the data)."""
    ds = name = None
    if not quick:
        try:
            ds, name = FashionMNIST(train=True), "Fashion-MNIST"
        except DagradError:
            pass
    if ds is None:
        ds, name = EmbeddedFashionMNIST(train=True), "the Fashion-MNIST subset shipped with dagrad"
    x, y = (np.ascontiguousarray(t.data) for t in ds.as_tensor_dataset().tensors)
    if quick:
        x, y = x[:256], y[:256]
    return x, y, f"{name}, {len(x):,} images"


class _Loop:
    """A framework's LeNet-5 with Adam and cross-entropy, stepping on NumPy batches."""

    def __init__(self, lib: ModuleType, init: list[np.ndarray] | None) -> None:
        self.lib = lib
        self.model = lenet5_model(lib)
        if init is not None:
            load_arrays(self.model, init, lib.from_numpy)
        self.opt = lib.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = lib.nn.CrossEntropyLoss()

    def step(self, x: np.ndarray, y: np.ndarray) -> Any:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.lib.from_numpy(x)), self.lib.from_numpy(y))
        loss.backward()
        self.opt.step()
        return loss


class EpochRun:
    """One framework's side of the epoch benchmark, run in that framework's worker process.

    prepare() loads the data and builds a throwaway model from `init` (dagrad's initial weights; None: its own),
    whose first step gives the loss to compare and the FLOPs, and which warms the framework up for two more steps;
    epoch() then times one epoch of a fresh model from the same weights."""

    def __init__(self, lib: ModuleType, quick: bool, init: list[np.ndarray] | None) -> None:
        self.lib, self.quick = lib, quick
        self.x, self.y, self.data = load_images(quick)
        spare = _Loop(lib, init)
        self.init = state_arrays(spare.model)
        side = Side(lambda: spare.step(self.x[:BATCH], self.y[:BATCH]), spare.model)
        loss, flops = count_flops(side)
        self.first_loss = to_float(loss)
        self.flops = None if flops is None else flops * len(self.x) / min(BATCH, len(self.x))
        for _ in range(2):
            side.step()

    def epoch(self) -> float:
        """Seconds for one pass over the data in a seeded shuffled order, in batches of BATCH."""
        loop = _Loop(self.lib, self.init)
        order = np.random.default_rng(0).permutation(len(self.x))
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            loop.step(self.x[idx], self.y[idx])
        return time.perf_counter() - start
