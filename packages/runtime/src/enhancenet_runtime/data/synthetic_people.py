"""The synthetic people of :mod:`enhancenet_runtime.data.synthetic`: body proportions, a random pose per person,
its drawing (OpenCV fixed-point polygons) and silhouette, and the textured background. Pure functions of the
generator they are given, so the data set stays byte-identical for a seed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from enhancenet_runtime.data.keypoints import COCO_KEYPOINT_NAMES

_SHIFT = 4  # OpenCV fixed-point bits: coordinates are multiples of 1/16 px
_FIX = 1 << _SHIFT
_NUM_KPT = len(COCO_KEYPOINT_NAMES)

# Body model, lengths in units of the body height h (ankle to top of head when standing).
_TORSO = 0.30  # pelvis -> neck
_SHOULDER_HALF = 0.11
_HIP_HALF = 0.075
_UPPER_ARM, _FOREARM = 0.16, 0.15
_THIGH, _SHIN = 0.24, 0.23
_NECK_TO_HEAD = 0.11  # neck -> head centre
_HEAD_AXES = (0.062, 0.08)  # head ellipse half-axes (lateral, vertical)

# Limbs drawn as thick lines: (joint a, joint b, relative width).
_LIMBS: tuple[tuple[int, int, float], ...] = (
    (11, 13, 1.0), (13, 15, 0.8), (12, 14, 1.0), (14, 16, 0.8),  # legs
    (5, 7, 0.8), (7, 9, 0.65), (6, 8, 0.8), (8, 10, 0.65),  # arms
)  # fmt: skip
_LIMB_PARTS = ("thigh", "shin", "thigh", "shin", "upper_arm", "forearm", "upper_arm", "forearm")  # of _LIMBS
# Body thickness in units of h for the silhouette that defines ``area`` (rough adult proportions: thigh
# ~0.09 h, calf ~0.06 h, upper arm ~0.06 h, forearm ~0.05 h, neck ~0.06 h, chest depth ~0.13 h).
_BODY_WIDTHS = {"thigh": 0.09, "shin": 0.06, "upper_arm": 0.06, "forearm": 0.05, "neck": 0.06, "trunk": 0.13}



def _fixed(points: np.ndarray) -> np.ndarray:
    """(..., 2) float pixel coordinates -> int32 fixed-point coordinates for OpenCV ``shift=4``."""
    return np.round(points * _FIX).astype(np.int32)


def _unit(angle: np.ndarray | float) -> np.ndarray:
    """(..., 2) unit vectors (cos, sin) of ``angle`` radians."""
    a = np.asarray(angle, dtype=np.float64)
    return np.stack([np.cos(a), np.sin(a)], axis=-1)


def _random_pose(rng: np.random.Generator, height_px: float, pelvis: np.ndarray) -> dict[str, Any]:
    """Sample one person: (17, 2) keypoints (1/16-px grid), head ellipse and drawing parameters.

    Angles: ``tilt`` rotates the whole body; limb angles are measured from "down" (0) toward the limb's own
    side (positive = outward), elbows and knees bend by a further angle in a random direction.
    """
    h = height_px
    tilt = rng.normal(0.0, 0.15)
    yaw = rng.uniform(-np.pi, np.pi)  # 0 = facing the camera; |yaw| > pi/2 = back view
    down = _unit(np.pi / 2 + tilt)  # image y grows downward
    up = -down
    side = _unit(tilt)  # the person's left when facing the camera (image +x)
    lat = side * np.cos(yaw)  # lateral offsets shrink in profile and flip in a back view

    neck = pelvis + _TORSO * h * up
    sides = np.array([1.0, -1.0])  # left, right
    shoulders = neck + sides[:, None] * _SHOULDER_HALF * h * lat
    hips = pelvis + sides[:, None] * _HIP_HALF * h * lat

    # Arms and legs: angle from "down" toward the limb's side; the side vector flips for right limbs.
    outward = sides[:, None] * side  # (2, 2)

    def chain(roots: np.ndarray, a1: np.ndarray, bend: np.ndarray, l1: float, l2: float) -> tuple:
        d1 = np.cos(a1)[:, None] * down + np.sin(a1)[:, None] * outward
        mid = roots + l1 * h * d1
        a2 = a1 + bend
        d2 = np.cos(a2)[:, None] * down + np.sin(a2)[:, None] * outward
        return mid, mid + l2 * h * d2

    arm_a = rng.uniform(-0.6, 2.8, size=2)
    arm_bend = rng.uniform(0.0, 2.4, size=2) * rng.choice([-1.0, 1.0], size=2)
    elbows, wrists = chain(shoulders, arm_a, arm_bend, _UPPER_ARM, _FOREARM)
    leg_a = rng.uniform(-0.35, 1.0, size=2)
    knee_bend = -rng.uniform(0.0, 1.6, size=2) * rng.choice([-1.0, 1.0], size=2, p=[0.25, 0.75])
    knees, ankles = chain(hips, leg_a, knee_bend, _THIGH, _SHIN)

    head_tilt = tilt + rng.normal(0.0, 0.2)
    head_up = -_unit(np.pi / 2 + head_tilt)
    head_side = _unit(head_tilt)
    head_yaw = yaw + rng.normal(0.0, 0.3)
    head = neck + _NECK_TO_HEAD * h * head_up
    facing = np.sin(head_yaw)  # + : nose toward the person's left side
    across = np.cos(head_yaw)
    nose = head + (0.05 * facing) * h * head_side - 0.012 * h * head_up
    eyes = (
        head
        + 0.018 * h * head_up
        + (0.035 * facing) * h * head_side
        + sides[:, None] * (0.028 * across) * h * head_side
    )
    ears = head + sides[:, None] * (0.058 * across) * h * head_side - (0.012 * facing) * h * head_side

    kpts = np.empty((_NUM_KPT, 2))
    kpts[0] = nose
    kpts[1:3] = eyes
    kpts[3:5] = ears
    kpts[5:7] = shoulders
    kpts[7:9] = elbows
    kpts[9:11] = wrists
    kpts[11:13] = hips
    kpts[13:15] = knees
    kpts[15:17] = ankles
    kpts = np.round(kpts * _FIX) / _FIX  # exactly what OpenCV draws with shift=4

    # Face keypoints hidden by the head itself: none of the face from behind, the far ear in profile.
    self_hidden = np.zeros(_NUM_KPT, dtype=bool)
    if np.cos(head_yaw) < -0.2:
        self_hidden[0:3] = True
    if facing > 0.75:
        self_hidden[3] = True  # looking toward its left: left ear behind the head
    elif facing < -0.75:
        self_hidden[4] = True
    return {
        "keypoints": kpts,
        "self_hidden": self_hidden,
        "head": head,
        "head_axes": np.array(_HEAD_AXES) * h,
        "head_angle": float(np.degrees(head_tilt)),
        "neck": neck,
        "width": max(2.0, rng.uniform(0.035, 0.07) * h),
        "height": float(h),
    }


def _random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))


def _draw_person(canvas: np.ndarray, person: dict[str, Any], colors: Sequence[tuple[int, ...]], aa: bool) -> None:
    """Draw torso polygon, limbs and head of ``person`` on ``canvas`` (colour image or single-channel mask)."""
    line = cv2.LINE_AA if aa else cv2.LINE_8
    k = person["keypoints"]
    w = person["width"]
    torso = _fixed(k[[5, 6, 12, 11]])
    cv2.fillPoly(canvas, [torso], colors[0], lineType=line, shift=_SHIFT)
    cv2.line(canvas, *map(tuple, _fixed(np.stack([person["neck"], (k[11] + k[12]) / 2]))),
             colors[0], round(w * 1.2), line, _SHIFT)  # fmt: skip
    for i, (a, b, rel) in enumerate(_LIMBS):
        p, q = _fixed(k[[a, b]])
        cv2.line(canvas, tuple(p), tuple(q), colors[1 + i % 4], max(1, round(w * rel)), line, _SHIFT)
    for j in (7, 8, 13, 14):  # round joints
        cv2.circle(canvas, tuple(_fixed(k[j])), round(w * 0.45 * _FIX), colors[5], -1, line, _SHIFT)
    neck_w = max(1, round(w * 0.8))
    cv2.line(canvas, *map(tuple, _fixed(np.stack([person["neck"], person["head"]]))), colors[6], neck_w, line, _SHIFT)
    cv2.ellipse(canvas, tuple(_fixed(person["head"])), tuple(int(a) for a in np.round(person["head_axes"] * _FIX)),
                person["head_angle"], 0, 360, colors[6], -1, line, _SHIFT)  # fmt: skip


def _body_silhouette(person: dict[str, Any], width: int, height: int) -> np.ndarray:
    """(H, W) uint8 mask (255 inside) of the body a person of this pose would have: what ``area`` counts.

    The drawn stick figure is much thinner than a person, so the pixel count of the drawing would make OKS
    (scale s² = ``area``) far stricter than on COCO, where ``area`` is the segmentation area of a real body.
    This silhouette keeps the pose, torso polygon, neck line and head ellipse of the drawing and gives the
    limbs, neck and trunk human thickness (fractions of the body height h, :data:`_BODY_WIDTHS`): limbs as
    round-capped lines, the trunk as the shoulder/hip polygon plus a neck -> pelvis line of width
    ``_BODY_WIDTHS["trunk"] * h`` (its depth, which keeps it solid in profile views).
    """
    h = person["height"]
    k = person["keypoints"]
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [_fixed(k[[5, 6, 12, 11]])], 255, lineType=cv2.LINE_8, shift=_SHIFT)
    pelvis = (k[11] + k[12]) / 2
    segments = [(person["neck"], pelvis, "trunk"), (person["neck"], person["head"], "neck")]
    segments += [(k[a], k[b], part) for (a, b, _), part in zip(_LIMBS, _LIMB_PARTS, strict=True)]
    for a, b, part in segments:
        p, q = _fixed(np.stack([a, b]))
        cv2.line(mask, tuple(p), tuple(q), 255, max(1, round(_BODY_WIDTHS[part] * h)), cv2.LINE_8, _SHIFT)
    cv2.ellipse(mask, tuple(_fixed(person["head"])), tuple(int(a) for a in np.round(person["head_axes"] * _FIX)),
                person["head_angle"], 0, 360, 255, -1, cv2.LINE_8, _SHIFT)  # fmt: skip
    return mask


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 clutter: a linear gradient, random shapes and distractor lines."""
    c0 = rng.uniform(0, 255, size=3)
    c1 = rng.uniform(0, 255, size=3)
    direction = _unit(rng.uniform(0, 2 * np.pi))
    tx = np.arange(width, dtype=np.float32) * np.float32(direction[0])
    ty = np.arange(height, dtype=np.float32) * np.float32(direction[1])
    t = ty[:, None] + tx[None, :]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = (c0.astype(np.float32) + t[..., None] * (c1 - c0).astype(np.float32)).astype(np.uint8)
    for _ in range(int(rng.integers(4, 14))):
        kind = int(rng.integers(0, 4))
        color = _random_color(rng)
        thick = -1 if rng.random() < 0.5 else int(rng.integers(1, 5))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, max(5, min(width, height) // 3)))
        if kind == 0:
            cv2.circle(img, (x, y), size, color, thick, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + size, y + int(rng.integers(4, size + 5))), color, thick)
        elif kind == 2:
            cv2.ellipse(img, (x, y), (size, max(2, size // 2)), float(rng.uniform(0, 180)), 0, 360, color, thick,
                        cv2.LINE_AA)  # fmt: skip
        else:  # limb-like distractor stick
            x2, y2 = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.line(img, (x, y), (x2, y2), color, int(rng.integers(2, 8)), cv2.LINE_AA)
    return img
