"""VisionDataset: the part every array-backed image dataset shares (finding, downloading, items, batches).

A subclass names its files per split and its mirrors, and parses the files into `.data` (uint8, (N, H, W) or
(N, H, W, C) as torchvision) and `.targets` (int64 (N,)). Items are (image, label): image a float32 Tensor
(C, H, W) in [0, 1] passed through `transform`, label an int passed through `target_transform`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.creation import from_numpy
from dagrad.data import download as dl
from dagrad.data.dataset import Dataset, TensorDataset, default_collate

__all__ = ["VisionDataset", "check_labels", "to_float_chw"]


def to_float_chw(images: numpy.ndarray) -> numpy.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) images as a C-contiguous float32 (N, C, H, W) array in [0, 1]."""
    chw = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    out = numpy.empty(chw.shape, backend.float32)
    numpy.divide(chw, numpy.float32(255), out=out)
    return out


class VisionDataset(Dataset):
    """Base of the IDX and CIFAR datasets; see the module docstring.

    Subclasses set `folder` (directory name under a root or the cache), `mirrors` (base URLs, overridable),
    `resources` ({file name: 'md5:<hex>' or 'sha256:<hex>'}), `split_files` ({'train': names, 'test': names}),
    `system_dirs` (extra places to look) and `classes`, and define `_parse(paths)`.
    """

    folder: str = ""
    mirrors: list[str] = []
    resources: dict[str, str] = {}
    split_files: dict[str, tuple[str, ...]] = {}
    system_dirs: tuple[str, ...] = ()
    classes: list[str] = []

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root = None if root is None else Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        paths = self._find()
        if paths is None:
            if not download:
                names = ", ".join(self._names())
                places = "\n  ".join(str(d) for d in self._search_dirs())
                raise dl.DatasetError(f"{type(self).__name__}: expected the {self.split} files {names} in one of\n  "
                                      f"{places}\nreceived none there; pass download=True to fetch them")  # fmt: skip
            paths = self._download()
        self.data, self.targets = self._parse(paths)

    @property
    def split(self) -> str:
        return "train" if self.train else "test"

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _names(self) -> tuple[str, ...]:
        return self.split_files[self.split]

    def _search_dirs(self) -> list[Path]:
        return dl.search_dirs(self.root, self.folder, self.system_dirs)

    def _find(self) -> list[Path] | None:
        return dl.locate(self._names(), self._search_dirs())

    def download_dir(self) -> Path:
        """Where download=True puts the files: `root/<folder>` when a root was given, else the cache."""
        return (self.root if self.root is not None else dl.cache_dir()) / self.folder

    def _download(self) -> list[Path]:
        """Fetch this split's missing files from `mirrors` into download_dir(), checking their checksums."""
        dest = self.download_dir()
        for name in self._names():
            if not (dest / name).is_file() or not dl.check_file(dest / name, self.resources[name]):
                dl.download_resource(name, self.mirrors, dest, self.resources[name])
        return [dest / name for name in self._names()]

    def _parse(self, paths: list[Path]) -> tuple[numpy.ndarray, numpy.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = from_numpy(to_float_chw(self.data[index][None])[0])
        target = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def get_batch(self, indices: numpy.ndarray) -> Any:
        """(images (B, C, H, W), labels (B,)) with one gather; a batched transform sees the whole batch at once."""
        batched = self.transform is None or getattr(self.transform, "batched", False)
        if self.target_transform is not None or not batched:
            return default_collate([self[int(i)] for i in indices])
        images: Tensor = from_numpy(to_float_chw(self.data[indices]))
        if self.transform is not None:
            images = self.transform(images)
        return [images, from_numpy(self.targets[indices])]

    def as_tensor_dataset(self) -> TensorDataset:
        """All images as one float32 (N, C, H, W) Tensor in [0, 1] and the labels as int64: no transforms applied."""
        return TensorDataset(from_numpy(to_float_chw(self.data)), from_numpy(numpy.array(self.targets)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r}, size={len(self)}, root={self.root})"


def check_labels(labels: numpy.ndarray, n_classes: int, what: str, path: Path) -> numpy.ndarray:
    """Labels as int64, after checking that every one names a class."""
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise dl.DatasetError(f"{what}: expected labels in [0, {n_classes}) in {path}, "
                              f"received {labels.min()}..{labels.max()} (corrupt file?)")  # fmt: skip
    return labels.astype(backend.int64)
