"""Residual networks (He et al., 2016, "Deep residual learning for image recognition"): the ImageNet ResNets in
torchvision's layout and the paper's CIFAR-10 ResNets (section 4.2).

ImageNet ResNet: 7x7/2 conv 64 -> BatchNorm -> ReLU -> 3x3/2 max-pool -> four stages (layer1..layer4) of
BasicBlocks (ResNet-18/34) or Bottlenecks (50/101/152) at 64, 128, 256, 512 planes, stride 2 at the start of
layers 2-4, a 1x1 conv + BatchNorm projection ("option B") where a block changes shape -> global average pooling
-> fc. Bottlenecks carry their stride on the 3x3 convolution (torchvision's "ResNet v1.5"). ResNet-18 has
11,689,512 parameters and ResNet-50 25,557,032 for 1000 classes; keys (conv1.weight, layer1.0.conv1.weight,
layer2.0.downsample.0.weight, fc.bias, ...) and initialisation (kaiming_normal_ fan_out for convolutions,
BatchNorm at (1, 0)) are torchvision's, so its ImageNet weights load.

CIFAR ResNet (resnet20/32/44/56/110, depth 6n + 2): 3x3 conv 16 -> BatchNorm -> ReLU -> three stages of n
BasicBlocks at 16, 32, 64 channels on 32x32, 16x16, 8x8 maps -> global average pooling -> fc. Where a stage
starts, the shortcut is the paper's option A by default: the identity, subsampled with stride 2 and zero-padded
with the new channels (no parameters, as in the paper's CIFAR experiments); shortcut='B' uses a 1x1 conv +
BatchNorm projection instead. ResNet-20 with option A has 269,722 parameters for 10 classes (the paper's 0.27M).
"""

from __future__ import annotations

from collections.abc import Sequence

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential, init
from dagrad.nn.blocks import BasicBlock, Bottleneck, _check_positive, conv1x1, conv3x3
from dagrad.ops.shape import pad

__all__ = [
    "CifarResNet", "ResNet", "ZeroPadShortcut", "resnet18", "resnet20", "resnet32", "resnet34", "resnet44",
    "resnet50", "resnet56", "resnet101", "resnet110", "resnet152",
]  # fmt: skip


def _init(model: Module, zero_init_residual: bool) -> None:
    """torchvision's ResNet initialisation; zero_init_residual zeroes each block's last BatchNorm scale, so every
    residual branch starts as zero and every block as the identity (Goyal et al., 2017)."""
    for m in model.modules():
        if isinstance(m, Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, BatchNorm2d):
            init.ones_(m.weight)
            init.zeros_(m.bias)
    for m in model.modules() if zero_init_residual else ():
        if isinstance(m, (BasicBlock, Bottleneck)):
            init.zeros_((m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight)


class ResNet(Module):
    """ImageNet-style ResNet for (N, in_channels, H, W) images (224 in the paper; any H, W >= 1 run) ->
    (N, num_classes) logits.

    block: BasicBlock or Bottleneck. layers: the number of blocks in each of the four stages. groups and
    width_per_group: the Bottleneck's grouped 3x3 convolution (ResNeXt) and width (Wide ResNet), as torchvision.
    zero_init_residual: start every residual branch at zero.
    """

    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: Sequence[int], num_classes: int = 1000,
        in_channels: int = 3, zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
    ) -> None:  # fmt: skip
        super().__init__()
        _check_positive("ResNet", num_classes=num_classes, in_channels=in_channels)
        if block not in (BasicBlock, Bottleneck):
            raise ArgumentError(f"ResNet: expected block to be BasicBlock or Bottleneck, received {block!r}")
        if len(layers) != 4:
            raise ArgumentError(f"ResNet: expected layers to hold 4 block counts, received layers={layers!r}")
        _check_positive("ResNet", **{f"layers[{i}]": n for i, n in enumerate(layers)})
        self.num_classes, self.in_channels = num_classes, in_channels
        self.groups, self.base_width = groups, width_per_group
        self.inplanes = 64
        self.conv1 = Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = BatchNorm2d(64)
        self.relu = ReLU(inplace=True)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        _init(self, zero_init_residual)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> Sequential:
        """A stage: the first block changes the shape (through a projection shortcut), the rest keep it."""
        out = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = Sequential(conv1x1(self.inplanes, out, stride), BatchNorm2d(out))
        kw = {"groups": self.groups, "base_width": self.base_width}
        stage = [block(self.inplanes, planes, stride, downsample, **kw)]
        self.inplanes = out
        stage += [block(out, planes, **kw) for _ in range(1, blocks)]
        return Sequential(*stage)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_channels={self.in_channels}"


