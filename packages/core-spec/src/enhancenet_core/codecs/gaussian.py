"""The Gaussian top-down heat-map scheme (HRNet / SimpleBaseline, and EnhanceNet's M^HR at r·σ, Eq. 6).

Dimensions: instance number N, keypoint number K, heat map ``(W, H)`` (M^LR, or M^HR of size ``(r·W, r·H)``).
Joints and keypoints are ``(N, K, 2)`` with the last axis (x, y) in input-patch pixels unless a method says
image pixels; scores are ``(N, K, 1)``; maps are ``(N, K, H, W)``.

A :class:`GaussianHeatmapCodec` only holds the sizes, σ and the conventions of one map; the work is done by the
pure functions it calls: :func:`enhancenet_core.targets.generate_targets` (encode),
:func:`enhancenet_core.decoders.decode_heatmaps` / :func:`~enhancenet_core.decoders.get_final_preds` (decode),
:func:`enhancenet_core.flip.flip_back` / :func:`~enhancenet_core.flip.flip_shift` with
:func:`enhancenet_core.coordinates.flip_shift_pixels` (flip test). The encoder and its decoder sit side by side,
so the convention that draws a target is the one that reads it back.

:func:`heatmap_codecs` is the one place that turns the config into heat-map numbers: the map sizes (the model's
output geometry, ``ModelConfig.heatmap_size`` / ``hr_heatmap_size``), the HR σ (r·σ, Eq. 6), the decoder actually
used (``test.decoder``, or plain argmax when ``test.post_process`` is false) and the flip-shift rule
(``test.flip_shift``); each codec derives its stride and flip shift from its own sizes, never from a tensor's
shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.config import Config, ModelConfig, TargetConfig
from enhancenet_core.conventions import CoordinateConvention, Decoder, FlipShiftRule
from enhancenet_core.coordinates import flip_shift_pixels, heatmap_stride, heatmap_to_input
from enhancenet_core.decoders import decode_heatmaps, get_final_preds
from enhancenet_core.flip import flip_back, flip_shift
from enhancenet_core.targets import generate_targets
from enhancenet_core.transforms import PIXEL_STD

__all__ = ["GaussianHeatmapCodec", "HeatmapCodecs", "generate_lr_hr_targets", "heatmap_codecs"]


def _size(value: Sequence[int], name: str) -> tuple[int, int]:
    arr = tuple(value)
    if len(arr) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in arr):
        raise ValueError(f"{name} must be a (width, height) pair of positive integers, got {value!r}")
    return (int(arr[0]), int(arr[1]))


@dataclass(frozen=True)
class GaussianHeatmapCodec:
    """One Gaussian heat map of the top-down scheme: joints <-> ``(N, K, H, W)`` maps of one size.

    Attributes:
        input_size: ``(W_in, H_in)`` of the input patch.
        heatmap_size: ``(W, H)`` of the maps this codec writes and reads.
        sigma: Gaussian σ in pixels of *these* maps (σ for M^LR, r·σ for M^HR); also sets the DARK /
            UNBIASED decoders' blur kernel.
        convention: grid alignment (:class:`CoordinateConvention`, see :mod:`enhancenet_core.coordinates`).
        decoder: the decoder :meth:`decode` uses (:class:`Decoder`).
        flip_shift_rule: how the flipped-back map is shifted in the flip test (:class:`FlipShiftRule`).
        pixel_std: HRNet's scale unit, for :meth:`decode_to_image`.
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float
    convention: CoordinateConvention
    decoder: Decoder
    flip_shift_rule: FlipShiftRule
    pixel_std: float = PIXEL_STD

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", _size(self.input_size, "input_size"))
        object.__setattr__(self, "heatmap_size", _size(self.heatmap_size, "heatmap_size"))
        object.__setattr__(self, "convention", CoordinateConvention(self.convention))
        object.__setattr__(self, "decoder", Decoder(self.decoder))
        object.__setattr__(self, "flip_shift_rule", FlipShiftRule(self.flip_shift_rule))
        if isinstance(self.sigma, bool) or not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be positive and finite, got {self.sigma!r}")
        if isinstance(self.pixel_std, bool) or not (math.isfinite(self.pixel_std) and self.pixel_std > 0):
            raise ValueError(f"pixel_std must be positive and finite, got {self.pixel_std!r}")
        heatmap_stride(self.input_size, self.heatmap_size, self.convention)  # sizes valid for the convention

    # ------------------------------------------------------------------------------------------- geometry
    @property
    def stride(self) -> tuple[float, float]:
        """Input pixels per heat-map pixel ``(s_x, s_y)`` in this codec's convention."""
        s = heatmap_stride(self.input_size, self.heatmap_size, self.convention)
        return (float(s[0]), float(s[1]))

    @property
    def flip_shift_pixels(self) -> float:
        """Pixels of this map the flipped-back map is shifted right in the flip test
        (:func:`enhancenet_core.coordinates.flip_shift_pixels` for this map's stride and rule)."""
        return flip_shift_pixels(self.convention, self.input_size, self.heatmap_size, self.flip_shift_rule)

    def _maps(self, heatmaps: ArrayLike) -> NDArray:
        hm = np.asarray(heatmaps)
        w, h = self.heatmap_size
        if hm.ndim != 4 or hm.shape[2:] != (h, w):
            raise ValueError(f"heatmaps must have shape (N, K, {h}, {w}) for this codec, got {hm.shape}")
        return hm

    # ------------------------------------------------------------------------------------------- encode
    def encode(
        self, joints: ArrayLike, joints_vis: ArrayLike, joints_weight: ArrayLike | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Gaussian targets of the joints (:func:`enhancenet_core.targets.generate_targets`).

        Args:
            joints: ``(N, K, 2)`` (extra columns ignored) joints in input-patch pixels, (x, y).
            joints_vis: ``(N, K)`` visibility; > 0.5 means drawn.
            joints_weight: optional ``(K,)`` per-keypoint weights multiplied into the target weights.

        Returns:
            ``target`` ``(N, K, H, W)`` float32 and ``target_weight`` ``(N, K)`` float32.
        """
        return generate_targets(
            joints, joints_vis, self.input_size, self.heatmap_size, self.sigma, self.convention,
            joints_weight is not None, joints_weight,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------- decode
    def decode_on_map(self, heatmaps: ArrayLike) -> tuple[NDArray[np.float64], NDArray]:
        """``(N, K, H, W)`` maps -> ``(N, K, 2)`` (x, y) heat-map pixels and ``(N, K, 1)`` scores (map maxima)."""
        return decode_heatmaps(self._maps(heatmaps), self.decoder, self.convention, sigma=self.sigma)

    def decode(self, heatmaps: ArrayLike) -> tuple[NDArray[np.float64], NDArray]:
        """``(N, K, H, W)`` maps -> ``(N, K, 2)`` (x, y) input-patch pixels and ``(N, K, 1)`` scores."""
        coords, maxvals = self.decode_on_map(heatmaps)
        return heatmap_to_input(coords, self.input_size, self.heatmap_size, self.convention), maxvals

    def decode_to_image(
        self, heatmaps: ArrayLike, center: ArrayLike, scale: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray]:
        """``(N, K, H, W)`` maps -> ``(N, K, 2)`` (x, y) image pixels and ``(N, K, 1)`` scores, through the crop's
        ``center`` ``(N, 2)`` and ``scale`` ``(N, 2)`` (:func:`enhancenet_core.decoders.get_final_preds`)."""
        return get_final_preds(
            self._maps(heatmaps), center, scale, self.decoder, self.convention, self.input_size, sigma=self.sigma,
            pixel_std=self.pixel_std,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------- flip test
    def flip_back(self, heatmaps: ArrayLike, flip_pairs: Sequence[Sequence[int]]) -> NDArray:
        """Maps of a horizontally flipped patch, flipped back: mirrored, each left/right pair of ``flip_pairs``
        swapped, then shifted right by :attr:`flip_shift_pixels` (a new ``(N, K, H, W)`` array)."""
        back = flip_back(self._maps(heatmaps), flip_pairs)
        pixels = self.flip_shift_pixels
        return flip_shift(back, pixels) if pixels else back


class HeatmapCodecs(NamedTuple):
    """The codecs of the two maps of a model: ``lr`` (M^LR, σ) and ``hr`` (M^HR, r × the LR size, r·σ)."""

    lr: GaussianHeatmapCodec
    hr: GaussianHeatmapCodec

    def of(self, key: str) -> GaussianHeatmapCodec:
        """The codec of the map named ``key`` (``"lr"`` or ``"hr"``, the keys of a model's output)."""
        if key == "lr":
            return self.lr
        if key == "hr":
            return self.hr
        raise ValueError(f"heat map key must be 'lr' or 'hr', got {key!r}")


def heatmap_codecs(cfg: Config) -> HeatmapCodecs:
    """The LR and HR codecs of an experiment (the only place these numbers are derived from the config).

    Reads ``model.input_size``, the model's map sizes ``model.heatmap_size`` (input / ``model.heatmap_stride``) and
    ``model.hr_heatmap_size`` (r × that), ``model.head.upscale`` (r, for σ_HR = r·σ), ``target.sigma`` and
    ``target.convention``, ``test.decoder`` and ``test.post_process`` (false: plain
    argmax, HRNet's switch), ``test.flip_shift`` and ``data.pixel_std``. The HR codec exists whether or not the
    head is enabled (``model.head.enabled`` says whether the model produces M^HR).
    """
    model, target, test = cfg.model, cfg.target, cfg.test
    decoder = Decoder(test.decoder) if test.post_process else Decoder.ARGMAX
    common = dict(
        input_size=model.input_size, convention=target.convention, decoder=decoder,
        flip_shift_rule=test.flip_shift, pixel_std=cfg.data.pixel_std,
    )  # fmt: skip
    return HeatmapCodecs(
        lr=GaussianHeatmapCodec(heatmap_size=model.heatmap_size, sigma=target.sigma, **common),
        hr=GaussianHeatmapCodec(
            heatmap_size=model.hr_heatmap_size, sigma=target.sigma * model.head.upscale, **common  # Eq. 6: r·σ
        ),
    )


def generate_lr_hr_targets(
    joints: ArrayLike,
    joints_vis: ArrayLike,
    model_cfg: ModelConfig,
    target_cfg: TargetConfig,
    joints_weight: ArrayLike | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Targets for M^LR (σ) and M^HR (r × the LR size, r·σ; Eq. 6) from the model and target configs.

    Args:
        joints: ``(N, K, 2)`` input-patch pixels, (x, y).
        joints_vis: ``(N, K)``.
        model_cfg: ``input_size``, ``heatmap_stride`` and r = ``head.upscale``.
        target_cfg: σ and the convention.
        joints_weight: optional ``(K,)`` per-keypoint weights multiplied into both weights.

    Returns:
        ``(lr (N, K, H, W), lr_weight (N, K), hr (N, K, rH, rW), hr_weight (N, K))``, all float32.
    """
    codecs = heatmap_codecs(Config(model=model_cfg, target=target_cfg))
    lr, lr_w = codecs.lr.encode(joints, joints_vis, joints_weight)
    hr, hr_w = codecs.hr.encode(joints, joints_vis, joints_weight)
    return lr, lr_w, hr, hr_w
