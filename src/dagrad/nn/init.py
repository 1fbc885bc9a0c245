"""Parameter initialisation (as torch.nn.init): fills that change a tensor in place and return it.

Each fill writes into the tensor's array outside autograd (torch runs them under no_grad) and bumps its version
counter, so a graph that saved the tensor notices. Random fills draw from dagrad's generator (`dagrad.manual_seed`
makes them reproducible) or from the `generator` given; the values are drawn on the host in the tensor's dtype
(float64 for other floating dtypes) and copied to its device. Fan-based schemes read fans as PyTorch does: a
weight (out, in, *kernel) has fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.function import mark_modified
from dagrad.autograd.tensor import Tensor
from dagrad.backend import Generator, namespace
from dagrad.errors import ArgumentError, DtypeError, ShapeError

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 (linear, conv*, sigmoid), 5/3 (tanh), sqrt(2) (relu),
    sqrt(2 / (1 + slope^2)) (leaky_relu, slope = param or 0.01), 3/4 (selu)."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ArgumentError(f"calculate_gain: expected negative_slope to be a number, received {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    names = ", ".join((*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu"))
    raise ArgumentError(f"calculate_gain: expected nonlinearity to be one of {names}, received {nonlinearity!r}")


def _check(op: str, tensor: Any, floating: bool = True) -> None:
    if not isinstance(tensor, Tensor):
        raise DtypeError(f"{op}: expected a Tensor, received {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating-point tensor, received dtype {tensor.dtype}")


def _write(tensor: Tensor, values: Any) -> Tensor:
    """Copy values (a host array or a number, broadcast to tensor's shape) into tensor's array, in place."""
    if not isinstance(values, (int, float)):
        values = backend.to_device(values, tensor.device)
    namespace(tensor.data).copyto(tensor.data, values, casting="unsafe")
    mark_modified(tensor)
    return tensor


def _dtype(tensor: Tensor) -> numpy.dtype:
    """The dtype to draw in: NumPy's generators produce float32 and float64 directly."""
    return tensor.dtype if tensor.dtype in (backend.float32, backend.float64) else backend.float64


def _uniform(tensor: Tensor, a: float, b: float, generator: Generator | None) -> numpy.ndarray:
    v = backend.rng(generator).random(tensor.shape, dtype=_dtype(tensor))
    v *= b - a
    v += a
    return v


def _normal(tensor: Tensor, mean: float, std: float, generator: Generator | None) -> numpy.ndarray:
    v = backend.rng(generator).standard_normal(tensor.shape, dtype=_dtype(tensor))
    v *= std
    v += mean
    return v


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with values drawn from U(a, b)."""
    _check("uniform_", tensor)
    return _write(tensor, _uniform(tensor, a, b, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with values drawn from N(mean, std^2)."""
    _check("normal_", tensor)
    return _write(tensor, _normal(tensor, mean, std, generator))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:  # fmt: skip
    """Fill with N(mean, std^2) restricted to [a, b], by rejection as PyTorch: normal draws when [a, b] holds more
    than 30% of the mass, else uniform draws on [a, b] accepted with probability pdf(x) / max pdf. Each round
    redraws only the values still rejected."""
    _check("trunc_normal_", tensor)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "trunc_normal_: mean is more than 2 std from [a, b]; the distribution of values may be incorrect",
            stacklevel=2,
        )
    rng = backend.rng(generator)
    cdf = lambda x: (1.0 + math.erf((x - mean) / (std * math.sqrt(2.0)))) / 2.0  # noqa: E731
    normal = cdf(b) - cdf(a) > 0.3
    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2
    out = numpy.empty(tensor.numel(), numpy.float64)
    pending = numpy.arange(out.size)
    while pending.size:
        n = pending.size
        if normal:
            x = rng.normal(mean, std, n)
            ok = (x >= a) & (x <= b)
        else:
            x = rng.uniform(a, b, n)
            ok = numpy.log(rng.random(n)) <= -0.5 * ((x - mean) / std) ** 2 - log_peak
        out[pending[ok]] = x[ok]
        pending = pending[~ok]
    return _write(tensor, out.reshape(tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value val."""
    _check("constant_", tensor, floating=False)
    return _write(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    _check("ones_", tensor, floating=False)
    return _write(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    _check("zeros_", tensor, floating=False)
    return _write(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal): Linear layers that pass inputs through."""
    _check("eye_", tensor, floating=False)
    if tensor.ndim != 2:
        raise ShapeError(f"eye_: expected a 2-D tensor, received shape {tensor.shape}")
    return _write(tensor, numpy.eye(*tensor.shape, dtype=tensor.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a conv weight (out, in, *kernel) of 3 to 5 dims with the Dirac delta: the convolution passes as many
    input channels as possible through unchanged (per group when groups > 1)."""
    _check("dirac_", tensor, floating=False)
    if tensor.ndim not in (3, 4, 5):
        raise ShapeError(f"dirac_: expected a 3-, 4- or 5-D tensor, received shape {tensor.shape}")
    out_ch, in_ch = tensor.shape[:2]
    if out_ch % groups:
        raise ShapeError(f"dirac_: expected dim 0 ({out_ch}) to be divisible by groups ({groups})")
    per_group = out_ch // groups
    k = numpy.arange(min(per_group, in_ch))
    w = numpy.zeros(tensor.shape, tensor.dtype)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    w[(((numpy.arange(groups) * per_group)[:, None] + k).ravel(), numpy.tile(k, groups)) + centre] = 1
    return _write(tensor, w)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) = (shape[1], shape[0]) times the receptive field size prod(shape[2:])."""
    if tensor.ndim < 2:
        raise ShapeError(
            f"fan in and fan out: expected a tensor with at least 2 dimensions, received shape {tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"kaiming init: expected mode to be 'fan_in' or 'fan_out', received {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out))."""
    _check("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _write(tensor, _uniform(tensor, -bound, bound, generator))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return _write(tensor, _normal(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator))


def _kaiming_std(op: str, tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """gain / sqrt(fan), or None (with PyTorch's warning) for a tensor without elements."""
    _check(op, tensor)
    if 0 in tensor.shape:
        warnings.warn(f"{op}: initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:  # fmt: skip
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), fan chosen by mode, gain by the
    nonlinearity (a is leaky_relu's negative slope)."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _write(tensor, _uniform(tensor, -bound, bound, generator))


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:  # fmt: skip
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _write(tensor, _normal(tensor, 0.0, std, generator))


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Generator | None = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times gain, trailing dims flattened: (rows, cols) has orthonormal rows
    or columns, whichever are fewer. Q of the QR factorisation of a Gaussian matrix, its columns' signs set by
    diag(R) so that Q is uniformly (Haar) distributed."""
    _check("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ShapeError(f"orthogonal_: expected a tensor with at least 2 dimensions, received shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = backend.rng(generator).standard_normal((rows, cols))
    q, r = numpy.linalg.qr(flat.T if rows < cols else flat)
    q *= numpy.sign(numpy.diag(r))
    q *= gain
    return _write(tensor, (q.T if rows < cols else q).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None) -> Tensor:
    """Fill a 2-D tensor with N(0, std^2) values and set ceil(sparsity * rows) random entries of every column to 0."""
    _check("sparse_", tensor)
    if tensor.ndim != 2:
        raise ShapeError(f"sparse_: expected a 2-D tensor, received shape {tensor.shape}")
    if not 0 <= sparsity <= 1:
        raise ArgumentError(f"sparse_: expected sparsity in [0, 1], received sparsity={sparsity}")
    rows, cols = tensor.shape
    rng = backend.rng(generator)
    w = _normal(tensor, 0.0, std, generator)
    zero_rows = rng.random((rows, cols)).argsort(axis=0)[: math.ceil(sparsity * rows)]  # a permutation per column
    w[zero_rows, numpy.arange(cols)] = 0
    return _write(tensor, w)


__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
]  # fmt: skip
