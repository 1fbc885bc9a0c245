"""Indexing ops against PyTorch (values and gradients, float64), the scatter-add kernels against numpy.add.at,
view semantics of basic indexing, and error messages."""

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad.ops import indexing
from tests.ops.test_shape import check

RNG = np.random.default_rng(3)
IDX = RNG.integers(0, 4, (5,))
MASK = RNG.random((3, 4)) < 0.5


def both(a):
    """The same index for dagrad (a tensor) and torch."""
    return lambda L: dg.tensor(a) if L is dg else torch.tensor(a)


I5, I5m3, I5m2, M34 = both(IDX), both(IDX % 3), both(IDX % 2), both(MASK)

CASES = [
    ("int", lambda L, x: x[1], (3, 4)),
    ("negative int", lambda L, x: x[-1, -2], (3, 4)),
    ("slices", lambda L, x: x[1:, ::2], (3, 5)),
    ("step and stop", lambda L, x: x[:, 1:4:2], (3, 5)),
    ("None and ellipsis", lambda L, x: x[None, ..., 1], (2, 3, 4)),
    ("ellipsis middle", lambda L, x: x[0, ..., 1:], (2, 3, 4)),
    ("int tensor", lambda L, x: x[I5(L)], (4, 3)),
    ("list", lambda L, x: x[[0, 2, 2, 1]], (4, 3)),
    ("2-d index", lambda L, x: x[L.tensor([[0, 1], [1, 1]])], (3, 2)),
    ("after slice", lambda L, x: x[:, I5(L)], (2, 4)),
    ("separated by a slice", lambda L, x: x[L.tensor([0, 1, 1]), :, L.tensor([2, 0, 2])], (2, 3, 4)),
    ("pairs", lambda L, x: x[I5(L), I5m3(L)], (4, 3)),
    ("bool mask", lambda L, x: x[M34(L)], (3, 4)),
    ("bool rows", lambda L, x: x[L.tensor([True, False, True])], (3, 4)),
    ("bool rows and int", lambda L, x: x[L.tensor([True, False, True]), 2], (3, 4)),
    ("0-d int tensor", lambda L, x: x[L.tensor(1)], (3, 4)),
    ("gather", lambda L, x: x.gather(1, L.tensor([[0, 0, 2], [1, 2, 1]])), (2, 3)),
    ("gather smaller", lambda L, x: L.gather(x, 0, L.tensor([[2, 0], [2, 2]])), (3, 3)),
    ("index_select", lambda L, x: x.index_select(0, I5(L)), (4, 3)),
    ("index_select middle", lambda L, x: L.index_select(x, 1, I5m2(L)), (3, 2, 2)),
    ("scatter_add", lambda L, x, s: x.scatter_add(0, L.tensor([[0, 1, 0], [0, 0, 0]]), s), (2, 3), (2, 3)),
    ("scatter", lambda L, x, s: x.scatter(1, L.tensor([[2, 0], [1, 0]]), s), (2, 3), (2, 2)),
    ("scatter value", lambda L, x: x.scatter(1, L.tensor([[2], [1]]), 0.5), (2, 3)),
    ("index_add", lambda L, x, s: x.index_add(0, I5(L), s), (4, 3), (5, 3)),
    ("index_add alpha", lambda L, x, s: x.index_add(1, I5m3(L), s, alpha=-2.0), (2, 3), (2, 5)),
    ("masked_fill", lambda L, x: x.masked_fill(M34(L), 2.0), (3, 4)),
    ("masked_fill broadcast", lambda L, x: x.masked_fill(L.tensor([True, False, False, True]), -1.0), (3, 4)),
    ("masked_fill tensor value", lambda L, x, v: x.masked_fill(M34(L), v[0]), (3, 4), (1,)),
    ("masked_select", lambda L, x: x.masked_select(M34(L)), (3, 4)),
    ("masked_select broadcast", lambda L, x: L.masked_select(x, L.tensor([True, False, True, True])), (3, 4)),
    ("take_along_dim", lambda L, x: L.take_along_dim(x, L.tensor([[0, 2], [1, 1]]), 1), (2, 3)),
    ("take_along_dim flat", lambda L, x: L.take_along_dim(x, L.tensor([5, 0, 5])), (2, 3)),
    ("take_along_dim broadcast", lambda L, x: x.take_along_dim(L.tensor([[1], [0]]), dim=1), (2, 3)),
]


@pytest.mark.parametrize("name,fn,shapes", [(c[0], c[1], c[2:]) for c in CASES], ids=[c[0] for c in CASES])
def test_against_torch(name, fn, shapes):
    check(fn, *shapes)


