"""Stacked hourglass network (Newell et al., ECCV 2016) as in bearpaw/pytorch-pose.

Mirrors :mod:`enhancenet_torch.models.hourglass`; cell names are those of bearpaw's
``pose/models/hourglass.py`` (``HourglassNet`` with its pre-activation ``Bottleneck``, expansion 2, biased
convolutions, hourglass depth 4): ``conv1``, ``bn1``, ``layer{1,2,3}``, ``hg.{s}.hg.{d}.{j}.{b}``, ``res.{s}``,
``fc.{s}.{0,1}`` (conv, BN), ``score.{s}``, and between stacks ``fc_.{s}`` / ``score_.{s}``.

The hourglass recursion of the PyTorch code is unrolled into a down pass and an up pass (the same arithmetic in
the same order), which MindSpore's graph mode compiles without recursive calls. F^LR is the last stack's ``fc``
output (``hourglass_channels`` maps at stride 4), M^LR its ``score``; the scores of the earlier stacks are the
intermediate (supervised) outputs. EnhanceNet is applied to the last stack only.
"""

from __future__ import annotations

from mindspore import nn

from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.layers import Upsample, batch_norm, conv2d, max_pool

HOURGLASS_DEPTH = 4  # number of 2x down-samplings inside one hourglass


class PreActBottleneck(nn.Cell):
    """Pre-activation bottleneck (BN-ReLU-conv x3, 1x1 / 3x3 / 1x1, biased), ``expansion = 2``, no final ReLU."""

    expansion = 2

    def __init__(self, inplanes: int, planes: int, downsample: nn.Cell | None = None) -> None:
        super().__init__()
        self.bn1 = batch_norm(inplanes)
        self.conv1 = conv2d(inplanes, planes, 1, bias=True)
        self.bn2 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, padding=1, bias=True)
        self.bn3 = batch_norm(planes)
        self.conv3 = conv2d(planes, planes * 2, 1, bias=True)
        self.relu = nn.ReLU()
        self.has_downsample = downsample is not None
        if downsample is not None:
            self.downsample = downsample

    def construct(self, x):
        """(N, inplanes, H, W) -> (N, 2 * planes, H, W)."""
        residual = x
        if self.has_downsample:
            residual = self.downsample(x)
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + residual


def _residual(inplanes: int, planes: int, blocks: int) -> nn.SequentialCell:
    """``blocks`` bottlenecks; the first gets a biased 1x1 projection ``downsample.0`` if channels change."""
    downsample = None
    if inplanes != planes * PreActBottleneck.expansion:
        downsample = nn.SequentialCell([conv2d(inplanes, planes * PreActBottleneck.expansion, 1, bias=True)])
    layers: list[nn.Cell] = [PreActBottleneck(inplanes, planes, downsample)]
    layers += [PreActBottleneck(planes * 2, planes) for _ in range(1, blocks)]
    return nn.SequentialCell(layers)


class Hourglass(nn.Cell):
    """One hourglass of ``depth`` levels: ``hg.{d}.{0: up branch, 1: after pool, 2: before upsample, 3: bottom}``
    (d = 0 innermost)."""

    def __init__(self, num_blocks: int, planes: int, depth: int = HOURGLASS_DEPTH) -> None:
        super().__init__()
        self.depth = depth
        ch = planes * PreActBottleneck.expansion
        self.hg = nn.CellList([
            nn.CellList([_residual(ch, planes, num_blocks) for _ in range(4 if level == 0 else 3)])
            for level in range(depth)
        ])
        self.pool = max_pool(2, 2)
        self.up = Upsample(2, "nearest")

    def construct(self, x):
        """(N, ch, H, W) -> (N, ch, H, W); H and W divisible by 2**depth."""
        skips = []
        for n in range(self.depth, 0, -1):  # level n uses hg[n - 1]; the outermost level is n = depth
            skips.append(self.hg[n - 1][0](x))
            x = self.hg[n - 1][1](self.pool(x))
        low = self.hg[0][3](x)
        for n in range(1, self.depth + 1):
            low = self.hg[n - 1][2](low)
            low = skips[self.depth - n] + self.up(low)
        return low


class StackedHourglass(nn.Cell):
    """``stages`` stacked hourglasses. Input (N, 3, H, W) with H, W divisible by 64.

    Returns F^LR (N, ch, H/4, W/4), M^LR (N, K, H/4, W/4) of the last stack and the earlier stacks' M^LR list.
    """

    def __init__(self, cfg: BaseModelConfig, num_keypoints: int) -> None:
        super().__init__()
        if cfg.stages < 1:
            raise ValueError(f"model.base.stages: expected >= 1 hourglass stacks, got {cfg.stages}")
        if cfg.hourglass_channels < 2 or cfg.hourglass_channels % 2:
            raise ValueError(f"model.base.hourglass_channels: expected an even number >= 2, got "
                             f"{cfg.hourglass_channels}")
        if cfg.hourglass_blocks < 1:
            raise ValueError(f"model.base.hourglass_blocks: expected >= 1, got {cfg.hourglass_blocks}")
        feats = cfg.hourglass_channels // 2
        ch = cfg.hourglass_channels
        self.num_stacks = cfg.stages
        self.conv1 = conv2d(3, 64, 7, stride=2, padding=3, bias=True)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU()
        self.layer1 = _residual(64, 64, 1)
        self.layer2 = _residual(128, 128, 1)
        self.layer3 = _residual(256, feats, 1)
        self.maxpool = max_pool(2, 2)
        self.hg = nn.CellList([Hourglass(cfg.hourglass_blocks, feats) for _ in range(cfg.stages)])
        self.res = nn.CellList([_residual(ch, feats, cfg.hourglass_blocks) for _ in range(cfg.stages)])
        self.fc = nn.CellList([
            nn.SequentialCell([conv2d(ch, ch, 1, bias=True), batch_norm(ch), nn.ReLU()]) for _ in range(cfg.stages)
        ])
        self.score = nn.CellList([conv2d(ch, num_keypoints, 1, bias=True) for _ in range(cfg.stages)])
        if cfg.stages > 1:
            self.fc_ = nn.CellList([conv2d(ch, ch, 1, bias=True) for _ in range(cfg.stages - 1)])
            self.score_ = nn.CellList([conv2d(num_keypoints, ch, 1, bias=True) for _ in range(cfg.stages - 1)])
        self.feature_channels = ch
        self.num_keypoints = num_keypoints

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR, M^LR, [M^LR of stacks 0 .. stages-2]); H, W divisible by 64."""
        if x.shape[2] % 64 or x.shape[3] % 64:
            raise ValueError("StackedHourglass: input height and width must be divisible by 64 (stride 4 and "
                             "4 poolings)")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.maxpool(x)
        x = self.layer3(self.layer2(x))
        scores = []
        features = x
        for i in range(self.num_stacks):
            features = self.fc[i](self.res[i](self.hg[i](x)))
            score = self.score[i](features)
            scores.append(score)
            if i < self.num_stacks - 1:
                x = x + self.fc_[i](features) + self.score_[i](score)
        return features, scores[self.num_stacks - 1], scores[:self.num_stacks - 1]


__all__ = ["HOURGLASS_DEPTH", "Hourglass", "PreActBottleneck", "StackedHourglass"]
