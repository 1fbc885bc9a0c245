"""DataLoader: batches of a map-style dataset, shuffled with a seeded generator, optionally prefetched.

A batch is made by `dataset.get_batch(indices)` when the dataset has it (TensorDataset and the image datasets
build it with one fancy-index per array), otherwise by collating samples one by one. `prefetch=N` prepares the
next N batches in a background thread, so loading and transforms overlap with the training step (NumPy releases
the GIL in its copy and arithmetic loops).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy

from dagrad import backend
from dagrad.data.dataset import _batch
from dagrad.errors import ArgumentError

__all__ = ["DataLoader"]

_END = object()


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` Tensors, as torch.utils.data.DataLoader.

    shuffle: a new permutation each epoch, drawn from `generator` (the global generator when None, so
    dg.manual_seed makes the order reproducible). drop_last: skip the last, incomplete batch. collate_fn: turns a
    list of samples into a batch (giving one turns off the dataset's `get_batch` fast path). prefetch: how many
    batches a background thread prepares ahead. Random transforms running in that thread draw from their
    generator in the thread's own order; give them a generator of their own to keep a run reproducible.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list], Any] | None = None,
        generator: backend.Generator | None = None,
        prefetch: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)) or batch_size < 1:
            raise ArgumentError(f"DataLoader: expected batch_size a positive integer, received {batch_size!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, numpy.integer)) or prefetch < 0:
            raise ArgumentError(f"DataLoader: expected prefetch a non-negative integer, received {prefetch!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self.prefetch = int(prefetch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self) -> Iterator[numpy.ndarray]:
        """The index arrays of this epoch's batches (the permutation is drawn when called)."""
        n = len(self.dataset)
        order = backend.rng(self.generator).permutation(n) if self.shuffle else numpy.arange(n)
        stop = len(self) * self.batch_size
        return (order[i : min(i + self.batch_size, n)] for i in range(0, stop, self.batch_size))

    def _fetch(self, indices: numpy.ndarray) -> Any:
        if self.collate_fn is None:
            return _batch(self.dataset, indices)
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    def __iter__(self) -> Iterator[Any]:
        batches = self._batches()
        if self.prefetch:
            return self._prefetched(batches)
        return map(self._fetch, batches)

    def _prefetched(self, batches: Iterator[numpy.ndarray]) -> Iterator[Any]:
        """Fetch `batches` in a worker thread, at most `prefetch` ahead; errors there are raised here, in order."""
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                for indices in batches:
                    if not put(self._fetch(indices)):
                        return
                put(_END)
            except BaseException as e:
                put(_Failure(e))

        worker = threading.Thread(target=work, name="dagrad-prefetch", daemon=True)
        worker.start()
        try:
            while (item := ready.get()) is not _END:
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            stop.set()
            worker.join()


class _Failure:
    """An exception raised in the prefetch thread, carried to the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error
