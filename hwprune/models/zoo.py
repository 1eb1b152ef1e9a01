"""The model zoo: FINN's MLPs (TFC/SFC/LFC), FINN's CNV, two small nets for 8x8 digits, and the
MLPerf Tiny shapes ResNet-8 (residual) and DS-CNN (depthwise-separable).

============  ====================================================================  ============
name          layers                                                                default input
============  ====================================================================  ============
tfc           fc 64, fc 64, fc 64, fc classes                                       1x28x28
sfc           fc 256 x3, fc classes                                                 1x28x28
lfc           fc 1024 x3, fc classes                                                1x28x28
mlp-digits    fc 64 x3, fc classes                                                  1x8x8
cnv           conv 64,64, pool, conv 128,128, pool, conv 256,256, fc 512,512, out   3x32x32
cnn-digits    conv 16, conv 16, pool 2, conv 32, pool 2, fc 64, fc classes (k3 pad1)  1x8x8
resnet8       conv 16; res 16 (identity); res 32 /2 and res 64 /2 (1x1-conv            3x32x32
              shortcuts); global average pool; fc classes (MLPerf Tiny IC)
dscnn         conv 64 k3 (/2 on inputs >= 16); 4 x (depthwise 3x3 + pointwise 64);    1x28x28
              global average pool; fc classes (MLPerf Tiny KWS shape, square kernels)
============  ====================================================================  ============

The MLPs flatten any input shape. CNV uses 3x3 convolutions without padding as in FINN when the
input is large enough for that (32x32 gives 1x1x256 before the first fc); for smaller inputs (e.g.
28x28 MNIST, 8x8 digits) every convolution gets ``pad=1`` so that the feature map never vanishes.
ResNet-8 and DS-CNN use padded convolutions, so they fit any input of at least 4x4 (8x8 digits,
28x28 Fashion-MNIST, 32x32 CIFAR-10); DS-CNN was made for 49x10 MFCC keyword spotting (audio not
available offline here) and uses square kernels. Neither can be built as hardware yet (residual
adds and global average pooling are not in the dataflow IR): see
:func:`hwprune.models.spec.require_hardware_support`.

``width_mult`` scales every hidden width (rounded, at least 1); the head always has
``num_classes`` outputs.

Example:
    >>> get_spec("cnv", input_shape=(3, 32, 32)).layers[0]
    {'op': 'conv', 'out_ch': 64, 'kernel': 3, 'stride': 1, 'pad': 0, 'groups': 1}
    >>> get_spec("cnv", input_shape=(1, 28, 28)).layers[0]["pad"]
    1
    >>> get_spec("tfc", width_mult=0.5).prunable_widths()
    [32, 32, 32]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hwprune.errors import ConfigError
from hwprune.models.spec import ModelSpec, output_shapes


def _w(width: int, mult: float) -> int:
    return max(1, int(round(width * mult)))


def _mlp(widths: Sequence[int]) -> Callable[[float], list[dict[str, Any]]]:
    def make(mult: float) -> list[dict[str, Any]]:
        return [{"op": "fc", "out": _w(w, mult)} for w in widths]

    return make


def _conv(
    ch: int, kernel: int = 3, stride: int = 1, groups: int = 1, pad: int | None = None
) -> dict[str, Any]:
    """A conv layer; ``pad`` defaults to "same" for an odd kernel at stride 1."""
    return {
        "op": "conv",
        "out_ch": ch,
        "kernel": kernel,
        "stride": stride,
        "pad": (kernel - 1) // 2 if pad is None else pad,
        "groups": groups,
    }


def _cnv_layers(mult: float, pad: int) -> list[dict[str, Any]]:
    def conv(ch: int) -> dict[str, Any]:
        return _conv(_w(ch, mult), pad=pad)

    return [
        conv(64),
        conv(64),
        {"op": "maxpool", "kernel": 2},
        conv(128),
        conv(128),
        {"op": "maxpool", "kernel": 2},
        conv(256),
        conv(256),
        {"op": "fc", "out": _w(512, mult)},
        {"op": "fc", "out": _w(512, mult)},
    ]


def _cnn_digits_layers(mult: float) -> list[dict[str, Any]]:
    def conv(ch: int) -> dict[str, Any]:
        return _conv(_w(ch, mult))

    return [
        conv(16),
        conv(16),
        {"op": "maxpool", "kernel": 2},
        conv(32),
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": _w(64, mult)},
    ]


def _resnet8_layers(mult: float) -> list[dict[str, Any]]:
    """MLPerf Tiny ResNet-8: stem, 3 residual stages (16, 32/2, 64/2), global average pool."""
    w16, w32, w64 = _w(16, mult), _w(32, mult), _w(64, mult)
    return [
        _conv(w16),
        {"op": "residual", "body": [_conv(w16), _conv(w16)], "shortcut": []},
        {
            "op": "residual",
            "body": [_conv(w32, stride=2), _conv(w32)],
            "shortcut": [_conv(w32, kernel=1, stride=2)],
        },
        {
            "op": "residual",
            "body": [_conv(w64, stride=2), _conv(w64)],
            "shortcut": [_conv(w64, kernel=1, stride=2)],
        },
        {"op": "gap"},
    ]


def _dscnn_layers(mult: float, shape: Sequence[int]) -> list[dict[str, Any]]:
    """DS-CNN: conv stem, 4 depthwise-separable blocks, global average pool."""
    ch = _w(64, mult)
    layers = [_conv(ch, stride=2 if min(shape[1], shape[2]) >= 16 else 1)]
    for _ in range(4):
        layers += [_conv(ch, groups=ch), _conv(ch, kernel=1)]
    return [*layers, {"op": "gap"}]


_DEFAULT_INPUT: dict[str, tuple[int, int, int]] = {
    "tfc": (1, 28, 28),
    "sfc": (1, 28, 28),
    "lfc": (1, 28, 28),
    "mlp-digits": (1, 8, 8),
    "cnv": (3, 32, 32),
    "cnn-digits": (1, 8, 8),
    "resnet8": (3, 32, 32),
    "dscnn": (1, 28, 28),
}

_MLP_WIDTHS = {
    "tfc": (64, 64, 64),
    "sfc": (256, 256, 256),
    "lfc": (1024, 1024, 1024),
    "mlp-digits": (64, 64, 64),
}


def list_models() -> list[str]:
    """Names accepted by :func:`get_spec`.

    Example:
        >>> "cnv" in list_models()
        True
    """
    return sorted(_DEFAULT_INPUT)


def get_spec(
    name: str,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 10,
    width_mult: float = 1.0,
) -> ModelSpec:
    """Spec of zoo model ``name`` for ``input_shape`` (C, H, W) and ``num_classes`` outputs.

    Raises :class:`ConfigError` for an unknown name or an input too small for the model.

    Example:
        >>> get_spec("mlp-digits").num_quant_layers
        4
    """
    if name not in _DEFAULT_INPUT:
        raise ConfigError(
            f"unknown model '{name}'; choose one of {', '.join(list_models())} or give "
            "'package.module:factory'"
        )
    if width_mult <= 0:
        raise ConfigError(f"width_mult must be > 0, got {width_mult}")
    shape = tuple(int(s) for s in (input_shape or _DEFAULT_INPUT[name]))
    if len(shape) != 3:
        raise ConfigError(f"input_shape must be (C, H, W), got {shape}")
    if name in _MLP_WIDTHS:
        hidden = _mlp(_MLP_WIDTHS[name])(width_mult)
    elif name == "cnv":
        hidden = _cnv_layers(width_mult, pad=0)
        try:
            output_shapes(shape, hidden)
        except ConfigError:
            hidden = _cnv_layers(width_mult, pad=1)
    elif name == "resnet8":
        hidden = _resnet8_layers(width_mult)
    elif name == "dscnn":
        hidden = _dscnn_layers(width_mult, shape)
    else:
        hidden = _cnn_digits_layers(width_mult)
    layers = (*hidden, {"op": "fc", "out": int(num_classes)})
    return ModelSpec(name, shape, int(num_classes), tuple(layers))  # type: ignore[arg-type]
