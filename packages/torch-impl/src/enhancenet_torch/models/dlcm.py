"""DLCM (Tang, Yu & Wu, ECCV 2018) in PyTorch: five hourglasses over MPII's 3-level compositional hierarchy.

The network of :mod:`enhancenet_core.compositional.network` with the stacked hourglass's blocks
(:mod:`enhancenet_torch.models.hourglass`): stem ``conv1``, ``bn1``, ``layer{1,2,3}``; per stack ``i`` predicting
level ``levels[i]`` = (1, 2, 3, 2, 1)[i]: ``skip.{i}`` (top-down stacks only, a pre-activation bottleneck
C -> C - P_l), ``hg.{i}``, ``fc.{i}`` (1x1 conv, BN, ReLU), ``score.{i}`` (P_l maps) and, but for the last,
``fc_.{i}`` / ``score_.{i}``. A top-down stack of level l reads ``concat(bottom-up maps of level l, skip(x))``;
between stacks ``x = x + fc_(y) + score_(score)``; no residual after the hourglass. Names, order and shapes are
:func:`enhancenet_core.compositional.dlcm_parameter_specs`'; every choice where the authors' code is silent is
listed in the core-spec README ("DLCM (compositional)").

Returns like :class:`~enhancenet_torch.models.hourglass.StackedHourglass`: F^LR (the last ``fc`` output), M^LR
(the last stack's 16 joint maps) and the earlier stacks' maps (16, 12, 6, 12 channels), which the DLCM loss
supervises with their own level's targets.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from enhancenet_core.compositional import DlcmConfig, dlcm_config
from enhancenet_core.config import BaseModelConfig
from enhancenet_torch.models.hourglass import Hourglass, PreActBottleneck, _residual
from enhancenet_torch.models.resnet import batch_norm


def _skip(ch: int, out: int) -> PreActBottleneck:
    """``skip.{i}``: one pre-activation bottleneck ``ch -> out`` with its biased 1x1 projection (``out < ch``)."""
    return PreActBottleneck(ch, out // PreActBottleneck.expansion, nn.Sequential(nn.Conv2d(ch, out, 1, bias=True)))


class Dlcm(nn.Module):
    """DLCM base model. Input (N, 3, H, W) with H, W divisible by ``4 · 2^depth`` (64 at depth 4).

    Args:
        cfg: ``model.base`` (``name: dlcm``; :func:`~enhancenet_core.compositional.dlcm_config` reads it) or a
            :class:`~enhancenet_core.compositional.DlcmConfig` (any depth, for tests).
        num_keypoints: K, must be the hierarchy's joint count (16).
    """

    def __init__(self, cfg: BaseModelConfig | DlcmConfig, num_keypoints: int = 16) -> None:
        super().__init__()
        net = cfg if isinstance(cfg, DlcmConfig) else dlcm_config(cfg)
        if num_keypoints != net.hierarchy.num_parts[0]:
            raise ValueError(f"model.num_keypoints: DLCM's hierarchy has {net.hierarchy.num_parts[0]} joints, "
                             f"got {num_keypoints}")
        self.net = net
        ch, feats = net.channels, net.channels // PreActBottleneck.expansion
        levels, parts, top = net.levels, net.hierarchy.num_parts, net.hierarchy.num_levels
        self.levels = levels
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=True)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _residual(64, 64, 1)
        self.layer2 = _residual(128, 128, 1)
        self.layer3 = _residual(256, feats, 1)
        self.maxpool = nn.MaxPool2d(2, stride=2)
        # top-down stacks only, one bottleneck each: ModuleDict keys give the canonical ``skip.{i}`` names
        self.skip = nn.ModuleDict({str(i): _skip(ch, ch - parts[lv - 1]) for i, lv in enumerate(levels) if i >= top})
        self.hg = nn.ModuleList(Hourglass(net.blocks, feats, net.depth) for _ in levels)
        self.fc = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ch, ch, 1, bias=True), batch_norm(ch), nn.ReLU(inplace=True)) for _ in levels
        )
        self.score = nn.ModuleList(nn.Conv2d(ch, parts[lv - 1], 1, bias=True) for lv in levels)
        self.fc_ = nn.ModuleList(nn.Conv2d(ch, ch, 1, bias=True) for _ in levels[:-1])
        self.score_ = nn.ModuleList(nn.Conv2d(parts[lv - 1], ch, 1, bias=True) for lv in levels[:-1])
        self.feature_channels = ch
        self.num_keypoints = num_keypoints

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Images (N, 3, H, W) -> (F^LR (N, C, H/4, W/4), M^LR (N, 16, H/4, W/4), [maps of stacks 0 .. 3]);
        the stack maps have ``P_l`` = 16, 12, 6, 12 channels (levels 1, 2, 3, 2)."""
        self.net.check_input(int(x.shape[-2]), int(x.shape[-1]))
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(self.layer1(x))
        x = self.layer3(self.layer2(x))
        top = self.net.hierarchy.num_levels
        scores: list[Tensor] = []
        y = x
        for i, lv in enumerate(self.levels):
            if i >= top:  # top-down: the bottom-up prediction of this level (stack lv - 1) first, then features
                x = torch.cat([scores[lv - 1], self.skip[str(i)](x)], dim=1)
            y = self.fc[i](self.hg[i](x))
            score = self.score[i](y)
            scores.append(score)
            if i < len(self.levels) - 1:
                x = x + self.fc_[i](y) + self.score_[i](score)
        return y, scores[-1], scores[:-1]
