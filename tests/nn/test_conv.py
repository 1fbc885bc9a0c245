"""Conv layers: PyTorch's parameters, init, repr and results; errors that name the layer."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, ShapeError
from dagrad.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

torch = pytest.importorskip("torch")

LAYERS = [  # (dagrad class, torch class, args, kwargs, input shape)
    (Conv1d, torch.nn.Conv1d, (4, 6, 3), {"stride": 2, "groups": 2}, (2, 4, 11)),
    (Conv2d, torch.nn.Conv2d, (3, 8, 3), {"padding": "same", "bias": False}, (2, 3, 7, 6)),
    (Conv2d, torch.nn.Conv2d, (3, 8, (3, 2)), {"stride": (2, 1), "padding": 1, "dilation": 2}, (3, 9, 8)),
    (Conv2d, torch.nn.Conv2d, (2, 4, 3), {"padding": (2, 1), "padding_mode": "reflect"}, (2, 2, 6, 6)),
    (Conv2d, torch.nn.Conv2d, (2, 4, 3), {"padding": "same", "padding_mode": "circular"}, (2, 2, 5, 6)),
    (Conv1d, torch.nn.Conv1d, (2, 4, 4), {"padding": 2, "padding_mode": "replicate"}, (2, 2, 7)),
    (Conv3d, torch.nn.Conv3d, (2, 4, 2), {"padding": 1}, (2, 2, 3, 4, 3)),
    (ConvTranspose1d, torch.nn.ConvTranspose1d, (4, 2, 3), {"stride": 2}, (2, 4, 5)),
    (
        ConvTranspose2d,
        torch.nn.ConvTranspose2d,
        (4, 6, 3),
        {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        (2, 4, 4, 5),
    ),  # fmt: skip
    (ConvTranspose3d, torch.nn.ConvTranspose3d, (2, 3, 2), {"dilation": 2, "bias": False}, (2, 2, 3, 2, 3)),
]
IDS = [f"{c[0].__name__}-{c[3]}" for c in LAYERS]


@pytest.mark.parametrize("ours,theirs,args,kwargs,shape", LAYERS, ids=IDS)
def test_layer_matches_torch(ours, theirs, args, kwargs, shape):
    """Same parameters (names, shapes), same repr, and with torch's weights the same output and gradients."""
    m, t = ours(*args, **kwargs), theirs(*args, **kwargs).double()
    assert [(n, p.shape) for n, p in m.named_parameters()] == [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert m.extra_repr() == t.extra_repr()
    m.double()
    for name, p in t.named_parameters():
        getattr(m, name).data[...] = p.detach().numpy()
    x = np.random.default_rng(0).standard_normal(shape)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xd), t(xt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for name, p in t.named_parameters():
        np.testing.assert_allclose(getattr(m, name).grad.data, p.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cls,args", [(Conv2d, (16, 32, 5)), (ConvTranspose2d, (16, 32, 5)), (Conv1d, (8, 4, 3))])
def test_default_init_is_pytorchs(cls, args):
    """kaiming_uniform_(a=sqrt(5)) on the weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias."""
    m = cls(*args)
    fan_in = m.weight.shape[1] * math.prod(m.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    for p in (m.weight, m.bias):
        assert p.dtype == dg.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    assert abs(m.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    dg.manual_seed(3)
    a = cls(*args).weight.data
    dg.manual_seed(3)
    np.testing.assert_array_equal(a, cls(*args).weight.data)


def test_parameter_dtype_and_state_dict():
    m = Conv2d(3, 4, 3, dtype=dg.float64)
    assert m.weight.dtype == dg.float64 and m.bias.dtype == dg.float64
    assert list(m.state_dict()) == ["weight", "bias"]
    assert list(Conv2d(3, 4, 3, bias=False).state_dict()) == ["weight"]


def test_float32_training_step_shapes():
    m = Conv2d(1, 6, 5, padding=2)
    y = m(dg.randn(8, 1, 28, 28))
    assert y.shape == (8, 6, 28, 28) and y.dtype == dg.float32
    y.sum().backward()
    assert m.weight.grad.shape == (6, 1, 5, 5) and m.bias.grad.shape == (6,)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: Conv2d(3, 8, 3)(dg.randn(8, 1, 28, 28)),
         "Conv2d: expected input with 3 channels (shape (N, 3, H, W)), received shape (8, 1, 28, 28)"),
        (lambda: Conv2d(3, 8, 3)(dg.randn(28, 28)),
         "Conv2d: expected a 3-D (unbatched) or 4-D (batched) input of shape (N, C, H, W), received shape (28, 28)"),
        (lambda: Conv2d(3, 8, 5)(dg.randn(1, 3, 4, 4)), "Conv2d: expected a kernel no larger than the padded input"),
        (lambda: ConvTranspose2d(3, 8, 3)(dg.randn(2, 4, 5, 5)), "ConvTranspose2d: expected input with 3 channels"),
    ],
)  # fmt: skip
def test_input_errors_name_the_layer(call, message):
    with pytest.raises(ShapeError) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: Conv2d(3, 8, 3, groups=2), "Conv2d: expected in_channels (3) and out_channels (8) to be divisible"),
        (lambda: Conv2d(3, 8, 3, padding=-1), "Conv2d: expected padding to be an int >= 0"),
        (lambda: Conv2d(3, 8, 3, stride=2, padding="same"), "Conv2d: padding='same' needs stride 1"),
        (lambda: Conv2d(3, 8, 3, padding_mode="mirror"), "Conv2d: expected padding_mode to be one of"),
        (lambda: Conv1d(0, 8, 3), "Conv1d: expected in_channels to be a positive int, received 0"),
        (lambda: ConvTranspose2d(3, 8, 3, padding="same"), "ConvTranspose2d: expected integer padding"),
    ],
)  # fmt: skip
def test_argument_errors_name_the_layer(call, message):
    with pytest.raises(ArgumentError) as info:
        call()
    assert message in str(info.value)
