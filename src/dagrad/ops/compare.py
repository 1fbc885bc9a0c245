"""Comparisons and logic: eq, ne, lt, le, gt, ge, isclose, logical_*, bitwise_*, isnan, isinf, isfinite, any, all.

Outputs are bool tensors (bitwise ops keep their integer dtype) that never require grad: every op here has
`differentiable = False`. allclose and equal return Python bools. The comparison operators (==, <, ...) are
Tensor methods; comparing with something that is neither a tensor, an array nor a number returns
NotImplemented, so `t == None` is False, as in PyTorch, and Tensor stays hashable.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace, ndarray_types
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops.sampling import arr, ints, mask

# Samples compare values on a coarse grid, so that ties (==, <=) actually occur.
_grid = lambda *shape: arr(*shape).round()  # noqa: E731


def _compare_samples(torch_name: str):
    fn = lambda T, x, y: getattr(T, torch_name)(x, y)  # noqa: E731
    yield Sample(_grid(3, 4), _grid(3, 4), torch=fn)
    yield Sample(_grid(2, 3, 1), _grid(4), torch=fn, name="broadcast")
    yield Sample(ints(4, 5), ints(4, 5), torch=fn, name="int")


class Eq(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).equal(x, y)

    @staticmethod
    def samples():
        return _compare_samples("eq")


class Ne(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).not_equal(x, y)

    @staticmethod
    def samples():
        return _compare_samples("ne")


class Lt(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).less(x, y)

    @staticmethod
    def samples():
        return _compare_samples("lt")


class Le(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).less_equal(x, y)

    @staticmethod
    def samples():
        return _compare_samples("le")


class Gt(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).greater(x, y)

    @staticmethod
    def samples():
        return _compare_samples("gt")


class Ge(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).greater_equal(x, y)

    @staticmethod
    def samples():
        return _compare_samples("ge")


class IsClose(Function):
    """|x - y| <= atol + rtol * |y| elementwise (NaNs equal only with equal_nan)."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, y, rtol=1e-5, atol=1e-8, equal_nan=False):
        return namespace(x, y).isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)

    @staticmethod
    def samples():
        x = arr(3, 4)
        y = x + arr(3, 4) * 1e-5
        y[0, 0] = x[0, 0] = float("nan")
        fn = lambda T, x, y, **kw: T.isclose(x, y, **kw)  # noqa: E731
        yield Sample(x, y, torch=fn)
        yield Sample(x, y, rtol=1e-3, atol=1e-4, equal_nan=True, torch=fn, name="loose")


class LogicalNot(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x):
        return namespace(x).logical_not(x)

    @staticmethod
    def samples():
        yield Sample(mask(3, 4), torch=lambda T, x: T.logical_not(x))
        yield Sample(_grid(3, 4), torch=lambda T, x: T.logical_not(x), name="float")


def _logic_samples(torch_name: str):
    fn = lambda T, x, y: getattr(T, torch_name)(x, y)  # noqa: E731
    yield Sample(mask(3, 4), mask(3, 4), torch=fn)
    yield Sample(mask(3, 1), _grid(4), torch=fn, name="mixed")


class LogicalAnd(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).logical_and(x, y)

    @staticmethod
    def samples():
        return _logic_samples("logical_and")


class LogicalOr(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).logical_or(x, y)

    @staticmethod
    def samples():
        return _logic_samples("logical_or")


class LogicalXor(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).logical_xor(x, y)

    @staticmethod
    def samples():
        return _logic_samples("logical_xor")


def _bitwise_samples(torch_name: str):
    fn = lambda T, x, y: getattr(T, torch_name)(x, y)  # noqa: E731
    yield Sample(mask(3, 4), mask(3, 4), torch=fn)
    yield Sample(ints(16, 3, 4), ints(16, 4), torch=fn, name="int")


