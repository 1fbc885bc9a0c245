"""grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, hvp against torch.func on a small MLP and simple
functions: values, argnums, has_aux, pytrees, nesting, composition with .backward(), and the errors."""

from __future__ import annotations

import numpy
import pytest

import dagrad as dg
from dagrad.func import grad, grad_and_value, hessian, hvp, jacfwd, jacrev, jvp, vjp

torch = pytest.importorskip("torch")
tfunc = torch.func
F = torch.nn.functional


def _close(ours, theirs, tol: float = 1e-9) -> None:
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _close(o, t, tol)
        return
    a = numpy.asarray(ours.detach().data)
    b = theirs.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _pair(*shapes, seed: int = 0):
    """The same float64 values as dagrad tensors and as torch tensors."""
    rng = numpy.random.default_rng(seed)
    arrays = [numpy.asarray(rng.standard_normal(s) * 0.7) for s in shapes]
    return [dg.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


def mlp_out(W1, b1, W2, b2, x):
    return (x @ W1 + b1).tanh() @ W2 + b2


def mlp_loss(W1, b1, W2, b2, x, y):
    return ((mlp_out(W1, b1, W2, b2, x) - y) ** 2).mean()


MLP_SHAPES = ((3, 4), (4,), (4, 2), (2,), (5, 3), (5, 2))


# ---- grad --------------------------------------------------------------------------------------------------------
def test_grad_of_mlp_loss_matches_torch():
    ours, theirs = _pair(*MLP_SHAPES)
    got = grad(mlp_loss, argnums=(0, 1, 2, 3))(*ours)
    want = tfunc.grad(mlp_loss, argnums=(0, 1, 2, 3))(*theirs)
    assert isinstance(got, tuple) and len(got) == 4
    _close(got, want)
    _close(grad(mlp_loss, argnums=2)(*ours), tfunc.grad(mlp_loss, argnums=2)(*theirs))


def test_grad_leaves_the_inputs_untouched():
    (x,), _ = _pair((3,))
    g = grad(lambda a: (a * a).sum())(x)
    assert not x.requires_grad and x.grad is None and x.grad_fn is None
    assert not g.requires_grad
    numpy.testing.assert_allclose(g.data, 2 * x.data)


def test_grad_ignores_an_outer_no_grad():
    (x,), _ = _pair((3,))
    with dg.no_grad():
        g = grad(lambda a: (a * a * a).sum())(x)
    numpy.testing.assert_allclose(g.data, 3 * x.data**2)


def test_grad_has_aux_and_grad_and_value():
    ours, theirs = _pair((4,))

    def f(a):
        return (a.exp() * a).sum(), {"double": a * 2}

    g, aux = grad(f, has_aux=True)(*ours)
    tg, taux = tfunc.grad(f, has_aux=True)(*theirs)
    _close(g, tg)
    _close(aux["double"], taux["double"])
    g, (value, aux) = grad_and_value(f, has_aux=True)(*ours)
    tg, (tvalue, _) = tfunc.grad_and_value(f, has_aux=True)(*theirs)
    _close(g, tg)
    _close(value, tvalue)
    g, value = grad_and_value(lambda a: (a * a).sum())(*ours)
    _close(value, (theirs[0] ** 2).sum())


def test_grad_of_a_dict_of_parameters():
    ours, theirs = _pair(*MLP_SHAPES)
    names = ("W1", "b1", "W2", "b2")

    def loss(params, x, y):
        return mlp_loss(*(params[n] for n in names), x, y)

    got = grad(loss)(dict(zip(names, ours)), *ours[4:])
    want = tfunc.grad(loss)(dict(zip(names, theirs)), *theirs[4:])
    assert set(got) == set(names)
    for n in names:
        _close(got[n], want[n])


def test_nested_grad_gives_higher_derivatives():
    ours, theirs = _pair((), seed=3)
    f = lambda a: a * a * a * a + a.sin()  # noqa: E731
    _close(grad(grad(f))(*ours), tfunc.grad(tfunc.grad(f))(*theirs))
    _close(grad(grad(grad(f)))(*ours), tfunc.grad(tfunc.grad(tfunc.grad(f)))(*theirs))


def test_grad_through_a_closure_over_an_outer_grad_argument():
    ours, theirs = _pair((3,), (3,), seed=4)

    def outer(M, x, y):
        inner = lambda yy: (x * yy * yy).sin().sum()  # noqa: E731
        return M(inner)(y).sum()

    got = grad(lambda x, y: outer(grad, x, y))(*ours)
    want = tfunc.grad(lambda x, y: outer(tfunc.grad, x, y))(*theirs)
    _close(got, want)


def test_grad_result_composes_with_backward():
    (x,), (tx,) = _pair((3,), seed=5)
    x.requires_grad_()
    tx.requires_grad_()
    f = lambda a: (a * a * a).sum()  # noqa: E731
    grad(f)(x).sum().backward()
    tfunc.grad(f)(tx).sum().backward()
    _close(x.grad, tx.grad)


def test_grad_errors():
    (x,), _ = _pair((3,))
    with pytest.raises(dg.ShapeError, match="grad: expected the function to return a tensor with one element"):
        grad(lambda a: a * 2)(x)
    with pytest.raises(dg.GradientError, match="argnums"):
        grad(lambda a: a.sum(), argnums=1)(x)
    with pytest.raises(dg.DtypeError, match="floating point"):
        grad(lambda a: a.sum())(dg.tensor([1, 2]))
    with pytest.raises(dg.GradientError, match="has_aux"):
        grad(lambda a: a.sum(), has_aux=True)(x)


def test_grad_of_an_unused_argument_is_zero():
    ours, _ = _pair((3,), (2,))
    g = grad(lambda a, b: (a * a).sum(), argnums=1)(*ours)
    numpy.testing.assert_array_equal(g.data, numpy.zeros(2))


# ---- vjp and jvp -------------------------------------------------------------------------------------------------
def test_vjp_matches_torch_and_can_be_called_twice():
    ours, theirs = _pair((3, 4), (4,), seed=6)
    f = lambda a, b: ((a * b).sin(), (a + b).exp().sum())  # noqa: E731
    out, fn = vjp(f, *ours)
    tout, tfn = tfunc.vjp(f, *theirs)
    _close(out, tout)
    cts, tcts = _pair((3, 4), (), seed=7)
    for _ in range(2):
        got = fn(tuple(cts))
        assert isinstance(got, tuple) and len(got) == 2
        _close(got, tfn(tuple(tcts)))


def test_vjp_has_aux():
    ours, theirs = _pair((3,), seed=8)
    f = lambda a: (a.exp(), a * 3)  # noqa: E731
    out, fn, aux = vjp(f, *ours, has_aux=True)
    tout, tfn, taux = tfunc.vjp(f, *theirs, has_aux=True)
    _close(aux, taux)
    _close(fn(dg.ones(3, dtype=dg.float64)), tfn(torch.ones(3, dtype=torch.float64)))


def test_vjp_cotangent_shape_error():
    ours, _ = _pair((3,))
    _, fn = vjp(lambda a: a * 2, *ours)
    with pytest.raises(dg.ShapeError, match="vjp_fn: expected cotangent 0 of shape"):
        fn(dg.ones(4, dtype=dg.float64))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_jvp_matches_torch():
    ours, theirs = _pair(*MLP_SHAPES, seed=9)
    tans, ttans = _pair(*MLP_SHAPES[:4], seed=10)
    f = lambda *p: mlp_out(*p, ours[4]) if isinstance(p[0], dg.Tensor) else mlp_out(*p, theirs[4])  # noqa: E731
    out, jv = jvp(f, tuple(ours[:4]), tuple(tans))
    tout, tjv = tfunc.jvp(f, tuple(theirs[:4]), tuple(ttans))
    _close(out, tout)
    _close(jv, tjv)
    assert out._tangent is None


def test_jvp_of_a_constant_output_is_zero_and_has_aux():
    ours, _ = _pair((3,))
    out, jv, aux = jvp(lambda a: (dg.ones(2, dtype=dg.float64), a * 2), (ours[0],), (ours[0],), has_aux=True)
    numpy.testing.assert_array_equal(jv.data, numpy.zeros(2))
    numpy.testing.assert_allclose(aux.data, 2 * ours[0].data)


def test_jvp_errors():
    (x,), _ = _pair((3,))
    with pytest.raises(dg.GradientError, match="tuple"):
        jvp(lambda a: a, x, x)
    with pytest.raises(dg.ShapeError, match="jvp: expected tangent 0 of shape"):
        jvp(lambda a: a, (x,), (dg.ones(4, dtype=dg.float64),))
    with pytest.raises(dg.GradientError, match="nested forward-mode"):
        jvp(lambda a: jvp(lambda b: b, (a,), (a,))[1], (x,), (x,))


# ---- Jacobians and Hessians --------------------------------------------------------------------------------------
def test_jacrev_equals_jacfwd_equals_torch_on_an_mlp():
    ours, theirs = _pair(*MLP_SHAPES, seed=11)
    want = tfunc.jacrev(mlp_out, argnums=(0, 1))(*theirs[:5])
    for jac in (jacrev, jacfwd):
        got = jac(mlp_out, argnums=(0, 1))(*ours[:5])
        assert got[0].shape == (5, 2, 3, 4)
        _close(got, want)
    _close(jacrev(mlp_out, argnums=4, chunk_size=1)(*ours[:5]), tfunc.jacrev(mlp_out, argnums=4)(*theirs[:5]))


def test_jacobians_of_tuple_outputs_and_has_aux():
    ours, theirs = _pair((3,), (2, 3), seed=12)
    f = lambda a, m: ((m @ a).tanh(), (a * a).sum())  # noqa: E731
    want = tfunc.jacrev(f, argnums=(0, 1))(*theirs)
    _close(jacrev(f, argnums=(0, 1))(*ours), want)
    _close(jacfwd(f, argnums=(0, 1))(*ours), want)
    g = lambda a: (a.exp(), a.sum())  # noqa: E731
    jac, aux = jacrev(g, has_aux=True)(ours[0])
    tjac, taux = tfunc.jacrev(g, has_aux=True)(theirs[0])
    _close((jac, aux), (tjac, taux))
    jac, aux = jacfwd(g, has_aux=True)(ours[0])
    _close((jac, aux), (tjac, taux))


def test_jacobians_fall_back_to_a_loop_for_ops_without_batching_rules():
    from dagrad.ops import pool

    ours, theirs = _pair((1, 4, 4), seed=16)
    f = lambda x: pool.max_pool2d(x * x, 2).exp() if isinstance(x, dg.Tensor) else F.max_pool2d(x * x, 2).exp()  # noqa: E731
    want = tfunc.jacrev(f)(*theirs)
    _close(jacrev(f)(*ours), want)
    _close(jacfwd(f)(*ours), want)


def test_hessian_of_mlp_loss_matches_torch():
    ours, theirs = _pair(*MLP_SHAPES, seed=13)
    f = lambda W1, b1: mlp_loss(W1, b1, *ours[2:])  # noqa: E731
    tf = lambda W1, b1: mlp_loss(W1, b1, *theirs[2:])  # noqa: E731
    got = hessian(f, argnums=(0, 1))(*ours[:2])
    want = torch.autograd.functional.hessian(tf, tuple(theirs[:2]))
    assert got[0][0].shape == (3, 4, 3, 4) and got[0][1].shape == (3, 4, 4)
    _close(got, want)
    _close(jacrev(jacrev(f))(*ours[:2]), want[0][0])


def test_hvp_matches_torch():
    ours, theirs = _pair(*MLP_SHAPES, seed=14)
    vs, tvs = _pair(*MLP_SHAPES[:4], seed=15)
    f = lambda *p: mlp_loss(*p, *ours[4:])  # noqa: E731
    tf = lambda *p: mlp_loss(*p, *theirs[4:])  # noqa: E731
    value, h = hvp(f, tuple(ours[:4]), tuple(vs))
    tvalue, th = torch.autograd.functional.hvp(tf, tuple(theirs[:4]), tuple(tvs))
    _close(value, tvalue)
    _close(h, th)
