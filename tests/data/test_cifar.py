"""CIFAR-10/100 binary files: parsing generated records, items and batches, corrupt files."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DatasetError
from dagrad.data.datasets import CIFAR10, CIFAR100, read_cifar_binary
from tests.data import cifar_records


@pytest.fixture(autouse=True)
def _no_outside_data(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def write_cifar10(root, n=4):
    d = root / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    parts = [cifar_records(n, seed, 1) for seed in range(6)]
    for i, (body, _, _) in enumerate(parts[:5]):
        (d / f"data_batch_{i + 1}.bin").write_bytes(body)
    (d / "test_batch.bin").write_bytes(parts[5][0])
    images = np.concatenate([p[1] for p in parts[:5]])
    labels = np.concatenate([p[2] for p in parts[:5]])[:, 0]
    return images, labels, parts[5]


def test_cifar10_parses_every_train_batch(tmp_path):
    images, labels, test = write_cifar10(tmp_path)
    ds = CIFAR10(root=tmp_path)
    assert len(ds) == 20 and ds.data.shape == (20, 32, 32, 3) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, images.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ds.targets, labels)
    image, label = ds[7]
    assert image.shape == (3, 32, 32) and image.dtype == dg.float32 and label == labels[7]
    np.testing.assert_allclose(image.numpy(), images[7] / 255, rtol=1e-6)
    xb, yb = ds.get_batch(np.array([3, 19]))
    assert xb.shape == (2, 3, 32, 32) and xb.data.flags.c_contiguous
    np.testing.assert_allclose(xb.numpy(), images[[3, 19]] / 255, rtol=1e-6)
    test_ds = CIFAR10(root=tmp_path, train=False)
    np.testing.assert_array_equal(test_ds.targets, test[2][:, 0])


def test_cifar100_fine_and_coarse_labels(tmp_path):
    d = tmp_path / "CIFAR100" / "cifar-100-binary"
    d.mkdir(parents=True)
    body, images, labels = cifar_records(6, 0, 2)
    (d / "train.bin").write_bytes(body)
    (d / "test.bin").write_bytes(cifar_records(2, 1, 2)[0])
    ds = CIFAR100(root=tmp_path)
    assert len(ds.classes) == 100 and len(ds.coarse_classes) == 20
    np.testing.assert_array_equal(ds.targets, labels[:, 1])
    np.testing.assert_array_equal(ds.coarse_targets, labels[:, 0])
    assert ds.classes[ds[0][1]] == ds.classes[labels[0, 1]]
    assert len(CIFAR100(root=tmp_path, train=False)) == 2


def test_truncated_record_and_bad_labels(tmp_path):
    body, _, _ = cifar_records(3, 0, 1)
    (tmp_path / "cut.bin").write_bytes(body[:-10])
    with pytest.raises(DatasetError, match="3073-byte records"):
        read_cifar_binary([tmp_path / "cut.bin"], 1)
    write_cifar10(tmp_path)
    bad = bytearray(body)
    bad[0] = 12
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(bytes(bad))
    with pytest.raises(DatasetError, match="labels"):
        CIFAR10(root=tmp_path, train=False)
