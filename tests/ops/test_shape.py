"""Shape ops against PyTorch (values and gradients, float64), view semantics, and error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import dagrad as dg


def check(fn, *shapes, torch_fn=None):
    """fn(lib, *xs) with lib = dagrad and lib = torch on the same float64 inputs: the outputs (a tensor or a tuple)
    and the gradients of sum(out * w) for random w must match."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(dg, *xs), (torch_fn or fn)(torch, *ts)
    outs, refs = (list(out), list(ref)) if isinstance(ref, (tuple, list)) else ([out], [ref])
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert o.shape == tuple(r.shape)
        np.testing.assert_allclose(o.data, r.detach().numpy(), rtol=0, atol=1e-12)
    ws = [rng.standard_normal(tuple(r.shape)) for r in refs]
    ours = dg.autograd.grad(outs, xs, [dg.tensor(w) for w in ws], allow_unused=True)
    theirs = torch.autograd.grad(refs, ts, [torch.tensor(w) for w in ws], allow_unused=True)
    for g, tg, a in zip(ours, theirs, arrays):
        g = np.zeros(a.shape) if g is None else g.data
        tg = np.zeros(a.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


CASES = [
    ("reshape infer", lambda L, x: x.reshape(3, -1), (2, 3, 4)),
    ("reshape tuple", lambda L, x: x.reshape((4, 6)), (2, 3, 4)),
    ("view", lambda L, x: x.view(-1), (2, 3)),
    ("view of transposed", lambda L, x: x.t().reshape(6), (2, 3)),
    ("view_as", lambda L, x, y: x.view_as(y) * y, (2, 3), (3, 2)),
    ("reshape_as", lambda L, x, y: x.reshape_as(y) + y, (6,), (3, 2)),
    ("transpose", lambda L, x: x.transpose(0, 2), (2, 3, 4)),
    ("transpose negative", lambda L, x: x.transpose(-1, -2), (2, 3, 4)),
    ("swapaxes", lambda L, x: x.swapaxes(0, 1), (2, 3)),
    ("permute", lambda L, x: x.permute(1, 2, 0), (2, 3, 4)),
    ("permute tuple", lambda L, x: x.permute((2, 0, 1)), (2, 3, 4)),
    ("t", lambda L, x: x.t(), (2, 3)),
    ("t 1-d", lambda L, x: x.t(), (3,)),
    ("T", lambda L, x: x.T, (2, 3)),
    ("mT", lambda L, x: x.mT, (4, 2, 3)),
    ("squeeze all", lambda L, x: x.squeeze(), (1, 3, 1, 2)),
    ("squeeze dim", lambda L, x: x.squeeze(2), (1, 3, 1, 2)),
    ("squeeze dim not 1", lambda L, x: x.squeeze(1), (1, 3, 1, 2)),
    ("squeeze dims", lambda L, x: x.squeeze((0, 1, -2)), (1, 3, 1, 2)),
    ("unsqueeze", lambda L, x: x.unsqueeze(0), (3, 2)),
    ("unsqueeze last", lambda L, x: x.unsqueeze(-1), (3, 2)),
    ("unsqueeze middle", lambda L, x: L.unsqueeze(x, -2), (3, 2)),
    ("flatten", lambda L, x: x.flatten(), (2, 3, 4)),
    ("flatten range", lambda L, x: L.flatten(x, 1, 2), (2, 3, 4, 5)),
    ("flatten 0-d", lambda L, x: x.flatten(), ()),
    ("unflatten", lambda L, x: x.unflatten(1, (3, 4)), (2, 12)),
    ("unflatten infer", lambda L, x: x.unflatten(-1, (-1, 2)), (2, 12)),
    ("movedim", lambda L, x: L.movedim(x, 0, -1), (2, 3, 4)),
    ("movedim many", lambda L, x: x.movedim((0, 1), (2, 0)), (2, 3, 4)),
    ("cat", lambda L, x, y: L.cat([x, y]), (2, 3), (4, 3)),
    ("cat dim", lambda L, x, y, z: L.cat((x, y, z), dim=-1), (2, 3), (2, 1), (2, 2)),
    ("cat same input", lambda L, x: L.cat([x, x * 2, x], 1), (2, 3)),
    ("concatenate", lambda L, x, y: L.concatenate([x, y], 0), (2, 3), (1, 3)),
    ("stack", lambda L, x, y: L.stack([x, y]), (2, 3), (2, 3)),
    ("stack last", lambda L, x, y: L.stack([x, y], dim=-1), (2, 3), (2, 3)),
    ("hstack", lambda L, x, y: L.hstack([x, y]), (2, 3), (2, 1)),
    ("vstack", lambda L, x, y: L.vstack([x, y]), (3,), (2, 3)),
    ("split size", lambda L, x: x.split(2), (5, 3)),
    ("split sections", lambda L, x: L.split(x, [1, 3, 1], dim=1), (2, 5)),
    ("chunk", lambda L, x: x.chunk(3), (5, 2)),
    ("chunk fewer", lambda L, x: x.chunk(4, dim=1), (2, 6)),
    ("chunk more than size", lambda L, x: x.chunk(5), (3, 2)),
    ("unbind", lambda L, x: x.unbind(1), (2, 3)),
    ("narrow", lambda L, x: x.narrow(1, 1, 2), (2, 4)),
    ("narrow negative start", lambda L, x: L.narrow(x, 0, -2, 2), (4, 2)),
    ("flip", lambda L, x: x.flip(0), (3, 4)),
    ("flip dims", lambda L, x: L.flip(x, (0, 2)), (2, 3, 4)),
    ("roll", lambda L, x: x.roll(2, 1), (3, 4)),
    ("roll dims", lambda L, x: L.roll(x, (1, -1), (0, 1)), (3, 4)),
    ("roll flat", lambda L, x: x.roll(-3), (3, 4)),
    ("repeat", lambda L, x: x.repeat(2, 3), (2, 3)),
    ("repeat new dims", lambda L, x: x.repeat(2, 1, 2), (3,)),
    ("tile", lambda L, x: x.tile((2,)), (2, 3)),
    ("repeat_interleave", lambda L, x: x.repeat_interleave(2), (2, 3)),
    ("repeat_interleave dim", lambda L, x: x.repeat_interleave(3, dim=1), (2, 3)),
    ("select", lambda L, x: x.select(1, -1), (2, 3)),
]


@pytest.mark.parametrize("name,fn,shapes", [(c[0], c[1], c[2:]) for c in CASES], ids=[c[0] for c in CASES])
def test_against_torch(name, fn, shapes):
    check(fn, *shapes)


def test_repeat_interleave_tensor_repeats():
    reps = [1, 0, 2]
    check(
        lambda L, x: x.repeat_interleave(dg.tensor(reps), dim=0),
        (3, 2),
        torch_fn=lambda L, x: x.repeat_interleave(torch.tensor(reps), dim=0),
    )


PADS = [
    ((2, 3, 4, 5), (1, 2), "constant"),
    ((2, 3, 4, 5), (1, 2, 0, 3), "constant"),
    ((2, 3, 4, 5), (2, 1, 3, 2), "reflect"),
    ((2, 3, 4, 5), (2, 1, 3, 2), "replicate"),
    ((2, 3, 4, 5), (2, 1, 3, 2), "circular"),
    ((2, 3, 5), (4, 3), "reflect"),
    ((2, 3, 5), (-1, 2), "constant"),
]


@pytest.mark.parametrize("shape,pad,mode", PADS, ids=[f"{m}{p}" for _, p, m in PADS])
def test_pad(shape, pad, mode):
    check(
        lambda L, x: dg.pad(x, pad, mode=mode),
        shape,
        torch_fn=lambda L, x: TF.pad(x, pad, mode=mode),
    )


def test_pad_value():
    check(
        lambda L, x: dg.pad(x, (1, 1, 2, 0), value=-2.5),
        (2, 3),
        torch_fn=lambda L, x: TF.pad(x, (1, 1, 2, 0), value=-2.5),
    )


def test_reshape_views_share_memory_and_copies_do_not():
    x = dg.arange(12.0)
    v = x.view(3, 4)
    assert v._base is x and np.shares_memory(v.data, x.data)
    v.data[0, 0] = 100.0
    assert x[0].item() == 100.0
    c = v.t().reshape(12)  # a copy: NumPy cannot view a transposed array flat
    assert c._base is None and not np.shares_memory(c.data, x.data)
    assert v.t()._base is x and v.unsqueeze(0)._base is x and v.squeeze()._base is x


def test_unchanged_shapes_return_the_tensor():
    x = dg.randn(3, 4)
    assert x.reshape(3, 4) is x and x.squeeze() is x and x.squeeze(0) is x and dg.cat([x]) is x


def test_split_pieces_are_views():
    x = dg.arange(10.0)
    a, b = x.split([4, 6])
    assert a._base is x and b._base is x
    with dg.no_grad():
        b.fill_(0.0)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] + [0.0] * 6


