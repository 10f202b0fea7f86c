"""pose-ae-train's post-processing of grouped people: the quarter-pixel ``adjust`` and ``refine``.

Dimensions: person number P, keypoint number K, detection map ``(W, H)``, tag map ``(w, h)`` (``W = r·w``),
tag dimension T. People are ``(P, K, 3 + T)`` float: (x, y, detection value, tag...) in detection-map pixels.

``adjust`` (``HeatmapParser.adjust``), for every joint with a value > 0 at integer pixel
``(x, y) = (int(x), int(y))``: ``x + 0.5 + 0.25`` when the right neighbour is strictly greater than the left
one, else ``x + 0.5 - 0.25`` (equal neighbours give -0.25); the same with the lower/upper neighbours for y.
Neighbours are clamped at the map's edges (at the last column the "right neighbour" is the pixel itself).
On M^HR the step is a quarter of an HR pixel (1/(4r) LR pixel): the rule is applied on whatever map the
detections come from.

``refine`` (``test.py``'s ``refine``), per person: its mean tag ``m`` over its joints with a value > 0 (tags read
under the integer pixels of those joints, :mod:`~enhancenet_core.bottomup.candidates`), then for every joint k
with value 0 the pixel maximising ``det_k - round(||tag_k - m||₂)`` (L2 over T, first maximum in row-major
order; on M^HR the rounded distance of the LR pixel containing each HR pixel for ``NEAREST``, of the
interpolated tag for ``BILINEAR``) becomes the joint when its detection value is > 0: at ``pixel + 0.5 ± 0.25``
(the adjust rule) with value **1** (pose-ae-train sets the flag to 1, not the detection value); its tag columns
stay 0. :class:`RefineMode`:

* ``CORRECTED`` (default): neighbours clamped to the map (row ``H - 1``, column ``W - 1``);
* ``PEER``: pose-ae-train's clamps, the lower neighbour's row clamped to ``K - 1`` (the joint count, 16 for
  COCO, instead of ``H - 1``) and the right neighbour's column to ``H - 1``; for rows ≥ K - 1 the y offset then
  compares a fixed row with the upper neighbour. (A column past ``W - 1``, which the peer would index out of
  range on a map higher than wide, is clamped to ``W - 1``.)
* ``OFF``: no refine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from enhancenet_core.bottomup.candidates import TagReading, sample_tags, upsample_tags
from enhancenet_core.conventions import RefineMode

__all__ = ["RefineMode", "adjust", "quarter_offsets", "refine"]



def quarter_offsets(
    det: NDArray,
    ks: NDArray,
    rows: NDArray,
    cols: NDArray,
    row_clamp: int | None = None,
    col_clamp: int | None = None,
) -> tuple[NDArray, NDArray]:
    """The ±0.25 steps for integer pixels ``(rows, cols)`` of maps ``ks`` of ``det`` ``(K, H, W)``.

    Args:
        det: ``(K, H, W)`` maps.
        ks, rows, cols: ``(n,)`` joint, row and column of each pixel (broadcastable).
        row_clamp, col_clamp: the largest neighbour row / column (default ``H - 1`` / ``W - 1``).

    Returns:
        ``(dx, dy)`` each ``(n,)`` in {+0.25, -0.25}.
    """
    _, h, w = det.shape
    rc = h - 1 if row_clamp is None else row_clamp
    cc = w - 1 if col_clamp is None else min(col_clamp, w - 1)
    right = det[ks, rows, np.minimum(cols + 1, cc)]
    left = det[ks, rows, np.maximum(cols - 1, 0)]
    down = det[ks, np.minimum(rows + 1, rc), cols]
    up = det[ks, np.maximum(rows - 1, 0), cols]
    return np.where(right > left, 0.25, -0.25), np.where(down > up, 0.25, -0.25)


def adjust(people: NDArray, det: NDArray) -> NDArray:
    """Quarter-pixel adjustment of ``people`` ``(P, K, 3 + T)`` on ``det`` ``(K, H, W)`` (a new array)."""
    out = people.copy()
    p_idx, k_idx = np.nonzero(people[..., 2] > 0)
    if p_idx.size == 0:
        return out
    cols = people[p_idx, k_idx, 0].astype(np.int64)
    rows = people[p_idx, k_idx, 1].astype(np.int64)
    dx, dy = quarter_offsets(det, k_idx, rows, cols)
    out[p_idx, k_idx, 0] = cols + dx + 0.5
    out[p_idx, k_idx, 1] = rows + dy + 0.5
    return out


def _first_argmax_nearest(det: NDArray, blocks: NDArray, bmax: NDArray, dist: NDArray, r: int) -> NDArray:
    """First maximum (HR row-major) of ``det - dist`` with ``dist`` ``(Q, h, w)`` constant on each r × r block.

    Subtracting the same number is monotonic in floating point, so the maximum over a block is
    ``bmax - dist``; only the blocks that reach the overall maximum are opened, pixel by pixel (equal values
    after rounding included), to find the first maximal HR pixel. Same result as the dense ``argmax``.
    """
    q = dist.shape[0]
    ww = det.shape[1]
    cell = bmax[None] - dist  # (Q, h, w)
    best = cell.reshape(q, -1).max(axis=1)
    qi, cy, cx = np.nonzero(cell == best[:, None, None])
    vals = blocks[cy, cx] - dist[qi, cy, cx][:, None, None]  # (n, r, r)
    dy, dx = np.arange(r)[:, None], np.arange(r)[None, :]
    flat = (cy[:, None, None] * r + dy) * ww + cx[:, None, None] * r + dx
    flat = (
        np.where(vals == best[qi][:, None, None], flat, np.iinfo(np.int64).max)
        .reshape(qi.size, -1)
        .min(axis=1)
    )
    out = np.full(q, np.iinfo(np.int64).max)
    np.minimum.at(out, qi, flat)
    return out


def _person_means(people: NDArray, tag: NDArray, r: int, reading: TagReading) -> tuple[NDArray, NDArray]:
    """Each person's mean tag over its joints with a value > 0 (the peer's float32 ``np.mean`` over joints in
    index order) and whether the person has such a joint: ``(P, T)``, ``(P,)``."""
    present = people[..., 2] > 0  # (P, K)
    nk = people.shape[1]
    xs = people[..., 0].astype(np.int64).clip(0, None)
    ys = people[..., 1].astype(np.int64).clip(0, None)
    t = sample_tags(tag, xs.T, ys.T, r, reading)  # (K, P, T)
    zero = np.zeros((), t.dtype)
    acc = np.where(present[:, 0, None], t[0], zero)
    for k in range(
        1, nk
    ):  # adding 0 leaves a float32 sum unchanged, so absent joints can be skipped this way
        acc = acc + np.where(present[:, k, None], t[k], zero)
    n = present.sum(axis=1)
    return acc / np.maximum(n, 1).astype(t.dtype)[:, None], n > 0


def refine(
    people: NDArray,
    det: NDArray,
    tag: NDArray,
    mode: RefineMode = RefineMode.CORRECTED,
    reading: TagReading = TagReading.NEAREST,
) -> NDArray:
    """Fill the missing joints of each person (module docstring); a new ``(P, K, 3 + T)`` array.

    Args:
        people: ``(P, K, 3 + T)`` grouped (and adjusted) people in detection-map pixels.
        det: ``(K, H, W)`` detection maps (float32, as clipped for grouping).
        tag: ``(K, h, w, T)`` tag maps, ``H = r·h``, ``W = r·w``.
        mode: :class:`RefineMode`.
        reading: :class:`TagReading` for r > 1.
    """
    mode = RefineMode(mode)
    out = people.copy()
    if mode is RefineMode.OFF or people.shape[0] == 0:
        return out
    nk, hh, ww = det.shape
    h, tdim = tag.shape[1], tag.shape[3]
    r = hh // h
    reading = TagReading(reading)
    bilinear = r > 1 and reading is TagReading.BILINEAR
    grid = upsample_tags(tag, r, reading) if bilinear else tag  # tags on the grid the distance is taken on
    means, has_joint = _person_means(people, tag, r, reading)
    if r > 1 and not bilinear:
        blocks = det.reshape(nk, h, r, ww // r, r).transpose(0, 1, 3, 2, 4)  # (K, h, w, r, r)
        bmax = det.reshape(nk, h, r, ww // r, r).max(axis=4).max(axis=2)  # (K, h, w) block maxima
    row_clamp = nk - 1 if mode is RefineMode.PEER else None
    col_clamp = hh - 1 if mode is RefineMode.PEER else None
    missing = (people[..., 2] <= 0) & has_joint[:, None]  # (P, K)
    for k in np.flatnonzero(missing.any(axis=0)):
        ps = np.flatnonzero(missing[:, k])
        # round(||tag - mean||₂) per person on the tag grid, float32, summed over T in order as the peer
        dist = (grid[k, :, :, 0][None] - means[ps, 0][:, None, None]) ** 2
        for t in range(1, tdim):
            dist += (grid[k, :, :, t][None] - means[ps, t][:, None, None]) ** 2
        np.sqrt(dist, out=dist)
        np.round(dist, out=dist)
        if not bilinear and r > 1:  # NEAREST on M^HR: each HR pixel takes its LR pixel's distance
            flat = _first_argmax_nearest(det[k], blocks[k], bmax[k], dist, r)
        else:
            np.subtract(det[k][None], dist, out=dist)
            flat = dist.reshape(ps.size, -1).argmax(axis=1)  # first maximum in row-major order
        vals = det[k].reshape(-1)[flat]
        rows, cols = flat // ww, flat % ww
        dx, dy = quarter_offsets(det, k, rows, cols, row_clamp, col_clamp)
        fill = vals > 0
        pf = ps[fill]
        out[pf, k, 0] = (cols + 0.5 + dx)[fill]
        out[pf, k, 1] = (rows + 0.5 + dy)[fill]
        out[pf, k, 2] = 1.0
    return out
