"""The benchmark's workloads. Each one builds, for a framework module (dagrad or torch, which share an API here),
one step of work at full or --quick size from the same code and the same seeded data, so both frameworks do equal
work; the runner copies the dagrad model's weights into the PyTorch twin before the first step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from dagrad.bench import nets
from dagrad.models import MLP, LeNet5, resnet20

__all__ = ["WORKLOADS", "Side", "Workload", "by_key", "mean_square", "to_float"]


def to_float(value: Any) -> float:
    """A 0-d dagrad or torch tensor as a Python float."""
    return float(value.detach().numpy())


def mean_square(value: Any) -> float:
    """The mean square of a dagrad or torch tensor's values, in float64."""
    return float(np.mean(np.square(value.detach().numpy(), dtype=np.float64)))


@dataclass
class Side:
    """One framework's half of a workload.

    step: one step of work; returns what `check` turns into the float that both frameworks must agree on after
    their first step (the loss), or None where there is nothing to compare. model: the network whose weights the
    twin shares (None: no weights). train: whether the step runs backward (for the FLOP count). ops: the step's op
    count, for per-op workloads (time is reported per op). flops: FLOPs per step where layer hooks cannot count
    them (None: count them).
    """

    step: Callable[[], Any]
    model: Any = None
    train: bool = True
    ops: int = 0
    flops: float | None = None
    check: Callable[[Any], float] = to_float


@dataclass(frozen=True)
class Workload:
    """A row of the table: `key` for --only, a `title`, build(lib, quick) -> Side, and the goals it is held to:
    `goal` for the dagrad / PyTorch time ratio, `ceiling_goal` for the fraction of the sgemm ceiling reached.
    kind: 'step' (ms per step, peak memory measured), 'per-op' (µs per op), 'first-step' (ms of the first step
    in a fresh process) or 'epoch' (s per Fashion-MNIST epoch)."""

    key: str
    title: str
    build: Callable[[ModuleType, bool], Side]
    goal: float | None = None
    ceiling_goal: float | None = None
    kind: str = "step"

    @property
    def unit(self) -> str:
        return {"step": "ms", "per-op": "us/op", "first-step": "ms", "epoch": "s"}[self.kind]


