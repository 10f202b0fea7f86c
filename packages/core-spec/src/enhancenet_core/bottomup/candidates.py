"""Candidates of the grouping: max-pool NMS, top-k per joint, and the tag read under a detection.

Dimensions: keypoint number K, detection map ``(W, H)``, tag map ``(w, h)`` with ``W = r·w`` and ``H = r·h``
(r = 1 for the base model's 128 × 128 maps; r = 4 when the detections are EnhanceNet's M^HR at 512 × 512 and
the tags stay at 128 × 128), tag dimension T. Pixel ``(x, y)`` is column x, row y.

Tag reading (:class:`TagReading`), for a detection at integer pixel ``(x, y)`` of the detection map:

* ``NEAREST`` (default): ``tag[k, ⌊y/r⌋, ⌊x/r⌋]``, the LR pixel that contains the HR pixel (the inverse of the
  pixel shuffle's ``⌊x/r⌋`` in Eq. 5). At r = 1 this is pose-ae-train's read.
* ``BILINEAR``: the tag map interpolated bilinearly at the HR pixel's centre in LR pixel-index coordinates,
  ``u = (x + 0.5)/r - 0.5``, ``v = (y + 0.5)/r - 0.5``, clamped to ``[0, w - 1] × [0, h - 1]`` (edge values
  repeat). At r = 1 it equals ``NEAREST``.

NMS (pose-ae-train's ``HeatmapParser.nms``): a pixel survives when it equals the maximum of its
``kernel × kernel`` neighbourhood (pixels outside the map do not count); the others become 0. A flat top
survives as several equal peaks. Top-k: the k largest surviving values per joint, largest first; equal values
in the order of the flat index ``y·W + x`` (pose-ae-train's ``torch.topk`` leaves that order unspecified).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from enhancenet_core.conventions import TagReading

__all__ = ["TagReading", "nms", "sample_tags", "top_k", "upsample_tags"]



def nms(det: NDArray, kernel: int = 3) -> NDArray:
    """``(K, H, W)`` maps with every pixel that is not the maximum of its ``kernel × kernel`` window set to 0."""
    half = kernel // 2
    peak = det.copy()
    for axis in (1, 2):  # separable running maximum; pixels outside the map do not count
        src = peak.copy()
        n = det.shape[axis]
        for off in range(1, half + 1):
            if off >= n:
                break
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, n - off), slice(off, n)
            np.maximum(peak[tuple(lo)], src[tuple(hi)], out=peak[tuple(lo)])
            np.maximum(peak[tuple(hi)], src[tuple(lo)], out=peak[tuple(hi)])
    return np.where(peak == det, det, np.zeros((), det.dtype))


def top_k(det: NDArray, k: int) -> tuple[NDArray, NDArray[np.int64]]:
    """The ``k`` largest values per joint of ``(K, H, W)`` maps, largest first, ties by flat index.

    Returns:
        ``values`` ``(K, k)`` and flat indices ``(K, k)`` int64 (``k`` is cut to ``H·W``).
    """
    nk = det.shape[0]
    flat = det.reshape(nk, -1)
    n = flat.shape[1]
    k = min(k, n)
    positive = flat > 0
    if np.all(positive.sum(axis=1) >= k):  # NMS leaves few positive peaks: select among them
        seg, pos = np.nonzero(positive)
        starts = np.searchsorted(seg, np.arange(nk + 1))
        idx = np.empty((nk, k), np.int64)
        for j in range(nk):
            cand = pos[starts[j] : starts[j + 1]]
            v = flat[j, cand]
            if cand.size > 4 * k:  # keep the values >= the k-th largest (ties at it included), then sort
                keep = v >= np.partition(v, cand.size - k)[cand.size - k]
                cand, v = cand[keep], v[keep]
            order = np.lexsort((cand, -v))[:k]  # value descending, then flat index
            idx[j] = cand[order]
        return np.take_along_axis(flat, idx, axis=1), idx
    kth = np.partition(flat, n - k, axis=1)[:, n - k][:, None]  # the k-th largest value per joint
    above = flat > kth
    equal = flat == kth
    need = k - above.sum(axis=1, keepdims=True)
    keep = above | (equal & (np.cumsum(equal, axis=1) <= need))
    idx = np.nonzero(keep)[1].reshape(nk, k)  # ascending flat index per joint
    vals = np.take_along_axis(flat, idx, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _axis_weights(pos: NDArray, size: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray]:
    u = np.clip(pos, 0.0, size - 1.0)
    lo = np.floor(u).astype(np.int64)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, u - lo


def sample_tags(
    tag: NDArray,
    xs: NDArray,
    ys: NDArray,
    r: int,
    reading: TagReading = TagReading.NEAREST,
    joints: NDArray | None = None,
) -> NDArray:
    """Tags under detection pixels.

    Args:
        tag: ``(K, h, w, T)`` tag maps.
        xs, ys: ``(K, n)`` integer detection-map pixels (column, row) of joint k's candidates.
        r: detection-map pixels per tag-map pixel.
        reading: :class:`TagReading`.
        joints: the joint of each pixel, broadcastable with ``xs`` (default ``arange(K)[:, None]``).

    Returns:
        ``xs.shape + (T,)`` in the tag map's dtype.
    """
    nk, h, w, _ = tag.shape
    ki = np.arange(nk)[:, None] if joints is None else np.asarray(joints)
    xs = np.asarray(xs, dtype=np.int64)
    ys = np.asarray(ys, dtype=np.int64)
    if r == 1 or TagReading(reading) is TagReading.NEAREST:
        return tag[ki, np.minimum(ys // r, h - 1), np.minimum(xs // r, w - 1)]
    x0, x1, fx = _axis_weights((xs + 0.5) / r - 0.5, w)
    y0, y1, fy = _axis_weights((ys + 0.5) / r - 0.5, h)
    fx, fy = fx[..., None], fy[..., None]
    top = tag[ki, y0, x0] * (1 - fx) + tag[ki, y0, x1] * fx
    bottom = tag[ki, y1, x0] * (1 - fx) + tag[ki, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(tag.dtype)


def upsample_tags(tag: NDArray, r: int, reading: TagReading = TagReading.NEAREST) -> NDArray:
    """``(K, h, w, T)`` tag maps read at every pixel of the ``(r·h, r·w)`` detection map: ``(K, r·h, r·w, T)``."""
    if r == 1:
        return tag
    if TagReading(reading) is TagReading.NEAREST:
        return np.repeat(np.repeat(tag, r, axis=1), r, axis=2)
    _, h, w, _ = tag.shape
    x0, x1, fx = _axis_weights((np.arange(r * w) + 0.5) / r - 0.5, w)
    y0, y1, fy = _axis_weights((np.arange(r * h) + 0.5) / r - 0.5, h)
    cols = tag[:, :, x0] * (1 - fx)[None, None, :, None] + tag[:, :, x1] * fx[None, None, :, None]
    out = cols[:, y0] * (1 - fy)[None, :, None, None] + cols[:, y1] * fy[None, :, None, None]
    return out.astype(tag.dtype)
