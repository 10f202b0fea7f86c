"""Bone maps: the targets of DLCM's composite parts (levels >= 2), as pure array functions.

Dimensions: instance number N, joint number K, parts P of one level, heat map ``(W, H)``. Joints are
``(N, K, 2)`` in input-patch pixels, last axis (x, y).

**What the authors' code does** (``drawLimbMap`` and ``composeMaps`` of the Lua Torch code): a level-2 map
is the pixel-wise maximum of joint Gaussians centred on the integer points of the segment between its two
joints (Bresenham's rasterisation); a level-l map (l >= 3) is the pixel-wise maximum of its children's maps.

**What this spec does** (the choice, listed in the README): the continuous form of the same maximum. The
maximum over every point ``q`` of the segment ``[a, b]`` of ``exp(-|p - q|^2 / (2σ^2))`` is
``exp(-d(p, [a, b])^2 / (2σ^2))`` with ``d`` the Euclidean distance from the pixel ``p`` to the closed
segment, so the bone map of a pixel is

    ``B(p) = exp(-d2(p, [a, b])^2 / (2σ^2))``  where ``d_inf(p, [a, b]) <= 3σ``, else 0,

i.e. the Gaussian of the distance to the segment, cut (as the joint Gaussians are) where the pixel's
Chebyshev distance ``d_inf`` to the segment exceeds 3σ: the support is the union of the ``3σ`` square windows
of the segment's points. With ``a == b`` this is the joint's Gaussian (exactly HRNet's LEGACY table when 3σ is
an integer). Level l >= 3 is the maximum of its children (the authors' ``composeMaps``), which equals the
same formula with ``d`` the distance to the union of the part's segments.

Segment ends in map pixels follow the convention of the joint maps: LEGACY ``int(x / stride + 0.5)`` (the
integer centre of HRNet's joint Gaussian), UNBIASED ``x / stride`` with the UDP stride (sub-pixel).

**Weights** (the targets' ``target_weight`` per part): a level-2 part is drawn, with weight 1, when both its
joints have weight > 0.5 and its map has a pixel on the map; otherwise its map is zero and its weight 0 (the
authors mark it "empty"). A level-l part (l >= 3) has weight 1 when any child has weight > 0.5 (the
authors' rule). Composite weights are 0/1; per-joint weights (``joints_weight``) act on level 1 only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.compositional.hierarchy import Hierarchy
from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.coordinates import heatmap_stride

__all__ = ["bone_map_ends", "compose_maps", "draw_bones", "level_targets", "segment_distances"]


def bone_map_ends(
    joints: ArrayLike,
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """``(N, K, 2)`` input-patch joints -> ``(N, K, 2)`` (x, y) map-pixel positions of the bone ends
    (LEGACY: HRNet's integer centre ``int(x / stride + 0.5)``; UNBIASED: ``x / stride``)."""
    convention = CoordinateConvention(convention)
    j = np.asarray(joints, dtype=np.float64)[..., :2]
    mu = j / heatmap_stride(input_size, heatmap_size, convention)
    return np.trunc(mu + 0.5) if convention is CoordinateConvention.LEGACY else mu


def _safe_div(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    ok = den != 0
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def segment_distances(
    a: NDArray[np.float64], b: NDArray[np.float64], width: int, height: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Squared Euclidean and Chebyshev distances of every pixel to segments.

    Args:
        a, b: ``(..., 2)`` (x, y) segment ends in map pixels (any leading shape S).
        width, height: the map size.

    Returns:
        ``(d2_squared, d_inf)``, each ``(*S, H, W)`` float64; pixel (row y, column x) sits at (x, y).
    """
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    dx, dy = (b[..., 0] - a[..., 0])[..., None, None], (b[..., 1] - a[..., 1])[..., None, None]
    u = np.arange(width, dtype=np.float64) - ax  # (*S, 1, W)
    v = np.arange(height, dtype=np.float64)[:, None] - ay  # (*S, H, 1)
    # Euclidean: project on the segment, clamp to its ends.
    t = np.clip(_safe_div(u * dx + v * dy, dx * dx + dy * dy), 0.0, 1.0)
    d2 = (u - t * dx) ** 2 + (v - t * dy) ** 2
    # Chebyshev: max(|u - t dx|, |v - t dy|) is convex piecewise linear in t; its minimum over [0, 1] is at an
    # end or where the two terms are equal (at a term's own zero the other term is >= 0 = that term, so a
    # zero is a minimum of the maximum only where the terms are equal too).
    candidates = (np.zeros(1), np.ones(1), _safe_div(u - v, dx - dy), _safe_div(u + v, dx + dy))
    d_inf = None
    for c in candidates:
        tc = np.clip(c, 0.0, 1.0)
        f = np.maximum(np.abs(u - tc * dx), np.abs(v - tc * dy))
        d_inf = f if d_inf is None else np.minimum(d_inf, f)
    assert d_inf is not None
    return d2, np.broadcast_to(d_inf, d2.shape)


def draw_bones(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    draw: NDArray[np.bool_],
    width: int,
    height: int,
    sigma: float,
) -> NDArray[np.float32]:
    """Bone maps ``(*S, H, W)`` float32 of segments ``a``-``b`` (``(*S, 2)``), zero where ``draw`` (``S``) is false."""
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    d2, d_inf = segment_distances(a, b, width, height)
    maps = np.where((d_inf <= 3.0 * sigma) & draw[..., None, None], np.exp(-d2 / (2.0 * sigma**2)), 0.0)
    return maps.astype(np.float32)


def compose_maps(maps: NDArray[np.float32], children: Sequence[Sequence[int]]) -> NDArray[np.float32]:
    """``(N, P_below, H, W)`` -> ``(N, P, H, W)``: each part the pixel-wise maximum of its children's maps."""
    return np.stack([maps[:, list(ch)].max(axis=1) for ch in children], axis=1)


def level_targets(
    ends: NDArray[np.float64],
    joint_weight: NDArray[np.float32],
    hierarchy: Hierarchy,
    width: int,
    height: int,
    sigma: float,
) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
    """Maps and 0/1 weights of levels 2 .. L (see the module docstring for the rules).

    Args:
        ends: ``(N, K, 2)`` bone ends in map pixels (:func:`bone_map_ends`).
        joint_weight: ``(N, K)`` the level-1 target weights.
        hierarchy: the levels; ``hierarchy.levels[1]`` holds joint pairs.
        width, height, sigma: the map size and σ of this map.

    Returns:
        ``(maps, weights)``: per level 2 .. L, ``(N, P_l, H, W)`` float32 and ``(N, P_l)`` float32.
    """
    if hierarchy.num_levels < 2:
        return [], []
    pairs = np.asarray(hierarchy.levels[1].children, dtype=np.int64)  # (P2, 2)
    present = joint_weight > 0.5
    draw = present[:, pairs[:, 0]] & present[:, pairs[:, 1]]  # (N, P2)
    maps = draw_bones(ends[:, pairs[:, 0]], ends[:, pairs[:, 1]], draw, width, height, sigma)
    weight = (draw & np.any(maps > 0, axis=(2, 3))).astype(np.float32)
    all_maps, all_weights = [maps], [weight]
    for lv in hierarchy.levels[2:]:
        maps = compose_maps(maps, lv.children)
        weight = np.stack([weight[:, list(ch)].max(axis=1) for ch in lv.children], axis=1)
        all_maps.append(maps)
        all_weights.append((weight > 0.5).astype(np.float32))
    return all_maps, all_weights
