"""CIFAR-10 and CIFAR-100 from their BINARY version (never the pickled "python version": no unpickling).

A binary file is a run of fixed-size records: the label byte(s) (CIFAR-10: the class; CIFAR-100: the coarse then
the fine class), then 3072 bytes of pixels, the red, green and blue 32x32 planes in turn. Downloads fetch the
official .tar.gz and extract only the expected regular files, by name, so an archive cannot write elsewhere.
"""

from __future__ import annotations

import shutil
import tarfile
import zlib
from pathlib import Path

import numpy

from dagrad.data.datasets.vision import VisionDataset, check_labels
from dagrad.data.download import DatasetError, atomic_write, check_file, download_resource, read_bytes

__all__ = ["CIFAR10", "CIFAR100", "read_cifar_binary"]

_PIXELS = 3 * 32 * 32


def read_cifar_binary(paths: list[Path], label_bytes: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The images (N, 32, 32, 3) uint8 (a channels-last view of the records) and labels (N, label_bytes) uint8."""
    record = label_bytes + _PIXELS
    chunks = []
    for path in paths:
        raw = read_bytes(path, "read_cifar_binary")
        if not raw or len(raw) % record:
            raise DatasetError(f"read_cifar_binary: expected a whole number of {record}-byte records in {path}, "
                               f"received {len(raw)} bytes (truncated or not a CIFAR binary file)")  # fmt: skip
        chunks.append(numpy.frombuffer(raw, numpy.uint8).reshape(-1, record))
    records = chunks[0] if len(chunks) == 1 else numpy.concatenate(chunks)
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, records[:, :label_bytes]


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    `.data` is uint8 (N, 32, 32, 3) as torchvision, `.targets` int64 (N,); items are (float32 (3, 32, 32) Tensor
    in [0, 1], int).
    """

    folder = "CIFAR10"
    archive = "cifar-10-binary.tar.gz"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    resources = {archive: "md5:c32a1d4ab5d03f1284b67883e8d87530"}
    split_files = {
        "train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
        "test": ("cifar-10-batches-bin/test_batch.bin",),
    }
    label_bytes = 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def _parse(self, paths: list[Path]) -> tuple[numpy.ndarray, numpy.ndarray]:
        images, labels = read_cifar_binary(paths, self.label_bytes)
        return images, check_labels(labels[:, -1], len(self.classes), type(self).__name__, paths[0])

    def _download(self) -> list[Path]:
        """Fetch the archive (checksum-verified) into download_dir() and extract the split files from it."""
        dest = self.download_dir()
        archive = dest / self.archive
        if not archive.is_file() or not check_file(archive, self.resources[self.archive]):
            download_resource(self.archive, self.mirrors, dest, self.resources[self.archive])
        wanted = {name for names in self.split_files.values() for name in names}
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    if member.name in wanted and member.isfile():
                        with tar.extractfile(member) as src, atomic_write(dest / member.name) as out:
                            shutil.copyfileobj(src, out)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DatasetError(f"{type(self).__name__}: expected a readable tar.gz at {archive}, received ({e})") from e
        missing = [name for name in self._names() if not (dest / name).is_file()]
        if missing:
            raise DatasetError(f"{type(self).__name__}: expected {missing} in {archive}, received an archive without")
        return [dest / name for name in self._names()]


class CIFAR100(CIFAR10):
    """CIFAR-100: as CIFAR-10 with 100 fine classes; `.targets` are the fine labels, `.coarse_targets` the 20
    superclasses (`coarse_classes`)."""

    folder = "CIFAR100"
    archive = "cifar-100-binary.tar.gz"
    resources = {archive: "md5:03b5dce01913d631647c71ecec9e9cb8"}
    split_files = {"train": ("cifar-100-binary/train.bin",), "test": ("cifar-100-binary/test.bin",)}
    label_bytes = 2
    classes = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel
    can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
    elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man
    maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree
    plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail
    snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout
    tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
    coarse_classes = """aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices
    household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes
    large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees
    vehicles_1 vehicles_2""".split()

    def _parse(self, paths: list[Path]) -> tuple[numpy.ndarray, numpy.ndarray]:
        images, labels = read_cifar_binary(paths, self.label_bytes)
        name = type(self).__name__
        self.coarse_targets = check_labels(labels[:, 0], len(self.coarse_classes), name, paths[0])
        return images, check_labels(labels[:, 1], len(self.classes), name, paths[0])
