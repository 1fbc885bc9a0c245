"""The benchmark's networks, written against the torch.nn API that dagrad.nn shares, so that one definition builds
the PyTorch twin of a dagrad model (`lenet5(torch.nn)` for dagrad.models.LeNet5) or both sides at once
(`vgg_stack(dagrad.nn)`, `vgg_stack(torch.nn)`): same layers, same order.

`load_arrays(twin, state_arrays(model), from_numpy)` then gives the twin the dagrad model's initial weights, array
by array in order (the frameworks run in separate processes, so the weights travel as NumPy arrays), so both start
from the same point and their first-step losses can be compared.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from dagrad.errors import ShapeError

__all__ = ["lenet5", "load_arrays", "mlp", "resnet20", "state_arrays", "vgg_stack"]


def mlp(nn: ModuleType, sizes: tuple[int, ...] = (784, 512, 512, 10)) -> Any:
    """dagrad.models.MLP(sizes[0], sizes[1:-1], sizes[-1]) layer for layer: Linear -> ReLU per hidden width, then
    Linear logits."""
    layers: list[Any] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


def lenet5(nn: ModuleType) -> Any:
    """dagrad.models.LeNet5() for (N, 1, 28, 28) images, layer for layer: (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def vgg_stack(nn: ModuleType, width: int = 64, size: int = 32) -> Any:
    """A VGG-style stack of 3x3 convolutions on (N, 3, size, size): conv w - conv w - pool - conv 2w - conv 2w -
    pool - fc 10 (ReLU after each convolution)."""
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * w * (size // 4) ** 2, 10),
    )  # fmt: skip


def resnet20(nn: ModuleType) -> Any:
    """dagrad.models.resnet20() layer for layer: He et al.'s CIFAR ResNet-20 (three stages of three BasicBlocks,
    16, 32 and 64 channels) on (N, 3, 32, 32) -> (N, 10) logits. Option-A shortcuts: where a block halves the map
    and doubles the channels, the shortcut keeps every second pixel and appends zero channels (no parameters).
    ReLUs and the shortcut's addition work in place, as in dagrad's blocks and torchvision's."""
    width = 16
    F = nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.pad = c_out - c_in

        def forward(self, x: Any) -> Any:
            out = F.relu(self.bn1(self.conv1(x)), inplace=True)
            out = self.bn2(self.conv2(out))
            if self.pad:
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.pad))
            out += x
            return F.relu(out, inplace=True)

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            stages, c_in = [], width
            for i, c_out in enumerate((width, 2 * width, 4 * width)):
                stride = 1 if i == 0 else 2
                stages.append(nn.Sequential(*(BasicBlock(c_in if j == 0 else c_out, c_out, stride if j == 0 else 1)
                                              for j in range(3))))  # fmt: skip
                c_in = c_out
            self.layer1, self.layer2, self.layer3 = stages
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4 * width, 10)

        def forward(self, x: Any) -> Any:
            x = F.relu(self.bn1(self.conv1(x)), inplace=True)
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet()


def state_arrays(model: Any) -> list[np.ndarray]:
    """Copies of a dagrad or torch model's state (parameters and buffers) as NumPy arrays, in state-dict order."""
    return [np.array(v.detach().numpy()) for v in model.state_dict().values()]


def load_arrays(model: Any, arrays: list[np.ndarray], from_numpy: Any) -> None:
    """Load state_arrays() of a twin into `model`, in order, converting each with from_numpy (model's framework's).
    The twins must list the same shapes in the same order; their key names may differ."""
    state = model.state_dict()
    have, got = [tuple(v.shape) for v in state.values()], [a.shape for a in arrays]
    if have != got:
        raise ShapeError(
            f"load_arrays: expected arrays of the shapes of {type(model).__name__}'s state {have}, received {got}"
        )
    model.load_state_dict({k: from_numpy(a) for k, a in zip(state, arrays)})
