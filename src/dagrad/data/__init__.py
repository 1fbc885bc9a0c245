"""Data: map-style datasets, the DataLoader (batched fast path, shuffling, prefetch), standard datasets and
image transforms, as torch.utils.data and torchvision."""

from dagrad.data import datasets, download, transforms
from dagrad.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from dagrad.data.download import DatasetError
from dagrad.data.loader import DataLoader

__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DatasetError",
    "Subset",
    "TensorDataset",
    "datasets",
    "default_collate",
    "download",
    "random_split",
    "transforms",
]
