"""Keras weight initializers: an Initializer is called with (shape, dtype) and returns a new array.

Fans follow Keras: a kernel (in, out) has fan_in = in, fan_out = out; a convolution kernel (kh, kw, in, out) has
fan_in = kh * kw * in and fan_out = kh * kw * out. VarianceScaling draws with variance scale / fan: uniform in
[-sqrt(3 * var), sqrt(3 * var)], or a normal truncated at two standard deviations whose std is corrected by
0.8796... so the truncated draws keep the variance. GlorotUniform (Keras' default kernel init) is
VarianceScaling(1, 'fan_avg', 'uniform'). Draws come from dagrad's global generator (dagrad.manual_seed) unless
the initializer has a seed of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy

from dagrad import backend
from dagrad.errors import ArgumentError

_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape`, as Keras counts them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: __call__(shape, dtype=None) -> array of that shape (dtype: dagrad's default float)."""

    seed: int | None = None

    def _rng(self) -> numpy.random.Generator:
        return backend.rng() if self.seed is None else numpy.random.default_rng(self.seed)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> numpy.ndarray:
        return self.sample(tuple(shape)).astype(dtype or backend.get_default_dtype(), copy=False)

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return numpy.zeros(shape)


class Ones(Initializer):
    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return numpy.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return numpy.full(shape, self.value)


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return self._rng().uniform(self.minval, self.maxval, shape)


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return self._rng().normal(self.mean, self.stddev, shape)


def _truncated_normal(rng: numpy.random.Generator, mean: float, std: float, shape: tuple[int, ...]) -> numpy.ndarray:
    """Normal draws, redrawing those more than two standard deviations from the mean."""
    out = rng.standard_normal(shape)
    bad = numpy.flatnonzero(numpy.abs(out) > 2)
    while bad.size:
        redraw = rng.standard_normal(bad.size)
        out.flat[bad] = redraw
        bad = bad[numpy.abs(redraw) > 2]
    return out * std + mean


class TruncatedNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        return _truncated_normal(self._rng(), self.mean, self.stddev, shape)


class VarianceScaling(Initializer):
    """Draws with variance scale / n, n = fan_in, fan_out or their mean ('fan_avg')."""

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", seed: int | None = None
    ) -> None:
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ArgumentError(
                f"VarianceScaling: expected mode 'fan_in', 'fan_out' or 'fan_avg', received mode={mode!r}"
            )
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ArgumentError(
                "VarianceScaling: expected distribution 'truncated_normal', 'untruncated_normal' or 'uniform', "
                f"received distribution={distribution!r}"
            )
        if not scale > 0:
            raise ArgumentError(f"VarianceScaling: expected scale > 0, received scale={scale!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def sample(self, shape: tuple[int, ...]) -> numpy.ndarray:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(var), shape)
        return _truncated_normal(rng, 0.0, math.sqrt(var) / _TRUNC_STD, shape)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


_NAMED: dict[str, Callable[[], Initializer]] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}  # fmt: skip


def get(identifier: str | Initializer | Callable, who: str = "initializer") -> Initializer | Callable:
    """An Initializer from its Keras name ('glorot_uniform', 'he_normal', 'zeros', ...); an Initializer or a
    function (shape, dtype) -> array is returned unchanged."""
    if isinstance(identifier, str):
        key = identifier if identifier in _NAMED else _snake(identifier)
        if key not in _NAMED:
            raise ArgumentError(f"{who}: unknown initializer {identifier!r}; expected one of {sorted(_NAMED)}")
        return _NAMED[key]()
    if callable(identifier):
        return identifier
    raise ArgumentError(f"{who}: expected an initializer name or object, received {type(identifier).__name__}")


def _snake(name: str) -> str:
    """'GlorotUniform' -> 'glorot_uniform' (Keras accepts class names as identifiers too)."""
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "compute_fans", "get",
]  # fmt: skip
