"""Flip of compositional maps: mirror left-right and swap the partners of the maps' level.

Dimensions: ``(N, P_l, H, W)`` per stack, ``levels[s]`` the level of stack ``s``. The authors' flip test
(``shuffleLR`` then ``flip`` on every output, averaged with the unflipped one) and flip augmentation swap the
partners of each output's own level; so does :func:`flip_levels`. The LEGACY shift of the flip test is the
codec's business (:meth:`enhancenet_core.compositional.BoneMapCodec.flip_back`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.compositional.hierarchy import Hierarchy

__all__ = ["flip_levels", "swap_partners"]


def swap_partners(maps: ArrayLike, level: int, hierarchy: Hierarchy) -> NDArray:
    """``(N, P_l, ...)`` -> the same with the channels of each partner pair of ``level`` swapped (a new array)."""
    m = np.asarray(maps)
    lv = hierarchy.level(level)
    if m.ndim < 2 or m.shape[1] != lv.num_parts:
        raise ValueError(f"maps of level {level} must have shape (N, {lv.num_parts}, ...), got {m.shape}")
    return m[:, lv.permutation()].copy()


def flip_levels(maps: Sequence[ArrayLike], levels: Sequence[int], hierarchy: Hierarchy) -> list[NDArray]:
    """Mirror every ``(N, P_l, H, W)`` map of ``maps`` left-right and swap the partners of its level.

    An involution: applying it twice returns the input.
    """
    if len(maps) != len(levels):
        raise ValueError(f"{len(maps)} stacks of maps but {len(levels)} levels")
    out = []
    for m, lv in zip(maps, levels, strict=True):
        arr = np.asarray(m)
        if arr.ndim != 4:
            raise ValueError(f"maps must have shape (N, P, H, W), got {arr.shape}")
        out.append(swap_partners(arr, lv, hierarchy)[..., ::-1].copy())
    return out
