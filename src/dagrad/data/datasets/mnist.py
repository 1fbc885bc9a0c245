"""MNIST, Fashion-MNIST and Kuzushiji-MNIST in their IDX files (gzipped or not), and the IDX reader/writer.

IDX: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, then each dimension as a big-endian uint32, then the values, big-endian, row-major.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy

from dagrad.data.datasets.vision import VisionDataset, check_labels
from dagrad.data.download import DatasetError, atomic_write, read_bytes

__all__ = ["KMNIST", "MNIST", "FashionMNIST", "read_idx", "write_idx"]

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> numpy.ndarray:
    """The array stored in the IDX file at `path` (gzipped or not), after checking its magic number and size."""
    raw = read_bytes(path, "read_idx")
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"read_idx: expected an IDX file (magic 00 00 <type> <ndim>) at {path}, "
                           f"received one starting {bytes(raw[:4]).hex(' ')}")  # fmt: skip
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DatasetError(f"read_idx: expected a {header}-byte header in {path}, received {len(raw)} bytes in all")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = numpy.dtype(_IDX_TYPES[raw[2]])
    size = header + int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    if len(raw) != size:
        raise DatasetError(f"read_idx: expected {size} bytes for shape {shape} of {dtype.name} in {path}, "
                           f"received {len(raw)} (truncated or corrupt)")  # fmt: skip
    array = numpy.frombuffer(raw, dtype, offset=header).reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: numpy.ndarray, compresslevel: int = 9) -> None:
    """Write `array` as an IDX file, gzipped (reproducibly: no name, no time stamp) when `path` ends in .gz."""
    array = numpy.asarray(array)
    codes = {numpy.dtype(v).newbyteorder(">"): k for k, v in _IDX_TYPES.items()}
    big = array.dtype.newbyteorder(">")
    if big not in codes:
        raise DatasetError(f"write_idx: expected uint8, int8, int16, int32, float32 or float64, received {array.dtype}")
    body = struct.pack(f">BBBB{array.ndim}I", 0, 0, codes[big], array.ndim, *array.shape) + array.astype(big).tobytes()
    if str(path).endswith(".gz"):
        body = gzip.compress(body, compresslevel=compresslevel, mtime=0)
    with atomic_write(path) as f:
        f.write(body)


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test 28x28 grey images, labels 0-9.

    `.data` is uint8 (N, 28, 28), `.targets` int64 (N,); items are (float32 (1, 28, 28) Tensor in [0, 1], int).
    """

    folder = "MNIST"
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    }
    split_files = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]  # fmt: skip

    def _parse(self, paths: list[Path]) -> tuple[numpy.ndarray, numpy.ndarray]:
        name = type(self).__name__
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or images.dtype != numpy.uint8:
            raise DatasetError(f"{name}: expected uint8 images (N, H, W) in {paths[0]}, "
                               f"received {images.dtype} of shape {images.shape}")  # fmt: skip
        if labels.ndim != 1 or labels.dtype != numpy.uint8 or len(labels) != len(images):
            raise DatasetError(f"{name}: expected {len(images)} uint8 labels in {paths[1]}, "
                               f"received {labels.dtype} of shape {labels.shape}")  # fmt: skip
        return images, check_labels(labels, len(self.classes), name, paths[1])


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, laid out as MNIST.

    Also found where the Debian package dataset-fashion-mnist installs it (/usr/share/datasets/fashion-mnist).
    """

    folder = "FashionMNIST"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    }
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 grey images of 10 cursive Japanese (hiragana) characters, laid out as MNIST."""

    folder = "KMNIST"
    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = {
        "train-images-idx3-ubyte.gz": "md5:bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "md5:e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "md5:5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "md5:7320c461ea6c1c855c0b718fb2a4b134",
    }
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
