"""Function transforms, as torch.func: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, hvp.

Each transform takes a function of tensors and returns a new function (or values). Inputs need not
require grad: a transform differentiates with respect to fresh aliases of them, so the caller's tensors
and their .grad are untouched. Reverse mode (grad, vjp, jacrev) builds on dagrad.autograd.grad; forward
mode (jvp, jacfwd) on dagrad.autograd.forward_ad (one level: no jvp inside jvp). Transforms nest:
grad(grad(f)), jacfwd(jacrev(f)) (= hessian), jvp(grad(f)) (= hvp), and all of them inside vmap.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from dagrad.autograd import engine
from dagrad.autograd.forward_ad import Alias, dual_level, make_dual
from dagrad.autograd.grad_mode import enable_grad
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, GradientError, ShapeError
from dagrad.func import vmap as _vm
from dagrad.func.vmap import tree_flatten, tree_unflatten
from dagrad.ops.shape import stack

_depth = 0  # how many reverse-mode transforms are running: inner ones must build a graph for outer ones


class _Reverse:
    """Marks a reverse-mode transform as running (with grad recording on, as torch.func ignores no_grad outside)."""

    def __enter__(self) -> bool:
        global _depth
        nested = _depth > 0
        _depth += 1
        self._grad = enable_grad()
        self._grad.__enter__()
        return nested

    def __exit__(self, *exc: object) -> None:
        global _depth
        _depth -= 1
        self._grad.__exit__(*exc)


# ---- helpers -----------------------------------------------------------------------------------------------------
def _argnums(argnums: int | tuple[int, ...], n: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or any(not isinstance(a, int) or isinstance(a, bool) or not -n <= a < n for a in nums):
        raise GradientError(
            f"{name}: expected argnums to be an int or a non-empty tuple of ints in [-{n}, {n}) "
            f"(the function got {n} positional arguments), received argnums={argnums!r}"
        )
    nums = tuple(a % n for a in nums)
    if len(set(nums)) != len(nums):
        raise GradientError(f"{name}: argnums must not repeat an argument, received argnums={argnums!r}")
    return nums


def _check_float(x: Any, name: str, what: str) -> None:
    if not isinstance(x, Tensor):
        raise GradientError(f"{name}: expected {what} to be a Tensor (or tuples/lists/dicts of them), received {x!r}")
    if x.dtype.kind != "f":
        raise DtypeError(f"{name}: expected {what} to be a floating point tensor, received dtype {x.dtype}")


def _alias(x: Tensor) -> tuple[Tensor, Tensor]:
    """(value to pass to the function, plain tensor to differentiate with respect to) for input x.

    Outside vmap the two are one fresh alias. Inside vmap the plain tensor is broadcast over every active
    level, so each example gets its own copy and its own gradient (per-sample gradients).
    """
    levels = _vm.value_levels()
    p = _vm.lower(x, levels) if levels else x
    a = Alias.apply(p)
    if not a.requires_grad:
        a.requires_grad = True
    return _vm.lift(a, levels), a


def _prepare(args: list, nums: tuple[int, ...], name: str) -> tuple[list, list]:
    """Replace args[i] (i in nums; tensors or tuples/lists/dicts of them) by aliases, in place.

    Returns the plain tensors to differentiate with respect to, and one (spec, count) per argument.
    """
    keys, specs = [], []
    for i in nums:
        leaves, spec = tree_flatten(args[i])
        pairs = []
        for x in leaves:
            _check_float(x, name, f"argument {i}")
            pairs.append(_alias(x))
        args[i] = tree_unflatten(spec, [v for v, _ in pairs])
        keys.extend(k for _, k in pairs)
        specs.append((spec, len(leaves)))
    return keys, specs


def _group(gs: list[Tensor], specs: list) -> list:
    """Gradients (plain, one per key) lifted to the current vmap levels and nested like the arguments."""
    levels = _vm.value_levels()
    gs = [_vm.lift(g, levels) for g in gs]
    parts, at = [], 0
    for spec, n in specs:
        parts.append(tree_unflatten(spec, gs[at : at + n]))
        at += n
    return parts


def _split_aux(res: Any, has_aux: bool, name: str) -> tuple[Any, Any]:
    if not has_aux:
        return res, None
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        raise GradientError(
            f"{name}: with has_aux=True the function must return a pair (output, aux), received {type(res).__name__}"
        )
    return res[0], res[1]


def _plain(t: Tensor) -> Tensor:
    return _vm.physical(t)[0]


def _xp(t: Tensor) -> Any:
    return namespace(_plain(t).data)


def _detached(t: Tensor) -> Tensor:
    """t cut from this transform's graph (keeping a forward-mode tangent, which belongs to an outer jvp)."""
    p, levels = _vm.physical(t)
    d = _make(p.data, False, None)
    d._tangent = p._tangent
    return _vm.wrap(d, levels)


