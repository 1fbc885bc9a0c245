"""Activation functions: sigmoid, relu, relu6, leaky_relu, elu, gelu, silu, softplus, hardtanh.

Each is one op with a numerically stable forward (sigmoid and softplus never overflow). The smooth ones
(sigmoid, gelu, silu) have their vjp as one fused op (SigmoidGrad, GeluGrad, SiluGrad, as PyTorch's
*_backward kernels) that is itself differentiable, so a backward pass costs one op per activation and
double backward still works. The piecewise-linear ones route g by a mask taken from the saved tensor.
"""

from __future__ import annotations

import math
from typing import Any

from dagrad import backend, blas
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops import _direct_conv
from dagrad.ops._util import tsum
from dagrad.ops.arithmetic import Mul
from dagrad.ops.elementwise import Where, select
from dagrad.ops.sampling import arr, away
from dagrad.ops.unary import erfc_ratio, exp, float_input

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
# gelu's tanh form 0.5 x (1 + tanh(u)), u = K (x + A x^3), is computed as x * sigmoid(2u): the same function
# without the cancellation in 1 + tanh(u) for x << 0.
_TANH_K = math.sqrt(2 / math.pi)
_TANH_A = 0.044715


def sigmoid_array(x):
    """1 / (1 + exp(-x)) on a raw float array; exp may overflow to inf for x << 0, giving exactly 0, silently."""
    xp = namespace(x)
    out = xp.negative(x, out=xp.empty_like(x))
    with backend.numpy.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


class Sigmoid(Function):
    """The logistic function; its vjp comes from the output: g * y * (1 - y)."""

    __slots__ = ()
    keep_output = True

    def forward(self, x):
        return sigmoid_array(x)

    def backward(self, g):
        return SigmoidGrad.apply(g, self.output())

    def jvp(self, inputs, out, t):
        return SigmoidGrad.apply(t[0], out)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.sigmoid(x))
        yield Sample(arr(2, 3, low=-30.0, high=30.0), torch=lambda T, x: T.sigmoid(x), name="wide")


class SigmoidGrad(Function):
    """g * y * (1 - y) in one pass (torch's sigmoid_backward); differentiable in g and y."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, g, y):
        xp = namespace(y)
        d = xp.subtract(1, y, out=xp.empty_like(y))
        d *= y
        d *= g
        return d

    def backward(self, gg):
        g, y = self.saved
        return (
            SigmoidGrad.apply(gg, y) if self.needs(0) else None,
            gg * g * (1 - y * 2) if self.needs(1) else None,
        )

    def jvp(self, inputs, out, t):
        g, y = inputs
        return tsum(
            None if t[0] is None else SigmoidGrad.apply(t[0], y),
            None if t[1] is None else t[1] * g * (1 - y * 2),
        )

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), arr(3, 4, low=0.05, high=0.95), torch=lambda T, g, y: T.ops.aten.sigmoid_backward(g, y))


_relu_jit: Any = None  # dagrad.ops._relu_kernels once imported; False where numba is missing or disabled


def _relu_kernels(*arrays: Any) -> Any:
    """The numba ReLU kernels when they can take these arrays: C-contiguous NumPy float arrays of at least MIN_SIZE
    elements (1M float32 elements: forward 0.58 -> 0.11 ms, backward 0.64 -> 0.26 ms); else None."""
    global _relu_jit
    if _relu_jit is None:
        _relu_jit = _direct_conv.companion("_relu_kernels")
    if _relu_jit is False or arrays[0].size < _relu_jit.MIN_SIZE or not _direct_conv.usable(*arrays):
        return None
    return _relu_jit if all(a.flags.c_contiguous for a in arrays) else None


def _relu_pass(serial: Any, threaded: Any, *arrays: Any) -> None:
    """One ReLU kernel over the flattened arrays: on numba's threads while convolution kernels run, else serial."""
    flat = [a.reshape(-1) for a in arrays]
    if blas.kernels_active():
        _direct_conv.run(threaded, *flat, long=False)
    else:
        serial(*flat)


