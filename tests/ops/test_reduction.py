"""Reductions and softmax against PyTorch: values and gradients for every dim/keepdim form, ties, zeros in prod,
stability at large inputs, dtypes and errors."""

import itertools

import numpy as np
import pytest

import dagrad as dg

torch = pytest.importorskip("torch")


def _check(ours, theirs, x, grad: bool = True, tol: float = 1e-10):
    """ours(dg tensor) and theirs(torch tensor) agree in value and in the gradient of (y * v).sum()."""
    a = np.asarray(x, np.float64)
    xd, xt = dg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = ours(xd), theirs(xt)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=tol, atol=tol)
    if grad:
        v = np.random.default_rng(1).standard_normal(y.shape)
        (g,) = dg.autograd.grad(y, [xd], dg.tensor(v))
        (tg,) = torch.autograd.grad(ty, [xt], torch.tensor(v))
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=tol, atol=tol)


def _m(name, *args, item=None, **kwargs):
    """A function calling tensor method `name` with these arguments (on a dagrad or a torch tensor)."""

    def call(t):
        out = getattr(t, name)(*args, **kwargs)
        return out if item is None else out[item]

    return call


X = np.random.default_rng(0).standard_normal((2, 3, 4))
DIMS = [None, 0, 1, 2, -1, (0, 2), (1, -1), (0, 1, 2), [2, 0]]


@pytest.mark.parametrize("dim,keepdim", itertools.product(DIMS, [False, True]))
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp", "norm"])
def test_dim_forms(name, dim, keepdim):
    if dim is None and name in ("logsumexp",):
        pytest.skip("logsumexp needs a dim")
    if dim is None and name in ("amax", "amin"):
        dim = ()
    if name == "norm":
        vector_norm = torch.linalg.vector_norm  # torch.norm takes a 3-tuple dim for matrix norms only
        _check(lambda x: x.norm(dim=dim, keepdim=keepdim), lambda x: vector_norm(x, dim=dim, keepdim=keepdim), X)
    elif dim is None:  # torch's sum and mean take keepdim only with a dim
        _check(lambda x: getattr(x, name)(keepdim=keepdim) if keepdim else getattr(x, name)(),
               lambda x: getattr(x, name)((0, 1, 2), keepdim=True) if keepdim else getattr(x, name)(), X)  # fmt: skip
    else:
        _check(lambda x: getattr(x, name)(dim, keepdim=keepdim), lambda x: getattr(x, name)(dim, keepdim=keepdim), X)


@pytest.mark.parametrize("dim,keepdim", itertools.product([None, 0, 1, -1], [False, True]))
@pytest.mark.parametrize("name", ["prod", "argmax", "argmin", "max", "min"])
def test_single_dim_forms(name, dim, keepdim):
    x = np.random.default_rng(2).permutation(24).reshape(2, 3, 4) * 0.1 - 1.0  # no ties, no zeros
    if dim is None:
        if name in ("max", "min", "prod") and keepdim:
            pytest.skip("no keepdim without dim")
        _check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, grad=not name.startswith("arg"))
    elif name in ("max", "min"):
        for k in range(2):
            f = _m(name, dim, keepdim, item=k)
            _check(f, f, x, grad=k == 0)
    else:
        _check(lambda t: getattr(t, name)(dim, keepdim=keepdim), lambda t: getattr(t, name)(dim, keepdim=keepdim), x,
               grad=not name.startswith("arg"))  # fmt: skip


def test_var_std_corrections():
    for kw in [{"correction": 0}, {"correction": 2}, {"unbiased": False}, {"unbiased": True}]:
        for name in ("var", "std"):
            _check(_m(name, 1, **kw), _m(name, 1, **kw), X)
    _check(lambda x: dg.var(x, False), lambda x: torch.var(x, False), X)
    _check(lambda x: dg.std(x, (0, 1), True, True), lambda x: torch.std(x, (0, 1), True, True), X)
    with pytest.raises(dg.DagradError, match="var"):
        dg.var(dg.tensor(X), 0, unbiased=True, correction=0)


