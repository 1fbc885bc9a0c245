"""Neural-network building blocks (as torch.nn): Module, Parameter, containers, layers, losses, init."""

from dagrad.nn import functional
from dagrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from dagrad.nn.conv import *  # noqa: F403
from dagrad.nn.module import IncompatibleKeys, Module, StateDictError
from dagrad.nn.parameter import Parameter
from dagrad.nn.pooling import *  # noqa: F403
