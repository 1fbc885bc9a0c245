"""Elementwise selection with broadcasting: where, clamp/clip, maximum, minimum, lerp.

These ops are piecewise linear in their tensor inputs, so their gradients are the incoming gradient
routed by a mask (second derivatives are zero away from the kinks). maximum/minimum split the gradient
0.5/0.5 on exact ties, and clamp passes it where min <= x <= max, as PyTorch does.
"""

from __future__ import annotations

from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops._util import promote, tsum
from dagrad.ops.sampling import arr, distinct, mask

_BLEND_MIN = 1 << 14  # below this many elements numpy.where's own loop is the faster one


def select(cond, a, b):
    """where(cond, a, b) on raw arrays of one dtype (a or b may be 0-d), broadcasting all three.

    numpy.where branches per element and mispredicts on random masks (3.6 ms for 1M float32 here);
    large NumPy selections are done as a branch-free bitwise blend instead (0.5 ms), bit-exact.
    """
    xp = namespace(cond, a, b)
    dtype = a.dtype
    shape = xp.broadcast_shapes(cond.shape, a.shape, b.shape)
    size = 1
    for n in shape:
        size *= n
    if xp is not backend.numpy or size < _BLEND_MIN or dtype.itemsize not in (1, 2, 4, 8) or b.dtype != dtype:
        return xp.where(cond, a, b)
    u = xp.dtype(f"u{dtype.itemsize}")
    m = xp.broadcast_to(cond, shape).astype(u)
    xp.negative(m, out=m)  # True -> all ones, False -> 0
    bu = xp.broadcast_to(b, shape).view(u)
    out = xp.bitwise_xor(xp.broadcast_to(a, shape).view(u), bu)
    out &= m
    out ^= bu
    return out.view(dtype)


def _zero(like) -> Any:
    return namespace(like).zeros((), like.dtype)


class Where(Function):
    """cond ? x : y elementwise; cond is a bool array (never differentiated)."""

    __slots__ = ()
    retain = (0,)

    def forward(self, cond, x, y):
        xp = namespace(cond, x, y)
        if not hasattr(x, "dtype"):
            x = xp.asarray(x, y.dtype)
        if not hasattr(y, "dtype"):
            y = xp.asarray(y, x.dtype)
        return select(cond, x, y)

    def backward(self, g):
        cond = _raw(self.saved[0])
        return (
            None,
            Where.apply(cond, g, 0.0) if self.needs(1) else None,
            Where.apply(cond, 0.0, g) if self.needs(2) else None,
        )

    def jvp(self, inputs, out, t):
        cond = _raw(inputs[0])
        tx = t[1] if t[1] is not None else _make(_zero(out.data))
        ty = t[2] if t[2] is not None else _make(_zero(out.data))
        return Where.apply(cond, tx, ty)

    @staticmethod
    def samples():
        torch = lambda T, c, x, y: T.where(c, x, y)  # noqa: E731
        yield Sample(mask(3, 4), arr(3, 4), arr(3, 4), torch=torch)
        yield Sample(mask(3, 1), arr(4), arr(2, 3, 1), torch=torch, name="broadcast")
        yield Sample(
            mask(3, 4), arr(3, 4), call=lambda c, x: where(c, x, 0.5), torch=lambda T, c, x: T.where(c, x, 0.5)
        )


def _raw(t: Any) -> Any:
    return t.data if isinstance(t, Tensor) else t


class Clamp(Function):
    """x limited to [min, max] (either may be None); the gradient passes where min <= x <= max."""

    __slots__ = ("lo", "hi")
    retain = (0,)

    def forward(self, x, min=None, max=None):
        self.lo, self.hi = min, max
        return namespace(x).clip(x, min, max)

    def backward(self, g):
        return Where.apply(self._inside(self.saved[0].data), g, 0.0)

    def jvp(self, inputs, out, t):
        return Where.apply(self._inside(inputs[0].data), t[0], 0.0)

    def _inside(self, x):
        if self.lo is None:
            return x <= self.hi
        m = x >= self.lo
        if self.hi is not None:
            m &= x <= self.hi
        return m

    @staticmethod
    def samples():
        x = distinct(3, 4) / 2
        yield Sample(x, min=-0.55, max=0.65, torch=lambda T, x, min, max: T.clamp(x, min, max))
        yield Sample(x, min=0.05, torch=lambda T, x, min: T.clamp(x, min=min), name="min")
        yield Sample(x, max=0.05, torch=lambda T, x, max: T.clamp(x, max=max), name="max")
        yield Sample(x, min=0.35, max=-0.25, torch=lambda T, x, min, max: T.clamp(x, min, max), name="min>max")


