"""Indexing: x[key] (basic keys give views, advanced keys gathers), index_put (the op behind x[key] = v), gather,
scatter, scatter_add, index_select, index_add, masked_fill, masked_select, take_along_dim, select.

The gradient of a gather is a scatter-add in which repeated indices add up. `_index_add` and `_add_flat` pick the
fastest correct kernel for its size (measured with NumPy 2.4 on 2 cores): `add.at` for small updates; for rows of
16+ elements, rounds of repeat-free fancy-indexed adds over the sorted indices (`_add_rows`, 4-10x add.at);
`bincount` when the output is not much larger than the update (2-5x add.at); `add.at` otherwise.
"""

from __future__ import annotations

import operator
from typing import Any

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import int64, namespace, ndarray_types
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops.elementwise import select as _blend
from dagrad.ops.sampling import arr, distinct, ints, mask
from dagrad.ops.shape import _dim, pad

_BASIC = frozenset({int, slice, type(None), type(Ellipsis)})
_SMALL = 4096  # updates up to this many elements go through add.at (lowest fixed cost)


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return _make(namespace(like.data).zeros(shape, like.data.dtype))


def _prod(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---- keys ----------------------------------------------------------------------------------------------


def _part(op: str, k: Any, xp: Any) -> Any:
    """One entry of an index key as NumPy takes it: int/slice/None/Ellipsis, or an integer or boolean array."""
    if type(k) in _BASIC:
        return k
    if isinstance(k, Tensor):
        k = k.data
    elif isinstance(k, (list, tuple)):
        k = xp.asarray([v.data if isinstance(v, Tensor) else v for v in k])
    elif isinstance(k, bool):
        k = xp.asarray(k)
    elif not isinstance(k, ndarray_types):
        try:
            return operator.index(k)
        except TypeError:
            raise DtypeError(
                f"{op}: indices must be ints, slices, None, Ellipsis or integer/boolean tensors; "
                f"received {type(k).__name__}"
            ) from None
    if k.dtype.kind not in "biu":
        if k.size:
            raise DtypeError(f"{op}: index tensors must be integer or boolean, received dtype {k.dtype}")
        k = k.astype(int64)
    return k


def _key(op: str, key: Any, xp: Any) -> tuple[tuple, bool]:
    """The key as a tuple of NumPy index entries, and whether it is basic (a view: no arrays in it)."""
    if type(key) is not tuple:
        key = (key,)
    parts = tuple(_part(op, k, xp) for k in key)
    return parts, all(type(k) in _BASIC for k in parts)


def _has_int_array(key: tuple) -> bool:
    """Whether an integer array is in key (then positions may repeat; boolean masks never repeat one)."""
    return any(isinstance(k, ndarray_types) and k.dtype.kind in "iu" for k in key)


def _index_error(op: str, e: Exception, x: Any) -> ShapeError:
    return ShapeError(f"{op}: {e} (tensor of shape {tuple(x.shape)})")


# ---- scatter-add kernels --------------------------------------------------------------------------------


def _index_add(out: Any, dim: int, index: Any, src: Any) -> None:
    """out[.., index[i], ..] += src[.., i, ..] along dim, in place; repeated (non-negative) indices add up."""
    xp = namespace(out)
    n = index.size
    if not n:
        return
    shape = out.shape
    a, r, b = _prod(shape[:dim]), shape[dim], _prod(shape[dim + 1 :])
    size = a * n * b
    if xp.__name__ != "numpy" or out.dtype.kind != "f" or size <= _SMALL or not out.flags.c_contiguous:
        xp.add.at(out, (slice(None),) * dim + (index,), src)
        return
    o3, s3 = out.reshape(a, r, b), src.reshape(a, n, b)
    if a == 1 and b >= 16 and _add_rows(o3[0], index, s3[0]):
        return
    if out.size <= 8 * size:
        lin = (xp.arange(a)[:, None, None] * r + index[:, None]) * b + xp.arange(b)
        out += xp.bincount(lin.reshape(-1), weights=s3.reshape(-1), minlength=out.size).reshape(shape)
    else:
        xp.add.at(o3, (slice(None), index), s3)


_MAX_REPEATS = 16  # _add_rows gives up (to bincount / add.at) when one row repeats more often than this


def _add_rows(out: Any, index: Any, src: Any) -> bool:
    """out[index[i]] += src[i] for rows of a 2-D out: one fancy-indexed add per rank of repeats (the first
    occurrence of every row, then the second, ...), each free of repeats. False (nothing done) when a row
    repeats more than _MAX_REPEATS times."""
    xp = namespace(out)
    n = index.size
    order = xp.argsort(index, kind="stable")
    s = index[order]
    first = xp.empty(n, bool)
    first[0] = True
    xp.not_equal(s[1:], s[:-1], out=first[1:])
    starts = xp.flatnonzero(first)
    if starts.size == n:
        out[s] += src[order]
        return True
    rank = xp.arange(n) - xp.repeat(starts, xp.diff(starts, append=n))
    counts = xp.bincount(rank)
    if counts.size > _MAX_REPEATS:
        return False
    by_rank = xp.argsort(rank.astype(xp.int16), kind="stable")
    rows, pos = s[by_rank], order[by_rank]
    lo = 0
    for c in counts.tolist():
        out[rows[lo : lo + c]] += src[pos[lo : lo + c]]
        lo += c
    return True


def _add_flat(out: Any, lin: Any, vals: Any) -> None:
    """out.flat[lin] += vals, in place; repeated offsets add up."""
    xp = namespace(out)
    if not out.flags.c_contiguous:
        tmp = xp.ascontiguousarray(out)
        _add_flat(tmp, lin, vals)
        out[...] = tmp
        return
    n = lin.size
    if xp.__name__ == "numpy" and out.dtype.kind == "f" and _SMALL < n and out.size <= 8 * n:
        w = vals.reshape(-1)
        out += xp.bincount(lin.reshape(-1), weights=w, minlength=out.size).reshape(out.shape)
    else:
        xp.add.at(out.reshape(-1), lin.reshape(-1), vals.reshape(-1))


def _accumulate(out: Any, key: tuple, v: Any) -> None:
    """out[key] += v in place, where repeated positions in key each add their value (index_put accumulate)."""
    xp = namespace(out)
    if not _has_int_array(key):
        out[key] += v
        return
    k = 0
    while k < len(key) and isinstance(key[k], ndarray_types) and key[k].dtype.kind in "iu":
        k += 1
    rest = key[k:]
    if not all(e is Ellipsis or (type(e) is slice and e == slice(None)) for e in rest):
        xp.add.at(out, key, v)
        return
    shape = out.shape
    if len(key[:k]) > len(shape):
        raise IndexError(f"too many indices: {k} index arrays for {len(shape)} dimensions")
    arrays = xp.broadcast_arrays(*key[:k])
    for d, a in enumerate(arrays):
        if a.size and (int(a.min()) < -shape[d] or int(a.max()) >= shape[d]):
            bad = int(a.min()) if int(a.min()) < -shape[d] else int(a.max())
            raise IndexError(f"index {bad} is out of bounds for axis {d} with size {shape[d]}")
    rows = xp.ravel_multi_index(tuple(arrays), shape[:k], mode="wrap") if k > 1 else arrays[0] % shape[0]
    inner = shape[k:]
    v = xp.broadcast_to(v, rows.shape + inner)
    if out.flags.c_contiguous:
        _index_add(out.reshape((_prod(shape[:k]),) + inner), 0, rows.reshape(-1), v.reshape((rows.size,) + inner))
    else:
        xp.add.at(out, tuple(arrays), v)


def _linear(xp: Any, shape: tuple, dim: int, index: Any) -> Any:
    """Flat offsets, in a C-contiguous array of `shape`, of the elements that `index` addresses along dim."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    lin = index.astype(int64, copy=False) * strides[dim]
    for d, n in enumerate(index.shape):
        if d != dim and n > 1:
            lin += (xp.arange(n) * strides[d]).reshape((n,) + (1,) * (index.ndim - d - 1))
    return lin


# ---- getitem and index_put -----------------------------------------------------------------------------------


class Slice(Function):
    """Basic indexing x[key] (ints, slices with steps, None, Ellipsis): a view of x."""

    __slots__ = ("in_shape", "key")
    is_view = True

    def forward(self, x, key):
        self.in_shape, self.key = x.shape, key
        return x[key]

    def backward(self, g):
        return IndexPut.apply(_zeros(self.in_shape, g), g, key=self.key, inplace=True)

    def jvp(self, inputs, out, t):
        return Slice.apply(t[0], key=self.key)

    @staticmethod
    def samples():
        torch = lambda T, x, key: x[key]
        get = lambda x, key: x[key]
        yield Sample(arr(3, 4), call=get, key=(1,), torch=torch, name="row")
        yield Sample(arr(3, 5), call=get, key=(slice(None), slice(1, None, 2)), torch=torch, name="step")
        yield Sample(arr(2, 3, 4), call=get, key=(Ellipsis, None, 2), torch=torch, name="ellipsis")
        yield Sample(arr(4), call=get, key=(-1,), torch=torch, name="0-d")


class Index(Function):
    """Advanced indexing x[key] with integer/boolean arrays (mixed with basic entries): a gather (a copy)."""

    __slots__ = ("in_shape",)

    def forward(self, x, key):
        self.in_shape, self.cache = x.shape, key
        return x[key]

    def backward(self, g):
        key = self.cache
        return IndexPut.apply(_zeros(self.in_shape, g), g, key=key, accumulate=_has_int_array(key), inplace=True)

    def jvp(self, inputs, out, t):
        return Index.apply(t[0], key=self.cache)

    @staticmethod
    def samples():
        torch = lambda T, x, key: x[key]
        get = lambda x, key: x[key]
        yield Sample(arr(4, 3), call=get, key=([0, 2, 0, 3],), torch=torch, name="repeat")
        yield Sample(arr(3, 5), call=get, key=(slice(None), [[1, 1], [4, 0]]), torch=torch, name="after slice")
        yield Sample(arr(3, 4), call=get, key=([0, 2, 2], [1, 3, 3]), torch=torch, name="pairs")
        yield Sample(arr(3, 4), call=get, key=(mask(3, 4).tolist(),), torch=torch, name="mask")
        yield Sample(arr(3, 4, 2), call=get, key=([True, False, True], 1), torch=torch, name="mask and int")


class IndexPut(Function):
    """out = x with out[key] = v (v broadcasts), or out[key] += v with accumulate (repeated positions add up).

    `inplace=True` writes into x's array: for fresh buffers (gradients) and for Function.apply_ (x[key] = v).
    """

    __slots__ = ("accumulate", "v_shape", "v_dtype")

    def forward(self, x, v, key, accumulate=False, inplace=False):
        out = x if inplace else x.copy()
        self.cache, self.accumulate = key, accumulate
        self.v_shape, self.v_dtype = getattr(v, "shape", ()), getattr(v, "dtype", None)
        if accumulate:
            _accumulate(out, key, v)
        else:
            out[key] = v
        return out

    def backward(self, g):
        key = self.cache
        gx = gv = None
        if self.needs(0):
            gx = g if self.accumulate else IndexPut.apply(g, 0.0, key=key)
        if self.needs(1):
            gv = _unbroadcast(g[key], self.v_shape)
            if gv.dtype != self.v_dtype:
                gv = gv.to(self.v_dtype)
        return gx, gv

    def jvp(self, inputs, out, t):
        tx = _zeros(out.shape, out) if t[0] is None else t[0]
        tv = 0.0 if t[1] is None else t[1]
        return IndexPut.apply(tx, tv, key=self.cache, accumulate=self.accumulate, inplace=t[0] is None)

    @staticmethod
    def samples():
        yield Sample(arr(4, 3), arr(2, 3), call=_put_sample, key=([2, 0],), torch=_torch_put, name="rows")
        yield Sample(arr(4, 3), arr(3), call=_put_sample, key=(slice(1, 3),), torch=_torch_put, name="broadcast")
        yield Sample(arr(4, 3), arr(), call=_put_sample, key=(mask(4, 3).tolist(),), torch=_torch_put, name="mask")
        yield Sample(arr(4, 3), arr(5, 3), call=_put_sample, key=([1, 3, 1, 1, 0],), accumulate=True,
                     torch=_torch_put, name="accumulate")  # fmt: skip
        yield Sample(arr(3, 4), arr(3), call=_put_sample, key=([0, 2, 2], [1, 3, 3]), accumulate=True,
                     torch=_torch_put, name="pairs")  # fmt: skip


def _put_sample(x: Tensor, v: Tensor, key: tuple, accumulate: bool = False) -> Tensor:
    return index_put(x, key, v, accumulate)


def _torch_put(T: Any, x: Any, v: Any, key: tuple, accumulate: bool = False) -> Any:
    indices = tuple(T.tensor(k) if isinstance(k, list) else k for k in key)
    if accumulate:
        return x.index_put(indices, v, accumulate=True)
    y = x.clone()
    y[indices] = v
    return y


def _unbroadcast(g: Tensor, shape: tuple) -> Tensor:
    """Sum a gradient at the broadcast shape back to `shape` (which may carry extra leading ones)."""
    if g.shape == shape:
        return g
    if len(shape) > g.ndim:
        return g.sum_to_size(shape[len(shape) - g.ndim :]).reshape(shape)
    return g.sum_to_size(shape)


def getitem(x: Tensor, key: Any) -> Tensor:
    """x[key]: ints, slices (any step), None and Ellipsis give a view; integer or boolean tensors, arrays or
    lists give a copy (NumPy's and PyTorch's advanced indexing). Out-of-range indices raise ShapeError."""
    if type(key) is not tuple:
        key = (key,)
    for k in key:
        if type(k) not in _BASIC:
            break
    else:
        if Ellipsis not in key:
            key += (Ellipsis,)  # so that NumPy returns a 0-d view, not a scalar, when every dim gets an int
        try:
            return Slice.apply(x, key=key)
        except IndexError as e:
            raise _index_error("getitem", e, x) from None
    key, basic = _key("getitem", key, namespace(x.data))
    try:
        if basic:
            return Slice.apply(x, key=key if Ellipsis in key else key + (Ellipsis,))
        return Index.apply(x, key=key)
    except IndexError as e:
        raise _index_error("getitem", e, x) from None


def index_put(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of x with x[indices] = values (or += with accumulate, repeated indices adding up); indices is a
    tuple of index tensors, one per leading dim (torch.index_put)."""
    key, _ = _key("index_put", tuple(indices) if isinstance(indices, (list, tuple)) else indices, namespace(x.data))
    try:
        return IndexPut.apply(x, values, key=key, accumulate=accumulate)
    except IndexError as e:
        raise _index_error("index_put", e, x) from None


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The view x[..., index, ...] at position `index` of dim (that dim removed)."""
    d = _dim("select", dim, x.data.ndim)
    return getitem(x, (slice(None),) * d + (index,))


# ---- gather / scatter along a dim ------------------------------------------------------------------------------


def _index(op: str, index: Any, xp: Any) -> Any:
    idx = index.data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DtypeError(f"{op}: expected an integer index tensor, received dtype {idx.dtype}")
    return idx


def _bounds(op: str, idx: Any, size: int, dim: int) -> None:
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            raise ShapeError(f"{op}: index {lo if lo < 0 else hi} is out of bounds for dim {dim} with size {size}")


def _fits(op: str, index: Any, other: Any, dim: int, what: str) -> None:
    """index must have other's ndim and be no larger off `dim` (torch's gather/scatter contract)."""
    if index.ndim != other.ndim or any(i > o for d, (i, o) in enumerate(zip(index.shape, other.shape)) if d != dim):
        raise ShapeError(
            f"{op}: expected index of shape {tuple(index.shape)} to have the ndim of {what} {tuple(other.shape)} and "
            f"no larger size in any dim except dim {dim}"
        )


def _head(a: Any, shape: tuple) -> Any:
    """The leading `shape` block of a (a view), as scatter takes src[:index.shape]."""
    return a if a.shape == shape else a[tuple(slice(0, n) for n in shape)]


def _pad_to(g: Tensor, shape: tuple) -> Tensor:
    """g padded with zeros at the end of each dim up to `shape` (the gradient of _head)."""
    if g.shape == shape or len(shape) != g.ndim:
        return g
    return pad(g, tuple(v for n, s in reversed(list(zip(g.shape, shape))) for v in (0, s - n)))


class Gather(Function):
    """out[i][j] = x[index[i][j]][j] along dim (dim=0 shown); index may be smaller than x off dim."""

    __slots__ = ("dim", "in_shape")

    def forward(self, x, index, dim):
        self.dim, self.in_shape, self.cache = dim, x.shape, index
        x = _head(x, tuple(n if d != dim else x.shape[d] for d, n in enumerate(index.shape)))
        return namespace(x).take_along_axis(x, index, axis=dim)

    def backward(self, g):
        return ScatterAdd.apply(_zeros(self.in_shape, g), self.cache, g, dim=self.dim, inplace=True), None

    def jvp(self, inputs, out, t):
        return Gather.apply(t[0], self.cache, dim=self.dim)

    @staticmethod
    def samples():
        torch = lambda T, x, i, dim: T.gather(x, dim, i)
        yield Sample(arr(3, 4), ints(3, 5, 4), call=lambda x, i, dim: gather(x, dim, i), dim=0, torch=torch)
        yield Sample(arr(3, 4), ints(4, 2, 3), call=lambda x, i, dim: gather(x, dim, i), dim=-1, torch=torch,
                     name="smaller")  # fmt: skip


class ScatterAdd(Function):
    """out = x, then out[index[i][j]][j] += src[i][j] along dim (dim=0 shown); repeated indices add up."""

    __slots__ = ("dim", "src_shape")

    def forward(self, x, index, src, dim, inplace=False):
        out = x if inplace else x.copy()
        self.dim, self.src_shape, self.cache = dim, src.shape, index
        _add_flat(out, _linear(namespace(out), out.shape, dim, index), _head(src, index.shape))
        return out

    def backward(self, g):
        gs = _pad_to(Gather.apply(g, self.cache, dim=self.dim), self.src_shape) if self.needs(2) else None
        return (g if self.needs(0) else None), None, gs

    def jvp(self, inputs, out, t):
        tx = _zeros(out.shape, out) if t[0] is None else t[0]
        if t[2] is None:
            return tx
        return ScatterAdd.apply(tx, self.cache, t[2], dim=self.dim, inplace=t[0] is None)

    @staticmethod
    def samples():
        call = lambda x, i, s, dim: scatter_add(x, dim, i, s)
        torch = lambda T, x, i, s, dim: T.scatter_add(x, dim, i, s)
        yield Sample(arr(3, 4), ints(3, 5, 4), arr(5, 4), call=call, dim=0, torch=torch)
        yield Sample(arr(3, 4), ints(4, 2, 3), arr(3, 4), call=call, dim=1, name="smaller",
                     torch=lambda T, x, i, s, dim: T.scatter_add(x, dim, i, _head(s, i.shape)))  # fmt: skip


class Scatter(Function):
    """out = x, then out[index[i][j]][j] = src[i][j] along dim (dim=0 shown); src may be a number."""

    __slots__ = ("dim", "src_shape")

    def forward(self, x, index, src, dim, inplace=False):
        out = x if inplace else x.copy()  # inplace needs a C-contiguous x (written through a flat view)
        self.dim, self.cache = dim, index
        self.src_shape = getattr(src, "shape", ())
        vals = _head(src, index.shape).reshape(-1) if self.src_shape else src
        out.reshape(-1)[_linear(namespace(out), out.shape, dim, index).reshape(-1)] = vals
        return out

    def backward(self, g):
        gx = Scatter.apply(g, self.cache, 0.0, dim=self.dim) if self.needs(0) else None
        gs = None
        if self.needs(2):
            gs = Gather.apply(g, self.cache, dim=self.dim)
            gs = gs.sum_to_size(()) if not self.src_shape else _pad_to(gs, self.src_shape)
        return gx, None, gs

    def jvp(self, inputs, out, t):
        tx = _zeros(out.shape, out) if t[0] is None else t[0]
        return Scatter.apply(tx, self.cache, 0.0 if t[2] is None else t[2], dim=self.dim)

    @staticmethod
    def samples():
        call = lambda x, i, s, dim: scatter(x, dim, i, s)
        torch = lambda T, x, i, s, dim: T.scatter(x, dim, i, s)
        perm = distinct(3, 4).argsort(axis=0)  # every column a permutation: no repeated target
        yield Sample(arr(3, 4), perm, arr(3, 4), call=call, dim=0, torch=torch)
        yield Sample(arr(3, 4), perm[:2, :3], arr(3, 4), call=call, dim=0, name="smaller",
                     torch=lambda T, x, i, s, dim: T.scatter(x, dim, i, _head(s, i.shape)))  # fmt: skip
        yield Sample(arr(3, 4), perm[:2], call=lambda x, i, dim: scatter(x, dim, i, value=1.5), dim=0,
                     torch=lambda T, x, i, dim: T.scatter(x, dim, i, 1.5), name="value")  # fmt: skip


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """Values of x along dim at `index` (same ndim as x; no larger than x off dim): torch.gather."""
    xp = namespace(x.data)
    idx = _index("gather", index, xp)
    d = _dim("gather", dim, x.data.ndim)
    _fits("gather", idx, x.data, d, "the input")
    _bounds("gather", idx, x.data.shape[d], dim)
    return Gather.apply(x, idx, dim=d)


def _scatter_args(op: str, x: Tensor, dim: int, index: Any, src: Any) -> tuple[Any, int]:
    idx = _index(op, index, namespace(x.data))
    d = _dim(op, dim, x.data.ndim)
    _fits(op, idx, x.data, d, "self")
    if isinstance(src, Tensor) and src.ndim:
        _fits(op, idx, src.data, -1, "src")
    _bounds(op, idx, x.data.shape[d], dim)
    return idx, d


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of x with src added at `index` along dim; repeated indices add up (torch.scatter_add)."""
    idx, d = _scatter_args("scatter_add", x, dim, index, src)
    return ScatterAdd.apply(x, idx, src, dim=d)


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, value: Any = None) -> Tensor:
    """A copy of x with src (a tensor, or the number `value`) written at `index` along dim (torch.scatter)."""
    if (src is None) == (value is None):
        raise ShapeError("scatter: expected exactly one of src (a tensor) or value (a number)")
    src = value if src is None else src
    idx, d = _scatter_args("scatter", x, dim, index, src)
    return Scatter.apply(x, idx, src, dim=d)