def _torch_set(x, key, v):
    y = x * 1.0
    y[key] = v
    return y


def _dg_set(x, key, v):
    y = x * 1.0
    y[key] = v
    return y


SETS = [
    ("row", lambda L: 1, (4,)),
    ("slice", lambda L: (slice(None), slice(1, 3)), (3, 1)),
    ("list repeat", lambda L: [0, 2], (2, 4)),
    ("mask", M34, ()),
    ("pairs", lambda L: (L.tensor([0, 2]), L.tensor([1, 3])), (2,)),
    ("ellipsis", lambda L: Ellipsis, (4,)),
]


@pytest.mark.parametrize("name,key,vshape", SETS, ids=[s[0] for s in SETS])
def test_setitem_gradients(name, key, vshape):
    check(
        lambda L, x, v: _dg_set(x, key(L), v),
        (3, 4),
        vshape,
        torch_fn=lambda L, x, v: _torch_set(x, key(L), v),
    )


def test_setitem_number_and_scalar_tensor():
    x = dg.zeros(2, 3)
    x[0, 1] = 5
    x[1] = dg.tensor(2.0)
    x[:, 2] = dg.tensor([7.0, 8.0])
    assert x.tolist() == [[0.0, 5.0, 7.0], [2.0, 2.0, 8.0]]


def test_index_put_accumulate_matches_torch():
    idx = [0, 2, 0, 0]
    check(
        lambda L, x, v: x.index_put((dg.tensor(idx),), v, accumulate=True),
        (3, 2),
        (4, 2),
        torch_fn=lambda L, x, v: x.index_put((torch.tensor(idx),), v, accumulate=True),
    )


def test_basic_index_is_a_view():
    x = dg.arange(12.0).reshape(3, 4)
    row, elem = x[1], x[2, 3]
    assert row._base is x._base and elem.shape == () and np.shares_memory(elem.data, x.data)
    with dg.no_grad():
        elem.fill_(-1.0)
        row.mul_(0.0)
    assert x[2, 3].item() == -1.0 and x[1].tolist() == [0.0] * 4
    adv = x[[0, 1]]
    assert adv._base is None and not np.shares_memory(adv.data, x.data)


def test_repeated_indices_accumulate_in_backward():
    x = dg.randn(3, dtype=dg.float64, requires_grad=True)
    x[[0, 0, 0, 2]].backward(dg.ones(4, dtype=dg.float64))
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def _reference_index_add(shape, dim, index, src):
    out = np.zeros(shape, src.dtype)
    np.add.at(out, (slice(None),) * dim + (index,), src)
    return out


KERNEL_CASES = [  # (out shape, dim, number of indices): exercises every kernel _index_add picks from
    ((100, 64), 0, 3000),  # rows repeat ~30 times: bincount
    ((1000, 32), 0, 3000),  # a few repeats: rounds of repeat-free adds over sorted rows
    ((5000, 64), 0, 200),  # (almost) no repeats: one fancy-indexed add
    ((20000, 8), 0, 600),  # short rows into a large table: add.at
    ((3, 400, 8), 1, 900),  # along a middle dim: bincount
    ((7, 5), 1, 20),  # small: add.at
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim,n", KERNEL_CASES)
def test_index_add_kernels_match_add_at(shape, dim, n, dtype):
    rng = np.random.default_rng(0)
    index = rng.integers(0, shape[dim], n)
    src = rng.standard_normal(shape[:dim] + (n,) + shape[dim + 1 :]).astype(dtype)
    out = np.zeros(shape, dtype)
    indexing._index_add(out, dim, index, src)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, _reference_index_add(shape, dim, index, src), rtol=tol, atol=tol)


@pytest.mark.parametrize("n", [50, 20000])
def test_scatter_add_and_accumulate_kernels_match_add_at(n):
    rng = np.random.default_rng(1)
    index = rng.integers(0, 30, (n, 3))
    src = rng.standard_normal((n, 3))
    out = np.zeros((30, 3))
    lin = indexing._linear(np, out.shape, 0, index)
    indexing._add_flat(out, lin, src)
    ref = np.zeros((30, 3))
    np.add.at(ref, (index, np.arange(3)), src)
    np.testing.assert_allclose(out, ref, atol=1e-10)
    rows, cols = rng.integers(-30, 30, n), rng.integers(0, 3, n)
    acc = np.zeros((30, 3))
    indexing._accumulate(acc, (rows, cols), src[:, 0])
    ref = np.zeros((30, 3))
    np.add.at(ref, (rows, cols), src[:, 0])
    np.testing.assert_allclose(acc, ref, atol=1e-10)


