"""dagrad.nn.functional (import as F): the functional forms of layers, activations and losses."""

from dagrad.ops import activation, conv, dropout, embedding, loss, norm, pool
from dagrad.ops.activation import *  # noqa: F403
from dagrad.ops.conv import *  # noqa: F403
from dagrad.ops.dropout import *  # noqa: F403
from dagrad.ops.embedding import *  # noqa: F403
from dagrad.ops.loss import *  # noqa: F403
from dagrad.ops.norm import *  # noqa: F403
from dagrad.ops.pool import *  # noqa: F403
from dagrad.ops.shape import pad
from dagrad.ops.softmax import log_softmax, softmax
from dagrad.ops.unary import tanh

__all__ = ["log_softmax", "pad", "softmax", "tanh"]
for _m in (activation, conv, dropout, embedding, loss, norm, pool):
    __all__ += _m.__all__
