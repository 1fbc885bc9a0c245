"""vmap: run a function written for one example on a whole batch at once (as torch.func.vmap).

Inside vmap a batched value is a `BatchedTensor`: its `.shape` is the logical shape one example sees, and
its `.plain` tensor holds the physical array, with one leading dim per vmap level it is batched over
(outer level first). Function.apply calls `_hook` (installed as function.vmap_hook) while a vmap is active; the
hook brings every batched input to the same leading batch dims and calls the op's batching rule from
RULES, which runs the op once on plain (physical) tensors. So the autograd graph records ordinary
physical ops: gradients flow through vmap, and grad inside vmap gives per-sample gradients.

Forward-mode tangents live on the plain tensors too: a BatchedTensor's `_tangent` is its logical view.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

from dagrad import backend
from dagrad.autograd import function
from dagrad.autograd.function import Function
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import DagradError
from dagrad.ops.broadcast import Expand
from dagrad.ops.elementwise import Where
from dagrad.ops.rnn import scan_batching_rule
from dagrad.ops.shape import Permute, Reshape, cat

_new = object.__new__


class VmapError(DagradError, RuntimeError):
    """An op without a batching rule, a data-dependent call on a batched tensor, or bad in_dims/out_dims."""


class NoBatchingRule(VmapError):
    """An op has no entry in RULES (jacrev and jacfwd then fall back to one vjp/jvp at a time)."""


# ---- levels ------------------------------------------------------------------------------------------------------
class _Level:
    """One active vmap call: a unique id (inner calls get larger ids), its batch size and randomness mode."""

    __slots__ = ("id", "size", "randomness", "values")

    def __init__(self, size: int, randomness: str, values: bool) -> None:
        self.id = next(_ids)
        self.size = size
        self.randomness = randomness
        self.values = values  # False for jacfwd's level, which batches tangents only


_ids = itertools.count(1)
_active: list[_Level] = []  # the vmap calls now running, outermost first
_sizes: dict[int, int] = {}  # level id -> batch size, for the active levels


def value_levels() -> tuple[int, ...]:
    """Ids of the active vmap levels that can batch values, outermost first (empty outside vmap).

    grad/vjp broadcast their inputs over these levels so that each example gets its own gradient.
    """
    return tuple(lv.id for lv in _active if lv.values)


# ---- the batched tensor ------------------------------------------------------------------------------------------
class _LogicalArray:
    """What `.data` of a batched tensor shows: the per-example shape and dtype; reading values raises.

    Op wrappers read x.data.shape / ndim / dtype to check arguments; those see the logical values. Code that
    computes on x.data directly would silently mix examples, so any other attribute raises instead.
    """

    __slots__ = ("shape", "_array", "levels")

    def __init__(self, array: Any, levels: tuple[int, ...]) -> None:
        self.shape = array.shape[len(levels) :]
        self._array = array
        self.levels = levels

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))
    dtype = property(lambda self: self._array.dtype)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self.size * self._array.itemsize)
    flags = property(lambda self: self._array.flags)
    base = property(lambda self: self._array.base)

    def __getattr__(self, name: str) -> Any:
        raise VmapError(
            f"vmap: an op read `.data.{name}` of a batched tensor, which would mix the examples of the batch; "
            "that op needs a batching rule that works on the physical tensor (dagrad.func.vmap.RULES)"
        )

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """An in-place write ufunc(x, y, out=x) without autograd (the fast path of x.mul_(y)), run physically."""
        out = kwargs.pop("out", None)
        if method == "__call__" and out and type(out[0]) is not _LogicalArray:
            raise VmapError(
                f"vmap: in-place {ufunc.__name__} would write values batched by vmap into a tensor that is not "
                "batched; use the out-of-place op"
            )
        if method != "__call__" or not out:
            raise VmapError(
                f"vmap: an op called numpy.{ufunc.__name__} on the data of a batched tensor, which would mix the "
                "examples of the batch; that op needs a batching rule (dagrad.func.vmap.RULES)"
            )
        dst = out[0]
        args = []
        for a in inputs:
            if type(a) is _LogicalArray:
                if not set(a.levels) <= set(dst.levels):
                    raise VmapError(
                        f"vmap: in-place {ufunc.__name__} would write values batched by vmap into a tensor that is "
                        "not batched at that vmap level; use the out-of-place op"
                    )
                a = _align(a._array, a.levels, dst.levels)
                k = len(dst.levels)
                a = a.reshape(a.shape[:k] + (1,) * (len(dst.shape) - a.ndim + k) + a.shape[k:])
            args.append(a)
        ufunc(*args, out=dst._array, **kwargs)
        return dst

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = func.__name__
        if name == "copyto":
            raise VmapError(
                "vmap: in-place ops on batched tensors are not supported; use the out-of-place op (y = x * 2, not "
                "x.mul_(2))"
            )
        hint = "; use amax/amin for the values" if name in ("argmax", "argmin") else ""
        raise VmapError(
            f"vmap: an op called numpy.{name} on the data of a batched tensor, which would mix the examples of "
            f"the batch; that op has no batching rule (max(x, dim) and min(x, dim) do not yet){hint}"
        )


class BatchedTensor(Tensor):
    """A tensor inside vmap, as one example sees it: `shape` is per example.

    `plain` is the ordinary tensor holding the physical array (one leading dim per level in `levels`, outer
    level first) and the autograd history; batching rules run ops on it.
    """

    __slots__ = ("levels", "plain", "_logical")

    @property
    def data(self) -> _LogicalArray:  # type: ignore[override]
        return self._logical

    @property
    def shape(self) -> tuple[int, ...]:
        return self._logical.shape

    @property
    def dtype(self):
        return self.plain.data.dtype

    @property
    def device(self):
        return self.plain.device

    @property
    def ndim(self) -> int:
        return len(self._logical.shape)

    def dim(self) -> int:
        return len(self._logical.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"BatchedTensor(levels={self.levels}, shape={self.shape}, physical={self.plain!r})"

    def detach(self) -> Tensor:
        return wrap(_plain(self).detach(), self.levels)

    def _data_dependent(self, what: str):
        raise VmapError(
            f"vmap: {what} on a batched tensor needs its value per example, which vmap does not have "
            "(data-dependent Python control flow is not supported inside vmap); use dagrad.where or move it out"
        )

    def item(self):
        self._data_dependent("item()")

    def tolist(self):
        self._data_dependent("tolist()")

    def numpy(self):
        self._data_dependent("numpy()")

    def __array__(self, dtype=None, copy=None):
        self._data_dependent("conversion to an array")

    def __bool__(self) -> bool:
        self._data_dependent("bool()")

    def __float__(self) -> float:
        self._data_dependent("float()")

    def __int__(self) -> int:
        self._data_dependent("int()")

    def __index__(self) -> int:
        self._data_dependent("use as an index")

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        raise VmapError("vmap: requires_grad_() on a batched tensor is not supported; use dagrad.func.grad inside vmap")

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None):
        raise VmapError("vmap: backward() inside vmap is not supported; use dagrad.func.grad or vjp inside vmap")


def wrap(p: Tensor, levels: tuple[int, ...]) -> Tensor:
    """The logical view of plain tensor p whose leading dims are `levels` (p itself when levels is empty)."""
    if not levels:
        return p
    b = _new(BatchedTensor)
    b._logical = _LogicalArray(p.data, levels)
    b.grad = None
    b.requires_grad = p.requires_grad
    b.grad_fn = p.grad_fn
    b._version = 0
    b._base = None
    b._hooks = None
    b.levels = levels
    b.plain = p
    b._tangent = None if p._tangent is None else lift(p._tangent, levels)
    return b


def _plain(b: BatchedTensor) -> Tensor:
    """b's plain tensor, given b's tangent (set by make_dual on b) in physical form when it has none yet."""
    p = b.plain
    if b._tangent is not None and p._tangent is None:
        p._tangent = lower(b._tangent, b.levels)
    return p


def physical(x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """(plain tensor, its batch levels) of any tensor: (x, ()) for one that is not batched."""
    if type(x) is BatchedTensor:
        return _plain(x), x.levels
    return x, ()


def _check_alive(levels: tuple[int, ...], op: str) -> None:
    for lv in levels:
        if lv not in _sizes:
            raise VmapError(
                f"vmap: {op} received a batched tensor from a vmap call that has already returned "
                "(it escaped through a closure or a global); return it from the vmapped function instead"
            )


def _align(p: Tensor, have: tuple[int, ...], want: tuple[int, ...]) -> Tensor:
    """Insert size-1 dims into p (leading dims `have`) so its leading dims are `want` (a sorted superset)."""
    if have == want:
        return p
    lead = iter(p.shape[: len(have)])
    return _reshape(p, tuple(next(lead) if lv in have else 1 for lv in want) + p.shape[len(have) :])


def _reshape(p: Any, shape: tuple[int, ...]) -> Any:
    """p (a tensor, or a raw array input) reshaped."""
    if p.shape == shape:
        return p
    return Reshape.apply(p, shape=shape) if isinstance(p, Tensor) else p.reshape(shape)


def _permute(p: Tensor, perm: list[int]) -> Tensor:
    """p with its leading len(perm) dims reordered by perm (the rest stay)."""
    if perm == sorted(perm):
        return p
    return Permute.apply(p, dims=(*perm, *range(len(perm), p.ndim)))


def _expand(p: Tensor, shape: tuple[int, ...]) -> Tensor:
    return p if p.shape == shape else Expand.apply(p, shape=shape)


def lower(v: Tensor, levels: tuple[int, ...]) -> Tensor:
    """v (per-example value) as a value whose leading dims are `levels`: what a plain tensor of those levels holds.

    v may be batched at other levels too; those stay batched. Levels v lacks are broadcast (expanded).
    """
    if not levels:
        return v
    p, have = physical(v)
    union = tuple(sorted(set(have) | set(levels)))
    p = _align(p, have, union)
    rest = [lv for lv in union if lv not in levels]
    p = _permute(p, [union.index(lv) for lv in rest + list(levels)])
    if any(lv not in have for lv in levels):
        p = _expand(p, tuple(_sizes[lv] for lv in rest + list(levels)) + p.shape[len(union) :])
    return wrap(p, tuple(rest))


def lift(v: Tensor, levels: tuple[int, ...]) -> Tensor:
    """Inverse of `lower`: v's leading logical dims are `levels`; make them batch dims again."""
    if not levels:
        return v
    p, have = physical(v)
    union = tuple(sorted(set(have) | set(levels)))
    order = list(have) + list(levels)
    p = _permute(p, [order.index(lv) for lv in union])
    return wrap(p, union)


