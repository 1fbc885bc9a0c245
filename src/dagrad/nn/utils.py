"""Gradient clipping and flat parameter vectors (as torch.nn.utils): clip_grad_norm_, clip_grad_value_,
get_total_norm, clip_grads_with_norm_, parameters_to_vector, vector_to_parameters.

The clipping functions change `.grad` arrays in place outside autograd (torch runs them under no_grad), one
vectorised pass per gradient: a BLAS dot product for the 2-norm, an in-place scale or clip. The total norm is
PyTorch's: the p-norm of the vector of per-gradient p-norms.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from types import GeneratorType
from typing import Any

from dagrad import backend
from dagrad.autograd.function import mark_modified
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DeviceError, DtypeError, GradientError, ShapeError
from dagrad.ops.shape import cat

TensorOrTensors = Tensor | Iterable[Tensor]


def _listed(parameters: TensorOrTensors, op: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, GeneratorType)
    parameters = list(parameters)
    if is_generator and not parameters:
        warnings.warn(f"{op}: `parameters` is an empty generator, no gradient clipping will occur", stacklevel=3)
    return parameters


def _vector_norm(a: Any, p: float) -> float:
    """The p-norm of an array seen as one vector (p = inf: max |a|, -inf: min |a|, 0: number of non-zeros)."""
    xp = namespace(a)
    if a.size == 0:
        return 0.0
    if p == 2:
        flat = a.reshape(-1)
        return math.sqrt(float(xp.vdot(flat, flat)))
    if p == math.inf:
        return float(max(a.max(), -a.min()))
    if p == -math.inf:
        return float(xp.abs(a).min())
    if p == 0:
        return float(xp.count_nonzero(a))
    if p == 1:
        return float(xp.abs(a).sum())
    return float((xp.abs(a) ** p).sum()) ** (1.0 / p)


def get_total_norm(
    tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: bool | None = None
) -> Tensor:
    """The p-norm of the per-tensor p-norms (for p-norms, the norm of all tensors concatenated) as a 0-d tensor of
    the tensors' dtype; 0.0 when there are none. `foreach` is accepted for PyTorch compatibility."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    p = float(norm_type)
    if not tensors:
        return _make(backend.numpy.asarray(0.0, backend.get_default_dtype()))
    norms = backend.numpy.asarray([_vector_norm(t.data, p) for t in tensors])
    dtype = backend.numpy.result_type(*[t.dtype for t in tensors])
    total = backend.numpy.asarray(_vector_norm(norms, p), dtype)
    if error_if_nonfinite and not backend.numpy.isfinite(total):
        raise GradientError(
            f"clip_grad_norm_: the total norm of order {p} of the gradients is non-finite ({total}), so it cannot "
            "be clipped; pass error_if_nonfinite=False to scale the gradients by it anyway"
        )
    return _make(backend.to_device(total, tensors[0].device))


def clip_grads_with_norm_(
    parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float, foreach: bool | None = None
) -> None:
    """Scale every .grad in place by min(max_norm / (total_norm + 1e-6), 1): only ever shrink."""
    grads = [p.grad for p in _listed(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else backend.numpy.asarray(total_norm)
    coef = float(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)))
    if coef >= 1:  # scaling by min(coef, 1) = 1 changes nothing; a NaN coef still scales, as in PyTorch
        return
    with backend.numpy.errstate(invalid="ignore"):  # inf * NaN where the norm was not finite
        for g in grads:
            g.data *= g.data.dtype.type(coef)
            mark_modified(g)


def clip_grad_norm_(
    parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:  # fmt: skip
    """Rescale the gradients in place so that their total p-norm is at most max_norm; returns the total norm
    before clipping (a 0-d tensor). norm_type may be inf (the largest |g|)."""
    parameters = _listed(parameters, "clip_grad_norm_")
    total = get_total_norm([p.grad for p in parameters if p.grad is not None], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clip every .grad in place to [-clip_value, clip_value]."""
    v = float(clip_value)
    for p in _listed(parameters, "clip_grad_value_"):
        g = p.grad
        if g is not None:
            namespace(g.data).clip(g.data, -v, v, out=g.data)
            mark_modified(g)


def _same_device(op: str, params: list[Tensor]) -> None:
    devices = {str(p.device) for p in params}
    if len(devices) > 1:
        raise DeviceError(f"{op}: expected all parameters on one device, received parameters on {sorted(devices)}")


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable: a cat of reshapes)."""
    params = list(parameters)
    _same_device("parameters_to_vector", params)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Point each parameter's data at its slice of the 1-D vec (in order, reshaped; views of vec's array, as
    PyTorch's param.data = vec[...].view_as(param))."""
    if not isinstance(vec, Tensor):
        raise DtypeError(f"vector_to_parameters: expected vec to be a Tensor, received {type(vec).__name__}")
    if vec.ndim != 1:
        raise ShapeError(f"vector_to_parameters: expected a 1-D vec, received shape {vec.shape}")
    params = list(parameters)
    _same_device("vector_to_parameters", params)
    need = sum(p.numel() for p in params)
    if need > vec.numel():
        raise ShapeError(
            f"vector_to_parameters: expected vec to hold at least {need} elements for the parameters, received "
            f"{vec.numel()}"
        )
    start = 0
    for p in params:
        n = p.numel()
        p.data = vec.data[start : start + n].reshape(p.shape)
        start += n


__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_", "parameters_to_vector",
    "vector_to_parameters",
]  # fmt: skip
