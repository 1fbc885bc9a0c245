"""Datasets in their standard formats: IDX (MNIST, FashionMNIST, KMNIST), CIFAR binary, image folders, and the
Fashion-MNIST subset shipped with dagrad."""

from dagrad.data.datasets.cifar import CIFAR10, CIFAR100, read_cifar_binary
from dagrad.data.datasets.embedded import EmbeddedFashionMNIST, embedded_fashion_mnist
from dagrad.data.datasets.folder import ImageFolder
from dagrad.data.datasets.mnist import KMNIST, MNIST, FashionMNIST, read_idx, write_idx
from dagrad.data.datasets.vision import VisionDataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "KMNIST",
    "MNIST",
    "EmbeddedFashionMNIST",
    "FashionMNIST",
    "ImageFolder",
    "VisionDataset",
    "embedded_fashion_mnist",
    "read_cifar_binary",
    "read_idx",
    "write_idx",
]
