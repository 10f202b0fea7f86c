"""The DLCM target scheme as a codec: joints -> one target per level (joint Gaussians, then bone maps).

Dimensions: instance number N, joint number K, parts P_l of level l, heat map ``(W, H)``.

A :class:`BoneMapCodec` holds the sizes, σ, conventions and the :class:`~enhancenet_core.compositional.
hierarchy.Hierarchy` of M^LR; level 1 is drawn by the same function as every Gaussian joint map
(:func:`enhancenet_core.targets.generate_targets`, so it equals :class:`~enhancenet_core.codecs.
GaussianHeatmapCodec`'s target element for element), levels >= 2 by :mod:`~enhancenet_core.compositional.
bonemaps`. Decoding reads the final level-1 maps (the pose) with the joint codec's decoder.

EnhanceNet enhances the final joint maps only: the HR target is the joint Gaussian at r·σ on the r× map
(:func:`dlcm_codecs` returns it as an ordinary :class:`~enhancenet_core.codecs.GaussianHeatmapCodec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.codecs import GaussianHeatmapCodec, heatmap_codecs
from enhancenet_core.compositional.bonemaps import bone_map_ends, level_targets
from enhancenet_core.compositional.flip import flip_levels
from enhancenet_core.compositional.hierarchy import MPII_HIERARCHY, Hierarchy, out_levels
from enhancenet_core.config import Config
from enhancenet_core.conventions import CoordinateConvention, Decoder, FlipShiftRule
from enhancenet_core.flip import flip_shift
from enhancenet_core.transforms import PIXEL_STD

__all__ = ["BoneMapCodec", "CompositionalTargets", "DlcmCodecs", "dlcm_codecs"]


class CompositionalTargets(NamedTuple):
    """Targets of every level: ``maps[l - 1]`` ``(N, P_l, H, W)`` float32, ``weights[l - 1]`` ``(N, P_l)`` float32."""

    maps: tuple[NDArray[np.float32], ...]
    weights: tuple[NDArray[np.float32], ...]

    def for_stacks(
        self, levels: Sequence[int]
    ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
        """The target and weight of each stack that predicts level ``levels[s]`` (e.g. ``(1, 2, 3, 2, 1)``)."""
        return [self.maps[lv - 1] for lv in levels], [self.weights[lv - 1] for lv in levels]


@dataclass(frozen=True)
class BoneMapCodec:
    """DLCM's M^LR targets of every level, and the decoding and flip test of its outputs.

    Attributes:
        input_size: ``(W_in, H_in)`` of the input patch.
        heatmap_size: ``(W, H)`` of every level's maps.
        sigma: σ in pixels of these maps, for joint Gaussians and bone maps alike (the authors' ``gsize``).
        convention, decoder, flip_shift_rule, pixel_std: as :class:`~enhancenet_core.codecs.GaussianHeatmapCodec`.
        hierarchy: the compositional structure (:data:`~enhancenet_core.compositional.MPII_HIERARCHY`).
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float
    convention: CoordinateConvention
    decoder: Decoder
    flip_shift_rule: FlipShiftRule
    pixel_std: float = PIXEL_STD
    hierarchy: Hierarchy = MPII_HIERARCHY

    def __post_init__(self) -> None:
        codec = self.joint_codec  # validates sizes, σ and the enums once
        for name in ("input_size", "heatmap_size", "convention", "decoder", "flip_shift_rule"):
            object.__setattr__(self, name, getattr(codec, name))
        if not isinstance(self.hierarchy, Hierarchy):
            raise ValueError(f"hierarchy must be a Hierarchy, got {type(self.hierarchy).__name__}")

    @property
    def joint_codec(self) -> GaussianHeatmapCodec:
        """The Gaussian codec of the level-1 (joint) maps of this size and σ."""
        return GaussianHeatmapCodec(
            input_size=self.input_size, heatmap_size=self.heatmap_size, sigma=self.sigma,
            convention=self.convention, decoder=self.decoder, flip_shift_rule=self.flip_shift_rule,
            pixel_std=self.pixel_std,
        )  # fmt: skip

    @property
    def levels(self) -> tuple[int, ...]:
        """The level of each stack's output, bottom-up then top-down: ``(1, 2, 3, 2, 1)`` for three levels."""
        return out_levels(self.hierarchy.num_levels)

    def encode(
        self, joints: ArrayLike, joints_vis: ArrayLike, joints_weight: ArrayLike | None = None
    ) -> CompositionalTargets:
        """Targets of every level (batched and vectorised).

        Args:
            joints: ``(N, K, 2)`` (extra columns ignored) joints in input-patch pixels, (x, y).
            joints_vis: ``(N, K)`` visibility; > 0.5 means drawn.
            joints_weight: optional ``(K,)`` per-joint weights multiplied into the level-1 weights.

        Returns:
            :class:`CompositionalTargets` with ``1 + len(levels above)`` entries (see
            :mod:`~enhancenet_core.compositional.bonemaps` for the bone maps and their weights).
        """
        j = np.asarray(joints)
        k = self.hierarchy.num_parts[0]
        if j.ndim != 3 or j.shape[1] != k:
            raise ValueError(f"joints must have shape (N, {k}, 2) for this hierarchy, got {j.shape}")
        lv1, w1 = self.joint_codec.encode(joints, joints_vis, joints_weight)
        ends = bone_map_ends(j, self.input_size, self.heatmap_size, self.convention)
        # composites follow the visibility-based weight, before any per-joint loss weighting
        vis_weight = w1 if joints_weight is None else self.joint_codec.encode(joints, joints_vis)[1]
        w, h = self.heatmap_size
        maps, weights = level_targets(ends, vis_weight, self.hierarchy, w, h, float(self.sigma))
        return CompositionalTargets((lv1, *maps), (w1, *weights))

    def decode(self, final_joint_maps: ArrayLike) -> tuple[NDArray[np.float64], NDArray]:
        """The pose from the final level-1 maps ``(N, K, H, W)``: ``(N, K, 2)`` input-patch (x, y), ``(N, K, 1)``."""
        return self.joint_codec.decode(final_joint_maps)

    def flip_back(
        self, stack_maps: Sequence[ArrayLike], levels: Sequence[int] | None = None
    ) -> list[NDArray]:
        """Every stack's maps of a flipped patch, flipped back: mirrored, partners of each stack's level
        swapped, shifted right by the joint codec's flip shift (the same shift on every level's maps)."""
        back = flip_levels(stack_maps, self.levels if levels is None else levels, self.hierarchy)
        pixels = self.joint_codec.flip_shift_pixels
        return [flip_shift(m, pixels) for m in back] if pixels else back


class DlcmCodecs(NamedTuple):
    """``lr``: the per-level codec of M^LR; ``hr``: the joint Gaussian of M^HR (r× size, r·σ)."""

    lr: BoneMapCodec
    hr: GaussianHeatmapCodec


def dlcm_codecs(cfg: Config, hierarchy: Hierarchy = MPII_HIERARCHY) -> DlcmCodecs:
    """The DLCM codecs of an experiment: the same sizes, σ, r·σ and conventions as
    :func:`enhancenet_core.codecs.heatmap_codecs` (which derives them), with the LR maps per level."""
    joint = heatmap_codecs(cfg)
    lr = joint.lr
    # fmt: off
    return DlcmCodecs(
        lr=BoneMapCodec(
            input_size=lr.input_size, heatmap_size=lr.heatmap_size, sigma=lr.sigma, convention=lr.convention,
            decoder=lr.decoder, flip_shift_rule=lr.flip_shift_rule, pixel_std=lr.pixel_std, hierarchy=hierarchy,
        ),
        hr=joint.hr,
    )
    # fmt: on
