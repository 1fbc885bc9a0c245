"""Downloads from a local HTTP server on 127.0.0.1: checksums, truncation, mirrors, atomicity, CIFAR archives."""

import hashlib

import numpy as np
import pytest

from dagrad.data import DatasetError
from dagrad.data.datasets import CIFAR10, MNIST
from dagrad.data.download import atomic_write, check_file, download_file, download_resource
from tests.data import IDX_NAMES, cifar_records, cifar_tar, serve, write_fake_idx


@pytest.fixture(autouse=True)
def _no_outside_data(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def sha256(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A directory of generated MNIST files and MNIST's resources pointing at their checksums."""
    d = tmp_path / "served"
    d.mkdir()
    arrays = write_fake_idx(d)
    return d, arrays, {name: sha256(d / name) for names in IDX_NAMES.values() for name in names}


def leftovers(directory):
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


def test_mnist_download_into_root_then_found_offline(tmp_path, served, monkeypatch):
    d, arrays, resources = served
    monkeypatch.setattr(MNIST, "resources", resources)
    with serve(d) as url:
        monkeypatch.setattr(MNIST, "mirrors", [url + "missing/", url])  # the first mirror answers 404
        ds = MNIST(root=tmp_path / "root", download=True)
    np.testing.assert_array_equal(ds.data, arrays["train"][0])
    assert leftovers(tmp_path / "root") == ["MNIST", *sorted(IDX_NAMES["train"])]
    again = MNIST(root=tmp_path / "root", download=True)  # the server is gone: found on disk
    np.testing.assert_array_equal(again.targets, arrays["train"][1])


def test_download_goes_to_the_cache_without_root(tmp_path, served, monkeypatch):
    d, _, resources = served
    monkeypatch.setattr(MNIST, "resources", resources)
    with serve(d) as url:
        monkeypatch.setattr(MNIST, "mirrors", [url])
        assert len(MNIST(train=False, download=True)) == 5
    assert leftovers(tmp_path / "cache" / "dagrad" / "MNIST") == sorted(IDX_NAMES["test"])


def test_wrong_checksum_leaves_nothing(tmp_path, served, monkeypatch):
    d, _, resources = served
    monkeypatch.setattr(MNIST, "resources", {**resources, "train-images-idx3-ubyte.gz": "md5:" + "0" * 32})
    with serve(d) as url:
        monkeypatch.setattr(MNIST, "mirrors", [url])
        with pytest.raises(DatasetError, match="md5 0000"):
            MNIST(root=tmp_path / "root", download=True)
    assert "train-images-idx3-ubyte.gz" not in leftovers(tmp_path / "root")
    assert not [n for n in leftovers(tmp_path / "root") if n.endswith(".part")]


def test_truncated_download_leaves_nothing(tmp_path, served):
    d, _, resources = served
    name = "train-images-idx3-ubyte.gz"
    with serve(d, truncate=(name,)) as url:
        with pytest.raises(DatasetError, match="truncated|IncompleteRead"):
            download_file(url + name, tmp_path / "out" / name, resources[name])
        with pytest.raises(DatasetError, match="every mirror failed"):
            download_resource(name, [url], tmp_path / "out", None)
    assert leftovers(tmp_path / "out") == []


def test_download_file_checks_and_replaces_atomically(tmp_path, served):
    d, _, resources = served
    name = "t10k-labels-idx1-ubyte.gz"
    target = tmp_path / name
    target.write_bytes(b"old")
    with serve(d) as url:
        download_file(url + name, target, resources[name])
    assert check_file(target, resources[name]) and target.stat().st_mode & 0o777 == 0o644
    with pytest.raises(DatasetError, match="checksum"):
        check_file(target, "crc:1234")


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError), atomic_write(target) as f:
        f.write(b"new")
        1 / 0  # noqa: B018
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == ["f.bin"]


def test_cifar_download_extracts_only_expected_members(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    files = {f"cifar-10-batches-bin/data_batch_{i}.bin": cifar_records(2, i, 1)[0] for i in range(1, 6)}
    files["cifar-10-batches-bin/test_batch.bin"] = cifar_records(3, 9, 1)[0]
    files["../escape.bin"] = b"must not be written"
    (served / CIFAR10.archive).write_bytes(cifar_tar(files))
    monkeypatch.setattr(CIFAR10, "resources", {CIFAR10.archive: sha256(served / CIFAR10.archive)})
    with serve(served) as url:
        monkeypatch.setattr(CIFAR10, "mirrors", [url])
        ds = CIFAR10(root=tmp_path / "root", train=False, download=True)
    assert len(ds) == 3 and len(CIFAR10(root=tmp_path / "root")) == 10
    assert not (tmp_path / "root" / "escape.bin").exists() and not (tmp_path / "escape.bin").exists()


def test_corrupt_cifar_archive(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / CIFAR10.archive).write_bytes(b"not a tar.gz at all")
    monkeypatch.setattr(CIFAR10, "resources", {CIFAR10.archive: sha256(served / CIFAR10.archive)})
    with serve(served) as url:
        monkeypatch.setattr(CIFAR10, "mirrors", [url])
        with pytest.raises(DatasetError, match="tar.gz"):
            CIFAR10(root=tmp_path / "root", download=True)
