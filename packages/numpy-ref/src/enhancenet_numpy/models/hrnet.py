"""HRNet (Sun et al. 2019), the W32 / W48 configuration of HRNet's 256x192 COCO experiments.

Names and structure of HRNet's ``lib/models/pose_hrnet.py``: stem ``conv1``/``bn1``/``conv2``/``bn2``
(3x3/2 each, ReLU), ``layer1`` (4 Bottlenecks, 256 channels), then stage2..stage4 with
(NUM_MODULES, NUM_BRANCHES) = (1, 2), (4, 3), (3, 4), 4 BASIC blocks per branch, branch widths
``[w, 2w, 4w, 8w]``, SUM fusion with nearest upsampling, and ``final_layer`` on branch 0.
The last module of stage4 outputs branch 0 only. F^LR = that branch (w channels, stride 4).
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.config import BaseModelConfig
from enhancenet_core.namemap import HRNET_BLOCKS, HRNET_STAGES, hrnet_channels
from enhancenet_numpy import ops
from enhancenet_numpy.models._layers import bn, conv, has
from enhancenet_numpy.models.simple_baseline import resnet_layer


def _transition(params: dict[str, np.ndarray], prefix: str, xs: list[np.ndarray], num_branches: int) -> list[np.ndarray]:
    """Branch inputs of the next stage: existing branches (3x3 conv+BN+ReLU where the width changes, else
    identity) and new branches from the lowest-resolution one (3x3/2 conv+BN+ReLU chains)."""
    out = []
    for i in range(num_branches):
        if i < len(xs):
            if has(params, f"{prefix}.{i}.0"):
                out.append(ops.relu(bn(params, f"{prefix}.{i}.1", conv(params, f"{prefix}.{i}.0", xs[i]))))
            else:
                out.append(xs[i])
        else:
            y = xs[-1]
            for j in range(i + 1 - len(xs)):
                y = ops.relu(bn(params, f"{prefix}.{i}.{j}.1", conv(params, f"{prefix}.{i}.{j}.0", y, stride=2)))
            out.append(y)
    return out


def _fuse_term(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, i: int, j: int) -> np.ndarray:
    """Branch j resampled to branch i: 1x1 conv+BN then nearest ×2^(j−i) (j > i), or i−j 3x3/2 conv+BN
    (ReLU between them, not after the last) (j < i)."""
    if j > i:
        return ops.upsample_nearest(bn(params, f"{prefix}.1", conv(params, f"{prefix}.0", x)), 2 ** (j - i))
    for k in range(i - j):
        x = bn(params, f"{prefix}.{k}.1", conv(params, f"{prefix}.{k}.0", x, stride=2))
        if k < i - j - 1:
            x = ops.relu(x)
    return x


def _module(params: dict[str, np.ndarray], prefix: str, xs: list[np.ndarray], multi_scale: bool) -> list[np.ndarray]:
    """One HighResolutionModule: BASIC blocks on every branch, then SUM fusion with ReLU."""
    xs = [resnet_layer(params, f"{prefix}.branches.{b}", x, "basic", HRNET_BLOCKS, 1) for b, x in enumerate(xs)]
    out = []
    for i in range(len(xs) if multi_scale else 1):
        y = xs[i]
        for j in range(len(xs)):
            if j != i:
                y = y + _fuse_term(params, f"{prefix}.fuse_layers.{i}.{j}", xs[j], i, j)
        out.append(ops.relu(y))
    return out


def forward(
    params: dict[str, np.ndarray], x: np.ndarray, cfg: BaseModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(F^LR, M^LR) of x (N, 3, H, W), H and W divisible by 32: (N, w, H/4, W/4), (N, K, H/4, W/4)."""
    if x.shape[2] % 32 or x.shape[3] % 32:
        raise ValueError(f"HRNet input: H and W must be divisible by 32, got {x.shape[2:]}")
    x = ops.relu(bn(params, "bn1", conv(params, "conv1", x, stride=2)))
    x = ops.relu(bn(params, "bn2", conv(params, "conv2", x, stride=2)))
    xs = [resnet_layer(params, "layer1", x, "bottleneck", 4, 1)]
    for stage, (num_modules, num_branches) in enumerate(HRNET_STAGES, start=2):
        if len(hrnet_channels(cfg.width, num_branches)) != num_branches:  # pragma: no cover - invariant
            raise ValueError("inconsistent HRNet stage configuration")
        xs = _transition(params, f"transition{stage - 1}", xs, num_branches)
        for m in range(num_modules):
            xs = _module(params, f"stage{stage}.{m}", xs, multi_scale=not (stage == 4 and m == num_modules - 1))
    f_lr = xs[0]
    return f_lr, conv(params, "final_layer", f_lr)
