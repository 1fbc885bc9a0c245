"""Deterministic float64 sample arrays for the op registry's gradient and parity tests."""

from __future__ import annotations

import numpy

_rng = numpy.random.default_rng(1234)


def arr(*shape: int, low: float | None = None, high: float | None = None) -> numpy.ndarray:
    """Standard-normal values, or uniform in [low, high) when a range is given."""
    if low is None:
        return _rng.standard_normal(shape)
    return _rng.uniform(low, high, shape)


def pos(*shape: int) -> numpy.ndarray:
    """Positive values in [0.5, 2): for log, sqrt, division, powers."""
    return _rng.uniform(0.5, 2.0, shape)


def away(*shape: int, gap: float = 0.1) -> numpy.ndarray:
    """Values of either sign with |v| >= gap: keeps finite differences off kinks such as relu's and abs's."""
    v = _rng.uniform(gap, 1.5, shape)
    return v * _rng.choice([-1.0, 1.0], shape)


def distinct(*shape: int) -> numpy.ndarray:
    """A random permutation of well-separated values: no ties for max/min/sort-like ops."""
    n = int(numpy.prod(shape)) if shape else 1
    return (_rng.permutation(n).astype(numpy.float64) * 0.3 - 0.15 * n).reshape(shape)


def ints(high: int, *shape: int) -> numpy.ndarray:
    """int64 values in [0, high): indices for gather, index_select, embedding."""
    return _rng.integers(0, high, shape)


def mask(*shape: int) -> numpy.ndarray:
    """A boolean array with both values present."""
    m = _rng.random(shape) < 0.5
    m.flat[0] = True
    if m.size > 1:
        m.flat[-1] = False
    return m
