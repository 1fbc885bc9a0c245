"""Map-style datasets as in torch.utils.data: Dataset, TensorDataset, Subset, ConcatDataset, random_split.

Besides `__getitem__` (one sample) a dataset may answer `get_batch(indices)` with a whole collated batch; the
DataLoader calls it, so datasets that hold whole arrays (TensorDataset, the image datasets) make a batch with one
fancy-index per array instead of a Python loop over samples. The base class's `get_batch` is that loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.tensor import Tensor, as_array
from dagrad.creation import from_numpy
from dagrad.errors import ArgumentError, ShapeError

__all__ = ["ConcatDataset", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as torch's default_collate.

    Tensors and arrays are stacked along a new first axis (the batch holds data, no autograd history); Python
    ints become an int64 Tensor, floats a float64 Tensor, bools a bool Tensor; tuples and lists are collated
    field by field (into a list), mappings key by key; strings are returned as a list.
    """
    first = samples[0]
    if isinstance(first, Tensor) or isinstance(first, backend.ndarray_types):
        arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
        if any(a.shape != arrays[0].shape for a in arrays):
            shapes = sorted({a.shape for a in arrays})
            raise ShapeError(f"default_collate: expected samples of one shape, received shapes {shapes}")
        return from_numpy(backend.namespace(arrays[0]).stack(arrays))
    if isinstance(first, (bool, numpy.bool_)):
        return from_numpy(numpy.array(samples, dtype=backend.bool_))
    if isinstance(first, (int, numpy.integer)):
        return from_numpy(numpy.array(samples, dtype=backend.int64))
    if isinstance(first, float):
        return from_numpy(numpy.array(samples, dtype=backend.float64))
    if isinstance(first, numpy.number):
        return from_numpy(numpy.array(samples))
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Sequence):
        if any(len(s) != len(first) for s in samples):
            raise ShapeError(f"default_collate: expected samples with {len(first)} fields each, received other lengths")
        fields = [default_collate(list(f)) for f in zip(*samples)]
        return type(first)(*fields) if hasattr(first, "_fields") else fields
    raise ArgumentError(f"default_collate: expected Tensors, arrays, numbers, strings, sequences or mappings, "
                        f"received {type(first).__name__}")  # fmt: skip


class Dataset:
    """A map-style dataset: subclasses define `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])

    def get_batch(self, indices: numpy.ndarray) -> Any:
        """The collated batch of samples `indices` (a 1-D int array); override to build it without a loop."""
        return default_collate([self[int(i)] for i in indices])


def _batch(dataset: Any, indices: numpy.ndarray) -> Any:
    """`dataset.get_batch(indices)` when it has one (any map-style object works), else collate sample by sample."""
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return get_batch(indices)
    return default_collate([dataset[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Samples are rows of tensors of equal length: item i is (t[i] for t in tensors)."""

    def __init__(self, *tensors: Tensor | Any) -> None:
        if not tensors:
            raise ArgumentError("TensorDataset: expected at least one tensor, received none")
        tensors = tuple(t if isinstance(t, Tensor) else from_numpy(as_array(t)) for t in tensors)
        n = tensors[0].shape[0] if tensors[0].ndim else None
        if n is None or any(t.ndim == 0 or t.shape[0] != n for t in tensors):
            raise ShapeError(f"TensorDataset: expected tensors of one length along dim 0, "
                             f"received shapes {[tuple(t.shape) for t in tensors]}")  # fmt: skip
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: numpy.ndarray) -> list[Tensor]:
        """One fancy-index per tensor: a list of (len(indices), ...) Tensors, copies of the rows."""
        return [from_numpy(t.data[indices]) for t in self.tensors]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | numpy.ndarray) -> None:
        self.dataset = dataset
        self.indices = numpy.asarray(indices, dtype=backend.int64).reshape(-1)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: numpy.ndarray) -> Any:
        return _batch(self.dataset, self.indices[indices])


class ConcatDataset(Dataset):
    """Datasets one after another: indices 0..len(a)-1 are a's, then b's, and so on."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ArgumentError("ConcatDataset: expected at least one dataset, received none")
        self.cumulative_sizes = numpy.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def _locate(self, indices: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
        """For each global index: which dataset, and the index inside it."""
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            lo, hi = indices.min(), indices.max()
            raise IndexError(f"ConcatDataset: expected indices in [-{n}, {n}), received {lo}..{hi}")
        indices = numpy.where(indices < 0, indices + n, indices)
        which = numpy.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = numpy.concatenate(([0], self.cumulative_sizes[:-1]))
        return which, indices - starts[which]

    def __getitem__(self, index: int) -> Any:
        which, local = self._locate(numpy.asarray([index]))
        return self.datasets[which[0]][int(local[0])]

    def get_batch(self, indices: numpy.ndarray) -> Any:
        """Batch each part's share with its own get_batch, then put the rows back in the requested order."""
        which, local = self._locate(numpy.asarray(indices))
        parts = numpy.unique(which)
        if len(parts) == 1:
            return _batch(self.datasets[parts[0]], local)
        order = numpy.argsort(which, kind="stable")
        pieces = [_batch(self.datasets[k], local[order][which[order] == k]) for k in parts]
        inverse = numpy.empty_like(order)
        inverse[order] = numpy.arange(len(order))
        return _concat(pieces, inverse)


def _concat(pieces: list[Any], inverse: numpy.ndarray) -> Any:
    """Join collated batches along dim 0 and reorder the rows by `inverse` (same structure as the pieces)."""
    first = pieces[0]
    if isinstance(first, Tensor):
        if any(p.shape[1:] != first.shape[1:] or p.dtype != first.dtype for p in pieces):
            parts = sorted({(tuple(p.shape[1:]), str(p.dtype)) for p in pieces})
            raise ShapeError(f"ConcatDataset: expected samples of one shape and dtype, received {parts}")
        return from_numpy(backend.namespace(first.data).concatenate([p.data for p in pieces])[inverse])
    if isinstance(first, Mapping):
        return {k: _concat([p[k] for p in pieces], inverse) for k in first}
    if isinstance(first, (list, tuple)) and not isinstance(first[0], (str, bytes)):
        fields = [_concat(list(f), inverse) for f in zip(*pieces)]
        return type(first)(*fields) if hasattr(first, "_fields") else type(first)(fields)
    flat = [v for p in pieces for v in p]
    return [flat[i] for i in inverse]


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: backend.Generator | None = None
) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths, as torch.utils.data.random_split.

    `lengths` are sizes summing to len(dataset), or fractions summing to 1 (floor of each share, the remainder
    handed out one by one from the first split on).
    """
    n = len(dataset)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if any(isinstance(x, float) and not x.is_integer() for x in lengths) or any(x < 0 for x in lengths):
        raise ArgumentError(f"random_split: expected non-negative sizes or fractions summing to 1, received {lengths}")
    if sum(lengths) != n:
        raise ArgumentError(f"random_split: expected lengths summing to len(dataset)={n}, received {list(lengths)}")
    perm = backend.rng(generator).permutation(n)
    bounds = numpy.cumsum([0, *(int(x) for x in lengths)])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