def test_sum_mean_dtypes():
    i = dg.tensor([[1, 2], [3, 4]], dtype=dg.int32)
    assert dg.sum(i).dtype == dg.int64 and dg.sum(i).item() == 10
    assert dg.tensor([True, False, True]).sum().item() == 2
    assert dg.tensor(np.array([200, 100], np.uint8)).sum().item() == 300
    assert dg.tensor([1, 2, 3]).prod().dtype == dg.int64
    assert i.mean(dtype=dg.float64).item() == 2.5
    x = dg.randn(3, 4, requires_grad=True)
    y = x.sum(dtype=dg.float64)
    assert y.dtype == dg.float64
    y.backward()
    assert x.grad.dtype == dg.float32
    with pytest.raises(dg.DtypeError, match="mean"):
        i.mean()


def test_max_ties_go_to_first():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]])
    for name in ("max", "min"):
        _check(_m(name, 1, item=0), _m(name, 1, item=0), x)
        _check(_m(name, 1, item=1), _m(name, 1, item=1), x, grad=False)
    xd = dg.tensor(x, requires_grad=True)
    xd.max(1).values.sum().backward()
    np.testing.assert_array_equal(xd.grad.data, [[0, 1, 0, 0], [1, 0, 0, 0]])


def test_amax_and_full_max_split_ties():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]])
    for name in ("amax", "amin"):
        _check(_m(name, 1), _m(name, 1), x)
    _check(lambda t: t.max(), lambda t: t.max(), x)
    _check(lambda t: t.min(), lambda t: t.min(), x)
    xd = dg.tensor(x, requires_grad=True)
    xd.amax(1).sum().backward()
    np.testing.assert_allclose(xd.grad.data, [[0, 0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3, 0]])


def test_max_returns_named_tuple():
    x = dg.tensor([[1.0, 4.0], [3.0, 2.0]])
    r = x.max(dim=1)
    values, indices = r
    assert isinstance(r, tuple) and r.values is values and r.indices is indices
    assert indices.dtype == dg.int64 and indices.tolist() == [1, 0] and not indices.requires_grad
    assert dg.max(x, 0, keepdim=True).values.shape == (1, 2)
    assert dg.min(x, 0).indices.tolist() == [0, 1]


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_with_zeros(dim):
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 0.5], [0.0, 7.0, -1.0]])
    for d in [dim] if dim is None else [dim, dim - 2]:
        f = _m("prod") if d is None else _m("prod", d)
        _check(f, f, x)
    f = _m("prod") if dim is None else _m("prod", dim, keepdim=True)
    _check(f, f, x[:1])  # one zero in the whole tensor


def test_prod_second_order_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 1.5], [0.0, 0.0, 4.0, 2.0], [0.5, -2.0, 1.0, 3.0]])
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = dg.autograd.grad(xd.prod(1).sum(), [xd], create_graph=True)
    (tg,) = torch.autograd.grad(xt.prod(1).sum(), [xt], create_graph=True)
    v = np.random.default_rng(3).standard_normal(x.shape)
    (h,) = dg.autograd.grad((g * dg.tensor(v)).sum(), [xd])
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), [xt])
    np.testing.assert_allclose(h.data, th.numpy(), atol=1e-12)


def test_logsumexp_and_softmax_are_stable():
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4 - 1, -1e4 - 2]])
    for f in (lambda t: t.logsumexp(1), lambda t: t.softmax(1), lambda t: t.log_softmax(1),
              lambda t: t.softmax(0), lambda t: t.log_softmax(0)):  # fmt: skip
        _check(f, f, x)
    y = dg.tensor(x.astype(np.float32)).softmax(-1)
    assert np.isfinite(y.data).all() and y.dtype == dg.float32
    assert dg.tensor([-np.inf, -np.inf]).logsumexp(0).item() == float("inf") * -1
    assert dg.tensor([np.inf, 0.0]).logsumexp(0).item() == float("inf")


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmax_dims(dim):
    _check(lambda t: dg.softmax(t, dim), lambda t: torch.softmax(t, dim), X)
    _check(lambda t: dg.log_softmax(t, dim), lambda t: torch.log_softmax(t, dim), X)