def _detached_tree(tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten(spec, [_detached(x) if isinstance(x, Tensor) else x for x in leaves])


def _reverse(outs: list, cts: list, keys: list, create_graph: bool, retain: bool) -> list[Tensor]:
    """Gradients of the plain outputs (weighted by the plain cotangents) with respect to the plain keys."""
    roots, grads = [], []
    for o, c in zip(outs, cts):
        if o.requires_grad:
            roots.append(o)
            grads.append(c)
    gs = (
        engine.grad(
            roots, keys, grads, retain_graph=retain or create_graph, create_graph=create_graph, allow_unused=True
        )
        if roots
        else [None] * len(keys)
    )
    return [_zeros(k) if g is None else g for g, k in zip(gs, keys)]


def _zeros(t: Tensor) -> Tensor:
    """Zeros of t's (logical) shape and dtype, not batched (vmap broadcasts them)."""
    return _make(_xp(t).zeros(t.shape, t.dtype), False, None)


def _needs_graph(nested: bool, leaves: list) -> bool:
    return nested or any(isinstance(x, Tensor) and x.requires_grad for x in leaves)


# ---- grad --------------------------------------------------------------------------------------------------------
def _grad_and_value(func: Callable, argnums, has_aux: bool, args: tuple, kwargs: dict, name: str):
    nums = _argnums(argnums, len(args), name)
    with _Reverse() as nested:
        args = list(args)
        graph = _needs_graph(nested, [x for i in nums for x in tree_flatten(args[i])[0]])
        keys, specs = _prepare(args, nums, name)
        out, aux = _split_aux(func(*args, **kwargs), has_aux, name)
        if not isinstance(out, Tensor) or out.numel() != 1:
            what = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
            raise ShapeError(f"{name}: expected the function to return a tensor with one element, received {what}")
        po = _plain(out)
        seed = _make(namespace(po.data).ones(po.shape, po.dtype), False, None)
        parts = _group(_reverse([po], [seed], keys, graph, False), specs)
    g = parts[0] if isinstance(argnums, int) else tuple(parts)
    if graph:
        return g, (out, aux) if has_aux else out
    return g, (_detached(out), _detached_tree(aux)) if has_aux else _detached(out)


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """A function computing the gradient of `func` (which returns a one-element tensor) w.r.t. args[argnums].

    argnums: an int, or a tuple of ints (then a tuple of gradients). Arguments may be tuples/lists/dicts of
    tensors; the gradient has the same structure. has_aux: func returns (output, aux); returns (grad, aux).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = _grad_and_value(func, argnums, has_aux, args, kwargs, "grad")
        return (g, value[1]) if has_aux else g

    return wrapper


def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """Like grad, returning (gradient, value) — or (gradient, (value, aux)) with has_aux — from one call."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _grad_and_value(func, argnums, has_aux, args, kwargs, "grad_and_value")

    return wrapper


# ---- vjp ---------------------------------------------------------------------------------------------------------
def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """(func(*primals), vjp_fn): vjp_fn(cotangents) returns a tuple with one vector-Jacobian product per primal.

    cotangents have the structure and shapes of the output; vjp_fn may be called many times (and under vmap).
    With has_aux=True, func returns (output, aux) and vjp returns (output, vjp_fn, aux).
    """
    with _Reverse() as nested:
        args = list(primals)
        graph = _needs_graph(nested, tree_flatten(args)[0])
        keys, specs = _prepare(args, tuple(range(len(args))), "vjp")
        out, aux = _split_aux(func(*args), has_aux, "vjp")
        outs = tree_flatten(out)[0]
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise GradientError(f"vjp: expected the function to return tensors, output {i} is {type(o).__name__}")
    plain_outs = [_plain(o) for o in outs]
    out_levels = [_vm.physical(o)[1] for o in outs]

    def vjp_fn(cotangents: Any) -> tuple:
        cts = tree_flatten(cotangents)[0]
        if len(cts) != len(outs):
            raise GradientError(
                f"vjp_fn: expected cotangents with the output's structure ({len(outs)} tensors), received {len(cts)}"
            )
        phys = []
        for i, (c, o, lv) in enumerate(zip(cts, outs, out_levels)):
            if not isinstance(c, Tensor) or tuple(c.shape) != tuple(o.shape):
                got = tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__
                raise ShapeError(f"vjp_fn: expected cotangent {i} of shape {tuple(o.shape)}, received {got}")
            phys.append(_vm.lower(c, lv))
        with _Reverse() as inner:
            return tuple(_group(_reverse(plain_outs, phys, keys, graph or inner, True), specs))

    if not graph:
        out, aux = _detached_tree(out), _detached_tree(aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


# ---- jvp ---------------------------------------------------------------------------------------------------------
def _strip(t: Tensor) -> Tensor:
    """t without its tangent (same graph node)."""
    p, levels = _vm.physical(t)
    if p._tangent is None and t._tangent is None:
        return t
    s = _make(p.data, p.requires_grad, p.grad_fn)
    s._base = p._base
    return _vm.wrap(s, levels)


def jvp(func: Callable, primals: tuple, tangents: tuple, *, strict: bool = False, has_aux: bool = False) -> tuple:
    """(func(*primals), Jacobian-vector product along `tangents`) by true forward mode (dual numbers).

    primals and tangents are tuples of the same structure and shapes. has_aux: func returns (output, aux) and
    jvp returns (output, jvp_out, aux). strict: raise when an output does not depend on the primals (else its
    tangent is zeros). Forward mode has one level: jvp cannot run inside another jvp.
    """
    for what, v in (("primals", primals), ("tangents", tangents)):
        if not isinstance(v, (tuple, list)):
            raise GradientError(f"jvp: expected {what} to be a tuple (e.g. (x,)), received {type(v).__name__}")
    ps, pspec = tree_flatten(tuple(primals))
    ts, tspec = tree_flatten(tuple(tangents))
    if pspec != tspec:
        raise GradientError("jvp: expected tangents to have the same structure as primals")
    for i, (p, t) in enumerate(zip(ps, ts)):
        _check_float(p, "jvp", f"primal {i}")
        _check_float(t, "jvp", f"tangent {i}")
        if tuple(t.shape) != tuple(p.shape):
            raise ShapeError(f"jvp: expected tangent {i} of shape {tuple(p.shape)}, received {tuple(t.shape)}")
    with dual_level():
        duals = [make_dual(p, t) for p, t in zip(ps, ts)]
        out, aux = _split_aux(func(*tree_unflatten(pspec, duals)), has_aux, "jvp")
        outs, ospec = tree_flatten(out)
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise GradientError(f"jvp: expected the function to return tensors, output {i} is {type(o).__name__}")
            if strict and o._tangent is None:
                raise GradientError(f"jvp: output {i} does not depend on the primals (strict=True)")
        touts = [_zeros(o) if o._tangent is None else o._tangent for o in outs]
        res = (tree_unflatten(ospec, [_strip(o) for o in outs]), tree_unflatten(ospec, touts))
        if has_aux:
            leaves, aspec = tree_flatten(aux)
            res += (tree_unflatten(aspec, [_strip(a) if isinstance(a, Tensor) else a for a in leaves]),)
    return res


# ---- Jacobians ---------------------------------------------------------------------------------------------------
def _basis(like: list[Tensor]) -> list[Tensor]:
    """The N x N identity (N = total size of `like`) split into one (N, *t.shape) block per tensor t."""
    sizes = [t.numel() for t in like]
    n = sum(sizes)
    eye = _xp(like[0]).eye(n, dtype=like[0].dtype)
    out, at = [], 0
    for t, s in zip(like, sizes):
        out.append(_make(eye[:, at : at + s].reshape((n, *t.shape)), False, None))
        at += s
    return out


def _partial(func: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...]) -> Callable:
    """func as a function of args[nums] only (the other arguments fixed)."""

    def call(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(nums, xs):
            full[i] = x
        return func(*full, **kwargs)

    return call


def _specs(args: tuple, nums: tuple[int, ...]) -> tuple[list, list]:
    """Leaves of args[nums] (in order) and one (spec, count) per argument."""
    leaves, specs = [], []
    for i in nums:
        lv, spec = tree_flatten(args[i])
        leaves.extend(lv)
        specs.append((spec, len(lv)))
    return leaves, specs


def _nest(blocks: list[list[Tensor]], ospec: Any, specs: list, argnums: Any) -> Any:
    """Jacobian blocks as torch.func nests them: the output's structure outside, the arguments' inside."""
    per_out = []
    for row in blocks:
        parts, at = [], 0
        for spec, n in specs:
            parts.append(tree_unflatten(spec, row[at : at + n]))
            at += n
        per_out.append(parts[0] if isinstance(argnums, int) else tuple(parts))
    return tree_unflatten(ospec, per_out)


def jacrev(
    func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False, chunk_size: int | None = None
) -> Callable:
    """A function computing the Jacobian of `func` w.r.t. args[argnums] by reverse mode: one vjp per output
    element, all batched through vmap. Each block has shape output.shape + input.shape.

    Reverse mode is the cheaper choice when outputs are fewer than inputs. chunk_size bounds how many vjps
    run at once; chunk_size=1 runs them one at a time, as happens anyway when an op has no batching rule.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        ins, specs = _specs(args, nums)
        res = vjp(_partial(func, args, kwargs, nums), *[args[i] for i in nums], has_aux=has_aux)
        outs, ospec = tree_flatten(res[0])

        def pull(*cts: Tensor) -> tuple:
            return res[1](tree_unflatten(ospec, list(cts)))

        rows = _map_basis(pull, _basis(outs), _vm.vmap(pull, chunk_size=chunk_size), chunk_size == 1)[0]
        blocks, at = [], 0
        for o in outs:
            m = o.numel()
            blocks.append([_rows(r, at, m, len(outs)).reshape(*o.shape, *x.shape) for r, x in zip(rows, ins)])
            at += m
        jac = _nest(blocks, ospec, specs, argnums)
        return (jac, res[2]) if has_aux else jac

    return wrapper


def _rows(t: Tensor, start: int, n: int, parts: int) -> Tensor:
    """Rows start..start+n of t (t itself when it is the only part)."""
    return t if parts == 1 else t[start : start + n]


def _map_basis(fn: Callable, basis: list[Tensor], batched: Callable, loop: bool) -> tuple[list[Tensor], Any]:
    """fn over the rows of the basis blocks, stacked: batched through vmap, or one row at a time when `loop` is
    set or an op on the way has no batching rule. Returns the stacked output leaves and their structure."""
    if not loop:
        try:
            return tree_flatten(batched(*basis))
        except _vm.NoBatchingRule:
            pass
    cols = [tree_flatten(fn(*[b[j] for b in basis])) for j in range(basis[0].shape[0])]
    return [stack([c[0][i] for c in cols], 0) for i in range(len(cols[0][0]))], cols[0][1]


def jacfwd(
    func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False, randomness: str = "error"
) -> Callable:
    """A function computing the Jacobian of `func` w.r.t. args[argnums] by forward mode: one jvp per input
    element, all batched through vmap (one at a time when an op has no batching rule). Each block has shape
    output.shape + input.shape.

    Forward mode is the cheaper choice when inputs are fewer than outputs.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        ins, specs = _specs(args, nums)
        for i, x in enumerate(ins):
            _check_float(x, "jacfwd", f"input {i}")
        primals = tuple(args[i] for i in nums)
        pspec = tree_flatten(primals)[1]
        f = _partial(func, args, kwargs, nums)

        aux = []

        def push(*ts: Tensor) -> Any:
            res = jvp(f, primals, tree_unflatten(pspec, list(ts)), has_aux=has_aux)
            if has_aux and not aux:
                aux.append(res[2])
            return res[1]

        basis = _basis(ins)
        touts, ospec = _map_basis(push, basis, _vm.vmap_tangents(push, randomness), False)
        blocks = []
        for t in touts:  # t: (N, *output.shape), N = total input size
            shape, m = t.shape[1:], math.prod(t.shape[1:])
            row, at = [], 0
            for x in ins:
                n = x.numel()
                row.append(_rows(t, at, n, len(ins)).reshape(n, m).transpose(0, 1).reshape(*shape, *x.shape))
                at += n
            blocks.append(row)
        jac = _nest(blocks, ospec, specs, argnums)
        return (jac, aux[0]) if has_aux else jac

    return wrapper


def hessian(func: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The Hessian of scalar `func` w.r.t. args[argnums]: jacfwd(jacrev(func)) (forward-over-reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)


def hvp(func: Callable, primals: tuple, tangents: tuple) -> tuple:
    """(func(*primals), Hessian-vector products): forward-over-reverse, a jvp of grad(func).

    primals and tangents are tuples of tensors; the second entry is a tuple with one product per primal.
    """
    if not isinstance(primals, (tuple, list)):
        raise GradientError(f"hvp: expected primals to be a tuple (e.g. (x,)), received {type(primals).__name__}")
    nums = tuple(range(len(primals)))
    (_, value), (h, _) = jvp(grad_and_value(func, argnums=nums), tuple(primals), tuple(tangents))
    return value, h
