"""The EnhanceNet head (Sec. 3.1, Fig. 3): L-1 convolutions with ReLU, then an upscaling layer.

Mirrors :mod:`enhancenet_torch.models.head`. ``x = [F^LR, M^LR]`` (Eq. 1; or F^LR or M^LR alone),
``f^l = ReLU(conv_l(f^{l-1}))`` for l = 1..L-1 (Eqs. 2-3; the first kernel ``first_kernel``, the others
``kernel``, padding k//2), and the L-th layer (Table 5c):

- ``SUBPIXEL``: ``Conv2d(C, K*r^2, k)`` followed by the periodic shuffle (Eq. 4), ``nn.PixelShuffle`` (its
  channel order is ``ShuffleOrder.FRAMEWORK``, checked on every index by the tests);
- ``DECONV``: transposed conv ``(C, K, k, stride=r)`` with the padding of
  :func:`enhancenet_core.complexity.deconv_padding`, through :class:`~enhancenet_mindspore.models.layers.ConvTranspose2d`
  so that the output is exactly r times larger *with PyTorch's output-padding semantics*;
- ``BILINEAR_CONV``: bilinear upsampling by r (half-pixel, ``align_corners=False``), then ``Conv2d(C, K, k)``.

Cell names: ``convs.{l}.weight/bias`` and ``upsample.weight/bias`` (``enhance.`` in the full model).

Shuffle order: with ``ShuffleOrder.PAPER`` the stored weights are used as they are and the conv output channels
are gathered into the framework order (one ``Gather`` with a constant index) before the shuffle, so both orders
give identical heat maps from the same stored weights. :meth:`EnhanceNet.to_framework_order` folds the
permutation into the weights (used for export: one Conv + DepthToSpace).
"""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from enhancenet_core.architecture import deconv_padding, head_input_channels, subpixel_channels
from enhancenet_core.config import EnhanceNetConfig, validate_head
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.pixel_shuffle import channel_permutation
from enhancenet_mindspore.models.layers import ConvTranspose2d, Upsample, conv2d, init_he_fan_out_


def paper_to_framework_index(num_keypoints: int, upscale: int) -> np.ndarray:
    """Index ``idx`` (K*r^2,) int64 with ``framework_channels = paper_channels[idx]`` (from enhancenet-core)."""
    return channel_permutation(num_keypoints, upscale, ShuffleOrder.PAPER, ShuffleOrder.FRAMEWORK)


class EnhanceNet(nn.Cell):
    """Belief-map enhancement head.

    Args:
        cfg: head configuration (L, C, r, kernels, upsampler, inputs, shuffle order).
        feature_channels: channels C_F of F^LR.
        num_keypoints: K, channels of M^LR and M^HR.

    ``construct(features (N, C_F, h, w), heatmaps (N, K, h, w)) -> M^HR (N, K, r*h, r*w)``; the input the
    configuration does not use may be ``None``.
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
        self.use_features = self.inputs in (HeadInput.BOTH, HeadInput.FEATURES)
        self.use_heatmaps = self.inputs in (HeadInput.BOTH, HeadInput.HEATMAPS)
        self.is_subpixel = self.upsampler is Upsampler.SUBPIXEL
        self.is_bilinear = self.upsampler is Upsampler.BILINEAR_CONV
        c = head_input_channels(self.inputs, feature_channels, num_keypoints)
        convs = []
        for layer in range(cfg.num_layers - 1):
            k = cfg.first_kernel if layer == 0 else cfg.kernel
            convs.append(conv2d(c, cfg.channels, k, bias=True))
            c = cfg.channels
        self.num_convs = len(convs)
        if convs:
            self.convs = nn.CellList(convs)
        self.relu = nn.ReLU()
        k, r = cfg.upsampler_kernel, cfg.upscale
        if self.is_subpixel:
            self.upsample = conv2d(c, subpixel_channels(num_keypoints, r), k, bias=True)
            self.shuffle = nn.PixelShuffle(r)
        elif self.upsampler is Upsampler.DECONV:
            padding, output_padding = deconv_padding(k, r)
            self.upsample = ConvTranspose2d(c, num_keypoints, k, stride=r, padding=padding,
                                            output_padding=output_padding, bias=True)
        else:
            self.interpolate = Upsample(r, "bilinear")
            self.upsample = conv2d(c, num_keypoints, k, bias=True)
        self.permute = self.is_subpixel and self.shuffle_order is ShuffleOrder.PAPER
        self.folded = False  # True after to_framework_order() on a paper-order head
        self.paper_to_framework = ms.Tensor(paper_to_framework_index(num_keypoints, r).astype(np.int32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Hidden convs: Kaiming normal (fan_out, ReLU); upscaling layer ~ N(0, 0.001) as HRNet's heat-map
        layers; biases 0."""
        from mindspore.common.initializer import Normal, Zero, initializer

        for i in range(self.num_convs):
            init_he_fan_out_(self.convs[i])
        w, b = self.upsample.weight, self.upsample.bias
        w.set_data(initializer(Normal(sigma=0.001), w.shape, w.dtype))
        b.set_data(initializer(Zero(), b.shape, b.dtype))

    def construct(self, features, heatmaps):
        """(F^LR (N, C_F, h, w), M^LR (N, K, h, w)) -> M^HR (N, K, r*h, r*w)."""
        if self.use_features and self.use_heatmaps:
            x = ops.concat((features, heatmaps), axis=1)
        elif self.use_features:
            x = features
        else:
            x = heatmaps
        for i in range(self.num_convs):
            x = self.relu(self.convs[i](x))
        if self.is_subpixel:
            x = self.upsample(x)
            if self.permute:
                x = ops.gather(x, self.paper_to_framework, 1)
            return self.shuffle(x)
        if self.is_bilinear:
            x = self.interpolate(x)
        return self.upsample(x)

    def to_framework_order(self) -> EnhanceNet:
        """Rewrite the sub-pixel weights (and bias) from the paper order into the framework order, in place.

        The heat maps are unchanged; afterwards ``shuffle_order`` is FRAMEWORK and no permutation runs.
        Returns ``self``. A no-op for other upsamplers or when already in the framework order.
        """
        if not self.permute:
            return self
        idx = paper_to_framework_index(self.num_keypoints, self.upscale)
        for p in (self.upsample.weight, self.upsample.bias):
            p.set_data(ms.Tensor(p.asnumpy()[idx]))
        self.permute = False
        self.folded = True
        self.shuffle_order = ShuffleOrder.FRAMEWORK
        return self

    def to_paper_order(self) -> EnhanceNet:
        """Undo :meth:`to_framework_order` (a no-op unless it folded a paper-order head); exact (a permutation)."""
        if not self.folded:
            return self
        idx = np.argsort(paper_to_framework_index(self.num_keypoints, self.upscale))
        for p in (self.upsample.weight, self.upsample.bias):
            p.set_data(ms.Tensor(p.asnumpy()[idx]))
        self.permute = True
        self.folded = False
        self.shuffle_order = ShuffleOrder.PAPER
        return self


__all__ = ["EnhanceNet", "paper_to_framework_index"]
