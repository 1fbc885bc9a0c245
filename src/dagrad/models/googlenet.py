"""GoogLeNet (Inception v1; Szegedy et al., 2015, "Going deeper with convolutions") in torchvision's layout.

Stem: 7x7/2 conv 64 -> 3x3/2 max-pool -> 1x1 conv 64 -> 3x3 conv 192 -> 3x3/2 max-pool; nine Inception modules
(3a, 3b, pool, 4a-4e, pool, 5a, 5b) with the paper's table 1 widths; global average pooling -> Dropout(0.2) ->
Linear(1024, num_classes). Every convolution is a BasicConv2d (conv without bias -> BatchNorm2d(eps=0.001) ->
ReLU), as torchvision's (the paper predates batch normalisation), and the Inception "5x5" branch uses a 3x3
kernel, as torchvision's does (its weights were trained that way). With aux_logits the two auxiliary classifiers
of the paper (on the outputs of 4a and 4d: 4x4 average pooling -> 1x1 conv 128 -> fc 1024 -> Dropout(0.7) -> fc)
are built and, in training mode only, forward returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1); the
paper adds their losses with weight 0.3. In eval mode, or without aux_logits, forward returns the logits alone.
6,624,904 parameters for 1000 classes without the auxiliary heads, 13,004,888 with them; state-dict keys and
initialisation (truncated normal, std 0.01, for convolutions and linear layers) as torchvision's.
"""

from __future__ import annotations

from typing import NamedTuple

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, init
from dagrad.nn.blocks import BasicConv2d, Inception, _check_positive
from dagrad.nn.functional import adaptive_avg_pool2d, relu
from dagrad.ops.shape import cat

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "InceptionAux", "googlenet"]


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with aux_logits: the main logits and both auxiliary logits."""

    logits: Tensor
    aux_logits2: Tensor
    aux_logits1: Tensor


class InceptionAux(Module):
    """Auxiliary classifier: (N, in_channels, 14, 14) -> 4x4 average -> 1x1 conv 128 -> fc 1024 -> ReLU ->
    Dropout -> fc -> (N, num_classes) logits."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = Linear(2048, 1024)
        self.fc2 = Linear(1024, num_classes)
        self.dropout = Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(relu(self.fc1(x))))


class GoogLeNet(Module):
    """GoogLeNet for (N, in_channels, H, W) images (H, W >= 15; 224 in the paper) -> (N, num_classes) logits.

    aux_logits: build the two auxiliary classifiers (used in training mode only). transform_input: map inputs
    normalised with ImageNet's mean and std to the (x - 0.5) / 0.5 scaling that torchvision's pretrained weights
    expect (three channels only). dropout / dropout_aux: the main and auxiliary classifiers' drop probabilities.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False, dropout: float = 0.2,
        dropout_aux: float = 0.7, transform_input: bool = False, init_weights: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        _check_positive("GoogLeNet", num_classes=num_classes, in_channels=in_channels)
        if transform_input and in_channels != 3:
            raise ArgumentError(f"GoogLeNet: expected in_channels=3 with transform_input=True (ImageNet's RGB "
                                f"statistics), received in_channels={in_channels}")  # fmt: skip
        self.num_classes, self.in_channels = num_classes, in_channels
        self.aux_logits, self.transform_input = bool(aux_logits), bool(transform_input)
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(p=dropout)
        self.fc = Linear(1024, num_classes)
        if init_weights:
            self.apply(_init)

    def _transform(self, x: Tensor) -> Tensor:
        """ImageNet-normalised channels -> (x - 0.5) / 0.5, per channel, as torchvision's transform_input."""
        chans = [x[:, c : c + 1] * (s / 0.5) + (m - 0.5) / 0.5
                 for c, (m, s) in enumerate(((0.485, 0.229), (0.456, 0.224), (0.406, 0.225)))]  # fmt: skip
        return cat(chans, 1)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = self._transform(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux_logits
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        return GoogLeNetOutputs(logits, aux2, aux1) if with_aux else logits

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_channels={self.in_channels}, aux_logits={self.aux_logits}"


def _init(m: Module) -> None:
    if isinstance(m, (Conv2d, Linear)):
        init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
    elif isinstance(m, BatchNorm2d):
        init.ones_(m.weight)
        init.zeros_(m.bias)


def googlenet(
    num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False, dropout: float = 0.2
) -> GoogLeNet:
    """GoogLeNet as torchvision.models.googlenet() (untrained; without auxiliary heads unless aux_logits)."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, aux_logits=aux_logits, dropout=dropout)
