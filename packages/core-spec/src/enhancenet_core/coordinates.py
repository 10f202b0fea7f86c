"""How the input patch, the LR heat map (stride s) and the HR heat map (stride s/r) align.

This is the one written-down definition; every other module (targets, decoders, flip test) calls it.

Pixel centres. On every grid (input patch ``W_in x H_in``, heat map ``W_hm x H_hm`` of any size, LR or HR),
pixel index ``i`` has its centre at the continuous coordinate ``i``; pixel ``i`` covers ``[i - 0.5, i + 0.5)``.
Coordinates are ``(x, y)`` = (column, row). Each axis is mapped on its own, with its own stride.

==========================  =================================  =====================================
quantity                    LEGACY (HRNet / SimpleBaseline)    UNBIASED (UDP, pixel-centre aligned)
==========================  =================================  =====================================
stride ``s_x`` (x axis)     ``W_in / W_hm``                    ``(W_in - 1) / (W_hm - 1)``
stride ``s_y`` (y axis)     ``H_in / H_hm``                    ``(H_in - 1) / (H_hm - 1)``
input -> heat map           ``x_hm = x_in / s_x``              ``x_hm = x_in / s_x``
heat map -> input           ``x_in = x_hm * s_x``              ``x_in = x_hm * s_x``
heat-map pixel ``i`` sits   input coordinate ``i * s``         input coordinate ``i * s``
                            (the first input pixel of its      (first and last pixel centres of
                            ``s x s`` block, not the block     both grids coincide:
                            centre ``i*s + (s-1)/2``)          ``0 <-> 0``, ``W_hm-1 <-> W_in-1``)
Gaussian target centre      integer ``int(x_hm + 0.5)``        real-valued ``x_hm`` (sub-pixel)
horizontal flip of grid     not consistent: flipping the       consistent: ``x_in -> W_in-1-x_in``
                            input (``W_in-1-x``) and flipping  is ``x_hm -> W_hm-1-x_hm``
                            the map back leaves the map
                            ``(s_x - 1) / s_x`` px to the left
flip-test shift (map px)    ``(s_x - 1) / s_x`` (exact)        ``0``
                            HRNet uses 1 (= exact, rounded)
==========================  =================================  =====================================

The difference between the conventions for the same input point is
``x_hm^LEGACY - x_hm^UNBIASED = x_in * (W_hm / W_in - (W_hm - 1) / (W_in - 1))``: zero at ``x_in = 0``, and
``(W_in - W_hm) / W_in`` heat-map pixels at ``x_in = W_in - 1`` (0.75 px for 192 -> 48).

DARKPOSE (DarkPose's code). DarkPose crops the image to the patch and to the heat map with its own affine
(:func:`enhancenet_core.transforms.get_affine_transforms`: grid centre ``((W - 1)/2, (H - 1)/2)`` <-> crop centre,
zoom ``(W - 1) / (w·pixel_std - 1)`` taken from the widths for both axes), so patch and heat map are related by
one stride ``s = (W_in - 1) / (W_hm - 1)`` on both axes about their centres: ``x_in = s·x_hm`` (as UNBIASED) and
``y_in = s·y_hm + o_y`` with ``o_y = (H_in - 1)/2 - s·(H_hm - 1)/2`` (:func:`heatmap_origin`; -0.51 px for
256x192 -> 64x48, 0 when ``(H - 1)/(W - 1)`` is the same on both grids). Targets are sub-pixel Gaussians, the flip
test needs no shift (``x_in -> W_in-1-x_in`` is ``x_hm -> W_hm-1-x_hm``). Composing heat map -> patch -> image
gives exactly DarkPose's ``transform_preds(coords, center, scale, heatmap_size)``.

LR <-> HR. Both maps are tied to the input patch by their own stride: ``s`` for M^LR and, for an HR map of
``r`` times the LR size, ``s / r`` (LEGACY) or ``(W_in - 1) / (r * W_lr - 1)`` (UNBIASED). A point moves from
one map to the other through input coordinates (:func:`heatmap_to_heatmap`).

Flip-test shift (derivation, LEGACY). Flip the patch: ``x' = W_in - 1 - x``. A network trained on LEGACY targets
puts the peak at ``x'/s``. Flipping the map back sends column ``j`` to ``W_hm - 1 - j``, so the peak lands at
``W_hm - 1 - (W_in - 1 - x)/s = x/s - (s - 1)/s``: the flipped-back map is ``(s - 1)/s`` heat-map pixels
(``s - 1`` input pixels) left of the unflipped one. HRNet shifts it right by 1 pixel at ``s = 4`` (exact value
0.75, rounded). On an HR map of stride ``s/r`` the same derivation gives ``(s/r - 1)/(s/r)`` HR pixels: 0.5 at
``s/r = 2`` and 0 at ``s/r = 1`` (r = s = 4), *not* ``r`` HR pixels (HRNet's one LR pixel carried over would
move the HR peak by ``s`` input pixels). UNBIASED needs no shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import CoordinateConvention, FlipShiftRule

__all__ = [
    "FlipShiftRule",
    "flip_shift_pixels",
    "heatmap_origin",
    "heatmap_stride",
    "heatmap_to_heatmap",
    "heatmap_to_input",
    "input_to_heatmap",
]


def _pair(size: Sequence[float] | ArrayLike, name: str, minimum: float) -> NDArray[np.float64]:
    arr = np.asarray(size, dtype=np.float64).reshape(-1)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr < minimum):
        raise ValueError(f"{name} must be a (width, height) pair with both entries >= {minimum}, got {size!r}")
    return arr


def heatmap_stride(
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """Input pixels per heat-map pixel, per axis.

    Args:
        input_size: ``(W_in, H_in)`` of the input patch.
        heatmap_size: ``(W_hm, H_hm)`` of the heat map (LR or HR).
        convention: LEGACY: ``W_in / W_hm``; UNBIASED: ``(W_in - 1) / (W_hm - 1)`` per axis; DARKPOSE:
            ``(W_in - 1) / (W_hm - 1)`` on both axes (the widths set DarkPose's zoom).

    Returns:
        ``(2,)`` float64 ``(s_x, s_y)``.
    """
    convention = CoordinateConvention(convention)
    size_in = _pair(input_size, "input_size", 1)
    if convention is CoordinateConvention.LEGACY:
        size_hm = _pair(heatmap_size, "heatmap_size", 1)
        return size_in / size_hm
    size_hm = _pair(heatmap_size, "heatmap_size", 2)  # (W-1) must be positive
    if np.any(size_in < 2):
        raise ValueError(f"input_size must be at least 2 pixels per axis for {convention.name}, got {input_size!r}")
    stride = (size_in - 1.0) / (size_hm - 1.0)
    if convention is CoordinateConvention.DARKPOSE:
        return np.full(2, stride[0])
    return stride


def heatmap_origin(
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """Input-patch coordinates of heat-map pixel ``(0, 0)``: ``x_in = x_hm * s + origin``.

    ``(0, 0)`` for LEGACY and UNBIASED; for DARKPOSE ``(W_in - 1)/2 - s·(W_hm - 1)/2`` per axis (0 on x; see the
    module docstring).

    Returns:
        ``(2,)`` float64 ``(o_x, o_y)``.
    """
    convention = CoordinateConvention(convention)
    stride = heatmap_stride(input_size, heatmap_size, convention)
    if convention is not CoordinateConvention.DARKPOSE:
        return np.zeros(2)
    size_in = np.asarray(input_size, dtype=np.float64).reshape(-1)
    size_hm = np.asarray(heatmap_size, dtype=np.float64).reshape(-1)
    origin = (size_in - 1.0) * 0.5 - stride * (size_hm - 1.0) * 0.5
    origin[0] = 0.0  # exactly: the stride is taken from the widths
    return origin


def input_to_heatmap(
    xy: ArrayLike,
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """Input-patch pixel coordinates -> heat-map pixel coordinates (``x_hm = (x_in - origin) / s``).

    Args:
        xy: ``(..., 2)`` points, last axis (x, y), input-patch pixels.
        input_size, heatmap_size: ``(W, H)``.
        convention: see the module table.

    Returns:
        ``(..., 2)`` float64 heat-map coordinates (real-valued; no rounding).
    """
    pts = np.asarray(xy, dtype=np.float64)
    if pts.shape[-1:] != (2,):
        raise ValueError(f"xy must have last axis (x, y) of size 2, got shape {pts.shape}")
    origin = heatmap_origin(input_size, heatmap_size, convention)
    return (pts - origin) / heatmap_stride(input_size, heatmap_size, convention)


def heatmap_to_input(
    xy: ArrayLike,
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """Heat-map pixel coordinates -> input-patch pixel coordinates (``x_in = x_hm * s + origin``,
    :func:`heatmap_origin`: 0 except on y for DARKPOSE).

    Args:
        xy: ``(..., 2)`` points, last axis (x, y), heat-map pixels.

    Returns:
        ``(..., 2)`` float64 input-patch coordinates.
    """
    pts = np.asarray(xy, dtype=np.float64)
    if pts.shape[-1:] != (2,):
        raise ValueError(f"xy must have last axis (x, y) of size 2, got shape {pts.shape}")
    origin = heatmap_origin(input_size, heatmap_size, convention)
    return pts * heatmap_stride(input_size, heatmap_size, convention) + origin


def heatmap_to_heatmap(
    xy: ArrayLike,
    input_size: Sequence[int],
    src_size: Sequence[int],
    dst_size: Sequence[int],
    convention: CoordinateConvention,
) -> NDArray[np.float64]:
    """Move ``(..., 2)`` points between two heat maps of the same patch (e.g. M^LR -> M^HR) via the input."""
    return input_to_heatmap(heatmap_to_input(xy, input_size, src_size, convention), input_size, dst_size, convention)


def flip_shift_pixels(
    convention: CoordinateConvention,
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    rule: FlipShiftRule,
) -> float:
    """Heat-map pixels to shift a flipped-back map to the right in the flip test (see the module docstring).

    Args:
        convention: LEGACY -> ``(s_x - 1) / s_x`` (``rule=EXACT``), that rounded half up (``rule=HRNET``) or 0
            (``rule=NONE``); UNBIASED and DARKPOSE -> 0.
        input_size: ``(W_in, H_in)`` of the input patch.
        heatmap_size: ``(W_hm, H_hm)`` of the map being flipped (LR or HR).
        rule: :class:`~enhancenet_core.conventions.FlipShiftRule` (re-exported here). No default here: the
            one default is the config's ``test.flip_shift`` (EXACT), which reaches this function through the
            codecs (:func:`enhancenet_core.codecs.heatmap_codecs`).

    Returns:
        The shift in pixels of this map (x axis); ``>= 0`` whenever the map is not larger than the input.
    """
    convention = CoordinateConvention(convention)
    rule = FlipShiftRule(rule)
    if convention is not CoordinateConvention.LEGACY or rule is FlipShiftRule.NONE:
        heatmap_stride(input_size, heatmap_size, convention)  # validate sizes
        return 0.0
    s_x = float(heatmap_stride(input_size, heatmap_size, convention)[0])
    exact = (s_x - 1.0) / s_x
    if rule is FlipShiftRule.EXACT:
        return exact
    return float(math.floor(exact + 0.5))
