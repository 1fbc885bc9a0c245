"""The Fashion-MNIST subset shipped in the package."""

from pathlib import Path

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DataLoader
from dagrad.data.datasets import EmbeddedFashionMNIST, FashionMNIST, embedded_fashion_mnist
from dagrad.data.datasets.embedded import FILES

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("train, n", [(True, 10_000), (False, 2_000)])
def test_tensor_dataset_shapes_and_ranges(train, n):
    ds = embedded_fashion_mnist(train=train)
    x, y = ds.tensors
    assert len(ds) == n and x.shape == (n, 1, 28, 28) and x.dtype == dg.float32 and y.dtype == dg.int64
    assert 0 <= x.data.min() and x.data.max() == 1
    counts = np.bincount(y.numpy(), minlength=10)
    assert len(counts) == 10 and counts.min() > n // 12  # every class, roughly balanced


def test_dataset_class_and_loader():
    ds = EmbeddedFashionMNIST(train=False)
    assert ds.classes[0] == "T-shirt/top" and len(ds) == 2000
    x, y = next(iter(DataLoader(ds, batch_size=32, shuffle=True)))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,)


def test_files_are_small_and_credited():
    files = [p for pair in FILES.values() for p in pair]
    assert sum(p.stat().st_size for p in files) < 6_000_000
    readme = (files[0].parent / "README.md").read_text()
    assert "Zalando" in readme and "MIT" in readme


@pytest.mark.skipif(not (DEBIAN / "t10k-images-idx3-ubyte.gz").exists(), reason="dataset-fashion-mnist not installed")
def test_matches_the_first_images_of_the_real_data(monkeypatch):
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    real = FashionMNIST(root=DEBIAN, train=False)
    ours = EmbeddedFashionMNIST(train=False)
    np.testing.assert_array_equal(ours.data, real.data[:2000])
    np.testing.assert_array_equal(ours.targets, real.targets[:2000])
