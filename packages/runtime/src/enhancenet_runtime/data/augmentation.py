"""HRNet's top-down training augmentation as pure functions over an explicit ``numpy.random.Generator``.

Decisions are drawn once into an :class:`AugmentationParams` (so a framework, a test or a bug report can replay
exactly one sample) and applied by :func:`apply_flip` + the affine crop. What HRNet does
(``JointsDataset.__getitem__`` / ``half_body_transform``), reproduced:

1. Half body, with probability ``half_body_prob`` and only when more than ``num_joints_half_body`` joints are
   visible: the visible joints are split into upper/lower body; the upper set is chosen when
   ``randn() < 0.5`` (HRNet draws a *normal* here, so the upper body wins with probability Φ(0.5) ≈ 0.691, not
   0.5) and it has more than 2 joints, else the lower set if it has more than 2 joints, else the upper set;
   fewer than 2 selected joints leave the box unchanged. The new centre is the *mean* of the selected joints,
   the new scale is their bounding box fixed to the input aspect ratio, divided by ``pixel_std``, × 1.5.
2. Scale: ``scale *= clip(randn() * sf + 1, 1 - sf, 1 + sf)``.
3. Rotation: with probability ``rotation_prob`` (HRNet: ``random() <= 0.6``),
   ``clip(randn() * rf, -2 rf, 2 rf)`` degrees, else 0.
4. Flip, when enabled, with probability 0.5 (``random() <= 0.5``): the image is mirrored, joints go through
   :func:`enhancenet_core.transforms.fliplr_joints` (``x -> W - 1 - x``, left/right swapped, invisible
   joints zeroed) and ``center[0] -> W - 1 - center[0]``.

Random stream: every call to :func:`sample_augmentation` draws exactly six numbers from the generator, in
this order, whether or not they are used: ``u_half, z_side, z_scale, u_rot, z_rot, u_flip``. The stream (and
so every later sample of the same generator) therefore does not depend on which branches were taken.
HRNet mixes ``numpy`` and ``random``; its individual decisions are reproduced, its stream is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.config import AugmentationConfig
from enhancenet_core.transforms import PIXEL_STD, box_to_center_scale, fliplr_joints

__all__ = [
    "HALF_BODY_SCALE",
    "HALF_BODY_UPPER_THRESHOLD",
    "AugmentationParams",
    "apply_flip",
    "half_body_center_scale",
    "no_augmentation",
    "sample_augmentation",
]

HALF_BODY_SCALE: float = 1.5  # enlargement of the half-body box (HRNet)
HALF_BODY_UPPER_THRESHOLD: float = 0.5  # upper body when randn() < this (HRNet compares a normal draw)
FLIP_PROB: float = 0.5


@dataclass(frozen=True)
class AugmentationParams:
    """The decisions for one training sample.

    Attributes:
        center: ``(2,)`` final crop centre (x, y) in pixels of the (flipped, if ``flip``) image.
        scale: ``(2,)`` final crop scale in units of ``pixel_std`` (half body and scale factor applied).
        rotation: degrees (0 when not rotated).
        flip: mirror the image and joints before cropping.
        half_body: whether the half-body box replaced the record's box.
        scale_multiplier: the factor drawn for step 2 (1.0 when ``scale_factor == 0``).
    """

    center: NDArray[np.float64]
    scale: NDArray[np.float64]
    rotation: float
    flip: bool
    half_body: bool
    scale_multiplier: float


def no_augmentation(center: ArrayLike, scale: ArrayLike) -> AugmentationParams:
    """The identity decision: the record's own box, no rotation, no flip (testing)."""
    return AugmentationParams(
        center=np.asarray(center, dtype=np.float64).copy(),
        scale=np.asarray(scale, dtype=np.float64).copy(),
        rotation=0.0,
        flip=False,
        half_body=False,
        scale_multiplier=1.0,
    )


