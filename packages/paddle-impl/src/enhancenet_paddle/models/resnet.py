"""ResNet building blocks and backbone in Paddle (our own; no paddle.vision).

Sublayer names follow HRNet's ``lib/models/pose_resnet.py`` (torchvision's ResNet names without ``fc``):
``conv1``, ``bn1``, ``layer{1..4}.{b}.conv{1,2,3}`` / ``bn{1,2,3}`` and ``layer{n}.0.downsample.{0,1}``, the same
structure as :mod:`enhancenet_torch.models.resnet`.

Batch norm: epsilon 1e-5 and momentum 0.9 in Paddle's convention (``running = m * running + (1 - m) * batch``),
which is PyTorch's (and HRNet's ``BN_MOMENTUM``) 0.1 (``running = (1 - m) * running + m * batch``). Paddle updates
the running variance with the *biased* batch variance, PyTorch and MindSpore with the unbiased one (n / (n - 1),
n = N·H·W); :class:`BatchNorm2D` adds the difference so one training step moves the running statistics exactly as
in the other frameworks (found by the conformance training-step check).
"""

from __future__ import annotations

import math

import paddle
from paddle import Tensor, nn

from enhancenet_core.namemap import BN_EPS

TORCH_BN_MOMENTUM = 0.1
"""HRNet's ``BN_MOMENTUM`` in PyTorch's convention (weight of the new batch statistic)."""
BN_MOMENTUM = 1.0 - TORCH_BN_MOMENTUM
"""The same momentum in Paddle's convention (weight of the running statistic): 0.9."""


class BatchNorm2D(nn.BatchNorm2D):
    """``nn.BatchNorm2D`` whose running variance follows the unbiased batch variance in training, as PyTorch's.

    Paddle's kernel sets ``running_var = m * running_var + (1 - m) * var_biased``; PyTorch uses
    ``var_biased * n / (n - 1)``. The difference, ``(1 - m) * var_biased / (n - 1)``, is added after the kernel
    ran. Normalisation itself (biased variance) and evaluation mode are unchanged.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        n = x.shape[0] * x.shape[2] * x.shape[3]
        out = super().forward(x)
        if n > 1:
            with paddle.no_grad():
                xd = x.detach().astype(self._variance.dtype)
                # (Tensor.var warns about type promotion on every call; the explicit form does not)
                batch_var = ((xd - xd.mean(axis=[0, 2, 3], keepdim=True)) ** 2).mean(axis=[0, 2, 3])
                self._variance.set_value(self._variance + batch_var * float((1.0 - self._momentum) / (n - 1)))
        return out


def batch_norm(channels: int) -> BatchNorm2D:
    """:class:`BatchNorm2D` with the epsilon (1e-5) and momentum (Paddle 0.9 == PyTorch 0.1) of every base model."""
    return BatchNorm2D(channels, momentum=BN_MOMENTUM, epsilon=BN_EPS)


def conv2d(
    c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True
) -> nn.Conv2D:
    """``Conv2D`` spelled like ``torch.nn.Conv2d``: ``bias=False`` becomes ``bias_attr=False`` (no bias tensor)."""
    return nn.Conv2D(c_in, c_out, kernel, stride=stride, padding=padding, bias_attr=None if bias else False)


class BasicBlock(nn.Layer):
    """Two 3x3 convolutions with an identity (or projected) shortcut; ``expansion = 1``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Layer | None = None) -> None:
        super().__init__()
        self.conv1 = conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """(N, inplanes, H, W) -> (N, planes, H/stride, W/stride)."""
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Layer):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck, post-activation; ``expansion = 4``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Layer | None = None) -> None:
        super().__init__()
        self.conv1 = conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = batch_norm(planes)
        self.conv3 = conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = batch_norm(planes * self.expansion)
        self.relu = nn.ReLU()
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
            conv2d(inplanes, planes * block.expansion, 1, stride=stride, bias=False),
            batch_norm(planes * block.expansion),
        )
    layers: list[nn.Layer] = [block(inplanes, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def resnet_spec(depth: int) -> tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]:
    """Block type and blocks per stage of ResNet-``depth``; ValueError names the allowed depths."""
    if depth not in RESNET_SPEC:
        raise ValueError(f"model.base.depth: expected one of {sorted(RESNET_SPEC)} (ResNet depth), got {depth}")
    return RESNET_SPEC[depth]


class ResNet(nn.Layer):
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
        self.maxpool = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)
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


# ------------------------------------------------------------------------------------------- initialisation
def _fill_normal(param: Tensor, std: float) -> None:
    nn.initializer.Normal(mean=0.0, std=std)(param)


def _fill_constant(param: Tensor, value: float) -> None:
    nn.initializer.Constant(value)(param)


def _fill_uniform(param: Tensor, bound: float) -> None:
    nn.initializer.Uniform(low=-bound, high=bound)(param)


def init_normal_(layer: nn.Layer, std: float = 0.001) -> None:
    """HRNet's initialisation: conv / deconv weights ~ N(0, std), biases 0, batch norm weight 1 and bias 0."""
    for m in layer.sublayers(include_self=True):
        if isinstance(m, nn.Conv2D | nn.Conv2DTranspose):
            _fill_normal(m.weight, std)
            if m.bias is not None:
                _fill_constant(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2D):
            _fill_constant(m.weight, 1.0)
            _fill_constant(m.bias, 0.0)


def init_msra_(layer: nn.Layer) -> None:
    """The CPN port's initialisation: conv weights ~ N(0, sqrt(2 / (kh * kw * C_out))), biases 0, BN 1 / 0."""
    for m in layer.sublayers(include_self=True):
        if isinstance(m, nn.Conv2D):
            kh, kw = m.weight.shape[2], m.weight.shape[3]
            _fill_normal(m.weight, math.sqrt(2.0 / (kh * kw * m.weight.shape[0])))
            if m.bias is not None:
                _fill_constant(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2D):
            _fill_constant(m.weight, 1.0)
            _fill_constant(m.bias, 0.0)


def init_torch_default_(layer: nn.Layer) -> None:
    """PyTorch's default initialisation of ``Conv2d``: weights and biases ~ U(±1 / sqrt(fan_in)), BN 1 / 0.

    (``kaiming_uniform_(a=sqrt(5))`` is U(±1/sqrt(fan_in)).) Used where the torch model relies on the default
    (bearpaw's hourglass), so both frameworks start from the same distribution.
    """
    for m in layer.sublayers(include_self=True):
        if isinstance(m, nn.Conv2D):
            fan_in = int(m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3])
            bound = 1.0 / math.sqrt(fan_in)
            _fill_uniform(m.weight, bound)
            if m.bias is not None:
                _fill_uniform(m.bias, bound)
        elif isinstance(m, nn.BatchNorm2D):
            _fill_constant(m.weight, 1.0)
            _fill_constant(m.bias, 0.0)

