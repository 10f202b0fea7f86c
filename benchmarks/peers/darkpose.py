"""Benchmark baseline (written for enhancenet, not DarkPose's code): DarkPose's DARK decoding.

Algorithm of ``lib/core/inference.py`` of ``ilovepose/DarkPose`` (``gaussian_blur``, ``taylor``,
``get_final_preds``), re-stated with the same data flow: every map blurred in full by ``cv2.GaussianBlur`` on a
zero-padded float64 copy and written back into the (float32) input, rescaled to its original max, the log of the
whole batch, then one Newton step per keypoint with a 2 x 2 matrix inverse. Like DarkPose, it blurs the input
in place: pass a copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.peers.hrnet import get_max_preds, to_image


def gaussian_blur(maps: np.ndarray, kernel: int) -> np.ndarray:
    pad = (kernel - 1) // 2
    _, _, h, w = maps.shape
    for i in range(maps.shape[0]):
        for j in range(maps.shape[1]):
            peak = np.max(maps[i, j])
            canvas = np.zeros((h + 2 * pad, w + 2 * pad))
            canvas[pad:-pad, pad:-pad] = maps[i, j].copy()
            canvas = cv2.GaussianBlur(canvas, (kernel, kernel), 0)
            maps[i, j] = canvas[pad:-pad, pad:-pad].copy()
            maps[i, j] *= peak / np.max(maps[i, j])
    return maps


def taylor(logmap: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """One Newton step at the integer part of ``xy`` (first differences +-1, second +-2); in place."""
    h, w = logmap.shape
    px, py = int(xy[0]), int(xy[1])
    if 1 < px < w - 2 and 1 < py < h - 2:
        m = logmap
        gx = 0.5 * (m[py][px + 1] - m[py][px - 1])
        gy = 0.5 * (m[py + 1][px] - m[py - 1][px])
        hxx = 0.25 * (m[py][px + 2] - 2 * m[py][px] + m[py][px - 2])
        hxy = 0.25 * (m[py + 1][px + 1] - m[py - 1][px + 1] - m[py + 1][px - 1] + m[py - 1][px - 1])
        hyy = 0.25 * (m[py + 2][px] - 2 * m[py][px] + m[py - 2][px])
        if hxx * hyy - hxy**2 != 0:
            inv = np.linalg.inv(np.array([[hxx, hxy], [hxy, hyy]]))
            xy += -(inv @ np.array([gx, gy]))
    return xy


def get_final_preds(maps: np.ndarray, centers: np.ndarray, scales: np.ndarray, kernel: int):
    """DARK on ``maps`` (modified in place, as DarkPose), back to the image; float32 coords as DarkPose."""
    xy, peak = get_max_preds(maps)
    h, w = maps.shape[2], maps.shape[3]
    logs = np.log(np.maximum(gaussian_blur(maps, kernel), 1e-10))
    for n in range(xy.shape[0]):
        for p in range(xy.shape[1]):
            xy[n, p] = taylor(logs[n][p], xy[n][p])
    return to_image(xy, centers, scales, h, w), peak
