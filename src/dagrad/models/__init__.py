"""Model zoo (as torchvision.models), built from dagrad.nn layers: LeNet5, MLP, AlexNet, VGG, GoogLeNet, the
ImageNet and CIFAR ResNets, and the transfer-learning helpers (load_pretrained, freeze, replace_head, ...)."""

from dagrad.models.alexnet import AlexNet, alexnet
from dagrad.models.googlenet import GoogLeNet, GoogLeNetOutputs, InceptionAux, googlenet
from dagrad.models.lenet import LeNet5
from dagrad.models.mlp import MLP
from dagrad.models.resnet import (
    CifarResNet,
    ResNet,
    ZeroPadShortcut,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
    resnet152,
)  # fmt: skip
from dagrad.models.transfer import extract_features, find_head, freeze, load_pretrained, replace_head, unfreeze
from dagrad.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = [
    "MLP", "VGG", "AlexNet", "CifarResNet", "GoogLeNet", "GoogLeNetOutputs", "InceptionAux", "LeNet5", "ResNet",
    "ZeroPadShortcut", "alexnet", "extract_features", "find_head", "freeze", "googlenet", "load_pretrained",
    "replace_head", "resnet18", "resnet20", "resnet32", "resnet34", "resnet44", "resnet50", "resnet56", "resnet101",
    "resnet110", "resnet152", "unfreeze", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn",
]  # fmt: skip
