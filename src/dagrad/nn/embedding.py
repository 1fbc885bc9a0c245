"""Embedding (as torch.nn.Embedding): a (num_embeddings, embedding_dim) table of vectors looked up by index.

The weight starts as N(0, 1) draws from dagrad's generator, with the padding_idx row (if any) zero; that row
then gets no gradient, so it stays as it is during training.
"""

from __future__ import annotations

from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor, as_array
from dagrad.errors import ArgumentError, ShapeError
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops.embedding import embedding


def _positive(name: str, v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ArgumentError(f"Embedding: expected {name} to be a positive int, received {name}={v!r}")
    return v


class Embedding(Module):
    """Integer indices of any shape I -> their rows of weight, shape I + (embedding_dim,)."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight: Any = None,
        _freeze: bool = False, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_embeddings = _positive("num_embeddings", num_embeddings)
        self.embedding_dim = _positive("embedding_dim", embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, int):
                raise ArgumentError(f"Embedding: expected padding_idx to be an int or None, received {padding_idx!r}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(
                    f"Embedding: expected padding_idx in {-num_embeddings}..{num_embeddings - 1}, received "
                    f"padding_idx={padding_idx}"
                )
            padding_idx %= num_embeddings
        if sparse:
            raise ArgumentError("Embedding: sparse gradients are not supported; expected sparse=False, received True")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            dt = backend.get_default_dtype() if dtype is None else backend.numpy.dtype(dtype)
            data = backend.numpy.empty(shape, dt)
            if device is not None:
                data = backend.to_device(data, backend.Device(device))
            self.weight = Parameter(data, requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = as_array(_weight)
            if tuple(data.shape) != shape:
                raise ShapeError(f"Embedding: expected _weight of shape {shape}, received shape {tuple(data.shape)}")
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) weights from dagrad's generator; the padding row zero."""
        w = self.weight.data
        w[...] = backend.to_device(backend.rng().standard_normal(w.shape).astype(w.dtype), self.weight.device)
        if self.padding_idx is not None:
            w[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
    ) -> Embedding:  # fmt: skip
        """An Embedding whose weight is a copy of the 2-D `embeddings`; freeze=True makes it not trainable."""
        data = as_array(embeddings)
        if data.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: expected a 2-D embeddings matrix, received {data.shape}")
        rows, dim = data.shape
        return cls(
            rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=data.copy(),
            _freeze=freeze,
        )  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        return embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


__all__ = ["Embedding"]
