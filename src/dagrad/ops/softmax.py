"""softmax and log_softmax along one dim, numerically stable (the max is subtracted before exp).

Both derivative rules are closed forms in the saved output y, so x is not kept:
softmax: vjp y * (g - sum(g * y)), jvp y * (t - sum(t * y));
log_softmax: vjp g - exp(y) * sum(g), jvp t - sum(exp(y) * t).

`dim` is required, as in torch.softmax and Tensor.softmax. torch.nn.functional.softmax still accepts a missing
dim, picks one by a legacy rule (0 for 0-, 1- and 3-d inputs, else 1) and warns that this is deprecated;
dagrad does not copy the deprecated guess.
"""

from __future__ import annotations

from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import DtypeError
from dagrad.ops.reduction import Sum, _dim, _minus
from dagrad.ops.sampling import arr


def _shifted(x: Any, dim: int) -> Any:
    """x minus its max along dim (a new array), so exp never overflows."""
    return _minus(x, x.max(axis=dim if x.ndim else None, keepdims=True))


class _Along(Function):
    """An op normalised along one dim; keeps only its output for backward."""

    __slots__ = ("dims",)
    keep_output = True

    def total(self, t: Tensor) -> Tensor:
        """t summed along the dim, kept as size 1 so it broadcasts back."""
        return Sum.apply(t, dims=self.dims, keepdim=True)


class Softmax(_Along):
    """exp(x) / sum(exp(x)) along dim."""

    __slots__ = ()

    def forward(self, x, dim):
        self.dims = (dim,) if x.ndim else ()
        e = _shifted(x, dim)
        namespace(x).exp(e, out=e)
        e /= e.sum(axis=dim if x.ndim else None, keepdims=True)
        return e

    def backward(self, g):
        y = self.output()
        gy = g * y
        return gy - y * self.total(gy)

    def jvp(self, inputs, out, t):
        ty = t[0] * out
        return ty - out * self.total(ty)

    @staticmethod
    def samples():
        torch = lambda T, x, dim: T.softmax(x, dim)  # noqa: E731
        yield Sample(arr(3, 4), call=softmax, dim=1, torch=torch)
        yield Sample(arr(2, 3, 4), call=softmax, dim=0, torch=torch, name="first")
        yield Sample(arr(2, 3) * 20, call=softmax, dim=-1, torch=torch, name="large")


class LogSoftmax(_Along):
    """x - logsumexp(x) along dim."""

    __slots__ = ()

    def forward(self, x, dim):
        self.dims = (dim,) if x.ndim else ()
        axis = dim if x.ndim else None
        s = _shifted(x, dim)
        xp = namespace(x)
        s -= xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        return s

    def backward(self, g):
        return g - self.output().exp() * self.total(g)

    def jvp(self, inputs, out, t):
        return t[0] - self.total(out.exp() * t[0])

    @staticmethod
    def samples():
        torch = lambda T, x, dim: T.log_softmax(x, dim)  # noqa: E731
        yield Sample(arr(3, 4), call=log_softmax, dim=1, torch=torch)
        yield Sample(arr(2, 3, 4), call=log_softmax, dim=-2, torch=torch, name="middle")
        yield Sample(arr(2, 3) * 20, call=log_softmax, dim=0, torch=torch, name="large")


def _float(op: str, x: Tensor, dtype: Any) -> Tensor:
    if dtype is not None:
        x = x.to(backend.numpy.dtype(dtype))
    if x.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating point input or a floating dtype=, received dtype {x.dtype}")
    return x


def softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """exp(x) / exp(x).sum(dim, keepdim=True), stable for any input; dtype= casts x first."""
    x = _float("softmax", x, dtype)
    return Softmax.apply(x, dim=_dim("softmax", dim, x.ndim))


def log_softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """x - x.logsumexp(dim, keepdim=True), stable for any input; dtype= casts x first."""
    x = _float("log_softmax", x, dtype)
    return LogSoftmax.apply(x, dim=_dim("log_softmax", dim, x.ndim))


__all__ = ["softmax", "log_softmax"]
TENSOR_METHODS = {"softmax": softmax, "log_softmax": log_softmax}
