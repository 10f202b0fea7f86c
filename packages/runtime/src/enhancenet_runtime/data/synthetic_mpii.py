"""A deterministic synthetic MPII-format single-person data set: the stick figures of
:mod:`enhancenet_runtime.data.synthetic`, one per image, annotated with MPII's 16 joints and a head box.

For the DLCM rows of ``reproduce`` and the end-to-end tests (MPII's real images are not on this machine). The
16 joints come from the figure's drawing model (:func:`enhancenet_runtime.data.synthetic_people._random_pose`):
ankles, knees, hips, wrists, elbows, shoulders are its COCO keypoints; pelvis the midpoint of the hips, thorax
the neck (the midpoint of the shoulders), upper neck and head top the lower and upper ends of the drawn head
ellipse along its axis. The head box (for PCKh) is the axis-aligned box of the head ellipse's ends and sides
(upper neck to head top, head width), as MPII's head rectangles enclose the head.

Layout written under ``out_dir`` (HRNet's MPII layout, read unchanged by :mod:`enhancenet_runtime.data.mpii`)::

    annot/{train,valid}.json   # HRNet JSON: image, center (1-based), scale (= box height / 200), joints
                               # (16 x 2, 1-based), joints_vis (16,), head_box [x1, y1, x2, y2] (0-based)
    images/000001.png ...

A joint outside the image, or under an occluding rectangle (drawn over a random joint with probability
``occlusion_prob``), has visibility 0 (MPII marks only annotated joints; occluded ones keep their position but
are not used for PCKh here, a simplification). Image ``i`` is drawn from ``default_rng([seed, 7, i])`` alone, so
a seed gives byte-identical files. The tree is written beside ``out_dir`` and renamed into place at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from enhancenet_runtime.data.marked_dirs import MARKER_NAME, is_ours, remove_stale_work_dirs
from enhancenet_runtime.data.synthetic_people import _background, _draw_person, _random_color, _random_pose

__all__ = ["COCO_TO_MPII", "generate_synthetic_mpii", "mpii_joints"]

GENERATOR_VERSION = 1
#: MPII joint -> COCO keypoint of the figure, for the joints the figure has (-1: derived, see the module doc)
COCO_TO_MPII: tuple[int, ...] = (16, 14, 12, 11, 13, 15, -1, -1, -1, -1, 10, 8, 6, 5, 7, 9)
_STREAM = 7  # the rng stream of this generator (the COCO one uses [seed, i])


def mpii_joints(person: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A figure of ``_random_pose`` -> its ``(16, 2)`` MPII joints (x, y) and ``(4,)`` head box [x1, y1, x2, y2]."""
    coco = person["keypoints"]
    joints = np.where(np.asarray(COCO_TO_MPII)[:, None] >= 0, coco[np.maximum(COCO_TO_MPII, 0)], 0.0)
    head, neck = person["head"], person["neck"]
    up = (head - neck) / np.linalg.norm(head - neck)  # the head axis (the head sits on it above the neck)
    half_h, half_w = person["head_axes"][1], person["head_axes"][0]
    joints[6] = 0.5 * (coco[11] + coco[12])
    joints[7] = neck
    joints[8] = head - half_h * up
    joints[9] = head + half_h * up
    side = np.array([-up[1], up[0]])
    corners = np.stack([joints[8], joints[9], head + half_w * side, head - half_w * side])
    return joints, np.concatenate([corners.min(axis=0), corners.max(axis=0)])


