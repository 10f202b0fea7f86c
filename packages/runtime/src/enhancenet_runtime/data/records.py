"""One top-down sample: a person box in an image, as every reader in :mod:`enhancenet_runtime.data` returns it.

Coordinates are image pixels, 0-based, last axis (x, y). ``center``/``scale`` follow HRNet: ``scale`` is the
crop size in units of ``pixel_std`` (200 px), already enlarged (×1.25 for boxes) and fixed to the input
patch's aspect ratio, so the crop is ``scale * pixel_std`` pixels wide and high around ``center``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np


def _frozen_array(value: Any, name: str, shape: tuple[int | None, ...], dtype: type) -> np.ndarray:
    """Copy ``value`` into a read-only array of ``dtype`` and check its shape (``None`` = any length)."""
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"PoseRecord.{name}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"PoseRecord.{name}: expected finite values, got {arr.tolist()}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class PoseRecord:
    """One person instance to crop: the image it lives in, its crop window and its annotated joints.

    Attributes:
        image: path of the image file.
        image_id: integer id of the image (COCO ``image_id``; for MPII the file stem when it is numeric).
        center: (2,) float64, crop centre (x, y) in image pixels.
        scale: (2,) float64, crop size (w, h) in units of ``pixel_std``.
        joints: (K, 3) float64, per joint (x, y, vis) with vis in {0, 1} (COCO v=1 "occluded" and v=2
            "visible" both become 1, as HRNet does). Joints with vis 0 keep whatever (x, y) the file had
            (usually (0, 0)) and must not be used.
        box: (4,) float64, the box (x, y, w, h) the crop was made from (after clipping, for COCO GT boxes);
            for MPII, the crop square ``scale * pixel_std`` around ``center``.
        score: detector score of the box; 1.0 for ground-truth boxes.
        area: the annotation's ``area`` (COCO, used by OKS); for detections and MPII, the crop area
            ``(scale * pixel_std).prod()`` as HRNet's evaluation uses.
        extras: read-only data-set-specific fields, e.g. ``annotation_id``, ``num_keypoints`` (COCO),
            ``head_box`` (MPII, when given).
    """

    image: Path
    image_id: int
    center: np.ndarray
    scale: np.ndarray
    joints: np.ndarray
    box: np.ndarray
    score: float = 1.0
    area: float = 0.0
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", Path(self.image))
        object.__setattr__(self, "image_id", int(self.image_id))
        object.__setattr__(self, "center", _frozen_array(self.center, "center", (2,), np.float64))
        object.__setattr__(self, "scale", _frozen_array(self.scale, "scale", (2,), np.float64))
        object.__setattr__(self, "joints", _frozen_array(self.joints, "joints", (None, 3), np.float64))
        object.__setattr__(self, "box", _frozen_array(self.box, "box", (4,), np.float64))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "area", float(self.area))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        if np.any(self.scale <= 0):
            raise ValueError(f"PoseRecord.scale: expected positive (w, h), got {self.scale.tolist()}")

    @property
    def num_joints(self) -> int:
        """K, the number of joints."""
        return int(self.joints.shape[0])

    @property
    def joints_xy(self) -> np.ndarray:
        """(K, 2) joint coordinates (x, y)."""
        return self.joints[:, :2]

    @property
    def joints_vis(self) -> np.ndarray:
        """(K,) visibility in {0, 1}."""
        return self.joints[:, 2]


def check_image_files(paths: set[Path] | list[Path], source: str | Path) -> None:
    """Raise :class:`FileNotFoundError` naming the first missing image of ``paths`` (listed in ``source``)."""
    for p in sorted(paths):
        if not Path(p).is_file():
            raise FileNotFoundError(f"image file {p} (listed in {source}) not found")
