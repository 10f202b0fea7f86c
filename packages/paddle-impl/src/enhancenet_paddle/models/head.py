"""The EnhanceNet head (Sec. 3.1, Fig. 3) in Paddle: L-1 convolutions with ReLU, then an upscaling layer.

``x = [F^LR, M^LR]`` (Eq. 1; or F^LR or M^LR alone), ``f^l = ReLU(conv_l(f^{l-1}))`` for l = 1..L-1 (Eqs. 2-3;
the first kernel ``first_kernel`` (1x1), the others ``kernel``, padding k//2), and the L-th layer (Table 5c):

- ``SUBPIXEL``: ``Conv2D(C, K*r^2, k)`` followed by the periodic shuffle (Eq. 4), :class:`paddle.nn.PixelShuffle`
  (NCHW; the framework order of :mod:`enhancenet_core.pixel_shuffle`, as ``torch.nn.PixelShuffle``);
- ``DECONV``: ``Conv2DTranspose(C, K, k, stride=r)`` with the padding of
  :func:`enhancenet_core.complexity.deconv_padding` so the output is exactly r times larger;
- ``BILINEAR_CONV``: bilinear upsampling by r with ``align_corners=False, align_mode=0`` (the half-pixel rule
  of PyTorch and enhancenet-numpy; Paddle's default ``align_mode=1`` is a different function), then
  ``Conv2D(C, K, k)``.

Sublayer names are those of :class:`enhancenet_torch.models.EnhanceNet`: ``convs.{l}`` and ``upsample``
(``enhance.`` in the full model), so the canonical names of :mod:`enhancenet_core.namemap` apply.

Shuffle order of the sub-pixel layer: the weights are stored in the config's ``shuffle_order``. With
``ShuffleOrder.FRAMEWORK`` (the default) the conv output goes straight into the pixel shuffle. With
``ShuffleOrder.PAPER`` (Eq. 5: channel ``K*r*j + K*i + k`` lands at row ``h*r + i``, column ``w*r + j``) the
conv output is first regrouped into the framework order by one reshape/transpose (no index tensor, so
``Layer.to(dtype=...)`` cannot touch it); both orders give the same heat maps from the same stored weights.
:meth:`EnhanceNet.to_framework_order` folds the permutation into the weights for deployment.
"""

from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import Tensor, nn

from enhancenet_core.architecture import deconv_padding, head_input_channels, subpixel_channels
from enhancenet_core.config import EnhanceNetConfig, validate_head
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.pixel_shuffle import channel_permutation

BILINEAR_ALIGN_MODE = 0
"""``align_mode`` of Paddle's bilinear ``interpolate`` that equals PyTorch's ``align_corners=False`` rule
(source ``(dst + 0.5) / r - 0.5`` clamped at 0)."""


def paper_to_framework_index(num_keypoints: int, upscale: int) -> np.ndarray:
    """Index ``idx`` (K*r^2,) int64 with ``framework_channels = paper_channels[idx]`` (from enhancenet-core)."""
    return channel_permutation(num_keypoints, upscale, ShuffleOrder.PAPER, ShuffleOrder.FRAMEWORK)


def paper_to_framework_channels(x: Tensor, num_keypoints: int, upscale: int) -> Tensor:
    """(N, K*r^2, H, W) in the paper's channel order -> the same tensor in the framework order.

    Paper channel ``c = K*r*j + K*i + k`` i.e. axes ``(j, i, k)``; framework channel ``k*r*r + i*r + j`` i.e.
    axes ``(k, i, j)``: a reshape, one transpose and a reshape.
    """
    r, k = upscale, num_keypoints
    h, w = x.shape[2], x.shape[3]
    t = x.reshape([-1, r, r, k, h, w]).transpose([0, 3, 2, 1, 4, 5])
    return t.reshape([-1, k * r * r, h, w])


