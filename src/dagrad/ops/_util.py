"""Small helpers the op modules share: tangent sums and PyTorch-style dtype promotion."""

from __future__ import annotations

from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor, _make


def tsum(*terms: Tensor | None) -> Tensor | None:
    """Sum of the tangents that are present (None stands for a zero tangent)."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def _cast(x: Tensor, dtype) -> Tensor:
    return _make(x.data.astype(dtype), False, None)


def promote(x: Any, y: Any) -> tuple[Any, Any]:
    """Bring two operands to PyTorch's result dtype: integers/bools meeting floats become that float."""
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            dx, dy = x.data.dtype, y.data.dtype
            if dx is dy:
                return x, y
            fx, fy = dx.kind == "f", dy.kind == "f"
            if fx and not fy:
                return x, _cast(y, dx)
            if fy and not fx:
                return _cast(x, dy), y
            if fx and fy and x.data.ndim == 0 and y.data.ndim > 0:
                return (x.to(dy) if x.requires_grad else _cast(x, dy)), y
            if fx and fy and y.data.ndim == 0 and x.data.ndim > 0:
                return x, (y.to(dx) if y.requires_grad else _cast(y, dx))
            return x, y
        if isinstance(y, float) and x.data.dtype.kind in "iub":
            return _cast(x, backend.get_default_dtype()), y
        return x, y
    if isinstance(y, Tensor) and isinstance(x, float) and y.data.dtype.kind in "iub":
        return x, _cast(y, backend.get_default_dtype())
    return x, y
