"""Stacked hourglass (Newell et al. 2016) as in bearpaw/pytorch-pose ``pose/models/hourglass.py``.

Pre-activation Bottleneck (BN-ReLU-conv ×3, convs with bias, expansion 2), stem ``conv1`` 7x7/2 (bias),
``bn1``, ReLU, ``layer1``, max pool 2x2/2, ``layer2``, ``layer3``; then per stack ``i``: hourglass
``hg.{i}`` (depth 4, max pool 2x2/2 down, nearest ×2 up), ``res.{i}``, ``fc.{i}`` (1x1 conv+BN+ReLU),
``score.{i}`` (1x1 conv -> K); between stacks ``x = x + fc_.{i}(y) + score_.{i}(score)``.
F^LR = the last stack's ``fc`` output; M^LR = its score; every stack's score is returned for
intermediate supervision.
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.config import BaseModelConfig
from enhancenet_core.namemap import HOURGLASS_DEPTH
from enhancenet_numpy import ops
from enhancenet_numpy.models._layers import bn, conv, has


def bottleneck(params: dict[str, np.ndarray], prefix: str, x: np.ndarray) -> np.ndarray:
    """Pre-activation Bottleneck: x + conv3(relu(bn3(conv2(relu(bn2(conv1(relu(bn1(x)))))))))."""
    out = conv(params, f"{prefix}.conv1", ops.relu(bn(params, f"{prefix}.bn1", x)))
    out = conv(params, f"{prefix}.conv2", ops.relu(bn(params, f"{prefix}.bn2", out)))
    out = conv(params, f"{prefix}.conv3", ops.relu(bn(params, f"{prefix}.bn3", out)))
    residual = conv(params, f"{prefix}.downsample.0", x) if has(params, f"{prefix}.downsample.0") else x
    return out + residual


def _residual(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, blocks: int) -> np.ndarray:
    for b in range(blocks):
        x = bottleneck(params, f"{prefix}.{b}", x)
    return x


def _hourglass(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, n: int, blocks: int) -> np.ndarray:
    """Level n (HOURGLASS_DEPTH outermost .. 1 innermost) of one hourglass; ``hg.{n-1}.{j}`` holds its blocks."""
    p = f"{prefix}.hg.{n - 1}"
    up1 = _residual(params, f"{p}.0", x, blocks)
    low1 = _residual(params, f"{p}.1", ops.max_pool2d(x, 2, stride=2), blocks)
    low2 = _hourglass(params, prefix, low1, n - 1, blocks) if n > 1 else _residual(params, f"{p}.3", low1, blocks)
    low3 = _residual(params, f"{p}.2", low2, blocks)
    return up1 + ops.upsample_nearest(low3, 2)


def forward(
    params: dict[str, np.ndarray], x: np.ndarray, cfg: BaseModelConfig
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(F^LR, M^LR, scores) of x (N, 3, H, W), H and W divisible by 64.

    F^LR (N, hourglass_channels, H/4, W/4); M^LR (N, K, H/4, W/4) = scores[-1]; scores: one per stack.
    """
    if x.shape[2] % 64 or x.shape[3] % 64:
        raise ValueError(f"hourglass input: H and W must be divisible by 64, got {x.shape[2:]}")
    blocks = cfg.hourglass_blocks
    x = ops.relu(bn(params, "bn1", conv(params, "conv1", x, stride=2, padding=3)))
    x = _residual(params, "layer1", x, 1)
    x = ops.max_pool2d(x, 2, stride=2)
    x = _residual(params, "layer3", _residual(params, "layer2", x, 1), 1)
    scores: list[np.ndarray] = []
    y = x
    for i in range(cfg.stages):
        y = _hourglass(params, f"hg.{i}", x, HOURGLASS_DEPTH, blocks)
        y = _residual(params, f"res.{i}", y, blocks)
        y = ops.relu(bn(params, f"fc.{i}.1", conv(params, f"fc.{i}.0", y)))
        score = conv(params, f"score.{i}", y)
        scores.append(score)
        if i < cfg.stages - 1:
            x = x + conv(params, f"fc_.{i}", y) + conv(params, f"score_.{i}", score)
    return y, scores[-1], scores
