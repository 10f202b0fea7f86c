"""ResNet building blocks and backbone (our own; no torchvision).

Parameter names follow HRNet's ``lib/models/pose_resnet.py`` (which are torchvision's ResNet names without
``fc``): ``conv1``, ``bn1``, ``layer{1..4}.{b}.conv{1,2,3}`` / ``bn{1,2,3}`` and ``layer{n}.0.downsample.{0,1}``.
Batch norm: eps 1e-5, momentum 0.1 (HRNet's ``BN_MOMENTUM``).
"""

from __future__ import annotations

from torch import Tensor, nn

BN_MOMENTUM = 0.1
BN_EPS = 1e-5


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """``BatchNorm2d`` with the eps and momentum every base model here uses."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut; ``expansion = 1``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """(N, inplanes, H, W) -> (N, planes, H/stride, W/stride)."""
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck, post-activation; ``expansion = 4``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = batch_norm(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """(N, inplanes, H, W) -> (N, 4 * planes, H/stride, W/stride)."""
        residual = x if self.downsample is None else self.downsample(x)
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
) -> nn.Sequential:
    """``blocks`` residual blocks; the first projects the shortcut (``downsample.{0,1}``) when shapes change."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * block.expansion, 1, stride=stride, bias=False),
            batch_norm(planes * block.expansion),
        )
    layers: list[nn.Module] = [block(inplanes, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def resnet_spec(depth: int) -> tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]:
    """Block type and blocks per stage of ResNet-``depth``; ValueError names the allowed depths."""
    if depth not in RESNET_SPEC:
        raise ValueError(f"model.base.depth: expected one of {sorted(RESNET_SPEC)} (ResNet depth), got {depth}")
    return RESNET_SPEC[depth]


class ResNet(nn.Module):
    """ResNet-``depth`` trunk without the classifier: stem (7x7/2 conv, 3x3/2 max pool) and layer1..layer4.

    :meth:`forward_features` returns the four stage outputs C2..C5 at strides 4, 8, 16, 32.
    """

    def __init__(self, depth: int) -> None:
        super().__init__()
        block, layers = resnet_spec(depth)
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        e = block.expansion
        self.layer1 = make_res_layer(block, 64, 64, layers[0])
        self.layer2 = make_res_layer(block, 64 * e, 128, layers[1], stride=2)
        self.layer3 = make_res_layer(block, 128 * e, 256, layers[2], stride=2)
        self.layer4 = make_res_layer(block, 256 * e, 512, layers[3], stride=2)
        self.stage_channels: tuple[int, int, int, int] = (64 * e, 128 * e, 256 * e, 512 * e)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """Images (N, 3, H, W) -> [C2 (N, c2, H/4, W/4), C3 (/8), C4 (/16), C5 (/32)]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, 3, H, W) -> C5 (N, c5, H/32, W/32)."""
        return self.forward_features(x)[-1]


def init_normal_(module: nn.Module, std: float = 0.001) -> None:
    """HRNet's initialisation: conv / deconv weights ~ N(0, std), biases 0, batch norm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

