"""Elementwise math on one tensor: exp, expm1, log, log1p, sqrt, rsqrt, abs, sign, sin, cos, tanh, erf, erfc.

Integer and bool inputs of the float-valued functions are cast to the default float dtype first, as in
PyTorch (`exp(int tensor)` is float32). Rules that need y = f(x) (exp, sqrt, rsqrt, tanh) keep the output
instead of the input. tanh's backward is one fused op (TanhGrad), since activations sit on the hot path.
"""

from __future__ import annotations

import math
from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError
from dagrad.ops._util import tsum
from dagrad.ops.elementwise import select
from dagrad.ops.sampling import arr, away, pos


def float_input(x: Any, name: str) -> Tensor:
    """x itself when it is a floating tensor, else x cast to the default float dtype; a non-tensor is an error."""
    if not isinstance(x, Tensor):
        raise DtypeError(f"{name}: expected a Tensor, received {type(x).__name__}")
    if x.data.dtype.kind == "f":
        return x
    return x.to(backend.get_default_dtype())


class Exp(Function):
    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return namespace(x).exp(x)

    def backward(self, g):
        return g * self.output()

    def jvp(self, inputs, out, t):
        return t[0] * out

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.exp(x))


class Expm1(Function):
    """exp(x) - 1, accurate near 0."""

    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return namespace(x).expm1(x)

    def backward(self, g):
        return g * (self.output() + 1)

    def jvp(self, inputs, out, t):
        return t[0] * (out + 1)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.expm1(x))


class Log(Function):
    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return namespace(x).log(x)

    def backward(self, g):
        return g / self.saved[0]

    def jvp(self, inputs, out, t):
        return t[0] / inputs[0]

    @staticmethod
    def samples():
        yield Sample(pos(3, 4), torch=lambda T, x: T.log(x))


class Log1p(Function):
    """log(1 + x), accurate near 0."""

    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return namespace(x).log1p(x)

    def backward(self, g):
        return g / (self.saved[0] + 1)

    def jvp(self, inputs, out, t):
        return t[0] / (inputs[0] + 1)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4, low=-0.5, high=2.0), torch=lambda T, x: T.log1p(x))


class Sqrt(Function):
    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return namespace(x).sqrt(x)

    def backward(self, g):
        return g / (self.output() * 2)

    def jvp(self, inputs, out, t):
        return t[0] / (out * 2)

    @staticmethod
    def samples():
        yield Sample(pos(3, 4), torch=lambda T, x: T.sqrt(x))


class Rsqrt(Function):
    """1 / sqrt(x); dy/dx = -y^3 / 2."""

    __slots__ = ()
    keep_output = True

    def forward(self, x):
        xp = namespace(x)
        y = xp.sqrt(x, out=xp.empty_like(x))
        return xp.divide(1, y, out=y)

    def backward(self, g):
        return g * self.output().pow(3) * -0.5

    def jvp(self, inputs, out, t):
        return t[0] * out.pow(3) * -0.5

    @staticmethod
    def samples():
        yield Sample(pos(3, 4), torch=lambda T, x: T.rsqrt(x))


class Abs(Function):
    """|x|; the gradient at 0 is 0 (sign(0)), as in PyTorch."""

    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return namespace(x).abs(x)

    def backward(self, g):
        return g * Sign.apply(self.saved[0])

    def jvp(self, inputs, out, t):
        return t[0] * Sign.apply(inputs[0])

    @staticmethod
    def samples():
        yield Sample(away(3, 4), torch=lambda T, x: T.abs(x))


class Sign(Function):
    """-1, 0 or 1 by the sign of x; piecewise constant, so its gradient is zero everywhere."""

    __slots__ = ()

    def forward(self, x):
        return namespace(x).sign(x)

    def backward(self, g):
        return _make(namespace(g.data).zeros_like(g.data))

    def jvp(self, inputs, out, t):
        return None

    @staticmethod
    def samples():
        yield Sample(away(3, 4), torch=lambda T, x: T.sign(x))