# ---- the hook ----------------------------------------------------------------------------------------------------
def _hook(cls: type[Function], inputs: tuple, params: dict) -> Tensor | None:
    """Run op `cls` on batched inputs with its batching rule; None when no input is batched."""
    levels: tuple[int, ...] = ()
    for x in inputs:
        if (type(x) is BatchedTensor or type(x) is _LogicalArray) and x.levels != levels:
            levels = tuple(sorted(set(levels) | set(x.levels)))
    if not levels:
        return None
    name = cls.__name__
    rule = RULES.get(name)
    if rule is None:
        raise NoBatchingRule(
            f"vmap: no batching rule for {name}; this op cannot run on batched tensors yet "
            "(move it out of the vmapped function, or add a rule to dagrad.func.vmap.RULES)"
        )
    _check_alive(levels, name)
    args = []
    batched = []
    for x in inputs:
        if type(x) is BatchedTensor:
            args.append(_align(_plain(x), x.levels, levels))
            batched.append(True)
        elif type(x) is _LogicalArray:  # a raw array input taken from a batched tensor's .data (a mask, say)
            args.append(_align(x._array, x.levels, levels))
            batched.append(True)
        else:
            args.append(x)
            batched.append(False)
    return wrap(rule(cls, args, batched, params, tuple(_sizes[lv] for lv in levels)), levels)


