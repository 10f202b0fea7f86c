"""The canonical tensor names and shapes of every model: the contract of the canonical weight format.

Canonical names are the PyTorch ``state_dict`` keys of the module structures below, so the public
checkpoints of HRNet (``pose_resnet``, ``pose_hrnet``) and of bearpaw/pytorch-pose (``hourglass``) load
unchanged. Batch-norm buffers ``running_mean`` / ``running_var`` are included, ``num_batches_tracked`` is
not. Layouts: convolution weights ``(C_out, C_in / groups, kh, kw)`` (OIHW); transposed-convolution
weights ``(C_in, C_out / groups, kh, kw)`` as PyTorch stores them; batch norm ``weight`` (gamma),
``bias`` (beta), ``running_mean``, ``running_var``, all ``(C,)``, evaluated with epsilon
:data:`BN_EPS` = 1e-5.

======================  ==========================================================================
Model                   Names (``{i}`` an index, ``.weight``/``.bias``/BN buffers omitted)
======================  ==========================================================================
SimpleBaseline (ResNet  ``conv1`` (7x7/2, no bias), ``bn1``, ``layer{1..4}.{b}.conv{1,2[,3]}``,
18/34/50/101/152)       ``layer{1..4}.{b}.bn{1,2[,3]}``, ``layer{s}.0.downsample.0`` (1x1 conv),
                        ``layer{s}.0.downsample.1`` (BN), ``deconv_layers.{3i}`` (ConvTranspose2d,
                        no bias, stride 2), ``deconv_layers.{3i+1}`` (BN), ``final_layer`` (conv, bias).
                        F^LR = output of ``deconv_layers`` (after the last ReLU); M^LR = final_layer(F).
HRNet-W32/W48           ``conv1``, ``bn1``, ``conv2``, ``bn2`` (3x3/2 each), ``layer1`` (4 Bottlenecks),
                        ``transition1.0.{0,1}`` (3x3 conv+BN), ``transition{s}.{b}.{j}.{0,1}`` (3x3/2
                        conv+BN), ``stage{2,3,4}.{m}.branches.{b}.{blk}.{conv,bn}{1,2}``,
                        ``stage{s}.{m}.fuse_layers.{i}.{j}.{0,1}`` (j>i: 1x1 conv+BN, then nearest
                        upsampling), ``stage{s}.{m}.fuse_layers.{i}.{j}.{k}.{0,1}`` (j<i: 3x3/2 conv+BN),
                        ``final_layer``. F^LR = branch 0 of stage4 (width channels); M^LR = final_layer(F).
Stacked hourglass       ``conv1`` (7x7/2, bias), ``bn1``, ``layer{1,2,3}.0.{bn1,conv1,bn2,conv2,bn3,conv3}``
(2/4/8 stacks)          (pre-activation Bottleneck, expansion 2, conv bias), ``layer{1,2}.0.downsample.0``,
                        ``hg.{i}.hg.{d}.{j}.{blk}.…`` (d = 0 innermost .. 3 outermost; j = 0 skip,
                        1 down, 2 after the inner level, 3 innermost only), ``res.{i}.{blk}.…``,
                        ``fc.{i}.0`` (1x1 conv), ``fc.{i}.1`` (BN), ``score.{i}``, ``fc_.{i}``, ``score_.{i}``
                        (all but the last stack). F^LR = last stack's ``fc`` output; M^LR = its score.
DLCM (MPII, 5 stacks)   the stacked hourglass's stem and blocks; ``skip.{3,4}`` (top-down stacks: Bottleneck
                        C -> C - P_l), ``hg.{i}…``, ``fc.{i}``, ``score.{i}`` (P_l maps of level
                        (1, 2, 3, 2, 1)[i]), ``fc_.{i}``, ``score_.{i}``; no ``res``
                        (:func:`enhancenet_core.compositional.dlcm_parameter_specs`). F^LR / M^LR as hourglass.
AE hourglass            pose-ae-train's ``PoseNet`` state-dict keys (no BN; every conv biased):
(bottom-up, stacks S)   ``pre.{0,1,3,4}.conv`` (7x7/2, 3x3 x3), ``features.{i}.0.{up1,low1,low3}.conv`` and
                        ``features.{i}.0.low2.…`` (one ``low2.`` per inner level, the innermost
                        ``low2.low2.low2.low2.conv``), ``features.{i}.{1,2}.conv`` (3x3), ``outs.{i}.conv`` (1x1
                        -> ``ae_output_channels``), ``merge_features.{i}.conv.conv``, ``merge_preds.{i}.conv.conv``
                        (1x1, all but the last stack). F^LR = last stack's ``features`` output; M^LR = its
                        first K output channels (detection); the next K are the tags.
EnhanceNet head         ``enhance.convs.{l}`` l = 0..L-2 (l = 0: kernel ``first_kernel``, else ``kernel``;
                        padding k//2; each followed by ReLU), ``enhance.upsample`` (the L-th layer):
                        sub-pixel: Conv2d(C, K·r², k) with its output channels in ``shuffle_order``;
                        deconv: ConvTranspose2d(C, K, k, stride r); bilinear+conv: Conv2d(C, K, k).
======================  ==========================================================================

The head's input is ``[F^LR, M^LR]`` concatenated in that order (Eq. 1), or F or M alone
(:class:`~enhancenet_core.conventions.HeadInput`).
"""

