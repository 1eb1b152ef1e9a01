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