function.vmap_hook = _hook


# ---- pytrees -----------------------------------------------------------------------------------------------------
def tree_flatten(tree: Any) -> tuple[list, Any]:
    """Leaves of nested tuples/lists/dicts (anything else is a leaf) and a spec to rebuild the structure."""
    leaves: list = []

    def walk(node):
        if isinstance(node, (tuple, list)):
            return (type(node), [walk(c) for c in node])
        if isinstance(node, dict):
            return (dict, list(node), [walk(c) for c in node.values()])
        leaves.append(node)
        return None

    return leaves, walk(tree)


def tree_unflatten(spec: Any, leaves: list) -> Any:
    """Rebuild the structure `spec` (from tree_flatten) around new leaves."""
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        if s[0] is dict:
            return {k: build(c) for k, c in zip(s[1], s[2])}
        kids = [build(c) for c in s[1]]
        if hasattr(s[0], "_fields"):
            return s[0](*kids)
        return s[0](kids)

    return build(spec)


def _dims_per_leaf(dims: Any, tree: Any, what: str) -> list:
    """Broadcast an int/None (or a structure matching a prefix of tree) to one entry per leaf of tree."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(tree_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)) and len(dims) == len(tree):
        return [d for dd, t in zip(dims, tree) for d in _dims_per_leaf(dd, t, what)]
    if isinstance(dims, dict) and isinstance(tree, dict) and set(dims) == set(tree):
        return [d for k in tree for d in _dims_per_leaf(dims[k], tree[k], what)]
    raise VmapError(
        f"vmap: expected {what} to be an int, None, or a structure matching the "
        f"{'inputs' if what == 'in_dims' else 'outputs'}; received {what}={dims!r} for {type(tree).__name__}"
    )


# ---- vmap --------------------------------------------------------------------------------------------------------
def _enter(x: Any, d: int | None, level: _Level) -> Any:
    """x with logical dim d made into a batch dim of `level` (x unchanged when d is None; _batch_size checked d)."""
    if d is None:
        return x
    p, have = physical(x)
    k = len(have)
    return wrap(_movedim(p, k + d, k), have + (level.id,))


def _exit(y: Any, d: int | None, level: _Level, i: int) -> Any:
    """Output y with `level`'s batch dim moved to logical dim d (broadcast when y is not batched there)."""
    if not isinstance(y, Tensor):
        raise VmapError(f"vmap: the function must return tensors (or tuples of them); output {i} is {type(y).__name__}")
    p, have = physical(y)
    if d is None:
        if level.id in have:
            raise VmapError(f"vmap: out_dims is None for output {i}, but that output is batched; give it a dim")
        return y
    rest = tuple(lv for lv in have if lv != level.id)
    n = p.ndim - len(have)
    dd = _norm(d, n + 1, "out_dims")
    if level.id in have:
        p = _movedim(p, have.index(level.id), len(rest) + dd)
    else:
        pos = len(have) + dd
        p = _expand(_reshape(p, p.shape[:pos] + (1,) + p.shape[pos:]), p.shape[:pos] + (level.size,) + p.shape[pos:])
    return wrap(p, rest)