from __future__ import annotations

from enhancenet_core.architecture import (
    ae_level_channels,
    ae_output_split,
    head_input_channels,
    subpixel_channels,
)
from enhancenet_core.architecture import feature_channels as _feature_channels
from enhancenet_core.compositional.network import dlcm_config, dlcm_parameter_specs
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig, validate_head
from enhancenet_core.conventions import BaseModelName, Upsampler
from enhancenet_core.tensor_specs import HOURGLASS_EXPANSION, TensorKind, TensorSpec
from enhancenet_core.tensor_specs import SpecCollector as _Specs
from enhancenet_core.tensor_specs import hourglass_block as _hg_block

BN_EPS: float = 1e-5
"""Batch-norm epsilon of every canonical model (PyTorch's default)."""

HEAD_PREFIX: str = "enhance."
"""Prefix of every EnhanceNet head tensor (the head is the ``enhance`` attribute of the full model)."""

RESNET_SPEC: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
"""ResNet depth -> (block type, blocks per layer), as in HRNet's ``pose_resnet.resnet_spec``."""

HRNET_STAGES: tuple[tuple[int, int], ...] = ((1, 2), (4, 3), (3, 4))
"""(NUM_MODULES, NUM_BRANCHES) of stage2, stage3, stage4 in HRNet's w32/w48 256x192 experiments."""
HRNET_BLOCKS: int = 4
"""BASIC blocks per branch in every HRNet module (NUM_BLOCKS)."""
HOURGLASS_DEPTH: int = 4
"""Recursion depth (number of 2x poolings) of each hourglass."""


# ---------------------------------------------------------------------------------------------- ResNet
def _resnet_layer(
    s: _Specs, prefix: str, block: str, c_in: int, planes: int, blocks: int, stride: int
) -> int:
    expansion = 1 if block == "basic" else 4
    c_out = planes * expansion
    for b in range(blocks):
        p = f"{prefix}.{b}"
        cin_b = c_in if b == 0 else c_out
        if block == "basic":
            s.conv(f"{p}.conv1", cin_b, planes, 3, False)
            s.bn(f"{p}.bn1", planes)
            s.conv(f"{p}.conv2", planes, planes, 3, False)
            s.bn(f"{p}.bn2", planes)
        else:
            s.conv(f"{p}.conv1", cin_b, planes, 1, False)
            s.bn(f"{p}.bn1", planes)
            s.conv(f"{p}.conv2", planes, planes, 3, False)
            s.bn(f"{p}.bn2", planes)
            s.conv(f"{p}.conv3", planes, c_out, 1, False)
            s.bn(f"{p}.bn3", c_out)
        if b == 0 and (stride != 1 or c_in != c_out):
            s.conv(f"{p}.downsample.0", c_in, c_out, 1, False)
            s.bn(f"{p}.downsample.1", c_out)
    return c_out


def _simple_baseline(s: _Specs, base: BaseModelConfig, num_keypoints: int) -> int:
    if base.depth not in RESNET_SPEC:
        raise ValueError(f"model.base.depth: expected one of {sorted(RESNET_SPEC)}, got {base.depth}")
    if base.num_deconv_layers < 1:
        raise ValueError(f"model.base.num_deconv_layers: expected >= 1, got {base.num_deconv_layers}")
    block, layers = RESNET_SPEC[base.depth]
    s.conv("conv1", 3, 64, 7, False)
    s.bn("bn1", 64)
    c = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
        c = _resnet_layer(s, f"layer{i + 1}", block, c, planes, n, 1 if i == 0 else 2)
    for i in range(base.num_deconv_layers):
        s.deconv(f"deconv_layers.{3 * i}", c, base.deconv_channels, base.deconv_kernel, False)
        s.bn(f"deconv_layers.{3 * i + 1}", base.deconv_channels)
        c = base.deconv_channels
    s.conv("final_layer", c, num_keypoints, base.final_conv_kernel, True)
    return c


