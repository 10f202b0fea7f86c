"""Cascaded Pyramid Network (Chen et al., CVPR 2018) in Paddle: ResNet-50/101 + GlobalNet + RefineNet.

Structure and sublayer names are those of :class:`enhancenet_torch.models.CPN` (which follows the public PyTorch
port GengDavid/pytorch-cpn; CPN is not in HRNet's code base):

- ``resnet.*``: the ResNet trunk (:class:`~enhancenet_paddle.models.resnet.ResNet`);
- ``global_net.laterals.{i}.{0,1}``: 1x1 conv (no bias) + BN (+ReLU) on level i, i = 0..3 for C5, C4, C3, C2;
- ``global_net.upsamples.{i}.{1,2}``: resize to level i+1, 1x1 conv (bias) + BN, added to the next lateral;
- ``global_net.predict.{i}.{0,1,3,5}``: 1x1 conv + BN + ReLU, 3x3 conv -> K (no bias), bilinear resize to
  the heat-map size, BN(K);
- ``refine_net.cascade.{i}.{b}``: 3 - i bottlenecks (expansion 2, projected shortcut) on the GlobalNet feature
  of level i, then a bilinear resize to the heat-map size;
- ``refine_net.final_predict.0`` (bottleneck 4*256 -> 256), ``.1`` (3x3 conv -> K, no bias), ``.2`` (BN(K)).

All resizes are bilinear with ``align_corners=True`` (as the port; ``align_mode`` plays no role then), each
level resized to the size of the next lateral.

F^LR is the output of RefineNet's final bottleneck (256 maps at stride 4), M^LR the RefineNet output, and the
intermediate outputs are GlobalNet's four predictions (levels C5, C4, C3, C2 in that order), all
(N, K, H/4, W/4). OHKM belongs to the loss and is applied after EnhanceNet (on M^HR).
"""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import Tensor, nn

from enhancenet_core.config import BaseModelConfig
from enhancenet_paddle.models.resnet import ResNet, batch_norm, conv2d, init_msra_

CPN_DEPTHS = (50, 101)
LATERAL_CHANNELS = 256


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    return F.interpolate(x, size=[int(s) for s in size], mode="bilinear", align_corners=True)


class RefineBottleneck(nn.Layer):
    """Post-activation bottleneck with expansion 2 and an always-projected shortcut (``downsample.{0,1}``)."""

    expansion = 2

    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__()
        self.conv1 = conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.conv3 = conv2d(planes, planes * 2, 1, bias=False)
        self.bn3 = batch_norm(planes * 2)
        self.relu = nn.ReLU()
        self.downsample = nn.Sequential(conv2d(inplanes, planes * 2, 1, bias=False), batch_norm(planes * 2))

    def forward(self, x: Tensor) -> Tensor:
        """(N, inplanes, H, W) -> (N, 2 * planes, H, W)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


class GlobalNet(nn.Layer):
    """Feature-pyramid GlobalNet over [C5, C4, C3, C2]; returns its pyramid features and K-map predictions."""

    def __init__(self, in_channels: tuple[int, ...], num_keypoints: int) -> None:
        super().__init__()
        c = LATERAL_CHANNELS
        self.laterals = nn.LayerList([
            nn.Sequential(conv2d(ci, c, 1, bias=False), batch_norm(c), nn.ReLU()) for ci in in_channels
        ])
        self.upsamples = nn.LayerList([
            nn.Sequential(nn.Identity(), conv2d(c, c, 1, bias=True), batch_norm(c))
            for _ in range(len(in_channels) - 1)
        ])
        self.predict = nn.LayerList([
            nn.Sequential(
                conv2d(c, c, 1, bias=False), batch_norm(c), nn.ReLU(),
                conv2d(c, num_keypoints, 3, padding=1, bias=False), nn.Identity(), batch_norm(num_keypoints),
            )
            for _ in in_channels
        ])

    def forward(self, levels: list[Tensor], out_size: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
        """levels [C5, C4, C3, C2] -> (pyramid features [(N, 256, h_i, w_i)], predictions [(N, K, *out_size)])."""
        features: list[Tensor] = []
        outputs: list[Tensor] = []
        up: Tensor | None = None
        for i, x in enumerate(levels):
            feature = self.laterals[i](x)
            if up is not None:
                feature = feature + up
            features.append(feature)
            if i < len(self.upsamples):
                seq = self.upsamples[i]
                up = seq[2](seq[1](_resize(feature, levels[i + 1].shape[-2:])))
            p = self.predict[i]
            pred = p[3](p[2](p[1](p[0](feature))))
            outputs.append(p[5](_resize(pred, out_size)))
        return features, outputs


class RefineNet(nn.Layer):
    """Cascade of 3, 2, 1, 0 bottlenecks on the GlobalNet levels, concatenation, bottleneck, 3x3 conv + BN."""

    def __init__(self, num_keypoints: int, num_levels: int = 4) -> None:
        super().__init__()
        c = LATERAL_CHANNELS
        self.cascade = nn.LayerList([
            nn.Sequential(*[RefineBottleneck(c, 128) for _ in range(num_levels - i - 1)]) for i in range(num_levels)
        ])
        self.final_predict = nn.Sequential(
            RefineBottleneck(num_levels * c, 128),
            conv2d(2 * 128, num_keypoints, 3, padding=1, bias=False),
            batch_norm(num_keypoints),
        )

    def forward(self, features: list[Tensor], out_size: Sequence[int]) -> tuple[Tensor, Tensor]:
        """GlobalNet features -> (F^LR (N, 256, *out_size), M^LR (N, K, *out_size))."""
        # indexing, not zip(..., strict=True): paddle.jit.to_static's zip conversion takes no ``strict``
        refined = [_resize(self.cascade[i](f), out_size) for i, f in enumerate(features)]
        f_lr = self.final_predict[0](paddle.concat(refined, axis=1))
        return f_lr, self.final_predict[2](self.final_predict[1](f_lr))


class CPN(nn.Layer):
    """CPN with a ResNet-``depth`` trunk. Input (N, 3, H, W); heat maps at stride 4 (the size of C2)."""

    def __init__(self, cfg: BaseModelConfig, num_keypoints: int) -> None:
        super().__init__()
        if cfg.depth not in CPN_DEPTHS:
            raise ValueError(f"model.base.depth: CPN expects one of {CPN_DEPTHS}, got {cfg.depth}")
        self.resnet = ResNet(cfg.depth)
        self.global_net = GlobalNet(tuple(reversed(self.resnet.stage_channels)), num_keypoints)
        self.refine_net = RefineNet(num_keypoints)
        self.feature_channels = 2 * 128
        self.num_keypoints = num_keypoints
        init_msra_(self)  # the port's initialisation of every conv (MSRA, BN 1/0), as the torch model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Images (N, 3, H, W) -> (F^LR, M^LR, GlobalNet predictions [C5, C4, C3, C2 levels])."""
        levels = self.resnet.forward_features(x)[::-1]
        out_size = levels[-1].shape[-2:]
        features, global_outs = self.global_net(levels, out_size)
        f_lr, m_lr = self.refine_net(features, out_size)
        return f_lr, m_lr, global_outs
