"""Structured channel pruning of float models with torch-pruning's dependency graph (DepGraph).

:func:`prune_to` keeps, for every prunable layer (conv/linear in forward order, the classifier head
excluded), the ``keep[i]`` output channels with the highest importance. The dependency graph
removes the coupled parameters too: the BatchNorm after the layer, the input channels of the next
conv, and the matching blocks of input features of a Linear after a ``Flatten`` (C, H, W order).

Importance criteria (computed on the unpruned parent, one score per output channel):

* ``l1`` (default): L1 norm of the channel's filter.
* ``bn``: |gamma| of the BatchNorm after the layer (sharp after "network slimming", i.e. parent
  training with ``bn_l1 > 0``).
* ``taylor``: first-order Taylor estimate of the loss change, ``(sum_p g_p * w_p)^2`` over the
  channel's filter weights and BN scale/shift, summed over a few training batches.
* ``activation``: mean absolute value of the channel's activation (after BN + ReLU) on a few
  training batches.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec
    >>> parent = build_model(get_spec("cnn-digits")).eval()
    >>> child = prune_to(parent, [8, 8, 16, 32], torch.zeros(1, 1, 8, 8))
    >>> child.spec.prunable_widths(), child(torch.zeros(2, 1, 8, 8)).shape
    ([8, 8, 16, 32], torch.Size([2, 10]))
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
from torch import nn

from hwprune.compress.quant import LayerGroup, layer_groups
from hwprune.errors import ConfigError, DataError

log = logging.getLogger(__name__)

Criterion = Literal["l1", "bn", "taylor", "activation"]
CRITERIA: tuple[str, ...] = ("l1", "bn", "taylor", "activation")


def _batches(data: Any, num_batches: int, batch_size: int) -> Iterator[tuple[torch.Tensor, Any]]:
    """Yield up to ``num_batches`` (x, y) batches from a DatasetSplits (train), Split or (x, y)."""
    if data is None:
        raise ConfigError("this pruning criterion needs data; pass data=<dataset splits>")
    split = getattr(data, "train", data)
    if hasattr(split, "x") and hasattr(split, "y"):
        x, y = split.x, split.y
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise ConfigError("data must be DatasetSplits, a Split or an (x, y) pair of tensors")
    if len(x) == 0:
        raise DataError("the training split is empty; cannot score channels")
    for i in range(min(num_batches, -(-len(x) // batch_size))):
        yield x[i * batch_size : (i + 1) * batch_size], y[i * batch_size : (i + 1) * batch_size]


def _out_dim_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension except the first (output channels)."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


def channel_scores(
    model: nn.Module,
    criterion: Criterion = "l1",
    data: Any = None,
    num_batches: int = 4,
    batch_size: int = 128,
) -> list[torch.Tensor]:
    """Importance of every output channel of every prunable layer (higher = keep).

    Returns one 1-D tensor per prunable layer (conv/linear in order, head excluded).

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> [s.shape[0] for s in channel_scores(build_model(get_spec("mlp-digits")))]
        [64, 64, 64]
    """
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown pruning criterion '{criterion}'; use one of {CRITERIA}")
    groups: list[LayerGroup] = layer_groups(model)[:-1]
    layers = [model.get_submodule(g.name) for g in groups]
    if criterion == "l1":
        return [_out_dim_sum(m.weight.detach().abs()) for m in layers]
    if criterion == "bn":
        scores = []
        for g in groups:
            if g.bn is None:
                raise ConfigError(
                    f"criterion 'bn' needs a BatchNorm after layer '{g.name}'; use 'l1' instead"
                )
            scores.append(model.get_submodule(g.bn).weight.detach().abs().clone())
        return scores
    if criterion == "taylor":
        return _taylor_scores(model, groups, data, num_batches, batch_size)
    return _activation_scores(model, groups, data, num_batches, batch_size)


def _taylor_scores(
    model: nn.Module, groups: list[LayerGroup], data: Any, num_batches: int, batch_size: int
) -> list[torch.Tensor]:
    work = copy.deepcopy(model).eval()
    params_per_group = []
    for g in groups:
        ps = [work.get_submodule(g.name).weight]
        if g.bn is not None:
            bn = work.get_submodule(g.bn)
            ps += [p for p in (bn.weight, bn.bias) if p is not None]
        params_per_group.append(ps)
    scores = [torch.zeros(ps[0].shape[0]) for ps in params_per_group]
    for x, y in _batches(data, num_batches, batch_size):
        work.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(work(x), y)
        loss.backward()
        for i, ps in enumerate(params_per_group):
            contrib = sum(_out_dim_sum(p.detach() * p.grad) for p in ps if p.grad is not None)
            scores[i] += contrib.pow(2)  # type: ignore[union-attr]
    return scores


def _activation_scores(
    model: nn.Module, groups: list[LayerGroup], data: Any, num_batches: int, batch_size: int
) -> list[torch.Tensor]:
    work = copy.deepcopy(model).eval()
    sums: list[torch.Tensor | None] = [None] * len(groups)
    count = [0]
    hooks = []

    def make_hook(i: int):  # noqa: ANN202
        def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
            a = out.detach().abs()
            dims = [d for d in range(a.dim()) if d != 1]
            s = a.mean(dim=dims) * a.shape[0]
            sums[i] = s if sums[i] is None else sums[i] + s

        return hook

    for i, g in enumerate(groups):
        target = g.act or g.bn or g.name
        hooks.append(work.get_submodule(target).register_forward_hook(make_hook(i)))
    try:
        with torch.no_grad():
            for x, _ in _batches(data, num_batches, batch_size):
                work(x)
                count[0] += len(x)
    finally:
        for h in hooks:
            h.remove()
    return [s / max(count[0], 1) for s in sums]  # type: ignore[operator]


def prune_to(
    model: nn.Module,
    keep: Sequence[int],
    example_input: torch.Tensor,
    criterion: Criterion = "l1",
    data: Any = None,
    num_batches: int = 4,
    batch_size: int = 128,
) -> nn.Module:
    """Deep copy of ``model`` keeping ``keep[i]`` output channels of prunable layer ``i``.

    ``keep`` has one entry per prunable layer (conv/linear in forward order, head excluded). The
    parent is untouched; at full width the copy computes exactly what the parent computes. A
    model built from a spec gets its ``spec`` updated to the new widths.

    Raises :class:`ConfigError` for a wrong number of entries, a count outside 1..channels, or
    an unknown criterion.

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> parent = build_model(get_spec("mlp-digits")).eval()
        >>> child = prune_to(parent, [32, 16, 8], torch.zeros(1, 1, 8, 8))
        >>> [m.out_features for m in child if isinstance(m, torch.nn.Linear)]
        [32, 16, 8, 10]
    """
    import torch_pruning as tp

    groups = layer_groups(model)[:-1]
    if len(keep) != len(groups):
        raise ConfigError(
            f"the model has {len(groups)} prunable layers, got {len(keep)} channel counts"
        )
    widths = [_out_channels(model.get_submodule(g.name)) for g in groups]
    for i, (k, w) in enumerate(zip(keep, widths, strict=True)):
        if not 1 <= int(k) <= w:
            raise ConfigError(f"layer {i} ('{groups[i].name}') has {w} channels; cannot keep {k}")
    child = copy.deepcopy(model)
    if list(map(int, keep)) == widths:
        return child
    scores = channel_scores(model, criterion, data, num_batches, batch_size)

    was_training = child.training
    child.eval()
    dg = tp.DependencyGraph().build_dependency(child, example_inputs=example_input, verbose=False)
    for i, g in enumerate(groups):
        layer = child.get_submodule(g.name)
        current = _out_channels(layer)
        k = int(keep[i])
        if current != widths[i]:  # already pruned through a coupled group (e.g. residual add)
            if current != k:
                raise ConfigError(
                    f"layer '{g.name}' is coupled to an earlier layer that kept {current} "
                    f"channels; give coupled layers the same count (got {k})"
                )
            continue
        if k == current:
            continue
        order = torch.argsort(scores[i], descending=True, stable=True)
        drop = sorted(int(j) for j in order[k:])
        fn = (
            tp.prune_conv_out_channels
            if isinstance(layer, nn.Conv2d)
            else tp.prune_linear_out_channels
        )
        group = dg.get_pruning_group(layer, fn, idxs=drop)
        group.prune()
    child.train(was_training)
    spec = getattr(child, "spec", None)
    if spec is not None and hasattr(spec, "with_widths"):
        child.spec = spec.with_widths([int(k) for k in keep])
    log.debug(
        "pruned %s to %s channels (criterion %s)", type(model).__name__, list(keep), criterion
    )
    return child


def _out_channels(layer: nn.Module) -> int:
    return int(layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features)
