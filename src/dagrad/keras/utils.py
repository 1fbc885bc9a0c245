"""Keras utilities: to_categorical (one-hot labels), set_random_seed, clear_session."""

from __future__ import annotations

import random
from typing import Any

import numpy

from dagrad.autograd.tensor import Tensor
from dagrad.backend import manual_seed
from dagrad.errors import ArgumentError
from dagrad.keras import layers


def to_categorical(x: Any, num_classes: int | None = None, dtype: Any = "float32") -> numpy.ndarray:
    """One-hot rows for integer labels: shape x.shape + (num_classes,) (a trailing axis of size 1 is dropped
    first, as Keras); num_classes defaults to max(x) + 1."""
    labels = numpy.asarray(x.data if isinstance(x, Tensor) else x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.size and (labels.dtype.kind not in "iub" and not numpy.array_equal(labels, numpy.round(labels))):
        raise ArgumentError(f"to_categorical: expected integer class labels, received values of dtype {labels.dtype}")
    labels = labels.astype(numpy.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ArgumentError(
            f"to_categorical: expected labels in [0, {num_classes}), received labels in "
            f"[{labels.min()}, {labels.max()}]"
        )
    out = numpy.zeros((labels.size, num_classes), dtype=dtype)
    out[numpy.arange(labels.size), labels.reshape(-1)] = 1
    return out.reshape(*labels.shape, num_classes)


def set_random_seed(seed: int) -> None:
    """Seed Python's, NumPy's global and dagrad's generators, so a run (init, shuffling, dropout) repeats."""
    random.seed(seed)
    numpy.random.seed(seed)
    manual_seed(seed)


def clear_session() -> None:
    """Restart the automatic layer names ('dense', 'dense_1', ...) from the beginning."""
    layers._NAME_COUNTS.clear()


__all__ = ["to_categorical", "set_random_seed", "clear_session"]
