"""Pooling ops against PyTorch: forward values, gradients, first-max ties, indices, no-grad path and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import dagrad as dg
from dagrad.autograd import REGISTRY
from dagrad.ops import pool

# (function, input shape, args, kwargs): one line per case, run in float32 against torch.
CASES = [
    ("max_pool2d", (2, 3, 8, 8), (2,), {}),
    ("max_pool2d", (2, 3, 7, 9), (2,), {}),
    ("max_pool2d", (2, 3, 7, 9), (2,), {"ceil_mode": True}),
    ("max_pool2d", (2, 3, 9, 9), (3, 2, 1), {}),
    ("max_pool2d", (2, 3, 8, 8), (3, 2, 1), {"ceil_mode": True}),
    ("max_pool2d", (2, 3, 10, 9), ((3, 2), (2, 1), (1, 0)), {"dilation": (2, 1)}),
    ("max_pool2d", (3, 6, 6), (2,), {}),
    ("max_pool2d", (2, 2, 5, 5), (5,), {"padding": 2}),
    ("max_pool2d", (2, 2, 6, 7), (1, 2), {}),
    ("max_pool1d", (2, 3, 11), (3, 2, 1), {"ceil_mode": True}),
    ("max_pool1d", (3, 10), (4,), {}),
    ("max_pool3d", (2, 2, 5, 6, 7), (2,), {"ceil_mode": True}),
    ("max_pool3d", (2, 2, 5, 6, 7), (3, 2, 1), {}),
    ("avg_pool2d", (2, 3, 8, 8), (2,), {}),
    ("avg_pool2d", (2, 3, 9, 9), (3, 2, 1), {}),
    ("avg_pool2d", (2, 3, 8, 9), (3, 2, 1), {"ceil_mode": True}),
    ("avg_pool2d", (2, 3, 8, 9), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool2d", (2, 3, 7, 7), (2,), {"padding": 1, "ceil_mode": True}),
    ("avg_pool2d", (2, 3, 8, 8), (3, 1, 1), {"divisor_override": 5}),
    ("avg_pool2d", (3, 7, 7), (7,), {}),
    ("avg_pool1d", (2, 3, 11), (3, 2, 1), {"count_include_pad": False}),
    ("avg_pool3d", (2, 2, 5, 6, 7), (2,), {"ceil_mode": True}),
    ("avg_pool3d", (2, 2, 5, 6, 7), (3, 2, 1), {"count_include_pad": False}),
    ("adaptive_avg_pool2d", (2, 4, 7, 7), (1,), {}),
    ("adaptive_avg_pool2d", (2, 4, 8, 12), ((4, 3),), {}),
    ("adaptive_avg_pool2d", (2, 4, 7, 10), ((3, 4),), {}),
    ("adaptive_avg_pool2d", (4, 5, 6), ((7, None),), {}),
    ("adaptive_avg_pool1d", (2, 3, 10), (4,), {}),
    ("adaptive_avg_pool3d", (2, 2, 5, 6, 7), ((2, 3, 4),), {}),
    ("adaptive_max_pool2d", (2, 4, 8, 8), (2,), {}),
    ("adaptive_max_pool2d", (2, 4, 7, 10), ((3, 4),), {}),
    ("adaptive_max_pool2d", (4, 3, 5), ((6, 2),), {}),
    ("adaptive_max_pool1d", (2, 3, 10), (4,), {}),
    ("adaptive_max_pool3d", (2, 2, 5, 6, 7), ((2, 3, 4),), {}),
]


def _ids(c):
    return f"{c[0]}-{c[1]}-{c[2]}-{c[3]}".replace(" ", "")


def _compare(fn, x, args, kwargs, seed=0):
    """Forward and the vjp of a random cotangent, dagrad vs torch, on the same float32 input."""
    xd = dg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd = getattr(pool, fn)(xd, *args, **kwargs)
    yt = getattr(TF, fn)(xt, *args, **kwargs)
    assert yd.shape == tuple(yt.shape)
    assert yd.dtype == dg.float32
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(seed).standard_normal(yd.shape).astype(np.float32)
    yd.backward(dg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,shape,args,kwargs", CASES, ids=[_ids(c) for c in CASES])
def test_matches_torch(fn, shape, args, kwargs):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _compare(fn, x, args, kwargs)


@pytest.mark.parametrize(
    "fn,args,kwargs",
    [
        ("max_pool2d", (2,), {}),
        ("max_pool2d", (3, 2, 1), {}),
        ("max_pool2d", (3, 1, 1), {"ceil_mode": True}),
        ("adaptive_max_pool2d", ((3, 4),), {}),
        ("adaptive_max_pool2d", ((9, 11),), {}),
    ],
)
def test_ties_send_gradient_to_first_maximum(fn, args, kwargs):
    """A flat (all-zeros) image: each window's gradient goes to its first element in scan order, as in torch."""
    _compare(fn, np.zeros((2, 2, 7, 8), np.float32), args, kwargs)
    x = np.random.default_rng(2).integers(0, 2, (2, 2, 7, 8)).astype(np.float32)  # many partial ties
    _compare(fn, x, args, kwargs, seed=3)


