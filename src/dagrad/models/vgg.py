"""VGG (Simonyan and Zisserman, 2015, "Very deep convolutional networks for large-scale image recognition") in
torchvision's layout, with and without batch normalisation.

features: stacks of 3x3 convolutions (padding 1) with ReLU, each stack closed by 2x2 max-pooling, as configuration
A (VGG-11), B (13), D (16) or E (19) of the paper's table 1 (plus BatchNorm2d after each convolution in the *_bn
variants); avgpool: AdaptiveAvgPool2d((7, 7)), so any input of at least 32x32 works; classifier: Linear(25088,
4096) -> ReLU -> Dropout -> Linear(4096, 4096) -> ReLU -> Dropout -> Linear(4096, num_classes). VGG-16 has
138,357,544 parameters for 1000 classes. State-dict keys are torchvision's (features.0.weight, classifier.6.bias,
...), so its ImageNet weights load. Initialisation as torchvision: kaiming_normal_(fan_out, relu) and zero bias
for convolutions, N(0, 0.01^2) weights and zero bias for the linear layers, BatchNorm at (1, 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    init,
)  # fmt: skip
from dagrad.nn.blocks import _check_positive

__all__ = [
    "VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"
]  # fmt: skip

# The paper's configurations: output channels of each 3x3 convolution, "M" for 2x2 max-pooling.
cfgs: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}


def _config(cfg: int | str | Sequence[int | str]) -> list[int | str]:
    """The layer list for a depth (11, 13, 16, 19), a configuration letter ('A', 'B', 'D', 'E') or a list."""
    if isinstance(cfg, int) and not isinstance(cfg, bool) and cfg in _DEPTHS:
        return cfgs[_DEPTHS[cfg]]
    if isinstance(cfg, str) and cfg in cfgs:
        return cfgs[cfg]
    if isinstance(cfg, Sequence) and not isinstance(cfg, str) and any(v != "M" for v in cfg):
        bad = [v for v in cfg if v != "M" and (isinstance(v, bool) or not isinstance(v, int) or v < 1)]
        if not bad:
            return list(cfg)
    raise ArgumentError(
        f"VGG: expected cfg to be a depth in {sorted(_DEPTHS)}, a letter in {sorted(cfgs)} or a list of positive "
        f"channel counts and 'M', received cfg={cfg!r}"
    )


def make_layers(cfg: Sequence[int | str], batch_norm: bool = False, in_channels: int = 3) -> Sequential:
    """VGG's feature extractor: Conv2d(3x3, padding 1) [-> BatchNorm2d] -> ReLU per number, MaxPool2d(2) per 'M'."""
    layers: list[Module] = []
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(v))
        layers.append(ReLU(inplace=True))
        in_channels = v
    return Sequential(*layers)


class VGG(Module):
    """VGG for (N, in_channels, H, W) images (H, W >= 32; 224 in the paper) -> (N, num_classes) logits.

    cfg: a depth (11, 13, 16, 19), a configuration letter ('A', 'B', 'D', 'E') or a list of channel counts and
    'M'. batch_norm: BatchNorm2d after each convolution. dropout: the classifier's drop probability.
    init_weights: False keeps the layers' default initialisation (as torchvision does before loading weights).
    """

    def __init__(
        self, cfg: int | str | Sequence[int | str] = 16, batch_norm: bool = False, num_classes: int = 1000,
        in_channels: int = 3, dropout: float = 0.5, init_weights: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        _check_positive("VGG", num_classes=num_classes, in_channels=in_channels)
        layers = _config(cfg)
        self.num_classes, self.in_channels, self.batch_norm = num_classes, in_channels, bool(batch_norm)
        self.features = make_layers(layers, batch_norm, in_channels)
        width = [v for v in layers if v != "M"][-1]
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(width * 7 * 7, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, num_classes),
        )  # fmt: skip
        if init_weights:
            self.apply(_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_channels={self.in_channels}, batch_norm={self.batch_norm}"


def _init(m: Module) -> None:
    if isinstance(m, Conv2d):
        init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            init.zeros_(m.bias)
    elif isinstance(m, BatchNorm2d):
        init.ones_(m.weight)
        init.zeros_(m.bias)
    elif isinstance(m, Linear):
        init.normal_(m.weight, 0.0, 0.01)
        init.zeros_(m.bias)


def vgg11(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration A), as torchvision.models.vgg11(): 132,863,336 parameters for 1000 classes."""
    return VGG(11, False, num_classes, in_channels, dropout)


def vgg13(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13 (configuration B), as torchvision.models.vgg13()."""
    return VGG(13, False, num_classes, in_channels, dropout)


def vgg16(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration D), as torchvision.models.vgg16(): 138,357,544 parameters for 1000 classes."""
    return VGG(16, False, num_classes, in_channels, dropout)


def vgg19(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19 (configuration E), as torchvision.models.vgg19()."""
    return VGG(19, False, num_classes, in_channels, dropout)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11 with batch normalisation, as torchvision.models.vgg11_bn()."""
    return VGG(11, True, num_classes, in_channels, dropout)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13 with batch normalisation, as torchvision.models.vgg13_bn()."""
    return VGG(13, True, num_classes, in_channels, dropout)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-16 with batch normalisation, as torchvision.models.vgg16_bn()."""
    return VGG(16, True, num_classes, in_channels, dropout)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19 with batch normalisation, as torchvision.models.vgg19_bn()."""
    return VGG(19, True, num_classes, in_channels, dropout)
