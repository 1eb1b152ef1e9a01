"""Example user-model factories, as a template for ``--model package.module:factory``.

Example:
    >>> from hwprune.models import load_user_model
    >>> load_user_model("hwprune.models.examples:tiny_cnn")[0]
    Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
"""

from __future__ import annotations

from torch import nn


def tiny_mlp() -> nn.Sequential:
    """A 64-32-10 MLP for 8x8 digits, written as a user would (modules in forward order)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 32, bias=False),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Linear(32, 10, bias=False),
    )


def tiny_cnn() -> nn.Sequential:
    """A small CNN for 8x8x1 digits: conv 8, pool 2, fc 10."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10, bias=False),
    )


class _Residual(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, written as users write it."""

    def __init__(self, c: int, o: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, o, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.shortcut = nn.Sequential()
        if c != o or stride != 1:
            self.shortcut = nn.Sequential(nn.Conv2d(c, o, 1, stride, bias=False), nn.BatchNorm2d(o))
        self.relu2 = nn.ReLU()

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.relu2(
            self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.shortcut(x)
        )


def tiny_resnet() -> nn.Sequential:
    """A ResNet-style net for 8x8x1 digits: conv 8, two residual blocks (8; 16 /2), pool, fc 10.

    ``hwprune search --model hwprune.models.examples:tiny_resnet`` reads it into residual blocks
    (fork, body, shortcut, skip FIFO and add in the dataflow hardware).
    """
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        _Residual(8, 8, 1),
        _Residual(8, 16, 2),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10, bias=False),
    )


def tiny_dscnn() -> nn.Sequential:
    """A depthwise-separable CNN for 8x8x1 digits: conv 16, 2 x (depthwise 3x3 + pointwise 16),
    pool, fc 10. A depthwise conv keeps its producer's channels (one count per pair)."""
    layers: list[nn.Module] = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)]
    layers.append(nn.ReLU())
    for _ in range(2):
        layers += [nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16)]
        layers += [nn.ReLU(), nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    return nn.Sequential(
        *layers, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10, bias=False)
    )
