"""Random computation graphs, built in dagrad and replayed in PyTorch: values and leaf gradients must agree.

Each seeded graph draws 10-25 steps from the unary, binary, reduction and shape ops that dagrad's Tensor
has (an op that has not landed yet is simply not drawn), reuses earlier values (fan-out) and broadcasts
shapes. Ops are chosen against the values computed so far, so log only sees positive inputs, division
only divisors away from zero, and abs/relu/maximum only inputs away from their kinks and ties. The loss
is the weighted sum of every value no later step consumed; its gradients w.r.t. all leaves are compared
in float64 (abs and rel 1e-6).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy
import pytest

import dagrad as dg

torch = pytest.importorskip("torch")

GRAPHS = 30
MAX_SIZE = 96
MAX_ABS = 1e3


class Step(NamedTuple):
    """One op call: `method` on the value refs[0] with the other refs, then args/kwargs (or a module
    function such as cat taking the list of refs when `listed`)."""

    method: str
    refs: tuple[int, ...]
    args: tuple = ()
    kwargs: dict = {}
    listed: bool = False

    def __str__(self) -> str:
        params = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join([f'v{r}' for r in self.refs] + params)})"


def run(lib: Any, step: Step, vals: list) -> Any:
    xs = [vals[r] for r in step.refs]
    if step.listed:
        return getattr(lib, step.method)(xs, *step.args, **step.kwargs)
    return getattr(xs[0], step.method)(*xs[1:], *step.args, **step.kwargs)


# ---- op makers: (rng, i, arrays) -> Step | None, for primary operand i; None when it does not apply ----


def _always(a):
    return True


def _positive(a):
    return a.min() > 0.2


def _nonzero(a):
    return numpy.abs(a).min() > 0.2


def _off_kink(a):
    return numpy.abs(a).min() > 1e-3


UNARY = {
    "neg": _always, "exp": lambda a: a.max() < 3, "log": _positive, "sqrt": _positive, "rsqrt": _positive,
    "tanh": _always, "sigmoid": _always, "sin": _always, "cos": _always, "abs": _off_kink, "relu": _off_kink,
    "square": _always, "reciprocal": _nonzero, "log1p": lambda a: a.min() > -0.8, "expm1": lambda a: a.max() < 3,
    "atan": _always, "erf": _always,
}  # fmt: skip


def _unary(name):
    def make(rng, i, arrays):
        return Step(name, (i,)) if UNARY[name](arrays[i]) else None

    return make


def _partner(rng, i, arrays, ok) -> int | None:
    """A value (possibly i itself: fan-out) whose array broadcasts with arrays[i] and satisfies ok(a, b)."""
    for j in rng.permutation(len(arrays)):
        try:
            shape = numpy.broadcast_shapes(arrays[i].shape, arrays[j].shape)
        except ValueError:
            continue
        if int(numpy.prod(shape)) <= MAX_SIZE and ok(arrays[i], arrays[j]):
            return int(j)
    return None


def _no_ties(a, b):
    return numpy.abs(a - b).min() > 1e-3


BINARY = {
    "add": lambda a, b: True, "sub": lambda a, b: True, "mul": lambda a, b: True,
    "div": lambda a, b: _nonzero(b), "pow": lambda a, b: _positive(a) and numpy.abs(b).max() < 2.5,
    "maximum": _no_ties, "minimum": _no_ties,
}  # fmt: skip


def _binary(name):
    def make(rng, i, arrays):
        j = _partner(rng, i, arrays, BINARY[name])
        return None if j is None else Step(name, (i, j))

    return make


def _scalar(rng, i, arrays):
    a = arrays[i]
    choice = rng.integers(5)
    if choice == 0:
        return Step("mul", (i,), (float(rng.choice([-1.5, 0.5, 2.0])),))
    if choice == 1:
        return Step("add", (i,), (float(rng.choice([-1.0, 0.75])),))
    if choice == 2:
        return Step("__rsub__", (i,), (1.5,))
    if choice == 3 and _nonzero(a):
        return Step("__rtruediv__", (i,), (2.0,))
    if _positive(a):
        return Step("pow", (i,), (float(rng.choice([0.5, 2.0, 3.0, -1.0])),))
    return Step("pow", (i,), (int(rng.choice([2, 3])),))


def _matmul(rng, i, arrays):
    a = arrays[i]
    for j in rng.permutation(len(arrays)):
        b = arrays[j]
        if a.ndim == 0 or b.ndim == 0:
            continue
        try:
            size = numpy.matmul(a, b).size
        except ValueError:
            continue
        if size <= MAX_SIZE:
            return Step("matmul", (i, int(j)))
    return None


def _dim(rng, a, need_size: int = 1):
    dims = [d for d in range(a.ndim) if a.shape[d] >= need_size]
    return None if not dims else int(rng.choice(dims))


def _reduce(name, need_size: int = 1, keepdim: bool = True):
    def make(rng, i, arrays):
        d = _dim(rng, arrays[i], need_size)
        if d is None:
            return Step(name, (i,)) if name in ("sum", "mean") else None
        kwargs = {"dim": d, "keepdim": bool(rng.integers(2))} if keepdim else {"dim": d}
        return Step(name, (i,), kwargs=kwargs)

    return make


def _full_sum(rng, i, arrays):
    return Step(str(rng.choice(["sum", "mean"])), (i,))


def _reshape(rng, i, arrays):
    a = arrays[i]
    if a.ndim == 0:
        return None
    options = [(-1,), a.shape[::-1]]
    if a.ndim >= 2:
        options.append((a.shape[0] * a.shape[1],) + a.shape[2:])
    return Step("reshape", (i,), (tuple(options[rng.integers(len(options))]),))


def _transpose(rng, i, arrays):
    a = arrays[i]
    if a.ndim < 2:
        return None
    d0, d1 = rng.choice(a.ndim, 2, replace=False)
    return Step("transpose", (i,), (int(d0), int(d1)))


def _permute(rng, i, arrays):
    a = arrays[i]
    return None if a.ndim < 2 else Step("permute", (i,), tuple(int(d) for d in rng.permutation(a.ndim)))


def _t(rng, i, arrays):
    return Step("t", (i,)) if arrays[i].ndim == 2 else None


def _unsqueeze(rng, i, arrays):
    a = arrays[i]
    return None if a.ndim >= 4 else Step("unsqueeze", (i,), (int(rng.integers(a.ndim + 1)),))


def _squeeze(rng, i, arrays):
    dims = [d for d in range(arrays[i].ndim) if arrays[i].shape[d] == 1]
    return None if not dims else Step("squeeze", (i,), (int(rng.choice(dims)),))


def _flatten(rng, i, arrays):
    return Step("flatten", (i,)) if arrays[i].ndim >= 2 else None


def _expand(rng, i, arrays):
    a = arrays[i]
    if 1 not in a.shape or a.size * 3 > MAX_SIZE:
        return None
    shape = list(a.shape)
    shape[shape.index(1)] = 3
    return Step("expand", (i,), tuple(shape))


def _slice(rng, i, arrays):
    a = arrays[i]
    d = _dim(rng, a, need_size=2)
    if d is None:
        return None
    if rng.integers(3) == 0:
        index = (slice(None),) * d + (int(rng.integers(a.shape[d])),)
    else:
        index = (slice(None),) * d + (slice(int(rng.integers(a.shape[d] - 1)), None, int(rng.choice([1, 2]))),)
    return Step("__getitem__", (i,), (index,))


def _joined(name):
    def make(rng, i, arrays):
        if arrays[i].ndim == 0 or 2 * arrays[i].size > MAX_SIZE:
            return None
        j = int(rng.choice([j for j in range(len(arrays)) if arrays[j].shape == arrays[i].shape]))
        dim = int(rng.integers(arrays[i].ndim + (name == "stack")))
        return Step(name, (i, j), kwargs={"dim": dim}, listed=True)

    return make


def _method(maker, attr: str) -> tuple:
    return maker, "Tensor", attr


def _function(maker, attr: str) -> tuple:
    return maker, "module", attr


# name -> (maker, where the op lives in both libraries ("Tensor" method or "module" function), its name there)
MAKERS = {
    **{n: _method(_unary(n), n) for n in UNARY},
    **{n: _method(_binary(n), n) for n in BINARY},
    "scalar": _method(_scalar, "mul"),
    "matmul": _method(_matmul, "matmul"),
    "sum": _method(_reduce("sum"), "sum"),
    "mean": _method(_reduce("mean"), "mean"),
    "full": _method(_full_sum, "sum"),
    "var": _method(_reduce("var", need_size=2), "var"),
    "logsumexp": _method(_reduce("logsumexp"), "logsumexp"),
    "softmax": _method(_reduce("softmax", keepdim=False), "softmax"),
    "log_softmax": _method(_reduce("log_softmax", keepdim=False), "log_softmax"),
    "cumsum": _method(_reduce("cumsum", keepdim=False), "cumsum"),
    "reshape": _method(_reshape, "reshape"),
    "transpose": _method(_transpose, "transpose"),
    "permute": _method(_permute, "permute"),
    "t": _method(_t, "t"),
    "unsqueeze": _method(_unsqueeze, "unsqueeze"),
    "squeeze": _method(_squeeze, "squeeze"),
    "flatten": _method(_flatten, "flatten"),
    "expand": _method(_expand, "expand"),
    "slice": _method(_slice, "__getitem__"),
    "cat": _function(_joined("cat"), "cat"),
    "stack": _function(_joined("stack"), "stack"),
}


def _has(lib, where: str, attr: str) -> bool:
    return hasattr(lib.Tensor if where == "Tensor" else lib, attr)


def _available() -> list[str]:
    """The makers whose dagrad op exists (ops land module by module)."""
    return [name for name, (_, where, attr) in MAKERS.items() if _has(dg, where, attr)]


LEAF_SHAPES = [(3, 4), (4,), (3, 1), (2, 3, 4), (1, 4), (), (4, 3), (2, 1, 4)]


def build(seed: int) -> tuple[list[numpy.ndarray], list[Step]]:
    """Draw leaves and a program of 10-25 steps, checking each step's result in dagrad as it goes."""
    rng = numpy.random.default_rng(seed)
    leaves = []
    for k in range(int(rng.integers(2, 5))):
        shape = LEAF_SHAPES[rng.integers(len(LEAF_SHAPES))]
        leaves.append(rng.uniform(0.5, 2.0, shape) if k % 2 else rng.standard_normal(shape))
    vals = [dg.tensor(a, requires_grad=True) for a in leaves]
    names = _available()
    steps: list[Step] = []
    target = int(rng.integers(10, 26))
    while len(steps) < target:
        arrays = [v.data for v in vals]
        i = len(vals) - 1 if rng.random() < 0.4 else int(rng.integers(len(vals)))
        step = MAKERS[names[rng.integers(len(names))]][0](rng, i, arrays)
        if step is None:
            continue
        try:
            out = run(dg, step, vals)
        except Exception as e:
            raise AssertionError(f"dagrad fails on v{len(vals)} = {step} in\n{_listing(leaves, steps)}") from e
        a = out.data
        if a.size == 0 or a.size > MAX_SIZE or not numpy.isfinite(a).all() or numpy.abs(a).max() > MAX_ABS:
            continue
        steps.append(step)
        vals.append(out)
    return leaves, steps