class BitwiseAnd(Function):
    """x & y for bool or integer tensors."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).bitwise_and(x, y)

    @staticmethod
    def samples():
        return _bitwise_samples("bitwise_and")


class BitwiseOr(Function):
    """x | y for bool or integer tensors."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).bitwise_or(x, y)

    @staticmethod
    def samples():
        return _bitwise_samples("bitwise_or")


class BitwiseXor(Function):
    """x ^ y for bool or integer tensors."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, y):
        return namespace(x, y).bitwise_xor(x, y)

    @staticmethod
    def samples():
        return _bitwise_samples("bitwise_xor")


class BitwiseNot(Function):
    """~x: logical not for bool tensors, two's-complement not for integers."""

    __slots__ = ()
    differentiable = False

    def forward(self, x):
        return namespace(x).invert(x)

    @staticmethod
    def samples():
        yield Sample(mask(3, 4), torch=lambda T, x: T.bitwise_not(x))
        yield Sample(ints(16, 3, 4), torch=lambda T, x: T.bitwise_not(x), name="int")


def _special():
    x = arr(3, 4)
    x[0, 0], x[1, 1], x[2, 2] = float("nan"), float("inf"), float("-inf")
    return x


class IsNan(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x):
        return namespace(x).isnan(x)

    @staticmethod
    def samples():
        yield Sample(_special(), torch=lambda T, x: T.isnan(x))


class IsInf(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x):
        return namespace(x).isinf(x)

    @staticmethod
    def samples():
        yield Sample(_special(), torch=lambda T, x: T.isinf(x))


class IsFinite(Function):
    __slots__ = ()
    differentiable = False

    def forward(self, x):
        return namespace(x).isfinite(x)

    @staticmethod
    def samples():
        yield Sample(_special(), torch=lambda T, x: T.isfinite(x))