# ----------------------------------------------------------------------------------------------- HRNet
def hrnet_channels(width: int, num_branches: int) -> list[int]:
    """Branch widths of an HRNet stage: ``[w, 2w, 4w, 8w][:num_branches]``."""
    return [width * 2**b for b in range(num_branches)]


def _hrnet(s: _Specs, base: BaseModelConfig, num_keypoints: int) -> int:
    if base.width <= 0:
        raise ValueError(f"model.base.width: expected a positive HRNet width (32 or 48), got {base.width}")
    s.conv("conv1", 3, 64, 3, False)
    s.bn("bn1", 64)
    s.conv("conv2", 64, 64, 3, False)
    s.bn("bn2", 64)
    _resnet_layer(s, "layer1", "bottleneck", 64, 64, 4, 1)
    pre = [256]
    for stage, (num_modules, num_branches) in enumerate(HRNET_STAGES, start=2):
        cur = hrnet_channels(base.width, num_branches)
        t = f"transition{stage - 1}"
        for i, c_cur in enumerate(cur):
            if i < len(pre):
                if c_cur != pre[i]:
                    s.conv(f"{t}.{i}.0", pre[i], c_cur, 3, False)
                    s.bn(f"{t}.{i}.1", c_cur)
            else:
                for j in range(i + 1 - len(pre)):
                    c_in = pre[-1]
                    c_out = c_cur if j == i - len(pre) else c_in
                    s.conv(f"{t}.{i}.{j}.0", c_in, c_out, 3, False)
                    s.bn(f"{t}.{i}.{j}.1", c_out)
        for m in range(num_modules):
            p = f"stage{stage}.{m}"
            for b, c in enumerate(cur):
                _resnet_layer(s, f"{p}.branches.{b}", "basic", c, c, HRNET_BLOCKS, 1)
            multi_scale = not (stage == 4 and m == num_modules - 1)
            for i in range(num_branches if multi_scale else 1):
                for j in range(num_branches):
                    if j > i:
                        s.conv(f"{p}.fuse_layers.{i}.{j}.0", cur[j], cur[i], 1, False)
                        s.bn(f"{p}.fuse_layers.{i}.{j}.1", cur[i])
                    elif j < i:
                        for k in range(i - j):
                            c_out = cur[i] if k == i - j - 1 else cur[j]
                            s.conv(f"{p}.fuse_layers.{i}.{j}.{k}.0", cur[j], c_out, 3, False)
                            s.bn(f"{p}.fuse_layers.{i}.{j}.{k}.1", c_out)
        pre = cur
    s.conv("final_layer", base.width, num_keypoints, base.final_conv_kernel, True)
    return base.width


# ------------------------------------------------------------------------------------------- Hourglass
def hourglass_feats(base: BaseModelConfig) -> int:
    """``num_feats`` of bearpaw's HourglassNet: the bottleneck width, ``hourglass_channels / 2``."""
    if base.hourglass_channels <= 0 or base.hourglass_channels % HOURGLASS_EXPANSION:
        raise ValueError(
            f"model.base.hourglass_channels: expected a positive even number, got {base.hourglass_channels}"
        )
    return base.hourglass_channels // HOURGLASS_EXPANSION


def _hourglass(s: _Specs, base: BaseModelConfig, num_keypoints: int) -> int:
    if base.stages < 1:
        raise ValueError(f"model.base.stages: expected >= 1 stacks, got {base.stages}")
    if base.hourglass_blocks < 1:
        raise ValueError(f"model.base.hourglass_blocks: expected >= 1, got {base.hourglass_blocks}")
    feats = hourglass_feats(base)
    ch = base.hourglass_channels
    s.conv("conv1", 3, 64, 7, True)
    s.bn("bn1", 64)
    c = _hg_block(s, "layer1.0", 64, 64)
    c = _hg_block(s, "layer2.0", c, c)  # bearpaw passes its running ``inplanes`` (128) as planes
    c = _hg_block(s, "layer3.0", c, feats)
    for i in range(base.stages):
        for d in range(HOURGLASS_DEPTH):
            for j in range(4 if d == 0 else 3):
                for blk in range(base.hourglass_blocks):
                    _hg_block(s, f"hg.{i}.hg.{d}.{j}.{blk}", ch, feats)
        for blk in range(base.hourglass_blocks):
            _hg_block(s, f"res.{i}.{blk}", ch, feats)
        s.conv(f"fc.{i}.0", ch, ch, 1, True)
        s.bn(f"fc.{i}.1", ch)
        s.conv(f"score.{i}", ch, num_keypoints, 1, True)
        if i < base.stages - 1:
            s.conv(f"fc_.{i}", ch, ch, 1, True)
            s.conv(f"score_.{i}", num_keypoints, ch, 1, True)
    return ch


