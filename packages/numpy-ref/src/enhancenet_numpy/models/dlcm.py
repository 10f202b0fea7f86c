"""DLCM (Tang, Yu & Wu, ECCV 2018): bottom-up then top-down hourglasses, one per level of the hierarchy.

The network's shape and tensor names are the spec's (:mod:`enhancenet_core.compositional.network`): the
stacked hourglass's stem and pre-activation bottlenecks, ``2L - 1`` hourglasses predicting the levels
``(1, 2, .., L, .., 2, 1)``; a top-down stack of level ``l`` starts from
``concat(bottom-up prediction of level l, skip(x))``; between stacks ``x = x + fc_(y) + score_(score)``;
no residual after the hourglass (the authors' is commented out). F^LR = the last stack's ``fc`` output,
M^LR = its level-1 maps; every stack's maps are returned for their level's supervision.
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.compositional.network import DlcmConfig, dlcm_parameter_specs
from enhancenet_core.config import EnhanceNetConfig
from enhancenet_core.namemap import TensorSpec, head_parameter_specs
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models._layers import bn, conv
from enhancenet_numpy.models.hourglass import _hourglass, _residual, bottleneck


def forward(
    params: dict[str, np.ndarray], x: np.ndarray, cfg: DlcmConfig
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(F^LR, M^LR, stacks) of x (N, 3, H, W), H and W divisible by ``4 · 2^depth``.

    F^LR (N, channels, H/4, W/4); M^LR (N, K, H/4, W/4) = stacks[-1]; stacks[s] (N, P_l, H/4, W/4) with
    ``l = cfg.levels[s]``.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"DLCM input: expected an (N, 3, H, W) image batch, got shape {x.shape}")
    cfg.check_input(x.shape[2], x.shape[3])
    x = ops.relu(bn(params, "bn1", conv(params, "conv1", x, stride=2, padding=3)))
    x = _residual(params, "layer1", x, 1)
    x = ops.max_pool2d(x, 2, stride=2)
    x = _residual(params, "layer3", _residual(params, "layer2", x, 1), 1)
    levels = cfg.levels
    top = cfg.hierarchy.num_levels
    stacks: list[np.ndarray] = []
    y = x
    for i, lv in enumerate(levels):
        if i >= top:  # top-down: the bottom-up prediction of this level (stack lv - 1), then the features
            x = ops.concat([stacks[lv - 1], bottleneck(params, f"skip.{i}", x)], axis=1)
        y = _hourglass(params, f"hg.{i}", x, cfg.depth, cfg.blocks)
        y = ops.relu(bn(params, f"fc.{i}.1", conv(params, f"fc.{i}.0", y)))
        score = conv(params, f"score.{i}", y)
        stacks.append(score)
        if i < len(levels) - 1:
            x = x + conv(params, f"fc_.{i}", y) + conv(params, f"score_.{i}", score)
    return y, stacks[-1], stacks


def dlcm_full_parameter_specs(cfg: DlcmConfig, head: EnhanceNetConfig) -> dict[str, TensorSpec]:
    """DLCM's tensors followed by the EnhanceNet head's (``enhance.…``, on F^LR and the final joint maps)."""
    specs = dlcm_parameter_specs(cfg)
    if head.enabled:
        specs.update(head_parameter_specs(head, cfg.channels, cfg.hierarchy.num_parts[0]))
    return specs


def full_forward(
    params: dict[str, np.ndarray], x: np.ndarray, cfg: DlcmConfig, head: EnhanceNetConfig
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """(every stack's maps, M^HR or None): EnhanceNet enhances the final level-1 maps with the last features."""
    f_lr, m_lr, stacks = forward(params, x, cfg)
    if not head.enabled:
        return stacks, None
    return stacks, head_forward(params, f_lr, m_lr, head)
