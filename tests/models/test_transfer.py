"""Transfer learning: torchvision weights saved from torch as .safetensors and .npz load into dagrad models and give
torch's outputs; freeze / unfreeze, replace_head, extract_features; the errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DataLoader, TensorDataset
from dagrad.errors import ArgumentError
from dagrad.io import CheckpointError, CheckpointNotFoundError
from dagrad.models import (
    MLP,
    VGG,
    AlexNet,
    GoogLeNet,
    LeNet5,
    extract_features,
    find_head,
    freeze,
    load_pretrained,
    replace_head,
    resnet18,
    resnet20,
    unfreeze,
)  # fmt: skip
from dagrad.nn import BatchNorm2d, Conv2d, Linear, ReLU, Sequential, StateDictError
from tests.models.test_zoo import close, torchvision_models

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def save(state, path):
    """A torch state dict as a .safetensors file (safetensors.torch) or a .npz file (NumPy arrays)."""
    if path.suffix == ".safetensors":
        safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        np.savez(path, **{k: v.numpy() for k, v in state.items()})
    return path


@pytest.fixture(scope="module")
def resnet18_files(tmp_path_factory):
    """A torchvision ResNet-18 with running statistics from two training batches, saved in both formats."""
    ref = torchvision_models().resnet18()
    with torch.no_grad():
        ref(torch.randn(4, 3, 32, 32))
        ref(torch.randn(4, 3, 32, 32) * 2 + 1)
    ref.eval()
    folder = tmp_path_factory.mktemp("weights")
    files = [save(ref.state_dict(), folder / name) for name in ("resnet18.safetensors", "resnet18.npz")]
    return ref, files


# ---- load_pretrained ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [0, 1], ids=["safetensors", "npz"])
def test_torchvision_resnet18_weights_give_torchs_outputs(resnet18_files, fmt):
    ref, files = resnet18_files
    model = resnet18()
    keys = load_pretrained(model, files[fmt])
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    assert int(model.bn1.num_batches_tracked.data) == 2
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model.eval()
    with dg.no_grad():
        out = model(dg.tensor(x))
    with torch.no_grad():
        close(out, ref(torch.from_numpy(x)))


def test_torchvision_vgg11_bn_weights_give_torchs_outputs(tmp_path):
    """The torchvision model is built on the meta device and filled with uniform draws (its own initialisation of
    133M values takes seconds); BatchNorm statistics made non-trivial by one training batch."""
    tvm = torchvision_models()
    with torch.device("meta"):
        ref = tvm.vgg11_bn(init_weights=False)
    ref = ref.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-0.05, 0.05, generator=gen)
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.weight.add_(1)
        ref(torch.randn(4, 3, 32, 32, generator=gen))
        x = torch.randn(2, 3, 32, 32, generator=gen)
        expected = ref.eval()(x)
    path = save(ref.state_dict(), tmp_path / "vgg11_bn.safetensors")
    del ref  # one copy of its 133M values fewer from here on
    model = VGG(11, batch_norm=True, init_weights=False)
    load_pretrained(model, path)
    model.eval()
    with dg.no_grad():
        close(model(dg.tensor(x.numpy())), expected)


def test_strict_false_reports_what_did_not_match(resnet18_files, tmp_path):
    _, files = resnet18_files
    state = dict(np.load(files[1]))
    state.pop("fc.bias")
    state["extra.weight"] = np.zeros(3, np.float32)
    path = tmp_path / "partial.npz"
    np.savez(path, **state)
    model = resnet18()
    before = model.fc.bias.data.copy()
    keys = load_pretrained(model, path, strict=False)
    assert keys.missing_keys == ["fc.bias"] and keys.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(model.fc.bias.data, before)
    np.testing.assert_array_equal(model.fc.weight.data, state["fc.weight"])
    with pytest.raises(StateDictError, match=r"load_pretrained: .*partial\.npz(.|\n)*missing keys: \['fc.bias'\]"):
        load_pretrained(resnet18(), path)


def test_shape_mismatch_names_the_key_and_both_shapes(resnet18_files):
    _, files = resnet18_files
    with pytest.raises(StateDictError, match=r"fc.weight: expected shape \(10, 512\), received \(1000, 512\)"):
        load_pretrained(resnet18(num_classes=10), files[0], strict=False)


def test_unreadable_files(tmp_path):
    with pytest.raises(ArgumentError, match=r"load_pretrained: expected a \.safetensors or \.npz file.*pickle"):
        load_pretrained(resnet20(), tmp_path / "resnet.pth")
    with pytest.raises(CheckpointNotFoundError, match="load_pretrained: expected a weights file"):
        load_pretrained(resnet20(), tmp_path / "absent.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match=r"load_pretrained: expected a readable \.safetensors file"):
        load_pretrained(resnet20(), tmp_path / "bad.safetensors")
    np.savez(tmp_path / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"load_pretrained: expected a readable \.npz file"):
        load_pretrained(resnet20(), tmp_path / "objects.npz")


# ---- freeze / unfreeze -----------------------------------------------------------------------------------------------
def test_freeze_stops_gradients_and_unfreeze_restores_them():
    model = resnet20()
    assert freeze(model.layer1) is model.layer1
    assert all(not p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    model(dg.rand(2, 3, 16, 16)).sum().backward()
    assert all(p.grad is None for p in model.layer1.parameters())
    assert all(p.grad is not None for p in model.layer3.parameters())
    assert unfreeze(model.layer1) is model.layer1
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ArgumentError, match="freeze: expected a dagrad.nn.Module, received Tensor"):
        freeze(dg.zeros(2))


def test_frozen_batchnorm_keeps_updating_statistics_until_eval():
    """As torch: requires_grad says nothing about BatchNorm's running statistics, training mode does."""
    model = freeze(Sequential(Conv2d(1, 2, 3), BatchNorm2d(2)))
    x = dg.randn(4, 1, 6, 6) + 3
    model(x)
    stats = model[1].running_mean.data.copy()
    assert np.abs(stats).max() > 0
    model.eval()
    model(x)
    np.testing.assert_array_equal(model[1].running_mean.data, stats)


