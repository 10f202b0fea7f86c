"""Gaussian heat-map targets for M^LR and M^HR (Eq. 6: the HR target has standard deviation r·σ).

Dimensions: instance number N, keypoint number K, heat map ``(W, H)``. Joints are ``(N, K, 2)`` in
input-patch pixels, last axis (x, y); the grid alignment is :mod:`enhancenet_core.coordinates`.

LEGACY reproduces HRNet's ``generate_target`` (``target_type='gaussian'``) element for element:

* ``mu = int(x / stride + 0.5)`` per axis (``int`` truncates toward zero: ``x = -3.9`` at stride 4 gives 0);
* one float32 table ``g = exp(-((i - x0)^2 + (j - y0)^2) / (2σ^2))`` of ``size = 2·3σ + 1`` (``x0 = size // 2``),
  pasted at ``ul = int(mu - 3σ)``, cut at the map's edges (pixels ``[max(0, ul), min(br, W))``,
  ``br = int(mu + 3σ + 1)``);
* ``target_weight = joints_vis``, set to 0 when ``ul >= size`` or ``br < 0`` on either axis; the map is drawn
  only where the weight is > 0.5. HRNet's off-by-one is kept on purpose: a Gaussian ending exactly at the
  left/top edge (``br == 0``) keeps weight 1 with an all-zero map;
* ``use_different_joints_weight`` multiplies the weight by ``joints_weight`` after drawing.

UNBIASED (sub-pixel, UDP-like, no HRNet quirks):

* ``mu = x / stride`` with the UDP stride ``(W_in - 1) / (W_hm - 1)``, kept real-valued;
* ``exp(-((x - mu_x)^2 + (y - mu_y)^2) / (2σ^2))`` evaluated in float64 at the pixel centres of a window of
  ``2R + 1`` pixels per axis, ``R = ceil(3σ)``, centred on the nearest pixel ``floor(mu + 0.5)``, cut at the
  map's edges; zero elsewhere (**truncated at 3σ**, like HRNet and UDP);
* ``target_weight = joints_vis``, set to 0 exactly when that window has no pixel on the map (so weight 1
  always comes with a non-zero map); drawn where the weight is > 0.5.

DARKPOSE: the UNBIASED window and weight rule at ``mu = input_to_heatmap(x)`` (DarkPose's centre-aligned grid,
:mod:`enhancenet_core.coordinates`). DarkPose itself evaluates the Gaussian on the whole map (no 3σ cut) and keeps
HRNet's ``ul``/``br`` weight test; those differ only beyond 3σ and at the border.

Both are vectorized over N and K: the windows are scattered into the flat target in one indexed assignment.
The sizes and σ of M^LR and M^HR (r·σ) come from the config through :mod:`enhancenet_core.codecs`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.coordinates import heatmap_origin, heatmap_stride

__all__ = [
    "combine_multi_peak",
    "generate_targets",
    "hrnet_gaussian_table",
]


def hrnet_gaussian_table(sigma: float) -> NDArray[np.float32]:
    """HRNet's float32 Gaussian patch: ``(S, S)`` with ``S = len(arange(0, 6σ + 1))``, peak at ``size // 2``."""
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, None]
    x0 = y0 = size // 2
    # float32 throughout, as HRNet (Python scalars do not promote float32 arrays).
    return np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _shared_table(sigma: float) -> NDArray[np.float32]:
    """:func:`hrnet_gaussian_table`, computed once per σ (read-only: it is shared between calls)."""
    g = hrnet_gaussian_table(sigma)
    g.setflags(write=False)
    return g


def _padded_windows(table: NDArray[np.float32]) -> NDArray[np.float32]:
    """``(2S + 1, 2S + 1, S, S)`` read-only view: ``[S + dr, S + dc]`` is the ``(S, S)`` block of ``table`` shifted
    by ``(dr, dc)`` with zeros where it has no cell (the table padded by S zeros on each side)."""
    s = table.shape[0]
    padded = np.zeros((3 * s, 3 * s), dtype=table.dtype)
    padded[s : 2 * s, s : 2 * s] = table
    return np.lib.stride_tricks.sliding_window_view(padded, (s, s))


