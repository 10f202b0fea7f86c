"""Multi-peak detection targets of the bottom-up scheme (Associative Embedding; the paper's §3.2).

Dimensions: batch B, person number P, keypoint number K, map ``(W, H)``. Keypoints are ``(B, P, K, 3)`` with
the last axis (x, y, visibility) in pixels of the map being drawn (pose-ae-train transforms the annotation
straight to map pixels, 128 × 128 for a 512 × 512 input); maps are ``(B, K, H, W)`` float32.

One person's map follows pose-ae-train's ``GenerateHeatmap`` element for element:

* a joint is drawn when its visibility is > 0 and its **truncated** integer pixel ``(int(x), int(y))`` lies on
  the map (``int`` truncates toward zero, so x = -0.7 is drawn on column 0, x = -1.2 is not drawn);
* the Gaussian table ``g = exp(-((i - c)² + (j - c)²) / (2σ²))`` has ``len(arange(0, 6σ + 3))`` pixels per side
  and its centre at ``c = 3σ + 1`` (patch radius 3σ + 1, one more than HRNet's), computed in float64 and
  stored as float32;
* it is pasted with its corner at ``ul = int(x - 3σ - 1)`` (and ``br = int(x + 3σ + 2)``), cut at the map's
  edges;
* people are combined by the per-pixel maximum (§3.2: "we take the maximum of individual belief maps").

σ = map side / 64 in pose-ae-train (2 at 128). M^HR (r × the LR size) uses the same rule with σ_HR = r·σ
(Eq. 6), on the keypoints scaled by r (``x_HR = r·x_LR``: pose-ae-train's affine to a map of side R is linear
in R). Because each map truncates its own coordinates, a joint in ``(-1/r, 0)`` LR pixels (``x_HR`` in
``(-1, 0)``) is drawn on both maps, one in ``[-1, -1/r]`` only on M^LR.

Everything is vectorised over B, P and K: the patch pixels of every drawn joint are scattered into the flat
target with one ``np.maximum.at``.

Masks (pose-ae-train's ``Dataset.loadImage``): the loss mask is one ``(H, W)`` map per image, shared by all
joints: 0 inside crowd regions (``iscrowd`` annotations) and outside the image, 1 elsewhere. The data pipeline
warps the keep-map ``1[Σ crowd masks < 0.5]`` to the map with the training affine (bilinear, border 0);
:func:`crowd_loss_mask` thresholds it at 0.5 as pose-ae-train does. The HR loss uses the LR mask repeated
r × r (:func:`upsample_mask`). :func:`joint_mask` gives the per-joint flags ``(B, P, K)`` of the joints that are
drawn; the same joints feed the tag loss (pose-ae-train's ``KeypointsRef``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ae_gaussian_table",
    "crowd_loss_mask",
    "joint_mask",
    "map_pixels",
    "render_multi_peak",
    "upsample_mask",
]


def _check_sigma(sigma: float) -> float:
    if isinstance(sigma, bool) or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    return float(sigma)


def _check_size(size: Sequence[int], name: str = "heatmap_size") -> tuple[int, int]:
    arr = tuple(size)
    if len(arr) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in arr):
        raise ValueError(f"{name} must be a (width, height) pair of positive integers, got {size!r}")
    return int(arr[0]), int(arr[1])


def _check_keypoints(keypoints: ArrayLike) -> NDArray[np.float64]:
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise ValueError(
            f"keypoints must have shape (B, P, K, 3) (x, y, visibility), got {np.shape(keypoints)}"
        )
    if not np.all(np.isfinite(kp)):
        raise ValueError("keypoints contain NaN or infinite values")
    return kp


def ae_gaussian_table(sigma: float) -> NDArray[np.float32]:
    """pose-ae-train's Gaussian patch: ``(S, S)``, ``S = len(arange(0, 6σ + 3))``, centre at ``3σ + 1``."""
    sigma = _check_sigma(sigma)
    x = np.arange(0, 6 * sigma + 3, 1, float)
    y = x[:, None]
    c = 3 * sigma + 1
    return np.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma**2)).astype(np.float32)