# ---- replace_head ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, head",
    [(lambda: resnet20(), "fc"), (lambda: LeNet5(), "output"), (lambda: MLP(784, (32,)), "layers.2"),
     (lambda: VGG([8, "M"], num_classes=3), "classifier.6"), (lambda: AlexNet(num_classes=3), "classifier.6"),
     (lambda: GoogLeNet(num_classes=3, aux_logits=True), "fc")],
    ids=["resnet20", "lenet5", "mlp", "vgg", "alexnet", "googlenet"],
)  # fmt: skip
def test_replace_head_swaps_the_classification_layer(build, head):
    model = freeze(build())
    assert find_head(model) == head
    old = model.get_submodule(head)
    body = {name: p for name, p in model.named_parameters() if not name.startswith((head + ".", "aux"))}
    assert replace_head(model, 5) is model
    new = model.get_submodule(head)
    assert isinstance(new, Linear) and new is not old
    assert (new.in_features, new.out_features) == (old.in_features, 5)
    assert new.weight.requires_grad and new.bias.requires_grad
    assert model.num_classes == 5 if hasattr(model, "num_classes") else True
    for name, p in model.named_parameters():
        if name in body:
            assert p is body[name] and not p.requires_grad
    if isinstance(model, GoogLeNet):
        assert model.aux1.fc2.out_features == model.aux2.fc2.out_features == 5


def test_replace_head_on_resnet18_keeps_the_order_of_keys_and_trains():
    model = replace_head(freeze(resnet18()), 3)
    assert list(model.state_dict())[-2:] == ["fc.weight", "fc.bias"]
    out = model(dg.rand(2, 3, 32, 32))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert model.fc.weight.grad is not None and model.conv1.weight.grad is None


def test_replace_head_errors():
    with pytest.raises(ArgumentError, match="replace_head: expected num_classes to be a positive int, received 0"):
        replace_head(resnet20(), 0)
    with pytest.raises(ArgumentError, match="replace_head: expected a model with a Linear classification layer"):
        replace_head(Sequential(Conv2d(1, 2, 3), ReLU()), 4)


# ---- extract_features ----------------------------------------------------------------------------------------------
def cifar_batches(n=6, batch_size=4):
    x = np.random.default_rng(2).standard_normal((n, 3, 16, 16)).astype(np.float32)
    y = np.arange(n) % 3
    return x, y, DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_extract_features_takes_the_input_of_the_classifier():
    model = resnet20()
    model(dg.rand(4, 3, 16, 16))  # training mode: running statistics move away from (0, 1)
    x, y, loader = cifar_batches()
    features, labels = extract_features(model, loader)
    assert model.training  # mode restored
    assert features.shape == (6, 64) and isinstance(features, np.ndarray)
    np.testing.assert_array_equal(labels, y)
    model.eval()
    with dg.no_grad():
        h = model.relu(model.bn1(model.conv1(dg.tensor(x))))
        expected = model.avgpool(model.layer3(model.layer2(model.layer1(h)))).flatten(1)
    np.testing.assert_allclose(features, expected.data, rtol=1e-5, atol=1e-6)


def test_extract_features_of_a_named_layer_stops_the_forward_there():
    model = resnet20().eval()
    calls = []
    model.fc.register_forward_hook(lambda m, args, out: calls.append(1))
    x, y, _ = cifar_batches()
    batches = [(x[:4], y[:4]), (dg.tensor(x[4:]), dg.tensor(y[4:]))]  # arrays or Tensors
    features, labels = extract_features(model, batches, layer="layer2")
    assert features.shape == (6, 32 * 8 * 8) and not calls
    with dg.no_grad():
        h = model.layer2(model.layer1(model.relu(model.bn1(model.conv1(dg.tensor(x))))))
    np.testing.assert_allclose(features, h.data.reshape(6, -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, y)
    assert not model.training and not model.layer2._forward_hooks  # mode kept, hook removed


def test_extract_features_errors():
    model = resnet20()
    _, _, loader = cifar_batches()
    with pytest.raises(ArgumentError, match="extract_features: expected layer to name a sub-module of CifarResNet"):
        extract_features(model, loader, layer="layer9")
    with pytest.raises(ArgumentError, match=r"extract_features: expected the loader to yield \(x, y\) pairs"):
        extract_features(model, [dg.rand(2, 3, 8, 8)])
    with pytest.raises(ArgumentError, match="extract_features: expected the loader to yield at least one batch"):
        extract_features(model, [])
    with pytest.raises(ArgumentError, match="expected layer to name a sub-module of CifarResNet, received layer='l"):
        extract_features(model, loader, layer="layer1.0.downsample")  # None in the first stage
    assert model.training and not model.fc._forward_pre_hooks
    with pytest.raises(ArgumentError, match="extract_features: expected a model with a Linear classification layer"):
        extract_features(Sequential(Conv2d(3, 2, 3)), loader)
    aux = GoogLeNet(num_classes=2, aux_logits=True)
    with pytest.raises(ArgumentError, match="extract_features: expected the forward pass to run 'aux1'"):
        extract_features(aux, [(dg.rand(1, 3, 32, 32), [0])], layer="aux1")  # only called in training mode
