"""LeNet-5 (LeCun et al., 1998, "Gradient-based learning applied to document recognition") in its layer layout.

C1 6@5x5 conv -> S2 2x2 pool -> C3 16@5x5 conv -> S4 2x2 pool -> C5 120@5x5 conv (on a 5x5 map, so 120@1x1)
-> F6 84 -> output. The paper fed 32x32 images; 28x28 images (MNIST, Fashion-MNIST) get padding 2 in C1 so that
C5 still sees 5x5 maps. As in today's versions, C3 connects to all six S2 maps (the paper's partial connection
table saved compute in 1998), pooling has no trainable coefficients, and the output is a linear layer of logits
(for CrossEntropyLoss) instead of the paper's Gaussian RBF units. With 28x28 inputs and 10 classes: 61,706
parameters.
"""

from __future__ import annotations

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError, ShapeError
from dagrad.nn import AvgPool2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Tanh

__all__ = ["LeNet5"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}
_POOLS = {"max": MaxPool2d, "avg": AvgPool2d}


def _choice(name: str, value: str, choices: dict) -> type:
    if value not in choices:
        raise ArgumentError(f"LeNet5: expected {name} to be one of {sorted(choices)}, received {name}={value!r}")
    return choices[value]


class LeNet5(Module):
    """LeNet-5 for (N, in_channels, input_size, input_size) images -> (N, num_classes) logits.

    activation: 'relu' (today's choice) or 'tanh' (the paper's). pool: 'max' or 'avg' (the paper's subsampling).
    input_size: the images' height and width, even and at most 32; C1 pads by (32 - input_size) / 2.
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu", pool: str = "max",
        input_size: int = 28,
    ) -> None:  # fmt: skip
        super().__init__()
        act, pool_cls = _choice("activation", activation, _ACTIVATIONS), _choice("pool", pool, _POOLS)
        if isinstance(input_size, bool) or not isinstance(input_size, int) or not 4 <= input_size <= 32:
            raise ArgumentError(f"LeNet5: expected input_size an int in [4, 32], received input_size={input_size!r}")
        if input_size % 2:
            raise ArgumentError(f"LeNet5: expected an even input_size (C1 pads it to 32), received {input_size}")
        self.num_classes, self.in_channels, self.input_size = num_classes, in_channels, input_size
        self.activation, self.pool = activation, pool
        self.c1 = Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2)
        self.s2 = pool_cls(2)
        self.c3 = Conv2d(6, 16, 5)
        self.s4 = pool_cls(2)
        self.c5 = Conv2d(16, 120, 5)
        self.f6 = Linear(120, 84)
        self.output = Linear(84, num_classes)
        self.act = act()

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) != 4 or shape[1:] != (self.in_channels, self.input_size, self.input_size):
            size = self.input_size
            raise ShapeError(f"LeNet5: expected input (N, {self.in_channels}, {size}, {size}), received {shape}")
        act = self.act
        x = self.s2(act(self.c1(x)))
        x = self.s4(act(self.c3(x)))
        x = act(self.c5(x)).flatten(1)
        return self.output(act(self.f6(x)))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, activation={self.activation!r}, pool={self.pool!r}"
