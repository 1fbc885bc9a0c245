"""The model zoo against torchvision: parameter counts of every factory, state-dict keys and shapes, forward outputs
with torchvision's weights (ResNet-50 at 224x224), the CIFAR ResNets, initialisation, errors.

Cost: torchvision's models are built on torch's meta device (shapes only, no memory, no initialisation) wherever
only their shapes matter, so each dagrad model is built once and each torchvision model at most once. The eight
VGGs (133M-144M parameters, 120M of them in the classifier, seconds to initialise) are checked without building
them whole: their feature extractors (make_layers, as VGG uses it) key for key, plus the classifier layout on a
small VGG; tests/models/test_transfer.py builds and runs a whole VGG-11-BN against torchvision.
"""

import math
import sys
import types
import warnings

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.models import (
    VGG,
    AlexNet,
    CifarResNet,
    GoogLeNet,
    GoogLeNetOutputs,
    ResNet,
    ZeroPadShortcut,
    googlenet,
    resnet18,
    resnet20,
    resnet32,
    resnet50,
    resnet56,
)  # fmt: skip
from dagrad.models import vgg as vgg_module
from dagrad.nn import BasicBlock

torch = pytest.importorskip("torch")


def torchvision_models():
    """torchvision.models, or a skip. Where torchvision's compiled operators cannot load (a CUDA wheel beside a CPU
    torch fails with RuntimeError on import), its model definitions, which are plain Python, still can: import it
    again without the modules that register those operators."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import torchvision.models

            return torchvision.models
        except ImportError as e:
            pytest.skip(f"torchvision is not installed: {e}")
        except RuntimeError:
            pass
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
            sys.modules[name] = types.ModuleType(name)
        try:
            import torchvision.models
        except Exception as e:  # any failure here means: no torchvision to compare with
            pytest.skip(f"torchvision's models do not import: {e}")
        return torchvision.models


def tv_meta(name, **kwargs):
    """torchvision's model `name` with shapes only (meta device: nothing allocated or initialised)."""
    tvm = torchvision_models()
    with torch.device("meta"):
        return getattr(tvm, name)(**kwargs)


def shapes(model):
    """[(state-dict key, shape)] in the model's order (torch or dagrad)."""
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def n_params(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def load_from_torch(model, ref):
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return model


def close(ours, theirs, tol=1e-4):
    """Equal to float32 accuracy, relative to the size of the outputs."""
    theirs = theirs.detach().numpy()
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(np.asarray(ours.data), theirs, rtol=tol, atol=tol * scale)


# ---- parameter counts and state-dict keys ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [("googlenet", 6_624_904), ("resnet18", 11_689_512), ("resnet34", None), ("resnet50", 25_557_032),
     ("resnet101", None), ("resnet152", None)],
)  # fmt: skip
def test_count_keys_and_shapes_equal_torchvision(name, expected):
    """Built whole in dagrad; torchvision's on the meta device. Same keys in the same order, same shapes."""
    import dagrad.models as zoo

    ours = getattr(zoo, name)()
    theirs = tv_meta(name, **({"aux_logits": False, "init_weights": False} if name == "googlenet" else {}))
    assert shapes(ours) == shapes(theirs)
    assert n_params(ours) == sum(p.numel() for p in theirs.parameters())
    if expected is not None:
        assert n_params(ours) == expected