class ReLU(Function):
    """max(x, 0); backward is g masked by y > 0, so its second derivative is 0 away from 0."""

    __slots__ = ()
    keep_output = True
    writes_input = True

    def forward(self, x, inplace=False):
        xp = namespace(x)
        jit = _relu_kernels(x)
        if jit is not None:
            out = x if inplace else xp.empty_like(x)
            _relu_pass(jit.relu_forward, jit.relu_forward_threaded, x, out)
            return out
        if inplace:
            return xp.maximum(x, 0, out=x)
        out = xp.zeros_like(x)  # max against an array is ~2.5x faster in NumPy than against a scalar
        return xp.maximum(x, out, out=out)

    def backward(self, g):
        if state.grad and g.requires_grad:
            return Mul.apply(g, self.out > 0)
        jit = _relu_kernels(g.data, self.out)
        if jit is not None:
            gx = namespace(g.data).empty_like(g.data)
            _relu_pass(jit.relu_backward, jit.relu_backward_threaded, g.data, self.out, gx)
            return _make(gx)
        return _make(g.data * (self.out > 0))

    def jvp(self, inputs, out, t):
        return Mul.apply(t[0], out.data > 0)

    @staticmethod
    def samples():
        yield Sample(away(3, 4), torch=lambda T, x: T.relu(x))


class LeakyReLU(Function):
    """x for x > 0, negative_slope * x otherwise."""

    __slots__ = ("slope",)
    retain = (0,)

    def forward(self, x, negative_slope=0.01):
        self.slope = negative_slope
        xp = namespace(x)
        y = xp.multiply(x, negative_slope, out=xp.empty_like(x))
        if negative_slope <= 1:
            return xp.maximum(x, y, out=y)
        return xp.minimum(x, y, out=y)

    def backward(self, g):
        return Mul.apply(g, self._slope(self.saved[0].data))

    def jvp(self, inputs, out, t):
        return Mul.apply(t[0], self._slope(inputs[0].data))

    def _slope(self, x):
        """1 where x > 0, else negative_slope, as an array of x's dtype."""
        s = (x > 0).astype(x.dtype)
        s *= 1 - self.slope
        s += self.slope
        return s

    @staticmethod
    def samples():
        torch = lambda T, x, negative_slope: T.nn.functional.leaky_relu(x, negative_slope)  # noqa: E731
        yield Sample(away(3, 4), negative_slope=0.01, torch=torch)
        yield Sample(away(3, 4), negative_slope=2.5, torch=torch, name="steep")


class ELU(Function):
    """x for x > 0, alpha * (exp(x) - 1) otherwise; slope alpha * exp(x) = y + alpha on the left."""

    __slots__ = ("alpha",)
    retain = (0,)
    keep_output = True

    def forward(self, x, alpha=1.0):
        self.alpha = alpha
        xp = namespace(x)
        left = xp.zeros(x.shape, x.dtype)
        xp.minimum(x, left, out=left)
        xp.expm1(left, out=left)
        left *= alpha
        out = xp.zeros(x.shape, x.dtype)
        xp.maximum(x, out, out=out)
        out += left
        return out

    def backward(self, g):
        return self._rule(self.saved[0].data, g, self.output())

    def jvp(self, inputs, out, t):
        return self._rule(inputs[0].data, t[0], out)

    def _rule(self, x, g: Tensor, y: Tensor) -> Tensor:
        return Where.apply(x > 0, g, g * (y + self.alpha))

    @staticmethod
    def samples():
        torch = lambda T, x, alpha: T.nn.functional.elu(x, alpha)  # noqa: E731
        yield Sample(away(3, 4), alpha=1.0, torch=torch)
        yield Sample(away(3, 4), alpha=0.5, torch=torch, name="alpha")


_GELU_BLOCK_BYTES = 1 << 19
"""Exact gelu runs ~45 elementwise passes (most in erfc's rational function) over blocks of this many bytes,
so that they stay in cache instead of streaming the whole array through memory each time (2-4x faster)."""
_LN2 = math.log(2.0)


