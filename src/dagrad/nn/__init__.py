"""Neural-network building blocks (as torch.nn): Module, Parameter, containers, layers, losses, init."""

from dagrad.nn import functional, init, utils
from dagrad.nn.activation import *  # noqa: F403
from dagrad.nn.blocks import BasicBlock, BasicConv2d, Bottleneck, Inception
from dagrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from dagrad.nn.conv import *  # noqa: F403
from dagrad.nn.dropout import *  # noqa: F403
from dagrad.nn.embedding import *  # noqa: F403
from dagrad.nn.linear import *  # noqa: F403
from dagrad.nn.loss import *  # noqa: F403
from dagrad.nn.module import IncompatibleKeys, Module, StateDictError
from dagrad.nn.normalization import *  # noqa: F403
from dagrad.nn.parameter import Parameter
from dagrad.nn.pooling import *  # noqa: F403
from dagrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
