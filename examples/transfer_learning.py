"""Transfer learning: features learnt on five Fashion-MNIST classes help to learn the other five from few images.

The lecture's claim: a trained network's layers compute features that are useful beyond its own task, the lower
layers more generally than the top ones, so with little labelled data, reusing them beats training from scratch.
A LeNet-5 is trained on classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat). For classes 5-9 (Sandal,
Shirt, Sneaker, Bag, Ankle boot), with k labelled images per class, four ways are compared on the same images and
the same number of steps: (a) frozen features + new head: dagrad.models.freeze the network, extract_features once
and train only a new Linear head on them, taking the top features (the 84 inputs of its classification layer) or
lower ones (the 400 values of the maps after the second pooling, s4); (b) fine-tuning: replace_head with a new
5-class layer and train all layers, at a smaller learning rate; (c) from scratch: a new LeNet-5 trained on the
k images per class alone. Measured with k = 2 / 10 / 50 / 200: the head on the frozen top features reaches only
39 / 68 / 73 / 74% test accuracy, on the frozen s4 maps 74 / 89 / 92 / 95%, fine-tuning 68 / 87 / 90 / 92% and
training from scratch 76 / 87 / 89 / 93%: the lower layers transfer, the top ones are specialised to the old
classes, and from 10 images per class on, the frozen s4 features beat training from scratch. About 25 s.

    python3 examples/transfer_learning.py [--sizes 2,10,50,200] [--source-epochs 4] [--out examples/out]

Data: the Fashion-MNIST subset shipped with dagrad (training images of classes 0-4 for the source task, the first
k of each of classes 5-9 as the labelled set; test images of classes 5-9 to score). Prints a table and writes
OUT/transfer_learning.png (test accuracy against k).
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy

import dagrad as dg
from dagrad.data import DataLoader, TensorDataset
from dagrad.data.datasets import EmbeddedFashionMNIST
from dagrad.models import LeNet5, extract_features, freeze, replace_head
from dagrad.nn import CrossEntropyLoss, Linear
from dagrad.train import Trainer

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
FROZEN = {"frozen top + head": None, "frozen s4 + head": "s4"}  # extract_features' layer: None is the top
METHODS = (*FROZEN, "fine-tuning", "from scratch")


def first(data: TensorDataset, n: int | None) -> TensorDataset:
    """The first n samples of data (all when n is None)."""
    return TensorDataset(*(t[:n] for t in data.tensors))


def images_of(data: TensorDataset, classes: tuple[int, ...], per_class: int | None = None) -> TensorDataset:
    """The images of `classes` in `data` (the first `per_class` of each, or all), labels renumbered 0, 1, ..."""
    images, labels = data.tensors
    keep = [numpy.flatnonzero(labels.data == c)[:per_class] for c in classes]
    index = numpy.sort(numpy.concatenate(keep))
    renumbered = numpy.searchsorted(numpy.array(classes), labels.data[index])
    return TensorDataset(images[index], dg.from_numpy(renumbered))


def train(model: Any, data: TensorDataset, steps: int, lr: float, batch_size: int) -> Trainer:
    """Adam on model's trainable parameters for about `steps` minibatches (whole epochs) of `data`."""
    params = [p for p in model.parameters() if p.requires_grad]
    loader = DataLoader(data, batch_size=batch_size, shuffle=True)
    trainer = Trainer(model, CrossEntropyLoss(), dg.optim.Adam(params, lr=lr), metrics=("accuracy",))
    trainer.fit(loader, epochs=max(1, math.ceil(steps / len(loader))), verbose=0)
    return trainer


def accuracy_on(model: Any, test: TensorDataset) -> float:
    trainer = Trainer(model, CrossEntropyLoss(), None, metrics=("accuracy",))
    return trainer.evaluate(DataLoader(test, batch_size=1000))["accuracy"]


def trainable(*modules: Any) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def frozen_features(
    source: LeNet5, labelled: TensorDataset, test: TensorDataset, layer: str | None, args: argparse.Namespace
) -> tuple[float, int]:  # fmt: skip
    """(a) A new Linear head trained on the frozen source network's features at `layer`: (test accuracy,
    trainable parameters). The features are computed once; training the head never runs the network again."""
    body = freeze(copy.deepcopy(source))
    features, labels = extract_features(body, DataLoader(labelled, batch_size=1000), layer)
    head = Linear(features.shape[1], len(TARGET))
    train(head, TensorDataset(dg.from_numpy(features), dg.from_numpy(labels)), args.steps, args.head_lr,
          args.batch_size)  # fmt: skip
    test_features, test_labels = extract_features(body, DataLoader(test, batch_size=1000), layer)
    with dg.no_grad():
        predicted = head(dg.from_numpy(test_features)).data.argmax(axis=1)
    return float((predicted == test_labels).mean()), trainable(body, head)


