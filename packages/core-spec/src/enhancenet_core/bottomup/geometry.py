"""Whole-image geometry of the bottom-up scheme: pose-ae-train's affine, test input sizes, back-projection.

pose-ae-train (``utils/misc.py`` ``get_transform``, ``data/coco_pose/dp.py``, ``test.py``) maps a whole image
into a square network input with the hourglass code's transform: a window of side ``200·scale`` image pixels
centred at ``center`` goes onto an output of ``(W, H)`` pixels, optionally rotated about the output's centre:

* ``t = [[W/L, 0, W·(-cx/L + 1/2)], [0, H/L, H·(-cy/L + 1/2)], [0, 0, 1]]`` with ``L = 200·scale``;
* rotation by ``rot`` degrees: ``t ← T⁻¹ · R(-rot) · T · t`` with ``T`` the shift by ``(-W/2, -H/2)`` and
  ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` (the hourglass code's sign);
* a whole image of ``(w, h)`` pixels: ``center = (w/2, h/2)``, ``scale = max(w, h)/200`` (the image fits the
  square, centred, its longer side spanning the input);
* test input side at scale s: ``⌈s·512/64⌉·64`` (``int((s·512 + 63) // 64 · 64)``), the hourglass's multiple;
* back-projection: people in detection-map pixels × (input side / map side) → input pixels, then the inverse
  of the (first scale's) input transform (``np.linalg.pinv`` of the 3 × 3 matrix, as pose-ae-train).

The transform is linear in ``(W, H)``: the transform to the 128 map is exactly ¼ of the one to the 512 input
(powers of two scale floats exactly), so keypoints transformed to input pixels and divided by 4 equal
pose-ae-train's keypoints transformed to map pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AE_PIXEL_STD",
    "ae_transform",
    "affine_points",
    "input_side_at_scale",
    "invert_affine",
    "whole_image_center_scale",
]

AE_PIXEL_STD = 200.0
"""pose-ae-train's scale unit: a window of ``200·scale`` pixels."""


def whole_image_center_scale(width: float, height: float) -> tuple[NDArray[np.float64], float]:
    """``center (2,)`` = (w/2, h/2) and ``scale`` = max(w, h)/200 of a whole image."""
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width!r} x {height!r}")
    return np.array([width / 2.0, height / 2.0]), max(float(width), float(height)) / AE_PIXEL_STD


def ae_transform(center: ArrayLike, scale: float, size: Sequence[int], rotation: float = 0.0) -> NDArray[np.float64]:
    """pose-ae-train's ``get_transform``: ``(3, 3)`` image pixels -> output pixels of ``size = (W, H)``."""
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (2,) or not np.all(np.isfinite(c)):
        raise ValueError(f"center must be a finite (x, y), got {center!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    w, h = (float(v) for v in size)
    side = AE_PIXEL_STD * float(scale)
    t = np.zeros((3, 3))
    t[0, 0] = w / side
    t[1, 1] = h / side
    t[0, 2] = w * (-float(c[0]) / side + 0.5)
    t[1, 2] = h * (-float(c[1]) / side + 0.5)
    t[2, 2] = 1.0
    if rotation != 0:
        a = -float(rotation) * np.pi / 180.0
        sn, cs = np.sin(a), np.cos(a)
        rot = np.array([[cs, -sn, 0.0], [sn, cs, 0.0], [0.0, 0.0, 1.0]])
        shift = np.eye(3)
        shift[0, 2], shift[1, 2] = -w / 2.0, -h / 2.0
        back = shift.copy()
        back[:2, 2] *= -1
        t = back @ (rot @ (shift @ t))
    return t


def invert_affine(mat: ArrayLike) -> NDArray[np.float64]:
    """The ``(2, 3)`` inverse of a ``(2, 3)`` or ``(3, 3)`` affine (pseudo-inverse, as pose-ae-train)."""
    m = np.asarray(mat, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3):
        raise ValueError(f"mat must have shape (2, 3) or (3, 3), got {m.shape}")
    return np.linalg.pinv(m)[:2]


def affine_points(points: ArrayLike, mat: ArrayLike) -> NDArray[np.float64]:
    """``(..., 2)`` points (x, y) through a ``(2, 3)`` or ``(3, 3)`` affine."""
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(mat, dtype=np.float64)[:2]
    if p.shape[-1:] != (2,):
        raise ValueError(f"points must have shape (..., 2), got {p.shape}")
    return p @ m[:, :2].T + m[:, 2]


def input_side_at_scale(scale: float, base: int = 512, multiple: int = 64) -> int:
    """The input side at test scale ``scale``: ``int((scale·base + multiple - 1) // multiple · multiple)``."""
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    return int((scale * base + multiple - 1) // multiple * multiple)