class AnyTrue(Function):
    """Whether any element (along `dim`) is nonzero."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, dim=None, keepdim=False):
        return namespace(x).any(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def samples():
        m = mask(3, 4)
        m[1] = False
        yield Sample(m, torch=lambda T, x: T.any(x))
        yield Sample(m, dim=1, keepdim=True, torch=lambda T, x, dim, keepdim: T.any(x, dim, keepdim), name="dim")
        yield Sample(_grid(3, 4), dim=0, torch=lambda T, x, dim: T.any(x, dim), name="float")


class AllTrue(Function):
    """Whether every element (along `dim`) is nonzero."""

    __slots__ = ()
    differentiable = False

    def forward(self, x, dim=None, keepdim=False):
        return namespace(x).all(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def samples():
        m = mask(3, 4)
        m[1] = True
        yield Sample(m, torch=lambda T, x: T.all(x))
        yield Sample(m, dim=-1, keepdim=True, torch=lambda T, x, dim, keepdim: T.all(x, dim, keepdim), name="dim")
        yield Sample(_grid(3, 4), dim=(0, 1), torch=lambda T, x, dim: T.all(x, dim), name="float")


_OPERAND = (Tensor, int, float, bool, *ndarray_types)


def _binary(cls: type[Function], name: str):
    def op(input: Tensor, other: Any) -> Tensor:
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise DtypeError(f"{name}: expected at least one Tensor, received {type(input).__name__} and "
                             f"{type(other).__name__}")  # fmt: skip
        return cls.apply(input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name}(input, other) elementwise with broadcasting; a bool tensor that does not require grad."
    return op


def _operator(cls: type[Function]):
    """A Tensor dunder method: NotImplemented for operands that are not tensors, arrays or numbers."""

    def method(self: Tensor, other: Any) -> Any:
        if not isinstance(other, _OPERAND):
            return NotImplemented
        return cls.apply(self, other)

    return method


def _bitwise(cls: type[Function], name: str):
    def op(input: Any, other: Any) -> Tensor:
        for v in (input, other):
            dt = v.dtype if isinstance(v, Tensor) else None
            if (dt is not None and dt.kind not in "biu") or isinstance(v, float):
                raise DtypeError(f"{name}: expected bool or integer operands, received {dt or type(v).__name__}")
        return cls.apply(input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name}(input, other) elementwise for bool or integer tensors."
    return op


eq = _binary(Eq, "eq")
ne = _binary(Ne, "ne")
lt = _binary(Lt, "lt")
le = _binary(Le, "le")
gt = _binary(Gt, "gt")
ge = _binary(Ge, "ge")
logical_and = _binary(LogicalAnd, "logical_and")
logical_or = _binary(LogicalOr, "logical_or")
logical_xor = _binary(LogicalXor, "logical_xor")
bitwise_and = _bitwise(BitwiseAnd, "bitwise_and")
bitwise_or = _bitwise(BitwiseOr, "bitwise_or")
bitwise_xor = _bitwise(BitwiseXor, "bitwise_xor")


def _unary_check(x: Any, name: str) -> None:
    if not isinstance(x, Tensor):
        raise DtypeError(f"{name}: expected a Tensor, received {type(x).__name__}")


def logical_not(input: Tensor) -> Tensor:
    """True where input is zero/False."""
    _unary_check(input, "logical_not")
    return LogicalNot.apply(input)


def bitwise_not(input: Tensor) -> Tensor:
    """~input for bool or integer tensors."""
    _unary_check(input, "bitwise_not")
    if input.dtype.kind not in "biu":
        raise DtypeError(f"bitwise_not: expected a bool or integer tensor, received dtype {input.dtype}")
    return BitwiseNot.apply(input)


def isnan(input: Tensor) -> Tensor:
    _unary_check(input, "isnan")
    return IsNan.apply(input)


def isinf(input: Tensor) -> Tensor:
    _unary_check(input, "isinf")
    return IsInf.apply(input)


def isfinite(input: Tensor) -> Tensor:
    _unary_check(input, "isfinite")
    return IsFinite.apply(input)


def isclose(input: Tensor, other: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise, as torch.isclose."""
    _unary_check(input, "isclose")
    return IsClose.apply(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input: Tensor, other: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether every element of input is close to other (isclose(...).all()), as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same elements, as torch.equal."""
    _unary_check(input, "equal")
    _unary_check(other, "equal")
    return input.shape == other.shape and bool(namespace(input.data).array_equal(input.data, other.data))


def _dims(dim: Any, ndim: int, name: str) -> Any:
    """dim (int or tuple of ints, negatives allowed) checked against ndim; None stays None."""
    if dim is None:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int):
            raise DtypeError(f"{name}: expected dim to be an int or a tuple of ints, received dim={dim!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ShapeError(
                f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])"
            )
    if ndim == 0:
        return None
    return tuple(dims) if isinstance(dim, (tuple, list)) else dim


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element is nonzero, over all elements or along dim (int or tuple); a bool tensor."""
    _unary_check(input, "any")
    return AnyTrue.apply(input, dim=_dims(dim, input.ndim, "any"), keepdim=keepdim)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element is nonzero, over all elements or along dim (int or tuple); a bool tensor."""
    _unary_check(input, "all")
    return AllTrue.apply(input, dim=_dims(dim, input.ndim, "all"), keepdim=keepdim)


def _r(fn):
    """Reflected bitwise operator: other OP self."""

    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    return method


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "isclose", "allclose", "equal", "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "any", "all",
]  # fmt: skip
TENSOR_METHODS = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": gt, "greater_equal": ge, "less": lt,
    "less_equal": le, "not_equal": ne, "isclose": isclose, "allclose": allclose, "equal": equal,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "any": any, "all": all,
    "__eq__": _operator(Eq), "__ne__": _operator(Ne), "__lt__": _operator(Lt), "__le__": _operator(Le),
    "__gt__": _operator(Gt), "__ge__": _operator(Ge),
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__rand__": _r(bitwise_and), "__ror__": _r(bitwise_or), "__rxor__": _r(bitwise_xor),
}  # fmt: skip