class ClampTensor(Function):
    """clamp with tensor bounds (broadcasting); the gradient goes to x, min or max, as in PyTorch."""

    __slots__ = ()
    retain = (0, 1, 2)

    def forward(self, x, lo, hi):
        xp = namespace(x, lo, hi)
        y = x if lo is None else xp.maximum(x, lo)
        return y if hi is None else xp.minimum(y, hi)

    def backward(self, g):
        x, lo, hi = (_raw(v) for v in self.saved)
        return tuple(
            None if m is None or not self.needs(i) else Where.apply(m, g, 0.0)
            for i, m in enumerate(self._masks(x, lo, hi))
        )

    def jvp(self, inputs, out, t):
        x, lo, hi = (_raw(v) for v in inputs)
        return tsum(*(None if ti is None else Where.apply(m, ti, 0.0) for m, ti in zip(self._masks(x, lo, hi), t)))

    @staticmethod
    def _masks(x, lo, hi):
        """Where the output equals x, min and max (PyTorch's clamp_backward rules)."""
        if hi is None:
            return x >= lo, x < lo, None
        if lo is None:
            return x <= hi, None, x > hi
        keep = (x >= lo) & (x <= hi)
        return keep, (x < lo) & (lo < hi), (x > hi) | (hi < lo)

    @staticmethod
    def samples():
        x = distinct(3, 4) / 2
        yield Sample(x, arr(3, 4) - 1, arr(4) + 1, torch=lambda T, x, lo, hi: T.clamp(x, lo, hi))
        yield Sample(x, arr(3, 1), call=lambda x, lo: clamp(x, min=lo), torch=lambda T, x, lo: T.clamp(x, min=lo))
        yield Sample(x, arr(4), call=lambda x, hi: clamp(x, max=hi), torch=lambda T, x, hi: T.clamp(x, max=hi))


class Maximum(Function):
    """Elementwise max(x, y); on ties each side gets half the gradient. NaN propagates."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, x, y):
        return namespace(x, y).maximum(x, y)

    def backward(self, g):
        x, y = (_raw(v) for v in self.saved)
        return _route(g, x, y, self.needs(0), self.needs(1))

    def jvp(self, inputs, out, t):
        x, y = (_raw(v) for v in inputs)
        return tsum(*_route_tangents(t, x, y))

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), torch=lambda T, x, y: T.maximum(x, y))
        yield Sample(arr(2, 3, 1), arr(4), torch=lambda T, x, y: T.maximum(x, y), name="broadcast")


class Minimum(Function):
    """Elementwise min(x, y); on ties each side gets half the gradient. NaN propagates."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, x, y):
        return namespace(x, y).minimum(x, y)

    def backward(self, g):
        x, y = (_raw(v) for v in self.saved)
        return _route(g, y, x, self.needs(0), self.needs(1))

    def jvp(self, inputs, out, t):
        x, y = (_raw(v) for v in inputs)
        return tsum(*_route_tangents(t, y, x))

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), torch=lambda T, x, y: T.minimum(x, y))
        yield Sample(arr(3, 1), arr(1, 4), torch=lambda T, x, y: T.minimum(x, y), name="broadcast")


def _share(win, lose, dtype):
    """The share of the gradient that goes to `win`'s side: 1 where win > lose, 0.5 on ties, else 0 (NaN: 1)."""
    xp = namespace(win, lose)
    s = xp.subtract(1, win < lose, dtype=dtype)
    s -= xp.multiply(0.5, win == lose, dtype=dtype)
    return s


def _route(g: Tensor, win, lose, need_first: bool, need_second: bool) -> tuple:
    """Gradients of max-like ops: the first input gets g * share(win), the second g * share(lose)."""
    dt = g.data.dtype
    return (
        g * _share(win, lose, dt) if need_first else None,
        g * _share(lose, win, dt) if need_second else None,
    )


