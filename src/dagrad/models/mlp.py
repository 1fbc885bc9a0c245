"""MLP: a multilayer perceptron that flattens its input, then Linear -> activation (-> Dropout) per hidden layer,
then a Linear layer of logits."""

from __future__ import annotations

from collections.abc import Sequence

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn import ELU, GELU, Dropout, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid, SiLU, Tanh

__all__ = ["MLP"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "silu": SiLU,
                "leaky_relu": LeakyReLU, "elu": ELU}  # fmt: skip


class MLP(Module):
    """(N, *) inputs with in_features values per sample (e.g. (N, 1, 28, 28) images) -> (N, num_classes) logits.

    hidden: the widths of the hidden layers (empty: a linear classifier). activation: one of 'relu', 'tanh',
    'sigmoid', 'gelu', 'silu', 'leaky_relu', 'elu'. dropout: the drop probability after each hidden activation.
    """

    def __init__(
        self, in_features: int = 784, hidden: Sequence[int] = (256, 128), num_classes: int = 10,
        activation: str = "relu", dropout: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ArgumentError(
                f"MLP: expected activation to be one of {sorted(_ACTIVATIONS)}, received activation={activation!r}"
            )
        if isinstance(hidden, int):
            hidden = (hidden,)
        self.in_features, self.hidden, self.num_classes = in_features, tuple(hidden), num_classes
        self.activation, self.dropout = activation, dropout
        layers: list[Module] = []
        width = in_features
        for h in self.hidden:
            layers += [Linear(width, h), _ACTIVATIONS[activation]()]
            if dropout:
                layers.append(Dropout(dropout))
            width = h
        layers.append(Linear(width, num_classes))
        self.layers = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1) if x.ndim > 2 else x)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, hidden={self.hidden}, num_classes={self.num_classes}"
