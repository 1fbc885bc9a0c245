"""Arithmetic with NumPy broadcasting: add, sub, mul, div, pow, neg, reciprocal.

Gradients are returned at the broadcast shape; the engine sums them back to each input's shape.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.ops._util import promote, tsum
from dagrad.ops.sampling import arr, pos


class Add(Function):
    __slots__ = ()
    writes_input = True

    def forward(self, x, y, inplace=False):
        return namespace(x).add(x, y, out=x) if inplace else x + y

    def backward(self, g):
        return g, g

    def jvp(self, inputs, out, t):
        return tsum(t[0], t[1])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), torch=lambda T, x, y: x + y)
        yield Sample(arr(2, 3, 4), arr(4), torch=lambda T, x, y: x + y, name="broadcast")
        yield Sample(arr(3, 1), arr(1, 4), torch=lambda T, x, y: x + y, name="outer")
        yield Sample(arr(), arr(2, 3), torch=lambda T, x, y: x + y, name="0-d")
        yield Sample(arr(3), call=lambda x: Add.apply(x, 2.5), torch=lambda T, x: x + 2.5, name="scalar")


class Sub(Function):
    __slots__ = ()
    writes_input = True

    def forward(self, x, y, inplace=False):
        return namespace(x).subtract(x, y, out=x) if inplace else x - y

    def backward(self, g):
        return g, -g

    def jvp(self, inputs, out, t):
        return tsum(t[0], None if t[1] is None else -t[1])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), torch=lambda T, x, y: x - y)
        yield Sample(arr(4, 1), arr(3), torch=lambda T, x, y: x - y, name="broadcast")
        yield Sample(arr(3), call=lambda x: Sub.apply(1.5, x), torch=lambda T, x: 1.5 - x, name="rsub")


class Mul(Function):
    __slots__ = ()
    retain = (0, 1)

    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.saved
        return (g * y if self.needs(0) else None), (g * x if self.needs(1) else None)

    def jvp(self, inputs, out, t):
        x, y = inputs
        return tsum(None if t[0] is None else t[0] * y, None if t[1] is None else x * t[1])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4), torch=lambda T, x, y: x * y)
        yield Sample(arr(2, 1, 4), arr(3, 1), torch=lambda T, x, y: x * y, name="broadcast")
        yield Sample(arr(3), call=lambda x: Mul.apply(x, -2.0), torch=lambda T, x: x * -2.0, name="scalar")
        yield Sample(arr(3), call=lambda x: Mul.apply(x, x), torch=lambda T, x: x * x, name="square")


class Div(Function):
    __slots__ = ()
    retain = (1,)
    keep_output = True

    def forward(self, x, y):
        return x / y

    def backward(self, g):
        (y,) = self.saved
        gx = g / y
        return (gx if self.needs(0) else None), (-gx * self.output() if self.needs(1) else None)

    def jvp(self, inputs, out, t):
        y = inputs[1]
        return tsum(None if t[0] is None else t[0] / y, None if t[1] is None else -t[1] * out / y)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), pos(3, 4), torch=lambda T, x, y: x / y)
        yield Sample(arr(2, 3), pos(3), torch=lambda T, x, y: x / y, name="broadcast")
        yield Sample(pos(3), call=lambda y: Div.apply(2.0, y), torch=lambda T, y: 2.0 / y, name="rdiv")


class Pow(Function):
    __slots__ = ()
    retain = (0, 1)
    keep_output = True

    def forward(self, x, y):
        return x**y

    def backward(self, g):
        x, y = self.saved
        gx = g * y * x ** (y - 1) if self.needs(0) else None
        gy = g * self.output() * _log(x) if self.needs(1) else None
        return gx, gy

    def jvp(self, inputs, out, t):
        x, y = inputs
        return tsum(
            None if t[0] is None else t[0] * y * x ** (y - 1),
            None if t[1] is None else t[1] * out * _log(x),
        )

    @staticmethod
    def samples():
        yield Sample(pos(3, 4), arr(3, 4), torch=lambda T, x, y: x**y)
        yield Sample(arr(3, 4), call=lambda x: Pow.apply(x, 3), torch=lambda T, x: x**3, name="cube")
        yield Sample(pos(3), call=lambda x: Pow.apply(x, -0.5), torch=lambda T, x: x**-0.5, name="rsqrt")
        yield Sample(arr(3), call=lambda y: Pow.apply(2.0, y), torch=lambda T, y: 2.0**y, name="exp2")


def _log(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.log()
    return namespace().log(x)


class Neg(Function):
    __slots__ = ()

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g

    def jvp(self, inputs, out, t):
        return -t[0]

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: -x)


class Reciprocal(Function):
    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return 1.0 / x

    def backward(self, g):
        y = self.output()
        return -g * y * y

    def jvp(self, inputs, out, t):
        return -t[0] * out * out

    @staticmethod
    def samples():
        yield Sample(pos(3, 4), torch=lambda T, x: T.reciprocal(x))


def add(x: Any, y: Any, alpha: float = 1) -> Tensor:
    """x + alpha * y with broadcasting."""
    if alpha != 1:
        y = mul(y, alpha)
    return Add.apply(*promote(x, y))


def sub(x: Any, y: Any, alpha: float = 1) -> Tensor:
    """x - alpha * y with broadcasting."""
    if alpha != 1:
        y = mul(y, alpha)
    return Sub.apply(*promote(x, y))


def mul(x: Any, y: Any) -> Tensor:
    return Mul.apply(*promote(x, y))


def div(x: Any, y: Any) -> Tensor:
    """True division; integer inputs give the default float dtype, as in PyTorch."""
    x, y = promote(x, y)
    if not _is_float(x) and not _is_float(y):
        from dagrad import backend

        x = x.to(backend.get_default_dtype()) if isinstance(x, Tensor) else float(x)
    return Div.apply(x, y)


def pow(x: Any, y: Any) -> Tensor:
    return Pow.apply(*promote(x, y))


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def reciprocal(x: Tensor) -> Tensor:
    return Reciprocal.apply(x)


def _is_float(v: Any) -> bool:
    return v.data.dtype.kind == "f" if isinstance(v, Tensor) else isinstance(v, float)


def _rsub(x: Tensor, y: Any) -> Tensor:
    return sub(y, x)


def _rdiv(x: Tensor, y: Any) -> Tensor:
    return div(y, x)


def _rpow(x: Tensor, y: Any) -> Tensor:
    return pow(y, x)


__all__ = ["add", "sub", "mul", "div", "pow", "neg", "reciprocal"]
TENSOR_METHODS = {
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "reciprocal": reciprocal,
    "__add__": add, "__radd__": add, "__sub__": sub, "__rsub__": _rsub, "__mul__": mul, "__rmul__": mul,
    "__truediv__": div, "__rtruediv__": _rdiv, "__pow__": pow, "__rpow__": _rpow, "__neg__": neg,
}  # fmt: skip