class ZeroPadShortcut(Module):
    """The paper's option-A shortcut: (N, C, H, W) -> (N, planes, ceil(H / stride), ceil(W / stride)), keeping
    every stride-th pixel and appending planes - C zero channels. No parameters."""

    def __init__(self, planes: int, stride: int = 2) -> None:
        super().__init__()
        self.planes, self.stride = planes, stride

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        return pad(x[:, :, ::s, ::s], (0, 0, 0, 0, 0, self.planes - x.shape[1]))

    def extra_repr(self) -> str:
        return f"planes={self.planes}, stride={self.stride}"


class CifarResNet(Module):
    """The paper's CIFAR-10 ResNet of depth 6n + 2 for (N, in_channels, 32, 32) images -> (N, num_classes) logits.

    shortcut: 'A' (zero-padded identity, the paper's choice for CIFAR) or 'B' (1x1 conv + BatchNorm projection)
    where a stage starts. Names follow torchvision's ResNet: conv1, bn1, layer1..layer3, fc.
    """

    def __init__(
        self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, shortcut: str = "A",
        zero_init_residual: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        _check_positive("CifarResNet", depth=depth, num_classes=num_classes, in_channels=in_channels)
        if depth < 8 or (depth - 2) % 6:
            raise ArgumentError(f"CifarResNet: expected depth = 6n + 2 with n >= 1 (20, 32, 44, 56, 110), "
                                f"received depth={depth}")  # fmt: skip
        if shortcut not in ("A", "B"):
            raise ArgumentError(f"CifarResNet: expected shortcut 'A' or 'B', received shortcut={shortcut!r}")
        self.depth, self.num_classes, self.in_channels, self.shortcut = depth, num_classes, in_channels, shortcut
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = BatchNorm2d(16)
        self.relu = ReLU(inplace=True)
        self.layer1 = self._make_layer(16, 16, n, 1)
        self.layer2 = self._make_layer(16, 32, n, 2)
        self.layer3 = self._make_layer(32, 64, n, 2)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(64, num_classes)
        _init(self, zero_init_residual)

    def _make_layer(self, inplanes: int, planes: int, blocks: int, stride: int) -> Sequential:
        downsample = None
        if stride != 1 or inplanes != planes:
            downsample = (ZeroPadShortcut(planes, stride) if self.shortcut == "A"
                          else Sequential(conv1x1(inplanes, planes, stride), BatchNorm2d(planes)))  # fmt: skip
        stage = [BasicBlock(inplanes, planes, stride, downsample)]
        stage += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return Sequential(*stage)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))

    def extra_repr(self) -> str:
        return f"depth={self.depth}, num_classes={self.num_classes}, shortcut={self.shortcut!r}"


def resnet18(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18 as torchvision.models.resnet18(): BasicBlocks [2, 2, 2, 2]."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels)


def resnet34(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-34 as torchvision.models.resnet34(): BasicBlocks [3, 4, 6, 3]."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels)


def resnet50(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-50 as torchvision.models.resnet50(): Bottlenecks [3, 4, 6, 3]."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels)


def resnet101(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-101 as torchvision.models.resnet101(): Bottlenecks [3, 4, 23, 3]."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels)


def resnet152(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-152 as torchvision.models.resnet152(): Bottlenecks [3, 8, 36, 3]."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels)


def resnet20(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """The paper's CIFAR ResNet-20 (n = 3): 0.27M parameters."""
    return CifarResNet(20, num_classes, in_channels, shortcut)


def resnet32(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """The paper's CIFAR ResNet-32 (n = 5): 0.46M parameters."""
    return CifarResNet(32, num_classes, in_channels, shortcut)


def resnet44(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """The paper's CIFAR ResNet-44 (n = 7): 0.66M parameters."""
    return CifarResNet(44, num_classes, in_channels, shortcut)


def resnet56(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """The paper's CIFAR ResNet-56 (n = 9): 0.85M parameters."""
    return CifarResNet(56, num_classes, in_channels, shortcut)


def resnet110(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """The paper's CIFAR ResNet-110 (n = 18): 1.7M parameters."""
    return CifarResNet(110, num_classes, in_channels, shortcut)
