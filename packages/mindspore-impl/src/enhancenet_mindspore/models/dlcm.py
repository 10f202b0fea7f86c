"""DLCM (Tang, Yu & Wu, ECCV 2018) in MindSpore: five hourglasses over MPII's 3-level compositional hierarchy.

Mirrors :class:`enhancenet_torch.models.Dlcm`. The network of :mod:`enhancenet_core.compositional.network` with
the stacked hourglass's blocks (:mod:`enhancenet_mindspore.models.hourglass`): stem ``conv1``, ``bn1``, ``layer{1,2,3}``; per stack ``i`` predicting
level ``levels[i]`` = (1, 2, 3, 2, 1)[i]: ``skip.{i}`` (top-down stacks only, a pre-activation bottleneck
C -> C - P_l), ``hg.{i}``, ``fc.{i}`` (1x1 conv, BN, ReLU), ``score.{i}`` (P_l maps) and, but for the last,
``fc_.{i}`` / ``score_.{i}``. A top-down stack of level l reads ``concat(bottom-up maps of level l, skip(x))``;
between stacks ``x = x + fc_(y) + score_(score)``; no residual after the hourglass. Names, order and shapes are
:func:`enhancenet_core.compositional.dlcm_parameter_specs`'; every choice where the authors' code is silent is
listed in the core-spec README ("DLCM (compositional)").

Returns like :class:`~enhancenet_mindspore.models.hourglass.StackedHourglass`: F^LR (the last ``fc`` output), M^LR
(the last stack's 16 joint maps) and the earlier stacks' maps (16, 12, 6, 12 channels), which the DLCM loss
supervises with their own level's targets.
"""

from __future__ import annotations

from mindspore import nn, ops

from enhancenet_core.compositional import DlcmConfig, dlcm_config
from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.hourglass import Hourglass, PreActBottleneck, _residual
from enhancenet_mindspore.models.layers import batch_norm, conv2d, max_pool


def _skip(ch: int, out: int) -> PreActBottleneck:
    """``skip.{i}``: one pre-activation bottleneck ``ch -> out`` with its biased 1x1 projection (``out < ch``)."""
    return PreActBottleneck(ch, out // PreActBottleneck.expansion, nn.SequentialCell([conv2d(ch, out, 1, bias=True)]))


class Dlcm(nn.Cell):
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
        self.conv1 = conv2d(3, 64, 7, stride=2, padding=3, bias=True)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU()
        self.layer1 = _residual(64, 64, 1)
        self.layer2 = _residual(128, 128, 1)
        self.layer3 = _residual(256, feats, 1)
        self.maxpool = max_pool(2, 2)
        # one bottleneck per top-down stack; the bottom-up stacks hold a parameter-free placeholder so that the
        # list index is the stack index (the canonical ``skip.{i}`` names) in graph mode as in PyNative
        self.skip = nn.CellList([_skip(ch, ch - parts[lv - 1]) if i >= top else nn.Identity()
                                 for i, lv in enumerate(levels)])
        self.hg = nn.CellList([Hourglass(net.blocks, feats, net.depth) for _ in levels])
        self.fc = nn.CellList([
            nn.SequentialCell([conv2d(ch, ch, 1, bias=True), batch_norm(ch), nn.ReLU()]) for _ in levels
        ])
        self.score = nn.CellList([conv2d(ch, parts[lv - 1], 1, bias=True) for lv in levels])
        self.fc_ = nn.CellList([conv2d(ch, ch, 1, bias=True) for _ in levels[:-1]])
        self.score_ = nn.CellList([conv2d(parts[lv - 1], ch, 1, bias=True) for lv in levels[:-1]])
        self.feature_channels = ch
        self.num_keypoints = num_keypoints
        self.top = top
        self.unit = 4 * 2**net.depth
        self.size_error = f"DLCM input: H and W must be divisible by {self.unit} (depth {net.depth})"

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR (N, C, H/4, W/4), M^LR (N, 16, H/4, W/4), [maps of stacks 0 .. 3]);
        the stack maps have ``P_l`` = 16, 12, 6, 12 channels (levels 1, 2, 3, 2)."""
        if x.shape[2] % self.unit or x.shape[3] % self.unit:
            raise ValueError(self.size_error)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(self.layer1(x))
        x = self.layer3(self.layer2(x))
        scores = []
        y = x
        for i in range(len(self.levels)):
            lv = self.levels[i]
            if i >= self.top:  # top-down: the bottom-up prediction of this level (stack lv - 1) first, then features
                x = ops.concat((scores[lv - 1], self.skip[i](x)), axis=1)
            y = self.fc[i](self.hg[i](x))
            score = self.score[i](y)
            scores.append(score)
            if i < len(self.levels) - 1:
                x = x + self.fc_[i](y) + self.score_[i](score)
        return y, scores[len(self.levels) - 1], scores[:len(self.levels) - 1]
