"""Keras activation functions by name: get('relu') -> a function Tensor -> Tensor built from dagrad ops.

The names and formulas are Keras 3's (keras.activations): softmax and log_softmax act on the last axis,
leaky_relu's default slope is 0.2, hard_sigmoid is relu6(x + 3) / 6, selu uses the self-normalising constants.
"""

from __future__ import annotations

from collections.abc import Callable

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.ops import activation as _act
from dagrad.ops.softmax import log_softmax as _log_softmax
from dagrad.ops.softmax import softmax as _softmax
from dagrad.ops.unary import tanh as _tanh

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def linear(x: Tensor) -> Tensor:
    """The identity (Keras' activation=None)."""
    return x


def relu(x: Tensor) -> Tensor:
    return _act.relu(x)


def relu6(x: Tensor) -> Tensor:
    return _act.relu6(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    return _act.leaky_relu(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return _act.elu(x, alpha)


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the constants that keep activations at zero mean and unit variance."""
    return _act.elu(x, _SELU_ALPHA) * _SELU_SCALE


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    return _act.gelu(x, "tanh" if approximate else "none")


def sigmoid(x: Tensor) -> Tensor:
    return _act.sigmoid(x)


def hard_sigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    return _act.relu6(x + 3.0) * (1.0 / 6.0)


def tanh(x: Tensor) -> Tensor:
    return _tanh(x)


def softplus(x: Tensor) -> Tensor:
    return _act.softplus(x)


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return x / (x.abs() + 1.0)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return _act.silu(x)


def mish(x: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    return x * _tanh(_act.softplus(x))


def exponential(x: Tensor) -> Tensor:
    return x.exp()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _softmax(x, axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return _log_softmax(x, axis)


_NAMED: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": linear, "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu, "selu": selu,
    "gelu": gelu, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "tanh": tanh, "softplus": softplus,
    "softsign": softsign, "silu": silu, "swish": silu, "mish": mish, "exponential": exponential,
    "softmax": softmax, "log_softmax": log_softmax,
}  # fmt: skip
_ELEMENTWISE = frozenset(f for f in _NAMED.values() if f not in (softmax, log_softmax))


def is_elementwise(fn: Callable) -> bool:
    """Whether fn is one of the named activations that act on each element alone (all but the softmaxes)."""
    return fn in _ELEMENTWISE


def get(identifier: str | Callable[[Tensor], Tensor] | None, who: str = "activation") -> Callable[[Tensor], Tensor]:
    """The activation function named `identifier` (None means linear); a callable is returned unchanged."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _NAMED.get(identifier.lower())
        if fn is None:
            raise ArgumentError(f"{who}: unknown activation {identifier!r}; expected one of {sorted(_NAMED)}")
        return fn
    if callable(identifier):
        return identifier
    raise ArgumentError(f"{who}: expected an activation name, a function or None, received {type(identifier).__name__}")


def serialize(fn: Callable) -> str:
    """The Keras name of an activation function (for summaries and reprs)."""
    for name, f in _NAMED.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", type(fn).__name__)


__all__ = [
    "get", "serialize", "is_elementwise", "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
    "hard_sigmoid", "tanh", "softplus", "softsign", "silu", "mish", "exponential", "softmax", "log_softmax",
]  # fmt: skip
