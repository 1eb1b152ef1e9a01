"""The search space: a :class:`Candidate` (channels and bits per layer), the choices a recipe
offers (:class:`SearchSpace`) and the design description of a candidate (:func:`make_design`).

Example:
    >>> sp = SearchSpace.build((64, 64, 64), 4, Recipe())
    >>> sp.uniform(0.5, 4).channels
    (32, 32, 32)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwprune.errors import ConfigError
from hwprune.recipe import Recipe


@dataclass(frozen=True)
class Candidate:
    """One point of the search space.

    ``channels`` has one entry per prunable layer; ``wbits``/``abits`` one per conv/fc, head
    last (its ``abits`` is ``None``: the raw accumulator feeds the arg-max).

    Example:
        >>> Candidate((32, 16), (4, 4, 8), (4, 2, None)).to_json()["abits"]
        [4, 2, None]
    """

    channels: tuple[int, ...]
    wbits: tuple[int, ...]
    abits: tuple[int | None, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "channels": list(self.channels),
            "wbits": list(self.wbits),
            "abits": list(self.abits),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Candidate:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(d["channels"]), tuple(d["wbits"]), tuple(d["abits"]))


def channel_choices(width: int, step: int, min_channels: int, min_ratio: float) -> tuple[int, ...]:
    """Channel counts offered for a layer of parent width ``width``.

    Multiples of ``step`` (0: 4 below 32 channels, 8 below 128, 16 above) from the floor
    ``max(min_channels, min_ratio * width)`` (rounded up to the step) to ``width``; ``width``
    itself is always offered.

    Example:
        >>> channel_choices(64, 8, 8, 0.125)
        (8, 16, 24, 32, 40, 48, 56, 64)
        >>> channel_choices(50, 0, 4, 0.25)
        (16, 24, 32, 40, 48, 50)
    """
    if step <= 0:
        step = 4 if width < 32 else 8 if width < 128 else 16
    floor = max(min_channels, math.ceil(min_ratio * width))
    floor = math.ceil(floor / step) * step
    out = [c for c in range(floor, width, step)]
    out.append(width)
    return tuple(out)


@dataclass(frozen=True)
class SearchSpace:
    """The candidates a recipe allows for one parent network.

    Example:
        >>> sp = SearchSpace.build((64, 64, 64), 4, Recipe())
        >>> len(sp.channel_choices), sp.channel_choices[0][:3], sp.head_wbits
        (3, (8, 16, 24), (1, 2, 3, 4, 6, 8))
    """

    parent_widths: tuple[int, ...]
    num_quant: int
    channel_choices: tuple[tuple[int, ...], ...]
    wbits: tuple[int, ...]
    abits: tuple[int, ...]
    head_wbits: tuple[int, ...]
    per_layer_bits: bool
    #: coupled prunable layers (``ModelSpec.channel_groups()``): one count per group, sampled as
    #: ``ch<first layer>``; empty = one group per layer (chains: the same parameters as before)
    groups: tuple[tuple[int, ...], ...] = ()
    #: conv/fc layers sharing one activation quantizer (``ModelSpec.shared_activations()``)
    shared_abits: tuple[tuple[int, ...], ...] = ()

    def _leader(self) -> dict[int, int]:
        """Layer -> the layer whose sampled count it copies (itself when free)."""
        lead = {i: i for i in range(len(self.parent_widths))}
        for g in self.groups:
            for i in g:
                lead[i] = g[0]
        return lead

    def _ab_leader(self) -> dict[int, int]:
        lead = {i: i for i in range(self.num_quant)}
        for g in self.shared_abits:
            for i in g:
                lead[i] = g[0]
        return lead

    @classmethod
    def build(
        cls,
        parent_widths: Sequence[int],
        num_quant: int,
        recipe: Recipe,
        bits_override: tuple[int, ...] | None = None,
        groups: Sequence[Sequence[int]] = (),
        shared_abits: Sequence[Sequence[int]] = (),
    ) -> SearchSpace:
        """Space for a parent with ``parent_widths`` and ``num_quant`` conv/fc layers.

        ``groups`` (from ``spec.channel_groups()``) couples prunable layers to one channel
        count; a layer in no group while others are grouped keeps its width (it follows the
        network input). ``shared_abits`` (``spec.shared_activations()``) couples activation bits.

        Raises :class:`ConfigError` when the channel floor is above a layer's width.
        """
        sp = recipe.space
        choices = []
        grouped = {i for g in groups for i in g}
        for i, w in enumerate(parent_widths):
            if not sp.prune or (groups and i not in grouped):
                choices.append((int(w),))
                continue
            if sp.min_channels > w:
                raise ConfigError(
                    f"space.min_channels ({sp.min_channels}) is above the width {w} of prunable "
                    f"layer {i} of model '{recipe.model}'; lower space.min_channels"
                )
            if sp.channel_step > w:  # the layer could only stay whole: surely not what was meant
                raise ConfigError(
                    f"space.channel_step ({sp.channel_step}) is above the width {w} of prunable "
                    f"layer {i} of model '{recipe.model}'; lower space.channel_step (0 picks "
                    "a step per layer)"
                )
            choices.append(channel_choices(int(w), sp.channel_step, sp.min_channels, sp.min_ratio))
        wbits = bits_override or tuple(sorted(set(sp.wbits)))
        abits = bits_override or tuple(sorted(set(sp.abits)))
        head = bits_override or tuple(sorted(set(sp.head_wbits or sp.wbits)))
        return cls(
            tuple(int(w) for w in parent_widths),
            num_quant,
            tuple(choices),
            wbits,
            abits,
            head,
            sp.per_layer_bits,
            tuple(tuple(int(i) for i in g) for g in groups),
            tuple(tuple(int(i) for i in g) for g in shared_abits),
        )

    # -------------------------------------------------------------------- sampling
    def suggest(self, trial: Any) -> Candidate:
        """Ask ``trial`` (an Optuna trial) for a candidate."""
        channels: list[int] = []
        lead = self._leader()
        for i, ch in enumerate(self.channel_choices):
            if lead[i] != i:
                channels.append(channels[lead[i]])
                continue
            if len(ch) == 1:
                channels.append(ch[0])
                continue
            step = ch[1] - ch[0]
            if all(b - a == step for a, b in zip(ch, ch[1:], strict=False)):
                channels.append(trial.suggest_int(f"ch{i}", ch[0], ch[-1], step=step))
            else:
                channels.append(trial.suggest_categorical(f"ch{i}", list(ch)))
        n = self.num_quant
        if self.per_layer_bits:
            wbits = [trial.suggest_categorical(f"wb{i}", list(self.wbits)) for i in range(n - 1)]
            wbits.append(trial.suggest_categorical(f"wb{n - 1}", list(self.head_wbits)))
            abits: list[int | None] = []
            ab_lead = self._ab_leader()
            for i in range(n - 1):
                if ab_lead[i] != i:
                    abits.append(abits[ab_lead[i]])
                else:
                    abits.append(trial.suggest_categorical(f"ab{i}", list(self.abits)))
        else:
            wb = trial.suggest_categorical("wb", list(self.wbits))
            wh = trial.suggest_categorical("wb_head", list(self.head_wbits))
            ab = trial.suggest_categorical("ab", list(self.abits))
            wbits, abits = [wb] * (n - 1) + [wh], [ab] * (n - 1)
        abits.append(None)
        return Candidate(
            tuple(int(c) for c in channels), tuple(int(b) for b in wbits), tuple(abits)
        )

    def params_of(self, cand: Candidate) -> dict[str, Any]:
        """Optuna parameters that make :meth:`suggest` return ``cand`` (for enqueue_trial).

        Raises :class:`ConfigError` when ``cand`` is outside the space.
        """
        params: dict[str, Any] = {}
        lead = self._leader()
        for i, (c, ch) in enumerate(zip(cand.channels, self.channel_choices, strict=True)):
            if c not in ch or c != cand.channels[lead[i]]:
                raise ConfigError(f"channel count {c} of layer {i} is not in the space {ch}")
            if len(ch) > 1 and lead[i] == i:
                params[f"ch{i}"] = c
        n = self.num_quant
        if self.per_layer_bits:
            for i in range(n):
                params[f"wb{i}"] = cand.wbits[i]
            ab_lead = self._ab_leader()
            for i in range(n - 1):
                if ab_lead[i] == i:
                    params[f"ab{i}"] = cand.abits[i]
        else:
            params.update(wb=cand.wbits[0], wb_head=cand.wbits[-1], ab=cand.abits[0])
        return params

    def uniform(self, ratio: float, bits: int) -> Candidate:
        """The uniform candidate: every layer at ``ratio`` x its parent width and ``bits``.

        Each value is the nearest one the space offers (ties: the larger), so the result is
        always a member of the space.

        Example:
            >>> sp = SearchSpace.build((64, 64, 64), 4, Recipe())
            >>> c = sp.uniform(0.5, 4)
            >>> c.channels, c.wbits, c.abits
            ((32, 32, 32), (4, 4, 4, 4), (4, 4, 4, None))
        """

        def nearest(choices: Sequence[int], want: float) -> int:
            return min(choices, key=lambda c: (abs(c - want), -c))

        chans = tuple(
            nearest(ch, ratio * w)
            for ch, w in zip(self.channel_choices, self.parent_widths, strict=True)
        )
        n = self.num_quant
        wb, wh, ab = (nearest(c, bits) for c in (self.wbits, self.head_wbits, self.abits))
        return Candidate(chans, (wb,) * (n - 1) + (wh,), (ab,) * (n - 1) + (None,))

    def size(self) -> int:
        """Number of distinct candidates."""
        total = 1
        lead = self._leader()
        for i, ch in enumerate(self.channel_choices):
            total *= len(ch) if lead[i] == i else 1
        n = self.num_quant
        if self.per_layer_bits:
            total *= len(self.wbits) ** (n - 1) * len(self.head_wbits) * len(self.abits) ** (n - 1)
        else:
            total *= len(self.wbits) * len(self.head_wbits) * len(self.abits)
        return total


def make_design(spec: Any, cand: Candidate, input_bits: int, name: str) -> dict[str, Any]:
    """Design description of ``cand`` on model ``spec`` (a :class:`hwprune.models.ModelSpec`).

    Example:
        >>> from hwprune.models import get_spec
        >>> d = make_design(get_spec("mlp-digits"), Candidate((16, 8, 8), (4,) * 4,
        ...                 (4, 4, 4, None)), 8, "x")
        >>> d["input"], d["layers"][0]
        ({'shape': [1, 8, 8], 'bits': 8}, {'op': 'fc', 'out': 16, 'wbits': 4, 'abits': 4})
    """
    pruned = spec.with_widths(list(cand.channels))
    layers = pruned.design_layers(list(cand.wbits), list(cand.abits))
    return {
        "name": name,
        "input": {"shape": list(spec.input_shape), "bits": int(input_bits)},
        "layers": layers,
    }