def _route_tangents(t: list, win, lose) -> tuple:
    dt = (t[0] if t[0] is not None else t[1]).data.dtype
    return (
        None if t[0] is None else t[0] * _share(win, lose, dt),
        None if t[1] is None else t[1] * _share(lose, win, dt),
    )


class Lerp(Function):
    """start + weight * (end - start); weight is a number or a tensor."""

    __slots__ = ()
    retain = (0, 1, 2)

    def forward(self, start, end, weight):
        return start + weight * (end - start)

    def backward(self, g):
        start, end, w = self.saved
        return (
            g * (1 - w) if self.needs(0) else None,
            g * w if self.needs(1) else None,
            g * (end - start) if self.needs(2) else None,
        )

    def jvp(self, inputs, out, t):
        start, end, w = inputs
        return tsum(
            None if t[0] is None else t[0] * (1 - w),
            None if t[1] is None else t[1] * w,
            None if t[2] is None else t[2] * (end - start),
        )

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), arr(3, 4), torch=lambda T, a, b, w: T.lerp(a, b, w))
        yield Sample(arr(3, 4), arr(4), call=lambda a, b: lerp(a, b, 0.3), torch=lambda T, a, b: T.lerp(a, b, 0.3))


def _check_tensor(x: Any, name: str) -> None:
    if not isinstance(x, Tensor):
        raise DtypeError(f"{name}: expected a Tensor, received {type(x).__name__}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """input where condition is True, else other (broadcasting; input/other may be numbers).

    where(condition) alone returns the indices of the True elements, one int64 tensor per dimension.
    """
    cond = _raw(condition)
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        kind = getattr(cond, "dtype", type(condition).__name__)
        raise DtypeError(f"where: expected condition to be a bool tensor, received {kind}")
    if input is None and other is None:
        return tuple(_make(i.astype(backend.int64, copy=False)) for i in namespace(cond).nonzero(cond))
    if input is None or other is None:
        raise DtypeError("where: expected both input and other (or neither), received only one of them")
    x, y = promote(input, other)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _make(namespace(cond).asarray(x, backend.get_default_dtype() if isinstance(x, float) else None))
        x, y = promote(x, y)
    return Where.apply(condition, x, y)


def _tensor_where(x: Tensor, condition: Any, y: Any) -> Any:
    """x.where(condition, y) = where(condition, x, y), as torch.Tensor.where."""
    return where(condition, x, y)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """input limited to [min, max] elementwise; min/max are numbers or tensors, either may be None.

    When min > max every element becomes max, as in PyTorch. Integer input with a float bound gives a float result.
    """
    _check_tensor(input, "clamp")
    if min is None and max is None:
        raise ShapeError("clamp: expected at least one of min and max, received min=None and max=None")
    for which, v in (("min", min), ("max", max)):
        if v is not None and not _is_number(v) and not isinstance(v, Tensor):
            raise DtypeError(f"clamp: expected {which} to be a number or a Tensor, received {type(v).__name__}")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        x, lo, hi = input, min, max
        if lo is not None:
            x, lo = promote(x, lo)
        if hi is not None:
            x, hi = promote(x, hi)
            if lo is not None:
                lo, _ = promote(lo, hi)
        return ClampTensor.apply(x, lo, hi)
    if input.data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(backend.get_default_dtype())
    return Clamp.apply(input, min=min, max=max)


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum with broadcasting (NaN propagates); ties split the gradient evenly."""
    return Maximum.apply(*promote(input, other))


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum with broadcasting (NaN propagates); ties split the gradient evenly."""
    return Minimum.apply(*promote(input, other))


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """Linear interpolation input + weight * (end - input); weight is a number or a tensor."""
    _check_tensor(input, "lerp")
    if input.data.dtype.kind != "f":
        raise DtypeError(f"lerp: expected a floating-point input, received dtype {input.dtype}")
    start, end = promote(input, end)
    return Lerp.apply(start, end, weight)


clip = clamp

__all__ = ["where", "clamp", "clip", "maximum", "minimum", "lerp"]
TENSOR_METHODS = {
    "where": _tensor_where, "clamp": clamp, "clip": clamp, "maximum": maximum, "minimum": minimum, "lerp": lerp,
}  # fmt: skip
