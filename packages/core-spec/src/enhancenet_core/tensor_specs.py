"""The building blocks of the canonical name map: tensor kinds and specs, the ordered collector the model
tables are written with, and the pre-activation bottleneck shared by the stacked hourglass and DLCM.

:mod:`enhancenet_core.namemap` (every base model and the head) and
:mod:`enhancenet_core.compositional.network` (DLCM) both build on this module, so the name map can list DLCM
without an import cycle. Names are re-exported by :mod:`enhancenet_core.namemap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["HOURGLASS_EXPANSION", "SpecCollector", "TensorKind", "TensorSpec", "hourglass_block"]

HOURGLASS_EXPANSION: int = 2
"""Channel expansion of the pre-activation Bottleneck of bearpaw/pytorch-pose."""


class TensorKind(str, Enum):
    """What a canonical tensor is; decides its layout and how it is initialised."""

    CONV_WEIGHT = "conv_weight"  # (C_out, C_in/groups, kh, kw)
    CONV_BIAS = "conv_bias"  # (C_out,); also the bias of a transposed convolution
    DECONV_WEIGHT = "deconv_weight"  # (C_in, C_out/groups, kh, kw)
    BN_WEIGHT = "bn_weight"  # gamma, (C,)
    BN_BIAS = "bn_bias"  # beta, (C,)
    BN_RUNNING_MEAN = "bn_running_mean"  # (C,)
    BN_RUNNING_VAR = "bn_running_var"  # (C,)


@dataclass(frozen=True)
class TensorSpec:
    """One canonical tensor: its name, shape and kind."""

    name: str
    shape: tuple[int, ...]
    kind: TensorKind


class SpecCollector:
    """Ordered collector of tensor specs (insertion order = PyTorch ``state_dict`` order)."""

    def __init__(self) -> None:
        self.specs: dict[str, TensorSpec] = {}

    def add(self, name: str, shape: tuple[int, ...], kind: TensorKind) -> None:
        if name in self.specs:
            raise ValueError(f"duplicate canonical tensor name {name!r}")  # a bug in this module
        self.specs[name] = TensorSpec(name, tuple(int(s) for s in shape), kind)

    def conv(self, prefix: str, c_in: int, c_out: int, kernel: int, bias: bool) -> None:
        self.add(f"{prefix}.weight", (c_out, c_in, kernel, kernel), TensorKind.CONV_WEIGHT)
        if bias:
            self.add(f"{prefix}.bias", (c_out,), TensorKind.CONV_BIAS)

    def deconv(self, prefix: str, c_in: int, c_out: int, kernel: int, bias: bool) -> None:
        self.add(f"{prefix}.weight", (c_in, c_out, kernel, kernel), TensorKind.DECONV_WEIGHT)
        if bias:
            self.add(f"{prefix}.bias", (c_out,), TensorKind.CONV_BIAS)

    def bn(self, prefix: str, channels: int) -> None:
        self.add(f"{prefix}.weight", (channels,), TensorKind.BN_WEIGHT)
        self.add(f"{prefix}.bias", (channels,), TensorKind.BN_BIAS)
        self.add(f"{prefix}.running_mean", (channels,), TensorKind.BN_RUNNING_MEAN)
        self.add(f"{prefix}.running_var", (channels,), TensorKind.BN_RUNNING_VAR)


def hourglass_block(s: SpecCollector, prefix: str, c_in: int, planes: int) -> int:
    """A pre-activation Bottleneck ``{prefix}.{bn,conv}{1,2,3}`` (+ ``downsample.0`` when channels change);
    returns its output channels ``2 · planes``."""
    c_out = planes * HOURGLASS_EXPANSION
    s.bn(f"{prefix}.bn1", c_in)
    s.conv(f"{prefix}.conv1", c_in, planes, 1, True)
    s.bn(f"{prefix}.bn2", planes)
    s.conv(f"{prefix}.conv2", planes, planes, 3, True)
    s.bn(f"{prefix}.bn3", planes)
    s.conv(f"{prefix}.conv3", planes, c_out, 1, True)
    if c_in != c_out:
        s.conv(f"{prefix}.downsample.0", c_in, c_out, 1, True)
    return c_out
