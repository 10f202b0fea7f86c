"""Architecture facts of the base models and the EnhanceNet head, derived from the config in one place.

Strides (:func:`base_model_stride`), the input-size multiple each base model needs
(:func:`required_input_multiple`), the width of ``F^LR`` (:func:`feature_channels`), the head's input channels
(:func:`head_input_channels`, Eq. 1), the output channels of its sub-pixel conv (:func:`subpixel_channels`:
``K*r^2``, Eq. 4) and the deconvolution padding (:func:`deconv_padding`).

The bottom-up Associative Embedding network (``ae_hourglass``, pose-ae-train's ``PoseNet``) has its facts here
too: :data:`AE_PAPER_SETTING`, :func:`ae_level_channels`, :func:`ae_output_split` (see the section below).

This module reads config objects by attribute only and imports nothing from :mod:`enhancenet_core.config`
(the config's rules import it), so the dependency runs one way: ``conventions <- architecture <- config``.
"""

from __future__ import annotations

import math
from typing import Protocol

from enhancenet_core.conventions import BaseModelName, HeadInput

__all__ = [
    "AE_PAPER_SETTING",
    "HOURGLASS_DEPTH",
    "HOURGLASS_DOWNSAMPLINGS",
    "HRNET_DOWNSAMPLINGS",
    "INPUT_MULTIPLE_REASON",
    "RESNET_DOWNSAMPLINGS",
    "AeSetting",
    "BaseModelLike",
    "ae_level_channels",
    "ae_output_split",
    "base_model_stride",
    "deconv_padding",
    "feature_channels",
    "head_input_channels",
    "required_input_multiple",
    "subpixel_channels",
]


