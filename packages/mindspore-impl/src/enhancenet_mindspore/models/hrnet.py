"""HRNet-W32 / W48 for pose (Sun et al., CVPR 2019), the ``w32/w48_256x192`` configurations.

Mirrors :mod:`enhancenet_torch.models.hrnet`; cell names are those of HRNet's ``lib/models/pose_hrnet.py``
(``PoseHighResolutionNet``): stem ``conv1/bn1/conv2/bn2``, ``layer1`` (4 Bottlenecks), ``transition{1,2,3}.{i}``,
``stage{2,3,4}.{m}.branches.{b}.{k}`` (BasicBlocks) and ``.fuse_layers.{i}.{j}``, and ``final_layer``.

Where PyTorch keeps ``None`` in a ``ModuleList`` (a branch that passes through a transition, the diagonal of the
fuse layers) this model holds a parameter-free ``nn.Identity``, so every list index, and therefore every
parameter name, is the same. F^LR is the highest-resolution branch of the last stage (``width`` maps at stride
4), M^LR the ``final_layer`` output.
"""

from __future__ import annotations

from dataclasses import dataclass

from mindspore import nn

from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.layers import Upsample, batch_norm, conv2d, init_normal_
from enhancenet_mindspore.models.resnet import BasicBlock, Bottleneck, make_res_layer


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


class HighResolutionModule(nn.Cell):
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
        self.branches = nn.CellList(
            [make_res_layer(BasicBlock, in_channels[i], num_channels[i], num_blocks[i]) for i in range(n)]
        )
        ch = num_channels  # BasicBlock.expansion == 1
        rows: list[nn.CellList] = []
        for i in range(n if multi_scale_output else 1):
            row: list[nn.Cell] = []
            for j in range(n):
                if j > i:  # lower resolution -> 1x1 conv, BN, nearest upsampling
                    row.append(nn.SequentialCell([
                        conv2d(ch[j], ch[i], 1, bias=False), batch_norm(ch[i]), Upsample(2 ** (j - i), "nearest"),
                    ]))
                elif j == i:
                    row.append(nn.Identity())  # torch: None
                else:  # higher resolution -> (i - j) stride-2 3x3 convs
                    steps: list[nn.Cell] = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out = ch[i] if last else ch[j]
                        step: list[nn.Cell] = [conv2d(ch[j], out, 3, stride=2, padding=1, bias=False),
                                               batch_norm(out)]
                        if not last:
                            step.append(nn.ReLU())
                        steps.append(nn.SequentialCell(step))
                    row.append(nn.SequentialCell(steps))
            rows.append(nn.CellList(row))
        self.num_outputs = len(rows)
        self.has_fuse = n > 1
        if n > 1:
            self.fuse_layers = nn.CellList(rows)
        self.relu = nn.ReLU()
        self.out_channels = tuple(ch)

    def construct(self, xs):
        """Branch inputs ((N, c_i, H/2^i, W/2^i), ...) -> fused outputs (all branches, or only branch 0)."""
        ys = []
        for b in range(self.num_branches):
            ys.append(self.branches[b](xs[b]))
        if not self.has_fuse:
            return tuple(ys)
        fused = []
        for i in range(self.num_outputs):
            total = ys[i]
            for j in range(self.num_branches):
                if j != i:
                    total = total + self.fuse_layers[i][j](ys[j])
            fused.append(self.relu(total))
        return tuple(fused)


def make_transition(pre: tuple[int, ...], cur: tuple[int, ...]) -> nn.CellList:
    """``transition{s}``: per branch i of the next stage, a 3x3 conv+BN+ReLU on branch i when its width changes
    (``nn.Identity`` where PyTorch holds ``None``), or a chain of stride-2 3x3 convs on the last previous branch."""
    layers: list[nn.Cell] = []
    for i, c in enumerate(cur):
        if i < len(pre):
            if c != pre[i]:
                layers.append(nn.SequentialCell([conv2d(pre[i], c, 3, 1, 1, bias=False), batch_norm(c), nn.ReLU()]))
            else:
                layers.append(nn.Identity())  # torch: None
        else:
            steps = []
            for j in range(i + 1 - len(pre)):
                out = c if j == i - len(pre) else pre[-1]
                steps.append(nn.SequentialCell([conv2d(pre[-1], out, 3, 2, 1, bias=False), batch_norm(out),
                                                nn.ReLU()]))
            layers.append(nn.SequentialCell(steps))
    return nn.CellList(layers)


class HRNet(nn.Cell):
    """HRNet-W``width`` pose network. Input (N, 3, H, W); F^LR (N, width, H/4, W/4); M^LR (N, K, H/4, W/4).

    """

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
            setattr(self, f"transition{s - 1}", make_transition(previous, spec.num_channels))
            modules = []
            for m in range(spec.num_modules):
                last = s == 4 and m == spec.num_modules - 1
                modules.append(HighResolutionModule(spec.num_blocks, spec.num_channels, spec.num_channels, not last))
            setattr(self, f"stage{s}", nn.SequentialCell(modules))
            previous = spec.num_channels
        if cfg.final_conv_kernel not in (1, 3):
            raise ValueError(f"model.base.final_conv_kernel: expected 1 or 3, got {cfg.final_conv_kernel}")
        self.final_layer = conv2d(previous[0], num_keypoints, cfg.final_conv_kernel,
                                  padding=cfg.final_conv_kernel // 2, bias=True)
        self.feature_channels = previous[0]
        self.num_keypoints = num_keypoints
        init_normal_(self)

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR (N, width, H/4, W/4), M^LR (N, K, H/4, W/4)); H, W divisible by 32."""
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError("HRNet: input height and width must be divisible by 32 (the fuse layers upsample "
                             "by powers of 2)")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = (self.layer1(x),)
        ys = self.stage2(self._transition(self.transition1, ys))
        ys = self.stage3(self._transition(self.transition2, ys))
        ys = self.stage4(self._transition(self.transition3, ys))
        features = ys[0]
        return features, self.final_layer(features)

    def _transition(self, transition, ys):
        """Apply a ``transition{s}`` CellList: branch i reads ``ys[i]``, new branches read the last one."""
        xs = []
        n = len(ys)
        for i in range(len(transition)):
            source = ys[i] if i < n else ys[n - 1]
            xs.append(transition[i](source))
        return tuple(xs)


__all__ = ["HRNet", "HighResolutionModule", "StageSpec", "hrnet_stages", "make_transition"]
