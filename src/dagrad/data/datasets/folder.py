"""ImageFolder: images sorted into one sub-directory per class (root/cat/1.png, root/dog/7.jpg, ...).

Decoding PNG and JPEG needs Pillow, an optional extra: pip install 'dagrad[images]'.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

from dagrad.creation import from_numpy
from dagrad.data.dataset import Dataset, TensorDataset
from dagrad.data.datasets.vision import to_float_chw
from dagrad.data.download import DatasetError

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "pil_loader"]

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def pil_loader(path: str | os.PathLike, mode: str = "RGB") -> numpy.ndarray:
    """The image at `path` as a uint8 (H, W, C) array, converted to `mode` ('RGB', 'L', ...) by Pillow."""
    try:
        from PIL import Image
    except ImportError as e:
        raise DatasetError("ImageFolder: expected Pillow to decode PNG/JPEG images, received no PIL module; "
                           "install it with: pip install 'dagrad[images]'") from e  # fmt: skip
    try:
        with Image.open(path) as img:
            array = numpy.asarray(img.convert(mode))
    except OSError as e:
        raise DatasetError(f"ImageFolder: expected a readable image at {path}, received ({e})") from e
    return array if array.ndim == 3 else array[:, :, None]


class ImageFolder(Dataset):
    """Samples (image, class index) from root/<class>/<image>; classes are the sub-directory names, sorted.

    Items: image a float32 Tensor (C, H, W) in [0, 1] (C = 3 for mode 'RGB', 1 for 'L') passed through
    `transform`; label an int passed through `target_transform`. `.samples` lists (path, index), `.targets` is
    int64. `loader(path)` may replace Pillow: it returns a uint8 (H, W, C) array.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        loader: Callable[[str], numpy.ndarray] | None = None,
        extensions: tuple[str, ...] = IMG_EXTENSIONS,
        mode: str = "RGB",
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"ImageFolder: expected a directory of class folders, received {self.root}")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        exts = tuple(e.lower() for e in extensions)
        self.samples = [
            (str(p), i)
            for i, c in enumerate(self.classes)
            for p in sorted((self.root / c).rglob("*"))
            if p.is_file() and p.suffix.lower() in exts
        ]
        if not self.samples:
            raise DatasetError(f"ImageFolder: expected images ({', '.join(exts)}) under {self.root}/<class>/, "
                               f"received none in {len(self.classes)} class folders")  # fmt: skip
        self.targets = numpy.array([i for _, i in self.samples], dtype=numpy.int64)
        self.transform, self.target_transform = transform, target_transform
        self.loader = loader if loader is not None else lambda path: pil_loader(path, mode)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        image = from_numpy(to_float_chw(self.loader(path)[None])[0])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def as_tensor_dataset(self) -> TensorDataset:
        """Every image decoded into one float32 (N, C, H, W) Tensor with the int64 labels (images of one size)."""
        images = [self.loader(path) for path, _ in self.samples]
        shapes = {a.shape for a in images}
        if len(shapes) > 1:
            raise DatasetError(f"ImageFolder.as_tensor_dataset: expected images of one size, received {sorted(shapes)}")
        return TensorDataset(from_numpy(to_float_chw(numpy.stack(images))), from_numpy(self.targets.copy()))
