"""pose-ae-train's Associative Embedding network (``models/posenet.py`` ``PoseNet``) in MindSpore.

Cell paths are ``PoseNet``'s (and :class:`enhancenet_torch.models.AeHourglass`'s); with no batch norm the
parameter names are the canonical ones of :mod:`enhancenet_core.namemap` behind ``base.``: ``pre.{0,1,3,4}.conv``,
``features.{i}.0.{up1,low1,low2…,low3}.conv``, ``features.{i}.{1,2}.conv``, ``outs.{i}.conv``,
``merge_features.{i}.conv.conv``, ``merge_preds.{i}.conv.conv``. Structure and where EnhanceNet plugs in:
:mod:`enhancenet_core.architecture` (section Associative Embedding). Float32 only (MindSpore's CPU convolutions).

Construct: ``(F^LR, detection M^LR, [earlier stacks' detection maps], [every stack's tag maps])``; a list rather
than torch's ``{"tags": ...}`` dict keeps the tuple graph-mode friendly. :class:`PoseModel` puts it under "tags".
"""

from __future__ import annotations

from mindspore import nn, ops

from enhancenet_core.architecture import HOURGLASS_DEPTH, ae_level_channels, ae_output_split
from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.layers import Upsample, conv2d, max_pool


class AeConv(nn.Cell):
    """pose-ae-train's ``Conv`` with ``bn=False``: a biased conv (``conv``, "same" padding), then ReLU if ``relu``."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=True)
        self.relu = relu

    def construct(self, x):
        """(N, c_in, H, W) -> (N, c_out, H / stride, W / stride)."""
        x = self.conv(x)
        if self.relu:
            return ops.relu(x)
        return x


class Merge(nn.Cell):
    """pose-ae-train's ``Merge``: a 1x1 :class:`AeConv` without ReLU, as the cell ``conv``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = AeConv(c_in, c_out, 1, relu=False)

    def construct(self, x):
        """(N, c_in, H, W) -> (N, c_out, H, W)."""
        return self.conv(x)


class AeHourglassLevel(nn.Cell):
    """Level ``n`` of one hourglass at width ``widths[0]``: ``up1(x) + up(low3(low2(low1(pool(x)))))``."""

    def __init__(self, n: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        f, nf = widths[0], widths[1]
        self.up1 = AeConv(f, f)
        self.low1 = AeConv(f, nf)
        self.low2 = AeHourglassLevel(n - 1, widths[1:]) if n > 1 else AeConv(nf, nf)
        self.low3 = AeConv(nf, f)
        self.pool = max_pool(2, 2)
        self.up = Upsample(2, "nearest")

    def construct(self, x):
        """(N, f, H, W) -> (N, f, H, W); H, W divisible by 2**n."""
        low = self.low3(self.low2(self.low1(self.pool(x))))
        return self.up1(x) + self.up(low)


class AeHourglass(nn.Cell):
    """``stages`` stacks of pose-ae-train's hourglass. Input (N, 3, H, W) with H, W divisible by 64."""

    def __init__(self, cfg: BaseModelConfig, num_keypoints: int) -> None:
        super().__init__()
        if cfg.stages < 1:
            raise ValueError(f"model.base.stages: expected >= 1 stacks, got {cfg.stages}")
        if cfg.hourglass_channels < 1 or cfg.hourglass_increase < 0:
            raise ValueError("model.base.hourglass_channels / hourglass_increase: expected >= 1 / >= 0, got "
                             f"{cfg.hourglass_channels} / {cfg.hourglass_increase}")
        ae_output_split(num_keypoints, cfg.ae_output_channels)  # raises naming model.base.ae_output_channels
        self.k = num_keypoints  # detection = channels [0, K), tags = [K, 2K)
        ch, out = cfg.hourglass_channels, cfg.ae_output_channels
        widths = ae_level_channels(ch, cfg.hourglass_increase)
        self.pre = nn.SequentialCell([AeConv(3, 64, 7, 2), AeConv(64, 128), max_pool(2, 2), AeConv(128, 128),
                                      AeConv(128, ch)])
        self.features = nn.CellList([
            nn.SequentialCell([AeHourglassLevel(HOURGLASS_DEPTH, widths), AeConv(ch, ch), AeConv(ch, ch)])
            for _ in range(cfg.stages)])
        self.outs = nn.CellList([AeConv(ch, out, 1, relu=False) for _ in range(cfg.stages)])
        if cfg.stages > 1:
            self.merge_features = nn.CellList([Merge(ch, ch) for _ in range(cfg.stages - 1)])
            self.merge_preds = nn.CellList([Merge(out, ch) for _ in range(cfg.stages - 1)])
        self.num_stacks = cfg.stages
        self.feature_channels = ch
        self.num_keypoints = num_keypoints

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR, detection M^LR, [earlier stacks' detection], [every stack's tags])."""
        unit = 4 * 2**HOURGLASS_DEPTH
        if x.shape[2] % unit or x.shape[3] % unit:
            raise ValueError(f"AeHourglass: input height and width must be divisible by {unit} (stride 4 and "
                             f"{HOURGLASS_DEPTH} poolings)")
        x = self.pre(x)
        preds = []
        feature = x
        for i in range(self.num_stacks):
            feature = self.features[i](x)
            preds.append(self.outs[i](feature))
            if i < self.num_stacks - 1:
                x = x + self.merge_preds[i](preds[-1]) + self.merge_features[i](feature)
        k = self.k
        dets = [p[:, :k] for p in preds]
        tags = [p[:, k:2 * k] for p in preds]
        return feature, dets[-1], dets[:-1], tags