class EnhanceNet(nn.Layer):
    """Belief-map enhancement head.

    Args:
        cfg: head configuration (L, C, r, kernels, upsampler, inputs, shuffle order).
        feature_channels: channels C_F of F^LR.
        num_keypoints: K, channels of M^LR and M^HR.

    ``forward(features (N, C_F, h, w), heatmaps (N, K, h, w)) -> M^HR (N, K, r*h, r*w)``.
    """

    def __init__(self, cfg: EnhanceNetConfig, feature_channels: int, num_keypoints: int) -> None:
        super().__init__()
        validate_head(cfg)  # the config's head rules (L >= 2, kernels, upsampler), written once
        if feature_channels < 1 or num_keypoints < 1:
            raise ValueError(
                f"EnhanceNet: feature_channels and num_keypoints must be >= 1, got {feature_channels}, "
                f"{num_keypoints}"
            )
        self.inputs = HeadInput(cfg.inputs)
        self.upsampler = Upsampler(cfg.upsampler)
        self.shuffle_order = ShuffleOrder(cfg.shuffle_order)
        self.upscale = cfg.upscale
        self.num_keypoints = num_keypoints
        c = head_input_channels(self.inputs, feature_channels, num_keypoints)
        convs = []
        for layer in range(cfg.num_layers - 1):
            k = cfg.first_kernel if layer == 0 else cfg.kernel
            convs.append(nn.Conv2D(c, cfg.channels, k, padding=k // 2))
            c = cfg.channels
        self.convs = nn.LayerList(convs)
        k, r = cfg.upsampler_kernel, cfg.upscale
        if self.upsampler is Upsampler.SUBPIXEL:
            self.upsample: nn.Layer = nn.Conv2D(c, subpixel_channels(num_keypoints, r), k, padding=k // 2)
            self.shuffle = nn.PixelShuffle(r)
        elif self.upsampler is Upsampler.DECONV:
            padding, output_padding = deconv_padding(k, r)
            self.upsample = nn.Conv2DTranspose(
                c, num_keypoints, k, stride=r, padding=padding, output_padding=output_padding
            )
        else:
            self.upsample = nn.Conv2D(c, num_keypoints, k, padding=k // 2)
        self.reset_parameters()

    @property
    def permutes(self) -> bool:
        """Whether forward regroups the sub-pixel channels (paper order stored)."""
        return self.upsampler is Upsampler.SUBPIXEL and self.shuffle_order is ShuffleOrder.PAPER

    def reset_parameters(self) -> None:
        """Hidden convs: Kaiming normal (fan_out, ReLU) as the torch head; upscaling layer ~ N(0, 0.001) as
        HRNet's heat-map layers; biases 0."""
        for conv in self.convs:
            fan_out = int(conv.weight.shape[0] * conv.weight.shape[2] * conv.weight.shape[3])
            nn.initializer.Normal(0.0, math.sqrt(2.0 / fan_out))(conv.weight)
            nn.initializer.Constant(0.0)(conv.bias)
        nn.initializer.Normal(0.0, 0.001)(self.upsample.weight)
        nn.initializer.Constant(0.0)(self.upsample.bias)

    def forward(self, features: Tensor | None, heatmaps: Tensor | None) -> Tensor:
        """(F^LR (N, C_F, h, w), M^LR (N, K, h, w)) -> M^HR (N, K, r*h, r*w); an unused input may be None."""
        if self.inputs is HeadInput.BOTH:
            if features is None or heatmaps is None:
                raise ValueError("EnhanceNet with inputs='both' needs both F^LR and M^LR")
            x = paddle.concat([features, heatmaps], axis=1)
        elif self.inputs is HeadInput.FEATURES:
            if features is None:
                raise ValueError("EnhanceNet with inputs='features' needs F^LR")
            x = features
        else:
            if heatmaps is None:
                raise ValueError("EnhanceNet with inputs='heatmaps' needs M^LR")
            x = heatmaps
        for conv in self.convs:
            x = F.relu(conv(x))
        if self.upsampler is Upsampler.SUBPIXEL:
            x = self.upsample(x)
            if self.permutes:
                x = paper_to_framework_channels(x, self.num_keypoints, self.upscale)
            return self.shuffle(x)
        if self.upsampler is Upsampler.BILINEAR_CONV:
            # the output size, not scale_factor: paddle2onnx 2.1 cannot convert a scale attribute; the kernel
            # uses in/out = 1/r as its ratio either way, so the values are the same
            size = [x.shape[2] * self.upscale, x.shape[3] * self.upscale]
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, align_mode=BILINEAR_ALIGN_MODE)
        return self.upsample(x)

    @paddle.no_grad()
    def to_framework_order(self) -> EnhanceNet:
        """Rewrite the sub-pixel weights (and bias) from the paper order into the framework order, in place.

        The heat maps are unchanged; afterwards ``shuffle_order`` is FRAMEWORK and no regrouping runs.
        Returns ``self``. A no-op for other upsamplers or when already in the framework order.
        """
        if not self.permutes:
            return self
        idx = paper_to_framework_index(self.num_keypoints, self.upscale)
        for param in (self.upsample.weight, self.upsample.bias):
            param.set_value(param.numpy()[idx])
        self.shuffle_order = ShuffleOrder.FRAMEWORK
        return self

    def extra_repr(self) -> str:
        return (
            f"inputs={self.inputs.value}, upsampler={self.upsampler.value}, r={self.upscale}, "
            f"shuffle_order={self.shuffle_order.value}"
        )


__all__ = ["BILINEAR_ALIGN_MODE", "EnhanceNet", "paper_to_framework_channels", "paper_to_framework_index"]
