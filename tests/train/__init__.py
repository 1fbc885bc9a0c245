"""dagrad.train tests. Shared helpers: a separable toy problem, small models, and SGD re-exported."""

import numpy as np

import dagrad as dg
from dagrad.nn.activation import ReLU, Sigmoid
from dagrad.nn.containers import Sequential
from dagrad.nn.linear import Linear
from dagrad.nn.loss import CrossEntropyLoss
from dagrad.optim import SGD


def blobs(n=96, classes=3, seed=0):
    """Three well separated Gaussian blobs in 2-D: (float32 (n, 2), int64 (n,))."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = np.array([[3.0, 0.0], [-3.0, 3.0], [-3.0, -3.0]])[:classes]
    x = centres[y] + 0.5 * rng.standard_normal((n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def batches(x, y, size=16):
    """A list of (Tensor, Tensor) batches: the simplest loader."""
    return [(dg.tensor(x[i : i + size]), dg.tensor(y[i : i + size])) for i in range(0, len(x), size)]


def mlp(sizes=(2, 16, 3), act=ReLU):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return Sequential(*layers)


def setup(lr=0.1, sizes=(2, 16, 3), act=ReLU, n=96, size=16):
    """(model, loss, optimizer, train batches, validation batches) for the blob problem."""
    model = mlp(sizes, act)
    x, y = blobs(n)
    xv, yv = blobs(48, seed=1)
    return model, CrossEntropyLoss(), SGD(model.parameters(), lr), batches(x, y, size), batches(xv, yv, size)


__all__ = ["SGD", "Sigmoid", "blobs", "batches", "mlp", "setup"]
