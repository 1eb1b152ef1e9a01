"""Float base models: specs, the zoo, building from a spec, tracing any model, user models.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec
    >>> build_model(get_spec("tfc"))(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from hwprune.models.build import (
    ResidualBlock,
    SpecNet,
    build_model,
    compute_modules,
    model_layers,
    prunable_layers,
)
from hwprune.models.spec import (
    HARDWARE_OPS,
    ChannelGroup,
    ModelSpec,
    output_shapes,
    require_hardware_support,
)
from hwprune.models.support import check_representable
from hwprune.models.user import load_checkpoint, load_user_model
from hwprune.models.zoo import get_spec, list_models

__all__ = [
    "HARDWARE_OPS",
    "ChannelGroup",
    "ModelSpec",
    "ResidualBlock",
    "SpecNet",
    "build_model",
    "check_representable",
    "compute_modules",
    "get_spec",
    "list_models",
    "load_checkpoint",
    "load_user_model",
    "model_layers",
    "output_shapes",
    "prunable_layers",
    "require_hardware_support",
]
