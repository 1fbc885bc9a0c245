"""Reductions over dimensions: sum, mean, var, std, prod, max/min, amax/amin, argmax/argmin, logsumexp, norm,
cumsum.

`dim` is an int, a tuple/list of ints or None (every dimension); `keepdim=True` keeps reduced dimensions as size 1.
Most reductions share one rule: backward is g (reshaped to the keepdim shape) times the partial derivative
d out / d x, and the forward-mode rule is the sum over `dim` of that partial times the tangent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops.elementwise import maximum, minimum
from dagrad.ops.sampling import arr, away, distinct

Dim = int | tuple[int, ...] | list[int] | None


def _dims(op: str, dim: Dim, ndim: int) -> tuple[int, ...] | None:
    """dim normalised to a sorted tuple of axes in [0, ndim), or None for every axis; ShapeError when out of range.

    A 0-d tensor accepts dim 0 and -1 (as PyTorch) and reduces nothing; an empty tuple means every axis.
    """
    if dim is None:
        return None
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, checked cheaply
        return (dim % ndim,)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return None
    n = ndim if ndim > 0 else 1
    out = []
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise ShapeError(f"{op}: expected dim to be an int or a tuple of ints, received {dim!r}")
        if not -n <= d < n:
            raise ShapeError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions (expected {-n}..{n - 1})"
            )
        out.append(d % n)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: dim {dim!r} names the same dimension more than once")
    return tuple(sorted(out)) if ndim else ()


def _kshape(shape: tuple, dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """The output shape with keepdim=True: reduced dimensions become 1."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _count(shape: tuple, dims: tuple[int, ...] | None) -> int:
    """How many elements each output element reduces."""
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


class _Reduce(Function):
    """A reduction of x over `dims`: remembers the input shape and how to bring g back to the keepdim shape."""

    __slots__ = ("in_shape", "dims", "keepdim")

    def setup(self, x, dims, keepdim) -> None:
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim

    def keep(self, g: Tensor) -> Tensor:
        """g (the output's shape) reshaped to the keepdim shape, so it broadcasts against x."""
        if self.keepdim or self.dims is None or not self.dims:
            return g
        return g.reshape(_kshape(self.in_shape, self.dims))

    def reduce(self, t: Tensor) -> Tensor:
        """Sum t over the reduced dims, keeping or dropping them like the forward did."""
        return Sum.apply(t, dims=self.dims, keepdim=self.keepdim)


# ---- sum, mean -------------------------------------------------------------------------------------------


def _torch_sum(T, x, dim=None, keepdim=False):
    return x.sum() if dim is None else x.sum(dim, keepdim=keepdim)


def _torch_mean(T, x, dim=None, keepdim=False):
    return x.mean() if dim is None else x.mean(dim, keepdim=keepdim)


class Sum(_Reduce):
    """Sum over dims; the gradient broadcasts g back over the reduced dims."""

    __slots__ = ("in_dtype",)

    def forward(self, x, dims, keepdim, dtype=None):
        self.setup(x, dims, keepdim)
        self.in_dtype = x.dtype
        return x.sum(axis=dims, dtype=dtype, keepdims=keepdim)

    def backward(self, g):
        g = self.keep(g)
        if g.dtype != self.in_dtype:
            g = g.to(self.in_dtype)
        return g.expand(self.in_shape)

    def jvp(self, inputs, out, t):
        return Sum.apply(t[0], dims=self.dims, keepdim=self.keepdim, dtype=out.dtype)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=sum, torch=_torch_sum, name="all")
        yield Sample(arr(2, 3, 4), call=sum, dim=1, torch=_torch_sum)
        yield Sample(arr(2, 3, 4), call=sum, dim=(0, -1), keepdim=True, torch=_torch_sum, name="tuple-keepdim")
        yield Sample(arr(), call=sum, dim=0, torch=_torch_sum, name="0-d")


