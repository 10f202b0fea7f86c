"""HRNet-W32 / W48 for pose (Sun et al., CVPR 2019) in Paddle, the ``w32/w48_256x192`` configurations.

Structure and sublayer names are those of HRNet's ``lib/models/pose_hrnet.py`` (``PoseHighResolutionNet``) and
of :class:`enhancenet_torch.models.HRNet`: stem ``conv1/bn1/conv2/bn2``, ``layer1`` (4 Bottlenecks),
``transition{1,2,3}.{i}`` (``None`` where a branch passes through), ``stage{2,3,4}.{m}.branches.{b}.{k}``
(BasicBlocks) and ``.fuse_layers.{i}.{j}``, and ``final_layer``. Fuse layers upsample with nearest
interpolation (``out[y, x] = in[y // s, x // s]``, as PyTorch's ``nn.Upsample(mode="nearest")``).

F^LR is the highest-resolution branch of the last stage (``width`` maps at stride 4), M^LR the
``final_layer`` output.
"""

from __future__ import annotations

from dataclasses import dataclass

from paddle import Tensor, nn

from enhancenet_core.config import BaseModelConfig
from enhancenet_paddle.models.resnet import (
    BasicBlock,
    Bottleneck,
    batch_norm,
    conv2d,
    init_normal_,
    make_res_layer,
)


@dataclass(frozen=True)
class StageSpec:
    """One HRNet stage: ``num_modules`` HighResolutionModules of ``num_blocks`` BasicBlocks per branch."""

    num_modules: int
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]


def hrnet_stages(width: int) -> tuple[StageSpec, StageSpec, StageSpec]:
    """Stages 2..4 of HRNet-W``width`` (HRNet's ``w32_256x192`` / ``w48_256x192`` experiment configs)."""
    if width not in (32, 48):
        raise ValueError(f"model.base.width: expected 32 or 48 (HRNet-W32/W48), got {width}")
    w = width
    return (
        StageSpec(1, (4, 4), (w, 2 * w)),
        StageSpec(4, (4, 4, 4), (w, 2 * w, 4 * w)),
        StageSpec(3, (4, 4, 4, 4), (w, 2 * w, 4 * w, 8 * w)),
    )


