"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012, "ImageNet classification with deep convolutional neural
networks") in torchvision's single-tower layout.

features: five convolutions (64@11x11 stride 4, 192@5x5, 384@3x3, 256@3x3, 256@3x3), ReLU after each, 3x3 stride-2
max-pooling after the first, second and fifth; avgpool: AdaptiveAvgPool2d((6, 6)), so any input of at least
63x63 gives 256x6x6 features; classifier: Dropout -> Linear(9216, 4096) -> ReLU -> Dropout -> Linear(4096, 4096)
-> ReLU -> Linear(4096, num_classes). As torchvision's (the one-GPU variant of the paper's two towers, without
local response normalisation) it has 61,100,840 parameters for 1000 classes, named as torchvision names them
(features.0.weight, classifier.1.weight, ...), so its ImageNet weights load. Layers keep PyTorch's default
initialisation, as torchvision does.
"""

from __future__ import annotations

from dagrad.autograd.tensor import Tensor
from dagrad.nn import AdaptiveAvgPool2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU, Sequential
from dagrad.nn.blocks import _check_positive

__all__ = ["AlexNet", "alexnet"]


class AlexNet(Module):
    """AlexNet for (N, in_channels, H, W) images (H, W >= 63; 224 in the paper) -> (N, num_classes) logits.

    dropout: the drop probability of the two dropout layers in the classifier.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        _check_positive("AlexNet", num_classes=num_classes, in_channels=in_channels)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.features = Sequential(
            Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(64, 192, kernel_size=5, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(192, 384, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(384, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(256, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
        )  # fmt: skip
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(
            Dropout(p=dropout), Linear(256 * 6 * 6, 4096), ReLU(inplace=True),
            Dropout(p=dropout), Linear(4096, 4096), ReLU(inplace=True),
            Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_channels={self.in_channels}"


def alexnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> AlexNet:
    """AlexNet as torchvision.models.alexnet() (untrained; load weights with dagrad.models.load_pretrained)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout)