def map_pixels(
    keypoints: ArrayLike, heatmap_size: Sequence[int]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The truncated integer pixels of the keypoints and whether each is drawn.

    Args:
        keypoints: ``(B, P, K, 3)`` (or ``(P, K, 3)``) map pixels (x, y, visibility).
        heatmap_size: ``(W, H)``.

    Returns:
        ``pixels`` ``(B, P, K, 2)`` int64 (x, y) = ``(int(x), int(y))`` and ``drawn`` ``(B, P, K)`` bool:
        visibility > 0 and the pixel on the map.
    """
    kp = _check_keypoints(keypoints)
    w, h = _check_size(heatmap_size)
    pix = np.trunc(kp[..., :2]).astype(np.int64)
    drawn = (kp[..., 2] > 0) & (pix[..., 0] >= 0) & (pix[..., 1] >= 0) & (pix[..., 0] < w) & (pix[..., 1] < h)
    return pix, drawn


def joint_mask(keypoints: ArrayLike, heatmap_size: Sequence[int]) -> NDArray[np.bool_]:
    """``(B, P, K)`` bool: the joints drawn on a map of ``heatmap_size`` (and used by the tag loss)."""
    return map_pixels(keypoints, heatmap_size)[1]


def render_multi_peak(keypoints: ArrayLike, heatmap_size: Sequence[int], sigma: float) -> NDArray[np.float32]:
    """Multi-peak targets: every person's Gaussians, combined by the per-pixel maximum.

    Args:
        keypoints: ``(B, P, K, 3)`` (or ``(P, K, 3)`` for one image) map pixels (x, y, visibility);
            ``P = 0`` gives all-zero maps.
        heatmap_size: ``(W, H)`` of the map.
        sigma: σ in pixels of this map (σ for M^LR, r·σ for M^HR).

    Returns:
        ``(B, K, H, W)`` float32 (``(K, H, W)`` for a ``(P, K, 3)`` input).
    """
    single = np.ndim(keypoints) == 3
    kp = _check_keypoints(keypoints)
    w, h = _check_size(heatmap_size)
    sigma = _check_sigma(sigma)
    b, _, k = kp.shape[:3]
    out = np.zeros(b * k * h * w, np.float32)
    pix, drawn = map_pixels(kp, (w, h))
    bi, _, ki = np.nonzero(drawn)
    if bi.size:
        table = ae_gaussian_table(sigma)
        s = table.shape[0]
        px, py = pix[..., 0][drawn], pix[..., 1][drawn]  # (J,)
        # the float corner of the peer, truncated toward zero (differs from floor only for a non-integer 3σ)
        ulx = np.trunc(px - 3 * sigma - 1).astype(np.int64)
        uly = np.trunc(py - 3 * sigma - 1).astype(np.int64)
        brx = np.minimum(np.trunc(px + 3 * sigma + 2).astype(np.int64), w)
        bry = np.minimum(np.trunc(py + 3 * sigma + 2).astype(np.int64), h)
        off = np.arange(s)
        cols = ulx[:, None] + off  # (J, S)
        rows = uly[:, None] + off
        okx = (cols >= 0) & (cols < brx[:, None])
        oky = (rows >= 0) & (rows < bry[:, None])
        ok = oky[:, :, None] & okx[:, None, :]  # (J, S, S)
        base = (bi * k + ki) * (h * w)
        flat = base[:, None, None] + rows[:, :, None] * w + cols[:, None, :]
        vals = np.broadcast_to(table, ok.shape)
        np.maximum.at(out, flat[ok], vals[ok])
    maps = out.reshape(b, k, h, w)
    return maps[0] if single else maps


def crowd_loss_mask(keep: ArrayLike) -> NDArray[np.float32]:
    """pose-ae-train's loss mask from the warped keep-map: ``1[keep > 0.5]`` as float32.

    Args:
        keep: ``(..., H, W)`` the keep-map ``1[Σ crowd masks < 0.5]`` (1 outside crowds) warped to the map
            (bilinear, 0 outside the image), values in [0, 1].
    """
    m = np.asarray(keep, dtype=np.float64)
    if m.ndim < 2 or not np.all(np.isfinite(m)):
        raise ValueError(f"keep must be a finite (..., H, W) map, got shape {m.shape}")
    return (m > 0.5).astype(np.float32)


def upsample_mask(mask: ArrayLike, r: int) -> NDArray[np.float32]:
    """The LR loss mask ``(..., H, W)`` repeated r × r: the HR mask ``(..., r·H, r·W)`` (nearest)."""
    if isinstance(r, bool) or int(r) != r or r < 1:
        raise ValueError(f"r must be a positive integer, got {r!r}")
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim < 2:
        raise ValueError(f"mask must have shape (..., H, W), got {m.shape}")
    return np.repeat(np.repeat(m, int(r), axis=-2), int(r), axis=-1)