class Sin(Function):
    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return namespace(x).sin(x)

    def backward(self, g):
        return g * Cos.apply(self.saved[0])

    def jvp(self, inputs, out, t):
        return t[0] * Cos.apply(inputs[0])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.sin(x))


class Cos(Function):
    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return namespace(x).cos(x)

    def backward(self, g):
        return -(g * Sin.apply(self.saved[0]))

    def jvp(self, inputs, out, t):
        return -(t[0] * Sin.apply(inputs[0]))

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.cos(x))


class Tanh(Function):
    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return namespace(x).tanh(x)

    def backward(self, g):
        return TanhGrad.apply(g, self.output())

    def jvp(self, inputs, out, t):
        return TanhGrad.apply(t[0], out)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.tanh(x))


class TanhGrad(Function):
    """tanh's vjp from its output, g * (1 - y^2), in one pass (torch's tanh_backward); differentiable itself."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, g, y):
        xp = namespace(y)
        d = xp.multiply(y, y, out=xp.empty_like(y))
        d -= 1
        d *= g
        return xp.negative(d, out=d)

    def backward(self, gg):
        g, y = self.saved
        return (
            TanhGrad.apply(gg, y) if self.needs(0) else None,
            gg * g * y * -2 if self.needs(1) else None,
        )

    def jvp(self, inputs, out, t):
        g, y = inputs
        return tsum(
            None if t[0] is None else TanhGrad.apply(t[0], y),
            None if t[1] is None else t[1] * g * y * -2,
        )

    @staticmethod
    def samples():
        torch = lambda T, g, y: T.ops.aten.tanh_backward(g, y)  # noqa: E731
        yield Sample(arr(3, 4), arr(3, 4, low=-0.9, high=0.9), torch=torch)


# W. J. Cody's rational Chebyshev approximations (Math. Comp. 1969, netlib specfun CALERF): erf on
# |x| <= 0.46875, erfc * exp(x^2) on 0.46875 < |x| <= 4 and, in 1/x^2, beyond 4. Measured against math.erf:
# erf within 3e-16, erfc within 1e-13 relative (the tail's exp(-x^2) sets that).
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03)
_ERF_A4 = 1.85777706184603153e-1
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (
    5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
    8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
)  # fmt: skip
_ERF_C8 = 2.15311535474403846e-8
_ERF_D = (
    1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
    3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03,
)  # fmt: skip
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4)  # fmt: skip
_ERF_P5 = 1.63153871373020978e-2
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)  # fmt: skip
_ERF_SMALL = 0.46875
_INV_SQRT_PI = 1 / math.sqrt(math.pi)


def _ratio(z, lead, num, den):
    """(lead*z^n + num[0]*z^(n-1) + ... + num[-1]) / (z^n + den[0]*z^(n-1) + ... + den[-1]), Horner's rule."""
    p = z * lead
    q = z.copy()
    for a, b in zip(num[:-1], den[:-1]):
        p += a
        p *= z
        q += b
        q *= z
    p += num[-1]
    q += den[-1]
    p /= q
    return p


def erfc_ratio(y):
    """erfc(y) * exp(y^2): Cody's middle interval, 1e-15 on [0.46875, 4]; on [0, 28] still within 5e-12
    absolutely and 1e-7 relatively after the factor exp(-y^2), which is enough for the normal CDF."""
    return _ratio(y, _ERF_C8, _ERF_C, _ERF_D)


def _erfc_tail(y):
    """erfc(y) for y > 0.46875 (any y >= 0 gives a finite value)."""
    xp = namespace(y)
    ym = xp.clip(y, _ERF_SMALL, 4.0)
    c = erfc_ratio(ym)
    ym *= ym
    xp.negative(ym, out=ym)
    c *= xp.exp(ym, out=ym)
    far = xp.flatnonzero(y > 4.0)  # rare (erfc(4) = 1.5e-8): evaluated on those elements alone
    if far.size:
        yf = xp.take(y, far)
        z = 1.0 / (yf * yf)
        r = _ratio(z, _ERF_P5, _ERF_P, _ERF_Q) * z
        xp.put(c, far, (_INV_SQRT_PI - r) / yf * xp.exp(-yf * yf))  # flat indices work for any memory layout
    return c