def test_vgg_classifier_layout():
    """The classifier VGG puts after any feature extractor: Linear(width * 7 * 7, 4096) -> ReLU -> Dropout ->
    Linear(4096, 4096) -> ReLU -> Dropout -> Linear(4096, num_classes), keys as torchvision's."""
    small = VGG([8, "M", 16, "M"], batch_norm=True, num_classes=3, in_channels=1)
    assert [(k, s) for k, s in shapes(small) if k.startswith("classifier.")] == [
        ("classifier.0.weight", (4096, 16 * 7 * 7)), ("classifier.0.bias", (4096,)),
        ("classifier.3.weight", (4096, 4096)), ("classifier.3.bias", (4096,)),
        ("classifier.6.weight", (3, 4096)), ("classifier.6.bias", (3,)),
    ]  # fmt: skip
    assert [k for k, _ in shapes(small)][:7] == ["features.0.weight", "features.0.bias", "features.1.weight",
                                       "features.1.bias", "features.1.running_mean", "features.1.running_var",
                                       "features.1.num_batches_tracked"]  # fmt: skip
    assert small(dg.rand(2, 1, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_features_keys_and_counts_equal_torchvision(depth, batch_norm):
    """Every VGG (the largest models here: 133M-144M parameters, 120M of them in the classifier, which takes
    seconds to initialise): the feature extractor VGG builds for the depth against torchvision's, key for key;
    the whole model's count from it plus the classifier layout that test_vgg_classifier_layout checks. A whole
    VGG-11-BN is built and run against torchvision in tests/models/test_transfer.py."""
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    theirs = tv_meta(name)
    features = vgg_module.make_layers(vgg_module._config(depth), batch_norm)
    assert [(f"features.{k}", s) for k, s in shapes(features)] == [
        (k, s) for k, s in shapes(theirs) if k.startswith("features.")
    ]
    classifier = 512 * 7 * 7 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert n_params(features) + classifier == sum(p.numel() for p in theirs.parameters())
    if name == "vgg16":
        assert n_params(features) + classifier == 138_357_544


def test_vgg_configurations_by_depth_letter_and_list():
    assert vgg_module._config(16) == vgg_module._config("D") == vgg_module.cfgs["D"]
    assert vgg_module._config([4, "M"]) == [4, "M"]


# ---- forward with torchvision's weights ----------------------------------------------------------------------------
def test_resnet50_at_224_matches_torchvision():
    """The canonical input: one 224x224 image, no_grad, eval mode, after a training-mode batch so that the running
    statistics are not the initial ones."""
    ref = torchvision_models().resnet50()
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32))
    with torch.no_grad():
        ref(torch.randn(2, 3, 64, 64))
    ref.eval()
    model = load_from_torch(resnet50(), ref).eval()
    with dg.no_grad():
        out = model(dg.tensor(x.numpy()))
    assert out.shape == (1, 1000) and out.grad_fn is None
    with torch.no_grad():
        close(out, ref(x))


def test_alexnet_count_keys_and_outputs_equal_torchvision():
    ref = torchvision_models().alexnet().eval()
    model = AlexNet()
    assert shapes(model) == shapes(ref)
    assert n_params(model) == 61_100_840
    load_from_torch(model, ref).eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 63, 63)).astype(np.float32)  # the smallest input
    with dg.no_grad():
        out = model(dg.tensor(x))
    with torch.no_grad():
        close(out, ref(torch.from_numpy(x)))
    assert tuple(AlexNet(num_classes=3, in_channels=1).features[0].weight.shape) == (64, 1, 11, 11)


def test_googlenet_aux_heads_in_training_and_transform_input_match_torchvision():
    """Training mode (batch statistics; dropout 0 so both are deterministic) returns (logits, aux2, aux1), equal to
    torchvision's; eval mode returns the logits alone (here with transform_input, also equal). float64, as the
    last BatchNorms see 2 values per channel at 32x32."""
    dg.set_default_dtype(dg.float64)
    tvm = torchvision_models()
    ref = tvm.GoogLeNet(num_classes=5, aux_logits=True, init_weights=False, dropout=0.0, dropout_aux=0.0).double()
    model = GoogLeNet(num_classes=5, aux_logits=True, dropout=0.0, dropout_aux=0.0)
    assert shapes(model) == shapes(ref)
    aux_head = 128 * 512 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 5 + 5  # conv + BatchNorm + fc1 + fc2, on 512 maps
    assert n_params(model) == n_params(googlenet(num_classes=5)) + 2 * aux_head + 16 * 128  # the second sees 528
    load_from_torch(model, ref)
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32))
    out = model(dg.tensor(x))
    expected = ref(torch.from_numpy(x))
    assert isinstance(out, GoogLeNetOutputs)
    for ours, theirs in zip(out, expected):
        close(ours, theirs, 1e-9)
    out.aux_logits1.sum().backward()
    assert model.aux1.fc2.weight.grad is not None and model.conv1.conv.weight.grad is not None
    assert model.fc.weight.grad is None
    model.eval(), ref.eval()
    model.transform_input = ref.transform_input = True
    with dg.no_grad():
        logits = model(dg.tensor(x))
    assert isinstance(logits, dg.Tensor)
    with torch.no_grad():
        close(logits, ref(torch.from_numpy(x)), 1e-9)