def _listing(leaves, steps) -> str:
    lines = [f"v{k} = leaf{leaves[k].shape}" for k in range(len(leaves))]
    lines += [f"v{len(leaves) + k} = {s}" for k, s in enumerate(steps)]
    return "\n".join(lines)


def replay(lib: Any, make_leaf, leaves, steps) -> tuple[list, list]:
    vals = [make_leaf(a) for a in leaves]
    for step in steps:
        vals.append(run(lib, step, vals))
    return vals[: len(leaves)], vals


def test_every_maker_names_a_torch_op():
    missing = [name for name, (_, where, attr) in MAKERS.items() if not _has(torch, where, attr)]
    assert not missing, f"random-graph ops that PyTorch lacks: {missing}"


@pytest.mark.parametrize("seed", range(GRAPHS))
def test_random_graph(seed):
    leaves, steps = build(seed)
    listing = _listing(leaves, steps)
    ours_leaves, ours = replay(dg, lambda a: dg.tensor(a, requires_grad=True), leaves, steps)
    theirs_leaves, theirs = replay(torch, lambda a: torch.tensor(a, requires_grad=True), leaves, steps)
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert o.shape == tuple(t.shape), f"v{k}: dagrad shape {o.shape}, torch {tuple(t.shape)}\n{listing}"
        numpy.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-6, atol=1e-6, err_msg=f"v{k}\n{listing}")

    used = {r for s in steps for r in s.refs}
    sinks = [k for k in range(len(leaves), len(ours)) if k not in used]
    rng = numpy.random.default_rng(seed)
    weights = [rng.standard_normal(ours[k].shape) for k in sinks]
    ours_g = dg.autograd.grad([ours[k] for k in sinks], ours_leaves, [dg.tensor(w) for w in weights], allow_unused=True)
    theirs_g = torch.autograd.grad(
        [theirs[k] for k in sinks], theirs_leaves, [torch.from_numpy(w) for w in weights], allow_unused=True
    )
    for k, (g, tg) in enumerate(zip(ours_g, theirs_g)):
        g = numpy.zeros(leaves[k].shape) if g is None else g.data
        tg = numpy.zeros(leaves[k].shape) if tg is None else tg.numpy()
        numpy.testing.assert_allclose(g, tg, rtol=1e-6, atol=1e-6, err_msg=f"gradient of leaf v{k}\n{listing}")