def take_along_dim(x: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """gather with broadcasting off dim (over the flattened x when dim is None), as torch.take_along_dim."""
    idx = _index("take_along_dim", indices, namespace(x.data))
    if dim is None:
        return gather(x.reshape(-1), 0, idx.reshape(-1))
    d = _dim("take_along_dim", dim, x.data.ndim)
    if idx.ndim != x.data.ndim:
        raise ShapeError(f"take_along_dim: expected indices with the ndim of the input {x.shape}, received "
                         f"{tuple(idx.shape)}")  # fmt: skip
    xs, js = list(x.data.shape), list(idx.shape)
    for e in range(len(xs)):
        if e != d and xs[e] != js[e]:
            if 1 not in (xs[e], js[e]):
                raise ShapeError(f"take_along_dim: input {x.shape} and indices {tuple(idx.shape)} do not broadcast")
            xs[e] = js[e] = max(xs[e], js[e])
    if tuple(xs) != x.data.shape:
        x = x.expand(*xs)
    if tuple(js) != idx.shape:
        idx = namespace(idx).broadcast_to(idx, tuple(js))
    return gather(x, d, idx)


# ---- index_select / index_add ------------------------------------------------------------------------------------


class IndexSelect(Function):
    """Slices of x at a 1-D `index` along dim: out.shape[dim] = len(index)."""

    __slots__ = ("dim", "in_shape")

    def forward(self, x, index, dim):
        self.dim, self.in_shape, self.cache = dim, x.shape, index
        return namespace(x).take(x, index, axis=dim)

    def backward(self, g):
        return IndexAdd.apply(_zeros(self.in_shape, g), self.cache, g, dim=self.dim, inplace=True), None

    def jvp(self, inputs, out, t):
        return IndexSelect.apply(t[0], self.cache, dim=self.dim)

    @staticmethod
    def samples():
        call = lambda x, i, dim: index_select(x, dim, i)
        torch = lambda T, x, i, dim: T.index_select(x, dim, i)
        yield Sample(arr(4, 3), ints(4, 6), call=call, dim=0, torch=torch)
        yield Sample(arr(2, 5, 3), ints(5, 4), call=call, dim=1, torch=torch, name="middle")


class IndexAdd(Function):
    """out = x, then out[.., index[i], ..] += src[.., i, ..] along dim; repeated indices add up."""

    __slots__ = ("dim",)

    def forward(self, x, index, src, dim, inplace=False):
        out = x if inplace else x.copy()
        self.dim, self.cache = dim, index
        _index_add(out, dim, index, src)
        return out

    def backward(self, g):
        gs = IndexSelect.apply(g, self.cache, dim=self.dim) if self.needs(2) else None
        return (g if self.needs(0) else None), None, gs

    def jvp(self, inputs, out, t):
        tx = _zeros(out.shape, out) if t[0] is None else t[0]
        if t[2] is None:
            return tx
        return IndexAdd.apply(tx, self.cache, t[2], dim=self.dim, inplace=t[0] is None)

    @staticmethod
    def samples():
        call = lambda x, i, s, dim: index_add(x, dim, i, s)
        torch = lambda T, x, i, s, dim: T.index_add(x, dim, i, s)
        yield Sample(arr(4, 3), ints(4, 6), arr(6, 3), call=call, dim=0, torch=torch)
        yield Sample(arr(2, 5, 3), ints(5, 4), arr(2, 4, 3), call=call, dim=1, torch=torch, name="middle")


def _index_1d(op: str, x: Tensor, dim: int, index: Any) -> tuple[Any, int]:
    idx = _index(op, index, namespace(x.data))
    if idx.ndim > 1:
        raise ShapeError(f"{op}: expected a 1-D index, received shape {tuple(idx.shape)}")
    d = _dim(op, dim, x.data.ndim)
    _bounds(op, idx, x.data.shape[d] if x.data.ndim else 1, dim)
    return idx.reshape(-1), d


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The slices of x along dim at the positions in the 1-D `index` (a copy; repeats allowed)."""
    idx, d = _index_1d("index_select", x, dim, index)
    return IndexSelect.apply(x, idx, dim=d)


def index_add(x: Tensor, dim: int, index: Any, source: Tensor, alpha: float = 1) -> Tensor:
    """A copy of x with alpha * source[.., i, ..] added at x[.., index[i], ..] along dim."""
    idx, d = _index_1d("index_add", x, dim, index)
    expected = x.shape[:d] + (idx.size,) + x.shape[d + 1 :]
    if source.shape != expected:
        raise ShapeError(f"index_add: expected source of shape {expected} for input {x.shape}, index of length "
                         f"{idx.size} and dim {dim}; received {source.shape}")  # fmt: skip
    if alpha != 1:
        source = source * alpha
    return IndexAdd.apply(x, idx, source, dim=d)


# ---- masks ---------------------------------------------------------------------------------------------------------


class MaskedFill(Function):
    """out = x with `value` (a number or a 0-d tensor) where mask (broadcast to x) is True."""

    __slots__ = ()

    def forward(self, x, mask, value, inplace=False):
        self.cache = mask
        return _fill(x, mask, value, inplace)

    def backward(self, g):
        m = self.cache
        gx = MaskedFill.apply(g, m, 0.0) if self.needs(0) else None
        gv = MaskedFill.apply(g, namespace(m).logical_not(m), 0.0).sum_to_size(()) if self.needs(2) else None
        return gx, None, gv

    def jvp(self, inputs, out, t):
        tx = _zeros(out.shape, out) if t[0] is None else t[0]
        return MaskedFill.apply(tx, self.cache, 0.0 if t[2] is None else t[2], inplace=t[0] is None)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), mask(3, 4), call=lambda x, m: masked_fill(x, m, -1.5),
                     torch=lambda T, x, m: x.masked_fill(m, -1.5))  # fmt: skip
        yield Sample(arr(3, 4), mask(4), arr(), call=masked_fill, torch=lambda T, x, m, v: x.masked_fill(m, v),
                     name="tensor value")  # fmt: skip


def _mask(op: str, mask: Any, xp: Any) -> Any:
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype.kind != "b":
        raise DtypeError(f"{op}: expected a boolean mask, received dtype {m.dtype}")
    return m


def _fill_value(op: str, value: Any) -> Any:
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"{op}: expected a number or a 0-d tensor as value, received a tensor of shape {value.shape}")
    return value


def _fill(x: Any, mask: Any, value: Any, inplace: bool) -> Any:
    """x with value where mask: a branch-free blend (8x numpy.copyto(where=) on random masks), written back
    into x when inplace."""
    xp = namespace(x)
    out = _blend(mask, xp.asarray(value, dtype=x.dtype), x)
    if not inplace:
        return out
    xp.copyto(x, out)
    return x


def _mask_for(op: str, mask: Any, x: Tensor) -> Any:
    """A boolean mask array that broadcasts to x's shape (and no larger)."""
    xp = namespace(x.data)
    m = _mask(op, mask, xp)
    if m.shape != x.shape:
        try:
            fits = xp.broadcast_shapes(m.shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"{op}: mask of shape {m.shape} does not broadcast to the tensor's shape {x.shape}")
    return m


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """A copy of x with `value` where mask is True (mask broadcasts to x's shape)."""
    return MaskedFill.apply(x, _mask_for("masked_fill", mask, x), _fill_value("masked_fill", value))


def masked_select(x: Tensor, mask: Any) -> Tensor:
    """The elements of x where mask is True, as a 1-D tensor (x and mask broadcast together)."""
    xp = namespace(x.data)
    m = _mask("masked_select", mask, xp)
    if m.shape != x.shape:
        try:
            shape = xp.broadcast_shapes(m.shape, x.shape)
        except ValueError:
            raise ShapeError(
                f"masked_select: mask of shape {m.shape} does not broadcast with input {x.shape}"
            ) from None
        x, m = x.expand(*shape), xp.broadcast_to(m, shape)
    return Index.apply(x, key=(m,))


__all__ = [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "index_put", "masked_fill", "masked_select",
    "take_along_dim", "select",
]  # fmt: skip
TENSOR_METHODS = {
    "__getitem__": getitem, "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "index_select": index_select, "index_add": index_add, "index_put": index_put, "masked_fill": masked_fill,
    "masked_select": masked_select, "take_along_dim": take_along_dim, "select": select,
}  # fmt: skip
