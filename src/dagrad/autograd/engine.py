"""The backward engine: reverse topological walk over Function nodes, accumulating vector-Jacobian products."""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

from dagrad.autograd.function import Function
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor, _make, as_array
from dagrad.backend import namespace
from dagrad.errors import AnomalyError, GradientError, InplaceError, ShapeError

node_hooks: weakref.WeakKeyDictionary[Function, list] = weakref.WeakKeyDictionary()
retained: weakref.WeakKeyDictionary[Function, weakref.ref] = weakref.WeakKeyDictionary()


class _SiteTable:
    """Source line of each tensor's last in-place change, keyed by identity (Tensor.__eq__ is elementwise)."""

    def __init__(self) -> None:
        self._d: dict[int, tuple[weakref.ref, str]] = {}

    def __setitem__(self, t: Tensor, site: str) -> None:
        key, d = id(t), self._d
        d[key] = (weakref.ref(t, lambda _ref: d.pop(key, None)), site)

    def get(self, t: Tensor, default: str | None = None) -> str | None:
        entry = self._d.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else default


inplace_sites = _SiteTable()
modified_outputs: weakref.WeakKeyDictionary[Function, str] = weakref.WeakKeyDictionary()
_hooks_live = node_hooks.data  # the underlying dicts: cheap emptiness checks on the hot path
_retained_live = retained.data


def _root_grads(roots: Sequence[Tensor], grads: Sequence[Any] | None) -> list[Tensor]:
    out = []
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise GradientError(f"backward: expected tensors as outputs, received {type(r).__name__} at position {i}")
        if not r.requires_grad:
            raise GradientError(
                f"backward: element {i} of the outputs does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        g = None if grads is None else grads[i]
        if g is None:
            if r.data.size != 1:
                raise GradientError(
                    f"backward: grad can be created implicitly only for scalar outputs; received an output of shape "
                    f"{r.shape}; pass gradient= with that shape"
                )
            g = _make(namespace(r.data).ones_like(r.data), False, None)
        else:
            g = g if isinstance(g, Tensor) else _make(as_array(g, r.dtype), False, None)
            if g.shape != r.shape:
                raise ShapeError(f"backward: gradient shape {g.shape} does not match the output shape {r.shape}")
            if state.anomaly and state.check_nan and g.data.dtype.kind == "f" and not _finite(g.data):
                raise AnomalyError(f"detect_anomaly: the gradient given to backward for output {i} holds NaN/Inf")
        out.append(g)
    return out


def _topo_order(roots: list[Function]) -> list[Function]:
    """Nodes reachable from roots, each after every node that consumes it (Kahn's algorithm, no recursion)."""
    deps: dict[Function, int] = {}
    stack = list(roots)
    for r in roots:
        deps.setdefault(r, 0)
    seen = set(roots)
    while stack:
        node = stack.pop()
        for p in node.parents:
            if p is not None and type(p) is not Tensor and not isinstance(p, Tensor):
                if p in seen:
                    deps[p] += 1
                else:
                    seen.add(p)
                    deps[p] = 1
                    stack.append(p)
    order = []
    ready = [r for r in dict.fromkeys(roots) if deps[r] == 0]
    while ready:
        node = ready.pop()
        order.append(node)
        for p in node.parents:
            if p is not None and not isinstance(p, Tensor):
                d = deps[p] - 1
                deps[p] = d
                if d == 0:
                    ready.append(p)
    return order


def _needed(order: list[Function], targets: set) -> set[Function]:
    """The nodes on some path to a target (so grad() computes only what it returns)."""
    need: set[Function] = set()
    for node in reversed(order):
        if node in targets or any(p is not None and (p in need or p in targets) for p in node.parents):
            need.add(node)
    return need


def _check_saved(node: Function) -> None:
    """Raise if a tensor that node saved for backward was modified in place after it was saved."""
    name = type(node).__name__
    site = modified_outputs.get(node)
    if site is not None:
        raise InplaceError(
            f"backward: the output of {name} was modified in place after {name} saved it for backward "
            f"(modified at {site}{_created(node)}); use an out-of-place op there, or .clone() before modifying"
        )
    for t in node.saved or ():
        if isinstance(t, Tensor):
            for x in (t, t._base):
                if x is not None and x._version > node.epoch:
                    what = "leaf tensor" if x.grad_fn is None else f"output of {type(x.grad_fn).__name__}"
                    where = getattr(x.grad_fn, "site", None) if x.grad_fn is not None else None
                    created = f", created at {where}" if where else ""
                    raise InplaceError(
                        f"backward: a tensor of shape {tuple(x.shape)} ({what}{created}) that {name} saved for "
                        f"backward was modified in place at {inplace_sites.get(x, '<unknown>')} after it was saved"
                        f"{_created(node)}; use an out-of-place op there, or .clone() before modifying"
                    )


def _created(node: Function) -> str:
    site = getattr(node, "site", None)
    if site:
        return f"; {type(node).__name__} was called at {site}"
    return "; run under dagrad.autograd.detect_anomaly() to see the source line of each op"


def backward(
    roots: Sequence[Tensor],
    grads: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | Tensor | None = None,
) -> None:
    """Accumulate gradients of roots into the .grad of leaves (or of `inputs` only)."""
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    targets = None
    if inputs is not None:
        inputs = list(inputs)
        if not inputs:
            raise GradientError("backward: inputs= was given but is empty")
        targets = {t.grad_fn or t for t in inputs}
        # non-leaf inputs get their .grad filled, as with retain_grad(), for this walk only
        extra = [t for t in inputs if t.grad_fn is not None and not t.retains_grad]
        for t in extra:
            retained[t.grad_fn] = weakref.ref(t)
        try:
            _run(list(roots), _root_grads(roots, grads), retain_graph, create_graph, targets, None)
        finally:
            for t in extra:
                retained.pop(t.grad_fn, None)
        return
    _run(list(roots), _root_grads(roots, grads), retain_graph, create_graph, None, None)


def grad(
    outputs: Sequence[Tensor] | Tensor,
    inputs: Sequence[Tensor] | Tensor,
    grad_outputs: Sequence[Any] | Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of outputs with respect to inputs, returned (not accumulated into .grad)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is not None and (isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple))):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise GradientError(f"grad: input {i} does not require grad; call .requires_grad_() on it first")
    keys = [t.grad_fn or t for t in inputs]
    captured: dict[Any, Tensor] = {}
    _run(outputs, _root_grads(outputs, grad_outputs), retain_graph, create_graph, set(keys), captured)
    result = []
    for i, (t, k) in enumerate(zip(inputs, keys)):
        g = captured.get(k)
        if g is None:
            if materialize_grads:
                g = _make(namespace(t.data).zeros_like(t.data), False, None)
            elif not allow_unused:
                raise GradientError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; pass allow_unused=True "
                    "to get None for it"
                )
        result.append(g)
    return tuple(result)


