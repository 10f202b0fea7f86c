"""pose-ae-train's Associative Embedding network (``models/posenet.py`` ``PoseNet``), the paper's bottom-up base.

The structure and canonical names are the spec's (:mod:`enhancenet_core.architecture`, section Associative
Embedding; :mod:`enhancenet_core.namemap`): no batch norm, every conv biased with "same" padding and followed by
ReLU except ``outs`` and the two merges; ``pre`` (7x7/2, 3x3, max pool 2x2/2, 3x3, 3x3) to stride 4; per stack an
hourglass of depth 4 whose levels widen by ``hourglass_increase``, two 3x3 convs (F of the stack), ``outs`` (1x1 to
``ae_output_channels``); between stacks ``x = x + merge_preds(out) + merge_features(F)``.

Per stack, output channels ``[0, K)`` are the detection maps and ``[K, 2K)`` the tags (T = 1); the rest only feed
the next stack. F^LR = the last stack's F, M^LR = its detection maps; EnhanceNet (:func:`full_forward`) enhances
M^LR from ``[F^LR, M^LR]``; the tags stay LR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enhancenet_core.architecture import HOURGLASS_DEPTH, ae_output_split
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models._layers import conv

__all__ = ["AeOutputs", "forward", "full_forward"]


@dataclass(frozen=True)
class AeOutputs:
    """Everything the AE network computes for a batch of N images of size (H, W); maps are (H/4, W/4).

    Attributes:
        features: F^LR, the last stack's features (N, C, H/4, W/4).
        detection: M^LR, the last stack's detection maps (N, K, H/4, W/4).
        tags: the last stack's tag maps (N, K, H/4, W/4) (one tag value per joint, T = 1).
        stacks: every stack's whole output (N, ae_output_channels, H/4, W/4), first to last.
        hr: M^HR (N, K, r·H/4, r·W/4) from the EnhanceNet head, or None.
    """

    features: np.ndarray
    detection: np.ndarray
    tags: np.ndarray
    stacks: list[np.ndarray]
    hr: np.ndarray | None = None

    def stack_detection(self, k: int) -> list[np.ndarray]:
        """Every stack's detection maps (N, K, h, w), first to last."""
        return [s[:, :k] for s in self.stacks]

    def stack_tags(self, k: int) -> list[np.ndarray]:
        """Every stack's tag maps (N, K, h, w), first to last."""
        return [s[:, k : 2 * k] for s in self.stacks]


def _conv_relu(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, stride: int = 1) -> np.ndarray:
    """pose-ae-train's ``Conv`` with ``relu=True, bn=False``: its ``nn.Conv2d`` is ``{prefix}.conv``."""
    return ops.relu(conv(params, f"{prefix}.conv", x, stride=stride))


def _hourglass(params: dict[str, np.ndarray], prefix: str, x: np.ndarray, n: int) -> np.ndarray:
    """Level n (HOURGLASS_DEPTH outermost .. 1 innermost): ``up1(x) + up2(low3(low2(low1(pool(x)))))``."""
    up1 = _conv_relu(params, f"{prefix}.up1", x)
    low1 = _conv_relu(params, f"{prefix}.low1", ops.max_pool2d(x, 2, stride=2))
    low2 = (_hourglass(params, f"{prefix}.low2", low1, n - 1) if n > 1
            else _conv_relu(params, f"{prefix}.low2", low1))
    low3 = _conv_relu(params, f"{prefix}.low3", low2)
    return up1 + ops.upsample_nearest(low3, 2)


def forward(params: dict[str, np.ndarray], x: np.ndarray, cfg: BaseModelConfig, num_keypoints: int) -> AeOutputs:
    """The AE network on x (N, 3, H, W), H and W divisible by 64 (``hr`` is None; see :func:`full_forward`)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"ae_hourglass input: expected an (N, 3, H, W) image batch, got shape {x.shape}")
    unit = 4 * 2**HOURGLASS_DEPTH
    if x.shape[2] % unit or x.shape[3] % unit:
        raise ValueError(f"ae_hourglass input: H and W must be divisible by {unit}, got {x.shape[2:]}")
    det, tag = ae_output_split(num_keypoints, cfg.ae_output_channels)
    x = _conv_relu(params, "pre.0", x, stride=2)
    x = ops.max_pool2d(_conv_relu(params, "pre.1", x), 2, stride=2)
    x = _conv_relu(params, "pre.4", _conv_relu(params, "pre.3", x))
    stacks: list[np.ndarray] = []
    feature = x
    for i in range(cfg.stages):
        feature = _hourglass(params, f"features.{i}.0", x, HOURGLASS_DEPTH)
        feature = _conv_relu(params, f"features.{i}.2", _conv_relu(params, f"features.{i}.1", feature))
        stacks.append(conv(params, f"outs.{i}.conv", feature))
        if i < cfg.stages - 1:
            x = x + conv(params, f"merge_preds.{i}.conv.conv", stacks[-1]) + conv(
                params, f"merge_features.{i}.conv.conv", feature)
    return AeOutputs(feature, stacks[-1][:, det], stacks[-1][:, tag], stacks)


def full_forward(params: dict[str, np.ndarray], x: np.ndarray, cfg: BaseModelConfig, num_keypoints: int,
                 head: EnhanceNetConfig) -> AeOutputs:
    """:func:`forward` plus M^HR from the EnhanceNet head on [F^LR, detection M^LR] when ``head.enabled``."""
    out = forward(params, x, cfg, num_keypoints)
    if not head.enabled:
        return out
    hr = head_forward(params, out.features, out.detection, head)
    return AeOutputs(out.features, out.detection, out.tags, out.stacks, hr)
