"""Model zoo (as torchvision.models): LeNet5 and MLP, built from dagrad.nn layers."""

from dagrad.models.lenet import LeNet5
from dagrad.models.mlp import MLP

__all__ = ["LeNet5", "MLP"]
