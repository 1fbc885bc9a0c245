"""In-place ops with PyTorch's names: add_, sub_, mul_, div_, pow_, neg_, clamp_, zero_, fill_, copy_, masked_fill_,
index_put_, index_add_, scatter_, scatter_add_, x[key] = v, and x += y, x -= y, x *= y, x /= y, x **= y.

When autograd must see the change (grad mode is on and a tensor involved requires grad, or forward-mode tangents
are present), the out-of-place op runs through Function.apply_: it refuses leaves that require grad, bumps version
counters (so backward detects a saved tensor that changed) and rebases the tensor's history onto the new node.
Otherwise the op writes straight into the array (np.add(x, y, out=x)): no temporaries, no graph; the version
counter is still bumped, so a graph recorded earlier still notices the change.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.function import Function, mark_modified
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, InplaceError, ShapeError
from dagrad.ops import arithmetic
from dagrad.ops.arithmetic import Add, Div, Mul, Neg, Pow, Sub
from dagrad.ops.indexing import (
    IndexAdd,
    IndexPut,
    MaskedFill,
    Scatter,
    ScatterAdd,
    _accumulate,
    _fill,
    _fill_value,
    _index_1d,
    _index_error,
    _key,
    _mask_for,
    _scatter_args,
)

_ALL = (Ellipsis,)


def _tracked(x: Tensor, other: Any = None, third: Any = None) -> bool:
    """Whether autograd must record this in-place change (else it is a plain write into x's array)."""
    if state.grad and (
        x.requires_grad
        or (isinstance(other, Tensor) and other.requires_grad)
        or (isinstance(third, Tensor) and third.requires_grad)
    ):
        return True
    return bool(state.fw) and any(isinstance(v, Tensor) and v._tangent is not None for v in (x, other, third))


def _raw(v: Any) -> Any:
    return v.data if isinstance(v, Tensor) else v


def _apply_(op: str, cls: type[Function], x: Tensor, *inputs: Any, **params: Any) -> Tensor:
    """cls.apply_ with errors that name the op as the user called it (add_, x[key] = v, ...)."""
    try:
        return cls.apply_(x, *inputs, **params)
    except (InplaceError, ShapeError, DtypeError) as e:
        prefix = cls.__name__.lower()
        msg = str(e)
        for p in (prefix + "_: ", prefix + ": "):
            if msg.startswith(p):
                raise type(e)(f"{op}: {msg[len(p) :]}") from None
        raise


def _write(op: str, x: Tensor, ufunc: Any, *args: Any) -> Tensor:
    """ufunc(x, *args, out=x) on the arrays: the no-autograd path. Errors name the op."""
    try:
        if len(args) == 1:
            a = args[0]
            ufunc(x.data, a.data if isinstance(a, Tensor) else a, out=x.data)
        else:
            ufunc(x.data, *[_raw(a) for a in args], out=x.data)
    except TypeError:
        kinds = ", ".join(str(getattr(_raw(a), "dtype", type(a).__name__)) for a in args)
        raise DtypeError(f"{op}: the result (from operands of type {x.dtype}, {kinds}) cannot be written into a "
                         f"tensor of dtype {x.dtype}") from None  # fmt: skip
    except ValueError as e:
        raise ShapeError(f"{op}: {e} (the tensor has shape {x.shape}; an in-place op cannot change it)") from None
    mark_modified(x)
    return x


# ---- arithmetic ----------------------------------------------------------------------------------------------


def add_(x: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """x += alpha * other, in place."""
    if _tracked(x, other):
        return _apply_("add_", Add, x, other * alpha if alpha != 1 else other)
    return _write("add_", x, namespace(x.data).add, _raw(other) * alpha if alpha != 1 else other)


def sub_(x: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """x -= alpha * other, in place."""
    if _tracked(x, other):
        return _apply_("sub_", Sub, x, other * alpha if alpha != 1 else other)
    return _write("sub_", x, namespace(x.data).subtract, _raw(other) * alpha if alpha != 1 else other)


def mul_(x: Tensor, other: Any) -> Tensor:
    """x *= other, in place."""
    if _tracked(x, other):
        return _apply_("mul_", Mul, x, other)
    return _write("mul_", x, namespace(x.data).multiply, other)


def div_(x: Tensor, other: Any) -> Tensor:
    """x /= other, in place (true division: an integer tensor cannot hold the result)."""
    if _tracked(x, other):
        return _apply_("div_", Div, x, other)
    return _write("div_", x, namespace(x.data).true_divide, other)


def pow_(x: Tensor, exponent: Any) -> Tensor:
    """x **= exponent, in place."""
    if _tracked(x, exponent):
        return _apply_("pow_", Pow, x, exponent)
    return _write("pow_", x, namespace(x.data).power, exponent)


def neg_(x: Tensor) -> Tensor:
    """x = -x, in place."""
    if _tracked(x):
        return _apply_("neg_", Neg, x)
    return _write("neg_", x, namespace(x.data).negative)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (torch's argument names)
    """Clamp x into [min, max] in place (either bound may be None)."""
    if min is None and max is None:
        raise ShapeError("clamp_: expected at least one of min and max, received neither")
    if _tracked(x, min, max):
        return _through("clamp_", x, lambda v: v.clamp(min, max))
    return _write("clamp_", x, namespace(x.data).clip, min, max)


def _through(op: str, x: Tensor, fn: Any) -> Tensor:
    """x = fn(x) in place under autograd, for ops without an op class of their own: fn runs on a snapshot of x
    (what it saves for backward must not change), and the result is copied into x through IndexPut.apply_."""
    snapshot = _make(x.data.copy(), x.requires_grad, x.grad_fn)
    snapshot._tangent = x._tangent
    return _apply_(op, IndexPut, x, fn(snapshot), key=_ALL, inplace=True)


def _augmented(inplace: Any, out_of_place: Any, name: str) -> Any:
    """Python's x op= y. A view of a tensor that requires grad cannot change in place under autograd; there
    (as in `x[i] += y`, which Python follows with x[i] = result) the result is computed out of place, from a
    clone, so that nothing saved for backward aliases the base that x[i] = result is about to change."""

    def op(x: Tensor, other: Any) -> Tensor:
        base = x._base
        if base is not None and base.requires_grad and _tracked(x, other):
            return out_of_place(x.clone(), other)
        return inplace(x, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"x {name} other: in place, returns x."
    return op


# ---- filling and copying -------------------------------------------------------------------------------------


def fill_(x: Tensor, value: Any) -> Tensor:
    """Set every element of x to value (a number or a 0-d tensor)."""
    value = _fill_value("fill_", value)
    if _tracked(x, value):
        return _apply_("fill_", IndexPut, x, value, key=_ALL, inplace=True)
    x.data.fill(_raw(value))
    mark_modified(x)
    return x


def zero_(x: Tensor) -> Tensor:
    """Set every element of x to zero."""
    return fill_(x, 0)


def copy_(x: Tensor, src: Any) -> Tensor:
    """Copy src into x, broadcasting it to x's shape and casting it to x's dtype."""
    if _tracked(x, src):
        return _apply_("copy_", IndexPut, x, src, key=_ALL, inplace=True)
    try:
        namespace(x.data).copyto(x.data, _raw(src), casting="unsafe")
    except ValueError as e:
        raise ShapeError(f"copy_: {e} (the tensor has shape {x.shape})") from None
    mark_modified(x)
    return x


def masked_fill_(x: Tensor, mask: Any, value: Any) -> Tensor:
    """Set x to value where mask (broadcast to x) is True."""
    m = _mask_for("masked_fill_", mask, x)
    value = _fill_value("masked_fill_", value)
    if _tracked(x, value):
        return _apply_("masked_fill_", MaskedFill, x, m, value, inplace=True)
    _fill(x.data, m, _raw(value), True)
    mark_modified(x)
    return x


# ---- indexing --------------------------------------------------------------------------------------------------


def _put(op: str, x: Tensor, key: Any, value: Any, accumulate: bool) -> Tensor:
    key, _ = _key(op, key, namespace(x.data))
    try:
        if _tracked(x, value):
            return _apply_(op, IndexPut, x, value, key=key, accumulate=accumulate, inplace=True)
        if accumulate:
            _accumulate(x.data, key, _raw(value))
        else:
            x.data[key] = _raw(value)
    except IndexError as e:
        raise _index_error(op, e, x) from None
    except ValueError as e:
        if isinstance(e, ShapeError):
            raise
        raise ShapeError(f"{op}: {e} (tensor of shape {x.shape})") from None
    mark_modified(x)
    return x


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """x[key] = value (value broadcasts); with autograd, the new history of x is an IndexPut node."""
    _put("setitem", x, key, value, False)


def index_put_(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """x[indices] = values in place (+= with accumulate, repeated indices adding up)."""
    return _put("index_put_", x, tuple(indices) if isinstance(indices, (list, tuple)) else indices, values, accumulate)


def index_add_(x: Tensor, dim: int, index: Any, source: Tensor, alpha: float = 1) -> Tensor:
    """x[.., index[i], ..] += alpha * source[.., i, ..] along dim, in place."""
    idx, d = _index_1d("index_add_", x, dim, index)
    if alpha != 1:
        source = source * alpha
    return _apply_("index_add_", IndexAdd, x, idx, source, dim=d, inplace=True)


def scatter_add_(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """Add src into x at `index` along dim, in place; repeated indices add up."""
    idx, d = _scatter_args("scatter_add_", x, dim, index, src)
    return _apply_("scatter_add_", ScatterAdd, x, idx, src, dim=d, inplace=True)


def scatter_(x: Tensor, dim: int, index: Any, src: Any = None, value: Any = None) -> Tensor:
    """Write src (a tensor, or the number `value`) into x at `index` along dim, in place."""
    if (src is None) == (value is None):
        raise ShapeError("scatter_: expected exactly one of src (a tensor) or value (a number)")
    src = value if src is None else src
    idx, d = _scatter_args("scatter_", x, dim, index, src)
    return _apply_("scatter_", Scatter, x, idx, src, dim=d, inplace=x.data.flags.c_contiguous)


__all__: list[str] = []
TENSOR_METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "neg_": neg_, "clamp_": clamp_,
    "clip_": clamp_, "fill_": fill_, "zero_": zero_, "copy_": copy_, "masked_fill_": masked_fill_,
    "index_put_": index_put_, "index_add_": index_add_, "scatter_": scatter_, "scatter_add_": scatter_add_,
    "__setitem__": setitem,
    "__iadd__": _augmented(add_, arithmetic.add, "+="), "__isub__": _augmented(sub_, arithmetic.sub, "-="),
    "__imul__": _augmented(mul_, arithmetic.mul, "*="), "__itruediv__": _augmented(div_, arithmetic.div, "/="),
    "__ipow__": _augmented(pow_, arithmetic.pow, "**="),
}  # fmt: skip