def _hourglass_in_module_order(s: _Specs, base: BaseModelConfig, num_keypoints: int) -> int:
    """Hourglass specs in PyTorch registration order: the stem, then all ``hg``, ``res``, ``fc``, ``score``,
    ``fc_``, ``score_`` (each a ModuleList over the stacks)."""
    stem = _Specs()
    ch = _hourglass(stem, base, num_keypoints)
    groups: dict[str, dict[str, TensorSpec]] = {}
    for name, spec in stem.specs.items():
        top = name.split(".")[0]
        groups.setdefault(top, {})[name] = spec
    order = ["conv1", "bn1", "layer1", "layer2", "layer3", "hg", "res", "fc", "score", "fc_", "score_"]
    for top in order:
        for name, spec in groups.get(top, {}).items():
            s.specs[name] = spec
    return ch


# ------------------------------------------------------------------------------------- AE hourglass
def _ae_conv(s: _Specs, prefix: str, c_in: int, c_out: int, kernel: int) -> None:
    """pose-ae-train's ``Conv`` module: its ``nn.Conv2d`` is the attribute ``conv`` (biased, no BN)."""
    s.conv(f"{prefix}.conv", c_in, c_out, kernel, True)


def _ae_hourglass(s: _Specs, base: BaseModelConfig, num_keypoints: int) -> int:
    """pose-ae-train's ``PoseNet`` (see :mod:`enhancenet_core.architecture`, section Associative Embedding)."""
    if base.stages < 1:
        raise ValueError(f"model.base.stages: expected >= 1 stacks, got {base.stages}")
    if base.hourglass_channels < 1 or base.hourglass_increase < 0:
        raise ValueError(
            "model.base.hourglass_channels / hourglass_increase: expected >= 1 / >= 0, got "
            f"{base.hourglass_channels} / {base.hourglass_increase}"
        )
    ae_output_split(num_keypoints, base.ae_output_channels)  # raises naming the field
    ch, out = base.hourglass_channels, base.ae_output_channels
    widths = ae_level_channels(ch, base.hourglass_increase)
    for idx, (c_in, c_out, k) in zip((0, 1, 3, 4), ((3, 64, 7), (64, 128, 3), (128, 128, 3), (128, ch, 3)),
                                     strict=True):
        _ae_conv(s, f"pre.{idx}", c_in, c_out, k)
    for i in range(base.stages):
        p = f"features.{i}.0"
        for d in range(HOURGLASS_DEPTH):  # registration order of one level: up1, low1, low2 (inner), low3
            _ae_conv(s, f"{p}.up1", widths[d], widths[d], 3)
            _ae_conv(s, f"{p}.low1", widths[d], widths[d + 1], 3)
            p = f"{p}.low2"
        _ae_conv(s, p, widths[-1], widths[-1], 3)  # the innermost low2 is a conv
        for d in reversed(range(HOURGLASS_DEPTH)):
            p = p[: -len(".low2")]
            _ae_conv(s, f"{p}.low3", widths[d + 1], widths[d], 3)
        _ae_conv(s, f"features.{i}.1", ch, ch, 3)
        _ae_conv(s, f"features.{i}.2", ch, ch, 3)
    for i in range(base.stages):
        _ae_conv(s, f"outs.{i}", ch, out, 1)
    for i in range(base.stages - 1):
        _ae_conv(s, f"merge_features.{i}.conv", ch, ch, 1)
    for i in range(base.stages - 1):
        _ae_conv(s, f"merge_preds.{i}.conv", out, ch, 1)
    return ch


