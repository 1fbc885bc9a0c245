"""IDX reading and writing, the MNIST family, and where their files are looked for."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DataLoader, DatasetError, transforms
from dagrad.data.datasets import KMNIST, MNIST, FashionMNIST, read_idx, write_idx
from tests.data import IDX_NAMES, write_fake_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _no_outside_data(tmp_path, monkeypatch):
    """No test sees the user's DAGRAD_DATA or cache."""
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        a = np.abs(a).astype(dtype)
    write_idx(tmp_path / f"a.idx{suffix}", a)
    b = read_idx(tmp_path / f"a.idx{suffix}")
    assert b.dtype == a.dtype and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(a, b)


def test_idx_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "l.idx", np.array([1, 2, 3], np.int32))
    raw = (tmp_path / "l.idx").read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x01" and struct.unpack(">I", raw[4:8]) == (3,)
    assert raw[8:] == np.array([1, 2, 3], ">i4").tobytes()


@pytest.mark.parametrize(
    "body, message",
    [
        (b"\x08\x03\x00\x00", "magic"),
        (b"\x00\x00\x08\x03\x00\x00", "header"),
        (struct.pack(">BBBBII", 0, 0, 8, 2, 3, 3) + bytes(8), "truncated"),
        (struct.pack(">BBBBI", 0, 0, 8, 1, 2) + bytes(3), "truncated"),
    ],
    ids=["magic", "short-header", "short-body", "trailing"],
)
def test_corrupt_idx_files(tmp_path, body, message):
    (tmp_path / "bad.idx").write_bytes(body)
    with pytest.raises(DatasetError, match=message):
        read_idx(tmp_path / "bad.idx")


def test_damaged_gzip(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((50, 9), np.uint8))
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="gzip"):
        read_idx(tmp_path / "cut.gz")


def test_write_idx_is_reproducible(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "b.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.gz").read_bytes())[:4] == b"\x00\x00\x08\x01"


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST, KMNIST])
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_dataset_from_root(tmp_path, cls, gz):
    arrays = write_fake_idx(tmp_path, gz=gz)
    for train, split in ((True, "train"), (False, "test")):
        ds = cls(root=tmp_path, train=train)
        images, labels = arrays[split]
        assert len(ds) == len(labels) and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
        np.testing.assert_array_equal(ds.data, images)
        image, label = ds[2]
        assert isinstance(image, dg.Tensor) and image.shape == (1, 28, 28) and image.dtype == dg.float32
        np.testing.assert_allclose(image.numpy()[0], images[2] / 255, rtol=1e-6)
        assert label == labels[2] and isinstance(label, int)


def test_torchvision_layout_and_errors(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    write_fake_idx(raw)
    assert len(FashionMNIST(root=tmp_path, train=False)) == 5
    with pytest.raises(DatasetError, match="download=True"):
        MNIST(root=tmp_path)


def test_labels_out_of_range(tmp_path):
    write_fake_idx(tmp_path)
    write_idx(tmp_path / IDX_NAMES["train"][1], np.full(12, 10, np.uint8))
    with pytest.raises(DatasetError, match="labels"):
        MNIST(root=tmp_path)
    write_idx(tmp_path / IDX_NAMES["train"][1], np.zeros(11, np.uint8))
    with pytest.raises(DatasetError, match="12 uint8 labels"):
        MNIST(root=tmp_path)


def test_search_order_root_then_env_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for base, n in ((tmp_path / "root", 3), (tmp_path / "env", 4), (tmp_path / "xdg" / "dagrad", 6)):
        (base / "KMNIST").mkdir(parents=True)
        write_fake_idx(base / "KMNIST", n_train=n)
    monkeypatch.setenv("DAGRAD_DATA", str(tmp_path / "env"))
    assert len(KMNIST(root=tmp_path / "root")) == 3
    assert len(KMNIST(root=tmp_path / "nowhere")) == 4
    monkeypatch.delenv("DAGRAD_DATA")
    assert len(KMNIST()) == 6


def test_batches_with_batched_and_per_sample_transforms(tmp_path):
    write_fake_idx(tmp_path, n_train=10)
    norm = transforms.Normalize(0.5, 0.25)
    fast = MNIST(root=tmp_path, transform=norm)
    slow = MNIST(root=tmp_path, transform=lambda t: norm(t), target_transform=lambda y: y + 1)
    xf, yf = fast.get_batch(np.array([4, 1]))
    xs, ys = slow.get_batch(np.array([4, 1]))
    np.testing.assert_allclose(xf.numpy(), xs.numpy(), rtol=1e-6)
    assert yf.tolist() == [y - 1 for y in ys.tolist()]
    xb, yb = next(iter(DataLoader(fast, batch_size=10)))
    td = fast.as_tensor_dataset()
    np.testing.assert_allclose(norm(td.tensors[0]).numpy(), xb.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(td.tensors[1].numpy(), yb.numpy())


@pytest.mark.skipif(not (DEBIAN / "train-images-idx3-ubyte.gz").exists(), reason="dataset-fashion-mnist not installed")
def test_debian_package_is_found():
    ds = FashionMNIST(train=False)
    assert len(ds) == 10_000 and ds.data.shape == (10_000, 28, 28)
    assert np.bincount(ds.targets).tolist() == [1000] * 10