def _entry(rng: np.random.Generator, size: int, occlusion_prob: float) -> tuple[np.ndarray, dict[str, Any]]:
    img = _background(rng, size, size)
    h = rng.uniform(0.6, 0.85) * size
    pelvis = np.array([rng.uniform(0.4, 0.6) * size, rng.uniform(0.5, 0.6) * size])
    person = _random_pose(rng, h, pelvis)
    _draw_person(img, person, [_random_color(rng) for _ in range(7)], aa=True)
    joints, head_box = mpii_joints(person)
    vis = np.all((joints >= 0) & (joints <= size - 1), axis=1)
    if rng.random() < occlusion_prob:  # a rectangle over a random joint hides it (and what else it covers)
        cx, cy = joints[int(rng.integers(0, 16))] + rng.normal(0, 0.04 * h, size=2)
        rw, rh = rng.uniform(0.08, 0.2, size=2) * h
        x0, y0, x1, y1 = cx - rw / 2, cy - rh / 2, cx + rw / 2, cy + rh / 2
        cv2.rectangle(img, (round(x0), round(y0)), (round(x1), round(y1)), _random_color(rng), -1)
        inside = (joints[:, 0] >= x0) & (joints[:, 0] <= x1) & (joints[:, 1] >= y0) & (joints[:, 1] <= y1)
        vis &= ~inside
    noise = rng.standard_normal(size=img.shape).astype(np.float32) * np.float32(rng.uniform(2.0, 8.0))
    img = np.clip(noise + img, 0, 255).astype(np.uint8)
    lo, hi = joints.min(axis=0), joints.max(axis=0)
    center = 0.5 * (lo + hi)
    # the reader moves the centre down by 15·scale and enlarges by 1.25 (HRNet): undo the shift here
    scale = float(hi[1] - lo[1]) * 1.05 / 200.0
    center[1] -= 15.0 * scale
    entry = {"center": (center + 1.0).tolist(), "scale": scale, "joints": (joints + 1.0).tolist(),
             "joints_vis": vis.astype(int).tolist(), "head_box": head_box.tolist()}
    return img, entry


def generate_synthetic_mpii(
    out_dir: str | os.PathLike[str],
    num_train: int,
    num_valid: int,
    seed: int = 0,
    image_size: int = 96,
    occlusion_prob: float = 0.2,
    overwrite: bool = False,
) -> Path:
    """Write ``annot/{train,valid}.json`` and ``images/`` under ``out_dir``; returns ``out_dir``.

    Args:
        out_dir: the data set root (must not exist unless ``overwrite``, which replaces only a set this module or
            the COCO generator made, carrying :data:`~enhancenet_runtime.data.marked_dirs.MARKER_NAME`).
        num_train, num_valid: images per split (``valid`` follows ``train`` in the image stream).
        seed: non-negative integer.
        image_size: square images of this many pixels (>= 32).
        occlusion_prob: probability of an occluding rectangle per image.
    """
    out = Path(out_dir)
    for name, v in (("num_train", num_train), ("num_valid", num_valid), ("seed", seed)):
        if isinstance(v, bool) or int(v) != v or v < (0 if name == "seed" else 1):
            raise ValueError(f"{name} must be a {'non-negative' if name == 'seed' else 'positive'} integer, got {v!r}")
    if int(image_size) != image_size or image_size < 32:
        raise ValueError(f"image_size must be an integer >= 32, got {image_size!r}")
    if not 0.0 <= occlusion_prob <= 1.0:
        raise ValueError(f"occlusion_prob must be in [0, 1], got {occlusion_prob!r}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True to replace it)")
    if (out.exists() or out.is_symlink()) and not is_ours(out):
        raise FileExistsError(f"{out} exists and is not a synthetic data set made by enhancenet (no {MARKER_NAME})")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work_dirs(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        params = {"num_train": int(num_train), "num_valid": int(num_valid), "image_size": int(image_size),
                  "occlusion_prob": occlusion_prob}
        (tmp / MARKER_NAME).write_text(json.dumps({"generator": __name__, "version": GENERATOR_VERSION,
                                                   "seed": int(seed), **params}))
        (tmp / "annot").mkdir()
        (tmp / "images").mkdir()
        index = 0
        for split, count in (("train", int(num_train)), ("valid", int(num_valid))):
            entries = []
            for _ in range(count):
                index += 1
                img, entry = _entry(np.random.default_rng([int(seed), _STREAM, index]), int(image_size), occlusion_prob)
                name = f"{index:06d}.png"
                ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                if not ok:  # pragma: no cover - OpenCV failure
                    raise RuntimeError(f"OpenCV could not encode image {name}")
                (tmp / "images" / name).write_bytes(buf.tobytes())
                entries.append({"image": name, **entry})
            (tmp / "annot" / f"{split}.json").write_text(json.dumps(entries, separators=(",", ":")))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "data")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
