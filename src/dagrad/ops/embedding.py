"""embedding: rows of a (num_embeddings, embedding_dim) weight looked up by integer indices of any shape.

Forward is one gather (take along rows); its gradient is a scatter-add of g's rows into a zero (V, D) matrix
(EmbeddingGrad, as torch's embedding_dense_backward), where repeated indices add up, the padding_idx row gets
no gradient and scale_grad_by_freq divides each row's gradient by how often its index occurs in the batch.
EmbeddingGrad is linear in g; its own gradient is a gather again, so double backward works.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.function import Function, Sample, mark_modified
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.ops.arithmetic import Mul
from dagrad.ops.indexing import _index_add
from dagrad.ops.sampling import arr, ints


class Embedding(Function):
    """weight[indices]: (V, D) weight, integer indices of shape I -> output I + (D,)."""

    __slots__ = ("num_weights", "padding_idx", "scale_grad_by_freq")

    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        self.cache = indices
        self.num_weights, self.padding_idx, self.scale_grad_by_freq = weight.shape[0], padding_idx, scale_grad_by_freq
        rows = namespace(weight).take(weight, indices.reshape(-1), axis=0)
        return rows.reshape(indices.shape + weight.shape[1:])

    def backward(self, g):
        gw = EmbeddingGrad.apply(
            g, self.cache, num_weights=self.num_weights, padding_idx=self.padding_idx,
            scale_grad_by_freq=self.scale_grad_by_freq,
        )  # fmt: skip
        return gw, None

    def jvp(self, inputs, out, t):
        return Embedding.apply(t[0], self.cache)

    @staticmethod
    def samples():
        # padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the derivative),
        # so they are checked through EmbeddingGrad's samples and against torch in tests/nn/test_embedding.py.
        torch = lambda T, w, i, **kw: T.nn.functional.embedding(i, w, **kw)  # noqa: E731
        call = lambda w, i, **kw: embedding(i, w, **kw)  # noqa: E731
        yield Sample(arr(5, 3), ints(5, 2, 3), call=call, torch=torch)
        yield Sample(arr(4, 2), ints(4, 7), call=call, torch=torch, name="1-D indices")


class EmbeddingGrad(Function):
    """The (num_weights, D) gradient of an embedding lookup: g's rows (shape I + (D,)) added at their indices.

    Linear in g: its vjp gathers rows again (times the padding / frequency scale), its jvp is itself.
    """

    __slots__ = ("params",)

    def forward(self, g, indices, num_weights, padding_idx=None, scale_grad_by_freq=False):
        xp = namespace(g)
        self.params = {"num_weights": num_weights, "padding_idx": padding_idx, "scale_grad_by_freq": scale_grad_by_freq}
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, g.shape[-1])
        scale = None
        if scale_grad_by_freq:
            scale = 1.0 / xp.bincount(flat, minlength=num_weights)[flat]
        if padding_idx is not None:
            keep = flat != padding_idx
            scale = keep if scale is None else scale * keep
        if scale is not None:
            scale = scale.astype(g.dtype)[:, None]
            rows = rows * scale
            scale = scale.reshape(indices.shape + (1,))
        self.cache = (indices, scale)
        out = xp.zeros((num_weights, g.shape[-1]), g.dtype)
        _index_add(out, 0, flat, rows)
        return out

    def backward(self, gg):
        indices, scale = self.cache
        rows = Embedding.apply(gg, indices)
        return rows if scale is None else Mul.apply(rows, scale)

    def jvp(self, inputs, out, t):
        return EmbeddingGrad.apply(t[0], self.cache[0], **self.params)

    @staticmethod
    def samples():
        def torch(T, g, i, num_weights, padding_idx=None, scale_grad_by_freq=False):
            pad = -1 if padding_idx is None else padding_idx
            return T.ops.aten.embedding_dense_backward(g, i, num_weights, pad, scale_grad_by_freq)

        yield Sample(arr(2, 3, 4), ints(5, 2, 3), num_weights=5, torch=torch)
        yield Sample(arr(6, 2), ints(3, 6), num_weights=3, padding_idx=0, torch=torch, name="padding")
        # no torch= here: torch's derivative of embedding_dense_backward ignores scale_grad_by_freq
        yield Sample(arr(6, 2), ints(3, 6), num_weights=3, padding_idx=2, scale_grad_by_freq=True, name="by-freq")


def _renorm(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale the rows of weight that indices use down to norm max_norm, in place (as torch's embedding_renorm_)."""
    xp = namespace(weight.data)
    rows = xp.unique(indices)
    w = weight.data[rows]
    norms = xp.linalg.norm(w, ord=norm_type, axis=1)
    big = norms > max_norm
    if not big.any():
        return
    weight.data[rows[big]] = w[big] * (max_norm / (norms[big] + 1e-7))[:, None]
    mark_modified(weight)


def embedding(
    input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
    norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
) -> Tensor:  # fmt: skip
    """Rows of weight (num_embeddings, embedding_dim) at the integer indices `input` (any shape):
    output shape input.shape + (embedding_dim,).

    padding_idx: that row gets no gradient. max_norm: rows looked up are first rescaled in place to at most this
    norm (norm_type). scale_grad_by_freq: each row's gradient is divided by its index's count in the batch.
    """
    op = "embedding"
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ShapeError(f"{op}: expected a 2-D weight (num_embeddings, embedding_dim), received {shape}")
    if sparse:
        raise ArgumentError(f"{op}: sparse gradients are not supported; expected sparse=False, received sparse=True")
    xp = namespace(weight.data)
    idx = input.data if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise DtypeError(f"{op}: expected integer indices, received dtype {idx.dtype}")
    v = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= v:
            raise ShapeError(
                f"{op}: index {lo if lo < 0 else hi} is out of range for {v} embeddings (expected 0..{v - 1})"
            )
    if padding_idx is not None:
        if not -v <= padding_idx < v:
            raise ArgumentError(f"{op}: expected padding_idx in {-v}..{v - 1}, received padding_idx={padding_idx}")
        padding_idx %= v
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx, padding_idx=padding_idx, scale_grad_by_freq=bool(scale_grad_by_freq))


__all__ = ["embedding"]
TENSOR_METHODS: dict = {}
