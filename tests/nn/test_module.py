"""Module, Parameter and containers: registration, traversal, modes, state dicts, hooks."""

import copy

import numpy as np
import pytest

import dagrad as dg
from dagrad import nn


class Affine(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(dg.randn(n_out, n_in))
        self.bias = nn.Parameter(dg.zeros(n_out))
        self.register_buffer("calls", dg.zeros(1))
        self.register_buffer("scratch", dg.zeros(2), persistent=False)

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(Affine(3, 4), Affine(4, 2))
        self.head = Affine(2, 1)


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.weight", "head.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "body", "body.0", "body.1", "head"]
    assert [n for n, _ in net.named_children()] == ["body", "head"]
    assert sum(p.numel() for p in net.parameters()) == 3 * 4 + 4 + 4 * 2 + 2 + 2 + 1
    assert all(p.requires_grad for p in net.parameters())
    assert net.get_submodule("body.1") is net.body[1]
    assert net.get_parameter("head.bias") is net.head.bias


def test_shared_parameter_is_listed_once():
    shared = Affine(2, 2)
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.parameters())) == 2


def test_state_dict_names_and_buffers():
    net = Net()
    keys = list(net.state_dict())
    assert "body.0.calls" in keys and "body.0.scratch" not in keys
    assert all(not t.requires_grad for t in net.state_dict().values())


def test_load_state_dict_round_trip_from_numpy():
    a, b = Net(), Net()
    b.load_state_dict({k: v.numpy() for k, v in a.state_dict().items()})
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


def test_load_state_dict_reports_missing_unexpected_and_shapes():
    net = Net()
    sd = net.state_dict()
    sd.pop("head.bias")
    sd["extra.weight"] = dg.zeros(1)
    sd["body.0.weight"] = dg.zeros(5, 5)
    with pytest.raises(nn.StateDictError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: ['head.bias']" in msg
    assert "unexpected keys: ['extra.weight']" in msg
    assert "size mismatch for body.0.weight: expected shape (4, 3), received (5, 5)" in msg


def test_load_state_dict_non_strict_returns_keys():
    net = Net()
    sd = net.state_dict()
    sd.pop("head.bias")
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.bias"] and res.unexpected_keys == []


def test_train_eval_and_requires_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_forward_backward_and_zero_grad():
    layer = Affine(3, 2)
    layer(dg.randn(5, 3)).sum().backward()
    assert layer.weight.grad.shape == (2, 3)
    np.testing.assert_allclose(layer.bias.grad.numpy(), [5.0, 5.0])
    layer.zero_grad()
    assert layer.weight.grad is None


def test_forward_hooks_and_removal():
    layer = Affine(3, 2)
    seen = []
    h = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    out = layer(dg.randn(4, 3))
    assert seen == [(4, 2)]
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(layer.bias.detach().numpy(), (4, 2)))
    h.remove()
    pre.remove()
    layer(dg.randn(4, 3))
    assert seen == [(4, 2)]


def test_full_backward_hook_sees_grad_input_and_output():
    layer = Affine(3, 2)
    x = dg.randn(4, 3, requires_grad=True)
    got = {}

    def hook(module, grad_input, grad_output):
        got["in"], got["out"] = grad_input, grad_output

    layer.register_full_backward_hook(hook)
    layer(x).sum().backward()
    assert got["out"][0].shape == (4, 2)
    np.testing.assert_allclose(got["in"][0].numpy(), x.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), np.ones((4, 2)) @ layer.weight.detach().numpy(), rtol=1e-6)


def test_apply_and_dtype_conversion():
    net = Net()
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and visited.count("Affine") == 3
    net.double()
    assert all(p.dtype == dg.float64 for p in net.parameters())


def test_containers():
    ml = nn.ModuleList([Affine(2, 2) for _ in range(3)])
    ml.append(Affine(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    md = nn.ModuleDict({"a": Affine(1, 1)})
    md["b"] = Affine(1, 1)
    assert list(md.keys()) == ["a", "b"] and len(list(md.parameters())) == 4
    seq = nn.Sequential(Affine(3, 4), Affine(4, 2))
    assert isinstance(seq[-1], Affine) and len(seq[:1]) == 1
    with pytest.raises(IndexError, match="index 5 is out of range for 2 modules"):
        seq[5]
    pl = nn.ParameterList([dg.zeros(2), dg.ones(3)])
    assert [p.shape for p in pl] == [(2,), (3,)]


def test_deepcopy_and_repr():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.body[0].weight is not net.body[0].weight
    np.testing.assert_array_equal(clone.body[0].weight.detach().numpy(), net.body[0].weight.detach().numpy())
    text = repr(net)
    assert "(body): Sequential(" in text and "params" in text


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.zeros(1))

    with pytest.raises(dg.DagradError, match=r"super\(\).__init__\(\)"):
        Bad()