def test_googlenet_without_aux_returns_logits_in_training():
    model = googlenet(num_classes=4, in_channels=1)
    out = model(dg.rand(2, 1, 32, 32))
    assert isinstance(out, dg.Tensor) and out.shape == (2, 4)
    assert model.aux1 is None and "aux1.fc2.weight" not in model.state_dict()


def test_resnet_gradients_match_torchvision_in_training_mode():
    """One BasicBlock per stage, in float64: at 16x16 the last stages' BatchNorms see 2 values per channel, which
    would magnify float32 rounding."""
    dg.set_default_dtype(dg.float64)
    tvm = torchvision_models()
    ref = tvm.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1], num_classes=4).double()
    model = load_from_torch(ResNet(BasicBlock, [1, 1, 1, 1], num_classes=4), ref)
    x = np.random.default_rng(4).standard_normal((2, 3, 16, 16))
    out = model(dg.tensor(x))
    expected = ref(torch.from_numpy(x))
    close(out, expected, 1e-9)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    for name, p in model.named_parameters():
        q = ref.get_parameter(name)
        scale = max(1.0, float(q.grad.abs().max()))
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6, atol=1e-6 * scale, err_msg=name)
    close(model.bn1.running_mean, ref.bn1.running_mean, 1e-9)


# ---- the CIFAR ResNets ---------------------------------------------------------------------------------------------
def cifar_count(n, shortcut="A", classes=10):
    """Parameters of the paper's 6n+2 CIFAR net, counted from its description: 3x3 convolutions without bias, a
    BatchNorm (2 values per channel) after each, 1x1 conv + BatchNorm projections at stages 2 and 3 for option B."""
    conv = lambda cin, cout: 9 * cin * cout + 2 * cout  # noqa: E731
    total = conv(3, 16)
    for cin, cout in ((16, 16), (16, 32), (32, 64)):
        total += conv(cin, cout) + conv(cout, cout) + (n - 1) * 2 * conv(cout, cout)
        if shortcut == "B" and cin != cout:
            total += cin * cout + 2 * cout
    return total + 64 * classes + classes


@pytest.mark.parametrize("factory, n", [(resnet20, 3), (resnet32, 5), (resnet56, 9)])
def test_cifar_resnet_counts(factory, n):
    assert n_params(factory()) == cifar_count(n)
    assert n_params(factory(shortcut="B", num_classes=100)) == cifar_count(n, "B", 100)


def test_resnet20_has_the_papers_parameter_count_and_layout():
    model = resnet20()
    assert n_params(model) == 269_722
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [3, 3, 3]
    assert isinstance(model.layer2[0].downsample, ZeroPadShortcut) and model.layer2[1].downsample is None
    assert model.layer1[0].downsample is None
    x = dg.rand(2, 3, 32, 32)
    assert model.layer2(model.layer1(model.relu(model.bn1(model.conv1(x))))).shape == (2, 32, 16, 16)
    assert model(x).shape == (2, 10)


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels():
    x = dg.randn(2, 3, 5, 5, requires_grad=True)
    y = ZeroPadShortcut(8, stride=2)(x)
    assert y.shape == (2, 8, 3, 3)
    np.testing.assert_array_equal(y.data[:, :3], x.data[:, :, ::2, ::2])
    assert not y.data[:, 3:].any()
    y.sum().backward()
    expected = np.zeros((2, 3, 5, 5), np.float32)
    expected[:, :, ::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.data, expected)


class TorchZeroPad(torch.nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.planes = planes

    def forward(self, x):
        return torch.nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.planes - x.shape[1]))