def compare(
    source: LeNet5, labelled: TensorDataset, test: TensorDataset, args: argparse.Namespace
) -> dict[str, tuple[float, int]]:  # fmt: skip
    """{method: (test accuracy, trainable parameters)} for the four ways of learning the new classes."""
    results = {name: frozen_features(source, labelled, test, layer, args) for name, layer in FROZEN.items()}
    tuned = replace_head(copy.deepcopy(source), len(TARGET))  # a new, randomly initialised 5-class output layer
    train(tuned, labelled, args.steps, args.lr / 3, args.batch_size)
    scratch = LeNet5(num_classes=len(TARGET))
    train(scratch, labelled, args.steps, args.lr, args.batch_size)
    for name, model in (("fine-tuning", tuned), ("from scratch", scratch)):
        results[name] = (accuracy_on(model, test), trainable(model))
    return results


def plot(sizes: list[int], results: dict[str, list[float]], path: Path, title: str) -> bool:
    """Save test accuracy against labelled images per class, one line per method; False without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("Note: matplotlib is not installed, so the figure was skipped (pip install 'dagrad[viz]')")
        return False
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for method, accs in results.items():
        ax.plot(sizes, [100 * a for a in accs], marker="o", label=method)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("labelled training images per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.savefig(path, dpi=100)
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="2,10,50,200", help="labelled images per new class, comma-separated")
    p.add_argument("--source-epochs", type=int, default=4, help="epochs on classes 0-4")
    p.add_argument("--train-limit", type=int, help="use only the first N training images")
    p.add_argument("--test-limit", type=int, help="use only the first N test images")
    p.add_argument("--steps", type=int, default=300, help="minibatches of training on the new classes")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (fine-tuning uses a third of it)")
    p.add_argument("--head-lr", type=float, default=1e-2, help="Adam's learning rate for the head on frozen features")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="examples/out", help="directory for the figure")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train the source network, compare the four ways for each size, print the table, draw the lines; returns
    {'source_accuracy', 'sizes', 'results': {method: [test accuracy per size]}, ...}."""
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    dg.manual_seed(args.seed)
    train_split = first(EmbeddedFashionMNIST(train=True).as_tensor_dataset(), args.train_limit)
    test_split = first(EmbeddedFashionMNIST(train=False).as_tensor_dataset(), args.test_limit)
    start = time.perf_counter()
    source = LeNet5(num_classes=len(SOURCE))
    source_data = images_of(train_split, SOURCE)
    train(source, source_data, args.source_epochs * math.ceil(len(source_data) / 64), args.lr, 64)
    source_accuracy = accuracy_on(source, images_of(test_split, SOURCE))
    print(f"LeNet-5 trained on classes 0-4 ({len(source_data):,} images): {100 * source_accuracy:.1f}% test accuracy")

    test = images_of(test_split, TARGET)
    print(f"\nClasses 5-9, {len(test):,} test images; test accuracy after {args.steps} steps:")
    print(f"{'per class':>10}" + "".join(f"{m:>18}" for m in METHODS))
    results: dict[str, list[float]] = {m: [] for m in METHODS}
    for k in sizes:
        row = compare(source, images_of(train_split, TARGET, k), test, args)
        for m in METHODS:
            results[m].append(row[m][0])
        print(f"{k:>10}" + "".join(f"{100 * row[m][0]:>17.1f}%" for m in METHODS))
    print("Parameters trained: " + ", ".join(f"{m} {row[m][1]:,}" for m in METHODS))
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s in all")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "transfer_learning.png"
    drawn = plot(sizes, results, figure, "Fashion-MNIST classes 5-9 with features from classes 0-4")
    return {"source_accuracy": source_accuracy, "sizes": sizes, "results": results, "test_size": len(test),
            "trainable_parameters": {m: row[m][1] for m in METHODS}, "seconds": seconds,
            "figure": str(figure) if drawn else None}  # fmt: skip


if __name__ == "__main__":
    main()
