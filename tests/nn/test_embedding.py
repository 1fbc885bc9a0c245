"""Embedding against PyTorch: lookups, weight gradients (repeats, padding_idx, scale_grad_by_freq), max_norm,
double backward, init, from_pretrained, repr and errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.nn.embedding import Embedding
from dagrad.ops.embedding import embedding

torch = pytest.importorskip("torch")
TOL = {np.float64: 1e-6, np.float32: 1e-4}

CASES = [  # kwargs of both Embedding classes, index shape
    ({}, (4, 7)),
    ({"padding_idx": 2}, (3, 5)),
    ({"padding_idx": -1}, (6,)),
    ({"scale_grad_by_freq": True}, (5, 6)),
    ({"padding_idx": 0, "scale_grad_by_freq": True}, (2, 3, 4)),
    ({"max_norm": 1.0}, (4, 5)),
    ({"max_norm": 2.0, "norm_type": 1.0}, (8,)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kwargs,shape", CASES, ids=[str(c) for c in CASES])
def test_embedding_matches_torch(kwargs, shape, dtype):
    t = torch.nn.Embedding(10, 20, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    m = Embedding(10, 20, **kwargs).to(dtype)
    assert m.extra_repr() == t.extra_repr() and m.padding_idx == t.padding_idx
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 10, shape)
    idx.flat[:3] = 2  # repeats, and the padding index where there is one
    y, ty = m(dg.tensor(idx)), t(torch.tensor(idx))
    assert y.shape == shape + (20,) and y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=TOL[dtype])
    np.testing.assert_allclose(m.weight.data, t.weight.detach().numpy(), rtol=TOL[dtype])  # after max_norm
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.data, t.weight.grad.numpy(), rtol=TOL[dtype], atol=TOL[dtype])


def test_large_batch_gradient_matches_torch():
    """Many repeats of few rows (the scatter-add's hard case) in float32."""
    t = torch.nn.Embedding(50, 32)
    m = Embedding(50, 32)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    idx = np.random.default_rng(1).integers(0, 50, (64, 40))
    g = np.random.default_rng(2).standard_normal((64, 40, 32)).astype(np.float32)
    m(dg.tensor(idx)).backward(dg.tensor(g))
    t(torch.tensor(idx)).backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.data, t.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_double_backward_matches_torch():
    rng = np.random.default_rng(3)
    w, c = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))
    idx = np.array([1, 3, 1, 5])
    wd, wt = dg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    (gd,) = dg.autograd.grad((embedding(dg.tensor(idx), wd) ** 3 * dg.tensor(c)).sum(), [wd], create_graph=True)
    (gt,) = torch.autograd.grad(
        (torch.nn.functional.embedding(torch.tensor(idx), wt) ** 3 * torch.tensor(c)).sum(), [wt], create_graph=True
    )
    (hd,) = dg.autograd.grad((gd * gd).sum(), [wd])
    (ht,) = torch.autograd.grad((gt * gt).sum(), [wt])
    np.testing.assert_allclose(hd.data, ht.numpy(), rtol=1e-10)


def test_init_padding_row_and_from_pretrained():
    m = Embedding(1000, 16, padding_idx=3)
    assert m.weight.dtype == dg.float32 and m.weight.requires_grad
    assert not m.weight.data[3].any()
    assert abs(m.weight.data.std() - 1) < 0.05 and abs(m.weight.data.mean()) < 0.05
    table = np.arange(12.0).reshape(4, 3)
    frozen = Embedding.from_pretrained(dg.tensor(table))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(dg.tensor([2, 0])).data, table[[2, 0]])
    assert Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert list(m.state_dict()) == ["weight"]


def test_padding_row_stays_put_under_training():
    m = Embedding(5, 2, padding_idx=0)
    m.weight.data[0] = 1.5
    m(dg.tensor([[0, 1, 0, 2]])).sum().backward()
    assert not m.weight.grad.data[0].any() and m.weight.grad.data[1].tolist() == [1, 1]


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: Embedding(10, 3)(dg.tensor([1, 10])), dg.ShapeError,
         "embedding: index 10 is out of range for 10 embeddings (expected 0..9)"),
        (lambda: Embedding(10, 3)(dg.tensor([1.0, 2.0])), dg.DtypeError,
         "embedding: expected integer indices, received dtype float32"),
        (lambda: Embedding(10, 3, padding_idx=10), ArgumentError,
         "Embedding: expected padding_idx in -10..9, received padding_idx=10"),
        (lambda: Embedding(0, 3), ArgumentError,
         "Embedding: expected num_embeddings to be a positive int, received num_embeddings=0"),
        (lambda: Embedding(4, 3, sparse=True), ArgumentError, "Embedding: sparse gradients are not supported"),
        (lambda: embedding(dg.tensor([0]), dg.randn(3)), dg.ShapeError,
         "embedding: expected a 2-D weight (num_embeddings, embedding_dim), received (3,)"),
    ],
)  # fmt: skip
def test_errors_name_the_layer(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
