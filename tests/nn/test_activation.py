"""Activation layers against PyTorch: repr, outputs and input gradients in float64 and float32; errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.nn import activation as A

torch = pytest.importorskip("torch")
TOL = {np.float64: 1e-6, np.float32: 1e-4}

LAYERS = [  # (class name, args, kwargs); torch.nn has the same class
    ("ReLU", (), {}),
    ("ReLU", (True,), {}),
    ("ReLU6", (), {}),
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {"inplace": True}),
    ("ELU", (), {}),
    ("ELU", (0.5,), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 1.0), {}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-2.0, 0.5), {}),
    ("Softmax", (1,), {}),
    ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (0,), {}),
]
IDS = [f"{n}-{a}-{k}" for n, a, k in LAYERS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=IDS)
def test_layer_matches_torch(name, args, kwargs, dtype):
    m, t = getattr(A, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(t)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) * 3).astype(dtype)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    inplace = getattr(t, "inplace", False)
    y, ty = m(xd.clone() if inplace else xd), t(xt.clone() if inplace else xt)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=TOL[dtype], atol=TOL[dtype])
    g = rng.standard_normal(x.shape).astype(dtype)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), rtol=TOL[dtype], atol=TOL[dtype])


def test_layers_hold_no_parameters_and_work_in_sequential():
    from dagrad.nn.containers import Sequential

    net = Sequential(A.ReLU(), A.Tanh(), A.Softmax(dim=-1))
    assert list(net.parameters()) == [] and list(net.state_dict()) == []
    y = net(dg.randn(2, 3))
    np.testing.assert_allclose(y.data.sum(-1), 1, rtol=1e-6)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: A.Softmax(), ArgumentError, "Softmax: expected dim to be an int (the dimension to normalise over)"),
        (lambda: A.LogSoftmax(dim=None), ArgumentError, "LogSoftmax: expected dim to be an int"),
        (lambda: A.GELU("fast"), ArgumentError,
         "GELU: expected approximate to be 'none' or 'tanh', received approximate='fast'"),
        (lambda: A.Hardtanh(1.0, -1.0), ArgumentError,
         "Hardtanh: expected min_val <= max_val, received min_val=1.0, max_val=-1.0"),
        (lambda: A.LeakyReLU("0.1"), dg.DtypeError, "LeakyReLU: expected negative_slope to be a number"),
        (lambda: A.Softmax(dim=2)(dg.randn(2, 3)), dg.ShapeError, "softmax: dim 2 is out of range"),
    ],
)  # fmt: skip
def test_errors_name_the_layer(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