def test_copies_do_not_alias():
    x = dg.arange(6.0).reshape(2, 3)
    for y in (x.flip(0), x.roll(1), x.repeat(1, 1), dg.pad(x, (1, 1)), dg.cat([x, x]), dg.stack([x])):
        assert y._base is None and not np.shares_memory(y.data, x.data)


def test_cat_promotes_dtypes_and_casts_gradients_back():
    a = dg.randn(2, dtype=dg.float32, requires_grad=True)
    b = dg.randn(3, dtype=dg.float64, requires_grad=True)
    c = a.exp()
    y = dg.cat([c, b])
    assert y.dtype == dg.float64
    (ga,) = dg.autograd.grad(y, [c], dg.ones(5, dtype=dg.float64))
    assert ga.dtype == dg.float32


@pytest.mark.parametrize(
    "fn,words",
    [
        (lambda x: x.reshape(5, 2), ["reshape", "size 12", "(3, 4)"]),
        (lambda x: x.reshape(-1, -1), ["reshape"]),
        (lambda x: x.transpose(0, 3), ["transpose", "3"]),
        (lambda x: x.permute(0, 0), ["permute"]),
        (lambda x: x.permute(1, 0, 2), ["permute"]),
        (lambda x: x.squeeze(2), ["squeeze", "dim 2", "2 dimensions"]),
        (lambda x: x.unsqueeze(3), ["unsqueeze", "dim 3"]),
        (lambda x: x.flatten(1, 0), ["flatten", "start_dim"]),
        (lambda x: x.unflatten(1, (3, 2)), ["unflatten", "(3, 2)", "4"]),
        (lambda x: dg.cat([x, dg.zeros(2, 3)], 1), ["cat", "(3, 4)", "(2, 3)"]),
        (lambda x: dg.cat([], 0), ["cat", "non-empty"]),
        (lambda x: dg.stack([x, x.t()]), ["stack"]),
        (lambda x: x.split([1, 1]), ["split", "sum to the size 3"]),
        (lambda x: x.chunk(0), ["chunk", "positive"]),
        (lambda x: x.narrow(1, 2, 3), ["narrow", "start 2", "length 3", "size 4"]),
        (lambda x: dg.pad(x, (1, 2, 3)), ["pad", "even"]),
        (lambda x: dg.pad(x, (4, 0), mode="reflect"), ["pad", "reflect", "size 4"]),
        (lambda x: dg.pad(x, (1, 0), mode="wrap"), ["pad", "'wrap'"]),
        (lambda x: x.repeat(2), ["repeat", "at least"]),
        (lambda x: x.roll((1, 2), 0), ["roll", "shifts"]),
        (lambda x: x.t().mT.t().reshape(2, 2, 3).t(), ["t:", "at most 2"]),
        (lambda x: x.repeat_interleave(dg.tensor([1, 2]), dim=0), ["repeat_interleave", "size 3"]),
    ],
)
def test_errors_name_the_op_and_the_shapes(fn, words):
    x = dg.randn(3, 4)
    with pytest.raises(dg.ShapeError) as e:
        fn(x)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_double_backward_through_cat_and_pad():
    x = dg.randn(2, 3, dtype=dg.float64, requires_grad=True)
    y = dg.pad(dg.cat([x, x * x], 0), (1, 1), mode="reflect")
    (g,) = dg.autograd.grad(y, [x], dg.ones(*y.shape, dtype=dg.float64), create_graph=True)
    (gg,) = dg.autograd.grad(g, [x], dg.ones(2, 3, dtype=dg.float64))
    xt = torch.tensor(x.data, requires_grad=True)
    yt = TF.pad(torch.cat([xt, xt * xt], 0), (1, 1), mode="reflect")
    (gt,) = torch.autograd.grad(yt, [xt], torch.ones(yt.shape, dtype=torch.float64), create_graph=True)
    (ggt,) = torch.autograd.grad(gt, [xt], torch.ones(2, 3, dtype=torch.float64))
    np.testing.assert_allclose(g.data, gt.detach().numpy())
    np.testing.assert_allclose(gg.data, ggt.numpy())
