"""matmul and friends against PyTorch: every 1-D promotion, batched broadcasting, gradients, double backward, errors."""

import numpy as np
import pytest

import dagrad as dg

torch = pytest.importorskip("torch")


def _run(ours, theirs, shapes, tol: float = 1e-10):
    """Forward values, the gradients of (y * v).sum() and second-order gradients agree with torch (float64)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=tol, atol=tol)
    v = rng.standard_normal(y.shape)
    grads = dg.autograd.grad(y, xs, dg.tensor(v), create_graph=True)
    tgrads = torch.autograd.grad(ty, ts, torch.tensor(v), create_graph=True)
    for g, tg, x in zip(grads, tgrads, xs):
        assert g.shape == x.shape
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=tol, atol=tol)
    s = sum((g * g).sum() for g in grads)
    ts_ = sum((g * g).sum() for g in tgrads)
    hs = dg.autograd.grad(s, xs, allow_unused=True, materialize_grads=True)
    for h, th, x in zip(hs, torch.autograd.grad(ts_, ts, allow_unused=True), xs):
        th = np.zeros(x.shape) if th is None else th.numpy()
        np.testing.assert_allclose(h.data, th, rtol=1e-9, atol=1e-9)


MATMUL_SHAPES = [
    ((4,), (4,)),  # dot: a 0-d result
    ((3,), (3, 5)),  # 1-D @ 2-D
    ((2, 3), (3,)),  # 2-D @ 1-D
    ((2, 3), (3, 4)),
    ((3,), (2, 3, 4)),  # 1-D @ stack
    ((2, 5, 3), (3,)),  # stack @ 1-D
    ((2, 5, 3), (3, 4)),  # stack @ matrix: the folded GEMM
    ((2, 3), (4, 3, 5)),  # matrix @ stack
    ((4, 2, 3), (4, 3, 5)),  # bmm
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims
    ((1, 3, 2, 4), (2, 1, 4, 3)),
]


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES)
def test_matmul_shapes(xs, ys):
    _run(lambda a, b: a @ b, lambda a, b: a @ b, [xs, ys])
    _run(lambda a, b: dg.matmul(a, b), lambda a, b: torch.matmul(a, b), [xs, ys])


def test_matmul_scalar_result():
    y = dg.tensor([1.0, 2.0]) @ dg.tensor([3.0, 4.0])
    assert y.shape == () and y.item() == 11.0


def test_folded_gemm_on_non_contiguous_operands():
    _run(lambda a, b: a.transpose(0, 1) @ b.t(), lambda a, b: a.transpose(0, 1) @ b.t(), [(5, 2, 3), (4, 3)])
    _run(lambda a, b: a @ b.t(), lambda a, b: a @ b.t(), [(2, 5, 3), (4, 3)])


def test_named_products():
    _run(dg.mm, torch.mm, [(2, 3), (3, 4)])
    _run(dg.bmm, torch.bmm, [(2, 2, 3), (2, 3, 4)])
    _run(dg.mv, torch.mv, [(2, 3), (3,)])
    _run(dg.dot, torch.dot, [(3,), (3,)])
    _run(dg.outer, torch.outer, [(3,), (4,)])
    _run(lambda b, x, y: dg.addmm(b, x, y, beta=0.5, alpha=2.0),
         lambda b, x, y: torch.addmm(b, x, y, beta=0.5, alpha=2.0), [(4,), (2, 3), (3, 4)])  # fmt: skip
    _run(lambda a, b: a.mm(b), lambda a, b: a.mm(b), [(2, 3), (3, 4)])


def test_rmatmul_with_an_array():
    w = dg.randn(3, 2, requires_grad=True)
    y = np.ones((4, 3), np.float32) @ w
    assert isinstance(y, dg.Tensor) and y.shape == (4, 2) and y.requires_grad


def test_float32():
    a = np.random.default_rng(1).standard_normal((3, 5, 7)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((7, 4)).astype(np.float32)
    y = dg.tensor(a) @ dg.tensor(b)
    assert y.dtype == dg.float32
    np.testing.assert_allclose(y.data, (torch.tensor(a) @ torch.tensor(b)).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call,message", [
    (lambda: dg.randn(2, 3) @ dg.randn(4, 5),
     r"matmul: expected x.shape\[-1\] == y.shape\[-2\], received \(2, 3\) @ \(4, 5\)"),
    (lambda: dg.randn(3) @ dg.randn(4), r"matmul: expected x.shape\[-1\] == y.shape\[0\], received \(3,\) @ \(4,\)"),
    (lambda: dg.randn(2, 3, 4) @ dg.randn(3, 4, 5), r"matmul: expected batch dimensions that broadcast"),
    (lambda: dg.tensor(1.0) @ dg.randn(3), r"matmul: both arguments need at least 1 dimension"),
    (lambda: dg.mm(dg.randn(2, 3, 4), dg.randn(4, 2)), r"mm: expected x to be 2-D, received shape \(2, 3, 4\)"),
    (lambda: dg.bmm(dg.randn(2, 3, 4), dg.randn(3, 4, 2)), r"bmm: expected equal batch sizes"),
    (lambda: dg.mv(dg.randn(2, 3), dg.randn(3, 1)), r"mv: expected v to be 1-D"),
    (lambda: dg.dot(dg.randn(3), dg.randn(4)), r"dot: expected x.shape\[-1\] == y.shape\[0\]"),
])  # fmt: skip
def test_shape_errors(call, message):
    with pytest.raises(dg.ShapeError, match=message):
        call()


def test_dtype_mismatch():
    with pytest.raises(dg.DtypeError, match="matmul: expected both operands to have the same dtype"):
        dg.randn(2, 3) @ dg.randn(3, 2, dtype=dg.float64)