def test_resnet20_matches_a_torch_version_of_the_paper_net():
    """torchvision's BasicBlock assembled into the paper's CIFAR net (option A) in torch: same outputs and
    gradients in training mode."""
    tv_basic = torchvision_models().resnet.BasicBlock
    ref = torch.nn.Module()
    ref.conv1 = torch.nn.Conv2d(3, 16, 3, padding=1, bias=False)
    ref.bn1 = torch.nn.BatchNorm2d(16)
    for i, (cin, cout) in enumerate(((16, 16), (16, 32), (32, 64)), 1):
        first = tv_basic(cin, cout, 1 if cin == cout else 2, None if cin == cout else TorchZeroPad(cout))
        setattr(ref, f"layer{i}", torch.nn.Sequential(first, *(tv_basic(cout, cout) for _ in range(2))))
    ref.fc = torch.nn.Linear(64, 10)
    model = load_from_torch(resnet20(), ref)

    def ref_forward(x):
        x = torch.relu(ref.bn1(ref.conv1(x)))
        x = ref.layer3(ref.layer2(ref.layer1(x)))
        return ref.fc(x.mean((2, 3)))

    x = np.random.default_rng(5).standard_normal((2, 3, 16, 16)).astype(np.float32)
    out, expected = model(dg.tensor(x)), ref_forward(torch.from_numpy(x))
    close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    for name, p in model.named_parameters():
        q = ref.get_parameter(name).grad.numpy()
        np.testing.assert_allclose(p.grad.data, q, rtol=1e-3, atol=1e-3 * max(1.0, np.abs(q).max()), err_msg=name)


# ---- initialisation --------------------------------------------------------------------------------------------------
def test_initialisation_as_torchvision():
    r = ResNet(BasicBlock, [1, 1, 1, 1], zero_init_residual=True)
    w = r.layer4[0].conv2.weight.data
    assert abs(w.std() / math.sqrt(2 / (512 * 9)) - 1) < 0.02  # kaiming_normal_, fan_out, relu gain
    assert (r.layer1[0].bn1.weight.data == 1).all() and (r.layer1[0].bn1.bias.data == 0).all()
    assert not r.layer3[0].bn2.weight.data.any()  # zero_init_residual: each block's last BatchNorm scale
    assert (resnet18().layer3[0].bn2.weight.data == 1).all()
    g = googlenet()
    w = g.inception4a.branch2[1].conv.weight.data
    assert abs(w.std() / 0.01 - 1) < 0.02 and abs(g.fc.weight.data.std() / 0.01 - 1) < 0.02
    v = VGG([64, "M"], num_classes=10)
    assert abs(v.classifier[3].weight.data.std() / 0.01 - 1) < 0.02 and not v.classifier[3].bias.data.any()
    conv = v.features[0]
    assert abs(conv.weight.data.std() / math.sqrt(2 / (64 * 9)) - 1) < 0.1 and not conv.bias.data.any()


def test_in_channels_and_num_classes():
    model = resnet18(num_classes=3, in_channels=1)
    assert tuple(model.conv1.weight.shape) == (64, 1, 7, 7) and tuple(model.fc.weight.shape) == (3, 512)
    assert model(dg.rand(2, 1, 32, 32)).shape == (2, 3)
    assert CifarResNet(8, num_classes=2, in_channels=4)(dg.rand(1, 4, 8, 8)).shape == (1, 2)


# ---- errors -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, words",
    [(lambda: VGG(12), "VGG: expected cfg"), (lambda: VGG([64, "X"]), "VGG: expected cfg"),
     (lambda: VGG(11, num_classes=0), "VGG: expected num_classes"),
     (lambda: AlexNet(in_channels=0), "AlexNet: expected in_channels"),
     (lambda: ResNet(BasicBlock, [2, 2, 2]), "ResNet: expected layers to hold 4"),
     (lambda: ResNet(BasicBlock, [2, 0, 2, 2]), "layers[1]"),
     (lambda: ResNet(dg.nn.Linear, [2, 2, 2, 2]), "ResNet: expected block"),
     (lambda: CifarResNet(21), "CifarResNet: expected depth = 6n + 2"),
     (lambda: CifarResNet(20, shortcut="C"), "CifarResNet: expected shortcut"),
     (lambda: GoogLeNet(in_channels=1, transform_input=True), "GoogLeNet: expected in_channels=3")],
)  # fmt: skip
def test_errors_name_the_model_and_the_value(build, words):
    with pytest.raises(ArgumentError, match=words.replace("[", r"\[").replace("+", r"\+")):
        build()