def _movedim(p: Tensor, src: int, dst: int) -> Tensor:
    if src == dst:
        return p
    perm = [i for i in range(p.ndim) if i != src]
    perm.insert(dst, src)
    return Permute.apply(p, dims=tuple(perm))


def _norm(d: int, n: int, what: str) -> int:
    if not isinstance(d, int) or isinstance(d, bool) or not -n <= d < max(n, 1):
        raise VmapError(f"vmap: {what} entry {d!r} is out of range for a tensor of {max(n - 1, 0)}-d per example")
    return d % n if n else 0


def vmap(
    func: Callable,
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """Vectorise `func` over dim `in_dims` of its inputs; outputs get the batch dim at `out_dims`.

    in_dims: an int (every tensor input), None (not mapped), or a tuple with one entry per positional input
    (each an int, None, or a structure matching that input's tuple/list/dict). Keyword arguments are not
    mapped. randomness: 'error' (drawing random numbers raises), 'same' (one draw shared by every example) or
    'different' (a draw per example: not supported yet, it raises when the function draws).
    chunk_size: run at most this many examples at a time (less memory, same result).
    """
    if randomness not in ("error", "different", "same"):
        raise VmapError(f"vmap: expected randomness to be 'error', 'different' or 'same', received {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise VmapError(f"vmap: expected chunk_size to be a positive int or None, received {chunk_size!r}")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        dims = _dims_per_leaf(in_dims if isinstance(in_dims, (int, type(None))) else tuple(in_dims), args, "in_dims")
        leaves, spec = tree_flatten(args)
        size = _batch_size(leaves, dims)
        if chunk_size is not None and chunk_size < size:
            return _chunked(func, leaves, spec, dims, size, kwargs, out_dims, randomness, chunk_size)
        return _call(func, leaves, spec, dims, size, kwargs, out_dims, randomness, True)

    return wrapper


def vmap_tangents(func: Callable, randomness: str) -> Callable:
    """vmap for jacfwd: func's batched inputs are tangents only, so no value is ever batched at this level."""

    def wrapper(*args: Any) -> Any:
        leaves, spec = tree_flatten(args)
        dims = [0] * len(leaves)
        return _call(func, leaves, spec, dims, _batch_size(leaves, dims), {}, 0, randomness, False)

    return wrapper


def _batch_size(leaves: list, dims: list) -> int:
    size = None
    for i, (x, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not isinstance(x, Tensor):
            raise VmapError(
                f"vmap: in_dims gives dim {d} for input {i}, which is a {type(x).__name__}, not a Tensor; "
                "use None for inputs that are not mapped"
            )
        n = x.ndim
        if not isinstance(d, int) or not -n <= d < n:
            raise VmapError(
                f"vmap: in_dims entry {d!r} for input {i} is out of range for a tensor of shape {tuple(x.shape)}"
            )
        if size is None:
            size = x.shape[d]
        elif x.shape[d] != size:
            raise VmapError(
                f"vmap: expected every mapped input to have the same size in its mapped dim; "
                f"received sizes {size} and {x.shape[d]} (input {i}, dim {d})"
            )
    if size is None:
        raise VmapError("vmap: at least one input must be mapped; in_dims is None for every tensor input")
    return size


def _call(func, leaves, spec, dims, size, kwargs, out_dims, randomness, values) -> Any:
    level = _Level(size, randomness, values)
    _active.append(level)
    _sizes[level.id] = size
    state.vmap += 1
    seed = None if randomness == "same" else backend.default_generator.get_state()
    try:
        ins = [_enter(x, None if d is None else d % x.ndim, level) for x, d in zip(leaves, dims)]
        out = func(*tree_unflatten(spec, ins), **kwargs)
        if seed is not None and backend.default_generator.get_state() != seed:
            raise VmapError(
                f"vmap: the function drew random numbers with randomness={randomness!r}; dagrad's random "
                "factories make one draw for the whole batch, so only randomness='same' is supported"
            )
        outs, ospec = tree_flatten(out)
        odims = _dims_per_leaf(out_dims, out if not isinstance(out_dims, int) else outs, "out_dims")
        res = [_exit(y, d, level, i) for i, (y, d) in enumerate(zip(outs, odims))]
    finally:
        state.vmap -= 1
        _active.pop()
        del _sizes[level.id]
    return tree_unflatten(ospec, res)


def _chunked(func, leaves, spec, dims, size, kwargs, out_dims, randomness, chunk) -> Any:
    """vmap over slices of `chunk` examples, the outputs concatenated along their out_dims."""
    pieces = []
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        part = [x if d is None else x.narrow(d, start, n) for x, d in zip(leaves, dims)]
        pieces.append(tree_flatten(_call(func, part, spec, dims, n, kwargs, out_dims, randomness, True)))
    outs, ospec = pieces[0]
    odims = _dims_per_leaf(out_dims, outs if isinstance(out_dims, int) else tree_unflatten(ospec, outs), "out_dims")
    res = [y if d is None else cat([p[0][i] for p in pieces], d) for i, (y, d) in enumerate(zip(outs, odims))]
    return tree_unflatten(ospec, res)


# ---- batching rules ----------------------------------------------------------------------------------------------
# A rule(cls, args, batched, params, bshape) gets the op's inputs with every batched one as a plain tensor whose
# leading dims are the batch dims (sizes bshape; 1 where that input is not batched at a level); it returns the
# plain result with those leading dims. Unbatched inputs come as they are (they broadcast from the right).


def _logical_ndim(a: Any, b: bool, k: int) -> int:
    """Per-example rank of an input (k = number of batch dims, present when the input is batched)."""
    return a.ndim - k if b else a.ndim


def _shift(d: int, n: int, k: int) -> int:
    """Logical dim d of an n-d example as a physical dim."""
    return (d % n if n else 0) + k


def _pad_ranks(args: list, batched: list, k: int) -> list:
    """Give batched inputs the largest logical rank of all tensor inputs (size-1 dims after the batch dims)."""
    rank = max((_logical_ndim(a, b, k) for a, b in zip(args, batched) if hasattr(a, "ndim")), default=0)
    return [
        _reshape(a, a.shape[:k] + (1,) * (rank - a.ndim + k) + a.shape[k:]) if b and a.ndim - k < rank else a
        for a, b in zip(args, batched)
    ]


def _full(a: Any, b: bool, bshape: tuple[int, ...]) -> Any:
    """An input (tensor or raw array) at the full batch shape, for ops that do not broadcast (cat, gather)."""
    k = len(bshape)
    if not b:
        a = _reshape(a, (1,) * k + a.shape)
    if isinstance(a, Tensor):
        return _expand(a, bshape + a.shape[k:])
    return namespace(a).broadcast_to(a, bshape + a.shape[k:])


def _elementwise(cls, args, batched, params, bshape):
    """Broadcasting ops (unary, binary, where, clamp, casts): align ranks, then run the op as it is."""
    return cls.apply(*_pad_ranks(args, batched, len(bshape)), **params)


def _same_shape(cls, args, batched, params, bshape):
    """Elementwise ops whose kernels need equal shapes (fused gradients): broadcast every input explicitly."""
    args = _pad_ranks(args, batched, len(bshape))
    tensors = [a for a in args if isinstance(a, Tensor)]
    shape = namespace(tensors[0].data).broadcast_shapes(*(a.shape for a in tensors))
    return cls.apply(*[_expand(a, shape) if isinstance(a, Tensor) else a for a in args], **params)


def _reshape_rule(cls, args, batched, params, bshape):
    """Reshape, Squeeze, Unsqueeze: the target shape is per example."""
    return cls.apply(args[0], shape=bshape + tuple(params["shape"]))


def _transpose(cls, args, batched, params, bshape):
    k, n = len(bshape), args[0].ndim - len(bshape)
    return cls.apply(args[0], dim0=_shift(params["dim0"], n, k), dim1=_shift(params["dim1"], n, k))


def _permute_rule(cls, args, batched, params, bshape):
    k, n = len(bshape), args[0].ndim - len(bshape)
    return cls.apply(args[0], dims=tuple(range(k)) + tuple(_shift(d, n, k) for d in params["dims"]))


def _expand_rule(cls, args, batched, params, bshape):
    k, p, shape = len(bshape), args[0], tuple(params["shape"])
    p = _reshape(p, p.shape[:k] + (1,) * (len(shape) - p.ndim + k) + p.shape[k:])
    return cls.apply(p, shape=bshape + shape)


def _sum_to(cls, args, batched, params, bshape):
    k, p, shape = len(bshape), args[0], tuple(params["shape"])
    lead = p.ndim - k - len(shape)
    out = cls.apply(p, shape=bshape + (1,) * lead + shape)
    return _reshape(out, bshape + shape)


def _join(cls, args, batched, params, bshape):
    """Cat and Stack: every input at the full batch shape, dim shifted past the batch dims."""
    k = len(bshape)
    xs = [_full(a, b, bshape) for a, b in zip(args, batched)]
    n = xs[0].ndim - k + (cls.__name__ == "Stack")
    return cls.apply(*xs, dim=_shift(params["dim"], n, k))


def _reduce(cls, args, batched, params, bshape):
    """Reductions over `dims` (a sorted tuple, or None for every dim): shifted past the batch dims."""
    k, n = len(bshape), args[0].ndim - len(bshape)
    dims = params["dims"]
    dims = tuple(range(k, k + n)) if dims is None else tuple(d + k for d in dims)
    return cls.apply(args[0], *args[1:], **{**params, "dims": dims})


def _dim_reduce(cls, args, batched, params, bshape):
    """any/all over `dim` (None: every dim; an int or a tuple otherwise)."""
    k, n = len(bshape), args[0].ndim - len(bshape)
    d = params.get("dim")
    if d is None:
        dims = tuple(range(k, k + n))
    elif isinstance(d, int):
        dims = _shift(d, n, k)
    else:
        dims = tuple(_shift(x, n, k) for x in d)
    return cls.apply(args[0], **{**params, "dim": dims})


def _arg_extreme(cls, args, batched, params, bshape):
    """argmax/argmin over `dim`, or over each example flattened when dim is None."""
    k, p = len(bshape), args[0]
    n = p.ndim - k
    if params.get("dim") is not None:
        return cls.apply(p, **{**params, "dim": _shift(params["dim"], n, k)})
    out = cls.apply(_reshape(p, p.shape[:k] + (-1,)), **{**params, "dim": k})
    return _reshape(out, p.shape[:k] + (1,) * n) if params.get("keepdim") else out


def _per_example_1d(rule):
    """Wrap a rule over one dim so that it also takes 0-d examples (as a size-1 dim, squeezed back)."""

    def wrapped(cls, args, batched, params, bshape):
        p = args[0]
        if p.ndim > len(bshape):
            return rule(cls, args, batched, params, bshape)
        out = rule(cls, [_reshape(p, p.shape + (1,))] + args[1:], batched, params, bshape)
        return _reshape(out, out.shape[:-1])

    return wrapped


def _masked_fill(cls, args, batched, params, bshape):
    """x with value where mask: batched masks or values need x at the full batch shape."""
    (x, m, v), (bx, bm, bv), k = args, batched, len(bshape)
    if bm or bv or not bx or x.shape[:k] != bshape:
        x = _full(x, bx, bshape)
        params = {**params, "inplace": False}
    n = x.ndim - k
    if bm:
        m = _reshape(m, m.shape[:k] + (1,) * (n - m.ndim + k) + m.shape[k:])
    if bv:  # the op's kernel and gradient take a 0-d value: select with where instead
        v = _reshape(v, v.shape[:k] + (1,) * n)
        return Where.apply(m, v if v.dtype == x.dtype else v.to(x.dtype), x)
    return cls.apply(x, m, v, **params)


def _along_index(cls, args, batched, params, bshape):
    """Gather, Scatter, ScatterAdd, IndexAdd: every array input at the full batch shape, dim shifted.

    Index arrays come unbatched (or batched, as a raw array from a batched tensor); the output starts as a
    copy of x, so x is materialised (and never written in place) when it is not batched at every level.
    """
    k = len(bshape)
    if cls.__name__ == "IndexAdd" and batched[1]:
        raise VmapError("vmap: index_add with a batched index has no batching rule; use an unbatched index")
    x, rest = args[0], list(args[1:])
    params = {**params, "dim": params["dim"] + k}
    if not batched[0] or x.shape[:k] != bshape:
        x = _full(x, batched[0], bshape)
        if "inplace" in params:
            params["inplace"] = False
    if cls.__name__ != "IndexAdd":
        rest[0] = _full(rest[0], batched[1], bshape)
    if len(rest) > 1 and hasattr(rest[1], "shape"):
        src, b = rest[1], batched[2]
        if src.ndim == (k if b else 0):  # a 0-d src (scatter's value): spread it over the index's shape
            src = _full(_reshape(src, src.shape + (1,) * (rest[0].ndim - k)) if b else src, b, bshape)
            src = _expand(src, rest[0].shape) if isinstance(src, Tensor) else src
        rest[1] = _full(src, b, bshape)
    return cls.apply(x, *rest, **params)


def _index_select(cls, args, batched, params, bshape):
    if batched[1]:
        raise VmapError("vmap: index_select with a batched index has no batching rule; use an unbatched index")
    return cls.apply(args[0], args[1], dim=params["dim"] + len(bshape))


def _matmul(cls, args, batched, params, bshape):
    """x @ y per example: 1-D operands become a row (x) or a column (y), batched operands get the same
    logical rank (size-1 dims after the batch dims), and the dims added for 1-D operands are dropped again.
    Unbatched operands broadcast from the right, so x @ W with an unbatched W stays one GEMM."""
    k = len(bshape)
    (x, y), (bx, by) = args, batched
    rx, ry = _logical_ndim(x, bx, k), _logical_ndim(y, by, k)
    if rx == 1:
        x = _reshape(x, x.shape[:-1] + (1,) + x.shape[-1:])
    if ry == 1:
        y = _reshape(y, y.shape + (1,))
    x, y = _pad_ranks([x, y], [bx, by], k)
    out = cls.apply(x, y, **params)
    rows = () if rx == 1 else out.shape[-2:-1]
    cols = () if ry == 1 else out.shape[-1:]
    return _reshape(out, out.shape[:-2] + rows + cols)


def _conv(cls, args, batched, params, bshape):
    """Convolution per example. Batched inputs with shared filters fold the batch into N (one convolution);
    per-example filters (as grad inside vmap makes them) become one grouped convolution over the batch."""
    (x, w, b), (bx, bw, bb) = args, batched
    k, d = len(bshape), len(params["stride"])
    if not bw and not bb:
        out = cls.apply(_reshape(x, (-1,) + x.shape[-d - 1 :]), w, b, **params)
        return _reshape(out, x.shape[: -d - 1] + out.shape[1:])
    n, groups = math.prod(bshape), params["groups"]
    x = _full(x, bx, bshape)
    has_n = x.ndim - k == d + 2
    nx = x.shape[k] if has_n else 1  # examples without N count as N = 1
    c, sp = x.shape[-d - 1], x.shape[-d:]
    x = Permute.apply(_reshape(x, (n, nx, c) + sp), dims=(1, 0, *range(2, d + 3)))
    w = _full(w, bw, bshape)
    o = w.shape[k]
    w = _reshape(w, (n * o,) + w.shape[k + 1 :])
    if b is not None:
        b = _reshape(_full(b, bb, bshape), (n * o,))
    out = cls.apply(_reshape(x, (nx, n * c) + sp), w, b, **{**params, "groups": groups * n})
    out = Permute.apply(_reshape(out, (nx, n, o) + out.shape[2:]), dims=(1, 0, *range(2, d + 3)))
    return _reshape(out, bshape + ((nx,) if has_n else ()) + (o,) + out.shape[3:])


def _dims_rule(*names: str):
    """Rule for ops whose params `names` are dims (an int or a tuple of ints) of the single input."""

    def rule(cls, args, batched, params, bshape):
        k, n = len(bshape), args[0].ndim - len(bshape)
        new = dict(params)
        for name in names:
            d = params.get(name)
            if isinstance(d, int):
                new[name] = _shift(d, n, k)
            elif d is not None:
                new[name] = tuple(_shift(x, n, k) for x in d)
        return cls.apply(args[0], **new)

    return rule


def _roll(cls, args, batched, params, bshape):
    if params.get("dims") is not None:
        return _dims_rule("dims")(cls, args, batched, params, bshape)
    k, p = len(bshape), args[0]
    flat = cls.apply(_reshape(p, p.shape[:k] + (-1,)), shifts=(params["shifts"],), dims=(k,))
    return _reshape(flat, p.shape)


def _repeat(cls, args, batched, params, bshape):
    k, p, sizes = len(bshape), args[0], tuple(params["sizes"])
    p = _reshape(p, p.shape[:k] + (1,) * (len(sizes) - p.ndim + k) + p.shape[k:])
    return cls.apply(p, sizes=(1,) * k + sizes)


def _pad(cls, args, batched, params, bshape):
    return cls.apply(args[0], **{**params, "widths": ((0, 0),) * len(bshape) + tuple(params["widths"])})


def _check_key(op: str, key: tuple) -> None:
    """Refuse index keys that vmap cannot shift past the batch dims."""
    if any(isinstance(e, _LogicalArray) for e in key):
        raise VmapError(f"vmap: {op} with a batched index tensor has no batching rule; index with unbatched tensors")
    pos = [i for i, e in enumerate(key) if not (e is None or e is Ellipsis or isinstance(e, (int, slice)))]
    if pos and pos[-1] - pos[0] + 1 != len(pos):
        raise VmapError(
            f"vmap: {op} with index arrays separated by slices has no batching rule (NumPy moves those dims "
            "first); index in two steps"
        )


def _index(cls, args, batched, params, bshape):
    """Slice and Index: x[key] per example is x[:, ..., :, key] on the physical tensor."""
    key = tuple(params["key"])
    _check_key(cls.__name__, key)
    return cls.apply(args[0], **{**params, "key": (slice(None),) * len(bshape) + key})


def _index_put(cls, args, batched, params, bshape):
    """x[key] = v (or += with accumulate) per example; x is materialised at the full batch shape first."""
    (x, v), (bx, bv), k = args, batched, len(bshape)
    key = tuple(params["key"])
    _check_key(cls.__name__, key)
    params = {**params, "key": (slice(None),) * k + key}
    if not bx or x.shape[:k] != bshape:
        x = _full(x, bx, bshape)
        params["inplace"] = False
    if bv:
        xp = namespace(x.data)
        rank = xp.broadcast_to(xp.zeros((), x.dtype), x.shape[k:])[key].ndim
        v = _reshape(v, v.shape[:k] + (1,) * (rank - v.ndim + k) + v.shape[k:])
    return cls.apply(x, v, **params)


RULES: dict[str, Callable[..., Tensor]] = {
    **dict.fromkeys(("RNNScan", "LSTMScan", "GRUScan"), scan_batching_rule),
    # arithmetic, casts and copies
    **dict.fromkeys(("Add", "Sub", "Mul", "Div", "Pow", "Neg", "Reciprocal", "Alias", "Clone", "Cast", "ToDevice"),
                    _elementwise),
    # broadcasting
    "Expand": _expand_rule, "SumTo": _sum_to,
    # shape
    "Reshape": _reshape_rule, "Squeeze": _reshape_rule, "Unsqueeze": _reshape_rule, "Transpose": _transpose,
    "Permute": _permute_rule, "Cat": _join, "Stack": _join, "Flip": _per_example_1d(_dims_rule("dims")),
    "Roll": _roll, "Repeat": _repeat, "Pad": _pad,
    # unary
    **dict.fromkeys(("Exp", "Expm1", "Log", "Log1p", "Sqrt", "Rsqrt", "Abs", "Sign", "Sin", "Cos", "Tanh", "Erf",
                     "Erfc"), _elementwise),
    "TanhGrad": _same_shape,
    # selection
    **dict.fromkeys(("Where", "Clamp", "ClampTensor", "Maximum", "Minimum", "Lerp"), _elementwise),
    # comparisons and logic (not differentiable)
    **dict.fromkeys(("Eq", "Ne", "Lt", "Le", "Gt", "Ge", "IsClose", "LogicalNot", "LogicalAnd", "LogicalOr",
                     "LogicalXor", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "IsNan", "IsInf",
                     "IsFinite"), _elementwise),
    # activations (the fused gradient kernels need equal shapes)
    **dict.fromkeys(("Sigmoid", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Hardtanh"), _elementwise),
    **dict.fromkeys(("SigmoidGrad", "GeluGrad", "SiluGrad"), _same_shape),
    # linear algebra, convolution and pooling (pools work on the trailing dims: batch dims are just more rows)
    "Matmul": _matmul, "Conv": _conv,
    **dict.fromkeys(("MaxPool", "AvgPool", "AvgPoolBackward", "AdaptiveAvgPool", "AdaptiveMaxPool"), _elementwise),
    # reductions
    **dict.fromkeys(("Sum", "Mean", "Var", "Std", "Prod", "Amax", "Amin", "LogSumExp", "Norm"), _reduce),
    **dict.fromkeys(("Softmax", "LogSoftmax", "Cumsum"), _per_example_1d(_dims_rule("dim"))),
    "AnyTrue": _dim_reduce, "AllTrue": _dim_reduce, "Argmax": _arg_extreme, "Argmin": _arg_extreme,
    # indexing
    "Slice": _index, "Index": _index, "IndexPut": _index_put, "MaskedFill": _masked_fill, "IndexSelect": _index_select,
    **dict.fromkeys(("Gather", "Scatter", "ScatterAdd", "IndexAdd"), _along_index),
}  # fmt: skip