def erf_array(x, complement: bool = False):
    """erf(x), or erfc(x) when `complement`, on a raw float array (vectorised; NumPy has no erf).

    Both intervals are evaluated on the whole array (clipped into range) and then selected: boolean
    indexing would cost more than the arithmetic it saves.
    """
    if x.ndim == 0:
        return erf_array(x.reshape(1), complement).reshape(())
    xp = namespace(x)
    xs = xp.clip(x, -_ERF_SMALL, _ERF_SMALL)
    e = _ratio(xs * xs, _ERF_A4, _ERF_A, _ERF_B)
    e *= xs
    if complement:
        xp.subtract(1, e, out=e)
    y = xp.abs(x)
    small = y <= _ERF_SMALL
    if small.all():
        return e
    c = _erfc_tail(y)
    if complement:
        tail = select(x < 0, 2 - c, c)
    else:
        xp.subtract(1, c, out=c)
        tail = xp.copysign(c, x, out=c)
    return select(small, e, tail)


class Erf(Function):
    """The error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to x."""

    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return erf_array(x)

    def backward(self, g):
        return g * _erf_slope(self.saved[0])

    def jvp(self, inputs, out, t):
        return t[0] * _erf_slope(inputs[0])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.erf(x))
        yield Sample(arr(4, 5, low=-5.0, high=5.0), torch=lambda T, x: T.erf(x), name="tails")


class Erfc(Function):
    """1 - erf(x), accurate where erf(x) is close to 1."""

    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        return erf_array(x, complement=True)

    def backward(self, g):
        return -(g * _erf_slope(self.saved[0]))

    def jvp(self, inputs, out, t):
        return -(t[0] * _erf_slope(inputs[0]))

    @staticmethod
    def samples():
        yield Sample(arr(4, 5, low=-5.0, high=5.0), torch=lambda T, x: T.erfc(x))


def _erf_slope(x: Tensor) -> Tensor:
    """d erf / dx = 2/sqrt(pi) * exp(-x^2), with dagrad ops (so it is differentiable again)."""
    return exp(x * x * -1.0) * (2 * _INV_SQRT_PI)


def exp(x: Tensor) -> Tensor:
    """e**x elementwise."""
    return Exp.apply(float_input(x, "exp"))


def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return Expm1.apply(float_input(x, "expm1"))


def log(x: Tensor) -> Tensor:
    """Natural logarithm; log(0) = -inf and log(x < 0) = nan, as in PyTorch (NumPy warns about both)."""
    return Log.apply(float_input(x, "log"))


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p.apply(float_input(x, "log1p"))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(float_input(x, "sqrt"))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return Rsqrt.apply(float_input(x, "rsqrt"))


def abs(x: Tensor) -> Tensor:
    """|x|; integer tensors stay integer."""
    if not isinstance(x, Tensor):
        raise DtypeError(f"abs: expected a Tensor, received {type(x).__name__}")
    return Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (same dtype as x); its gradient is zero."""
    if not isinstance(x, Tensor):
        raise DtypeError(f"sign: expected a Tensor, received {type(x).__name__}")
    return Sign.apply(x)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(float_input(x, "sin"))


def cos(x: Tensor) -> Tensor:
    return Cos.apply(float_input(x, "cos"))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(float_input(x, "tanh"))


def erf(x: Tensor) -> Tensor:
    """The Gauss error function."""
    return Erf.apply(float_input(x, "erf"))


def erfc(x: Tensor) -> Tensor:
    """The complementary error function 1 - erf(x)."""
    return Erfc.apply(float_input(x, "erfc"))


__all__ = ["exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "abs", "sign", "sin", "cos", "tanh", "erf", "erfc"]
TENSOR_METHODS = {
    "exp": exp, "expm1": expm1, "log": log, "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "abs": abs,
    "__abs__": abs, "sign": sign, "sin": sin, "cos": cos, "tanh": tanh, "erf": erf, "erfc": erfc,
}  # fmt: skip
