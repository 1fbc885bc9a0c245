"""LeNet5 and MLP: layouts, shapes, parameter counts, PyTorch parity of the forward pass, errors."""

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad.errors import ArgumentError, ShapeError
from dagrad.models import MLP, LeNet5


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def torch_lenet(act=torch.nn.ReLU, pool=torch.nn.MaxPool2d, in_channels=1, padding=2, num_classes=10):
    """The classic PyTorch LeNet-5 for 28x28 inputs, layer for layer."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2),
        torch.nn.Conv2d(6, 16, 5), act(), pool(2),
        torch.nn.Conv2d(16, 120, 5), act(), torch.nn.Flatten(),
        torch.nn.Linear(120, 84), act(), torch.nn.Linear(84, num_classes),
    )  # fmt: skip


@pytest.mark.parametrize("activation, pool", [("relu", "max"), ("tanh", "avg")])
def test_lenet5_shapes_and_the_classic_parameter_count(activation, pool):
    model = LeNet5(activation=activation, pool=pool)
    assert n_params(model) == 61_706 == sum(p.numel() for p in torch_lenet().parameters())
    x = dg.rand(3, 1, 28, 28)
    assert model.c1(x).shape == (3, 6, 28, 28)
    s2 = model.s2(model.c1(x))
    assert s2.shape == (3, 6, 14, 14)
    s4 = model.s4(model.c3(s2))
    assert s4.shape == (3, 16, 5, 5)  # C5 sees 5x5 maps
    assert model.c5(s4).shape == (3, 120, 1, 1)
    assert model(x).shape == (3, 10)


def test_lenet5_32x32_inputs_other_channels_and_classes():
    model = LeNet5(num_classes=5, in_channels=3, input_size=32)
    assert model.c1.padding == (0, 0)
    assert model(dg.rand(2, 3, 32, 32)).shape == (2, 5)
    assert n_params(model) == 61_706 + 6 * 5 * 5 * 2 - 5 * 84 - 5


def test_lenet5_state_dict_names():
    assert list(LeNet5().state_dict()) == [f"{layer}.{kind}" for layer in ("c1", "c3", "c5", "f6", "output")
                                           for kind in ("weight", "bias")]  # fmt: skip


@pytest.mark.parametrize("activation, pool", [("relu", "max"), ("tanh", "avg")])
def test_lenet5_matches_pytorch_forward_and_gradients(activation, pool):
    dg.set_default_dtype(dg.float64)
    model = LeNet5(activation=activation, pool=pool)
    ref = torch_lenet(torch.nn.ReLU if activation == "relu" else torch.nn.Tanh,
                      torch.nn.MaxPool2d if pool == "max" else torch.nn.AvgPool2d).double()  # fmt: skip
    with torch.no_grad():
        for q, p in zip(ref.parameters(), model.parameters()):
            q.copy_(torch.from_numpy(p.data))
    x = np.random.default_rng(0).random((4, 1, 28, 28))
    out = model(dg.tensor(x))
    expected = ref(torch.from_numpy(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for q, p in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_lenet5_errors():
    with pytest.raises(ArgumentError, match=r"activation to be one of \['relu', 'tanh'\], received activation='gelu'"):
        LeNet5(activation="gelu")
    with pytest.raises(ArgumentError, match="pool"):
        LeNet5(pool="min")
    with pytest.raises(ArgumentError, match="even input_size"):
        LeNet5(input_size=27)
    with pytest.raises(ShapeError, match=r"expected input \(N, 1, 28, 28\), received \(2, 1, 32, 32\)"):
        LeNet5()(dg.rand(2, 1, 32, 32))


def test_mlp_layout_shapes_and_counts():
    model = MLP()
    assert n_params(model) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert model(dg.rand(5, 1, 28, 28)).shape == (5, 10)
    assert model(dg.rand(5, 784)).shape == (5, 10)
    linear = MLP(in_features=6, hidden=(), num_classes=2)
    assert n_params(linear) == 14 and len(linear.layers) == 1
    dropped = MLP(in_features=6, hidden=4, activation="tanh", dropout=0.5)
    assert [type(m).__name__ for m in dropped.layers] == ["Linear", "Tanh", "Dropout", "Linear"]
    dropped.eval()
    x = dg.rand(3, 6)
    np.testing.assert_array_equal(dropped(x).data, dropped(x).data)


def test_mlp_trains_and_rejects_unknown_activation():
    model = MLP(in_features=4, hidden=(8,), num_classes=2)
    out = model(dg.rand(6, 4))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    with pytest.raises(ArgumentError, match="activation to be one of"):
        MLP(activation="swish")