def _run(roots, root_grads, retain_graph, create_graph, targets, captured) -> None:
    if retain_graph is None:
        retain_graph = create_graph
    buf: dict[Any, Tensor] = {}
    leaves: dict[Tensor, tuple[Tensor, bool]] = {}  # leaf -> (its gradient summed so far, may alias another)
    nodes = []
    for r, g in zip(roots, root_grads):
        if r.grad_fn is None:
            if targets is None or r in targets:
                _gather(leaves, r, g, None)
        elif r.grad_fn in buf:
            buf[r.grad_fn] = buf[r.grad_fn] + g
        else:
            buf[r.grad_fn] = g
            nodes.append(r.grad_fn)
    prev_grad = state.grad
    state.grad = create_graph
    try:
        order = _topo_order(nodes)
        need = _needed(order, targets) if targets is not None else None
        anomaly = state.anomaly
        for node in order:
            g = buf.pop(node, None)
            if g is None:
                continue
            if _hooks_live:
                for hook in node_hooks.get(node, ()):
                    r = hook(g)
                    if r is not None:
                        g = r
            if _retained_live:
                ref = retained.get(node)
                t = ref() if ref is not None else None
                if t is not None:
                    if t.grad is not None:
                        t.grad = t.grad + g
                    else:  # a copy, so changing .grad in place cannot reach the gradient flowing on
                        t.grad = g if g.requires_grad else _make(g.data.copy(), False, None)
            if captured is not None and node in targets:
                captured[node] = g
            if need is not None and node not in need:
                continue
            if node.saved is None:
                raise GradientError(
                    f"backward: trying to backward through the graph a second time ({type(node).__name__}'s saved "
                    "tensors were freed after the first backward); pass retain_graph=True to the first backward"
                )
            if node.epoch != state.epoch:
                _check_saved(node)
            if anomaly:
                in_grads = _anomalous_backward(node, g)
            else:
                in_grads = node.backward(g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if not retain_graph:
                node.release()
            for p, gi in zip(node.parents, in_grads):
                if p is None or gi is None:
                    continue
                if isinstance(p, Tensor):
                    if targets is None or p in targets:
                        _gather(leaves, p, gi, g)
                    continue
                if gi.data.shape != p.shape:
                    gi = _reduce(gi, p.shape, type(node).__name__)
                prev = buf.get(p)
                buf[p] = gi if prev is None else prev + gi
        for p, (gi, shared) in leaves.items():
            _to_leaf(p, gi, shared, create_graph, captured)
    finally:
        state.grad = prev_grad


def _reduce(gi: Tensor, shape: tuple, node: Function | str) -> Tensor:
    try:
        return gi.sum_to_size(shape)
    except ShapeError:
        who = node if isinstance(node, str) else type(node).__name__
        raise GradientError(
            f"backward: {who} returned a gradient of shape {gi.shape} for an input of shape {shape}"
        ) from None


def _gather(leaves: dict, p: Tensor, gi: Tensor, g_in: Tensor | None) -> None:
    """Add one incoming gradient of leaf p to its sum over this walk (so p's hooks see the total, once)."""
    if gi.data.shape != p.data.shape:
        gi = _reduce(gi, p.data.shape, "a leaf's gradient")
    if gi.data.dtype != p.data.dtype:
        gi = gi.to(p.data.dtype)
    prev = leaves.get(p)
    if prev is None:  # shared: the rule passed its incoming gradient through, or the user gave it
        leaves[p] = (gi, g_in is None or gi is g_in)
    else:
        leaves[p] = (prev[0] + gi, False)


def _to_leaf(p: Tensor, gi: Tensor, shared: bool, create_graph: bool, captured) -> None:
    """Deliver a leaf's total gradient: run its hooks, then capture it (grad()) or accumulate it into .grad."""
    if p._hooks:
        for hook in p._hooks:
            r = hook(gi)
            if r is not None:
                gi, shared = r, True
    if captured is not None:
        captured[p] = gi
        return
    if p.grad is None:
        if not create_graph and (shared or gi.data.base is not None or gi.requires_grad):
            gi = _make(gi.data.copy(), False, None)  # .grad must own its memory: later steps add into it in place
        p.grad = gi
    elif create_graph or p.grad.requires_grad:
        p.grad = p.grad + gi
    else:
        p.grad.data += gi.data


def _anomalous_backward(node: Function, g: Tensor):
    """node.backward(g) under detect_anomaly: name node and its source line if a NaN/Inf appears."""
    try:
        res = node.backward(g)
    except (FloatingPointError, AnomalyError) as e:  # raised by a ufunc, or by an op that the rule called
        name = type(node).__name__
        cause = e.__context__ if isinstance(e.__context__, FloatingPointError) else e
        raise AnomalyError(
            f"detect_anomaly: backward of {name} produced NaN/Inf ({cause}); {name} was called at {_site(node)}"
        ) from None
    if not state.check_nan:
        return res
    checked = g  # the incoming gradient passed the check when its producer returned it (or is the root's)
    for i, gi in enumerate(res if type(res) is tuple else (res,)):
        if gi is None or gi is checked:
            continue
        a = gi.data
        if a is g.data or (a.base is not None and a.base is g.data):
            continue  # a view of the incoming gradient (expand, reshape, transpose): no new values
        checked = gi
        if a.dtype.kind == "f" and not _finite(a):
            name = type(node).__name__
            raise AnomalyError(
                f"detect_anomaly: backward of {name} returned NaN/Inf in the gradient of its input {i}; "
                f"{name} was called at {_site(node)}"
            )
    return res


def _site(node: Function) -> str:
    return getattr(node, "site", None) or "<unknown: the op ran before detect_anomaly was turned on>"


def _finite(a: Any) -> bool:
    """Whether a float array holds no NaN/Inf. One BLAS dot, a·a, is NaN/Inf if any element is (and on overflow,
    which the exact check then rules out): far cheaper than isfinite(a).all() on the many small gradients."""
    xp = namespace(a)
    return math.isfinite(xp.vdot(a, a)) or bool(xp.isfinite(a).all())