def _check_inputs(
    joints: ArrayLike, joints_vis: ArrayLike, heatmap_size: Sequence[int], sigma: float
) -> tuple[NDArray[np.float64], NDArray[np.float32], int, int]:
    j = np.asarray(joints)
    if j.ndim != 3 or j.shape[-1] < 2:
        raise ValueError(f"joints must have shape (N, K, 2) (x, y in input-patch pixels), got {j.shape}")
    j = j[..., :2].astype(np.float64)
    if not np.all(np.isfinite(j)):
        raise ValueError("joints contain NaN or infinite coordinates")
    v = np.asarray(joints_vis, dtype=np.float64)
    if v.ndim == 3:
        v = v[..., 0]
    if v.shape != j.shape[:2]:
        raise ValueError(f"joints_vis must have shape (N, K) = {j.shape[:2]}, got {np.shape(joints_vis)}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    hs = np.asarray(heatmap_size).reshape(-1)
    if hs.shape != (2,) or np.any(hs < 1) or np.any(hs != np.round(hs)):
        raise ValueError(f"heatmap_size must be a (width, height) pair of positive integers, got {heatmap_size!r}")
    return j, v.astype(np.float32), int(hs[0]), int(hs[1])


def _scatter_windows(
    n: int,
    k: int,
    width: int,
    height: int,
    col0: NDArray[np.int64],
    row0: NDArray[np.int64],
    col_ok: NDArray[np.bool_],
    row_ok: NDArray[np.bool_],
    values: NDArray[np.float32],
) -> NDArray[np.float32]:
    """Paste one ``(S, S)`` window per (n, k) into a zero ``(N, K, H, W)`` target.

    ``col0``/``row0``: ``(N, K)`` map column/row of window index 0; ``col_ok``/``row_ok``: ``(N, K, S)`` which
    window columns/rows land on the map (and are drawn); ``values``: ``(S, S)`` or ``(N, K, S, S)``.

    Every drawn window is pasted as one ``(S, S)`` block through a writeable sliding-window view of the
    target (a fancy index per window, not per cell): a window wholly on the map as it is; a window cut by an
    edge as the block of the map it overlaps (its origin clipped onto the map), filled with the window's
    cells that land there and zeros elsewhere. Each (n, k) owns its map, so blocks never overlap. Only a
    window larger than the map goes through a per-cell flat scatter.
    """
    s = col_ok.shape[-1]
    m = n * k
    total = m * height * width
    target = np.zeros((m, height, width), dtype=np.float32)
    if m == 0:
        return target.reshape(n, k, height, width)
    row_ok, col_ok = row_ok.reshape(m, s), col_ok.reshape(m, s)
    row0, col0 = row0.reshape(m), col0.reshape(m)
    drawn = row_ok.any(axis=-1) & col_ok.any(axis=-1)
    whole = row_ok.all(axis=-1) & col_ok.all(axis=-1)  # (M,) the window lies on the map and is drawn
    per_joint = values.ndim == 4
    vals = values.reshape(m, s, s) if per_joint else values
    if s > height or s > width:
        flat = np.zeros(total + 1, dtype=np.float32)  # last slot collects the cells off the map
        sel = np.flatnonzero(drawn)
        ar = np.arange(s, dtype=np.int64)
        rows = (sel * (height * width))[:, None] + (row0[sel][:, None] + ar) * width
        cols = col0[sel][:, None] + ar
        idx = np.where(row_ok[sel][:, :, None] & col_ok[sel][:, None, :], rows[:, :, None] + cols[:, None, :], total)
        flat[idx.reshape(-1)] = (vals[sel] if per_joint else np.broadcast_to(vals, idx.shape)).reshape(-1)
        return flat[:total].reshape(n, k, height, width)
    st0, st1, st2 = target.strides
    blocks = np.lib.stride_tricks.as_strided(  # (M, H - S + 1, W - S + 1, S, S): the block at each origin
        target, (m, height - s + 1, width - s + 1, s, s), (st0, st1, st2, st1, st2), writeable=True
    )
    inner = np.flatnonzero(whole)
    if inner.size:
        blocks[inner, row0[inner], col0[inner]] = vals[inner] if per_joint else vals
    cut = np.flatnonzero(drawn & ~whole)
    if cut.size:
        ar = np.arange(s)
        r0, c0 = row0[cut], col0[cut]
        dr = np.minimum(np.maximum(r0, 0), height - s) - r0  # block origin - window origin, in (-S, S)
        dc = np.minimum(np.maximum(c0, 0), width - s) - c0
        wr, wc = dr[:, None] + ar, dc[:, None] + ar  # (C, S) window row / column of each block row / column
        wr_in, wc_in = np.minimum(np.maximum(wr, 0), s - 1), np.minimum(np.maximum(wc, 0), s - 1)
        r_ok = (wr == wr_in) & row_ok.reshape(-1)[cut[:, None] * s + wr_in]
        c_ok = (wc == wc_in) & col_ok.reshape(-1)[cut[:, None] * s + wc_in]
        if per_joint:
            block = vals[cut[:, None, None], wr_in[:, :, None], wc_in[:, None, :]]
            np.copyto(block, np.float32(0), where=~(r_ok[:, :, None] & c_ok[:, None, :]))
        else:  # one table: the block is a window of the table padded by S zeros on each side
            block = _padded_windows(vals)[s + dr, s + dc]
            if not (np.array_equal(r_ok, wr == wr_in) and np.array_equal(c_ok, wc == wc_in)):  # undrawn cells
                np.copyto(block, np.float32(0), where=~(r_ok[:, :, None] & c_ok[:, None, :]))
        blocks[cut, r0 + dr, c0 + dc] = block
    return target.reshape(n, k, height, width)


def _legacy(
    j: NDArray[np.float64], vis: NDArray[np.float32], stride: NDArray[np.float64],
    width: int, height: int, sigma: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    n, k = vis.shape
    tmp_size = sigma * 3
    mu = np.trunc(j / stride + 0.5)  # int(x / stride + 0.5)
    ul = np.trunc(mu - tmp_size).astype(np.int64)  # (N, K, 2)
    br = np.trunc(mu + tmp_size + 1).astype(np.int64)
    size = np.array([width, height])
    outside = np.any(ul >= size, axis=-1) | np.any(br < 0, axis=-1)
    weight = np.where(outside, np.float32(0), vis)
    draw = weight > 0.5
    g = _shared_table(sigma)
    s = g.shape[0]
    ar = np.arange(s, dtype=np.int64)
    pos = ul[..., None] + ar  # (N, K, 2, S): map column / row of table index i
    ok = (pos >= 0) & (pos < np.minimum(br, size)[..., None]) & draw[..., None, None]
    target = _scatter_windows(n, k, width, height, ul[..., 0], ul[..., 1], ok[:, :, 0], ok[:, :, 1], g)
    return target, weight.astype(np.float32)


def _unbiased(
    j: NDArray[np.float64], vis: NDArray[np.float32], stride: NDArray[np.float64],
    width: int, height: int, sigma: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    n, k = vis.shape
    radius = math.ceil(3 * sigma)
    mu = j / stride  # (N, K, 2), sub-pixel
    centre = np.floor(mu + 0.5)
    lo = (centre - radius).astype(np.int64)  # first window pixel per axis
    size = np.array([width, height])
    # the window [lo, lo + 2R] misses the map when lo > size - 1 or lo + 2R < 0
    outside = np.any(lo > size - 1, axis=-1) | np.any(lo + 2 * radius < 0, axis=-1)
    weight = np.where(outside, np.float32(0), vis)
    draw = weight > 0.5
    ar = np.arange(2 * radius + 1, dtype=np.int64)
    pos = lo[..., None] + ar  # (N, K, 2, S)
    ok = (pos >= 0) & (pos < size[:, None]) & draw[..., None, None]
    g1 = np.exp(-((pos - mu[..., None]) ** 2) / (2.0 * sigma**2))  # (N, K, 2, S) float64, separable
    values = (g1[:, :, 1, :, None] * g1[:, :, 0, None, :]).astype(np.float32)  # (N, K, S_rows, S_cols)
    target = _scatter_windows(n, k, width, height, lo[..., 0], lo[..., 1], ok[:, :, 0], ok[:, :, 1], values)
    return target, weight.astype(np.float32)


def generate_targets(
    joints: ArrayLike,
    joints_vis: ArrayLike,
    input_size: Sequence[int],
    heatmap_size: Sequence[int],
    sigma: float,
    convention: CoordinateConvention,
    use_different_joints_weight: bool = False,
    joints_weight: ArrayLike | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Gaussian targets and their weights for one heat-map size (LR or HR).

    Args:
        joints: ``(N, K, 2)`` (or ``(N, K, 3)``, extra columns ignored) joints in input-patch pixels, (x, y).
        joints_vis: ``(N, K)`` (or ``(N, K, C)``, column 0 used) visibility; > 0.5 means drawn.
        input_size: ``(W_in, H_in)`` of the input patch.
        heatmap_size: ``(W, H)`` of the target maps.
        sigma: Gaussian standard deviation in pixels of *this* map (σ for LR, r·σ for HR).
        convention: :class:`CoordinateConvention` (see the module docstring).
        use_different_joints_weight: multiply the weights by ``joints_weight`` (HRNet's option).
        joints_weight: ``(K,)`` per-keypoint weights, required with ``use_different_joints_weight``.

    Returns:
        ``target`` ``(N, K, H, W)`` float32 and ``target_weight`` ``(N, K)`` float32.
    """
    convention = CoordinateConvention(convention)
    j, vis, width, height = _check_inputs(joints, joints_vis, heatmap_size, sigma)
    stride = heatmap_stride(input_size, heatmap_size, convention)
    if convention is CoordinateConvention.LEGACY:
        target, weight = _legacy(j, vis, stride, width, height, float(sigma))
    else:  # UNBIASED and DARKPOSE: sub-pixel centres (DARKPOSE: about the grids' centres, heatmap_origin)
        j = j - heatmap_origin(input_size, heatmap_size, convention)
        target, weight = _unbiased(j, vis, stride, width, height, float(sigma))
    if use_different_joints_weight:
        if joints_weight is None:
            raise ValueError("joints_weight (K,) is required when use_different_joints_weight is True")
        jw = np.asarray(joints_weight, dtype=np.float32).reshape(-1)
        if jw.shape != (weight.shape[1],):
            raise ValueError(f"joints_weight must have shape (K,) = ({weight.shape[1]},), got {jw.shape}")
        weight = weight * jw
    return target, weight


def combine_multi_peak(maps: ArrayLike) -> NDArray[np.float32]:
    """Bottom-up multi-person target: per-pixel maximum over persons (Sec. 3.2).

    Args:
        maps: ``(P, K, H, W)`` one target per person.

    Returns:
        ``(K, H, W)`` float32. ``P == 0`` raises (there is no person to combine).
    """
    m = np.asarray(maps)
    if m.ndim != 4:
        raise ValueError(f"maps must have shape (P, K, H, W), got {m.shape}")
    if m.shape[0] == 0:
        raise ValueError("maps must hold at least one person (P >= 1)")
    return m.max(axis=0).astype(np.float32, copy=False)