class BaseModelLike(Protocol):
    """The fields of :class:`enhancenet_core.config.BaseModelConfig` read here."""

    @property
    def name(self) -> BaseModelName | str: ...
    @property
    def num_deconv_layers(self) -> int: ...
    @property
    def deconv_channels(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def hourglass_channels(self) -> int: ...


def base_model_stride(base: BaseModelLike) -> int:
    """Ratio input size / ``M^LR`` size that the base model produces.

    SimpleBaseline: ResNet's 32, halved by each stride-2 deconvolution (32 / 2^num_deconv_layers, 4 for 3
    layers). HRNet, stacked hourglass, CPN and DLCM: 4.
    """
    if BaseModelName(base.name) is BaseModelName.SIMPLE_BASELINE:
        return 32 // 2**base.num_deconv_layers
    return 4


#: Stride-2 stages of the ResNet trunk (SimpleBaseline, CPN): conv1, max-pool, layer2, layer3, layer4.
RESNET_DOWNSAMPLINGS = 5
#: HRNet: two stride-2 stem convs (stride 4), then branches at strides 8, 16, 32 whose fuse layers
#: upsample by exact powers of two.
HRNET_DOWNSAMPLINGS = 2 + 3
#: Stacked hourglass: stride-2 conv + max-pool (stride 4), then 2x poolings inside each hourglass whose
#: nearest-neighbour 2x upsampling must give back the exact size.
HOURGLASS_DEPTH = 4
HOURGLASS_DOWNSAMPLINGS = 2 + HOURGLASS_DEPTH


def required_input_multiple(base: BaseModelLike | BaseModelName | str) -> int:
    """The number the input width and height must be multiples of for the base model to work exactly.

    Every stride-2 stage halves the map and a later stage puts maps of two resolutions together (deconv
    output vs. heat-map size, FPN / fuse / hourglass skip additions), so the input must survive all
    halvings without rounding: 2 ** (number of stride-2 stages).

    - SimpleBaseline, CPN: 32 (ResNet trunk, :data:`RESNET_DOWNSAMPLINGS` = 5 stride-2 stages).
    - HRNet: 32 (stem at stride 4, branches to stride 32).
    - Stacked hourglass, DLCM and AE hourglass: 64 (stem at stride 4, then :data:`HOURGLASS_DEPTH` = 4 poolings
      per hourglass).

    Args:
        base: a :class:`~enhancenet_core.config.BaseModelConfig`, a :class:`BaseModelName` or its string value.
    """
    name = BaseModelName(base if isinstance(base, (BaseModelName, str)) else base.name)
    downsamplings = {
        BaseModelName.SIMPLE_BASELINE: RESNET_DOWNSAMPLINGS,
        BaseModelName.CPN: RESNET_DOWNSAMPLINGS,
        BaseModelName.HRNET: HRNET_DOWNSAMPLINGS,
        BaseModelName.HOURGLASS: HOURGLASS_DOWNSAMPLINGS,
        BaseModelName.DLCM: HOURGLASS_DOWNSAMPLINGS,
        BaseModelName.AE_HOURGLASS: HOURGLASS_DOWNSAMPLINGS,
    }[name]
    return 2**downsamplings


#: Why each base model needs its input multiple (for error messages).
INPUT_MULTIPLE_REASON = {
    BaseModelName.SIMPLE_BASELINE: f"its ResNet trunk has {RESNET_DOWNSAMPLINGS} stride-2 stages",
    BaseModelName.CPN: f"its ResNet trunk has {RESNET_DOWNSAMPLINGS} stride-2 stages",
    BaseModelName.HRNET: "its 4 branches run at strides 4, 8, 16 and 32",
    BaseModelName.HOURGLASS: f"stride 4, then {HOURGLASS_DEPTH} poolings in each hourglass",
    BaseModelName.DLCM: f"stride 4, then {HOURGLASS_DEPTH} poolings in each of its hourglasses",
    BaseModelName.AE_HOURGLASS: f"stride 4, then {HOURGLASS_DEPTH} poolings in each hourglass",
}


def deconv_padding(kernel: int, stride: int) -> tuple[int, int]:
    """Padding and output padding that make a transposed convolution output exactly ``stride`` times larger.

    A transposed convolution with kernel ``k``, stride ``r``, padding ``p`` and output padding ``op`` maps an
    input of size ``H`` to ``(H - 1) * r - 2p + k + op``. Setting this equal to ``r * H`` gives
    ``op = 2p - (k - r)``. We take the smallest non-negative ``p`` that makes ``op`` non-negative::

        p  = max(0, ceil((k - r) / 2))
        op = 2p - (k - r)                    # 0 or 1 when k >= r - 1; r - k when k < r

    Frameworks (PyTorch, Paddle, MindSpore, ONNX) require ``0 <= op < r``; that fails only for
    ``r = 1`` with an even kernel (there ``op`` would have to be 1).

    Examples: ``(k=4, r=2) -> (1, 0)`` (SimpleBaseline), ``(k=3, r=4) -> (0, 1)``, ``(k=12, r=4) -> (4, 0)``.

    Args:
        kernel: kernel size ``k`` (>= 1).
        stride: upscaling ratio ``r`` (>= 1).

    Returns:
        ``(padding, output_padding)``.

    Raises:
        ValueError: when ``kernel`` or ``stride`` is below 1 or no valid output padding exists.
    """
    for name, value in (("kernel", kernel), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"deconv_padding: {name} must be an integer >= 1, got {value!r}")
    padding = max(0, math.ceil((kernel - stride) / 2))
    output_padding = 2 * padding - (kernel - stride)
    if not 0 <= output_padding < stride:
        raise ValueError(
            f"deconv_padding: no padding makes a deconvolution with kernel {kernel} and stride {stride} output "
            f"exactly {stride}x the input (it would need output_padding={output_padding}, but frameworks "
            f"require 0 <= output_padding < stride); use an odd kernel when the stride is 1"
        )
    return padding, output_padding


def feature_channels(base: BaseModelLike) -> int:
    """Number of channels of ``F^LR``, the last feature map of the base model before the heat-map layer.

    SimpleBaseline: ``deconv_channels`` (256); HRNet: ``width`` (32 / 48, the highest-resolution branch);
    stacked hourglass, DLCM and AE hourglass: ``hourglass_channels`` (256; DLCM: the last stack's ``fc`` output);
    CPN: 256 (the GlobalNet / RefineNet width).
    """
    name = BaseModelName(base.name)
    if name is BaseModelName.SIMPLE_BASELINE:
        return base.deconv_channels
    if name is BaseModelName.HRNET:
        return base.width
    if name in (BaseModelName.HOURGLASS, BaseModelName.DLCM, BaseModelName.AE_HOURGLASS):
        return base.hourglass_channels
    if name is BaseModelName.CPN:
        return 256
    raise ValueError(f"feature_channels: unknown base model {base.name!r}")  # pragma: no cover - enum exhausted


def head_input_channels(inputs: HeadInput, feature_channels: int, num_keypoints: int) -> int:
    """Channels of the EnhanceNet input x (Eq. 1): ``F^LR`` (features), ``M^LR`` (K heat maps) or both."""
    inputs = HeadInput(inputs)
    if inputs is HeadInput.FEATURES:
        return feature_channels
    if inputs is HeadInput.HEATMAPS:
        return num_keypoints
    return feature_channels + num_keypoints


def subpixel_channels(num_keypoints: int, upscale: int) -> int:
    """``K·r²``: the output channels of EnhanceNet's sub-pixel conv (layer L, whose ``w_L`` has ``K·r²`` filters,
    Eq. 4), which PS turns into K maps at r×.

    The one place this number is written; the heads, the name map, the canonical weight format and the complexity
    table read it here (this module imports no NumPy, so the config and the benchmark harness stay light).
    """
    return num_keypoints * upscale * upscale


# ---------------------------------------------------------------------------------- Associative Embedding
# The bottom-up network of the paper's AE rows (Tables 4, 6): pose-ae-train's ``models/posenet.py`` ``PoseNet``
# with ``task/pose.py``'s ``__config__['inference']``. Facts read there (no code taken):
#
# * no batch norm anywhere (``bn=False``); every ``Conv`` is conv (bias, "same" padding) then ReLU unless said;
# * ``pre``: 7x7/2 conv 3 -> 64, 3x3 conv 64 -> 128, max pool 2x2/2, 3x3 conv 128 -> 128, 3x3 conv 128 -> C;
# * per stack ``i``: ``features.{i}`` = hourglass (depth 4, max pool 2x2/2 down, nearest x2 up; level widths
#   C, C + inc, C + 2 inc, ... (:func:`ae_level_channels`); each level: ``up1`` 3x3 conv at its width,
#   ``low1`` 3x3 conv to the next width, ``low2`` the inner level (the innermost: a 3x3 conv), ``low3`` 3x3 conv
#   back; output ``up1 + up(low3)``), then two 3x3 convs C -> C; ``outs.{i}``: 1x1 conv C -> O, no ReLU;
#   between stacks ``x = x + merge_preds.{i}(out) + merge_features.{i}(feature)`` (1x1 convs, no ReLU);
# * per-stack output O = ``oup_dim`` = 68 channels: [0, K) detection, [K, 2K) tags (one value per joint, T = 1),
#   [2K, O) never supervised (they only feed ``merge_preds``) (:func:`ae_output_split`);
# * its input is ``imgs / 255`` (no mean / std), handled by the data pipeline, not the network.
#
# pose-ae-train passes ``increase`` to the outermost hourglass level only (the recursion uses its default 128);
# ours applies ``hourglass_increase`` at every level: the same network for the shipped 128 (documented choice).
#
# Where EnhanceNet plugs in ("we keep the embedding branch intact and add our EnhanceNet to the detection
# branch"): F^LR = the last stack's ``features`` output (C channels, before ``outs``), M^LR = the last stack's K
# detection maps (not the tags, not the unsupervised rest); the head's input is [F^LR, M^LR] (Eq. 1) and its
# output M^HR is the detection map at r x (512 x 512 for a 512 input, r = 4). The tags stay at LR (128 x 128).
# Every stack's detection maps get the LR detection loss and every stack's tags the push / pull loss (intermediate
# supervision); M^HR adds eta times the detection loss (:func:`enhancenet_core.bottomup.loss.ae_total_loss`). How
# an HR detection reads its LR tag: :class:`enhancenet_core.bottomup.TagReading`.


class AeSetting(Protocol):
    """The fields of an AE hourglass configuration read here."""

    @property
    def stages(self) -> int: ...
    @property
    def hourglass_channels(self) -> int: ...
    @property
    def hourglass_increase(self) -> int: ...
    @property
    def ae_output_channels(self) -> int: ...


#: pose-ae-train's ``__config__['inference']``: ``nstack``, ``inp_dim``, ``increase``, ``oup_dim`` (K = 17).
AE_PAPER_SETTING = {"stages": 4, "hourglass_channels": 256, "hourglass_increase": 128, "ae_output_channels": 68}


def ae_level_channels(channels: int, increase: int) -> tuple[int, ...]:
    """Widths of one AE hourglass from the outermost level inwards, then the innermost conv's:
    ``(C, C + inc, ..., C + HOURGLASS_DEPTH · inc)`` (256, 384, 512, 640, 768 for the paper's setting)."""
    if channels < 1 or increase < 0:
        raise ValueError(f"ae_level_channels: expected channels >= 1 and increase >= 0, got {channels}, {increase}")
    return tuple(channels + d * increase for d in range(HOURGLASS_DEPTH + 1))


def ae_output_split(num_keypoints: int, output_channels: int) -> tuple[slice, slice]:
    """The (detection, tag) channel slices of one stack's output: ``[0, K)`` and ``[K, 2K)``.

    Raises:
        ValueError: when ``output_channels < 2K`` (``model.base.ae_output_channels``).
    """
    if num_keypoints < 1 or output_channels < 2 * num_keypoints:
        raise ValueError(
            f"model.base.ae_output_channels: expected at least 2 * num_keypoints = {2 * num_keypoints} "
            f"(K detection + K tag maps per stack), got {output_channels}"
        )
    return slice(0, num_keypoints), slice(num_keypoints, 2 * num_keypoints)
