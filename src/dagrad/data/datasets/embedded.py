"""A slice of real Fashion-MNIST shipped inside the package, so examples and the main job run offline.

The first 10,000 training and the first 2,000 test images of Fashion-MNIST (Zalando Research, MIT licence; see
files/README.md), as gzipped IDX files in dagrad/data/files/. The originals are already shuffled, so the slices
are close to balanced (942-1027 training and 188-219 test images per class). scripts/make_embedded_dataset.py
regenerates them from the Debian package dataset-fashion-mnist.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagrad.data.dataset import TensorDataset
from dagrad.data.datasets.mnist import FashionMNIST

__all__ = ["EmbeddedFashionMNIST", "embedded_fashion_mnist"]

FILES_DIR = Path(__file__).resolve().parent.parent / "files"
SIZES = {"train": 10_000, "test": 2_000}
FILES = {
    split: tuple(FILES_DIR / f"fashion-mnist-{stem}-{kind}-ubyte.gz" for kind in ("images-idx3", "labels-idx1"))
    for split, stem in (("train", "train"), ("test", "t10k"))
}


class EmbeddedFashionMNIST(FashionMNIST):
    """The shipped Fashion-MNIST subset as a dataset: 10,000 training or 2,000 test images, as FashionMNIST."""

    def __init__(
        self,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(root=None, train=train, transform=transform, target_transform=target_transform)

    def _find(self) -> list[Path]:
        return list(FILES[self.split])

    def __repr__(self) -> str:
        return f"EmbeddedFashionMNIST(split={self.split!r}, size={len(self)})"


def embedded_fashion_mnist(train: bool = True) -> TensorDataset:
    """The shipped subset as a TensorDataset: float32 images (N, 1, 28, 28) in [0, 1] and int64 labels (N,)."""
    return EmbeddedFashionMNIST(train=train).as_tensor_dataset()
