"""Benchmark baseline (written for enhancenet, not HRNet's code): HRNet's heat-map decoding and target rendering.

Algorithm of ``lib/core/inference.py`` (``get_max_preds``, ``get_final_preds`` with ``TEST.POST_PROCESS``),
``lib/utils/transforms.py`` (``transform_preds``: one ``cv2.getAffineTransform`` per sample, one 3-vector
product per keypoint) and ``lib/dataset/JointsDataset.py`` (``generate_target``, 'gaussian', one sample at a
time) of ``leoxiaobin/deep-high-resolution-net.pytorch``, re-stated with the same data flow and dtypes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PIXEL_STD = 200.0


def get_max_preds(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-map argmax and max (two reductions), float32 (x, y), zeroed where the max is not positive."""
    n, k, _, w = maps.shape
    flat = maps.reshape((n, k, -1))
    best = np.argmax(flat, 2).reshape((n, k, 1))
    peak = np.amax(flat, 2).reshape((n, k, 1))
    xy = np.tile(best, (1, 1, 2)).astype(np.float32)
    xy[:, :, 0] = xy[:, :, 0] % w
    xy[:, :, 1] = np.floor(xy[:, :, 1] / w)
    xy *= np.tile(np.greater(peak, 0.0), (1, 1, 2)).astype(np.float32)
    return xy, peak


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def inverse_crop_affine(center: np.ndarray, scale: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The 2 x 3 grid -> image affine of a crop without rotation, from three point pairs (cv2), as HRNet."""
    box = scale * PIXEL_STD
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + np.array([0.0, box[0] * -0.5])
    dst[0] = [size[0] * 0.5, size[1] * 0.5]
    dst[1] = np.array([size[0] * 0.5, size[1] * 0.5]) + np.array([0.0, size[0] * -0.5], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(np.float32(dst), np.float32(src))


def transform_preds(xy: np.ndarray, center: np.ndarray, scale: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grid (K, 2) -> image (K, 2) float64, one keypoint at a time."""
    mat = inverse_crop_affine(center, scale, size)
    out = np.zeros(xy.shape)
    for p in range(xy.shape[0]):
        out[p, 0:2] = np.dot(mat, np.array([xy[p, 0], xy[p, 1], 1.0]).T)[:2]
    return out


def to_image(xy: np.ndarray, centers: np.ndarray, scales: np.ndarray, h: int, w: int) -> np.ndarray:
    out = xy.copy()
    for i in range(xy.shape[0]):
        out[i] = transform_preds(xy[i], centers[i], scales[i], (w, h))
    return out


def get_final_preds(maps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax, then a quarter-pixel step toward the larger neighbour per keypoint (Python loop), then back to
    the image. Returns float32 image (x, y) (HRNet writes float64 rows into its float32 copy) and the maxima."""
    xy, peak = get_max_preds(maps)
    h, w = maps.shape[2], maps.shape[3]
    for n in range(xy.shape[0]):
        for p in range(xy.shape[1]):
            m = maps[n][p]
            px = math.floor(xy[n][p][0] + 0.5)
            py = math.floor(xy[n][p][1] + 0.5)
            if 1 < px < w - 1 and 1 < py < h - 1:
                step = np.array([m[py][px + 1] - m[py][px - 1], m[py + 1][px] - m[py - 1][px]])
                xy[n][p] += np.sign(step) * 0.25
    return to_image(xy, centers, scales, h, w), peak


def generate_target(joints: np.ndarray, vis: np.ndarray, image_size, heatmap_size, sigma: float):
    """One sample: (K, 2) joints in input pixels, (K,) visibility -> (K, h, w) float32 maps, (K, 1) weights.

    Integer-rounded centre, a (6σ + 1)^2 Gaussian patch pasted where it overlaps the map, weight 0 when the
    patch misses the map (HRNet's 'gaussian' target)."""
    k = joints.shape[0]
    weight = np.ones((k, 1), dtype=np.float32)
    weight[:, 0] = vis
    target = np.zeros((k, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    reach = sigma * 3
    stride = np.array(image_size) / np.array(heatmap_size)
    for j in range(k):
        cx = int(joints[j][0] / stride[0] + 0.5)
        cy = int(joints[j][1] / stride[1] + 0.5)
        ul = [int(cx - reach), int(cy - reach)]
        br = [int(cx + reach + 1), int(cy + reach + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            weight[j] = 0
            continue
        size = 2 * reach + 1
        xs = np.arange(0, size, 1, np.float32)
        ys = xs[:, np.newaxis]
        mid = size // 2
        g = np.exp(-((xs - mid) ** 2 + (ys - mid) ** 2) / (2 * sigma**2))
        gx = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        gy = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        ix = max(0, ul[0]), min(br[0], heatmap_size[0])
        iy = max(0, ul[1]), min(br[1], heatmap_size[1])
        if weight[j] > 0.5:
            target[j][iy[0]:iy[1], ix[0]:ix[1]] = g[gy[0]:gy[1], gx[0]:gx[1]]
    return target, weight
