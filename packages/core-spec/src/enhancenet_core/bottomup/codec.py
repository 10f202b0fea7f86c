"""The bottom-up multi-peak scheme as a codec: keypoints -> multi-peak targets (encode), maps -> people (decode).

Same shape as :class:`enhancenet_core.codecs.GaussianHeatmapCodec`: a frozen dataclass that holds the sizes,
σ and settings of one map and calls the pure functions of :mod:`~enhancenet_core.bottomup.targets` and
:mod:`~enhancenet_core.bottomup.grouping`. :func:`multi_peak_codecs` builds the LR (σ) and HR (r × the LR
size, r·σ, Eq. 6; tags still read from the LR tag map) pair.

Dimensions: batch B, person number P, keypoint number K. Keypoints are ``(B, P, K, 3)`` (x, y, visibility) in
input pixels; map pixels are ``input · heatmap_size / input_size`` per axis (pose-ae-train: 512 -> 128).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.bottomup.grouping import Grouping, GroupingParams, group
from enhancenet_core.bottomup.targets import _check_keypoints, _check_size, map_pixels, render_multi_peak

__all__ = ["MultiPeakCodecs", "MultiPeakHeatmapCodec", "MultiPeakTargets", "multi_peak_codecs"]


class MultiPeakTargets(NamedTuple):
    """``heatmaps`` ``(B, K, H, W)`` float32, ``pixels`` ``(B, P, K, 2)`` int64 (x, y) map pixels of the joints,
    ``joint_mask`` ``(B, P, K)`` bool (drawn; the joints the tag loss uses on the LR map)."""

    heatmaps: NDArray[np.float32]
    pixels: NDArray[np.int64]
    joint_mask: NDArray[np.bool_]


@dataclass(frozen=True)
class MultiPeakHeatmapCodec:
    """One multi-peak detection map of the bottom-up scheme.

    Attributes:
        input_size: ``(W_in, H_in)`` of the network input (512 × 512 in pose-ae-train).
        heatmap_size: ``(W, H)`` of this detection map (128 × 128 for M^LR, r·128 for M^HR).
        sigma: Gaussian σ in pixels of this map (2 for M^LR, r·2 for M^HR).
        tag_size: ``(w, h)`` of the tag map the decoder reads (None: ``heatmap_size``).
        params: :class:`GroupingParams` of :meth:`decode`.
    """

    input_size: tuple[int, int] = (512, 512)
    heatmap_size: tuple[int, int] = (128, 128)
    sigma: float = 2.0
    tag_size: tuple[int, int] | None = None
    params: GroupingParams = field(default_factory=GroupingParams)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", _check_size(self.input_size, "input_size"))
        object.__setattr__(self, "heatmap_size", _check_size(self.heatmap_size, "heatmap_size"))
        tag = self.heatmap_size if self.tag_size is None else _check_size(self.tag_size, "tag_size")
        object.__setattr__(self, "tag_size", tag)
        if isinstance(self.sigma, bool) or not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be positive and finite, got {self.sigma!r}")
        (w, h), (tw, th) = self.heatmap_size, tag
        if w % tw or h % th or w // tw != h // th:
            raise ValueError(f"tag_size {tag} must divide heatmap_size {self.heatmap_size} by one integer r")

    @property
    def scale(self) -> tuple[float, float]:
        """Map pixels per input pixel ``(W / W_in, H / H_in)``."""
        return (self.heatmap_size[0] / self.input_size[0], self.heatmap_size[1] / self.input_size[1])

    def to_map(self, keypoints: ArrayLike) -> NDArray[np.float64]:
        """``(B, P, K, 3)`` input-pixel keypoints -> map pixels (visibility kept)."""
        kp = _check_keypoints(keypoints).copy()
        kp[..., 0] *= self.scale[0]
        kp[..., 1] *= self.scale[1]
        return kp

    def encode(self, keypoints: ArrayLike) -> MultiPeakTargets:
        """Multi-peak targets and joint flags of ``(B, P, K, 3)`` input-pixel keypoints
        (:func:`~enhancenet_core.bottomup.targets.render_multi_peak`)."""
        kp = self.to_map(keypoints)
        pixels, drawn = map_pixels(kp, self.heatmap_size)
        return MultiPeakTargets(render_multi_peak(kp, self.heatmap_size, self.sigma), pixels, drawn)

    def decode(self, det: ArrayLike, tag: ArrayLike) -> Grouping:
        """People of one image in map pixels (:func:`~enhancenet_core.bottomup.grouping.group`).

        Args:
            det: ``(K, H, W)`` detection maps of this codec's size.
            tag: ``(K, h, w)`` or ``(K, h, w, T)`` tag maps of ``tag_size``.
        """
        d, t = np.asarray(det), np.asarray(tag)
        w, h = self.heatmap_size
        tw, th = self.tag_size
        if d.ndim != 3 or d.shape[1:] != (h, w):
            raise ValueError(f"det must have shape (K, {h}, {w}) for this codec, got {d.shape}")
        if t.ndim not in (3, 4) or t.shape[1:3] != (th, tw):
            raise ValueError(f"tag must have shape (K, {th}, {tw}[, T]) for this codec, got {t.shape}")
        return group(d, t, self.params)

    def decode_to_input(self, det: ArrayLike, tag: ArrayLike) -> Grouping:
        """:meth:`decode` with the people's (x, y) in input pixels (map pixels / :attr:`scale`)."""
        people, scores = self.decode(det, tag)
        out = people.copy()
        out[..., 0] /= self.scale[0]
        out[..., 1] /= self.scale[1]
        missing = people[..., 2] <= 0
        out[..., :2][missing] = 0.0
        return Grouping(out, scores)


class MultiPeakCodecs(NamedTuple):
    """The LR and HR multi-peak codecs of a bottom-up model."""

    lr: MultiPeakHeatmapCodec
    hr: MultiPeakHeatmapCodec


def multi_peak_codecs(
    input_size: Sequence[int] = (512, 512),
    heatmap_size: Sequence[int] = (128, 128),
    sigma: float = 2.0,
    upscale: int = 4,
    params: GroupingParams | None = None,
) -> MultiPeakCodecs:
    """LR codec (``heatmap_size``, σ) and HR codec (r × ``heatmap_size``, r·σ; tags read from the LR map)."""
    if isinstance(upscale, bool) or int(upscale) != upscale or upscale < 1:
        raise ValueError(f"upscale must be a positive integer, got {upscale!r}")
    r = int(upscale)
    params = GroupingParams() if params is None else params
    w, h = _check_size(heatmap_size)
    lr = MultiPeakHeatmapCodec(tuple(input_size), (w, h), sigma, None, params)
    hr = MultiPeakHeatmapCodec(tuple(input_size), (r * w, r * h), sigma * r, (w, h), params)
    return MultiPeakCodecs(lr, hr)
