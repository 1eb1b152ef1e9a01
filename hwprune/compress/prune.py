"""Structured channel pruning of float models with torch-pruning's dependency graph (DepGraph).

One pruner, many importance criteria: the dependency graph splits the model's channels into
*coupled groups* (:func:`channel_groups`): a conv/linear with its BatchNorm and the input channels
of the layers it feeds (a Linear after ``Flatten`` loses C, H, W blocks); every conv whose output
meets in one residual add; a depthwise conv with the layer that feeds it. An importance criterion
(a torch-pruning :class:`~torch_pruning.pruner.importance.Importance`) scores the channels of a
whole group; :func:`prune_to` keeps the best ``keep`` of each group. The classifier head is never
pruned.

Importance criteria (scores from the unpruned parent, summed over the group's members):

* ``l1`` (default, :class:`L1Importance`): L1 norm of the channel's filter in every conv/linear
  whose output channels the group holds.
* ``bn`` (:class:`BNImportance`): |gamma| of the group's BatchNorms (sharp after "network
  slimming", i.e. parent training with ``bn_l1 > 0``).
* ``taylor`` (:class:`TaylorImportance`): first-order Taylor estimate of the loss change,
  ``(sum_p g_p * w_p)^2`` over the group's filters and BN scale/shift, summed over a few
  training batches.
* ``activation`` (:class:`ActivationImportance`): mean absolute value of the channel's activation
  (after BN + ReLU) on a few training batches.

On a chain (one layer per group) every criterion scores exactly as it did per layer.

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
import torch_pruning as tp
from torch import nn

from hwprune.compress.quant import LayerGroup, layer_groups
from hwprune.errors import ConfigError, DataError
from hwprune.models.spec import ChannelGroup

log = logging.getLogger(__name__)

Criterion = Literal["l1", "bn", "taylor", "activation"]
CRITERIA: tuple[str, ...] = ("l1", "bn", "taylor", "activation")

_COMPUTE = (nn.Conv2d, nn.Linear)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


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


# -- the group view ------------------------------------------------------------------------------
def _members(group: tp.Group) -> Iterator[tuple[nn.Module, list[int], list[int]]]:
    """(module, its channel indices, the group's root indices) of every output-channel member."""
    dg = group._DG
    for item in group:
        dep = item.dep
        if not dg.is_out_channel_pruning_fn(dep.handler):
            continue
        mod = dep.target.module
        if isinstance(mod, (*_COMPUTE, *_BN)):
            yield mod, [int(i) for i in item.idxs], [int(i) for i in item.root_idxs]


class GroupImportance(tp.importance.Importance):
    """Base of hwprune's criteria: per-module channel scores summed over a group's members.

    ``prepare(model)`` is called once on the unpruned model before any group is scored (data-driven
    criteria run their batches there); ``module_scores(module)`` gives a module's per-channel score
    (``None`` when the module does not contribute). Subclass it to add a criterion.
    """

    def prepare(self, model: nn.Module) -> None:  # noqa: B027 - optional hook
        """Collect whatever the criterion needs from the unpruned ``model``."""

    def module_scores(self, module: nn.Module) -> torch.Tensor | None:
        """Per-output-channel score of one member module."""
        raise NotImplementedError

    def __call__(self, group: tp.Group) -> torch.Tensor:
        """One score per channel of the group's root layer (higher = keep)."""
        root = group[0].dep.target.module
        n = len(group[0].idxs)
        total = torch.zeros(n)
        seen = False
        for mod, idxs, root_idxs in _members(group):
            s = self.module_scores(mod)
            if s is None:
                continue
            seen = True
            total.index_add_(0, torch.tensor(root_idxs), s.detach().float()[idxs])
        if not seen:
            self.missing(root, group)
        return total

    def missing(self, root: nn.Module, group: tp.Group) -> None:
        """Called when no member of ``group`` has a score (default: all-zero scores are fine)."""


class L1Importance(GroupImportance):
    """L1 norm of every output filter of the group's conv/linear layers."""

    def module_scores(self, module: nn.Module) -> torch.Tensor | None:
        if isinstance(module, _COMPUTE):
            return _out_dim_sum(module.weight.detach().abs())
        return None


class BNImportance(GroupImportance):
    """|gamma| of the group's BatchNorms; a group without BatchNorm is a ConfigError."""

    def module_scores(self, module: nn.Module) -> torch.Tensor | None:
        if isinstance(module, _BN) and module.weight is not None:
            return module.weight.detach().abs().clone()
        return None

    def missing(self, root: nn.Module, group: tp.Group) -> None:
        name = group._DG._module2name.get(root, type(root).__name__)
        raise ConfigError(
            f"criterion 'bn' needs a BatchNorm after layer '{name}'; use 'l1' instead"
        )


class _DataImportance(GroupImportance):
    """A criterion that runs a few training batches through the model in :meth:`prepare`."""

    def __init__(self, data: Any, num_batches: int = 4, batch_size: int = 128) -> None:
        self.data, self.num_batches, self.batch_size = data, num_batches, batch_size
        self._scores: dict[str, torch.Tensor] = {}
        self._names: dict[nn.Module, str] = {}
        next(_batches(data, num_batches, batch_size))  # fail early without data

    def module_scores(self, module: nn.Module) -> torch.Tensor | None:
        return self._scores.get(self._names.get(module, ""))


class TaylorImportance(_DataImportance):
    """``(sum_p g_p w_p)^2`` per channel and batch over the group's filters and BN, summed."""

    def prepare(self, model: nn.Module) -> None:
        self._names = {m: n for n, m in model.named_modules()}
        work = copy.deepcopy(model).eval()
        params: dict[str, list[torch.Tensor]] = {}
        for n, m in work.named_modules():
            if isinstance(m, _COMPUTE):
                params[n] = [m.weight]
            elif isinstance(m, _BN):
                params[n] = [p for p in (m.weight, m.bias) if p is not None]
        per_batch: list[dict[str, torch.Tensor]] = []
        for x, y in _batches(self.data, self.num_batches, self.batch_size):
            work.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(work(x), y).backward()
            per_batch.append(
                {
                    n: _grad_dot(ps)
                    for n, ps in params.items()
                    if any(p.grad is not None for p in ps)
                }
            )
        self._per_batch = per_batch

    def __call__(self, group: tp.Group) -> torch.Tensor:
        n = len(group[0].idxs)
        total = torch.zeros(n)
        for batch in self._per_batch:
            contrib = torch.zeros(n)
            for mod, idxs, root_idxs in _members(group):
                s = batch.get(self._names.get(mod, ""))
                if isinstance(s, torch.Tensor):
                    contrib.index_add_(0, torch.tensor(root_idxs), s.float()[idxs])
            total += contrib.pow(2)
        return total


def _grad_dot(params: list[torch.Tensor]) -> torch.Tensor:
    """Per-channel ``sum_p g_p * w_p`` over the parameters that have a gradient."""
    parts = [_out_dim_sum(p.detach() * p.grad) for p in params if p.grad is not None]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


class ActivationImportance(_DataImportance):
    """Mean |activation| per channel after each conv/linear's BN + ReLU (as ``layer_groups`` finds
    them), summed over the group's conv/linear layers."""

    def prepare(self, model: nn.Module) -> None:
        self._names = {m: n for n, m in model.named_modules()}
        work = copy.deepcopy(model).eval()
        groups: list[LayerGroup] = layer_groups(work)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        hooks = []

        def make_hook(name: str):  # noqa: ANN202
            def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
                a = out.detach().abs()
                dims = [d for d in range(a.dim()) if d != 1]
                s = a.mean(dim=dims) * a.shape[0]
                sums[name] = s if name not in sums else sums[name] + s

            return hook

        for g in groups:
            target = g.act or g.bn or g.name
            hooks.append(work.get_submodule(target).register_forward_hook(make_hook(g.name)))
        try:
            with torch.no_grad():
                for x, _ in _batches(self.data, self.num_batches, self.batch_size):
                    work(x)
                    count += len(x)
        finally:
            for h in hooks:
                h.remove()
        self._scores = {k: v / max(count, 1) for k, v in sums.items()}


def make_importance(
    criterion: str | GroupImportance,
    data: Any = None,
    num_batches: int = 4,
    batch_size: int = 128,
) -> GroupImportance:
    """The :class:`GroupImportance` object for ``criterion`` (one of :data:`CRITERIA`, or an
    importance object, returned as it is).

    Example:
        >>> type(make_importance("l1")).__name__
        'L1Importance'
    """
    if isinstance(criterion, GroupImportance):
        return criterion
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown pruning criterion '{criterion}'; use one of {CRITERIA}")
    if criterion == "l1":
        return L1Importance()
    if criterion == "bn":
        return BNImportance()
    cls = TaylorImportance if criterion == "taylor" else ActivationImportance
    return cls(data, num_batches, batch_size)


# -- the dependency graph ------------------------------------------------------------------------
def _dependency_groups(
    model: nn.Module, example_input: torch.Tensor
) -> tuple[Any, list[tuple[ChannelGroup, tp.Group]]]:
    """(DepGraph, [(ChannelGroup, full torch-pruning group)]) of the prunable layers, in order."""
    prunable = [g.name for g in layer_groups(model)]
    head = model.get_submodule(prunable[-1])
    index = {n: i for i, n in enumerate(prunable[:-1])}
    was_training = model.training
    model.eval()
    try:
        dg = tp.DependencyGraph().build_dependency(
            model, example_inputs=example_input, verbose=False
        )
    finally:
        model.train(was_training)
    names = {m: n for n, m in model.named_modules()}
    out = []
    for group in dg.get_all_groups(ignored_layers=[head], root_module_types=_COMPUTE):
        members = sorted({index[names[m]] for m, _, _ in _members(group) if names.get(m) in index})
        if not members:
            continue
        width = len(group[0].idxs)
        cg = ChannelGroup(tuple(members), tuple(prunable[i] for i in members), width)
        out.append((cg, group))
    out.sort(key=lambda pair: pair[0].layers)
    return dg, out


def channel_groups(model: nn.Module, example_input: torch.Tensor) -> list[ChannelGroup]:
    """Coupled prunable layers of a float model, from torch-pruning's dependency graph.

    Each :class:`~hwprune.models.spec.ChannelGroup` lists the prunable layers (indices into
    :func:`hwprune.models.prunable_layers`, module names) whose output channels are pruned
    together, and their channel count: the search offers one count per group. Layers coupled only
    to the network input or to the head are in no group (their width is fixed).

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
        >>> [g.names for g in channel_groups(build_model(spec), torch.zeros(1, 1, 8, 8))][:2]
        [('conv0', 'res1.body.conv1'), ('res1.body.conv0',)]
    """
    return [cg for cg, _ in _dependency_groups(model, example_input)[1]]


def channel_scores(
    model: nn.Module,
    criterion: Criterion | GroupImportance = "l1",
    data: Any = None,
    num_batches: int = 4,
    batch_size: int = 128,
    example_input: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Importance of every channel of every coupled group (higher = keep).

    Returns one 1-D tensor per :func:`channel_groups` entry; on a chain that is one per prunable
    layer (conv/linear in order, head excluded). ``example_input`` defaults to zeros of the shape
    of the first batch of ``data`` or, without data, is required for conv models.

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> m = build_model(get_spec("mlp-digits"))
        >>> [s.shape[0] for s in channel_scores(m, example_input=torch.zeros(1, 1, 8, 8))]
        [64, 64, 64]
    """
    imp = make_importance(criterion, data, num_batches, batch_size)
    if example_input is None:
        example_input = _example_input(model, data)
    work = copy.deepcopy(model)
    _, groups = _dependency_groups(work, example_input)
    imp.prepare(work)
    return [imp(g) for _, g in groups]


def _example_input(model: nn.Module, data: Any) -> torch.Tensor:
    if data is not None:
        x, _ = next(_batches(data, 1, 1))
        return torch.zeros_like(x[:1])
    first = next(m for m in model.modules() if isinstance(m, _COMPUTE))
    if isinstance(first, nn.Linear):
        return torch.zeros(1, first.in_features)
    raise ConfigError("pass example_input (one input batch) to score a conv model without data")


def prune_to(
    model: nn.Module,
    keep: Sequence[int],
    example_input: torch.Tensor,
    criterion: Criterion | GroupImportance = "l1",
    data: Any = None,
    num_batches: int = 4,
    batch_size: int = 128,
) -> nn.Module:
    """Deep copy of ``model`` keeping ``keep[i]`` output channels of prunable layer ``i``.

    ``keep`` has one entry per prunable layer (conv/linear in registration order, head excluded);
    coupled layers (one :func:`channel_groups` entry: a residual add, a depthwise conv and its
    producer) must get the same count (expand one count per group with
    :meth:`hwprune.models.ModelSpec.widths_from_groups`). The parent is untouched; at full width
    the copy computes exactly what the parent computes. A model built from a spec gets its
    ``spec`` updated to the new widths.

    Raises :class:`ConfigError` for a wrong number of entries, a count outside 1..channels,
    unequal counts in a coupled group, or an unknown criterion. ``criterion`` may also be any
    :class:`GroupImportance` object (a new criterion plugs in there).

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> parent = build_model(get_spec("mlp-digits")).eval()
        >>> child = prune_to(parent, [32, 16, 8], torch.zeros(1, 1, 8, 8))
        >>> [m.out_features for m in child if isinstance(m, torch.nn.Linear)]
        [32, 16, 8, 10]
    """
    groups = layer_groups(model)[:-1]
    if len(keep) != len(groups):
        raise ConfigError(
            f"the model has {len(groups)} prunable layers, got {len(keep)} channel counts"
        )
    widths = [_out_channels(model.get_submodule(g.name)) for g in groups]
    keep = [int(k) for k in keep]
    for i, (k, w) in enumerate(zip(keep, widths, strict=True)):
        if not 1 <= k <= w:
            raise ConfigError(f"layer {i} ('{groups[i].name}') has {w} channels; cannot keep {k}")
    if not isinstance(criterion, GroupImportance) and criterion not in CRITERIA:
        raise ConfigError(f"unknown pruning criterion '{criterion}'; use one of {CRITERIA}")
    child = copy.deepcopy(model)
    if keep == widths:
        return child
    imp = make_importance(criterion, data, num_batches, batch_size)
    was_training = child.training
    child.eval()
    dg, dep_groups = _dependency_groups(child, example_input)
    imp.prepare(child)
    plan = []  # score every group on the unpruned copy first, then prune
    grouped: set[int] = set()
    for cg, group in dep_groups:
        counts = {keep[i] for i in cg.layers}
        grouped.update(cg.layers)
        if len(counts) > 1:
            raise ConfigError(
                f"layers {list(cg.names)} are coupled (residual add or depthwise conv) and must "
                f"keep the same number of channels, got {[keep[i] for i in cg.layers]}"
            )
        k = counts.pop()
        if k == cg.width:
            continue
        order = torch.argsort(imp(group), descending=True, stable=True)
        plan.append((group, sorted(int(j) for j in order[k:])))
    for i in set(range(len(keep))) - grouped:
        if keep[i] != widths[i]:
            raise ConfigError(
                f"layer '{groups[i].name}' follows the network input's channels and cannot be "
                f"pruned; keep all {widths[i]}"
            )
    for group, drop in plan:
        item = group[0].dep
        dg.get_pruning_group(item.target.module, item.handler, idxs=drop).prune()
    child.train(was_training)
    spec = getattr(child, "spec", None)
    if spec is not None and hasattr(spec, "with_widths"):
        child.spec = spec.with_widths(keep)
    log.debug("pruned %s to %s channels (criterion %s)", type(model).__name__, keep, criterion)
    return child


def _out_channels(layer: nn.Module) -> int:
    return int(layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features)
