"""The EnhanceNet head (Sec. 3.1, Fig. 3): L-1 convolutions with ReLU, then an upscaling layer.

``x = [F^LR, M^LR]`` (Eq. 1; or F^LR or M^LR alone), ``f^l = ReLU(conv_l(f^{l-1}))`` for l = 1..L-1 (Eqs. 2-3;
the first kernel is 1x1, the others ``kernel``, padding k//2), and the L-th layer (Table 5c):

- ``SUBPIXEL``: ``Conv2d(C, K*r^2, k)`` followed by the periodic shuffle (Eq. 4), :class:`torch.nn.PixelShuffle`;
- ``DECONV``: ``ConvTranspose2d(C, K, k, stride=r)`` with the padding of
  :func:`enhancenet_core.complexity.deconv_padding` so the output is exactly r times larger;
- ``BILINEAR_CONV``: bilinear upsampling by r (``align_corners=False``), then ``Conv2d(C, K, k)``.

Canonical names: ``convs.{l}.weight/bias`` and ``upsample.weight/bias`` (``enhance.`` in the full model).

Shuffle order of the sub-pixel layer. The weights are stored in the config's ``shuffle_order``. With
``ShuffleOrder.FRAMEWORK`` (the default) the conv output goes straight into ``pixel_shuffle``. With
``ShuffleOrder.PAPER`` (Eq. 5) the stored weights are used as they are and the conv output channels are
permuted into the framework order (one ``index_select`` with a fixed, non-persistent index) before the
shuffle; both orders therefore give identical heat maps from the same stored weights, and the checkpoint
is never rewritten. For deployment, :meth:`EnhanceNet.to_framework_order` folds the permutation into the
weights once (the exported graph is then one Conv + DepthToSpace).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from enhancenet_core.architecture import deconv_padding, head_input_channels, subpixel_channels
from enhancenet_core.config import EnhanceNetConfig, validate_head
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.pixel_shuffle import channel_permutation


def paper_to_framework_index(num_keypoints: int, upscale: int) -> Tensor:
    """Index ``idx`` (K*r^2,) with ``framework_channels = paper_channels[idx]``.

    Framework order (``pixel_shuffle``): channel ``k*r*r + i*r + j`` goes to output row ``h*r + i``, column
    ``w*r + j``; the paper's order (Eq. 5) puts channel ``K*r*j + K*i + k`` there (x the row, y the column, as
    :mod:`enhancenet_core.pixel_shuffle` defines it; the permutation comes from there).
    """
    perm = channel_permutation(num_keypoints, upscale, ShuffleOrder.PAPER, ShuffleOrder.FRAMEWORK)
    return torch.as_tensor(perm, dtype=torch.long)


class EnhanceNet(nn.Module):
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
            convs.append(nn.Conv2d(c, cfg.channels, k, padding=k // 2))
            c = cfg.channels
        self.convs = nn.ModuleList(convs)
        k, r = cfg.upsampler_kernel, cfg.upscale
        if self.upsampler is Upsampler.SUBPIXEL:
            self.upsample: nn.Module = nn.Conv2d(c, subpixel_channels(num_keypoints, r), k, padding=k // 2)
            self.shuffle = nn.PixelShuffle(r)
        elif self.upsampler is Upsampler.DECONV:
            padding, output_padding = deconv_padding(k, r)
            self.upsample = nn.ConvTranspose2d(
                c, num_keypoints, k, stride=r, padding=padding, output_padding=output_padding
            )
        else:
            self.upsample = nn.Conv2d(c, num_keypoints, k, padding=k // 2)
        permute = self.upsampler is Upsampler.SUBPIXEL and self.shuffle_order is ShuffleOrder.PAPER
        self.register_buffer(
            "paper_to_framework", paper_to_framework_index(num_keypoints, r) if permute else None, persistent=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Hidden convs: Kaiming normal (fan_out, ReLU); upscaling layer ~ N(0, 0.001) as HRNet's heat-map
        layers; biases 0."""
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.upsample.weight, std=0.001)
        nn.init.zeros_(self.upsample.bias)

    def forward(self, features: Tensor | None, heatmaps: Tensor | None) -> Tensor:
        """(F^LR (N, C_F, h, w), M^LR (N, K, h, w)) -> M^HR (N, K, r*h, r*w); an unused input may be None."""
        if self.inputs is HeadInput.BOTH:
            if features is None or heatmaps is None:
                raise ValueError("EnhanceNet with inputs='both' needs both F^LR and M^LR")
            x = torch.cat([features, heatmaps], dim=1)
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
            if self.paper_to_framework is not None:
                x = x.index_select(1, self.paper_to_framework)
            return self.shuffle(x)
        if self.upsampler is Upsampler.BILINEAR_CONV:
            x = F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)
        return self.upsample(x)

    @torch.no_grad()
    def to_framework_order(self) -> EnhanceNet:
        """Rewrite the sub-pixel weights (and bias) from the paper order into the framework order, in place.

        The heat maps are unchanged; afterwards ``shuffle_order`` is FRAMEWORK and no permutation runs.
        Returns ``self``. A no-op for other upsamplers or when already in the framework order.
        """
        if self.paper_to_framework is None:
            return self
        idx = self.paper_to_framework
        self.upsample.weight.copy_(self.upsample.weight.index_select(0, idx))
        self.upsample.bias.copy_(self.upsample.bias.index_select(0, idx))
        self.paper_to_framework = None
        self.shuffle_order = ShuffleOrder.FRAMEWORK
        return self

    def extra_repr(self) -> str:
        return (
            f"inputs={self.inputs.value}, upsampler={self.upsampler.value}, r={self.upscale}, "
            f"shuffle_order={self.shuffle_order.value}"
        )



__all__ = ["EnhanceNet", "paper_to_framework_index"]