def _gelu_block(x, y, d) -> None:
    """For a flat block x: y = x * Phi(x) and d = Phi(x) + x * phi(x), each only where not None.

    Phi(-|x|) = erfc(|x| / sqrt 2) / 2 comes from the middle interval of Cody's erfc alone, exp(-t^2) * R(t):
    on all of [0, 28] its absolute error is below 5e-12 and its relative error below 1e-7 (tails keep their
    relative accuracy), at half the cost of the three-interval erf. exp(-t^2) / 2 also gives phi(x).
    """
    xp = namespace(x)
    t = xp.multiply(x, _SQRT_HALF, out=xp.empty_like(x))
    xp.abs(t, out=t)
    xp.minimum(t, 28.0, out=t)  # erfc(28) underflows even float64; keeps R finite at inf
    h = erfc_ratio(t)
    t *= t
    half_pdf = xp.subtract(-_LN2, t, out=t)
    xp.exp(half_pdf, out=half_pdf)  # exp(-x^2 / 2) / 2
    h *= half_pdf  # Phi(-|x|)
    cdf = xp.greater(x, 0, out=xp.empty_like(x))  # 1 where x > 0: Phi(x) = |[x > 0] - Phi(-|x|)|
    cdf -= h
    xp.abs(cdf, out=cdf)
    if y is not None:
        xp.multiply(x, cdf, out=y)
    if d is not None:
        xp.multiply(x, half_pdf, out=d)
        d *= 2 * _INV_SQRT_2PI
        d += cdf


def _gelu_arrays(x, value: bool, slope: bool) -> tuple[Any, Any]:
    """(x * Phi(x), Phi(x) + x * phi(x)) for exact gelu on a raw array, each None unless asked for."""
    xp = namespace(x)
    xf = x.reshape(-1)
    y = xp.empty(x.shape, x.dtype) if value else None
    d = xp.empty(x.shape, x.dtype) if slope else None
    yf, df = (None if a is None else a.reshape(-1) for a in (y, d))
    step = max(1, _GELU_BLOCK_BYTES // x.dtype.itemsize)
    for i in range(0, xf.size, step):
        part = slice(i, i + step)
        _gelu_block(xf[part], None if yf is None else yf[part], None if df is None else df[part])
    return y, d


def _gelu_slope_array(x, approximate: str):
    """d gelu / dx on a raw array: Phi(x) + x * phi(x), or the derivative of the tanh form."""
    if approximate == "tanh":
        x2 = x * x
        s = sigmoid_array((x2 * _TANH_A + 1) * x * (2 * _TANH_K))
        d = 1 - s
        d *= s
        d *= (x2 * (3 * _TANH_A) + 1) * (2 * _TANH_K)
        d *= x
        d += s
        return d
    return _gelu_arrays(x, False, True)[1]


def _gelu_curvature(x: Tensor, approximate: str) -> Tensor:
    """d^2 gelu / dx^2 with dagrad ops (so third derivatives work too)."""
    x2 = x * x
    if approximate == "tanh":
        s = Sigmoid.apply((x2 * _TANH_A + 1) * x * (2 * _TANH_K))
        dv = (x2 * (3 * _TANH_A) + 1) * (2 * _TANH_K)
        return s * (1 - s) * (dv * 2 + x * (1 - s * 2) * dv * dv + x * x * (12 * _TANH_A * _TANH_K))
    return exp(x2 * -0.5) * (2 - x2) * _INV_SQRT_2PI


class GELU(Function):
    """x * Phi(x) with Phi the standard normal CDF (erf-based), or its tanh approximation.

    Phi costs far more than the rest (erfc is a rational approximation), so when the call is recorded for
    backward, exact forward also computes the slope gelu'(x) (sharing Phi and exp) and keeps it in `cache`:
    the first-order backward is then one product g * slope.
    """

    __slots__ = ("approximate",)
    retain = (0,)

    def forward(self, x, approximate="none"):
        self.approximate = approximate
        self.cache = None
        if approximate == "tanh":
            v = x * x
            v *= _TANH_A
            v += 1
            v *= x
            v *= 2 * _TANH_K
            y = sigmoid_array(v)
            y *= x
            return y
        y, self.cache = _gelu_arrays(x, True, self.parents is not None)
        return y

    def backward(self, g):
        return GeluGrad.apply(g, self.saved[0], approximate=self.approximate, slope=self.cache)

    def jvp(self, inputs, out, t):
        return GeluGrad.apply(t[0], inputs[0], approximate=self.approximate, slope=self.cache)

    @staticmethod
    def samples():
        torch = lambda T, x, approximate: T.nn.functional.gelu(x, approximate=approximate)  # noqa: E731
        yield Sample(arr(3, 4), approximate="none", torch=torch)
        yield Sample(arr(2, 3, low=-6.0, high=6.0), approximate="none", torch=torch, name="tails")
        yield Sample(arr(3, 4), approximate="tanh", torch=torch, name="tanh")


class GeluGrad(Function):
    """g * gelu'(x) in one pass (torch's gelu_backward); differentiable in g and x."""

    __slots__ = ("approximate",)
    retain = (0, 1)

    def forward(self, g, x, approximate="none", slope=None):
        self.approximate = approximate
        self.cache = slope
        if slope is not None:
            return namespace(g).multiply(g, slope)
        d = _gelu_slope_array(x, approximate)
        d *= g
        return d

    def backward(self, gg):
        g, x = self.saved
        return (
            GeluGrad.apply(gg, x, approximate=self.approximate, slope=self.cache) if self.needs(0) else None,
            gg * g * _gelu_curvature(x, self.approximate) if self.needs(1) else None,
        )

    def jvp(self, inputs, out, t):
        g, x = inputs
        return tsum(
            None if t[0] is None else GeluGrad.apply(t[0], x, approximate=self.approximate, slope=self.cache),
            None if t[1] is None else t[1] * g * _gelu_curvature(x, self.approximate),
        )

    @staticmethod
    def samples():
        torch = lambda T, g, x, approximate: T.ops.aten.gelu_backward(g, x, approximate=approximate)  # noqa: E731
        yield Sample(arr(3, 4), arr(3, 4), approximate="none", torch=torch)
        yield Sample(arr(3, 4), arr(3, 4), approximate="tanh", torch=torch, name="tanh")


class SiLU(Function):
    """x * sigmoid(x) (swish)."""

    __slots__ = ()
    retain = (0,)

    def forward(self, x):
        y = sigmoid_array(x)
        y *= x
        return y

    def backward(self, g):
        return SiluGrad.apply(g, self.saved[0])

    def jvp(self, inputs, out, t):
        return SiluGrad.apply(t[0], inputs[0])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), torch=lambda T, x: T.nn.functional.silu(x))


