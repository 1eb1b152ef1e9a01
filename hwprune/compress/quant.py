"""Brevitas QAT models with per-layer weight and activation bit widths (1..8), FINN-compatible.

:func:`to_brevitas` turns a float model (as built by :func:`hwprune.models.build_model`, pruned or
not, or a user's model whose Conv2d/Linear/BatchNorm/ReLU are modules registered in forward order)
into a Brevitas model:

* input: ``QuantIdentity``, unsigned 8-bit, CONSTANT scale ``1 / input_scale`` so every dataset
  pixel is an exact integer (0..16 for digits, 0..255 for 8-bit images);
* every Conv2d/Linear -> ``QuantConv2d``/``QuantLinear`` with the float weights copied;
  per-output-channel float weight scale, except the classifier head (per-tensor scale, so the
  arg-max of its integer accumulator is the arg-max of its output);
  1-bit weights are bipolar (+-s, constant per-tensor scale s = mean |w| of the float weights);
* BatchNorm kept between the conv/linear and the activation;
* activation after layer ``i``: ``abits[i] >= 2`` -> unsigned ``QuantReLU``;
  ``abits[i] == 1`` -> bipolar sign (``QuantIdentity`` with a binary quantizer, output +-1) as in
  FINN's binarized networks; the head has ``abits = None`` (raw accumulator / arg-max);
* a depthwise conv is a ``QuantConv2d`` with its own ``wbits``/``abits`` like any other layer;
* residual block (:class:`hwprune.models.build.ResidualBlock`): its ``add_quant`` becomes ONE
  signed ``QuantIdentity`` applied to both inputs of the add (same scale, so the add is an
  integer add) and its ReLU after the add a ``QuantReLU``. Both use the ``abits`` of the body's
  last conv; the shortcut's last conv (whose output meets it in the add) must have the same
  ``abits`` (the search couples them like the channels);
* global average pooling (``nn.AdaptiveAvgPool2d(1)``) -> Brevitas ``TruncAdaptiveAvgPool2d``
  (an integer sum, then a right shift back to the input's bit width), fed by a quantized tensor.

The result exports with ``brevitas.export.export_qonnx(model, input_t=..., export_path=...,
dynamo=False)``.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec
    >>> q = to_brevitas(build_model(get_spec("mlp-digits")), [8, 4, 2, 8], [4, 1, 2, None], 16.0)
    >>> q.eval()(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import copy
import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hwprune.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True)
class LayerGroup:
    """A conv/linear layer with the BatchNorm and activation modules that follow it.

    Names are dotted module paths inside the model (``None`` when absent).
    """

    name: str
    bn: str | None
    act: str | None


def layer_groups(model: nn.Module) -> list[LayerGroup]:
    """Conv/Linear layers of ``model`` (registration order) with their following BN and ReLU.

    A BN/ReLU belongs to the closest conv/linear registered before it. In a
    :class:`hwprune.models.build.ResidualBlock`, the ReLU after the add belongs to the last conv of
    the body and of the shortcut (both outputs meet in the add).

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> layer_groups(build_model(get_spec("mlp-digits")))[0]
        LayerGroup(name='fc0', bn='bn0', act='relu0')
    """
    groups: list[dict[str, str | None]] = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            groups.append({"name": name, "bn": None, "act": None})
        elif (
            groups
            and isinstance(mod, _BN)
            and groups[-1]["bn"] is None
            and groups[-1]["act"] is None
        ):
            groups[-1]["bn"] = name
        elif groups and isinstance(mod, nn.ReLU) and groups[-1]["act"] is None:
            groups[-1]["act"] = name
    by_name = {g["name"]: g for g in groups}
    for bname, block in _residual_blocks(model):
        for branch in ("body", "shortcut"):
            last = _last_conv(getattr(block, branch))
            if last is not None:
                by_name[f"{bname}.{branch}.{last}" if bname else f"{branch}.{last}"]["act"] = (
                    f"{bname}.relu" if bname else "relu"
                )
    return [LayerGroup(g["name"], g["bn"], g["act"]) for g in groups]  # type: ignore[arg-type]


def _residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    from hwprune.models.build import ResidualBlock

    return [(n, m) for n, m in model.named_modules() if isinstance(m, ResidualBlock)]


def _last_conv(branch: nn.Module) -> str | None:
    names = [n for n, m in branch.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[-1] if names else None


def _set_module(root: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


class QuantNet(nn.Module):
    """A Brevitas model: constant-scale 8-bit input quantizer followed by the quantized body.

    Attributes ``wbits``, ``abits`` (one entry per conv/linear, head last) and ``input_scale``
    record how it was built.
    """

    def __init__(
        self,
        body: nn.Module,
        input_quant: nn.Module,
        wbits: Sequence[int],
        abits: Sequence[int | None],
        input_scale: float,
    ) -> None:
        super().__init__()
        self.input_quant = input_quant
        self.body = body
        self.wbits = tuple(int(b) for b in wbits)
        self.abits = tuple(abits)
        self.input_scale = float(input_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.input_quant(x))


def _as_bits(value: object, what: str) -> int:
    try:
        bits = operator.index(value)  # type: ignore[call-overload]
    except TypeError:
        bits = None
    if bits is None or isinstance(value, bool) or not 1 <= bits <= 8:
        raise ConfigError(f"{what} must be an integer in 1..8, got {value!r}")
    return bits


def _check_bits(
    wbits: Sequence[int], abits: Sequence[int | None], n: int
) -> tuple[list[int], list[int | None]]:
    if len(wbits) != n or len(abits) != n:
        raise ConfigError(
            f"the model has {n} conv/linear layers (head included); got {len(wbits)} weight "
            f"bit widths and {len(abits)} activation bit widths"
        )
    w = [_as_bits(b, f"weight bits of layer {i}") for i, b in enumerate(wbits)]
    a: list[int | None] = [
        _as_bits(b, f"activation bits of layer {i}") for i, b in enumerate(abits[:-1])
    ]
    if abits[-1] is not None:
        raise ConfigError(
            "the classifier head's activation bits must be None (its output is the raw "
            f"accumulator), got {abits[-1]!r}"
        )
    return w, [*a, None]


def _weight_quant_kwargs(bits: int, per_channel: bool, weight: torch.Tensor) -> dict:
    from brevitas.quant.binary import SignedBinaryWeightPerTensorConst
    from brevitas.quant.scaled_int import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat

    if bits == 1:
        scale = float(weight.detach().abs().mean().clamp_min(1e-8))
        return {"weight_quant": SignedBinaryWeightPerTensorConst, "weight_scaling_const": scale}
    quant = Int8WeightPerChannelFloat if per_channel else Int8WeightPerTensorFloat
    return {"weight_quant": quant, "weight_bit_width": bits}


def _quant_layer(mod: nn.Module, bits: int, per_channel: bool) -> nn.Module:
    from brevitas.nn import QuantConv2d, QuantLinear

    kw = _weight_quant_kwargs(bits, per_channel, mod.weight)
    has_bias = mod.bias is not None
    if isinstance(mod, nn.Conv2d):
        if mod.padding_mode != "zeros":
            raise ModelError(
                f"conv padding_mode '{mod.padding_mode}' is not supported; use zero padding"
            )
        new = QuantConv2d(
            mod.in_channels,
            mod.out_channels,
            mod.kernel_size,
            stride=mod.stride,
            padding=mod.padding,
            dilation=mod.dilation,
            groups=mod.groups,
            bias=has_bias,
            **kw,
        )
    else:
        new = QuantLinear(mod.in_features, mod.out_features, bias=has_bias, **kw)
    with torch.no_grad():
        new.weight.copy_(mod.weight)
        if has_bias:
            new.bias.copy_(mod.bias)
    new.train(mod.training)
    return new


def _act_layer(bits: int, signed: bool = False) -> nn.Module:
    """An activation quantizer of ``bits`` (binary at 1 bit): a ReLU quantizer, or with
    ``signed`` the quantizer shared by both inputs of a residual add (equal scales)."""
    from brevitas.nn import QuantIdentity, QuantReLU
    from brevitas.quant.binary import SignedBinaryActPerTensorConst
    from brevitas.quant.scaled_int import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

    if bits == 1:
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
    if signed:
        return QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits)
    return QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits)


def input_quantizer(input_scale: float) -> nn.Module:
    """Unsigned 8-bit ``QuantIdentity`` with constant scale ``1 / input_scale``.

    Example:
        >>> import torch
        >>> iq = input_quantizer(16.0).eval()
        >>> iq(torch.tensor([[0.0, 0.5, 1.0]])) * 16
        tensor([[ 0.,  8., 16.]])
    """
    from brevitas.core.scaling import ScalingImplType
    from brevitas.nn import QuantIdentity
    from brevitas.quant.scaled_int import Uint8ActPerTensorFloat

    if not 0 < input_scale <= 255:
        raise ConfigError(
            f"input_scale {input_scale} does not fit 8-bit unsigned inputs; use 1..255"
        )
    quant = Uint8ActPerTensorFloat.let(
        scaling_impl_type=ScalingImplType.CONST,
        # threshold = scale * (2^8 - 1), so that scale is exactly 1 / input_scale
        max_val=255.0 / float(input_scale),
    )
    return QuantIdentity(act_quant=quant)


def to_brevitas(
    float_model: nn.Module,
    wbits: Sequence[int],
    abits: Sequence[int | None],
    input_scale: float,
) -> QuantNet:
    """Brevitas QAT copy of ``float_model`` with per-layer bits (see the module docstring).

    ``wbits``/``abits`` have one entry per Conv2d/Linear in forward order, the head last (its
    ``abits`` is ``None``). The float model is not modified.

    Raises :class:`ConfigError` for bad bit lists and :class:`ModelError` when a hidden layer has
    no ``nn.ReLU`` module after it.

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> q = to_brevitas(build_model(get_spec("cnn-digits")), [4] * 5, [4] * 4 + [None], 16.0)
        >>> type(q.body.conv0).__name__, type(q.body.relu0).__name__
        ('QuantConv2d', 'QuantReLU')
    """
    groups = layer_groups(float_model)
    if not groups:
        raise ModelError("the model has no Conv2d or Linear layer; nothing to quantize")
    wbits, abits = _check_bits(wbits, abits, len(groups))
    body = copy.deepcopy(float_model)
    last = len(groups) - 1
    act_bits: dict[str, int] = {}
    for i, g in enumerate(groups):
        mod = body.get_submodule(g.name)
        _set_module(body, g.name, _quant_layer(mod, wbits[i], per_channel=i != last))
        if i == last:
            continue
        if g.act is None:
            raise ModelError(
                f"layer '{g.name}' has no nn.ReLU module after it; hidden layers must use "
                "nn.ReLU modules (not F.relu) so they can be quantized"
            )
        bits = int(abits[i])  # type: ignore[arg-type]
        if g.act in act_bits:  # the ReLU after a residual add, shared by two convs
            if act_bits[g.act] != bits:
                raise ConfigError(
                    f"layer '{g.name}' meets another layer in the residual add before "
                    f"'{g.act}'; give both the same activation bits (got {bits} and "
                    f"{act_bits[g.act]})"
                )
            continue
        act_bits[g.act] = bits
        _set_module(body, g.act, _act_layer(bits))
    for name, block in _residual_blocks(body):
        block.add_quant = _act_layer(act_bits[f"{name}.relu" if name else "relu"], signed=True)
    _quantize_gap(body)
    qmodel = QuantNet(body, input_quantizer(input_scale), wbits, abits, input_scale)
    qmodel.train(float_model.training)
    return qmodel


def _quantize_gap(body: nn.Module) -> None:
    """Global average pools -> ``TruncAdaptiveAvgPool2d`` fed by a quant tensor of known bits."""
    from brevitas.nn import QuantIdentity, QuantReLU, TruncAdaptiveAvgPool2d, TruncAvgPool2d

    order = list(body.named_modules())
    for k, (name, mod) in enumerate(order):
        if not isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
            continue
        if isinstance(mod, nn.AdaptiveAvgPool2d) and mod.output_size not in (1, (1, 1)):
            raise ModelError(
                f"'{name}' pools to {mod.output_size}; only global average pooling "
                "(AdaptiveAvgPool2d(1)) is supported"
            )
        acts = [(n, m) for n, m in order[:k] if isinstance(m, (QuantReLU, QuantIdentity))]
        if not acts:
            raise ModelError(f"global average pool '{name}' needs a quantized ReLU before it")
        act_name, act = acts[-1]
        act.return_quant_tensor = True
        bits = int(act.act_quant.bit_width())
        if isinstance(mod, nn.AvgPool2d):
            new: nn.Module = TruncAvgPool2d(
                mod.kernel_size, mod.stride, bit_width=bits, return_quant_tensor=False
            )
        else:
            new = TruncAdaptiveAvgPool2d(1, bit_width=bits, return_quant_tensor=False)
        _set_module(body, name, new)
        log.debug("global average pool '%s' reads %d-bit '%s'", name, bits, act_name)


def quant_layers(qmodel: nn.Module) -> list[tuple[str, nn.Module]]:
    """``QuantConv2d``/``QuantLinear`` modules of a Brevitas model in order (head last)."""
    from brevitas.nn import QuantConv2d, QuantLinear

    return [(n, m) for n, m in qmodel.named_modules() if isinstance(m, (QuantConv2d, QuantLinear))]


def _stats_scalers(qmodel: nn.Module) -> list[nn.Module]:
    from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling

    return [m for m in qmodel.modules() if isinstance(m, ParameterFromRuntimeStatsScaling)]


def needs_calibration(qmodel: nn.Module) -> bool:
    """True while some activation scale of ``qmodel`` has not been initialised from statistics
    (neither by :func:`calibrate`, nor by enough training steps, nor by loading a state dict).

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> q = to_brevitas(build_model(get_spec("mlp-digits")), [4] * 4, [4, 4, 4, None], 16.0)
        >>> needs_calibration(q), calibrate(q, torch.rand(64, 1, 8, 8)), needs_calibration(q)
        (True, None, False)
    """
    return any(m.counter <= m.collect_stats_steps for m in _stats_scalers(qmodel))


def calibrate(
    qmodel: nn.Module, x: torch.Tensor, batch_size: int = 256, max_batches: int = 8
) -> None:
    """Initialise the activation scales of ``qmodel`` from float statistics on inputs ``x``.

    Uses Brevitas' ``calibration_mode`` (activation statistics with quantization disabled) on up
    to ``max_batches`` batches; BatchNorm running statistics are left untouched. A model whose
    scales are already initialised is left as it is (calibrating twice would rescale them).

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> q = to_brevitas(build_model(get_spec("mlp-digits")), [4] * 4, [4, 4, 4, None], 16.0)
        >>> calibrate(q, torch.rand(64, 1, 8, 8))
    """
    from brevitas.graph.calibrate import calibration_mode

    if not needs_calibration(qmodel):
        log.debug("activation scales already initialised; calibration skipped")
        return
    bn_state = {
        n: copy.deepcopy(m.state_dict()) for n, m in qmodel.named_modules() if isinstance(m, _BN)
    }
    was_training = qmodel.training
    with torch.no_grad(), calibration_mode(qmodel):
        for i in range(0, min(len(x), batch_size * max_batches), batch_size):
            qmodel(x[i : i + batch_size])
    for n, state in bn_state.items():
        qmodel.get_submodule(n).load_state_dict(state)
    qmodel.train(was_training)
