"""Flip test: flip predicted heat maps back and correct the LEGACY misalignment (HRNet ``flip_back`` + shift).

Dimensions: ``(N, K, H, W)``. The shift amount comes from :func:`enhancenet_core.coordinates.flip_shift_pixels`
(convention and the map's own stride: ``(s - 1)/s`` map pixels in LEGACY, 0 in UNBIASED; HRNet's 1 on LR maps
with ``FlipShiftRule.HRNET``); see the derivation in :mod:`enhancenet_core.coordinates`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["flip_back", "flip_shift"]


def flip_back(heatmaps: ArrayLike, flip_pairs: Sequence[Sequence[int]]) -> NDArray:
    """Mirror ``(N, K, H, W)`` maps left-right and swap the channels of each left/right pair (a new array)."""
    hm = np.asarray(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, H, W), got {hm.shape}")
    k = hm.shape[1]
    perm = np.arange(k)
    for pair in flip_pairs:
        a, b = int(pair[0]), int(pair[1])
        if not (0 <= a < k and 0 <= b < k):
            raise ValueError(f"flip_pairs entry {tuple(pair)} out of range for K={k}")
        perm[a], perm[b] = b, a
    return hm[:, perm, :, ::-1].copy()


def flip_shift(heatmaps: ArrayLike, pixels: float) -> NDArray:
    """Shift maps ``pixels`` columns to the right: ``out[..., x] = in[..., x - pixels]`` (a new array).

    HRNet semantics at the edge: columns that would read before column 0 read column 0 (for ``pixels = 1``
    this is HRNet's ``flipped[..., 1:] = flipped[..., :-1]``, column 0 duplicated, not zeroed). A negative
    ``pixels`` shifts left with the last column duplicated. A fractional shift is linear interpolation
    between the two neighbouring columns of ``x - pixels`` (clamped to ``[0, W - 1]``); an integer shift is
    an exact copy.

    Args:
        heatmaps: ``(N, K, H, W)`` (any leading shape; the last axis is x).
        pixels: shift in pixels of this map (e.g. ``flip_shift_pixels(...)``).
    """
    hm = np.asarray(heatmaps)
    if hm.ndim < 1 or hm.shape[-1] < 1:
        raise ValueError(f"heatmaps must have a last (x) axis of size >= 1, got {hm.shape}")
    if not np.isfinite(pixels):
        raise ValueError(f"pixels must be finite, got {pixels!r}")
    w = hm.shape[-1]
    src = np.arange(w, dtype=np.float64) - float(pixels)
    src = np.clip(src, 0.0, w - 1.0)
    lo = np.floor(src).astype(np.int64)
    frac = src - lo
    if not np.any(frac):
        return hm[..., lo].copy()
    hi = np.minimum(lo + 1, w - 1)
    out = hm[..., lo] * (1.0 - frac) + hm[..., hi] * frac
    return out.astype(hm.dtype, copy=False)