class SiluGrad(Function):
    """g * s * (1 + x * (1 - s)) with s = sigmoid(x), in one pass (torch's silu_backward)."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, g, x):
        s = sigmoid_array(x)
        d = 1 - s
        d *= x
        d += 1
        d *= s
        d *= g
        return d

    def backward(self, gg):
        g, x = self.saved
        return (
            SiluGrad.apply(gg, x) if self.needs(0) else None,
            gg * g * _silu_curvature(x) if self.needs(1) else None,
        )

    def jvp(self, inputs, out, t):
        g, x = inputs
        return tsum(
            None if t[0] is None else SiluGrad.apply(t[0], x),
            None if t[1] is None else t[1] * g * _silu_curvature(x),
        )

    @staticmethod
    def samples():
        # written out: aten's silu_backward has no derivative of its own in PyTorch
        torch = lambda T, g, x: g * T.sigmoid(x) * (1 + x * (1 - T.sigmoid(x)))  # noqa: E731
        yield Sample(arr(3, 4), arr(3, 4), torch=torch)


def _silu_curvature(x: Tensor) -> Tensor:
    """d^2 silu / dx^2 = s (1 - s) (2 + x (1 - 2 s)), with dagrad ops."""
    s = Sigmoid.apply(x)
    return s * (1 - s) * (2 + x * (1 - s * 2))


class Softplus(Function):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (no overflow)."""

    __slots__ = ("beta", "threshold")
    retain = (0,)

    def forward(self, x, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        xp = namespace(x)
        z = xp.multiply(x, beta, out=xp.empty_like(x))
        linear = z > threshold
        xp.minimum(z, threshold, out=z)
        xp.exp(z, out=z)
        xp.log1p(z, out=z)
        if beta != 1:
            z /= beta
        return select(linear, x, z)

    def backward(self, g):
        return self._rule(self.saved[0], g)

    def jvp(self, inputs, out, t):
        return self._rule(inputs[0], t[0])

    def _rule(self, x: Tensor, g: Tensor) -> Tensor:
        """g * sigmoid(beta * x), and g itself where beta * x > threshold."""
        z = x * self.beta
        return Where.apply(z.data > self.threshold, g, g * Sigmoid.apply(z))

    @staticmethod
    def samples():
        torch = lambda T, x, beta, threshold: T.nn.functional.softplus(x, beta, threshold)  # noqa: E731
        yield Sample(arr(3, 4), beta=1.0, threshold=20.0, torch=torch)
        yield Sample(away(3, 4) * 3, beta=2.0, threshold=3.0, torch=torch, name="threshold")


class Hardtanh(Function):
    """x clipped to [min_val, max_val]; the gradient passes strictly inside, as torch's hardtanh."""

    __slots__ = ("lo", "hi")
    keep_output = True

    def forward(self, x, min_val=-1.0, max_val=1.0):
        self.lo, self.hi = min_val, max_val
        return namespace(x).clip(x, min_val, max_val)

    def backward(self, g):
        return Mul.apply(g, self._inside(self.out))

    def jvp(self, inputs, out, t):
        return Mul.apply(t[0], self._inside(out.data))

    def _inside(self, y):
        m = y > self.lo
        m &= y < self.hi
        return m

    @staticmethod
    def samples():
        torch = lambda T, x, min_val, max_val: T.nn.functional.hardtanh(x, min_val, max_val)  # noqa: E731
        yield Sample(away(3, 4) * 1.3, min_val=-1.0, max_val=1.0, torch=torch)
        yield Sample(away(3, 4) * 4, min_val=0.0, max_val=2.0, torch=torch, name="relu6-like")


def _number(v: Any, op: str, arg: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DtypeError(f"{op}: expected {arg} to be a number, received {arg}={v!r}")
    return v


def _run(cls: type[Function], input: Any, name: str, inplace: bool, **params: Any) -> Tensor:
    """cls on input, or written back into input (Function.apply_) when `inplace`, as torch's inplace=True."""
    if inplace:
        if not isinstance(input, Tensor):
            raise DtypeError(f"{name}: expected a Tensor, received {type(input).__name__}")
        return cls.apply_(input, **params)
    return cls.apply(input if cls is ReLU else float_input(input, name), **params)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for any x (sigmoid(-1000) = 0, sigmoid(1000) = 1, no warnings)."""
    return Sigmoid.apply(float_input(input, "sigmoid"))


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); integer tensors stay integer."""
    if not isinstance(input, Tensor):
        raise DtypeError(f"relu: expected a Tensor, received {type(input).__name__}")
    return _run(ReLU, input, "relu", inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    return _run(LeakyReLU, input, "leaky_relu", inplace, negative_slope=slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _run(ELU, input, "elu", inplace, alpha=_number(alpha, "elu", "alpha"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: standard normal CDF, via erfc); approximate='tanh' uses the tanh formula instead."""
    if approximate not in ("none", "tanh"):
        raise ShapeError(f"gelu: expected approximate to be 'none' or 'tanh', received approximate={approximate!r}")
    return GELU.apply(float_input(input, "gelu"), approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _run(SiLU, input, "silu", inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, reverting to x where beta * x > threshold."""
    return Softplus.apply(
        float_input(input, "softplus"),
        beta=_number(beta, "softplus", "beta"),
        threshold=_number(threshold, "softplus", "threshold"),
    )


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]."""
    _number(min_val, "hardtanh", "min_val")
    _number(max_val, "hardtanh", "max_val")
    if min_val > max_val:
        raise ShapeError(f"hardtanh: expected min_val <= max_val, received min_val={min_val}, max_val={max_val}")
    return _run(Hardtanh, input, "hardtanh", inplace, min_val=min_val, max_val=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


__all__ = ["sigmoid", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh", "relu6"]
TENSOR_METHODS = {"sigmoid": sigmoid, "relu": relu}
