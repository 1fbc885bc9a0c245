"""vmap: every op with a batching rule against a Python loop over its own samples, in_dims/out_dims, nesting,
gradients through vmap (per-sample gradients), and the errors."""

from __future__ import annotations

import numpy
import pytest

import dagrad as dg
from dagrad.autograd import REGISTRY
from dagrad.func import VmapError, grad, hessian, jacfwd, jacrev, jvp, vjp, vmap
from dagrad.func.vmap import RULES
from tests.op_cases import runner

torch = pytest.importorskip("torch")
F = torch.nn.functional
B = 3
SCALES = (1.0, 0.9, 1.15)  # keep samples' domains (positive, away from kinks, distinct values)


def _t(a) -> dg.Tensor:
    return dg.tensor(numpy.asarray(a, dtype=numpy.float64))


def _close(ours, theirs, tol: float = 1e-9) -> None:
    a = numpy.asarray(ours.detach().data if isinstance(ours, dg.Tensor) else ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else numpy.asarray(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _flat(out) -> list:
    return [v for o in out for v in _flat(o)] if isinstance(out, (tuple, list)) else [out]


# ---- every rule against a loop -----------------------------------------------------------------------------------
def _rule_cases():
    out = []
    for name in sorted(RULES):
        if name not in REGISTRY:
            continue
        for k, s in enumerate(REGISTRY[name].samples()):
            floats = [
                i for i, a in enumerate(s.inputs) if getattr(a, "dtype", None) is not None and a.dtype.kind == "f"
            ]
            if floats:
                out.append(pytest.param(REGISTRY[name], s, floats, id=f"{name}-{k}{'-' + s.name if s.name else ''}"))
    return out


def _batched_inputs(sample, floats, mapped, dim):
    """Per-example input lists and the stacked (mapped along `dim`) inputs for vmap."""
    examples = []
    for b in range(B):
        ins = []
        for i, a in enumerate(sample.inputs):
            if i in floats:
                ins.append(_t(a * (SCALES[b] if i in mapped else 1.0)))
            else:
                ins.append(dg.tensor(a) if hasattr(a, "dtype") else a)
        examples.append(ins)
    stacked = []
    for i in range(len(sample.inputs)):
        if i in mapped:
            stacked.append(_t(numpy.stack([ex[i].data for ex in examples], axis=dim % (examples[0][i].ndim + 1))))
        else:
            stacked.append(examples[0][i])
    return examples, stacked


@pytest.mark.parametrize("op,sample,floats", _rule_cases())
@pytest.mark.parametrize("mode", ["all", "first", "last-dim"])
def test_rule_matches_loop(op, sample, floats, mode):
    mapped = floats[:1] if mode == "first" else floats
    dim = -1 if mode == "last-dim" else 0
    if mode == "last-dim" and any(numpy.ndim(sample.inputs[i]) == 0 for i in mapped):
        dim = 0
    examples, stacked = _batched_inputs(sample, floats, mapped, dim)
    fn = runner(op, sample)
    in_dims = tuple(dim if i in mapped else None for i in range(len(stacked)))
    got = _flat(vmap(fn, in_dims=in_dims)(*stacked))
    want = [_flat(fn(*ex)) for ex in examples]
    for j, g in enumerate(got):
        ref = numpy.stack([numpy.asarray(w[j].data) for w in want])
        _close(g, ref)


@pytest.mark.parametrize("op,sample,floats", [c for c in _rule_cases() if c.values[0].differentiable])
def test_rule_gradient_matches_loop(op, sample, floats):
    """Backward through the batched op equals the per-example gradients (weights make every output count)."""
    examples, stacked = _batched_inputs(sample, floats, floats, 0)
    fn = runner(op, sample)
    xs = [stacked[i].requires_grad_() for i in floats]
    out = _flat(vmap(fn, in_dims=tuple(0 if i in floats else None for i in range(len(stacked))))(*stacked))[0]
    w = _t(numpy.linspace(0.5, 1.5, max(out.numel(), 1)).reshape(out.shape))
    gs = dg.autograd.grad((out * w).sum(), xs, allow_unused=True)
    for b, ex in enumerate(examples):
        ys = [ex[i].requires_grad_() for i in floats]
        o = _flat(fn(*ex))[0]
        want = dg.autograd.grad((o * w[b]).sum(), ys, allow_unused=True)
        for g, wg in zip(gs, want):
            if wg is not None:
                _close(g[b], wg)


# ---- in_dims, out_dims, nesting ----------------------------------------------------------------------------------
def test_in_dims_none_int_and_tuple():
    x, y = numpy.random.default_rng(0).standard_normal((2, 4, 3))
    f = lambda M, a, b: (a * b).exp() - b  # noqa: E731
    for dims in [0, 1, (0, None), (None, 1), (1, 0), (-1, -2)]:
        a, b = (x, y.T) if dims in [(1, 0), (-1, -2)] else (x, y)
        if dims == (None, 1):
            b = y.T
        tx, ty = torch.tensor(a), torch.tensor(b)
        want = torch.func.vmap(lambda p, q: f(torch, p, q), in_dims=dims)(tx, ty)
        got = vmap(lambda p, q: f(dg, p, q), in_dims=dims)(_t(a), _t(b))
        _close(got, want)


def test_out_dims_and_tuple_outputs():
    x = numpy.random.default_rng(1).standard_normal((4, 2, 3))
    f = lambda a: (a.exp(), a.transpose(0, 1) * 2)  # noqa: E731
    for od in [0, 1, -1, (2, 0)]:
        got = vmap(f, out_dims=od)(_t(x))
        want = torch.func.vmap(f, out_dims=od)(torch.tensor(x))
        for g, w in zip(got, want):
            _close(g, w)


def test_unbatched_output_is_broadcast():
    x, c = _t(numpy.ones((4, 2))), _t(numpy.arange(3.0))
    out = vmap(lambda a, b: b * 2, in_dims=(0, None))(x, c)
    _close(out, numpy.tile(numpy.arange(3.0) * 2, (4, 1)))


def test_pytree_inputs_and_kwargs():
    rng = numpy.random.default_rng(2)
    p = {"w": _t(rng.standard_normal((5, 3))), "b": _t(rng.standard_normal(3))}
    out = vmap(lambda d, scale=1.0: (d["w"] + d["b"]) * scale, in_dims=({"w": 0, "b": None},))(p, scale=2.0)
    _close(out, (p["w"].data + p["b"].data) * 2)


def test_nested_vmap_outer_product():
    x, y = _t(numpy.arange(3.0)), _t(numpy.arange(4.0) + 1)
    out = vmap(vmap(lambda a, b: a * b + a, in_dims=(None, 0)), in_dims=(0, None))(x, y)
    _close(out, numpy.outer(x.data, y.data) + x.data[:, None])
    out = vmap(vmap(lambda a: a.exp(), in_dims=1), in_dims=1)(_t(numpy.ones((2, 3, 4))))
    assert out.shape == (3, 4, 2)


def test_chunk_size_gives_the_same_result():
    x = _t(numpy.random.default_rng(3).standard_normal((7, 3)))
    f = lambda a: (a * a).exp()  # noqa: E731
    _close(vmap(f, chunk_size=3)(x), vmap(f)(x))


# ---- gradients through vmap --------------------------------------------------------------------------------------
def test_grad_of_vmapped_function():
    rng = numpy.random.default_rng(4)
    w, xs = rng.standard_normal(3), rng.standard_normal((5, 3))
    f = lambda w, x: (x * w * w).exp().sum()  # noqa: E731
    got = grad(lambda w: vmap(f, in_dims=(None, 0))(w, _t(xs)).sum())(_t(w))
    want = torch.func.grad(lambda w: torch.func.vmap(f, in_dims=(None, 0))(w, torch.tensor(xs)).sum())(torch.tensor(w))
    _close(got, want)


def test_backward_through_vmap_reaches_leaves():
    x = _t(numpy.random.default_rng(5).standard_normal((4, 3))).requires_grad_()
    vmap(lambda a: (a * a).exp(), in_dims=1)(x).sum().backward()
    _close(x.grad, 2 * x.data * numpy.exp(x.data**2))


def test_per_sample_gradients_of_unbatched_weights():
    rng = numpy.random.default_rng(6)
    w, xs, ys = rng.standard_normal(3), rng.standard_normal((6, 3)), rng.standard_normal(6)

    def loss(M, w, x, y):
        return ((x * w).sum() - y) ** 2 + (w * w).sum() * 0.1

    got = vmap(grad(lambda *a: loss(dg, *a)), in_dims=(None, 0, 0))(_t(w), _t(xs), _t(ys))
    want = torch.func.vmap(torch.func.grad(lambda *a: loss(torch, *a)), in_dims=(None, 0, 0))(
        torch.tensor(w), torch.tensor(xs), torch.tensor(ys)
    )
    _close(got, want)


def test_per_sample_gradients_of_an_mlp_match_torch():
    rng = numpy.random.default_rng(10)
    arrays = [rng.standard_normal(s) * 0.7 for s in ((3, 4), (4,), (4, 2), (2,), (6, 3), (6, 2))]
    ours, theirs = [_t(a) for a in arrays], [torch.tensor(a) for a in arrays]

    def loss(M, params, x, y):
        W1, b1, W2, b2 = params
        out = M.tanh(x @ W1 + b1) @ W2 + b2
        return M.log_softmax(out, dim=-1).sum() + ((out - y) ** 2).mean()

    got = vmap(grad(lambda *a: loss(dg, *a)), in_dims=(None, 0, 0))(tuple(ours[:4]), *ours[4:])
    want = torch.func.vmap(torch.func.grad(lambda *a: loss(torch, *a)), in_dims=(None, 0, 0))(
        tuple(theirs[:4]), *theirs[4:]
    )
    for g, w in zip(got, want):
        _close(g, w)


def test_per_sample_gradients_of_a_cnn_match_torch():
    from dagrad.ops import conv, pool

    rng = numpy.random.default_rng(13)
    arrays = [rng.standard_normal(s) * 0.5 for s in ((3, 2, 3, 3), (3,), (12, 2), (4, 2, 4, 4), (4, 2))]
    ours, theirs = [_t(a) for a in arrays], [torch.tensor(a) for a in arrays]
    ops = {dg: (conv.conv2d, pool.max_pool2d, pool.avg_pool2d), torch: (F.conv2d, F.max_pool2d, F.avg_pool2d)}

    def loss(M, params, x, y):
        conv2d, max_pool2d, avg_pool2d = ops[M]
        w, b, W2 = params
        h = max_pool2d(M.tanh(conv2d(x.unsqueeze(0), w, b, padding=1)), 2)
        h = avg_pool2d(conv2d(h, w[:, :1].reshape(3, 1, 3, 3).expand(3, 3, 3, 3), None, padding=1), 1)
        return ((h.reshape(-1) @ W2 - y) ** 2).sum()

    got = vmap(grad(lambda *a: loss(dg, *a)), in_dims=(None, 0, 0))(tuple(ours[:3]), *ours[3:])
    want = torch.func.vmap(torch.func.grad(lambda *a: loss(torch, *a)), in_dims=(None, 0, 0))(
        tuple(theirs[:3]), *theirs[3:]
    )
    for g, w in zip(got, want):
        _close(g, w)


@pytest.mark.parametrize(
    "xs,ys,dims",
    [((4,), (4,), (0, 0)), ((4,), (4, 2), (0, None)), ((3, 4), (4,), (None, 0)), ((3, 4), (4, 2), (0, 0)),
     ((2, 3, 4), (4, 2), (0, None)), ((3, 4), (2, 4, 5), (None, 1)), ((1, 3, 4), (2, 4, 2), (0, 0))],
)  # fmt: skip
def test_matmul_cases_match_torch(xs, ys, dims):
    rng = numpy.random.default_rng(11)
    shape = lambda s, d: s if d is None else s[:d] + (5,) + s[d:]  # noqa: E731
    x, y = rng.standard_normal(shape(xs, dims[0])), rng.standard_normal(shape(ys, dims[1]))
    got = vmap(lambda a, b: a @ b, in_dims=dims)(_t(x), _t(y))
    _close(got, torch.func.vmap(lambda a, b: a @ b, in_dims=dims)(torch.tensor(x), torch.tensor(y)))


def test_reductions_and_softmax_match_torch():
    x = numpy.random.default_rng(12).standard_normal((4, 3, 5))

    def f(M, a):
        return (
            a.sum(1), a.mean(), a.var(0, keepdim=True), a.std(-1), a.prod(1), a.amax(0), a.amin((0, 1)),
            M.logsumexp(a, 1), a.norm(dim=0), M.softmax(a, -1), M.log_softmax(a, 0), a.max(), a.min(),
        )  # fmt: skip

    for dim in (0, 1, 2):
        got = vmap(lambda a: f(dg, a), in_dims=dim)(_t(x))
        want = torch.func.vmap(lambda a: f(torch, a), in_dims=dim)(torch.tensor(x))
        for g, w in zip(got, want):
            _close(g, w)


def test_per_sample_gradients_through_a_closure():
    rng = numpy.random.default_rng(7)
    w, xs = _t(rng.standard_normal(3)), _t(rng.standard_normal((4, 3)))
    got = vmap(lambda x: grad(lambda w: (x * w).exp().sum())(w))(xs)
    _close(got, xs.data * numpy.exp(xs.data * w.data))


def test_jvp_and_vjp_inside_vmap():
    rng = numpy.random.default_rng(8)
    xs, ts = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    f = lambda a: (a * a).sin()  # noqa: E731
    out, tan = vmap(lambda x, t: jvp(f, (x,), (t,)))(_t(xs), _t(ts))
    _close(tan, 2 * xs * numpy.cos(xs * xs) * ts)
    _close(out, numpy.sin(xs * xs))
    got = vmap(lambda x, c: vjp(f, x)[1](c)[0])(_t(xs), _t(ts))
    _close(got, 2 * xs * numpy.cos(xs * xs) * ts)
    got = vmap(lambda t: jvp(f, (_t(xs[0]),), (t,))[1])(_t(ts))
    _close(got, 2 * xs[0] * numpy.cos(xs[0] ** 2) * ts)


def test_jacobians_and_hessian_inside_vmap():
    rng = numpy.random.default_rng(9)
    xs, w = rng.standard_normal((4, 3)), _t(rng.standard_normal(3))
    f = lambda x: (x * x * w).exp()  # noqa: E731
    want = numpy.stack([numpy.diag(2 * x * w.data * numpy.exp(x * x * w.data)) for x in xs])
    _close(vmap(jacrev(f))(_t(xs)), want)
    _close(vmap(jacfwd(f))(_t(xs)), want)
    h = vmap(hessian(lambda x: (x * x * x * w).sum()))(_t(xs))
    _close(h, numpy.stack([numpy.diag(6 * x * w.data) for x in xs]))


# ---- errors ------------------------------------------------------------------------------------------------------
def test_op_without_rule_names_the_op():
    class Mystery(dg.autograd.Function):
        def forward(self, x):
            return x

    with pytest.raises(VmapError, match="vmap: no batching rule for Mystery"):
        vmap(lambda a: Mystery.apply(a))(_t(numpy.ones((2, 3))))


def test_batch_size_mismatch_and_bad_in_dims():
    x, y = _t(numpy.ones((2, 3))), _t(numpy.ones((4, 3)))
    with pytest.raises(VmapError, match="same size"):
        vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(VmapError, match="at least one input must be mapped"):
        vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(VmapError, match="out of range"):
        vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(VmapError, match="in_dims"):
        vmap(lambda a, b: a, in_dims=(0, 0, 0))(x, x)
    with pytest.raises(VmapError, match="randomness"):
        vmap(lambda a: a, randomness="maybe")


def test_data_dependent_calls_raise():
    x = _t(numpy.ones((2, 3)))
    with pytest.raises(VmapError, match="item"):
        vmap(lambda a: a.sum().item())(x)
    with pytest.raises(VmapError, match="bool"):
        vmap(lambda a: a if a.sum() else a)(x)


def test_escaped_batched_tensor_raises():
    leaked = []
    vmap(lambda a: leaked.append(a) or a)(_t(numpy.ones((2, 3))))
    with pytest.raises(VmapError, match="already returned"):
        vmap(lambda a: a + leaked[0])(_t(numpy.ones((2, 3))))


def test_nested_forward_mode_raises():
    x = _t(numpy.ones(3))
    with pytest.raises(dg.GradientError, match="nested forward-mode"):
        jvp(lambda a: jvp(lambda b: b * b, (a,), (a,))[1], (x,), (x,))


def test_randomness():
    x = _t(numpy.ones((3, 2)))
    noisy = lambda a: a + dg.randn(2, dtype=dg.float64)  # noqa: E731
    with pytest.raises(VmapError, match="random"):
        vmap(noisy)(x)
    with pytest.raises(VmapError, match="random"):
        vmap(noisy, randomness="different")(x)
    out = vmap(noisy, randomness="same")(x)
    _close(out[0], out[1])


def test_in_place_ops_without_autograd():
    x, y = _t(numpy.arange(12.0).reshape(3, 4)), _t(numpy.arange(4.0))
    _close(vmap(lambda a: a.clone().mul_(2))(x), x.data * 2)
    _close(vmap(lambda a, b: a.clone().mul_(b), in_dims=(0, None))(x, y), x.data * y.data)
    with pytest.raises(VmapError, match="in-place multiply would write values batched by vmap"):
        vmap(lambda a: y.clone().mul_(a))(x)
