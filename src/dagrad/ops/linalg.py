"""Matrix products: matmul (and @), mm, bmm, mv, dot, outer, addmm.

matmul follows NumPy/PyTorch: 1-D @ 1-D is a dot product, a 1-D left operand is a row vector and a 1-D right
operand a column vector (the added dimension is dropped again), and N-D operands are stacks of matrices whose
batch dimensions broadcast. Both gradients are matmuls again (g @ y^T and x^T @ g, with the 1-D promotions undone);
the engine sums broadcast batch dimensions back to each input's shape. A stack times a matrix (the Linear-layer
case) runs as one GEMM over the folded batch, forward and backward, rather than one GEMM per matrix.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make, as_array
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops._util import tsum
from dagrad.ops.sampling import arr


def _fold(x: Any, y: Any) -> Any:
    """x @ y for an N-D x (N > 2) and a 2-D y as one GEMM on x as (batch * rows, k): several times faster than
    NumPy's batched matmul, which does not use BLAS for a broadcast operand (reshape copies a non-contiguous x)."""
    return (x.reshape(-1, x.shape[-1]) @ y).reshape(x.shape[:-1] + y.shape[-1:])


class Matmul(Function):
    """x @ y with NumPy's 1-D promotion and batch broadcasting."""

    __slots__ = ()
    retain = (0, 1)

    def forward(self, x, y):
        if y.ndim == 2 and x.ndim > 2:
            return _fold(x, y)
        return x @ y

    def backward(self, g):
        x, y = self.saved
        xv, yv = x.ndim == 1, y.ndim == 1
        if xv and yv:  # dot product: g is 0-d
            return (g * y if self.needs(0) else None), (g * x if self.needs(1) else None)
        x2 = x.unsqueeze(0) if xv else x
        y2 = y.unsqueeze(1) if yv else y
        g2 = g.unsqueeze(-1) if yv else g
        g2 = g2.unsqueeze(-2) if xv else g2
        gx = gy = None
        if self.needs(0):
            gx = Matmul.apply(g2, y2.mT)
            gx = gx.squeeze(-2) if xv else gx
        if self.needs(1):
            if y2.ndim == 2 and x2.ndim > 2:  # sum over the batch inside one GEMM
                k, n = x2.shape[-1], g2.shape[-1]
                gy = Matmul.apply(x2.reshape(-1, k).mT, g2.reshape(-1, n))
            else:
                gy = Matmul.apply(x2.mT, g2)
            gy = gy.squeeze(-1) if yv else gy
        return gx, gy

    def jvp(self, inputs, out, t):
        x, y = inputs
        return tsum(
            None if t[0] is None else Matmul.apply(t[0], y),
            None if t[1] is None else Matmul.apply(x, t[1]),
        )

    @staticmethod
    def samples():
        mm = lambda T, x, y: x @ y  # noqa: E731
        yield Sample(arr(3, 4), arr(4, 2), torch=mm)
        yield Sample(arr(4), arr(4), torch=mm, name="dot")
        yield Sample(arr(3), arr(2, 3, 2), torch=mm, name="vector-stack")
        yield Sample(arr(2, 3, 4), arr(4), torch=mm, name="stack-vector")
        yield Sample(arr(2, 3, 4), arr(4, 2), torch=mm, name="stack-matrix")
        yield Sample(arr(2, 1, 2, 3), arr(3, 3, 2), torch=mm, name="broadcast")


def _check(op: str, x: Any, y: Any) -> None:
    """Raise the errors PyTorch raises, with both shapes: 0-d operands, dtype mismatch, inner dims."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        bad = y if isinstance(x, Tensor) else x
        raise DtypeError(f"{op}: expected two tensors, received {type(bad).__name__}")
    xs, ys = x.shape, y.shape
    if not xs or not ys:
        raise ShapeError(f"{op}: both arguments need at least 1 dimension, received {xs} @ {ys}")
    if x.dtype != y.dtype:
        raise DtypeError(f"{op}: expected both operands to have the same dtype, received {x.dtype} @ {y.dtype}")
    k = ys[-2] if len(ys) > 1 else ys[0]
    if xs[-1] != k:
        which = "y.shape[-2]" if len(ys) > 1 else "y.shape[0]"
        raise ShapeError(f"{op}: expected x.shape[-1] == {which}, received {xs} @ {ys}")
    for a, b in zip(reversed(xs[:-2]), reversed(ys[:-2])):
        if a != b and a != 1 and b != 1:
            raise ShapeError(
                f"{op}: expected batch dimensions that broadcast, received {xs[:-2]} and {ys[:-2]} in {xs} @ {ys}"
            )


def _ndim(op: str, x: Tensor, name: str, n: int) -> None:
    if x.ndim != n:
        raise ShapeError(f"{op}: expected {name} to be {n}-D, received shape {x.shape}")


def matmul(x: Tensor, y: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched (broadcast) operands."""
    _check("matmul", x, y)
    return Matmul.apply(x, y)


def _fixed_rank(op: str, x: Tensor, y: Tensor, nx: int, ny: int, y_name: str = "y") -> Tensor:
    """Matmul for the fixed-rank forms (mm, mv, dot): check both ranks and the inner sizes, then one product."""
    _ndim(op, x, "x", nx)
    _ndim(op, y, y_name, ny)
    _check(op, x, y)
    return Matmul.apply(x, y)


def mm(x: Tensor, y: Tensor) -> Tensor:
    """(n, k) @ (k, m) -> (n, m); no broadcasting."""
    return _fixed_rank("mm", x, y, 2, 2)


def bmm(x: Tensor, y: Tensor) -> Tensor:
    """(b, n, k) @ (b, k, m) -> (b, n, m); the batch sizes must be equal (no broadcasting)."""
    _ndim("bmm", x, "x", 3)
    _ndim("bmm", y, "y", 3)
    if x.shape[0] != y.shape[0]:
        raise ShapeError(f"bmm: expected equal batch sizes, received {x.shape} @ {y.shape}")
    _check("bmm", x, y)
    return Matmul.apply(x, y)


def mv(x: Tensor, v: Tensor) -> Tensor:
    """(n, k) matrix times (k,) vector -> (n,)."""
    return _fixed_rank("mv", x, v, 2, 1, "v")


def dot(x: Tensor, y: Tensor) -> Tensor:
    """Dot product of two 1-D tensors of equal length (a 0-d tensor)."""
    return _fixed_rank("dot", x, y, 1, 1)


def outer(x: Tensor, y: Tensor) -> Tensor:
    """Outer product of two 1-D tensors: (n,) x (m,) -> (n, m), out[i, j] = x[i] * y[j]."""
    _ndim("outer", x, "x", 1)
    _ndim("outer", y, "y", 1)
    return x.unsqueeze(1) * y


def addmm(input: Tensor, x: Tensor, y: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (x @ y) for 2-D x and y; input broadcasts to the product's shape."""
    p = mm(x, y)
    if alpha != 1:
        p = p * alpha
    if beta == 0:
        return p
    return p + (input if beta == 1 else input * beta)


def _rmatmul(y: Tensor, x: Any) -> Tensor:
    """x @ y for a non-tensor x (an array or nested lists), which becomes a constant tensor of y's dtype."""
    return matmul(x if isinstance(x, Tensor) else _make(as_array(x, y.dtype)), y)


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "addmm"]
TENSOR_METHODS = {
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer, "addmm": addmm,
    "__matmul__": matmul, "__rmatmul__": _rmatmul,
}  # fmt: skip
