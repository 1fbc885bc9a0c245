"""Composite blocks as torchvision builds them: ResNet's BasicBlock and Bottleneck, GoogLeNet's Inception.

Attribute names (conv1, bn1, ..., downsample; branch1..branch4; conv, bn) and layer order follow
torchvision.models.resnet and torchvision.models.googlenet, so a torchvision state dict loads unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError
from dagrad.nn.activation import ReLU
from dagrad.nn.containers import Sequential
from dagrad.nn.conv import Conv2d
from dagrad.nn.module import Module
from dagrad.nn.normalization import BatchNorm2d
from dagrad.nn.pooling import MaxPool2d
from dagrad.ops.activation import relu
from dagrad.ops.shape import cat


def _check_positive(layer: str, **values: Any) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArgumentError(f"{layer}: expected {name} to be a positive int, received {name}={v!r}")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> Conv2d:
    """3x3 convolution without bias, padded by `dilation` so stride 1 keeps the spatial size."""
    return Conv2d(
        in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """1x1 convolution without bias (channel projection)."""
    return Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(Module):
    """ResNet-18/34 block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), (N, inplanes, H, W) ->
    (N, planes, H / stride, W / stride); `downsample` maps x to the output's shape when they differ."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], Module] | None = None,
    ) -> None:
        super().__init__()
        _check_positive("BasicBlock", inplanes=inplanes, planes=planes, stride=stride)
        if groups != 1 or base_width != 64:
            raise ArgumentError(
                "BasicBlock: expected groups=1 and base_width=64, "
                f"received groups={groups!r}, base_width={base_width!r}"
            )
        if dilation != 1:
            raise ArgumentError(f"BasicBlock: expected dilation=1 (use Bottleneck to dilate), received {dilation!r}")
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(Module):
    """ResNet-50+ block: 1x1 reduce -> 3x3 (stride, groups, dilation) -> 1x1 expand to planes * 4, plus shortcut.

    As torchvision (ResNet v1.5) the stride sits on the 3x3 convolution; width = planes * base_width / 64 * groups.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], Module] | None = None,
    ) -> None:
        super().__init__()
        _check_positive(
            "Bottleneck", inplanes=inplanes, planes=planes, stride=stride, groups=groups, base_width=base_width,
            dilation=dilation,
        )  # fmt: skip
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class BasicConv2d(Module):
    """GoogLeNet's conv unit: Conv2d(bias=False, **kwargs) -> BatchNorm2d(eps=0.001) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return relu(self.bn(self.conv(x)))


class Inception(Module):
    """GoogLeNet (v1) module: four branches on (N, in_channels, H, W), concatenated on channels to
    (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).

    branch1: 1x1; branch2: 1x1 -> 3x3; branch3: 1x1 -> 3x3 (torchvision's kernel, where the paper has 5x5);
    branch4: 3x3 max-pool (stride 1, padding 1, ceil_mode) -> 1x1.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        conv_block: Callable[..., Module] | None = None,
    ) -> None:
        super().__init__()
        _check_positive(
            "Inception", in_channels=in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3, ch5x5red=ch5x5red,
            ch5x5=ch5x5, pool_proj=pool_proj,
        )  # fmt: skip
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1), conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = Sequential(
            MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


__all__ = ["BasicBlock", "BasicConv2d", "Bottleneck", "Inception", "conv1x1", "conv3x3"]
