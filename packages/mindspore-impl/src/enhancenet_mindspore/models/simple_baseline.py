"""SimpleBaseline (Xiao et al., ECCV 2018): ResNet + stacked stride-2 deconvolutions + a heat-map conv.

Mirrors :mod:`enhancenet_torch.models.simple_baseline`. Cell names are those of HRNet's
``lib/models/pose_resnet.py`` (``PoseResNet``): ``conv1``, ``bn1``, ``layer1..4``, ``deconv_layers.{3i, 3i+1}``
(transposed conv k4 s2 p1 op0 without bias with PyTorch's padding semantics, BatchNorm; ReLU at ``3i+2``) and
``final_layer``.

F^LR is the output of the last deconvolution block (``deconv_channels`` maps at stride 4), M^LR the
``final_layer`` output.
"""

from __future__ import annotations

from mindspore import nn

from enhancenet_core.config import BaseModelConfig
from enhancenet_mindspore.models.layers import ConvTranspose2d, batch_norm, conv2d, init_normal_
from enhancenet_mindspore.models.resnet import ResNet

#: ``deconv kernel -> (padding, output_padding)`` as HRNet's ``_get_deconv_cfg`` (stride 2, size doubles).
DECONV_PADDING: dict[int, tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def _final_padding(kernel: int) -> int:
    if kernel not in (1, 3):
        raise ValueError(f"model.base.final_conv_kernel: expected 1 or 3, got {kernel}")
    return kernel // 2


class SimpleBaseline(ResNet):
    """ResNet-``depth`` -> ``num_deconv_layers`` x (deconv /2, BN, ReLU) -> ``final_layer`` (K heat maps).

    Input (N, 3, H, W); F^LR (N, deconv_channels, H/4, W/4) for 3 deconvolutions; M^LR (N, K, H/4, W/4).
    """

    def __init__(self, cfg: BaseModelConfig, num_keypoints: int) -> None:
        super().__init__(cfg.depth)
        if cfg.deconv_kernel not in DECONV_PADDING:
            raise ValueError(
                f"model.base.deconv_kernel: expected one of {sorted(DECONV_PADDING)}, got {cfg.deconv_kernel}"
            )
        if cfg.num_deconv_layers < 1:
            raise ValueError(f"model.base.num_deconv_layers: expected >= 1, got {cfg.num_deconv_layers}")
        padding, output_padding = DECONV_PADDING[cfg.deconv_kernel]
        layers: list[nn.Cell] = []
        inplanes = self.stage_channels[-1]
        for _ in range(cfg.num_deconv_layers):
            layers += [
                ConvTranspose2d(inplanes, cfg.deconv_channels, cfg.deconv_kernel, stride=2, padding=padding,
                                output_padding=output_padding, bias=False),
                batch_norm(cfg.deconv_channels),
                nn.ReLU(),
            ]
            inplanes = cfg.deconv_channels
        self.deconv_layers = nn.SequentialCell(layers)
        self.final_layer = conv2d(inplanes, num_keypoints, cfg.final_conv_kernel,
                                  padding=_final_padding(cfg.final_conv_kernel), bias=True)
        self.feature_channels = inplanes
        self.num_keypoints = num_keypoints
        init_normal_(self)

    def construct(self, x):
        """Images (N, 3, H, W) -> (F^LR (N, C_F, h, w), M^LR (N, K, h, w))."""
        features = self.deconv_layers(self.forward_features(x)[3])
        return features, self.final_layer(features)


__all__ = ["DECONV_PADDING", "SimpleBaseline"]
