"""Linear, Bilinear, Identity, Flatten, Unflatten against PyTorch: parameters, init, outputs, gradients, errors."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.autograd import gradcheck, gradgradcheck
from dagrad.errors import ArgumentError
from dagrad.nn.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from dagrad.ops.linear import bilinear, linear

torch = pytest.importorskip("torch")
TOL = {np.float64: 1e-6, np.float32: 1e-4}


def _load(m, t):
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


def _close(a, b, tol, what):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())), err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "args,shape", [((5, 3), (4, 5)), ((5, 3, False), (2, 3, 5)), ((4, 2), (4,)), ((7, 6), (2, 2, 2, 7))]
)
def test_linear_matches_torch(args, shape, dtype):
    t = torch.nn.Linear(*args).to(torch.float64 if dtype == np.float64 else torch.float32)
    m = Linear(*args).to(dtype)
    _load(m, t)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xd), t(xt)
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    _close(y.data, ty.detach().numpy(), TOL[dtype], "output")
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    _close(xd.grad.data, xt.grad.numpy(), TOL[dtype], "input grad")
    for name, p in t.named_parameters():
        _close(getattr(m, name).grad.data, p.grad.numpy(), TOL[dtype], name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("bias,lead", [(True, (4,)), (False, (2, 3)), (True, ())])
def test_bilinear_matches_torch(bias, lead, dtype):
    t = torch.nn.Bilinear(3, 4, 5, bias=bias).to(torch.float64 if dtype == np.float64 else torch.float32)
    m = Bilinear(3, 4, 5, bias=bias).to(dtype)
    _load(m, t)
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal(lead + (3,)).astype(dtype), rng.standard_normal(lead + (4,)).astype(dtype)
    a, b = dg.tensor(x1, requires_grad=True), dg.tensor(x2, requires_grad=True)
    ta, tb = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    y, ty = m(a, b), t(ta, tb)
    _close(y.data, ty.detach().numpy(), TOL[dtype], "output")
    y.sum().backward()
    ty.sum().backward()
    _close(a.grad.data, ta.grad.numpy(), TOL[dtype], "input1 grad")
    _close(b.grad.data, tb.grad.numpy(), TOL[dtype], "input2 grad")
    for name, p in t.named_parameters():
        _close(getattr(m, name).grad.data, p.grad.numpy(), TOL[dtype], name)


def test_bilinear_second_derivatives():
    rng = np.random.default_rng(3)
    xs = [dg.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3), (2, 2), (4, 3, 2), (4,))]
    assert gradcheck(bilinear, xs)
    assert gradgradcheck(bilinear, xs)


def test_linear_double_backward_matches_torch():
    """d/dW of |dL/dx|^2: the gradient penalty of a WGAN-GP critic."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    xd, wd, bd = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    (gx,) = dg.autograd.grad(dg.tanh(linear(xd, wd, bd)).sum(), [xd], create_graph=True)
    (tgx,) = torch.autograd.grad(torch.tanh(torch.nn.functional.linear(xt, wt, bt)).sum(), [xt], create_graph=True)
    ours = dg.autograd.grad((gx * gx).sum(), [xd, wd, bd])
    theirs = torch.autograd.grad((tgx * tgx).sum(), [xt, wt, bt])
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.data, t.numpy(), rtol=1e-10, atol=1e-12)


def test_default_init_is_pytorchs():
    """kaiming_uniform_(a=sqrt(5)) weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases, seeded by manual_seed."""
    m = Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (m.weight, m.bias):
        assert p.dtype == dg.float32 and p.requires_grad and np.abs(p.data).max() <= bound
    assert abs(m.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(m.weight.data.mean()) < 0.02 * bound
    bl = Bilinear(16, 8, 3)
    assert np.abs(bl.weight.data).max() <= 1 / 4 and bl.weight.shape == (3, 16, 8)
    dg.manual_seed(7)
    a = Linear(5, 3).weight.data
    dg.manual_seed(7)
    np.testing.assert_array_equal(a, Linear(5, 3).weight.data)


def test_parameters_state_dict_and_repr_match_torch():
    for ours, theirs, args in [
        (Linear, torch.nn.Linear, (3, 4)),
        (Linear, torch.nn.Linear, (3, 4, False)),
        (Bilinear, torch.nn.Bilinear, (2, 3, 4)),
        (Flatten, torch.nn.Flatten, ()),
        (Flatten, torch.nn.Flatten, (0, 2)),
        (Unflatten, torch.nn.Unflatten, (1, (2, 3))),
        (Identity, torch.nn.Identity, (54, "ignored")),
    ]:
        m, t = ours(*args), theirs(*args)
        assert m.extra_repr() == t.extra_repr()
        assert [(n, p.shape) for n, p in m.named_parameters()] == [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert Linear(3, 4, dtype=dg.float64).weight.dtype == dg.float64


def test_shape_layers():
    x = dg.randn(2, 3, 4, 5, requires_grad=True)
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(0, 2)(x).shape == (24, 5)
    assert Unflatten(1, (3, 20))(Flatten()(x)).shape == (2, 3, 20)
    assert Identity()(x) is x
    Unflatten(2, (2, -1))(x).sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: Linear(784, 10)(dg.randn(32, 100)), dg.ShapeError,
         "Linear: expected input with last dimension 784, received shape (32, 100)"),
        (lambda: Linear(0, 10), ArgumentError,
         "Linear: expected in_features to be a positive int, received in_features=0"),
        (lambda: Linear(3, 2.5), ArgumentError, "Linear: expected out_features to be a positive int"),
        (lambda: linear(dg.randn(2, 3), dg.randn(4, 5)), dg.ShapeError,
         "linear: expected input with last dimension 5 (weight of shape (4, 5)), received shape (2, 3)"),
        (lambda: linear(dg.randn(2, 3), dg.randn(4, 3, dtype=dg.float64)), dg.DtypeError,
         "linear: expected weight of dtype float32 like the input, received dtype float64"),
        (lambda: linear(dg.randn(2, 3), dg.randn(4, 3), dg.randn(3)), dg.ShapeError,
         "linear: expected bias of shape (4,), received shape (3,)"),
        (lambda: Bilinear(2, 3, 4)(dg.randn(5, 2), dg.randn(5, 2)), dg.ShapeError,
         "Bilinear: expected inputs with last dimensions 2 and 3, received shapes (5, 2) and (5, 2)"),
        (lambda: bilinear(dg.randn(5, 2), dg.randn(4, 3), dg.randn(4, 2, 3)), dg.ShapeError,
         "bilinear: expected input1 and input2 with the same leading dimensions"),
        (lambda: Unflatten(1, 6), ArgumentError, "Unflatten: expected unflattened_size to be a tuple of ints"),
    ],
)  # fmt: skip
def test_errors_name_the_layer(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