class Mean(_Reduce):
    """Mean over dims; the gradient is g / n spread over the reduced dims."""

    __slots__ = ()

    def forward(self, x, dims, keepdim):
        self.setup(x, dims, keepdim)
        return x.mean(axis=dims, keepdims=keepdim)

    def backward(self, g):
        return (self.keep(g) * (1.0 / _count(self.in_shape, self.dims))).expand(self.in_shape)

    def jvp(self, inputs, out, t):
        return Mean.apply(t[0], dims=self.dims, keepdim=self.keepdim)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=mean, torch=_torch_mean, name="all")
        yield Sample(arr(2, 3, 4), call=mean, dim=-2, torch=_torch_mean)
        yield Sample(arr(2, 3, 4), call=mean, dim=(0, 2), keepdim=True, torch=_torch_mean, name="tuple-keepdim")


def sum(x: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over `dim` (all dims when None). Integer and bool inputs sum to int64, as in PyTorch."""
    dims = _dims("sum", dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        dtype = backend.int64
    elif dtype is not None:
        dtype = backend.numpy.dtype(dtype)
    return Sum.apply(x, dims=dims, keepdim=keepdim, dtype=dtype)


def mean(x: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over `dim` (all dims when None); needs a floating input or a floating `dtype=`."""
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise DtypeError(
            f"mean: expected a floating point input or a floating dtype=, received dtype {x.dtype}; "
            "call x.float() first or pass dtype="
        )
    return Mean.apply(x, dims=_dims("mean", dim, x.ndim), keepdim=keepdim)


# ---- var, std --------------------------------------------------------------------------------------------


def _torch_var(T, x, dim=None, keepdim=False, correction=1):
    return x.var(dim, correction=correction, keepdim=keepdim)


def _torch_std(T, x, dim=None, keepdim=False, correction=1):
    return x.std(dim, correction=correction, keepdim=keepdim)


class _Moment(_Reduce):
    """Shared by Var and Std: x - mean(x) (as dagrad ops, so double backward works) and 1 / (n - correction)."""

    __slots__ = ("correction",)
    retain = (0,)

    def setup_moment(self, x, dims, correction, keepdim) -> None:
        self.setup(x, dims, keepdim)
        self.correction = correction

    def centred(self, x: Tensor) -> Tensor:
        return x - Mean.apply(x, dims=self.dims, keepdim=True)

    def inv_dof(self) -> float:
        dof = _count(self.in_shape, self.dims) - self.correction
        return 1.0 / dof if dof > 0 else float("inf")


class Var(_Moment):
    """Variance with Bessel's correction `correction` (1 = unbiased): sum((x - mean)^2) / (n - correction)."""

    __slots__ = ()

    def forward(self, x, dims, correction, keepdim):
        self.setup_moment(x, dims, correction, keepdim)
        return x.var(axis=dims, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        (x,) = self.saved
        return self.keep(g) * self.centred(x) * (2.0 * self.inv_dof())

    def jvp(self, inputs, out, t):
        return self.reduce(self.centred(inputs[0]) * t[0]) * (2.0 * self.inv_dof())

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=var, torch=_torch_var, name="all")
        yield Sample(arr(2, 3, 4), call=var, dim=1, keepdim=True, torch=_torch_var)
        yield Sample(arr(2, 3, 4), call=var, dim=(0, 2), correction=0, torch=_torch_var, name="biased")


class Std(_Moment):
    """Standard deviation: sqrt(var); the gradient (x - mean) / ((n - correction) * std)."""

    __slots__ = ()
    keep_output = True

    def forward(self, x, dims, correction, keepdim):
        self.setup_moment(x, dims, correction, keepdim)
        return x.std(axis=dims, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        (x,) = self.saved
        return self.keep(g) * self.centred(x) * self.inv_dof() / self.keep(self.output())

    def jvp(self, inputs, out, t):
        return self.reduce(self.centred(inputs[0]) * t[0]) * self.inv_dof() / out

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=std, torch=_torch_std, name="all")
        yield Sample(arr(2, 3, 4), call=std, dim=-1, torch=_torch_std)
        yield Sample(arr(2, 3, 4), call=std, dim=(0, 1), keepdim=True, correction=0, torch=_torch_std, name="biased")


def _correction(op: str, unbiased: bool | None, correction: float | None) -> float:
    if unbiased is not None and correction is not None:
        raise ShapeError(f"{op}: pass either unbiased= or correction=, not both (received {unbiased}, {correction})")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def var(
    x: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over `dim` with `correction` (default 1, Bessel's); unbiased=False means correction=0.

    A correction >= the number of reduced elements gives inf/nan (NumPy warns, as PyTorch does).
    """
    if isinstance(dim, bool):  # the legacy overload var(x, unbiased)
        dim, unbiased = None, dim
    correction = _correction("var", unbiased, correction)
    return Var.apply(x, dims=_dims("var", dim, x.ndim), correction=correction, keepdim=keepdim)


def std(
    x: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation over `dim`; same arguments as var."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    correction = _correction("std", unbiased, correction)
    return Std.apply(x, dims=_dims("std", dim, x.ndim), correction=correction, keepdim=keepdim)


# ---- prod ------------------------------------------------------------------------------------------------


def _torch_prod(T, x, dim=None, keepdim=False):
    return x.prod() if dim is None else x.prod(dim, keepdim=keepdim)


class Prod(_Reduce):
    """Product over one dim (or all). d out / d x_i is the product of the other elements, computed without
    dividing by zero: the product of a slice's non-zeros times the product of its other zeros."""

    __slots__ = ()
    retain = (0,)
    keep_output = True

    def forward(self, x, dims, keepdim, dtype=None):
        self.setup(x, dims, keepdim)
        return x.prod(axis=dims, dtype=dtype, keepdims=keepdim)

    def partial(self, x: Tensor, y: Tensor) -> Tensor:
        """prod_{j != i} x_j for every i (shape of x), from y = prod(x) (keepdim shape); exact to second order.

        With zeros, prod_{j != i} x_j = P / x_i * Z_i, where P is the product of the slice's non-zeros (x_i
        read as 1 when it is a zero) and Z_i the product of the slice's zeros other than x_i. Z_i is 0 or 1 in
        value; to second order only its terms with one zero factor matter: x_k for a non-zero i in a slice with
        one zero x_k, and the other zero for a zero i in a slice with two.
        """
        xa = x.data
        zero = xa == 0
        if not zero.any():
            return y / x
        dims, dtype = self.dims, xa.dtype
        count = zero.sum(axis=dims, keepdims=True)
        zm = zero.astype(dtype)
        nonzero = x * _make(1 - zm) + _make(zm)  # zeros replaced by ones
        p = Prod.apply(nonzero, dims=dims, keepdim=True)
        z = Sum.apply(x * _make(zm), dims=dims, keepdim=True)  # sum of the slice's zeros: 0, with a derivative
        one, two = count == 1, count == 2
        a = _make(((count == 0) | (one & zero)).astype(dtype))
        b = _make(((one & ~zero) | (two & zero)).astype(dtype))
        c = _make((two & zero).astype(dtype))
        return p / nonzero * (a + z * b - x * c)

    def backward(self, g):
        return self.keep(g) * self.partial(self.saved[0], self.keep(self.output()))

    def jvp(self, inputs, out, t):
        return self.reduce(self.partial(inputs[0], self.keep(out)) * t[0])

    @staticmethod
    def samples():
        x = arr(2, 3, 4)
        yield Sample(arr(2, 3), call=prod, torch=_torch_prod, name="all")
        yield Sample(x, call=prod, dim=1, torch=_torch_prod)
        yield Sample(arr(3, 4), call=prod, dim=-1, keepdim=True, torch=_torch_prod, name="keepdim")
        z = x.copy()
        z[0, 1, 0] = z[1, 0, 2] = z[1, 2, 2] = z[1, 0, 3] = z[1, 1, 3] = z[1, 2, 3] = 0.0  # 0 to 3 zeros
        yield Sample(z, call=prod, dim=1, torch=_torch_prod, name="zeros")
        yield Sample(z[0], call=prod, torch=_torch_prod, name="one-zero")


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product over `dim` (all elements when None). Integer and bool inputs give int64, as in PyTorch."""
    if dim is not None and not isinstance(dim, int):
        raise ShapeError(f"prod: expected dim to be an int or None, received {dim!r}")
    if dtype is None and x.dtype.kind in "biu":
        dtype = backend.int64
    elif dtype is not None:
        dtype = backend.numpy.dtype(dtype)
    return Prod.apply(x, dims=_dims("prod", dim, x.ndim), keepdim=keepdim, dtype=dtype)


# ---- max, min, amax, amin, argmax, argmin ----------------------------------------------------------------


class ValuesIndices(NamedTuple):
    """What max(dim) and min(dim) return, as torch.return_types.max: values and their int64 indices."""

    values: Tensor
    indices: Tensor


def _torch_amax(T, x, dim=(), keepdim=False):
    return T.amax(x, dim, keepdim)


def _torch_amin(T, x, dim=(), keepdim=False):
    return T.amin(x, dim, keepdim)


class Amax(_Reduce):
    """Largest value over dims; on ties the gradient is split evenly among the maxima (as PyTorch's amax)."""

    __slots__ = ()
    retain = (0,)
    keep_output = True
    pick = staticmethod(lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims))

    def forward(self, x, dims, keepdim):
        self.setup(x, dims, keepdim)
        return self.pick(x, dims, keepdim)

    def partial(self, x: Any, y: Any) -> Tensor:
        """1 / (number of extrema) where x equals its slice's extremum, else 0 (a constant: the op is linear)."""
        hit = x == (y if self.keepdim or self.dims == () else y.reshape(_kshape(self.in_shape, self.dims)))
        w = hit.astype(x.dtype)
        w /= hit.sum(axis=self.dims, keepdims=True)
        return _make(w)

    def backward(self, g):
        return self.keep(g) * self.partial(self.saved[0].data, self.out)

    def jvp(self, inputs, out, t):
        return self.reduce(self.partial(inputs[0].data, out.data) * t[0])

    @staticmethod
    def samples():
        ties = arr(3, 4)
        ties[1, 2] = ties[1, 0] = ties.max() + 1.0
        yield Sample(distinct(3, 4), call=amax, torch=_torch_amax, name="all")
        yield Sample(distinct(2, 3, 4), call=amax, dim=1, torch=_torch_amax)
        yield Sample(distinct(2, 3, 4), call=amax, dim=(0, 2), keepdim=True, torch=_torch_amax, name="tuple")
        # at a tie central differences split the gradient evenly too; the gradient itself jumps there
        yield Sample(ties, call=amax, dim=1, torch=_torch_amax, name="ties", grad2=False)


class Amin(Amax):
    """Smallest value over dims; on ties the gradient is split evenly among the minima."""

    __slots__ = ()
    pick = staticmethod(lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims))

    @staticmethod
    def samples():
        yield Sample(distinct(3, 4), call=amin, torch=_torch_amin, name="all")
        yield Sample(distinct(2, 3, 4), call=amin, dim=-1, keepdim=True, torch=_torch_amin)


def _torch_max(T, x, dim, keepdim=False):
    return tuple(T.max(x, dim, keepdim))


def _torch_min(T, x, dim, keepdim=False):
    return tuple(T.min(x, dim, keepdim))


class MaxDim(Function):
    """Values of max(x, dim) at the indices the caller found; the gradient goes to that index only, so on ties
    the first maximum gets it all (as PyTorch's max(dim))."""

    __slots__ = ("index", "dim", "keepdim", "n")

    def forward(self, x, index, dim, keepdim):
        self.index, self.dim, self.keepdim = index, dim, keepdim
        if x.ndim == 0:
            self.n = 1
            return x.copy()
        self.n = x.shape[dim]
        v = namespace(x).take_along_axis(x, index, axis=dim)
        return v if keepdim else v.squeeze(dim)

    def onehot(self, dtype) -> Tensor:
        """1 at the chosen index of each slice, else 0: a constant of x's shape (the op is linear in x)."""
        idx = self.index
        xp = namespace(idx)
        pos = xp.arange(self.n).reshape((self.n,) + (1,) * (idx.ndim - 1 - self.dim))
        return _make((pos == idx).astype(dtype))

    def backward(self, g):
        if not self.keepdim and self.index.ndim:
            g = g.unsqueeze(self.dim)
        return g * self.onehot(g.dtype)

    def jvp(self, inputs, out, t):
        if not self.index.ndim:
            return t[0]
        return Sum.apply(t[0] * self.onehot(t[0].dtype), dims=(self.dim,), keepdim=self.keepdim)

    @staticmethod
    def samples():
        yield Sample(distinct(3, 4), call=max, dim=1, torch=_torch_max)
        yield Sample(distinct(2, 3, 4), call=max, dim=0, keepdim=True, torch=_torch_max, name="keepdim")
        yield Sample(arr(), call=max, dim=0, torch=_torch_max, name="0-d")


class MinDim(MaxDim):
    """Values of min(x, dim) at the indices the caller found; the gradient goes to the first minimum."""

    __slots__ = ()

    @staticmethod
    def samples():
        yield Sample(distinct(3, 4), call=min, dim=-1, torch=_torch_min)
        yield Sample(distinct(2, 3, 4), call=min, dim=1, keepdim=True, torch=_torch_min, name="keepdim")


class Argmax(Function):
    """Index of the first maximum over `dim` (of the flattened tensor when dim is None); int64, no gradient."""

    __slots__ = ()
    differentiable = False
    pick = staticmethod(lambda xp, x, axis, keepdims: xp.argmax(x, axis=axis, keepdims=keepdims))

    def forward(self, x, dim, keepdim):
        xp = namespace(x)
        if x.ndim == 0:
            return xp.zeros((), backend.int64)
        return self.pick(xp, x, dim, keepdim).astype(backend.int64, copy=False)

    @staticmethod
    def samples():
        yield Sample(distinct(3, 4), call=argmax, torch=lambda T, x: T.argmax(x))
        yield Sample(distinct(2, 3, 4), call=argmax, dim=1, keepdim=True,
                     torch=lambda T, x, dim, keepdim: T.argmax(x, dim, keepdim))  # fmt: skip


class Argmin(Argmax):
    """Index of the first minimum over `dim` (of the flattened tensor when dim is None); int64, no gradient."""

    __slots__ = ()
    pick = staticmethod(lambda xp, x, axis, keepdims: xp.argmin(x, axis=axis, keepdims=keepdims))

    @staticmethod
    def samples():
        yield Sample(distinct(3, 4), call=argmin, dim=0, torch=lambda T, x, dim: T.argmin(x, dim))


def _dim(op: str, dim: Any, ndim: int) -> int:
    """One dim (int) normalised to [0, ndim) (0 for a 0-d tensor), or a ShapeError naming the op."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise ShapeError(f"{op}: expected dim to be an int, received {dim!r}")
    dims = _dims(op, dim, ndim)
    return dims[0] if dims else 0


def _extreme(op: str, x: Tensor, dim: Any, keepdim: bool) -> Any:
    """max/min: the whole-tensor extremum (Amax/Amin), or (values, indices) along dim (MaxDim/MinDim)."""
    if dim is None:
        return (Amax if op == "max" else Amin).apply(x, dims=None, keepdim=False)
    d = _dim(op, dim, x.ndim)
    a = x.data
    xp = namespace(a)
    if a.size == 0:
        raise ShapeError(f"{op}: expected a non-empty tensor to reduce, received shape {x.shape}")
    if a.ndim:
        index = (xp.argmax if op == "max" else xp.argmin)(a, axis=d, keepdims=True)
    else:
        index = xp.zeros((), backend.int64)
    values = (MaxDim if op == "max" else MinDim).apply(x, index=index, dim=d, keepdim=keepdim)
    return ValuesIndices(values, _make(index if keepdim or not a.ndim else index.squeeze(d)))


def max(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:  # noqa: A001
    """max(x): the largest value (the gradient split evenly among ties). max(x, dim): (values, indices) with
    the first maximum's index (which also gets the gradient). max(x, other): the elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _extreme("max", x, dim, keepdim)


def min(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:  # noqa: A001
    """min(x): the smallest value; min(x, dim): (values, indices); min(x, other): the elementwise minimum."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _extreme("min", x, dim, keepdim)


def amax(x: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    """Largest values over `dim` (all dims when empty or None); ties share the gradient evenly."""
    return Amax.apply(x, dims=_dims("amax", dim, x.ndim), keepdim=keepdim)


def amin(x: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    """Smallest values over `dim` (all dims when empty or None); ties share the gradient evenly."""
    return Amin.apply(x, dims=_dims("amin", dim, x.ndim), keepdim=keepdim)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first maximum over `dim`, or into the flattened tensor when dim is None."""
    return Argmax.apply(x, dim=None if dim is None else _dim("argmax", dim, x.ndim), keepdim=keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first minimum over `dim`, or into the flattened tensor when dim is None."""
    return Argmin.apply(x, dim=None if dim is None else _dim("argmin", dim, x.ndim), keepdim=keepdim)


# ---- logsumexp, norm, cumsum -----------------------------------------------------------------------------


def _torch_logsumexp(T, x, dim, keepdim=False):
    return T.logsumexp(x, dim, keepdim)


class LogSumExp(_Reduce):
    """log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m the max (finite for any input);
    the gradient is softmax(x) = exp(x - out)."""

    __slots__ = ()
    retain = (0,)
    keep_output = True

    def forward(self, x, dims, keepdim):
        self.setup(x, dims, keepdim)
        xp = namespace(x)
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a slice of all -inf (or with an inf): log/exp give -inf/inf/nan
        e = _minus(x, m)
        xp.exp(e, out=e)
        s = e.sum(axis=dims, keepdims=True)
        empty = s == 0  # every exp underflowed to 0 (a slice of -inf): the result is -inf, without a log(0) warning
        s = xp.where(empty, -float("inf"), xp.log(s + empty)) + m
        return s if keepdim or dims == () else s.reshape(_out_shape(x.shape, dims))

    def backward(self, g):
        (x,) = self.saved
        return self.keep(g) * (x - self.keep(self.output())).exp()

    def jvp(self, inputs, out, t):
        return self.reduce((inputs[0] - self.keep(out)).exp() * t[0])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=logsumexp, dim=1, torch=_torch_logsumexp)
        yield Sample(arr(2, 3, 4), call=logsumexp, dim=(0, 2), keepdim=True, torch=_torch_logsumexp, name="tuple")
        yield Sample(arr(2, 3) * 50, call=logsumexp, dim=-1, torch=_torch_logsumexp, name="large")


def _minus(x: Any, m: Any) -> Any:
    """x - m as a new array of x's shape, also when x is 0-d (where NumPy would return a scalar)."""
    xp = namespace(x)
    return xp.subtract(x, m, out=xp.empty(x.shape, x.dtype))


def _out_shape(shape: tuple, dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """The output shape with keepdim=False: reduced dimensions dropped."""
    if dims is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _torch_norm(T, x, p="fro", dim=None, keepdim=False):
    return T.norm(x, p, dim, keepdim)


class Norm(_Reduce):
    """Vector p-norm over dims: (sum |x|^p)^(1/p); p=inf/-inf is max/min |x|, p=0 counts non-zeros.

    The gradient is 0 where the norm is 0 (PyTorch's subgradient); for p=inf it is split evenly among ties.
    """

    __slots__ = ("p",)
    retain = (0,)
    keep_output = True

    def forward(self, x, p, dims, keepdim):
        self.setup(x, dims, keepdim)
        self.p = p
        xp = namespace(x)
        if p == 2:
            return xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        a = xp.abs(x)
        if p == 1:
            return a.sum(axis=dims, keepdims=keepdim)
        if p == float("inf"):
            return a.max(axis=dims, keepdims=keepdim)
        if p == -float("inf"):
            return a.min(axis=dims, keepdims=keepdim)
        if p == 0:
            return (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        return ((a**p).sum(axis=dims, keepdims=keepdim)) ** (1.0 / p)

    def partial(self, x: Tensor, y: Tensor) -> Tensor:
        """d norm / d x (shape of x), from y = norm (keepdim shape)."""
        p, xa, ya = self.p, x.data, y.data
        xp = namespace(xa)
        if p == 0:
            return _make(xp.zeros_like(xa))
        if p == 1:
            return _make(xp.sign(xa))
        if p in (float("inf"), -float("inf")):
            hit = xp.abs(xa) == ya
            w = xp.sign(xa) * hit
            w /= hit.sum(axis=self.dims, keepdims=True)
            return _make(w)
        zero = ya == 0
        if zero.any():  # a zero norm gets a zero gradient: divide by 1 there, then mask
            y = y + _make(zero.astype(ya.dtype))
            live = _make((~zero).astype(xa.dtype))
            return (x / y if p == 2 else _make(xp.sign(xa)) * (x.abs() / y) ** (p - 1)) * live
        return x / y if p == 2 else _make(xp.sign(xa)) * (x.abs() / y) ** (p - 1)

    def backward(self, g):
        return self.keep(g) * self.partial(self.saved[0], self.keep(self.output()))

    def jvp(self, inputs, out, t):
        return self.reduce(self.partial(inputs[0], self.keep(out)) * t[0])

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=norm, torch=_torch_norm, name="fro")
        yield Sample(away(2, 3, 4), call=norm, p=1, dim=1, torch=_torch_norm, name="p=1")
        yield Sample(
            distinct(3, 4) + 0.1, call=norm, p=float("inf"), dim=-1, keepdim=True, torch=_torch_norm, name="inf"
        )
        yield Sample(away(2, 3, 4), call=norm, p=3.0, dim=(0, 2), torch=_torch_norm, name="p=3")
        yield Sample(away(3, 4), call=norm, p=0.5, dim=0, torch=_torch_norm, name="p=0.5")


def _torch_cumsum(T, x, dim):
    return T.cumsum(x, dim)


class Cumsum(Function):
    """Running sum along dim; the gradient is the reversed running sum of g."""

    __slots__ = ("dim",)

    def forward(self, x, dim, dtype=None):
        self.dim = dim
        return namespace(x).cumsum(x, axis=dim, dtype=dtype) if x.ndim else x.astype(dtype or x.dtype)

    def backward(self, g):
        if not g.ndim:
            return g
        return Cumsum.apply(g.flip(self.dim), dim=self.dim).flip(self.dim)

    def jvp(self, inputs, out, t):
        return Cumsum.apply(t[0], dim=self.dim, dtype=out.dtype)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), call=cumsum, dim=1, torch=_torch_cumsum)
        yield Sample(arr(2, 3, 4), call=cumsum, dim=-3, torch=_torch_cumsum, name="first")


def logsumexp(x: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x), dim)), stable for large and very negative inputs (the max is subtracted first)."""
    if x.dtype.kind != "f":
        x = x.to(backend.get_default_dtype())
    return LogSumExp.apply(x, dims=_dims("logsumexp", dim, x.ndim), keepdim=keepdim)


def norm(x: Tensor, p: float | str = "fro", dim: Dim = None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm of x over `dim` (all elements when None): p = 'fro' (= 2), 1, 2, inf, -inf, 0 or any p > 0."""
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float)) or (p < 0 and p != -float("inf")):
        raise ShapeError(f"norm: expected p to be 'fro', a number >= 0, inf or -inf, received p={p!r}")
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise DtypeError(f"norm: expected a floating point input, received dtype {x.dtype}; call x.float() first")
    return Norm.apply(x, p=float(p), dims=_dims("norm", dim, x.ndim), keepdim=keepdim)


def cumsum(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sum along `dim`; integer and bool inputs give int64, as in PyTorch."""
    d = _dim("cumsum", dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        dtype = backend.int64
    elif dtype is not None:
        dtype = backend.numpy.dtype(dtype)
    return Cumsum.apply(x, dim=d, dtype=dtype)


__all__ = [
    "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp", "norm",
    "cumsum",
]  # fmt: skip
TENSOR_METHODS = {
    "sum": sum, "mean": mean, "var": var, "std": std, "prod": prod, "max": max, "min": min, "amax": amax,
    "amin": amin, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "norm": norm, "cumsum": cumsum,
}  # fmt: skip