# ------------------------------------------------------------------------------------------------ head
def head_parameter_specs(
    head: EnhanceNetConfig, feature_channels: int, num_keypoints: int
) -> dict[str, TensorSpec]:
    """Canonical specs of the EnhanceNet head alone (names start with ``enhance.``), in module order."""
    validate_head(head)  # the config's head rules, written once
    if feature_channels < 1 or num_keypoints < 1:
        raise ValueError(
            f"feature_channels and num_keypoints must be >= 1, got {feature_channels} and {num_keypoints}"
        )
    s = _Specs()
    c = head_input_channels(head.inputs, feature_channels, num_keypoints)
    for layer in range(head.num_layers - 1):
        k = head.first_kernel if layer == 0 else head.kernel
        s.conv(f"{HEAD_PREFIX}convs.{layer}", c, head.channels, k, True)
        c = head.channels
    k, r, kp = head.upsampler_kernel, head.upscale, num_keypoints
    if head.upsampler == Upsampler.SUBPIXEL:
        s.conv(f"{HEAD_PREFIX}upsample", c, subpixel_channels(kp, r), k, True)
    elif head.upsampler == Upsampler.DECONV:
        s.deconv(f"{HEAD_PREFIX}upsample", c, kp, k, True)
    elif head.upsampler == Upsampler.BILINEAR_CONV:
        s.conv(f"{HEAD_PREFIX}upsample", c, kp, k, True)
    else:  # pragma: no cover - exhaustive over the enum
        raise ValueError(f"model.head.upsampler: unknown upsampler {head.upsampler!r}")
    return s.specs


def base_feature_channels(base: BaseModelConfig) -> int:
    """Channels of F^LR of a base model the map covers (:func:`enhancenet_core.complexity.feature_channels`)."""
    if base.name not in (BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS,
                         BaseModelName.DLCM, BaseModelName.AE_HOURGLASS):
        raise ValueError(
            f"model.base.name: the canonical name map has no base model {base.name.value!r} "
            "(supported: simple_baseline, hrnet, hourglass, dlcm, ae_hourglass; pass feature_channels for the head "
            "alone)"
        )
    return _feature_channels(base)


def base_parameter_specs(base: BaseModelConfig, num_keypoints: int) -> dict[str, TensorSpec]:
    """Canonical specs of a base model alone, in PyTorch ``state_dict`` order."""
    if num_keypoints < 1:
        raise ValueError(f"model.num_keypoints: expected >= 1, got {num_keypoints}")
    s = _Specs()
    if base.name == BaseModelName.SIMPLE_BASELINE:
        _simple_baseline(s, base, num_keypoints)
    elif base.name == BaseModelName.HRNET:
        _hrnet(s, base, num_keypoints)
    elif base.name == BaseModelName.HOURGLASS:
        _hourglass_in_module_order(s, base, num_keypoints)
    elif base.name == BaseModelName.DLCM:
        dlcm = dlcm_config(base)
        if num_keypoints != dlcm.hierarchy.num_parts[0]:
            raise ValueError(
                f"model.num_keypoints: DLCM's hierarchy has {dlcm.hierarchy.num_parts[0]} joints, got {num_keypoints}"
            )
        s.specs.update(dlcm_parameter_specs(dlcm))
    elif base.name == BaseModelName.AE_HOURGLASS:
        _ae_hourglass(s, base, num_keypoints)
    else:
        base_feature_channels(base)  # raises the error naming the unsupported model
    return s.specs


def parameter_specs(model_cfg: ModelConfig, feature_channels: int | None = None) -> dict[str, TensorSpec]:
    """Every canonical tensor of a model, in PyTorch ``state_dict`` order, name -> :class:`TensorSpec`.

    With ``feature_channels=None``: the full model, i.e. the base model's tensors followed by the head's
    (``enhance.…``) when ``model_cfg.head.enabled``; F^LR has :func:`base_feature_channels` channels.
    With ``feature_channels`` given: the head alone, attached to a base model whose F^LR has that many
    channels (any base model, including ones the map does not cover, e.g. CPN).
    """
    if feature_channels is not None:
        return head_parameter_specs(model_cfg.head, feature_channels, model_cfg.num_keypoints)
    specs = base_parameter_specs(model_cfg.base, model_cfg.num_keypoints)
    if model_cfg.head.enabled:
        specs.update(
            head_parameter_specs(
                model_cfg.head, base_feature_channels(model_cfg.base), model_cfg.num_keypoints
            )
        )
    return specs


def parameter_count(specs: dict[str, TensorSpec], include_buffers: bool = False) -> int:
    """Number of learnable parameters (BN running statistics only when ``include_buffers``)."""
    buffers = (TensorKind.BN_RUNNING_MEAN, TensorKind.BN_RUNNING_VAR)
    total = 0
    for spec in specs.values():
        if include_buffers or spec.kind not in buffers:
            n = 1
            for d in spec.shape:
                n *= d
            total += n
    return total
