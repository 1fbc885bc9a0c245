"""Keras' dataset loaders: mnist.load_data() and fashion_mnist.load_data() -> ((x_train, y_train), (x_test, y_test)).

As Keras: uint8 images (N, 28, 28) and uint8 labels (N,). The files come from dagrad.data's MNIST and
FashionMNIST (local copies first, e.g. the Debian package dataset-fashion-mnist, otherwise a checked download into
dagrad's cache).
"""

from __future__ import annotations

import numpy

from dagrad.data.datasets import MNIST, FashionMNIST


class _Loader:
    """A module-like object with Keras' load_data()."""

    def __init__(self, dataset: type) -> None:
        self.dataset = dataset

    def load_data(self) -> tuple[tuple[numpy.ndarray, numpy.ndarray], tuple[numpy.ndarray, numpy.ndarray]]:
        """((x_train, y_train), (x_test, y_test)) as uint8 arrays."""
        splits = []
        for train in (True, False):
            ds = self.dataset(train=train, download=True)
            splits.append((numpy.asarray(ds.data), numpy.asarray(ds.targets).astype(numpy.uint8)))
        return splits[0], splits[1]

    def __repr__(self) -> str:
        return f"<dagrad.keras.datasets loader for {self.dataset.__name__}>"


mnist = _Loader(MNIST)
fashion_mnist = _Loader(FashionMNIST)

__all__ = ["mnist", "fashion_mnist"]