class HighResolutionModule(nn.Layer):
    """Parallel branches of BasicBlocks followed by the exchange unit (fuse layers, sum, ReLU).

    With ``multi_scale_output=False`` (last module of stage 4) only the highest-resolution output is fused.
    """

    def __init__(
        self, num_blocks: tuple[int, ...], in_channels: tuple[int, ...], num_channels: tuple[int, ...],
        multi_scale_output: bool = True,
    ) -> None:
        super().__init__()
        n = len(num_blocks)
        self.num_branches = n
        self.branches = nn.LayerList(
            [make_res_layer(BasicBlock, in_channels[i], num_channels[i], num_blocks[i]) for i in range(n)]
        )
        ch = num_channels  # BasicBlock.expansion == 1
        fuse_layers: list[nn.LayerList] = []
        for i in range(n if multi_scale_output else 1):
            row: list[nn.Layer | None] = []
            for j in range(n):
                if j > i:  # lower resolution -> 1x1 conv, BN, nearest upsampling
                    row.append(nn.Sequential(
                        conv2d(ch[j], ch[i], 1, bias=False), batch_norm(ch[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                    ))
                elif j == i:
                    row.append(None)
                else:  # higher resolution -> (i - j) stride-2 3x3 convs
                    steps: list[nn.Layer] = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out = ch[i] if last else ch[j]
                        step: list[nn.Layer] = [conv2d(ch[j], out, 3, 2, 1, bias=False), batch_norm(out)]
                        if not last:
                            step.append(nn.ReLU())
                        steps.append(nn.Sequential(*step))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.LayerList(row))
        self.fuse_layers = nn.LayerList(fuse_layers) if n > 1 else None
        self.relu = nn.ReLU()
        self.out_channels = tuple(ch)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        """Branch inputs [(N, c_i, H/2^i, W/2^i)] -> fused outputs (all branches, or only branch 0)."""
        # indexing, not zip(..., strict=True): paddle.jit.to_static's zip conversion takes no ``strict``
        ys = [self.branches[b](xs[b]) for b in range(self.num_branches)]
        if self.fuse_layers is None:
            return ys
        fused = []
        for i, row in enumerate(self.fuse_layers):
            total = ys[i]
            for j, layer in enumerate(row):
                if j != i:
                    total = total + layer(ys[j])
            fused.append(self.relu(total))
        return fused


class HRNet(nn.Layer):
    """HRNet-W``width`` pose network. Input (N, 3, H, W); F^LR (N, width, H/4, W/4); M^LR (N, K, H/4, W/4)."""

    def __init__(self, cfg: BaseModelConfig, num_keypoints: int) -> None:
        super().__init__()
        stages = hrnet_stages(cfg.width)
        self.conv1 = conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = batch_norm(64)
        self.conv2 = conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = batch_norm(64)
        self.relu = nn.ReLU()
        self.layer1 = make_res_layer(Bottleneck, 64, 64, 4)
        previous: tuple[int, ...] = (64 * Bottleneck.expansion,)
        for s, spec in enumerate(stages, start=2):
            self.add_sublayer(f"transition{s - 1}", self._transition(previous, spec.num_channels))
            modules = []
            in_channels = spec.num_channels
            for m in range(spec.num_modules):
                last = s == 4 and m == spec.num_modules - 1
                modules.append(HighResolutionModule(spec.num_blocks, in_channels, spec.num_channels, not last))
            self.add_sublayer(f"stage{s}", nn.Sequential(*modules))  # chains lists of branch tensors
            previous = spec.num_channels
        if cfg.final_conv_kernel not in (1, 3):
            raise ValueError(f"model.base.final_conv_kernel: expected 1 or 3, got {cfg.final_conv_kernel}")
        self.final_layer = conv2d(previous[0], num_keypoints, cfg.final_conv_kernel,
                                  padding=cfg.final_conv_kernel // 2)
        self.feature_channels = previous[0]
        self.num_keypoints = num_keypoints
        init_normal_(self)

    @staticmethod
    def _transition(pre: tuple[int, ...], cur: tuple[int, ...]) -> nn.LayerList:
        layers: list[nn.Layer | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                if c != pre[i]:
                    layers.append(nn.Sequential(conv2d(pre[i], c, 3, 1, 1, bias=False), batch_norm(c), nn.ReLU()))
                else:
                    layers.append(None)
            else:
                steps = []
                for j in range(i + 1 - len(pre)):
                    out = c if j == i - len(pre) else pre[-1]
                    steps.append(nn.Sequential(conv2d(pre[-1], out, 3, 2, 1, bias=False), batch_norm(out),
                                               nn.ReLU()))
                layers.append(nn.Sequential(*steps))
        return nn.LayerList(layers)

    @staticmethod
    def _apply_transition(transition: nn.LayerList, ys: list[Tensor]) -> list[Tensor]:
        xs = []
        for i, layer in enumerate(transition):
            source = ys[i] if i < len(ys) else ys[-1]
            xs.append(source if layer is None else layer(source))
        return xs

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images (N, 3, H, W) -> (F^LR (N, width, H/4, W/4), M^LR (N, K, H/4, W/4)); H, W divisible by 32."""
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"HRNet: input height and width must be divisible by 32 (the fuse layers upsample "
                             f"by powers of 2), got {tuple(x.shape[-2:])}")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in (2, 3, 4):
            ys = getattr(self, f"stage{s}")(self._apply_transition(getattr(self, f"transition{s - 1}"), ys))
        features = ys[0]
        return features, self.final_layer(features)
