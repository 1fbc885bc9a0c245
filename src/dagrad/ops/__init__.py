"""Differentiable ops. Importing this package registers every op (one import line per module)
and attaches the ops' Tensor methods (x.exp(), x + y, ...) listed in each module's TENSOR_METHODS."""

from dagrad.autograd.tensor import Tensor
from dagrad.ops import (
    activation,
    arithmetic,
    broadcast,
    cast,
    compare,
    conv,
    dropout,
    elementwise,
    embedding,
    indexing,
    inplace,
    linalg,
    linear,
    loss,
    norm,
    pool,
    reduction,
    rnn,
    shape,
    softmax,
    unary,
)

MODULES = (
    activation, arithmetic, broadcast, cast, compare, conv, dropout, elementwise, embedding, indexing, inplace,
    linalg, linear, loss, norm, pool, reduction, rnn, shape, softmax, unary,
)  # fmt: skip

for _module in MODULES:
    for _name, _fn in _module.TENSOR_METHODS.items():
        setattr(Tensor, _name, _fn)
