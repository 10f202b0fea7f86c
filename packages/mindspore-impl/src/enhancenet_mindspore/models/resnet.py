"""ResNet building blocks and backbone (our own; no model zoo), mirroring :mod:`enhancenet_torch.models.resnet`.

Cell names follow HRNet's ``lib/models/pose_resnet.py`` (torchvision's ResNet names without ``fc``): ``conv1``,
``bn1``, ``layer{1..4}.{b}.conv{1,2,3}`` / ``bn{1,2,3}`` and ``layer{n}.0.downsample.{0,1}``. Batch norm: eps
1e-5, MindSpore momentum 0.9 (= PyTorch 0.1, HRNet's ``BN_MOMENTUM``).
"""

from __future__ import annotations

from mindspore import nn

from enhancenet_mindspore.models.layers import batch_norm, conv2d, max_pool


class BasicBlock(nn.Cell):
    """Two 3x3 convolutions with an identity (or projected) shortcut; ``expansion = 1``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Cell | None = None) -> None:
        super().__init__()
        self.conv1 = conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.relu = nn.ReLU()
        self.has_downsample = downsample is not None
        if downsample is not None:
            self.downsample = downsample

    def construct(self, x):
        """(N, inplanes, H, W) -> (N, planes, H/stride, W/stride)."""
        residual = x
        if self.has_downsample:
            residual = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck, post-activation; ``expansion = 4``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Cell | None = None) -> None:
        super().__init__()
        self.conv1 = conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.conv3 = conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = batch_norm(planes * self.expansion)
        self.relu = nn.ReLU()
        self.has_downsample = downsample is not None
        if downsample is not None:
            self.downsample = downsample

    def construct(self, x):
        """(N, inplanes, H, W) -> (N, 4 * planes, H/stride, W/stride)."""
        residual = x
        if self.has_downsample:
            residual = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


RESNET_SPEC: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def make_res_layer(
    block: type[BasicBlock] | type[Bottleneck], inplanes: int, planes: int, blocks: int, stride: int = 1
) -> nn.SequentialCell:
    """``blocks`` residual blocks; the first projects the shortcut (``downsample.{0,1}``) when shapes change."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = nn.SequentialCell([
            conv2d(inplanes, planes * block.expansion, 1, stride=stride, bias=False),
            batch_norm(planes * block.expansion),
        ])
    layers: list[nn.Cell] = [block(inplanes, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.SequentialCell(layers)


def resnet_spec(depth: int) -> tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]:
    """Block type and blocks per stage of ResNet-``depth``; ValueError names the allowed depths."""
    if depth not in RESNET_SPEC:
        raise ValueError(f"model.base.depth: expected one of {sorted(RESNET_SPEC)} (ResNet depth), got {depth}")
    return RESNET_SPEC[depth]


class ResNet(nn.Cell):
    """ResNet-``depth`` trunk without the classifier: stem (7x7/2 conv, 3x3/2 max pool) and layer1..layer4.

    :meth:`forward_features` returns the four stage outputs C2..C5 at strides 4, 8, 16, 32.
    """

    def __init__(self, depth: int) -> None:
        super().__init__()
        block, layers = resnet_spec(depth)
        self.depth = depth
        self.conv1 = conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU()
        self.maxpool = max_pool(3, 2, padding=1, nonnegative_input=True)  # follows a ReLU
        e = block.expansion
        self.layer1 = make_res_layer(block, 64, 64, layers[0])
        self.layer2 = make_res_layer(block, 64 * e, 128, layers[1], stride=2)
        self.layer3 = make_res_layer(block, 128 * e, 256, layers[2], stride=2)
        self.layer4 = make_res_layer(block, 256 * e, 512, layers[3], stride=2)
        self.stage_channels: tuple[int, int, int, int] = (64 * e, 128 * e, 256 * e, 512 * e)

    def forward_features(self, x):
        """Images (N, 3, H, W) -> (C2 (N, c2, H/4, W/4), C3 (/8), C4 (/16), C5 (/32))."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5

    def construct(self, x):
        """Images (N, 3, H, W) -> C5 (N, c5, H/32, W/32)."""
        return self.forward_features(x)[3]


__all__ = ["RESNET_SPEC", "BasicBlock", "Bottleneck", "ResNet", "make_res_layer", "resnet_spec"]