def test_large_gradients_match_torch():
    """Big enough to take the bincount and sort paths inside backward."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3000, 40))
    idx = rng.integers(0, 3000, 500)
    g = rng.standard_normal((500, 40))
    for select in (lambda L, t, i: t[i], lambda L, t, i: t.index_select(0, i)):
        wd = dg.tensor(w, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        select(dg, wd, dg.tensor(idx)).backward(dg.tensor(g))
        select(torch, wt, torch.tensor(idx)).backward(torch.tensor(g))
        np.testing.assert_allclose(wd.grad.data, wt.grad.numpy(), atol=1e-10)
    x = rng.standard_normal((200, 30))
    gi = rng.integers(0, 200, (400, 30))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    xd.gather(0, dg.tensor(gi)).backward(dg.tensor(g[:400, :30]))
    xt.gather(0, torch.tensor(gi)).backward(torch.tensor(g[:400, :30]))
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize(
    "fn,error,words",
    [
        (lambda x: x[3], dg.ShapeError, ["getitem", "index 3", "size 3"]),
        (lambda x: x[:, [0, 4]], dg.ShapeError, ["getitem", "index 4", "size 4"]),
        (lambda x: x[0, 0, 0], dg.ShapeError, ["getitem", "too many indices"]),
        (lambda x: x[dg.tensor([True, False])], dg.ShapeError, ["getitem", "boolean"]),
        (lambda x: x[dg.tensor([0.5])], dg.DtypeError, ["getitem", "float32"]),
        (lambda x: x["a"], dg.DtypeError, ["getitem", "str"]),
        (lambda x: x.gather(1, dg.tensor([[0, 5]])), dg.ShapeError, ["gather", "index 5", "size 4"]),
        (lambda x: x.gather(1, dg.tensor([[-1]])), dg.ShapeError, ["gather", "index -1"]),
        (lambda x: x.gather(0, dg.tensor([0, 1])), dg.ShapeError, ["gather", "ndim"]),
        (lambda x: x.gather(1, dg.tensor([[0.0]])), dg.DtypeError, ["gather", "integer"]),
        (lambda x: x.gather(2, dg.tensor([[0]])), dg.ShapeError, ["gather", "dim 2"]),
        (lambda x: x.index_select(0, dg.tensor([3])), dg.ShapeError, ["index_select", "index 3", "size 3"]),
        (lambda x: x.index_select(0, dg.tensor([[0]])), dg.ShapeError, ["index_select", "1-D"]),
        (lambda x: x.scatter_add(0, dg.tensor([[7]]), dg.ones(1, 1)), dg.ShapeError, ["scatter_add", "index 7"]),
        (lambda x: x.scatter(0, dg.tensor([[0]])), dg.ShapeError, ["scatter", "exactly one"]),
        (lambda x: x.index_add(0, dg.tensor([0]), dg.ones(2, 4)), dg.ShapeError, ["index_add", "(1, 4)", "(2, 4)"]),
        (lambda x: x.masked_fill(dg.tensor([1, 0, 1, 0]), 0.0), dg.DtypeError, ["masked_fill", "boolean"]),
        (lambda x: x.masked_fill(dg.tensor([True, False]), 0.0), dg.ShapeError, ["masked_fill", "(2,)", "(3, 4)"]),
        (lambda x: x.masked_fill_(dg.tensor([[True]] * 6), 0.0), dg.ShapeError, ["masked_fill_", "(6, 1)"]),
        (lambda x: x.masked_fill(dg.tensor([True] * 4), dg.ones(2)), dg.ShapeError, ["masked_fill", "0-d"]),
        (lambda x: x.masked_select(dg.tensor([True, False])), dg.ShapeError, ["masked_select", "broadcast"]),
        (lambda x: x.take_along_dim(dg.tensor([[0], [0]]), 1), dg.ShapeError, ["take_along_dim", "broadcast"]),
        (lambda x: x.__setitem__(5, 1.0), dg.ShapeError, ["setitem", "index 5", "size 3"]),
        (lambda x: x.__setitem__(0, dg.ones(3)), dg.ShapeError, ["setitem", "broadcast"]),
        (lambda x: x.index_put((dg.tensor([9]),), dg.ones(4), True), dg.ShapeError, ["index_put", "index 9"]),
    ],
)
def test_errors_name_the_op_the_index_and_the_size(fn, error, words):
    x = dg.randn(3, 4)
    with pytest.raises(error) as e:
        fn(x)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_iteration_and_unbind_stop_at_the_end():
    x = dg.randn(3, 2)
    assert [r.tolist() for r in x] == x.tolist() == [r.tolist() for r in x.unbind()]