def half_body_center_scale(
    joints: ArrayLike,
    joints_vis: ArrayLike,
    upper_body_ids: Sequence[int],
    lower_body_ids: Sequence[int],
    aspect_ratio: float,
    prefer_upper: bool,
    pixel_std: float = PIXEL_STD,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """HRNet's ``half_body_transform``: a box around the upper or lower body's visible joints.

    Args:
        joints: ``(K, 2)`` (or ``(K, 3)``) joints, (x, y) in image pixels.
        joints_vis: ``(K,)`` visibility; > 0 means visible.
        upper_body_ids, lower_body_ids: joint index sets (joints in neither count as lower, as HRNet).
        aspect_ratio: input width / height.
        prefer_upper: HRNet's ``randn() < 0.5``.

    Returns:
        ``(center (2,), scale (2,))`` or ``None`` when fewer than 2 joints are selected (or they all coincide).
    """
    xy = np.asarray(joints, dtype=np.float64)[:, :2]
    vis = np.asarray(joints_vis, dtype=np.float64).reshape(-1) > 0
    k = xy.shape[0]
    is_upper = np.isin(np.arange(k), np.asarray(upper_body_ids, dtype=np.int64))
    upper = vis & is_upper
    lower = vis & ~is_upper  # HRNet: everything visible that is not upper
    n_up, n_low = int(upper.sum()), int(lower.sum())
    if prefer_upper and n_up > 2:
        sel = upper
    else:
        sel = lower if n_low > 2 else upper
    if int(sel.sum()) < 2:
        return None
    pts = xy[sel]
    center = pts.mean(axis=0)
    lt, rb = pts.min(axis=0), pts.max(axis=0)
    wh = rb - lt
    _, scale = box_to_center_scale(np.array([0.0, 0.0, wh[0], wh[1]]), aspect_ratio, pixel_std, HALF_BODY_SCALE)
    if np.any(scale <= 0):  # all selected joints on one point: no usable box (HRNet would crash later)
        return None
    return center, scale


def sample_augmentation(
    rng: np.random.Generator,
    joints: ArrayLike,
    joints_vis: ArrayLike,
    center: ArrayLike,
    scale: ArrayLike,
    image_width: int,
    aug: AugmentationConfig,
    aspect_ratio: float,
    upper_body_ids: Sequence[int],
    lower_body_ids: Sequence[int],
    pixel_std: float = PIXEL_STD,
) -> AugmentationParams:
    """Draw HRNet's training augmentation for one record (see the module docstring for the rules and stream).

    Args:
        rng: the generator; exactly six numbers are drawn from it.
        joints: ``(K, 2)`` or ``(K, 3)`` joints, (x, y) in image pixels (before any flip).
        joints_vis: ``(K,)`` visibility.
        center, scale: ``(2,)`` the record's crop.
        image_width: width of the image in pixels (for the flipped centre).
        aug: scale/rotation factors, probabilities, flip and half-body settings.
        aspect_ratio: input width / height (half-body box).
        upper_body_ids, lower_body_ids: half-body joint sets.

    Returns:
        :class:`AugmentationParams`.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    u_half, z_side, z_scale, u_rot, z_rot, u_flip = (
        rng.random(),
        rng.standard_normal(),
        rng.standard_normal(),
        rng.random(),
        rng.standard_normal(),
        rng.random(),
    )
    c = np.asarray(center, dtype=np.float64).copy()
    s = np.asarray(scale, dtype=np.float64).copy()
    vis = np.asarray(joints_vis, dtype=np.float64).reshape(-1)

    half = False
    if np.sum(vis > 0) > aug.num_joints_half_body and u_half < aug.half_body_prob:
        hb = half_body_center_scale(
            joints, vis, upper_body_ids, lower_body_ids, aspect_ratio,
            prefer_upper=z_side < HALF_BODY_UPPER_THRESHOLD, pixel_std=pixel_std,
        )  # fmt: skip
        if hb is not None:
            c, s = hb
            half = True

    sf, rf = float(aug.scale_factor), float(aug.rotation_factor)
    mult = float(np.clip(z_scale * sf + 1.0, 1.0 - sf, 1.0 + sf))
    s = s * mult
    rot = float(np.clip(z_rot * rf, -2.0 * rf, 2.0 * rf)) if u_rot <= aug.rotation_prob else 0.0
    flip = bool(aug.flip and u_flip <= FLIP_PROB)
    if flip:
        c[0] = image_width - c[0] - 1.0
    return AugmentationParams(center=c, scale=s, rotation=rot, flip=flip, half_body=half, scale_multiplier=mult)


def apply_flip(
    image: NDArray,
    joints: ArrayLike,
    joints_vis: ArrayLike,
    flip_pairs: Sequence[Sequence[int]],
) -> tuple[NDArray, NDArray[np.float64], NDArray[np.float64]]:
    """Mirror an ``(H, W, C)`` image and its ``(K, 2)`` joints / ``(K,)`` visibility (HRNet's flip).

    Returns new arrays (a contiguous copy of the image); inputs are not modified. Invisible joints come back
    as (0, 0), as :func:`enhancenet_core.transforms.fliplr_joints` does.
    """
    img = _mirror(np.asarray(image))
    j, v = fliplr_joints(np.asarray(joints, dtype=np.float64)[:, :2], joints_vis, img.shape[1], flip_pairs)
    return img, j, v


def _mirror(image: NDArray) -> NDArray:
    """A contiguous left-right mirrored copy: ``cv2.flip`` for uint8 images (a row-wise copy, ~40x faster than
    NumPy's negative-stride copy of an (H, W, 3) image), NumPy otherwise or without OpenCV; the same pixels."""
    if image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] <= 4)):
        try:
            import cv2
        except ImportError:  # pragma: no cover - OpenCV is the enhancenet-core[data] extra
            pass
        else:
            out = cv2.flip(np.ascontiguousarray(image), 1)
            return out if out.ndim == image.ndim else out.reshape(image.shape)  # cv2 drops a trailing axis of 1
    return np.ascontiguousarray(image[:, ::-1])
