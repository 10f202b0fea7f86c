"""SimpleBaseline (Xiao et al. 2018): a ResNet, three stride-2 deconvolutions and a heat-map conv.

Names and structure of HRNet's ``lib/models/pose_resnet.py``: ``conv1`` 7x7/2, ``bn1``, ReLU, max pool
3x3/2 (padding 1), ``layer1..layer4`` (BasicBlock for ResNet-18/34, Bottleneck for 50/101/152; stride on
the 3x3 conv), ``deconv_layers`` (ConvTranspose2d without bias, BN, ReLU) and ``final_layer``.
F^LR is the output of ``deconv_layers``; M^LR = final_layer(F^LR).
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.complexity import deconv_padding
from enhancenet_core.config import BaseModelConfig
from enhancenet_core.namemap import RESNET_SPEC
from enhancenet_numpy import ops
from enhancenet_numpy.models._layers import bn, conv, has


def resnet_block(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, block: str, stride: int) -> np.ndarray:
    """One BasicBlock or Bottleneck (post-activation, as in ``pose_resnet``). x: (N, C, H, W)."""
    residual = x
    if block == "basic":
        out = ops.relu(bn(params, f"{prefix}.bn1", conv(params, f"{prefix}.conv1", x, stride)))
        out = bn(params, f"{prefix}.bn2", conv(params, f"{prefix}.conv2", out))
    else:
        out = ops.relu(bn(params, f"{prefix}.bn1", conv(params, f"{prefix}.conv1", x)))
        out = ops.relu(bn(params, f"{prefix}.bn2", conv(params, f"{prefix}.conv2", out, stride)))
        out = bn(params, f"{prefix}.bn3", conv(params, f"{prefix}.conv3", out))
    if has(params, f"{prefix}.downsample.0"):
        residual = bn(params, f"{prefix}.downsample.1", conv(params, f"{prefix}.downsample.0", x, stride))
    return ops.relu(out + residual)


def resnet_layer(
    params: dict[str, np.ndarray], prefix: str, x: np.ndarray, block: str, blocks: int, stride: int
) -> np.ndarray:
    """``blocks`` residual blocks; the first carries the stride (and the downsample, when present)."""
    for b in range(blocks):
        x = resnet_block(params, f"{prefix}.{b}", x, block, stride if b == 0 else 1)
    return x


def forward(
    params: dict[str, np.ndarray], x: np.ndarray, cfg: BaseModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(F^LR, M^LR) of an image batch x (N, 3, H, W): (N, deconv_channels, H/4, W/4), (N, K, H/4, W/4)

    (for H, W divisible by 32 with the default three deconvolutions).
    """
    if cfg.depth not in RESNET_SPEC:
        raise ValueError(f"model.base.depth: expected one of {sorted(RESNET_SPEC)}, got {cfg.depth}")
    block, layers = RESNET_SPEC[cfg.depth]
    x = ops.relu(bn(params, "bn1", conv(params, "conv1", x, stride=2, padding=3)))
    x = ops.max_pool2d(x, 3, stride=2, padding=1)
    for i, n in enumerate(layers):
        x = resnet_layer(params, f"layer{i + 1}", x, block, n, 1 if i == 0 else 2)
    p, op = deconv_padding(cfg.deconv_kernel, 2)
    for i in range(cfg.num_deconv_layers):
        w = params[f"deconv_layers.{3 * i}.weight"]
        x = ops.conv_transpose2d(x, w, None, stride=2, padding=p, output_padding=op)
        x = ops.relu(bn(params, f"deconv_layers.{3 * i + 1}", x))
    return x, conv(params, "final_layer", x)
