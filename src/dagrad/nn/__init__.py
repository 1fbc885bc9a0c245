"""Neural-network building blocks (as torch.nn): Module, Parameter, containers, layers, losses, init."""

from dagrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from dagrad.nn.module import IncompatibleKeys, Module, StateDictError
from dagrad.nn.parameter import Parameter
