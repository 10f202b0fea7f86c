"""MPII (HRNet-style JSON) -> :class:`~enhancenet_runtime.data.records.PoseRecord`, as HRNet's ``lib/dataset/mpii.py``.

Each JSON entry holds ``image``, ``center`` (x, y), ``scale`` (a single number, person height / 200),
``joints`` (16 × (x, y), MATLAB 1-based) and ``joints_vis`` (16 × {0, 1}). HRNet's adjustments, reproduced:

* when ``center[0] != -1``: ``center[1] += 15 * scale`` and ``scale *= 1.25`` (crop a little lower and larger
  so limbs are not cut);
* then ``center -= 1`` and ``joints -= 1`` (1-based MATLAB -> 0-based pixels);
* ``scale`` becomes the pair ``(s, s)`` (the crop is square in units of 200 px before the aspect-ratio
  handling of the affine, which uses ``scale[0]`` only).

Test-set entries have no ``joints``; their joints are zero with visibility 0. Head boxes (for PCKh) are not in
HRNet's JSON (they live in ``gt_valid.mat``); when an entry has ``head_box`` ``[x1, y1, x2, y2]`` or they are
passed as ``head_boxes`` they are kept in ``extras["head_box"]`` (0-based as given; no shift is applied).
Joint order: :data:`enhancenet_runtime.data.keypoints.MPII_KEYPOINT_NAMES`; flip pairs ``MPII_FLIP_PAIRS``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from enhancenet_core.config import Config
from enhancenet_core.transforms import PIXEL_STD
from enhancenet_runtime.data.coco import LoadResult
from enhancenet_runtime.data.records import PoseRecord, check_image_files

__all__ = [
    "MPII_CENTER_Y_SHIFT",
    "MPII_SCALE_FACTOR",
    "load_mpii_records",
    "load_mpii_records_from_config",
    "mpii_paths",
]

logger = logging.getLogger(__name__)

MPII_CENTER_Y_SHIFT: float = 15.0  # centre y moves down by 15 * scale (HRNet)
MPII_SCALE_FACTOR: float = 1.25


def _image_id(name: str, index: int) -> int:
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else index


def load_mpii_records(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    num_joints: int = 16,
    head_boxes: ArrayLike | None = None,
    pixel_std: float = PIXEL_STD,
    check_images: bool = True,
) -> LoadResult:
    """Read HRNet's MPII JSON (``annot/<set>.json``), one record per entry, in file order.

    Args:
        ann_file: the JSON list of entries.
        image_dir: directory holding the images named by ``image``.
        num_joints: K (16 for MPII).
        head_boxes: optional ``(N, 4)`` head boxes ``(x1, y1, x2, y2)``, one per entry, for PCKh.
        pixel_std: HRNet's 200 (only sets the record's ``box``/``area``).
        check_images: raise at load time if an image is missing.

    Returns:
        :class:`LoadResult` (nothing is skipped: every MPII entry is a person; ``image_id`` is the file
        stem when numeric, else the entry index; ``extras["index"]`` is the entry index).

    Raises:
        FileNotFoundError: missing annotation file or image, naming it.
        ValueError: malformed JSON or an entry with a wrong-length ``joints``/``joints_vis``/``center``,
            a non-positive ``scale``, or ``head_boxes`` not ``(N, 4)`` (naming the entry index).
    """
    path = Path(ann_file)
    image_dir = Path(image_dir)
    if not path.is_file():
        raise FileNotFoundError(f"MPII annotation file {path} not found")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"MPII annotation file {path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ValueError(f"MPII annotation file {path}: expected a JSON list of entries")
    heads = None
    if head_boxes is not None:
        heads = np.asarray(head_boxes, dtype=np.float64)
        if heads.shape != (len(entries), 4):
            raise ValueError(f"head_boxes: expected shape ({len(entries)}, 4) (x1, y1, x2, y2), got {heads.shape}")

    records = []
    for i, a in enumerate(entries):
        where = f"MPII annotation file {path}, entry {i}"
        if not isinstance(a, dict) or not all(k in a for k in ("image", "center", "scale")):
            raise ValueError(f"{where}: expected an object with 'image', 'center' and 'scale'")
        c = np.asarray(a["center"], dtype=np.float64)
        s_raw = float(a["scale"])
        if c.shape != (2,) or not np.all(np.isfinite(c)):
            raise ValueError(f"{where}: 'center' must be 2 finite numbers, got {a['center']!r}")
        if not (np.isfinite(s_raw) and s_raw > 0):
            raise ValueError(f"{where}: 'scale' must be positive, got {a['scale']!r}")
        s = np.array([s_raw, s_raw])
        if c[0] != -1:
            c[1] = c[1] + MPII_CENTER_Y_SHIFT * s[1]
            s = s * MPII_SCALE_FACTOR
        c = c - 1.0
        joints = np.zeros((num_joints, 3))
        if "joints" in a:
            xy = np.asarray(a["joints"], dtype=np.float64)
            vis = np.asarray(a.get("joints_vis", np.ones(num_joints)), dtype=np.float64)
            if xy.shape != (num_joints, 2):
                raise ValueError(f"{where}: 'joints' must have shape ({num_joints}, 2), got {xy.shape}")
            if vis.shape != (num_joints,):
                raise ValueError(f"{where}: 'joints_vis' must have {num_joints} entries, got {vis.shape}")
            joints[:, :2] = xy - 1.0
            joints[:, 2] = (vis > 0).astype(np.float64)
        extras: dict[str, Any] = {"index": i}
        head = heads[i] if heads is not None else a.get("head_box")
        if head is not None:
            hb = np.asarray(head, dtype=np.float64)
            if hb.shape != (4,):
                raise ValueError(f"{where}: head box must be (x1, y1, x2, y2), got {head!r}")
            extras["head_box"] = tuple(float(v) for v in hb)
        side = s * pixel_std
        records.append(
            PoseRecord(
                image=image_dir / str(a["image"]),
                image_id=_image_id(str(a["image"]), i),
                center=c,
                scale=s,
                joints=joints,
                box=np.array([c[0] - side[0] / 2, c[1] - side[1] / 2, side[0], side[1]]),
                score=1.0,
                area=float(np.prod(side)),
                extras=extras,
            )
        )
    if check_images:
        check_image_files({r.image for r in records}, path)
    result = LoadResult(tuple(records), {}, 0, path)
    logger.info("MPII %s: %d records", path, len(records))
    return result


def mpii_paths(root: str | os.PathLike[str], image_set: str) -> tuple[Path, Path]:
    """HRNet's MPII layout: ``(root/annot/<set>.json, root/images)``."""
    root = Path(root)
    return root / "annot" / f"{image_set}.json", root / "images"


def load_mpii_records_from_config(cfg: Config, train: bool, check_images: bool = True) -> LoadResult:
    """Records of ``cfg.data.train_set`` / ``test_set``: ``data.train`` / ``data.test`` (``annotations``,
    ``images``) where given, else the HRNet layout under ``cfg.data.root``."""
    files = cfg.data.train if train else cfg.data.test
    ann_file, image_dir = mpii_paths(cfg.data.root, cfg.data.train_set if train else cfg.data.test_set)
    ann_file = Path(files.annotations) if files.annotations else ann_file
    image_dir = Path(files.images) if files.images else image_dir
    return load_mpii_records(
        ann_file, image_dir, num_joints=cfg.model.num_keypoints, pixel_std=cfg.data.pixel_std,
        check_images=check_images,
    )  # fmt: skip