@pytest.mark.parametrize(
    "fn,shape,args,kwargs",
    [
        ("max_pool2d", (2, 3, 8, 8), (2,), {}),
        ("max_pool2d", (2, 3, 9, 8), (3, 2, 1), {"ceil_mode": True}),
        ("max_pool2d", (3, 9, 8), (3, 2), {"dilation": 2}),
        ("max_pool1d", (2, 3, 9), (2,), {}),
        ("max_pool3d", (2, 2, 5, 6, 7), (2,), {"padding": 1}),
        ("adaptive_max_pool2d", (2, 3, 7, 10), ((3, 4),), {}),
        ("adaptive_max_pool2d", (2, 3, 8, 8), (4,), {}),
    ],
)
def test_return_indices(fn, shape, args, kwargs):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    y, i = getattr(pool, fn)(dg.tensor(x), *args, return_indices=True, **kwargs)
    yt, it = getattr(TF, fn)(torch.tensor(x), *args, return_indices=True, **kwargs)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    assert i.dtype == dg.int64
    np.testing.assert_array_equal(i.numpy(), it.numpy())


@pytest.mark.parametrize("fn,args", [("max_pool2d", (2,)), ("max_pool2d", (3, 2, 1)), ("adaptive_max_pool2d", (3,))])
def test_no_grad_path_gives_same_values(fn, args):
    x = dg.randn(2, 3, 9, 9)
    with dg.no_grad():
        a = getattr(pool, fn)(x, *args)
    b = getattr(pool, fn)(x.requires_grad_(), *args)
    np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_integer_max_pool():
    x = np.arange(2 * 25).reshape(2, 1, 5, 5) % 7
    y = pool.max_pool2d(dg.tensor(x), 3, 2, 1)
    np.testing.assert_array_equal(y.numpy(), TF.max_pool2d(torch.tensor(x), 3, 2, 1).numpy())


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d"])
def test_double_backward_matches_torch(fn):
    """d<grad_x, v>/dg with create_graph=True: the second-order graph runs through the backward Functions."""
    x = np.random.default_rng(5).standard_normal((2, 2, 6, 6))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = getattr(pool, fn)(xd, 3, 2, 1), getattr(TF, fn)(xt, 3, 2, 1)
    g = np.random.default_rng(6).standard_normal(yd.shape)
    gd, gt = dg.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    (gxd,) = dg.autograd.grad([yd], [xd], [gd], create_graph=True)
    (gxt,) = torch.autograd.grad(yt, xt, gt, create_graph=True)
    v = np.random.default_rng(7).standard_normal(x.shape)
    (ggd,) = dg.autograd.grad([gxd], [gd], [dg.tensor(v)])
    (ggt,) = torch.autograd.grad(gxt, gt, torch.tensor(v))
    np.testing.assert_allclose(ggd.detach().numpy(), ggt.numpy(), rtol=1e-12)


def test_every_pool_op_is_registered():
    names = {n for n in REGISTRY if "Pool" in n}
    assert {"MaxPool", "MaxPoolBackward", "MaxPoolGather", "AvgPool", "AvgPoolBackward"} <= names


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pool.max_pool2d(dg.randn(4, 4), 2), r"max_pool2d: expected a \(C, H, W\) or \(N, C, H, W\)"),
        (lambda: pool.max_pool1d(dg.randn(1, 2, 3, 4), 2), r"max_pool1d: expected a \(C, L\)"),
        (lambda: pool.avg_pool3d(dg.randn(2, 0, 4, 4), 2), r"avg_pool3d: expected .* non-empty"),
        (lambda: pool.max_pool2d(dg.randn(1, 1, 4, 4), 3, padding=2), r"max_pool2d: expected padding between 0 and"),
        (lambda: pool.avg_pool2d(dg.randn(1, 1, 4, 4), 2, padding=2), r"avg_pool2d: expected padding between 0 and"),
        (lambda: pool.max_pool2d(dg.randn(1, 1, 2, 2), 5, padding=1), r"max_pool2d: expected a kernel that fits"),
        (lambda: pool.max_pool2d(dg.randn(1, 1, 4, 4), 2, stride=0), r"max_pool2d: expected `stride` to be positive"),
        (lambda: pool.avg_pool1d(dg.randn(1, 1, 4), 2, -1), r"avg_pool1d: expected `stride` to be positive"),
        (lambda: pool.max_pool2d(dg.randn(1, 1, 4, 4), (2, 2, 2)), r"`kernel_size` to be an int or a tuple of 2"),
        (lambda: pool.adaptive_avg_pool2d(dg.randn(1, 4, 4), (2, 0)), r"adaptive_avg_pool2d: expected positive"),
        (lambda: pool.adaptive_max_pool2d(dg.randn(1, 4, 4), (2, 2, 2)), r"adaptive_max_pool2d: expected output"),
        (lambda: pool.avg_pool2d(dg.randn(1, 4, 4), 2, divisor_override=0), r"avg_pool2d: expected a positive"),
    ],
)
def test_shape_errors(call, match):
    with pytest.raises(dg.ShapeError, match=match):
        call()


def test_dtype_and_type_errors():
    with pytest.raises(dg.DtypeError, match="avg_pool2d: expected a floating-point input, received dtype int64"):
        pool.avg_pool2d(dg.tensor(np.zeros((1, 4, 4), np.int64)), 2)
    with pytest.raises(TypeError, match="max_pool2d: expected a Tensor input"):
        pool.max_pool2d(np.zeros((1, 4, 4)), 2)
