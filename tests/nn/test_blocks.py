"""ResNet BasicBlock/Bottleneck and GoogLeNet Inception: shapes, torchvision's state-dict keys, and with torch's
weights the same outputs, gradients and running statistics (torch blocks written inline: no torchvision here)."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.nn.blocks import BasicBlock, Bottleneck, Inception, conv1x1
from dagrad.nn.containers import Sequential
from dagrad.nn.normalization import BatchNorm2d

torch = pytest.importorskip("torch")
tnn = torch.nn


# ---- torchvision's blocks, copied in plain torch -------------------------------------------------------------
def t_conv3x3(cin, cout, stride=1, groups=1, dilation=1):
    return tnn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation)


def t_conv1x1(cin, cout, stride=1):
    return tnn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class TBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = t_conv3x3(inplanes, planes, stride)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = t_conv3x3(planes, planes)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class TBottleneck(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = t_conv1x1(inplanes, width)
        self.bn1 = tnn.BatchNorm2d(width)
        self.conv2 = t_conv3x3(width, width, stride, groups, dilation)
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv3 = t_conv1x1(width, planes * 4)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class TBasicConv2d(tnn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = tnn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = tnn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class TInception(tnn.Module):
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = TBasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = tnn.Sequential(
            TBasicConv2d(cin, ch3x3red, kernel_size=1), TBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = tnn.Sequential(
            TBasicConv2d(cin, ch5x5red, kernel_size=1), TBasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = tnn.Sequential(
            tnn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            TBasicConv2d(cin, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def _down(cin, cout, stride):
    return Sequential(conv1x1(cin, cout, stride), BatchNorm2d(cout))


def _t_down(cin, cout, stride):
    return tnn.Sequential(t_conv1x1(cin, cout, stride), tnn.BatchNorm2d(cout))


CASES = {  # name: (dagrad block, torch block, input shape, output shape)
    "basic": (lambda: BasicBlock(8, 8), lambda: TBasicBlock(8, 8), (3, 8, 6, 6), (3, 8, 6, 6)),
    "basic-stride2": (
        lambda: BasicBlock(4, 8, stride=2, downsample=_down(4, 8, 2)),
        lambda: TBasicBlock(4, 8, stride=2, downsample=_t_down(4, 8, 2)),
        (2, 4, 7, 7),
        (2, 8, 4, 4),
    ),
    "bottleneck": (lambda: Bottleneck(16, 4), lambda: TBottleneck(16, 4), (2, 16, 5, 5), (2, 16, 5, 5)),
    "bottleneck-stride2": (
        lambda: Bottleneck(8, 4, stride=2, downsample=_down(8, 16, 2)),
        lambda: TBottleneck(8, 4, stride=2, downsample=_t_down(8, 16, 2)),
        (2, 8, 6, 6),
        (2, 16, 3, 3),
    ),
    "bottleneck-grouped-dilated": (
        lambda: Bottleneck(16, 4, groups=2, base_width=32, dilation=2),
        lambda: TBottleneck(16, 4, groups=2, base_width=32, dilation=2),
        (2, 16, 6, 6),
        (2, 16, 6, 6),
    ),
    "inception": (
        lambda: Inception(6, 4, 3, 5, 2, 3, 2),
        lambda: TInception(6, 4, 3, 5, 2, 3, 2),
        (2, 6, 5, 7),
        (2, 14, 5, 7),
    ),
}


def _pair(name, torch_dtype):
    """The dagrad and torch blocks of CASES[name] with torch's (random, non-trivial) weights in both."""
    make, t_make, shape, _ = CASES[name]
    torch.manual_seed(0)
    t = t_make().to(torch_dtype)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # BN affine and running stats away from their (1, 0) defaults so they are tested
        for mod in t.modules():
            if isinstance(mod, tnn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5, generator=gen)
                mod.bias.uniform_(-0.5, 0.5, generator=gen)
                mod.running_mean.uniform_(-0.2, 0.2, generator=gen)
                mod.running_var.uniform_(0.5, 1.5, generator=gen)
    m = make().to(str(torch_dtype).removeprefix("torch."))
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return m, t, shape


def _compare(name, torch_dtype, train, rtol, atol):
    m, t, shape = _pair(name, torch_dtype)
    m.train(train)
    t.train(train)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(str(torch_dtype).removeprefix("torch."))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xd), t(xt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    g = rng.standard_normal(ty.shape).astype(x.dtype)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input grad")
    ours = dict(m.named_parameters())
    for key, p in t.named_parameters():
        np.testing.assert_allclose(ours[key].grad.data, p.grad.numpy(), rtol=rtol, atol=atol, err_msg=key)
    ours = m.state_dict()
    for key, b in t.state_dict().items():
        np.testing.assert_allclose(np.asarray(ours[key].data), b.numpy(), rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(CASES))
def test_float64_parity(name, train):
    """Outputs, input and parameter gradients and BN buffers within 1e-6 of torch in float64."""
    _compare(name, torch.float64, train, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["basic-stride2", "bottleneck", "inception"])
def test_float32_parity(name):
    _compare(name, torch.float32, True, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(CASES))
def test_shapes_and_torchvision_keys(name):
    """Forward shape (stride 2 halves the side, rounding up) and state-dict keys in torchvision's order."""
    make, t_make, shape, out_shape = CASES[name]
    m = make()
    y = m(dg.randn(*shape))
    assert y.shape == out_shape and y.dtype == dg.float32
    assert list(m.state_dict()) == list(t_make().state_dict())
    assert [(k, tuple(p.shape)) for k, p in m.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in t_make().named_parameters()
    ]


def test_residual_float32_training_step():
    """Two stacked blocks train: every parameter gets a gradient of its own shape."""
    net = Sequential(BasicBlock(3, 8, stride=2, downsample=_down(3, 8, 2)), Bottleneck(8, 2))
    y = net(dg.randn(4, 3, 8, 8))
    assert y.shape == (4, 8, 4, 4)
    (y * y).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


def test_block_attributes():
    b = Bottleneck(64, 16, stride=2)
    assert (BasicBlock.expansion, Bottleneck.expansion) == (1, 4)
    assert b.stride == 2 and b.downsample is None and b.conv3.out_channels == 64
    assert b.conv2.stride == (2, 2) and b.conv1.stride == (1, 1)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: BasicBlock(8, 8, groups=2), "BasicBlock: expected groups=1 and base_width=64"),
        (lambda: BasicBlock(8, 8, dilation=2), "BasicBlock: expected dilation=1"),
        (lambda: BasicBlock(0, 8), "BasicBlock: expected inplanes to be a positive int, received inplanes=0"),
        (lambda: Bottleneck(8, 4, stride=0), "Bottleneck: expected stride to be a positive int, received stride=0"),
        (lambda: Inception(8, 4, 3, 6, 2, 3, -1), "Inception: expected pool_proj to be a positive int"),
    ],
)
def test_errors_name_the_block(call, message):
    with pytest.raises(ArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
