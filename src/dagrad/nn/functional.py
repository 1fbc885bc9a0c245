"""dagrad.nn.functional (import as F): the functional forms of layers, activations and losses."""

from dagrad.ops import activation as _activation
from dagrad.ops import conv as _conv
from dagrad.ops import dropout as _dropout
from dagrad.ops import embedding as _embedding
from dagrad.ops import linear as _linear
from dagrad.ops import loss as _loss
from dagrad.ops import norm as _norm
from dagrad.ops import pool as _pool
from dagrad.ops.activation import *  # noqa: F403
from dagrad.ops.conv import *  # noqa: F403
from dagrad.ops.dropout import *  # noqa: F403
from dagrad.ops.embedding import *  # noqa: F403
from dagrad.ops.linear import *  # noqa: F403
from dagrad.ops.loss import *  # noqa: F403
from dagrad.ops.norm import *  # noqa: F403
from dagrad.ops.pool import *  # noqa: F403
from dagrad.ops.shape import pad
from dagrad.ops.softmax import log_softmax, softmax
from dagrad.ops.unary import tanh

__all__ = ["log_softmax", "pad", "softmax", "tanh"]
for _m in (_activation, _conv, _dropout, _embedding, _linear, _loss, _norm, _pool):
    __all__ += _m.__all__