def test_softmax_dtype_and_errors():
    i = dg.tensor([[1, 2, 3]])
    assert dg.softmax(i, 1, dtype=dg.float64).dtype == dg.float64
    with pytest.raises(dg.DtypeError, match="softmax"):
        dg.softmax(i, 1)
    with pytest.raises(TypeError):
        dg.softmax(dg.tensor([1.0, 2.0]))
    with pytest.raises(dg.ShapeError, match="log_softmax: dim 2 is out of range for a tensor with 2 dimensions"):
        dg.log_softmax(dg.zeros(2, 3), 2)


@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, 1.5, float("inf"), -float("inf"), 0])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_norm_orders(p, dim):
    x = np.random.default_rng(4).permutation(24).reshape(2, 3, 4) * 0.1 - 1.15  # no zeros, no |x| ties
    _check(lambda t: t.norm(p, dim), lambda t: t.norm(p, dim), x, grad=p != 0)  # torch leaves p=0 unconnected
    if p == 0:
        xd = dg.tensor(x, requires_grad=True)
        xd.norm(p, dim).sum().backward()
        np.testing.assert_array_equal(xd.grad.data, 0)


def test_norm_zero_gradient_is_zero():
    for p in (2, 1, 3):
        xd = dg.zeros(3, 2, dtype=dg.float64, requires_grad=True)
        xd.norm(p, 1).sum().backward()
        np.testing.assert_array_equal(xd.grad.data, 0)
    x = np.array([[0.0, 0.0], [3.0, -4.0]])
    _check(lambda t: t.norm(dim=1), lambda t: t.norm(dim=1), x)
    with pytest.raises(dg.ShapeError, match="norm: expected p"):
        dg.norm(dg.ones(3), "nuc")


def test_cumsum():
    for d in (0, 1, -1):
        _check(_m("cumsum", d), _m("cumsum", d), X)
    assert dg.tensor([True, True]).cumsum(0).tolist() == [1, 2]


def test_zero_dim_tensors():
    a = np.array(1.5)
    for f in (lambda t: t.sum(0), lambda t: t.mean(), lambda t: t.amax(), lambda t: t.max(0)[0], lambda t: t.prod(0),
              lambda t: t.logsumexp(0), lambda t: t.softmax(0), lambda t: t.log_softmax(-1), lambda t: t.norm(),
              lambda t: t.cumsum(0)):  # fmt: skip
        _check(f, f, a)
    assert dg.tensor(1.5).argmax(0).item() == 0


@pytest.mark.parametrize("call", [
    lambda x: x.sum(3), lambda x: x.mean((0, -4)), lambda x: x.var(5), lambda x: x.amax(3), lambda x: x.max(3),
    lambda x: x.argmin(-4), lambda x: x.prod(3), lambda x: x.logsumexp(3), lambda x: x.norm(dim=3),
    lambda x: x.cumsum(3), lambda x: x.softmax(3),
])  # fmt: skip
def test_dim_out_of_range(call):
    with pytest.raises(dg.ShapeError, match=r"dim -?\d is out of range for a tensor with 3 dimensions"):
        call(dg.zeros(2, 3, 4))


def test_bad_dims():
    x = dg.zeros(2, 3)
    with pytest.raises(dg.ShapeError, match="sum: dim .* names the same dimension more than once"):
        x.sum((1, -1))
    with pytest.raises(dg.ShapeError, match="prod: expected dim to be an int"):
        x.prod((0, 1))
    with pytest.raises(dg.ShapeError, match="max: expected a non-empty tensor"):
        dg.zeros(0, 3).max(0)


def test_double_backward_matches_torch():
    for f in (lambda t: t.var(1), lambda t: t.std(0), lambda t: t.logsumexp(1), lambda t: t.norm(dim=1),
              lambda t: t.softmax(1), lambda t: t.log_softmax(0), lambda t: t.norm(3, 1)):  # fmt: skip
        x = X[0]
        xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (g,) = dg.autograd.grad((f(xd) ** 2).sum(), [xd], create_graph=True)
        (tg,) = torch.autograd.grad((f(xt) ** 2).sum(), [xt], create_graph=True)
        (h,) = dg.autograd.grad(g.sum(), [xd])
        (th,) = torch.autograd.grad(tg.sum(), [xt])
        np.testing.assert_allclose(h.data, th.numpy(), atol=1e-10)
