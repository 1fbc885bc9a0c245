"""Pooling layers against torch.nn: outputs, gradients, reprs, indices and construction errors."""

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad import nn
from dagrad.nn import pooling

LAYERS = [  # (class name, constructor args, kwargs, input shape)
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 10)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3, 2, 1), {}, (3, 9, 9)),
    ("MaxPool2d", ((3, 2),), {"dilation": 2, "ceil_mode": True}, (2, 3, 9, 8)),
    ("MaxPool3d", (2,), {"padding": 1}, (2, 2, 5, 6, 7)),
    ("AvgPool1d", (3,), {"count_include_pad": False, "padding": 1}, (2, 3, 10)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "divisor_override": 4}, (3, 8, 9)),
    ("AvgPool3d", (2,), {"ceil_mode": True}, (2, 2, 5, 6, 7)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 8, 7, 7)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool3d", ((2, 3, 4),), {}, (2, 2, 5, 6, 7)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", ((3, 4),), {}, (2, 3, 7, 10)),
    ("AdaptiveMaxPool3d", (2,), {}, (2, 2, 4, 6, 5)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_layer_matches_torch(name, args, kwargs, shape):
    ours, theirs = getattr(nn, name, getattr(pooling, name))(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = ours(xd), theirs(xt)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(yd.shape).astype(np.float32)
    yd.backward(dg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and ours.state_dict() == {}


@pytest.mark.parametrize("name,size", [("MaxPool2d", 2), ("AdaptiveMaxPool2d", 3)])
def test_return_indices(name, size):
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    y, i = getattr(pooling, name)(size, return_indices=True)(dg.tensor(x))
    yt, it = getattr(torch.nn, name)(size, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    np.testing.assert_array_equal(i.numpy(), it.numpy())


def test_in_a_sequential_model():
    model = nn.Sequential(pooling.MaxPool2d(2), pooling.AvgPool2d(2), pooling.AdaptiveAvgPool2d(1))
    y = model(dg.randn(4, 3, 16, 16))
    assert y.shape == (4, 3, 1, 1)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: pooling.MaxPool2d(3, padding=2), r"MaxPool2d: expected padding between 0 and .*1"),
        (lambda: pooling.MaxPool2d(2, stride=0), r"MaxPool2d: expected `stride` to be positive"),
        (lambda: pooling.MaxPool1d(0), r"MaxPool1d: expected `kernel_size` to be positive"),
        (lambda: pooling.AvgPool3d((2, 2)), r"AvgPool3d: expected `kernel_size` to be an int or a tuple of 3"),
        (lambda: pooling.AvgPool2d(2, divisor_override=0), r"AvgPool2d: expected a positive divisor_override"),
        (lambda: pooling.AdaptiveAvgPool2d((0, 2)), r"AdaptiveAvgPool2d: expected output_size to be positive"),
    ],
)
def test_construction_errors_name_the_layer(make, match):
    with pytest.raises(dg.ShapeError, match=match):
        make()


def test_wrong_input_rank_names_the_op():
    with pytest.raises(dg.ShapeError, match=r"max_pool2d: expected a \(C, H, W\) or \(N, C, H, W\) input.*\(8, 8\)"):
        pooling.MaxPool2d(2)(dg.randn(8, 8))