def _images(shape: tuple[int, ...], classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 inputs of `shape` in [0, 1) and int64 labels, the same for every framework."""
    rng = np.random.default_rng(seed)
    return rng.random(shape, dtype=np.float32), rng.integers(0, classes, shape[0]).astype(np.int64)


def _train(lib: ModuleType, model: Any, shape: tuple[int, ...]) -> Side:
    """A training step of `model` on a batch of `shape`: zero_grad, forward, cross-entropy, backward, SGD step
    (lr 0.01, momentum 0.9)."""
    x, y = (lib.from_numpy(a) for a in _images(shape))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return Side(step, model)


def _infer(lib: ModuleType, model: Any, shape: tuple[int, ...]) -> Side:
    """An evaluation step in no-grad mode: forward in eval mode and the cross-entropy of the logits."""
    x, y = (lib.from_numpy(a) for a in _images(shape))
    loss_fn = lib.nn.CrossEntropyLoss()
    model.eval()

    def step() -> Any:
        with lib.no_grad():
            return loss_fn(model(x), y)

    return Side(step, model, train=False)


def _is_dagrad(lib: ModuleType) -> bool:
    return lib.__name__ == "dagrad"


def lenet5_model(lib: ModuleType) -> Any:
    """dagrad.models.LeNet5 for dagrad, its twin (nets.lenet5) for PyTorch."""
    return LeNet5() if _is_dagrad(lib) else nets.lenet5(lib.nn)


def resnet20_model(lib: ModuleType) -> Any:
    """dagrad.models.resnet20() for dagrad, its twin (nets.resnet20) for PyTorch."""
    return resnet20() if _is_dagrad(lib) else nets.resnet20(lib.nn)


def mlp_train(lib: ModuleType, quick: bool) -> Side:
    """MLP 784-512-512-10 (dagrad.models.MLP) training step on a batch of 128 flattened images."""
    sizes = (784, 32, 32, 10) if quick else (784, 512, 512, 10)
    model = MLP(sizes[0], sizes[1:-1], sizes[-1]) if _is_dagrad(lib) else nets.mlp(lib.nn, sizes)
    return _train(lib, model, (4 if quick else 128, 784))


def lenet5_train(lib: ModuleType, quick: bool) -> Side:
    """LeNet-5 (dagrad.models.LeNet5) training step on a batch of 128 1x28x28 images."""
    return _train(lib, lenet5_model(lib), (4 if quick else 128, 1, 28, 28))


def resnet20_train(lib: ModuleType, quick: bool) -> Side:
    """ResNet-20 (dagrad.models.resnet20) training step on a batch of 64 3x32x32 images."""
    return _train(lib, resnet20_model(lib), (2 if quick else 64, 3, 32, 32))


def vgg_train(lib: ModuleType, quick: bool) -> Side:
    """VGG-style 3x3 stack (nets.vgg_stack) training step on a batch of 32 3x32x32 images."""
    size = 8 if quick else 32
    model = nets.vgg_stack(lib.nn, width=4 if quick else 64, size=size)
    return _train(lib, model, (2 if quick else 32, 3, size, size))


def lstm_train(lib: ModuleType, quick: bool) -> Side:
    """LSTM forward + backward of mean(output^2) into the parameters; FLOPs: the gate GEMMs (input projection
    forward and weight gradient, recurrent forward, weight and state gradients)."""
    seq, batch, n_in, hidden = (4, 4, 8, 16) if quick else (32, 64, 128, 256)
    model = lib.nn.LSTM(n_in, hidden)
    x = lib.from_numpy(np.random.default_rng(0).standard_normal((seq, batch, n_in), dtype=np.float32))

    def step() -> Any:
        model.zero_grad()
        out, _ = model(x)
        loss = (out * out).mean()
        loss.backward()
        return loss

    flops = 2.0 * seq * batch * 4 * hidden * (2 * n_in + 3 * hidden)
    return Side(step, model, flops=flops)


def lenet5_infer(lib: ModuleType, quick: bool) -> Side:
    """LeNet-5 evaluation of a batch of 1024 images in no-grad mode."""
    return _infer(lib, lenet5_model(lib), (8 if quick else 1024, 1, 28, 28))


def resnet20_infer(lib: ModuleType, quick: bool) -> Side:
    """ResNet-20 evaluation (eval mode: BatchNorm's running statistics) of a batch of 1024 images."""
    return _infer(lib, resnet20_model(lib), (8 if quick else 1024, 3, 32, 32))


def tiny_adds(lib: ModuleType, quick: bool) -> Side:
    """n tracked additions of two 4-element tensors (the graph bookkeeping of an op, nothing else)."""
    n = 200 if quick else 10_000
    a, b = lib.ones(4, requires_grad=True), lib.ones(4, requires_grad=True)

    def step() -> None:
        for _ in range(n):
            a + b

    return Side(step, train=False, ops=n)


def chain(lib: ModuleType, quick: bool) -> Side:
    """Forward and backward of a chain of n ops (alternating * 1.0001 and + 0.5) on a 4-element tensor."""
    n = 200 if quick else 1_000
    x, g = lib.ones(4, requires_grad=True), lib.ones(4)

    def step() -> None:
        y = x
        for _ in range(n // 2):
            y = y * 1.0001 + 0.5
        y.backward(g)
        x.grad = None

    return Side(step, ops=n)


def dense(lib: ModuleType, quick: bool) -> Side:
    """Linear(n, n) forward and backward (input and weight gradients) at batch 512: three GEMMs."""
    n, batch = (64, 16) if quick else (4096, 512)
    rng = np.random.default_rng(0)
    layer = lib.nn.Linear(n, n)
    x = lib.from_numpy(rng.standard_normal((batch, n), dtype=np.float32)).requires_grad_()
    g = lib.from_numpy(rng.standard_normal((batch, n), dtype=np.float32))

    def step() -> Any:
        layer.zero_grad()
        x.grad = None
        y = layer(x)
        y.backward(g)
        return y

    return Side(step, layer, check=mean_square)


WORKLOADS: tuple[Workload, ...] = (
    Workload("mlp", "MLP 784-512-512-10 train step, batch 128", mlp_train, goal=1.0),
    Workload("lenet5", "LeNet-5 train step, batch 128", lenet5_train, goal=0.8),
    Workload("resnet20", "ResNet-20 train step, batch 64", resnet20_train, goal=1.25),
    Workload("vgg", "VGG 3x3 stack train step, batch 32", vgg_train),
    Workload("lstm", "LSTM 128->256 fwd+bwd, seq 32 x 64", lstm_train, goal=1.5),
    Workload("lenet5-infer", "LeNet-5 inference, batch 1024", lenet5_infer, goal=1.0),
    Workload("resnet20-infer", "ResNet-20 inference, batch 1024", resnet20_infer, goal=1.0),
    Workload("add", "per-op: 10,000 tracked tiny adds", tiny_adds, goal=1.0, kind="per-op"),
    Workload("chain", "per-op: 1,000-op chain fwd+bwd", chain, goal=1.0, kind="per-op"),
    Workload("dense", "Linear 4096->4096 fwd+bwd, batch 512", dense, ceiling_goal=0.8),
    Workload("first-step", "first LeNet-5 train step, fresh process", lenet5_train, kind="first-step"),
    Workload("epoch", "LeNet-5 Fashion-MNIST epoch (Adam)", lenet5_train, kind="epoch"),
)


def by_key(key: str) -> Workload:
    """The workload named `key`."""
    return {w.key: w for w in WORKLOADS}[key]
