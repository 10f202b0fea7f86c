"""Cascaded Pyramid Network (Chen et al., CVPR 2018): ResNet-50/101 + GlobalNet + RefineNet.

Mirrors :mod:`enhancenet_torch.models.cpn` (names of the public PyTorch port GengDavid/pytorch-cpn):

- ``resnet.*``: the ResNet trunk (torchvision names without ``fc``);
- ``global_net.laterals.{i}.{0,1}``: 1x1 conv (no bias) + BN (+ReLU) on level i, i = 0..3 for C5, C4, C3, C2;
- ``global_net.upsamples.{i}.{1,2}``: resize to level i+1, 1x1 conv (bias) + BN, added to the next lateral;
- ``global_net.predict.{i}.{0,1,3,5}``: 1x1 conv + BN + ReLU, 3x3 conv -> K (no bias), bilinear resize to
  the heat-map size, BN(K);
- ``refine_net.cascade.{i}.{b}``: 3 - i bottlenecks (expansion 2, projected shortcut) on the GlobalNet feature
  of level i, then a bilinear resize to the heat-map size;
- ``refine_net.final_predict.0`` (bottleneck 4*256 -> 256), ``.1`` (3x3 conv -> K, no bias), ``.2`` (BN(K)).

All resizes are bilinear with ``align_corners=True``; each GlobalNet level is resized to the size of the next
lateral. The positions PyTorch fills with ``nn.Identity`` (``upsamples.{i}.0``, ``predict.{i}.4``) are
``nn.Identity`` here too, so the indices match. A cascade with zero bottlenecks (level 3) is an empty
``SequentialCell`` in PyTorch; MindSpore cannot run an empty one, so it holds a single ``nn.Identity`` (no
parameters, names unchanged).

F^LR is the output of RefineNet's final bottleneck (256 maps at stride 4), M^LR the RefineNet output, and the
intermediate outputs are GlobalNet's four predictions (levels C5, C4, C3, C2 in that order), all
(N, K, H/4, W/4). OHKM belongs to the loss and is applied after EnhanceNet.
"""

from __future__ import annotations

from mindspore import nn, ops

from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.layers import batch_norm, conv2d, init_msra_, resize_bilinear_aligned
from enhancenet_mindspore.models.resnet import ResNet

CPN_DEPTHS = (50, 101)
LATERAL_CHANNELS = 256


class RefineBottleneck(nn.Cell):
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
        self.downsample = nn.SequentialCell([conv2d(inplanes, planes * 2, 1, bias=False), batch_norm(planes * 2)])

    def construct(self, x):
        """(N, inplanes, H, W) -> (N, 2 * planes, H, W)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


class GlobalNet(nn.Cell):
    """Feature-pyramid GlobalNet over (C5, C4, C3, C2); returns its pyramid features and K-map predictions."""

    def __init__(self, in_channels: tuple[int, ...], num_keypoints: int) -> None:
        super().__init__()
        c = LATERAL_CHANNELS
        self.num_levels = len(in_channels)
        self.laterals = nn.CellList([
            nn.SequentialCell([conv2d(ci, c, 1, bias=False), batch_norm(c), nn.ReLU()]) for ci in in_channels
        ])
        self.upsamples = nn.CellList([
            nn.SequentialCell([nn.Identity(), conv2d(c, c, 1, bias=True), batch_norm(c)])
            for _ in range(len(in_channels) - 1)
        ])
        self.predict = nn.CellList([
            nn.SequentialCell([
                conv2d(c, c, 1, bias=False), batch_norm(c), nn.ReLU(),
                conv2d(c, num_keypoints, 3, padding=1, bias=False), nn.Identity(), batch_norm(num_keypoints),
            ])
            for _ in in_channels
        ])

    def construct(self, levels, out_size):
        """levels (C5, C4, C3, C2) -> (pyramid features (N, 256, h_i, w_i), predictions (N, K, *out_size))."""
        features = []
        outputs = []
        up = None
        for i in range(self.num_levels):
            feature = self.laterals[i](levels[i])
            if i > 0:
                feature = feature + up
            features.append(feature)
            if i < self.num_levels - 1:
                nxt = levels[i + 1]
                up = self.upsamples[i][2](self.upsamples[i][1](
                    resize_bilinear_aligned(feature, (nxt.shape[2], nxt.shape[3]))))
            p = self.predict[i]
            pred = p[3](p[2](p[1](p[0](feature))))
            outputs.append(p[5](resize_bilinear_aligned(pred, out_size)))
        return features, outputs


class RefineNet(nn.Cell):
    """Cascade of 3, 2, 1, 0 bottlenecks on the GlobalNet levels, concatenation, bottleneck, 3x3 conv + BN."""

    def __init__(self, num_keypoints: int, num_levels: int = 4) -> None:
        super().__init__()
        c = LATERAL_CHANNELS
        self.num_levels = num_levels
        self.cascade = nn.CellList([
            nn.SequentialCell([RefineBottleneck(c, 128) for _ in range(num_levels - i - 1)] or [nn.Identity()])
            for i in range(num_levels)
        ])
        self.final_predict = nn.SequentialCell([
            RefineBottleneck(num_levels * c, 128),
            conv2d(2 * 128, num_keypoints, 3, padding=1, bias=False),
            batch_norm(num_keypoints),
        ])

    def construct(self, features, out_size):
        """GlobalNet features -> (F^LR (N, 256, *out_size), M^LR (N, K, *out_size))."""
        refined = []
        for i in range(self.num_levels):
            refined.append(resize_bilinear_aligned(self.cascade[i](features[i]), out_size))
        f_lr = self.final_predict[0](ops.concat(refined, axis=1))
        return f_lr, self.final_predict[2](self.final_predict[1](f_lr))


class CPN(nn.Cell):
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
        init_msra_(self.global_net)
        init_msra_(self.refine_net)
        init_msra_(self.resnet)

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR, M^LR, GlobalNet predictions [C5, C4, C3, C2 levels])."""
        c2, c3, c4, c5 = self.resnet.forward_features(x)
        out_size = (c2.shape[2], c2.shape[3])
        features, global_outs = self.global_net((c5, c4, c3, c2), out_size)
        f_lr, m_lr = self.refine_net(features, out_size)
        return f_lr, m_lr, global_outs


__all__ = ["CPN", "CPN_DEPTHS", "GlobalNet", "RefineBottleneck", "RefineNet"]
